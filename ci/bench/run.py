"""pionnx against onnxruntime and tract: latency, session creation, peak memory.

    nox -s bench                                   # every model, 1 and 2 threads
    nox -s bench -- --quick --models resnet50,bert # smoke run
    nox -s bench -- --concurrent                   # one session, run() from 1 and from 2 threads
    nox -s bench -- --scaling                      # each runtime's 1 -> 2 thread speed-up, alternated
    nox -s bench -- --gemm                         # SGEMM, 1 thread: pionnx against numpy's OpenBLAS
    nox -s bench -- --ops                          # single operators against onnxruntime (ci/bench/ops.py)
    python -m ci.bench.run --help

For each model and thread count the three runtimes run the same inputs,
round-robin (a fresh random order each iteration, so machine noise hits all of
them alike), and the median of `--runs` timed runs after `--warmup` runs is
reported. With more than one thread each timed run starts after a short
pause (`--settle-ms`, 60 ms): onnxruntime's and pionnx's idle workers spin for a
while after a run (onnxruntime 1.32's for about 39 ms on a Zen 3 core, pionnx's
for 1.5 ms), and on a 2-core machine a runtime still spinning would steal a
core from the next runtime's run. pionnx's outputs are checked against onnxruntime's before timing; a
relative difference above 1e-3 is flagged MISMATCH and left out of the
geometric means. Session creation and peak RSS come from one child process
per runtime and model (`--rss-child`), which also keeps a runtime that crashes
on a model from taking the benchmark down. Results: a table on stdout and
JSON (default build/bench-results.json), whose "machine" section holds the CPU
(model; on x86 family/model/stepping and the AVX2/FMA/AVX-512 flags; cache
sizes), the kernel path each pionnx family picked (`pionnx.simd_info()`) and
any PIONNX_SGEMM/QGEMM/FASTMATH override; the header lines print them. The
GEMM table (`--gemm`) is described in ci/bench/gemm.py.

Only the standard library and numpy are imported at module level: the RSS
children must not carry onnx's memory.
"""

from __future__ import annotations

import argparse
import datetime
import json
import math
import os
import platform
import resource
import statistics
import subprocess
import sys
import threading
import time
import traceback
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
RUNTIMES = ["pionnx", "onnxruntime", "tract"]
SHORT = {"pionnx": "pionnx", "onnxruntime": "onnxrt", "tract": "tract"}
CHILD_MARK = "BENCH-CHILD-RESULT "
REL_TOLERANCE = 1e-3
TRACT_THREADS_NOTE = (
    "tract runs single-threaded: its Python binding has no thread-count setting, so every thread count "
    "measures the same 1-thread engine (cells marked ¹)"
)


# ------------------------------------------------------------------ runtimes


def import_runtime(name: str):
    if name == "pionnx":
        import pionnx

        return pionnx
    if name == "onnxruntime":
        import onnxruntime

        return onnxruntime
    if name == "tract":
        import tract

        return tract
    raise KeyError(name)


_TRACT_DT = {
    np.dtype(np.float32): "f32",
    np.dtype(np.float64): "f64",
    np.dtype(np.int64): "i64",
    np.dtype(np.int32): "i32",
    np.dtype(np.uint8): "u8",
    np.dtype(np.int8): "i8",
    np.dtype(np.bool_): "bool",
}


def session_options(runtime: str, module, threads: int):
    """The options a timed pionnx or onnxruntime session gets: `threads` intra-op threads (onnxruntime: one
    inter-op thread, and quiet, as the light models' unused initializers make it chatty)."""
    opts = module.SessionOptions()
    opts.intra_op_num_threads = threads
    if runtime == "onnxruntime":
        opts.inter_op_num_threads = 1
        opts.log_severity_level = 3
    return opts


def create_session(runtime: str, module, path: str, threads: int, feeds: dict[str, np.ndarray]):
    """Returns a no-argument callable that runs the model once on `feeds` and returns numpy outputs."""
    if runtime in ("pionnx", "onnxruntime"):
        opts = session_options(runtime, module, threads)
        sess = module.InferenceSession(path, opts, providers=["CPUExecutionProvider"])
        return lambda: sess.run(None, feeds)
    if runtime == "tract":
        # Single-threaded whatever `threads` says (see TRACT_THREADS_NOTE).
        model = module.onnx().load(path)
        inputs = []
        for i in range(model.input_count()):
            name = model.input_name(i)
            if name not in feeds:
                raise RuntimeError(f"tract sees an input {name!r} that the benchmark does not feed")
            x = feeds[name]
            model.set_input_fact(i, ",".join([*map(str, x.shape), _TRACT_DT[x.dtype]]))
            inputs.append(x)
        runnable = model.into_model().into_runnable()  # into_runnable optimizes for the CPU
        return lambda: [t.to_numpy() for t in runnable.run(inputs)]
    raise KeyError(runtime)


def failure(runtime: str, module, exc: BaseException) -> str:
    """'unsupported: ...' for a model the runtime says it cannot run, 'error: ...' for anything else."""
    text = " ".join(str(exc).split("Stack backtrace:")[0].split()) or type(exc).__name__
    if runtime == "pionnx" and isinstance(exc, module.NotImplemented):
        return f"unsupported: {text}"
    if runtime == "onnxruntime" and type(exc).__name__ in ("NotImplemented", "InvalidGraph"):
        return f"unsupported: {type(exc).__name__}: {text}"
    if runtime == "tract" and type(exc).__name__ == "TractError":
        return f"unsupported: {text}"
    return f"error: {type(exc).__name__}: {text}"


# ------------------------------------------------------- RSS / creation child


def maxrss_mb() -> float:
    """This process's peak RSS in MB.

    VmHWM where Linux has it: ru_maxrss keeps the high-water mark of the
    parent image across fork+exec (the child would report the benchmark
    process's size), VmHWM belongs to the current image only.
    """
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024.0
    except (OSError, ValueError, IndexError):
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # kB on Linux


def rss_child(runtime: str, model_path: str, threads: int, feeds_path: str | None, creations: int, runs: int) -> dict:
    """Runs in its own process: imports numpy + the runtime (baseline), creates sessions, runs, reports."""
    out: dict = {"runtime": runtime, "threads": threads}
    try:
        module = import_runtime(runtime)
    except Exception as exc:  # noqa: BLE001 - reported, not raised
        return {**out, "status": f"unavailable: {type(exc).__name__}: {exc}"}
    out["baseline_rss_mb"] = maxrss_mb()
    if model_path == "-":
        return {**out, "status": "ok"}
    with np.load(feeds_path) as data:
        feeds = {k: data[k] for k in data.files}
    create_ms = []
    try:
        run = None
        for _ in range(creations):
            run = None  # drop the previous session first: peak RSS is one session's
            started = time.perf_counter()
            run = create_session(runtime, module, model_path, threads, feeds)
            create_ms.append((time.perf_counter() - started) * 1e3)
        run_ms = []
        for _ in range(runs):
            started = time.perf_counter()
            run()
            run_ms.append((time.perf_counter() - started) * 1e3)
    except Exception as exc:  # noqa: BLE001
        return {**out, "status": failure(runtime, module, exc), "create_ms": create_ms}
    peak = maxrss_mb()
    return {
        **out,
        "status": "ok",
        "create_ms": create_ms,
        "create_ms_median": statistics.median(create_ms),
        "ru_maxrss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0,
        "first_run_ms": run_ms[0] if run_ms else None,
        "run_ms": run_ms,
        "peak_rss_mb": peak,
        "net_rss_mb": peak - out["baseline_rss_mb"],
    }


def run_child(runtime: str, model_path: str, threads: int, feeds_path: str | None, args) -> dict:
    cmd = [
        sys.executable,
        "-m",
        "ci.bench.run",
        "--rss-child",
        runtime,
        model_path,
        str(threads),
        "--creations",
        str(args.creations),
        "--child-runs",
        str(args.child_runs),
    ]
    if feeds_path:
        cmd += ["--feeds", feeds_path]
    try:
        proc = subprocess.run(
            cmd,
            capture_output=True,
            text=True,
            timeout=args.child_timeout,
            env=dict(os.environ, PYTHONPATH=str(ROOT)),
        )
    except subprocess.TimeoutExpired:
        return {"runtime": runtime, "status": f"error: timed out after {args.child_timeout} s"}
    for line in reversed(proc.stdout.splitlines()):
        if line.startswith(CHILD_MARK):
            return json.loads(line[len(CHILD_MARK) :])
    how = f"killed by signal {-proc.returncode}" if proc.returncode < 0 else f"exit code {proc.returncode}"
    tail = " | ".join(proc.stderr.strip().splitlines()[-3:])
    return {"runtime": runtime, "status": f"crashed: {how}: {tail}"}


# ---------------------------------------------------------------- comparison


def compare(ref: list, got: list, tolerance: float = REL_TOLERANCE) -> dict:
    """Max abs difference and that difference relative to the largest reference magnitude, over all outputs;
    ok when the relative one is at most `tolerance`."""
    if len(ref) != len(got):
        return {"ok": False, "why": f"{len(got)} outputs, onnxruntime has {len(ref)}"}
    max_abs, rel = 0.0, 0.0
    for i, (r, g) in enumerate(zip(ref, got)):
        r, g = np.asarray(r), np.asarray(g)
        if r.shape != g.shape:
            return {"ok": False, "why": f"output {i}: shape {g.shape}, onnxruntime has {r.shape}"}
        r64, g64 = r.astype(np.float64), g.astype(np.float64)
        if not np.array_equal(np.isnan(r64), np.isnan(g64)):
            return {"ok": False, "why": f"output {i}: NaNs differ"}
        finite = np.isfinite(r64) & np.isfinite(g64)
        if not np.array_equal(r64[~finite], g64[~finite], equal_nan=True):
            return {"ok": False, "why": f"output {i}: infinities differ"}
        if finite.any():
            diff = float(np.max(np.abs(r64[finite] - g64[finite])))
            scale = float(np.max(np.abs(r64[finite])))
            max_abs = max(max_abs, diff)
            rel = max(rel, diff / scale if scale > 0 else (0.0 if diff == 0 else math.inf))
    return {"ok": rel <= tolerance, "max_abs_diff": max_abs, "rel_diff": rel, "tolerance": tolerance}


# ------------------------------------------------------------------- timing


def check_twin(model, threads: int, modules: dict, twin_reference: dict) -> dict:
    """pionnx vs onnxruntime on a light model's random-weight twin (onnxruntime's outputs kept across thread counts)."""
    feeds = model.feeds()
    try:
        if "outputs" not in twin_reference:
            twin_reference["outputs"] = create_session(
                "onnxruntime", modules["onnxruntime"], str(model.check_path), 1, feeds
            )()
        outputs = create_session("pionnx", modules["pionnx"], str(model.check_path), threads, feeds)()
    except Exception as exc:  # noqa: BLE001
        return {"ok": False, "why": f"random-weight twin: {failure('pionnx', modules['pionnx'], exc)}"}
    return compare(twin_reference["outputs"], outputs)


def time_model(model, threads: int, modules: dict, usable: dict, args, rng, twin_reference: dict) -> dict:
    """One thread count: create sessions, check against onnxruntime, then interleaved timed runs."""
    feeds = model.feeds()
    result: dict = {"threads": threads, "runtimes": {}}
    runs: dict = {}
    for rt in RUNTIMES:
        if not usable[rt]:
            result["runtimes"][rt] = {"status": usable.get(f"{rt}_why", "skipped")}
            continue
        try:
            run = create_session(rt, modules[rt], str(model.path), threads, feeds)
            outputs = run()
        except Exception as exc:  # noqa: BLE001
            result["runtimes"][rt] = {"status": failure(rt, modules[rt], exc)}
            continue
        runs[rt] = run
        result["runtimes"][rt] = {"status": "ok", "outputs": outputs}

    reference = result["runtimes"].get("onnxruntime", {}).pop("outputs", None)
    for rt in ("pionnx", "tract"):
        entry = result["runtimes"][rt]
        outputs = entry.pop("outputs", None)
        if outputs is None:
            continue
        entry["check"] = (
            compare(reference, outputs, getattr(model, "rel_tolerance", REL_TOLERANCE))
            if reference is not None
            else {"ok": None, "why": "no reference"}
        )
    pionnx_entry = result["runtimes"]["pionnx"]
    if getattr(model, "check_path", None) and "check" in pionnx_entry and reference is not None:
        # The shipped light model computes constants; the twin with random weights is the real check.
        shipped, twin = pionnx_entry["check"], check_twin(model, threads, modules, twin_reference)
        pionnx_entry["check_shipped_model"], pionnx_entry["check_random_weights"] = shipped, twin
        pionnx_entry["check"] = {**twin, "ok": bool(shipped["ok"] and twin["ok"]), "on": "random-weight twin"}
        if not shipped["ok"]:
            pionnx_entry["check"]["why"] = f"shipped model: {shipped.get('why')}"

    for _ in range(args.warmup - 1):  # the check above was the first warm-up run
        for rt in rng.permutation(list(runs)):
            runs[rt]()
    wall: dict = {rt: [] for rt in runs}
    cpu: dict = {rt: [] for rt in runs}
    settle = args.settle_ms / 1e3 if threads > 1 else 0.0
    for _ in range(args.runs):
        for rt in rng.permutation(list(runs)):
            if settle:
                time.sleep(settle)  # let the previous runtime's workers stop spinning
            c0, t0 = time.process_time(), time.perf_counter()
            runs[rt]()
            t1, c1 = time.perf_counter(), time.process_time()
            wall[rt].append((t1 - t0) * 1e3)
            cpu[rt].append((c1 - c0) * 1e3)
    for rt in runs:
        med = statistics.median(wall[rt])
        result["runtimes"][rt].update(
            {
                "median_ms": med,
                "min_ms": min(wall[rt]),
                "runs_ms": wall[rt],
                "cpu_per_wall": statistics.median(cpu[rt]) / med if med > 0 else None,
            }
        )
    runs.clear()
    return result


# ------------------------------------------------------------------- output


X86_FLAGS = ["avx2", "fma", "avx512f", "avx512_vnni", "amx_int8"]
PIONNX_ENV = ["PIONNX_SGEMM", "PIONNX_QGEMM", "PIONNX_FASTMATH", "PIONNX_DEPTHWISE", "PIONNX_NCHWC", "PIONNX_CONV"]


def cpu_facts(cpuinfo: str | None = None, cache_root: str = "/sys/devices/system/cpu/cpu0/cache") -> dict:
    """The CPU as Linux describes it: model name; on x86 family/model/stepping and the SIMD flags the
    kernels care about; the data caches of cpu0 (sysfs). What the system does not say is left out."""
    if cpuinfo is None:
        try:
            cpuinfo = Path("/proc/cpuinfo").read_text()
        except OSError:
            cpuinfo = ""
    first: dict[str, str] = {}  # the first processor's block
    for line in cpuinfo.splitlines():
        if not line.strip():
            if first:
                break
            continue
        key, _, value = line.partition(":")
        first.setdefault(key.strip(), value.strip())
    out: dict = {}
    for line in cpuinfo.splitlines():  # on ARM, Hardware/Model sit in a block after the processors'
        key, _, value = line.partition(":")
        if key.strip() in ("model name", "Hardware", "Model") and value.strip():
            out["model_name"] = value.strip()
            break
    if "cpu family" in first:  # x86
        for key in ("cpu family", "model", "stepping"):
            value = first.get(key, "")
            out[key.replace(" ", "_")] = int(value) if value.isdigit() else value or None
        flags = set(first.get("flags", "").split())
        out["flags"] = {f: f in flags for f in X86_FLAGS}
    caches = []
    for index in sorted(Path(cache_root).glob("index*"), key=lambda p: int(p.name[5:] or 0)):
        try:
            level, kind, size = ((index / f).read_text().strip() for f in ("level", "type", "size"))
        except OSError:
            continue
        if kind == "Instruction":
            continue
        caches.append({"level": int(level), "type": kind, "size": size})
    if caches:
        out["caches"] = caches
    return out


def cache_text(cache: dict) -> str:
    size = cache["size"]
    if size.endswith("K") and size[:-1].isdigit() and int(size[:-1]) >= 1024 and int(size[:-1]) % 1024 == 0:
        size = f"{int(size[:-1]) // 1024}M"
    return f"L{cache['level']}{'d' if cache['type'] == 'Data' else ''} {size}"


def machine_lines(m: dict) -> list[str]:
    """The header lines every mode prints: CPU, cores, versions; CPU details; pionnx's kernels."""
    lines = [
        f"{m['cpu_model']}, {m['usable_cores']}/{m['cpu_count']} cores; "
        + ", ".join(f"{k} {v}" for k, v in m["versions"].items())
    ]
    cpu, parts = m.get("cpu", {}), []
    if "cpu_family" in cpu:
        parts.append(f"family {cpu['cpu_family']} model {cpu['model']} stepping {cpu['stepping']}")
    if "flags" in cpu:
        have = [f for f, on in cpu["flags"].items() if on]
        lack = [f for f, on in cpu["flags"].items() if not on]
        parts.append(" ".join(have) + (f" (no {' '.join(lack)})" if lack else "") if have else f"no {' '.join(lack)}")
    if cpu.get("caches"):
        parts.append(", ".join(map(cache_text, cpu["caches"])))
    if parts:
        lines.append("CPU: " + "; ".join(parts))
    simd = m.get("pionnx_simd")
    if simd:
        kernels = ", ".join(f"{k} {v}" for k, v in simd.items() if k not in ("arch", "hwcap_neon"))
        env = m.get("pionnx_env") or {}
        forced = f" (forced: {', '.join(f'{k}={v}' for k, v in env.items())})" if env else ""
        lines.append(f"pionnx kernels ({simd.get('arch', '?')}): {kernels}{forced}")
    return lines


def machine_facts(modules: dict) -> dict:
    cpu_info = cpu_facts()
    cpu = cpu_info.get("model_name") or platform.processor() or platform.machine()
    versions = {}
    for rt, mod in modules.items():
        if mod is None:
            versions[rt] = None
        elif rt == "tract":
            versions[rt] = mod.version()
        else:
            versions[rt] = getattr(mod, "__version__", "?")
    import onnx

    try:
        commit = (
            subprocess.run(
                ["git", "-C", str(ROOT), "rev-parse", "HEAD"], capture_output=True, text=True, timeout=10
            ).stdout.strip()
            or None
        )
    except (OSError, subprocess.SubprocessError):
        commit = None
    pionnx = modules.get("pionnx")
    simd = dict(pionnx.simd_info()) if pionnx is not None and hasattr(pionnx, "simd_info") else None
    paths = dict(pionnx.simd_paths()) if pionnx is not None and hasattr(pionnx, "simd_paths") else None
    return {
        "cpu_model": cpu,
        "cpu": cpu_info,
        "pionnx_simd": simd,
        "pionnx_simd_available": paths,
        "pionnx_env": {k: os.environ[k] for k in PIONNX_ENV if k in os.environ},
        "cpu_count": os.cpu_count(),
        "usable_cores": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
        "machine": platform.machine(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "versions": {**versions, "numpy": np.__version__, "onnx": onnx.__version__},
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "loadavg_start": list(os.getloadavg()),
        "git_commit": commit,
    }


def fmt_ms(entry: dict | None, mark: str = "") -> str:
    if not entry:
        return "-"
    if entry.get("status") != "ok":
        return entry["status"]
    return f"{entry['median_ms']:.1f}{mark}"


def geomean(values: list[float]) -> float | None:
    return math.exp(sum(map(math.log, values)) / len(values)) if values else None


def summarize(results: dict, threads_list: list[int]) -> dict:
    """Ratios per model and thread count, and their geometric means."""
    summary: dict = {"pionnx/onnxruntime": {}, "pionnx/tract": {}, "pionnx_speedup": {}}
    for t in threads_list:
        for key in ("pionnx/onnxruntime", "pionnx/tract"):
            vals = []
            for m in results["models"].values():
                r = m["timing"].get(str(t), {}).get("ratios", {}).get(key)
                if r is not None:
                    vals.append(r)
            summary[key][str(t)] = {"geomean": geomean(vals), "models": len(vals)}
        if t != threads_list[0]:
            vals = [
                m["timing"][str(t)]["pionnx_speedup"]
                for m in results["models"].values()
                if m["timing"].get(str(t), {}).get("pionnx_speedup") is not None
            ]
            summary["pionnx_speedup"][str(t)] = {"geomean": geomean(vals), "models": len(vals)}
    return summary


def add_ratios(model_result: dict, threads_list: list[int]) -> None:
    base = model_result["timing"].get(str(threads_list[0]), {}).get("runtimes", {}).get("pionnx", {})
    for t in threads_list:
        timing = model_result["timing"].get(str(t))
        if not timing:
            continue
        rts = timing["runtimes"]
        p = rts.get("pionnx", {})
        ratios = {}
        trusted = p.get("status") == "ok" and p.get("check", {}).get("ok") is not False
        for key, other in (("pionnx/onnxruntime", "onnxruntime"), ("pionnx/tract", "tract")):
            o = rts.get(other, {})
            ratios[key] = p["median_ms"] / o["median_ms"] if trusted and o.get("status") == "ok" else None
        timing["ratios"] = ratios
        timing["pionnx_speedup"] = (
            base["median_ms"] / p["median_ms"]
            if t != threads_list[0] and trusted and base.get("status") == "ok"
            else None
        )


def print_table(results: dict, threads_list: list[int]) -> None:
    notes: list[str] = []

    def cell(text: str, model: str, rt: str, width: int) -> str:
        if len(text) <= width:
            return text.rjust(width)
        note = f"{model} / {rt}: {text}"
        if note not in notes:
            notes.append(note)
        head = text.split(":")[0]
        return f"{head} [{notes.index(note) + 1}]".rjust(width)

    w = 15
    first = threads_list[0]
    header = (
        f"{'model':<13}{'thr':>4}  {'pionnx ms':>{w}}{'onnxrt ms':>{w}}{'tract ms':>{w}}"
        f"{'p/ort':>7}{'p/tract':>8}{'p ' + str(first) + '→nT':>8}  check pionnx vs onnxruntime"
    )
    print()
    print(header)
    print("-" * len(header))
    for name, m in results["models"].items():
        for t in threads_list:
            timing = m["timing"].get(str(t))
            if not timing:
                continue
            rts = timing["runtimes"]
            tract = rts.get("tract", {})
            tract_mark = "!" if tract.get("check", {}).get("ok") is False else ""
            tract_mark += "¹" if tract.get("status") == "ok" else ""
            check = rts.get("pionnx", {}).get("check")
            pionnx_mark = "!" if check and check.get("ok") is False else ""
            cells = [
                cell(fmt_ms(rts.get("pionnx"), pionnx_mark), name, "pionnx", w),
                cell(fmt_ms(rts.get("onnxruntime")), name, "onnxruntime", w),
                cell(fmt_ms(rts.get("tract"), tract_mark), name, "tract", w),
            ]
            r = timing["ratios"]
            ratio = [f"{r[k]:.2f}" if r[k] is not None else "-" for k in ("pionnx/onnxruntime", "pionnx/tract")]
            speed = f"{timing['pionnx_speedup']:.2f}" if timing.get("pionnx_speedup") else "-"
            if check is None:
                check_text = "-"
            elif check["ok"] is None:
                check_text = check["why"]
            else:
                verdict = "ok" if check["ok"] else "MISMATCH"
                detail = (
                    f"max|Δ| {check['max_abs_diff']:.2g}, rel {check['rel_diff']:.2g}"
                    if "max_abs_diff" in check
                    else ""
                )
                if check.get("why"):
                    detail = f"{detail}; {check['why']}" if detail else check["why"]
                if check.get("on"):
                    detail += f"; {check['on']}"
                check_text = f"{verdict} ({detail})"
            print(f"{name:<13}{t:>4}  {''.join(cells)}{ratio[0]:>7}{ratio[1]:>8}{speed:>8}  {check_text}")

    print()
    header2 = (
        f"{'model':<13}"
        + "".join(f"{SHORT[rt] + ' create/1st run ms':>26}" for rt in RUNTIMES)
        + "".join(f"{SHORT[rt] + ' RSS net/raw MB':>22}" for rt in RUNTIMES)
    )
    print(header2)
    print("-" * len(header2))
    for name, m in results["models"].items():
        creates, rss = [], []
        for rt in RUNTIMES:
            c = m["child"].get(rt, {})
            if c.get("status") == "ok":
                creates.append(f"{c['create_ms_median']:.1f} / {c['first_run_ms']:.1f}".rjust(26))
                rss.append(f"{c['net_rss_mb']:.0f}/{c['peak_rss_mb']:.0f}".rjust(22))
            else:
                creates.append(cell(c.get("status", "-"), name, rt + " (child)", 26))
                rss.append("-".rjust(22))
        print(f"{name:<13}{''.join(creates)}{''.join(rss)}")

    print()
    s = results["summary"]
    for key in ("pionnx/onnxruntime", "pionnx/tract"):
        parts = [
            f"{t} thread{'s' if t > 1 else ''}: "
            + (f"{v['geomean']:.3f}x over {v['models']} models" if v["geomean"] else "n/a")
            for t, v in ((int(k), v) for k, v in s[key].items())
        ]
        print(f"geomean {key}: " + "; ".join(parts))
    for t, v in s["pionnx_speedup"].items():
        print(
            f"geomean pionnx speed-up {first}→{t} threads: "
            + (f"{v['geomean']:.2f}x over {v['models']} models" if v["geomean"] else "n/a")
        )
    for t in threads_list:
        shares = {}
        for rt in RUNTIMES:
            vals = [
                m["timing"][str(t)]["runtimes"].get(rt, {}).get("cpu_per_wall")
                for m in results["models"].values()
                if str(t) in m["timing"]
            ]
            vals = [v for v in vals if v]
            if vals:
                shares[rt] = statistics.median(vals)
        if shares:
            print(
                f"median CPU time / wall time at {t} thread{'s' if t > 1 else ''}: "
                + ", ".join(f"{rt} {v:.2f}" for rt, v in shares.items())
                + " (well below the thread count: the machine was busy, timings are noisy)"
                * (min(shares.values()) < 0.8)
            )
    print()
    print("ms = median wall time of one run; p/ort, p/tract = pionnx time / other time (lower is better for pionnx);")
    print(
        f"p {first}→nT = pionnx's own speed-up from {first} thread(s); '!' = pionnx output MISMATCH "
        f"(rel > {REL_TOLERANCE:g}; "
        + ", ".join(f"{n} {v['tolerance']:g}" for n, v in results["config"].get("rel_tolerance_per_model", {}).items())
        + "), left out of the means;\n"
        "a '!' on tract: tract's output differs from onnxruntime's (see the JSON)."
    )
    print(f"¹ {TRACT_THREADS_NOTE}.")
    print(
        "create/1st run ms, RSS: median session creation, then the first run, and peak RSS (VmHWM) in a child "
        f"process per runtime ({results['config']['child_threads']} thread(s));\n"
        "net = minus that process's peak after importing numpy + the runtime (a runtime that defers work to its "
        "first run shows it there)."
    )
    if any(m["kind"] == "light" for m in results["models"].values()):
        print(
            "light models: onnx's test copies, every weight one ConstantOfShape value (outputs near-constant); "
            "pionnx is checked\non them as shipped and on a twin with random weights (the numbers shown; "
            "cached in --cache-dir); timings are of the shipped files."
        )
    for i, note in enumerate(notes, 1):
        print(f"[{i}] {note}")


# --------------------------------------------------------------------- main


CONCURRENT_DEFAULT_MODELS = "squeezenet,mobilenetv2,bert"


def concurrent_throughput(call, runs: int, callers: int) -> float:
    """Runs per second when `callers` Python threads each make `runs` calls at once (released together)."""
    start = threading.Barrier(callers + 1)
    errors: list[BaseException] = []

    def work() -> None:
        try:
            start.wait()
            for _ in range(runs):
                call()
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(callers)]
    for t in threads:
        t.start()
    start.wait()
    t0 = time.perf_counter()
    for t in threads:
        t.join()
    seconds = time.perf_counter() - t0
    if errors:
        raise errors[0]
    return callers * runs / seconds


def bench_concurrent(names: list[str], modules: dict, usable: dict, args) -> dict:
    """Throughput of one session (intra-op threads = 1) called from 1 thread and from 2 threads at once.

    The two measurements alternate, --runs rounds of each (--concurrent-runs calls per thread per
    round), and the ratio reported is the median of the per-round ratios: both figures of a round
    come from the same minute of this shared machine. pionnx's outputs under 2 callers must equal
    its serial outputs bit for bit.
    """
    from ci.bench import models as bench_models

    cache = Path(args.cache_dir)
    rounds = args.runs or 5
    per_thread = args.concurrent_runs
    out: dict = {
        "machine": machine_facts(modules),
        "config": {
            "models": names,
            "rounds": rounds,
            "runs_per_thread": per_thread,
            "intra_op_num_threads": 1,
            "callers": [1, 2],
        },
        "models": {},
    }
    print("\n".join(machine_lines(out["machine"])), flush=True)
    print(
        f"concurrent run() on one session, intra_op_num_threads=1, {rounds} rounds x {per_thread} runs per thread",
        flush=True,
    )
    for name in names:
        model = bench_models.prepare(name, cache)
        feeds = model.feeds()
        entry: dict = {}
        for rt in ("pionnx", "onnxruntime"):
            if not usable.get(rt):
                continue
            call = create_session(rt, modules[rt], str(model.path), 1, feeds)
            serial = call()
            for _ in range(2):
                call()
            same = True
            if rt == "pionnx":
                results: list = []
                lock = threading.Lock()

                def checked(call=call, results=results, lock=lock):
                    got = call()
                    with lock:
                        results.append(got)

                concurrent_throughput(checked, 3, 2)
                same = all(np.array_equal(a, b) for got in results for a, b in zip(got, serial))
            one, two, ratios = [], [], []
            for _ in range(rounds):
                a = concurrent_throughput(call, per_thread, 1)
                b = concurrent_throughput(call, per_thread, 2)
                one.append(a)
                two.append(b)
                ratios.append(b / a)
            entry[rt] = {
                "runs_per_s_1_caller": statistics.median(one),
                "runs_per_s_2_callers": statistics.median(two),
                "speedup": statistics.median(ratios),
                "round_speedups": ratios,
                "equal_to_serial": same if rt == "pionnx" else None,
            }
            print(
                f"  {name:12s} {rt:12s} 1 caller {statistics.median(one):8.1f}/s   2 callers "
                f"{statistics.median(two):8.1f}/s   speed-up {statistics.median(ratios):.2f}x"
                + ("" if rt != "pionnx" else f"   results equal to serial: {same}"),
                flush=True,
            )
        out["models"][name] = entry
    speedups = [e["pionnx"]["speedup"] for e in out["models"].values() if "pionnx" in e]
    out["summary"] = {
        "pionnx_geomean_speedup": geomean(speedups),
        "pionnx_all_equal_to_serial": all(
            e["pionnx"]["equal_to_serial"] for e in out["models"].values() if "pionnx" in e
        ),
    }
    print(f"\n{'model':12s} | {'runtime':11s} | {'1 caller':>10s} | {'2 callers':>10s} | speed-up")
    for name, entry in out["models"].items():
        for rt, r in entry.items():
            print(
                f"{name:12s} | {rt:11s} | {r['runs_per_s_1_caller']:8.1f}/s | {r['runs_per_s_2_callers']:8.1f}/s | "
                f"{r['speedup']:.2f}x"
            )
    g = out["summary"]["pionnx_geomean_speedup"]
    print(f"pionnx geometric mean speed-up with 2 callers: {g:.2f}x" if g else "no pionnx figures")
    return out


SCALING_DEFAULT_MODELS = "resnet50,vgg19,bert,bert_int8"


def bench_scaling(names: list[str], modules: dict, usable: dict, args) -> dict:
    """Each runtime's own speed-up from 1 thread to N (the largest of --threads), per model.

    --runs rounds alternate the two thread counts (in a random order per round). Each measurement is
    a pause (--settle-ms: no worker of the session measured before is still spinning), one untimed
    run (caches and workers back as a running application has them) and --scaling-runs timed runs, of
    which the median is kept; the speed-up is the median of the per-round ratios, so both sides of
    each ratio come from the same minute of a shared machine. The latency table instead times each
    thread count in its own pass, minutes apart, its multi-thread runs after a pause and its 1-thread
    runs back to back: the ratio of its medians also carries the machine's load at two moments.
    """
    from ci.bench import models as bench_models

    cache = Path(args.cache_dir)
    rounds = args.runs
    per = args.scaling_runs
    top = max(int(t) for t in args.threads.split(",") if t.strip())
    settle = args.settle_ms / 1e3
    out: dict = {
        "machine": machine_facts(modules),
        "config": {
            "models": names,
            "rounds": rounds,
            "timed_runs_per_measurement": per,
            "threads": [1, top],
            "settle_ms": args.settle_ms,
            "method": "per round: each thread count after a pause and one untimed run, median of the timed runs; "
            "speed-up = median over rounds of (1-thread median / N-thread median)",
        },
        "models": {},
    }
    print("\n".join(machine_lines(out["machine"])), flush=True)
    print(f"1 -> {top} threads, {rounds} rounds x {per} timed runs per thread count", flush=True)
    rng = np.random.default_rng(0)
    for name in names:
        model = bench_models.prepare(name, cache)
        feeds = model.feeds()
        entry: dict = {}
        for rt in ("pionnx", "onnxruntime"):
            if not usable.get(rt):
                continue
            try:
                calls = {t: create_session(rt, modules[rt], str(model.path), t, feeds) for t in (1, top)}
                for call in calls.values():
                    call()
            except Exception as exc:  # noqa: BLE001
                entry[rt] = {"status": failure(rt, modules[rt], exc)}
                continue
            med: dict = {1: [], top: []}
            ratios = []
            for _ in range(rounds):
                for t in rng.permutation([1, top]):
                    t = int(t)
                    time.sleep(settle)
                    calls[t]()
                    ts = []
                    for _ in range(per):
                        t0 = time.perf_counter()
                        calls[t]()
                        ts.append((time.perf_counter() - t0) * 1e3)
                    med[t].append(statistics.median(ts))
                ratios.append(med[1][-1] / med[top][-1])
            entry[rt] = {
                "status": "ok",
                "ms_1_thread": statistics.median(med[1]),
                f"ms_{top}_threads": statistics.median(med[top]),
                "speedup": statistics.median(ratios),
                "round_speedups": ratios,
            }
            print(
                f"  {name:12s} {rt:12s} 1 thread {entry[rt]['ms_1_thread']:8.2f} ms   {top} threads "
                f"{entry[rt][f'ms_{top}_threads']:8.2f} ms   speed-up {entry[rt]['speedup']:.2f}x "
                f"(rounds {min(ratios):.2f}-{max(ratios):.2f})",
                flush=True,
            )
        out["models"][name] = entry
    speedups = {
        n: e["pionnx"]["speedup"] for n, e in out["models"].items() if e.get("pionnx", {}).get("status") == "ok"
    }
    out["summary"] = {"pionnx_speedups": speedups, "pionnx_geomean_speedup": geomean(list(speedups.values()))}
    print(f"\n{'model':12s} | {'runtime':11s} | {'1 thread':>9s} | {f'{top} threads':>9s} | speed-up (per-round range)")
    for name, entry in out["models"].items():
        for rt, r in entry.items():
            if r.get("status") != "ok":
                print(f"{name:12s} | {rt:11s} | {r.get('status')}")
                continue
            rs = r["round_speedups"]
            print(
                f"{name:12s} | {rt:11s} | {r['ms_1_thread']:6.2f} ms | {r[f'ms_{top}_threads']:6.2f} ms | "
                f"{r['speedup']:.2f}x ({min(rs):.2f}-{max(rs):.2f})"
            )
    g = out["summary"]["pionnx_geomean_speedup"]
    print(f"pionnx geometric mean speed-up 1 -> {top} threads: {g:.2f}x" if g else "no pionnx figures")
    return out


def bench_gemm_only(args) -> int:
    """`--gemm` without --models: the machine facts and the GEMM table (ci/bench/gemm.py), no models;
    needs pionnx, onnx and numpy only."""
    from ci.bench import gemm

    try:
        pionnx = import_runtime("pionnx")
    except Exception as exc:  # noqa: BLE001
        print(f"cannot benchmark pionnx: {exc}", file=sys.stderr)
        return 1
    results: dict = {"machine": machine_facts({"pionnx": pionnx})}
    print("\n".join(machine_lines(results["machine"])), flush=True)
    results["gemm"] = gemm.run(args, pionnx)
    return write_table_results(args, results, "gemm", "bench-gemm.json")


def write_table_results(args, results: dict, key: str, default_name: str) -> int:
    """A table mode's JSON (--json, else build/<default_name>) with the machine's load at the end; the exit
    status: 1 when a row of results[key] failed its check."""
    results["machine"]["loadavg_end"] = list(os.getloadavg())
    out = Path(args.json if args.json_given else ROOT / "build" / default_name)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=1, default=float) + "\n")
    print(f"\nresults written to {out.resolve()}")
    return 0 if results[key]["all_checks_ok"] else 1


def pionnx_and_onnxruntime(what: str) -> tuple | None:
    """Both runtimes imported and the machine facts printed, for a table mode that compares the two (None,
    said on stderr, when either does not import)."""
    try:
        pionnx = import_runtime("pionnx")
        ort = import_runtime("onnxruntime")
    except Exception as exc:  # noqa: BLE001
        print(f"cannot compare {what}: {exc}", file=sys.stderr)
        return None
    results: dict = {"machine": machine_facts({"pionnx": pionnx, "onnxruntime": ort})}
    print("\n".join(machine_lines(results["machine"])), flush=True)
    return pionnx, ort, results


def bench_ops_only(args) -> int:
    """`--ops`: the machine facts and the single-operator table (ci/bench/ops.py), no models."""
    from ci.bench import ops

    if not (got := pionnx_and_onnxruntime("operators")):
        return 1
    pionnx, ort, results = got
    results["ops"] = ops.run(args, pionnx, ort)
    return write_table_results(args, results, "ops", "bench-ops.json")


def bench_nodes(args, names: list[str], threads_list: list[int]) -> int:
    """`--nodes`: the machine facts and each model's layer-by-layer table (ci/bench/nodes.py)."""
    import tempfile

    from ci.bench import nodes

    if not (got := pionnx_and_onnxruntime("layers")):
        return 1
    pionnx, ort, results = got
    with tempfile.TemporaryDirectory() as tmp:
        results["nodes"] = nodes.run(args, names, threads_list, pionnx, ort, Path(args.cache_dir), tmp)
    return write_table_results(args, results, "nodes", "bench-nodes.json")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--models", default="", help="comma-separated subset, e.g. resnet50,bert (default: all)")
    p.add_argument("--threads", default="1,2", help="thread counts, comma-separated (default 1,2)")
    p.add_argument("--runs", type=int, default=None, help="timed runs per runtime (default 10, --quick 3)")
    p.add_argument("--warmup", type=int, default=None, help="warm-up runs per runtime (default 2, --quick 1)")
    p.add_argument(
        "--settle-ms",
        type=float,
        default=60.0,
        help="pause before each timed run at >1 thread, so no runtime's spinning workers overlap another's run\n"
        "(onnxruntime 1.32's idle worker spins about 39 ms after a run on a Zen 3 core)",
    )
    p.add_argument("--quick", action="store_true", help="smoke test: 3 runs, 1 warm-up, 1 child run")
    p.add_argument("--runtimes", default=",".join(RUNTIMES), help="subset of pionnx,onnxruntime,tract")
    p.add_argument(
        "--json",
        default=None,
        help="where to write the results (default build/bench-results.json; with --concurrent "
        "build/bench-concurrent.json, with --scaling build/bench-scaling.json, with --nodes\n"
        "build/bench-nodes.json)",
    )
    p.add_argument("--cache-dir", default=str(ROOT / "build" / "bench-models"), help="built models and inputs")
    p.add_argument("--creations", type=int, default=None, help="session creations per child (default 3, --quick 2)")
    p.add_argument("--child-runs", type=int, default=None, help="runs per child after creation (default 3, quick 1)")
    p.add_argument("--child-timeout", type=int, default=900, help="seconds before a child is given up on")
    p.add_argument("--no-child", action="store_true", help="skip the creation/RSS children")
    p.add_argument(
        "--no-random-weights",
        action="store_true",
        help="check light models only as shipped (constant weights), not also with random weights",
    )
    p.add_argument("--list", action="store_true", help="list the model names and exit")
    p.add_argument(
        "--concurrent",
        action="store_true",
        help="instead of latency: throughput of one session (1 intra-op thread) called from 1 and from 2 "
        f"threads at once (default models {CONCURRENT_DEFAULT_MODELS}); writes "
        "build/bench-concurrent.json unless --json is given",
    )
    p.add_argument("--concurrent-runs", type=int, default=20, help="runs per calling thread per round (--concurrent)")
    p.add_argument(
        "--scaling",
        action="store_true",
        help="instead of latency: each runtime's speed-up from 1 to the largest --threads count, the two\n"
        f"alternated in --runs rounds (default models {SCALING_DEFAULT_MODELS}); writes build/bench-scaling.json\n"
        "unless --json is given",
    )
    p.add_argument("--scaling-runs", type=int, default=5, help="timed runs per thread count per round (--scaling)")
    p.add_argument(
        "--gemm",
        action="store_true",
        help="single-precision GEMM at 1 thread, pionnx (B input / B initializer) against numpy's OpenBLAS\n"
        "(default and OPENBLAS_CORETYPE=Haswell) over square, ResNet-50 and MiniLM shapes (ci/bench/gemm.py);\n"
        "alone it runs no models and writes build/bench-gemm.json unless --json is given; with --models\n"
        'the table follows the models\' and goes into the same JSON under "gemm"',
    )
    p.add_argument(
        "--gemm-sizes",
        default="",
        help="GEMM shapes (implies --gemm), comma-separated: N (NxNxN), MxNxK, B*MxNxK (batched), or a\n"
        "group: square, resnet50, minilm, all (default all); e.g. 1024 or 1024x1024x1024,64x3136x576",
    )
    p.add_argument(
        "--gemm-sample-ms",
        type=float,
        default=50.0,
        help="a timed GEMM run repeats the product until it lasts this long (default 50)",
    )
    p.add_argument(
        "--ops",
        action="store_true",
        help="instead of models: single operators (recurrent cells, casts, normalizations, 3-D and quantized\n"
        "convolutions, reductions, index and layout operators) against onnxruntime at each --threads count\n"
        "(ci/bench/ops.py); writes build/bench-ops.json unless --json is given",
    )
    p.add_argument(
        "--nodes",
        action="store_true",
        help="layer by layer: both runtimes' profiles of each --models model (default resnet50), nodes matched\n"
        "by their output and input shapes, the groups where pionnx spends most over onnxruntime first\n"
        "(ci/bench/nodes.py; JSON build/bench-nodes.json)",
    )
    p.add_argument("--nodes-top", type=int, default=15, help="rows of the --nodes table where pionnx spends more")
    p.add_argument("--ops-filter", default="", help="only the --ops cases whose name or operator holds this text")
    p.add_argument(
        "--ops-sample-ms", type=float, default=400.0, help="time each --ops case at least this long per runtime"
    )
    p.add_argument("--gemm-worker", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--rss-child", nargs=3, metavar=("RUNTIME", "MODEL", "THREADS"), help=argparse.SUPPRESS)
    p.add_argument("--feeds", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    args.json_given = args.json is not None
    if not args.json_given:
        args.json = str(ROOT / "build" / "bench-results.json")
    quick = args.quick
    args.runs = args.runs if args.runs is not None else (3 if quick else 10)
    args.warmup = max(1, args.warmup if args.warmup is not None else (1 if quick else 2))
    args.creations = args.creations if args.creations is not None else (2 if quick else 3)
    args.child_runs = args.child_runs if args.child_runs is not None else (1 if quick else 3)
    if args.runs < 1 or args.creations < 1:
        p.error("--runs and --creations must be >= 1")
    args.gemm = args.gemm or bool(args.gemm_sizes.strip())
    if args.gemm and not args.gemm_worker:
        from ci.bench import gemm

        try:
            gemm.parse_shapes(args.gemm_sizes)
        except ValueError as exc:
            p.error(str(exc))
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.rss_child:
        runtime, model, threads = args.rss_child
        try:
            out = rss_child(runtime, model, int(threads), args.feeds, args.creations, args.child_runs)
        except Exception as exc:  # noqa: BLE001
            out = {
                "runtime": runtime,
                "status": f"error: {type(exc).__name__}: {exc}",
                "traceback": traceback.format_exc(),
            }
        print(CHILD_MARK + json.dumps(out), flush=True)
        return 0
    if args.gemm_worker:
        from ci.bench import gemm

        return gemm.worker_main()
    if args.gemm and not args.models.strip():
        return bench_gemm_only(args)
    if args.ops:
        return bench_ops_only(args)

    from ci.bench import models as bench_models

    if args.list:
        print("\n".join(bench_models.ALL_NAMES))
        return 0
    default_names = (
        ["resnet50"]
        if args.nodes
        else CONCURRENT_DEFAULT_MODELS.split(",")
        if args.concurrent
        else SCALING_DEFAULT_MODELS.split(",")
        if args.scaling
        else bench_models.ALL_NAMES
    )
    names = [n.strip() for n in args.models.split(",") if n.strip()] or default_names
    unknown = [n for n in names if n not in bench_models.ALL_NAMES]
    if unknown:
        print(f"unknown model(s): {', '.join(unknown)}; known: {', '.join(bench_models.ALL_NAMES)}", file=sys.stderr)
        return 2
    threads_list = [int(t) for t in args.threads.split(",") if t.strip()]
    wanted = [r.strip() for r in args.runtimes.split(",") if r.strip()]
    if not threads_list or any(t < 1 for t in threads_list) or set(wanted) - set(RUNTIMES):
        print("--threads needs integers >= 1; --runtimes a subset of " + ",".join(RUNTIMES), file=sys.stderr)
        return 2
    if args.nodes:
        return bench_nodes(args, names, threads_list)

    modules: dict = {}
    usable: dict = {}
    for rt in RUNTIMES:
        if rt not in wanted:
            modules[rt], usable[rt], usable[f"{rt}_why"] = None, False, "not requested"
            continue
        try:
            modules[rt], usable[rt] = import_runtime(rt), True
        except Exception as exc:  # noqa: BLE001
            modules[rt], usable[rt], usable[f"{rt}_why"] = None, False, f"unavailable: {exc}"
            print(f"{rt}: unavailable ({exc})", file=sys.stderr)

    if "pionnx" in wanted and not usable["pionnx"]:
        print(f"cannot benchmark pionnx: {usable['pionnx_why']}", file=sys.stderr)
        return 1

    if args.concurrent:
        results = bench_concurrent(names, modules, usable, args)
        out = Path(args.json if args.json_given else ROOT / "build" / "bench-concurrent.json")
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(results, indent=1, default=float) + "\n")
        print(f"\nresults written to {out.resolve()}")
        return 0 if results["summary"]["pionnx_all_equal_to_serial"] else 1

    if args.scaling:
        if max(threads_list) < 2:
            print("--scaling needs a thread count above 1 in --threads", file=sys.stderr)
            return 2
        results = bench_scaling(names, modules, usable, args)
        out = Path(args.json if args.json_given else ROOT / "build" / "bench-scaling.json")
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(results, indent=1, default=float) + "\n")
        print(f"\nresults written to {out.resolve()}")
        return 0 if results["summary"]["pionnx_speedups"] else 1

    cache = Path(args.cache_dir)
    child_threads = threads_list[0]
    results: dict = {
        "machine": machine_facts(modules),
        "config": {
            "models": names,
            "threads": threads_list,
            "runs": args.runs,
            "warmup": args.warmup,
            "settle_ms": args.settle_ms,
            "creations": args.creations,
            "child_runs": args.child_runs,
            "child_threads": child_threads,
            "runtimes": wanted,
            "order": "fresh random permutation of the runtimes per iteration (seed 0)",
            "rel_tolerance": REL_TOLERANCE,
            "rel_tolerance_per_model": {
                n: {"tolerance": t, "why": why} for n, (t, why) in bench_models.TOLERANCES.items()
            },
            "tract_threads": TRACT_THREADS_NOTE,
        },
        "models": {},
    }
    print("\n".join(machine_lines(results["machine"])), flush=True)
    print(f"runs {args.runs}, warm-up {args.warmup}, threads {threads_list}, models {', '.join(names)}", flush=True)

    baselines = {}
    if not args.no_child:
        for rt in wanted:
            if usable[rt]:
                baselines[rt] = run_child(rt, "-", child_threads, None, args)
    results["rss_baselines"] = baselines

    rng = np.random.default_rng(0)
    for name in names:
        started = time.perf_counter()
        try:
            model = bench_models.prepare(name, cache)
        except Exception as exc:  # noqa: BLE001
            print(f"{name}: cannot prepare the model: {exc}", file=sys.stderr, flush=True)
            results["models"][name] = {"kind": "?", "error": str(exc), "child": {}, "timing": {}}
            continue
        feeds = model.feeds()
        entry: dict = {
            "kind": model.kind,
            "path": str(model.path),
            "inputs": {k: {"shape": list(v.shape), "dtype": str(v.dtype)} for k, v in feeds.items()},
            "child": {},
            "timing": {},
        }
        results["models"][name] = entry
        model_usable = dict(usable)
        twin_reference: dict = {}
        if not args.no_random_weights and usable["pionnx"] and usable["onnxruntime"]:
            model.check_path = bench_models.random_weights_path(model, cache)
            entry["check_model"] = str(model.check_path) if model.check_path else None
        if not args.no_child:
            for rt in wanted:
                if not usable[rt]:
                    continue
                child = run_child(rt, str(model.path), child_threads, str(model.feeds_path), args)
                entry["child"][rt] = child
                # A runtime that crashed in its child is not run in this process.
                if child.get("status", "").startswith("crashed"):
                    model_usable[rt], model_usable[f"{rt}_why"] = False, child["status"]
        for t in threads_list:
            entry["timing"][str(t)] = time_model(model, t, modules, model_usable, args, rng, twin_reference)
        add_ratios(entry, threads_list)
        line = []
        for t in threads_list:
            rts = entry["timing"][str(t)]["runtimes"]
            line.append(f"{t}T " + " / ".join(fmt_ms(rts.get(rt))[:40] for rt in RUNTIMES))
        print(f"{name}: " + "; ".join(line) + f"  ({time.perf_counter() - started:.0f} s)", flush=True)

    results["summary"] = summarize(results, threads_list)
    print_table(results, threads_list)
    if args.gemm and usable["pionnx"]:
        from ci.bench import gemm

        print()
        results["gemm"] = gemm.run(args, modules["pionnx"])
    results["machine"]["loadavg_end"] = list(os.getloadavg())
    out = Path(args.json)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=1, default=float) + "\n")
    print(f"\nresults written to {out.resolve()}")
    return 0 if results.get("gemm", {}).get("all_checks_ok", True) else 1


if __name__ == "__main__":
    sys.exit(main())
