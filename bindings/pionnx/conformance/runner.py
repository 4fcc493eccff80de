"""Run exported conformance cases with numpy and pionnx only (no onnx package).

Tensors are read with ``pionnx.tensor_from_proto``; outputs are compared as
onnx's backend test does (``compare.assert_similar_outputs``). Sequence and optional
data are read with ``pionnx.value_from_proto`` where pionnx has it; cases with
data it cannot read (MapProto, sparse tensors) are skipped with the kind as reason.

By default the cases run in a worker process: when pionnx crashes or hangs on
one case, that case is recorded as ``crashed``/``timeout`` and a new worker
goes on with the next one, so one bad kernel cannot hide the rest of the run.
"""

from __future__ import annotations

import json
import os
import queue
import re
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np

from . import expected as expected_list
from . import rawbits
from .compare import assert_similar_outputs
from .suites import SUITES

MANIFEST = "manifest.json"
WORKER_PREFIX = "@@pionnx-conformance@@ "
FAILING = ("failed", "crashed", "timeout")


def load_manifest(root: str | os.PathLike[str]) -> dict[str, Any]:
    path = Path(root) / MANIFEST
    manifest: dict[str, Any] = json.loads(path.read_text())
    if not str(manifest.get("format", "")).startswith("pionnx-conformance/"):
        raise ValueError(f"{path} is not a pionnx conformance manifest")
    return manifest


def select(cases: list[dict[str, Any]], suites: Iterable[str] | None, pattern: str | None) -> list[int]:
    suites = set(suites) if suites else None
    regex = re.compile(pattern) if pattern else None
    return [
        i
        for i, case in enumerate(cases)
        if (suites is None or case["suite"] in suites) and (regex is None or regex.search(case["id"]))
    ]


def _readable_kinds() -> set[str]:
    import pionnx

    # value_from_proto (SequenceProto, OptionalProto) is newer than tensor_from_proto.
    return {"tensor", "sequence", "optional"} if hasattr(pionnx, "value_from_proto") else {"tensor"}


def _read_value(path: Path, kind: str, raw: bool = False) -> Any:
    """A .pb as numpy; with raw=True, exotic element types as rawbits.RawBits."""
    import pionnx

    if raw:
        from pionnx import _core
        from pionnx._session import _to_python

        core = (
            _core.tensor_from_proto(path.read_bytes())
            if kind == "tensor"
            else _core.value_from_proto(path.read_bytes(), kind)
        )
        wrapped = rawbits.wrap(core)
        return wrapped if isinstance(wrapped, rawbits.RawBits) else _to_python(core)
    if kind == "tensor":
        return pionnx.tensor_from_proto(path.read_bytes())
    return pionnx.value_from_proto(path.read_bytes(), kind)


def _run_raw(session: Any, output_names: list[str], feeds: dict[str, Any]) -> list[Any]:
    """session.run on bit patterns: RawBits in and out, the rest as numpy."""
    from pionnx._session import _to_python

    pairs = [(name, rawbits.unwrap(value)) for name, value in feeds.items()]
    outs = session._sess.run(pairs, output_names)
    return [rawbits.wrap(o) if isinstance(rawbits.wrap(o), rawbits.RawBits) else _to_python(o) for o in outs]


def _data_kinds(case: dict[str, Any], data_set: dict[str, Any]) -> tuple[list[str], list[str]]:
    kinds = {value["name"]: value["kind"] for value in case["inputs"]}
    inputs = [kinds.get(feed["name"], "unknown") for feed in data_set["inputs"]]
    outputs = [value["kind"] for value in case["outputs"]][: len(data_set["outputs"])]
    outputs += ["unknown"] * (len(data_set["outputs"]) - len(outputs))
    return inputs, outputs


def _check_reference_dtypes(outputs: list[Any], names: list[str | None]) -> None:
    # tensor_from_proto and the session agree with each other on exotic types (bfloat16, float8, int4);
    # onnx's runner compares against numpy_helper's dtype, recorded at export.
    for i, (out, name) in enumerate(zip(outputs, names)):
        if name is None or name == "object" or not isinstance(out, np.ndarray):
            continue
        if out.dtype.name != name:
            raise AssertionError(f"Output {i} has dtype {out.dtype.name}, the reference has {name}")


def _check_raw_dtypes(outputs: list[Any], names: list[str | None]) -> None:
    for i, (out, name) in enumerate(zip(outputs, names)):
        if name is None or name == "object" or isinstance(out, list):
            continue
        got = out.dtype_name if isinstance(out, rawbits.RawBits) else getattr(getattr(out, "dtype", None), "name", None)
        if got != name:
            raise AssertionError(f"Output {i} has dtype {got}, the reference has {name}")


def run_case(root: Path, case: dict[str, Any], threads: int | None = None) -> dict[str, Any]:
    """Run one case in this process: {'outcome': passed|failed|skipped, 'message': ...}."""
    import pionnx

    case_dir = root / case["dir"]
    readable = _readable_kinds()
    raw = not rawbits.have_ml_dtypes()
    for data_set in case["data_sets"]:
        inputs, outputs = _data_kinds(case, data_set)
        unreadable = sorted(set(inputs + outputs) - readable)
        if unreadable:
            return {"outcome": "skipped", "message": f"{'/'.join(unreadable)} data: this pionnx cannot read it"}
    try:
        options = pionnx.SessionOptions()
        if threads:
            options.intra_op_num_threads = threads
        session = pionnx.InferenceSession(str(case_dir / case["model"]), sess_options=options)
        output_names = [value["name"] for value in case["outputs"]]
        for data_set in case["data_sets"]:
            set_dir = case_dir / data_set["dir"]
            input_kinds, output_kinds = _data_kinds(case, data_set)
            feeds = {
                feed["name"]: _read_value(set_dir / feed["file"], kind, raw)
                for feed, kind in zip(data_set["inputs"], input_kinds)
            }
            refs = [_read_value(set_dir / file, kind, raw) for file, kind in zip(data_set["outputs"], output_kinds)]
            if raw and any(isinstance(v, rawbits.RawBits) for v in list(feeds.values()) + refs):
                outputs = _run_raw(session, output_names, feeds)
                _check_raw_dtypes(outputs, data_set.get("output_dtypes", []))
                assert_similar_outputs(
                    rawbits.decode(refs),
                    rawbits.decode(outputs),
                    rtol=case["rtol"],
                    atol=case["atol"],
                    bfloat16=[isinstance(r, rawbits.RawBits) and r.code == 16 for r in refs],
                )
                continue
            outputs = session.run(output_names, feeds)
            assert_similar_outputs(refs, outputs, rtol=case["rtol"], atol=case["atol"])
            _check_reference_dtypes(outputs, data_set.get("output_dtypes", []))
    except AssertionError as e:
        return {"outcome": "failed", "message": f"mismatch: {str(e).strip()[:2000]}"}
    except Exception as e:  # noqa: BLE001 - every failure is a result here
        return {"outcome": "failed", "message": f"{type(e).__module__}.{type(e).__name__}: {str(e)[:2000]}"}
    return {"outcome": "passed", "message": ""}


def worker_main(root: Path, indices: list[int], threads: int | None) -> int:
    """Child side of run_isolated: one JSON line before and after every case."""
    cases = load_manifest(root)["cases"]
    emit = sys.stdout
    for index in indices:
        emit.write(WORKER_PREFIX + json.dumps({"event": "start", "index": index}) + "\n")
        emit.flush()
        start = time.perf_counter()
        result = run_case(root, cases[index], threads)
        result["seconds"] = round(time.perf_counter() - start, 3)
        emit.write(WORKER_PREFIX + json.dumps({"event": "result", "index": index, "result": result}) + "\n")
        emit.flush()
    return 0


def _reader(stream: Any, lines: queue.Queue[Any]) -> None:
    for line in stream:
        lines.put(line)
    lines.put(None)


def run_isolated(
    root: Path, indices: list[int], threads: int | None, timeout: float, progress: Any = None
) -> dict[int, dict[str, Any]]:
    results: dict[int, dict[str, Any]] = {}
    pending = list(indices)
    while pending:
        with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
            json.dump(pending, f)
            indices_file = f.name
        command = [sys.executable, "-m", "pionnx.conformance", "_worker", str(root), "--indices", indices_file]
        if threads:
            command += ["--threads", str(threads)]
        proc = subprocess.Popen(command, stdout=subprocess.PIPE, text=True, bufsize=1)
        lines: queue.Queue[Any] = queue.Queue()
        threading.Thread(target=_reader, args=(proc.stdout, lines), daemon=True).start()
        current: int | None = None
        started = time.perf_counter()
        finished_before = len(results)
        while True:
            try:
                line = lines.get(timeout=timeout)
            except queue.Empty:
                proc.kill()
                if current is not None:
                    results[current] = {"outcome": "timeout", "message": f"no result after {timeout:g} s"}
                break
            if line is None:
                break
            if not line.startswith(WORKER_PREFIX):
                sys.stderr.write(line)  # whatever pionnx itself printed
                continue
            message = json.loads(line[len(WORKER_PREFIX) :])
            if message["event"] == "start":
                current, started = message["index"], time.perf_counter()
            else:
                results[message["index"]] = message["result"]
                current = None
                if progress:
                    progress(message["index"], message["result"])
        code = proc.wait()
        os.unlink(indices_file)
        if current is not None and current not in results:
            how = f"signal {-code}" if code < 0 else f"exit code {code}"
            results[current] = {
                "outcome": "crashed",
                "message": f"worker died ({how})",
                "seconds": round(time.perf_counter() - started, 3),
            }
        elif current is None and len(results) == finished_before:
            # The worker died before its first case: it cannot start at all.
            for index in pending:
                results[index] = {"outcome": "failed", "message": f"worker did not start (exit code {code})"}
        pending = [i for i in pending if i not in results]
    return results


def summarize(
    cases: list[dict[str, Any]], results: dict[int, dict[str, Any]], listed: dict[str, str]
) -> dict[str, Any]:
    per_suite: dict[str, dict[str, float]] = {}  # counts, and each suite's pass_rate
    rows = []
    for index, result in sorted(results.items()):
        case = cases[index]
        outcome = result["outcome"]
        is_listed = case["id"] in listed
        if listed.get(case["id"]) == expected_list.RANDOM:
            verdict = "skipped"  # random output: neither outcome counts, see expected.py
        elif outcome == "passed" and listed.get(case["id"]) == expected_list.HARNESS:
            verdict = "passed"  # fails only under onnx's own BackendTest, see expected.py
        elif outcome in FAILING and is_listed:
            verdict = "xfailed"
        elif outcome == "passed" and is_listed:
            verdict = "xpassed"  # strict: the list must shrink
        else:
            verdict = outcome
        counts: dict[str, float] = per_suite.setdefault(
            case["suite"],
            dict.fromkeys(("total", "passed", "failed", "crashed", "timeout", "skipped", "xfailed", "xpassed"), 0),
        )
        counts["total"] += 1
        counts[verdict] += 1
        rows.append({"id": case["id"], "suite": case["suite"], "outcome": outcome, "verdict": verdict, **result})
    order = [s for s in SUITES if s in per_suite] + [s for s in per_suite if s not in SUITES]
    for suite in order:
        counts = per_suite[suite]
        counts["pass_rate"] = round(100.0 * counts["passed"] / counts["total"], 2)
    total = sum(per_suite[s]["total"] for s in order)
    passed = sum(per_suite[s]["passed"] for s in order)
    unexpected = [row["id"] for row in rows if row["verdict"] in FAILING]
    xpassed = [row["id"] for row in rows if row["verdict"] == "xpassed"]
    return {
        "suites": {s: per_suite[s] for s in order},
        "total": total,
        "passed": passed,
        "unexpected_failures": unexpected,
        "unexpected_passes": xpassed,
        "results": rows,
    }


def run(
    root: str | os.PathLike[str],
    expected_failures: str | None = None,
    json_out: str | None = None,
    suites: Iterable[str] | None = None,
    pattern: str | None = None,
    threads: int | None = None,
    timeout: float = 600.0,
    isolate: bool = True,
    verbose: bool = False,
    write_expected_failures: str | None = None,
) -> int:
    """Run the exported cases, print the summary, return the exit code (0: no surprise)."""
    root = Path(root).resolve()
    cases = load_manifest(root)["cases"]
    indices = select(cases, suites, pattern)
    if not indices:
        print("no conformance case selected", file=sys.stderr)
        return 5
    listed = expected_list.read(expected_failures) if expected_failures else {}
    done = [0]
    start = time.perf_counter()

    def progress(index: int, result: dict[str, Any]) -> None:
        done[0] += 1
        if verbose:
            print(f"{cases[index]['id']}: {result['outcome']} {result.get('message', '')[:200]}", flush=True)
        elif done[0] % 100 == 0:
            print(f"[{done[0]}/{len(indices)}] {time.perf_counter() - start:.0f} s", flush=True)

    if isolate:
        results = run_isolated(root, indices, threads, timeout, progress)
    else:
        results = {}
        for index in indices:
            t0 = time.perf_counter()
            results[index] = run_case(root, cases[index], threads)
            results[index]["seconds"] = round(time.perf_counter() - t0, 3)
            progress(index, results[index])

    summary = summarize(cases, results, listed)
    summary["seconds"] = round(time.perf_counter() - start, 1)
    for suite, counts in summary["suites"].items():
        print(f"conformance {suite}: {counts['passed']}/{counts['total']} passed ({counts['pass_rate']:.1f}%)")
    for name in summary["unexpected_failures"]:
        row = next(r for r in summary["results"] if r["id"] == name)
        first_line = (row.get("message") or "").strip().splitlines()[:1]
        print(f"UNEXPECTED {row['outcome'].upper()} {name}: {' '.join(first_line)[:300]}")
    for name in summary["unexpected_passes"]:
        print(f"UNEXPECTED PASS {name}: listed in {expected_failures}, remove it")
    print(f"{summary['passed']}/{summary['total']} passed")
    if json_out:
        Path(json_out).parent.mkdir(parents=True, exist_ok=True)
        Path(json_out).write_text(json.dumps(summary, indent=1) + "\n")
        print(f"results written to {json_out}")
    if write_expected_failures:
        failing = {
            row["id"]: expected_list.classify(row["outcome"] + " " + row.get("message", ""))
            for row in summary["results"]
            if row["outcome"] in FAILING
        }
        passing = [row["id"] for row in summary["results"] if row["outcome"] == "passed"]
        old = expected_list.read(write_expected_failures)
        expected_list.write(write_expected_failures, expected_list.update(old, failing, passing))
        print(f"expected failures written to {write_expected_failures}")
    return 1 if summary["unexpected_failures"] or summary["unexpected_passes"] else 0
