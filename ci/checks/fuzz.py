"""Coverage-guided fuzzing of model loading, session creation and one run (libFuzzer).

    nox -s fuzz [-- --seconds 600] [--jobs 2] [--update-corpus]
    nox -s fuzz -- --runs 20000 --seed 1       (one process, reproducible: what .ci/run does)
    python -m ci.checks.fuzz --target build/sanitize-build/fuzz_session ...   (after a nox -s sanitize or fuzz build)

1. The target, tests/fuzz/fuzz_session.cc, is built by the nox session with
   clang under AddressSanitizer + UndefinedBehaviorSanitizer, the whole
   runtime instrumented for coverage (noxfile.py: install_sanitized, the
   same build as `nox -s sanitize`); `--target` names it.
2. Seeds: the committed corpus (tests/fuzz/corpus/), the regression inputs
   (tests/fuzz/crashes/), and every model of onnx's node, simple and
   pytorch-converted/-operator conformance suites.
3. Runs libFuzzer with the structure-aware protobuf mutator
   (tests/fuzz/proto_mutator.cc) in fork mode, `--jobs` processes at a time,
   for `--seconds`; each input under a 10 s timeout and a 2 GB RSS and
   single-allocation limit (the model's own limits are set far lower in the
   target). Fork mode keeps going after a finding (-ignore_crashes and the
   like), so one campaign collects every finding instead of stopping at the
   first.
4. Every crash, timeout or out-of-memory input is copied to tests/fuzz/crashes/
   (a regression case that tests/test_fuzz_regressions.py replays through the
   Python API, in a child process) and fails the run. `--update-corpus` merges
   what the campaign found into tests/fuzz/corpus/ (libFuzzer's -merge=1 keeps
   only inputs that add coverage).

Prints executions, executions per second, corpus size, coverage (libFuzzer's
edge count `cov` and feature count `ft`) and writes build/fuzz-report.json.
"""

from __future__ import annotations

import argparse
import glob
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import time
import warnings
from pathlib import Path

from ci.checks.suite import load as load_test_module

ROOT = Path(__file__).resolve().parents[2]
WORK = ROOT / "build" / "fuzz"
CORPUS = ROOT / "tests" / "fuzz" / "corpus"
CRASHES = ROOT / "tests" / "fuzz" / "crashes"
SUITES = ("node", "simple", "pytorch-converted", "pytorch-operator")
MAX_KEPT_INPUT = 16 * 1024


def say(msg: str) -> None:
    print(f"[fuzz] {msg}", flush=True)


def embed_feeds(model, feeds: list) -> bytes:
    """`model` (an onnx.ModelProto, changed) with a test's inputs embedded as initializers named like the inputs
    (the inputs' defaults): the fuzz target feeds only inputs without one, so the real shapes and values are
    what the mutator starts from, and a mutated initializer is a mutated feed. `feeds` holds a TensorProto per
    input without an initializer, in order, or None for one left to the target (a sequence, an optional)."""
    inits = {i.name for i in model.graph.initializer}
    names = [i.name for i in model.graph.input if i.name not in inits]
    for name, t in zip(names, feeds):
        if t is None:
            continue
        t.name = name
        model.graph.initializer.append(t)
    if model.ir_version < 4:
        model.ir_version = 4  # initializers as input defaults
    return model.SerializeToString()


def with_feeds(model_path: str) -> bytes:
    """A conformance model file with its first test's input files embedded (embed_feeds)."""
    import onnx

    data = Path(model_path).read_bytes()
    case = Path(model_path).parent / "test_data_set_0"
    blobs = sorted(case.glob("input_*.pb"), key=lambda p: int(p.stem.split("_")[1]))
    if not blobs:
        return data
    try:
        feeds = []
        for blob in blobs:
            t = onnx.TensorProto()
            t.ParseFromString(blob.read_bytes())
            feeds.append(t if t.HasField("data_type") and t.data_type != 0 else None)
        model = onnx.ModelProto()
        model.ParseFromString(data)
        return embed_feeds(model, feeds)
    except Exception:  # noqa: BLE001 - a seed is a seed; keep the plain model
        return data


def conformance_seeds() -> list[str]:
    try:
        import onnx.backend.test
    except ImportError:
        say("onnx is not installed: no conformance seeds")
        return []
    data = Path(onnx.backend.test.__file__).parent / "data"
    out = []
    for suite in SUITES:
        out += glob.glob(str(data / suite / "*" / "model.onnx"))
    return sorted(out)


def in_memory_node_seeds() -> list[bytes]:
    """onnx >= 1.20 keeps its node cases in memory (no model files under data/node): each case's model,
    plain and with its first data set's tensor inputs embedded (embed_feeds)."""
    try:
        import onnx
        from onnx import numpy_helper
        from onnx.backend.test.loader import load_model_tests
    except ImportError:
        return []

    def tensor(value):
        if isinstance(value, onnx.TensorProto):
            t = onnx.TensorProto()
            t.CopyFrom(value)  # the case's own value stays as it is
            return t
        try:
            return numpy_helper.from_array(value)
        except Exception:  # noqa: BLE001 - a sequence, map or optional feed: left to the target
            return None

    out = []
    with warnings.catch_warnings():  # the case generators' own numpy overflow warnings
        warnings.simplefilter("ignore")
        cases = load_model_tests(kind="node")
    for case in cases:
        if getattr(case, "model", None) is None:
            continue  # a case with files: conformance_seeds found it
        model = onnx.ModelProto()
        model.CopyFrom(case.model)
        out.append(model.SerializeToString())
        if case.data_sets:
            out.append(embed_feeds(model, [tensor(v) for v in case.data_sets[0][0]]))
    return out


def reproducer_seeds(dest: Path) -> list[str]:
    """The security review's reproducer models (tests/test_hostile.py), written as files."""
    try:
        test_hostile = load_test_module("test_hostile", "models")
    except ImportError as err:
        say(f"no reproducer seeds ({err})")
        return []
    dest.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ, PIONNX_HOSTILE_SAVE=str(dest))
    for name in test_hostile.CASES:
        subprocess.run(
            [sys.executable, "-c", test_hostile.CHILD, name, str(dest)],
            env=env,
            capture_output=True,
            check=False,
            timeout=300,
        )
    return sorted(glob.glob(str(dest / "*.onnx")))


def stage_seeds(seeds_dir: Path) -> int:
    """One folder of seed files (libFuzzer reads folders), named by content hash."""
    if seeds_dir.exists():
        shutil.rmtree(seeds_dir)
    seeds_dir.mkdir(parents=True)
    n = 0
    reproducers = reproducer_seeds(seeds_dir.parent / "reproducers")
    say(f"{len(reproducers)} reproducer models from tests/test_hostile.py")
    models = conformance_seeds()
    datas = []
    for path in [*models, *reproducers, *glob.glob(str(CRASHES / "*"))]:
        datas.append(Path(path).read_bytes())
        if path in models:
            datas.append(with_feeds(path))
    in_memory = in_memory_node_seeds()
    if in_memory:
        say(f"{len(in_memory)} seeds from onnx's in-memory node cases")
    for data in [*datas, *in_memory]:
        seed = seeds_dir / hashlib.sha1(data).hexdigest()
        if not seed.exists():
            seed.write_bytes(data)
            n += 1
    return n


# Fork mode's progress line: "#1234567: cov: 8123 ft: 30456 corp: 2211 exec/s: 812 oom/timeout/crash: 0/0/0 time: 61s
# job: 12 dft_time: 0".
PROGRESS = re.compile(
    r"^#(\d+): cov: (\d+) ft: (\d+) corp: (\d+) exec/s:? (\d+) oom/timeout/crash: (\d+)/(\d+)/(\d+)", re.M
)


# One process (--runs): "#12345\tREDUCE cov: 8123 ft: 30456 corp: 2211/3Mb ..." lines and final stats.
SINGLE = re.compile(r"^#(\d+)\s+\w+\s+cov: (\d+) ft: (\d+) corp: (\d+)/", re.M)
STAT = re.compile(r"^stat::number_of_executed_units:\s*(\d+)", re.M)


def read_log(log: Path) -> dict:
    text = log.read_text(errors="replace")
    progress = PROGRESS.findall(text)
    single = SINGLE.findall(text)
    if not progress and single:
        executed = STAT.findall(text)
        crashed = int(
            "ERROR: AddressSanitizer" in text or "runtime error:" in text or "ERROR: libFuzzer: deadly" in text
        )
        return {
            "executions": int(executed[-1]) if executed else int(single[-1][0]),
            "cov": int(single[-1][1]),
            "ft": int(single[-1][2]),
            "oom": int("out-of-memory" in text),
            "timeouts": int("ERROR: libFuzzer: timeout" in text),
            "crashes": crashed,
        }
    if not progress:
        return {"executions": 0, "cov": 0, "ft": 0, "oom": 0, "timeouts": 0, "crashes": 0}
    runs, cov, ft, _corp, _rate, oom, timeouts, crashes = (int(v) for v in progress[-1])
    return {"executions": runs, "cov": cov, "ft": ft, "oom": oom, "timeouts": timeouts, "crashes": crashes}


def crash_report(text: str, limit: int = 60) -> list[str]:
    """The first finding's own words and stack, for the CI log (the artifacts stay on the runner): from
    the line that reports it (a sanitizer's ERROR or runtime error, std::terminate's message, a failed
    assertion) to its SUMMARY line, at most `limit` lines."""
    lines = text.splitlines()
    start = next(
        (
            i
            for i, line in enumerate(lines)
            if "ERROR: " in line
            or "runtime error:" in line
            or "terminate called" in line
            or "Assertion" in line
            or "==WARNING" in line
        ),
        None,
    )
    if start is None:
        return []
    out = []
    for line in lines[start:]:
        out.append(line.rstrip())
        if "SUMMARY:" in line or len(out) >= limit:
            break
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=600, help="campaign length (default 600)")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 2)
    parser.add_argument(
        "--runs",
        type=int,
        default=0,
        help="instead of --seconds: one process, this many executions from --seed, stopping at the "
        "first finding (reproducible for a given commit: what CI runs)",
    )
    parser.add_argument("--seed", type=int, default=1, help="libFuzzer's -seed with --runs")
    parser.add_argument("--update-corpus", action="store_true", help="merge the new inputs into tests/fuzz/corpus/")
    parser.add_argument(
        "--target",
        default=str(ROOT / "build" / "sanitize-build" / "fuzz_session"),
        help="the libFuzzer binary (built by nox -s fuzz)",
    )
    args = parser.parse_args(argv)

    target = Path(args.target).resolve()  # libFuzzer runs in the campaign folder
    if not target.is_file():
        raise SystemExit(f"[fuzz] {target} does not exist: run `nox -s fuzz`, which builds it")
    work = WORK / "campaign"
    if work.exists():
        shutil.rmtree(work)
    corpus, seeds, artifacts = work / "corpus", work / "seeds", work / "artifacts"
    for d in (corpus, artifacts):
        d.mkdir(parents=True)
    CORPUS.mkdir(parents=True, exist_ok=True)
    for f in CORPUS.iterdir():
        shutil.copy2(f, corpus / f.name)
    n_seeds = stage_seeds(seeds)
    say(f"seeds: {len(list(CORPUS.iterdir()))} corpus inputs, {n_seeds} conformance models and regression cases")

    flags = [
        "-timeout=10",
        "-rss_limit_mb=2048",
        "-malloc_limit_mb=2048",
        "-max_len=262144",
        "-use_value_profile=1",
        f"-artifact_prefix={artifacts}/",
    ]
    if args.runs:
        flags += [f"-runs={args.runs}", f"-seed={args.seed}", "-print_final_stats=1"]
    else:
        flags += [
            f"-max_total_time={args.seconds}",
            f"-fork={args.jobs}",
            "-ignore_crashes=1",
            "-ignore_timeouts=1",
            "-ignore_ooms=1",
        ]
    # Fork mode: the corpus folder given first is the one new inputs go to.
    cmd = [str(target), *flags, str(corpus), str(seeds)]
    say("$ " + " ".join(cmd))
    env = dict(
        os.environ,
        ASAN_OPTIONS="detect_leaks=0:allocator_may_return_null=1",
        UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1",
    )
    log = work / "fuzz.log"
    t0 = time.monotonic()
    with log.open("w") as out:
        subprocess.run(cmd, cwd=work, env=env, check=False, stdout=out, stderr=subprocess.STDOUT)
    seconds = time.monotonic() - t0
    stats = read_log(log)
    findings = sorted(p for p in artifacts.iterdir() if p.is_file())
    CRASHES.mkdir(parents=True, exist_ok=True)
    for f in findings:
        shutil.copy2(f, CRASHES / f.name)
        say(f"FINDING {f.name}: saved as tests/fuzz/crashes/{f.name}")
    summaries = sorted(
        {
            line.strip()
            for line in log.read_text(errors="replace").splitlines()
            if "SUMMARY:" in line or "ERROR: libFuzzer" in line
        }
    )
    for line in summaries[:40]:
        say(f"  {line}")
    for line in crash_report(log.read_text(errors="replace")):
        say(f"  | {line}")
    corpus_files = list(corpus.iterdir())
    report = {
        "executions": stats["executions"],
        "seconds": round(seconds, 1),
        "executions_per_second": round(stats["executions"] / seconds) if seconds else 0,
        "corpus_inputs": len(corpus_files),
        "corpus_bytes": sum(p.stat().st_size for p in corpus_files),
        "coverage_edges": stats["cov"],
        "coverage_features": stats["ft"],
        "findings": [f.name for f in findings],
        "finding_summaries": summaries,
        "crashes_seen": stats["crashes"],
        "timeouts_seen": stats["timeouts"],
        "ooms_seen": stats["oom"],
        "jobs": args.jobs,
        "seeds": n_seeds,
        "log": str(log.relative_to(ROOT)),
    }
    (ROOT / "build" / "fuzz-report.json").write_text(json.dumps(report, indent=2) + "\n")
    say(
        f"{report['executions']:,} executions in {seconds:.0f} s ({report['executions_per_second']}/s), corpus "
        f"{report['corpus_inputs']} inputs, coverage {report['coverage_edges']} edges / {report['coverage_features']} "
        f"features, {len(findings)} finding(s); build/fuzz-report.json"
    )
    if args.update_corpus:
        # Only inputs under 16 KB are kept in the repository (a few MB in all); libFuzzer's merge
        # then keeps those that add coverage.
        small, merged = work / "small", work / "merged"
        small.mkdir()
        merged.mkdir()
        for f in corpus.iterdir():
            if f.stat().st_size < MAX_KEPT_INPUT:
                shutil.copy2(f, small / f.name)
        subprocess.run(
            [str(target), "-merge=1", "-timeout=10", "-rss_limit_mb=2048", str(merged), str(small)],
            cwd=work,
            env=env,
            check=False,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for f in CORPUS.iterdir():
            f.unlink()
        for f in merged.iterdir():
            shutil.copy2(f, CORPUS / f.name)
        say(f"tests/fuzz/corpus/: {len(list(CORPUS.iterdir()))} inputs after merging")
    if stats["executions"] == 0:
        say("FAILED: no input was executed")
        return 1
    if findings or stats["crashes"] or stats["timeouts"] or stats["oom"]:
        say(
            f"FAILED: {len(findings)} finding(s) saved; libFuzzer counted {stats['crashes']} crash(es), "
            f"{stats['timeouts']} timeout(s), {stats['oom']} out-of-memory"
        )
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
