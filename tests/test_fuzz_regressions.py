"""The fuzzer's findings and corpus, replayed through the Python API (`nox -s fuzz` makes them).

tests/fuzz/crashes/ holds every input that once crashed, hung or ran out of
memory in tests/fuzz/fuzz_session.cc; tests/fuzz/corpus/ the inputs the
campaigns kept for their coverage. Each is loaded, and run on feeds made the
way the fuzz target makes them, under the same limits, in a child process: a
crash fails the test, a refusal (any pionnx error) or a result passes.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from models import describe, run_python

FUZZ = Path(__file__).resolve().parent / "fuzz"
CRASHES = sorted(p for p in (FUZZ / "crashes").glob("*") if p.is_file())
CORPUS = sorted(p for p in (FUZZ / "corpus").glob("*") if p.is_file())

# Mirrors LLVMFuzzerTestOneInput: the same limits, the same feeds (a declared dimension capped at
# 16, a free one 2, at most 4096 elements), inputs that have an initializer left to it.
REPLAY = r"""
import json, sys
import numpy as np
import pionnx

DTYPES = {"float": np.float32, "double": np.float64, "float16": np.float16, "int8": np.int8, "uint8": np.uint8,
          "int16": np.int16, "uint16": np.uint16, "int32": np.int32, "uint32": np.uint32, "int64": np.int64,
          "uint64": np.uint64, "bool": np.bool_, "string": np.str_}

def feed(arg):
    shape, n = [], 1
    for d in arg.shape or []:  # no shape: a scalar, as the fuzz target feeds it
        v = min(d, 16) if isinstance(d, int) and d >= 0 else 2
        if n * max(v, 1) > 4096:
            v = 1
        shape.append(v)
        n *= max(v, 1)
    elem = arg.type[len("tensor("):-1]
    base = (np.arange(int(np.prod(shape)), dtype=np.int64) % 7 - 3).reshape(shape)
    if elem == "string":
        return np.full(shape, "", dtype=object)
    dt = DTYPES.get(elem)
    if dt is None:
        return None  # a dtype numpy does not have (bfloat16, float8): left missing, refused
    if np.issubdtype(dt, np.floating):
        return (base * 0.5).astype(dt)
    return np.abs(base).astype(dt) if np.issubdtype(dt, np.unsignedinteger) or dt is np.bool_ else base.astype(dt)

out = []
for path in sys.argv[1:]:
    print("replaying", path, file=sys.stderr, flush=True)
    opts = pionnx.SessionOptions()
    opts.intra_op_num_threads = 1
    opts.max_tensor_bytes = 4 << 20
    opts.max_memory_bytes = 64 << 20
    opts.max_inlined_nodes = 20000
    try:
        sess = pionnx.InferenceSession(open(path, "rb").read(), opts)
        feeds = {}
        for arg in sess.get_inputs():
            if arg.type.startswith("tensor("):
                value = feed(arg)
                if value is not None:
                    feeds[arg.name] = value
        sess.run(None, feeds)
        out.append("ok")
    except (pionnx.Fail, pionnx.InvalidArgument, MemoryError) as exc:
        # pionnx's refusals (InvalidGraph, InvalidProtobuf and NotImplemented derive from Fail);
        # MemoryError: an allocation within the limits that this process could not have.
        out.append(type(exc).__name__)
print(json.dumps(out))
"""


def replay(paths: list[Path]) -> list[str]:
    proc = run_python(REPLAY, *map(str, paths), timeout=600)
    lines = [line for line in proc.stdout.splitlines() if line.startswith("[")]
    assert proc.returncode == 0 and lines, describe(proc)
    return json.loads(lines[-1])


@pytest.mark.parametrize("path", CRASHES, ids=[p.name for p in CRASHES])
def test_fuzz_finding_is_refused_or_answered(path):
    assert len(replay([path])) == 1


def test_fuzz_corpus_replays_without_a_crash():
    if not CORPUS:
        pytest.fail("tests/fuzz/corpus/ is empty: `nox -s fuzz -- --update-corpus` fills it")
    outcomes = []
    for start in range(0, len(CORPUS), 200):
        outcomes += replay(CORPUS[start : start + 200])
    assert len(outcomes) == len(CORPUS)
    # The corpus exercises the runtime, not only its refusals.
    assert outcomes.count("ok") >= len(CORPUS) // 20, {o: outcomes.count(o) for o in set(outcomes)}
