"""The single-operator table of the benchmark (`python -m ci.bench.run --ops`, ci/bench/ops.py).

Every case builds a model both runtimes load; the checks catch a wrong result (a float output off by
more than the tolerance, an integer output that differs from onnx.reference by one); one short run in
a child process writes the JSON with the machine facts, each case's two times and checks. No timing is
asserted beyond > 0."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import onnx

from ci.bench import ops
from ci.bench import run as bench

ROOT = Path(__file__).resolve().parents[2]


def test_every_case_builds_a_model_both_runtimes_run() -> None:
    import onnxruntime

    import pionnx

    names = [c.name for c in ops.cases()]
    assert len(names) == len(set(names)) >= 30
    for case in ops.cases():
        model = ops.build(case)
        ours = pionnx.InferenceSession(model).run(None, case.inputs)
        theirs = onnxruntime.InferenceSession(model, providers=["CPUExecutionProvider"]).run(None, case.inputs)
        assert len(ours) == len(theirs) == case.outputs, case.name


def test_checks_fail_on_a_wrong_result() -> None:
    case = next(c for c in ops.cases() if c.op == "ArgMax")
    model = ops.build(case)
    from onnx.reference import ReferenceEvaluator

    want = ReferenceEvaluator(onnx.load_from_string(model)).run(None, case.inputs)
    assert ops.check(case, model, want, want)[0]
    off = [want[0].copy()]
    off[0][5] += 1
    assert not ops.check(case, model, off, want)[0]
    float_case = next(c for c in ops.cases() if c.op == "Softmax")
    y = [np.full((4, 4), 0.25, np.float32)]
    assert ops.check(float_case, b"", y, y)[0]
    assert not ops.check(float_case, b"", [y[0] * (1 + 1e-3)], y)[0]


def test_an_ops_run_writes_the_table(tmp_path) -> None:
    out = tmp_path / "ops.json"
    proc = subprocess.run(
        [sys.executable, "-m", "ci.bench.run", "--ops", "--ops-filter", "argmax", "--threads", "1,2"]
        + ["--runs", "2", "--ops-sample-ms", "1", "--json", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "geometric mean pionnx/onnxruntime at 2 thread(s)" in proc.stdout
    data = json.loads(out.read_text())
    assert data["machine"]["cpu_model"] and data["machine"]["pionnx_simd"]
    ((name, entry),) = data["ops"]["cases"].items()
    assert entry["op"] == "ArgMax"
    for t in ("1", "2"):
        row = entry["threads"][t]
        assert row["pionnx_us"] > 0 and row["onnxruntime_us"] > 0 and row["check_ok"]
        assert row["check"] == "equal to onnx.reference"
    assert data["ops"]["all_checks_ok"] and set(data["ops"]["geomean"]) == {"1", "2"}
    assert bench.parse_args(["--ops"]).ops
