"""The test suite's verdict must not depend on the CPU it runs on: this runs it on
every kernel path this CPU has, and the onnxruntime-comparing tests on emulated CPUs.

    nox -s cpu_matrix [-- PYTEST_ARGS]
    python -m ci.checks.cpu_matrix [--paths-only | --emulated-only] [--every-emulated] [-- PYTEST_ARGS]

1. Kernel paths. `pionnx.simd_paths()` lists, per kernel family (SGEMM,
   integer GEMM, vector math, depthwise, NCHWc), the paths this CPU runs,
   portable first. The suite runs once per rung, every family forced to its
   i-th path (the last one it has, past its end) with PIONNX_SGEMM /
   PIONNX_QGEMM / PIONNX_FASTMATH / PIONNX_DEPTHWISE / PIONNX_NCHWC (so the
   AVX2 blocked layout, which an AVX2-only CPU runs only when named, is
   covered on the second rung). The top rung, every family's fastest, is the default that
   `nox -s tests` already runs. On an AVX-512 VNNI machine that is four runs
   (generic/generic/generic, avx2/sse2/avx2, avx512/avx2/avx512,
   avx512/vnni/avx512), five or more with vnni512 and AMX; on an AVX2-only
   machine, two.
2. Emulated CPUs. onnxruntime picks its kernels from the CPU too, and its
   u8 x s8 GEMM is exact only on some (with VNNI, or without AVX2). Under
   `qemu-x86_64 -cpu MODEL`, the CPUID the process sees is that model's, so
   both runtimes pick that CPU's kernels: EPYC-Milan-v1 (AVX2 + FMA, no
   AVX-512: the AMD CI machine that saturates) and Nehalem (SSE4.2 only).
   The files that compare with onnxruntime (EMULATED_TESTS) run there in one
   process (pytest-xdist's workers would start natively); tests that start
   subprocesses run those natively. QEMU cannot emulate AVX-512, so AVX-512
   CPUs are covered by the native runs. A model whose probe (what pionnx
   picks, onnxruntime's u8 x s8 error) equals this host's own is skipped and
   listed as such: its run would repeat the native default one, ten times
   slower (EPYC-Milan on an AVX2-only EPYC); `--every-emulated` runs it.
   The emulated runs (one process each) go in a thread beside the native ones.

Prints a table and writes build/cpu-matrix.json; exits non-zero when any run
fails or collects no test (pytest's exit code 5).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
FAMILIES = ("sgemm", "qgemm", "fastmath", "depthwise", "nchwc")
EMULATED_CPUS = {
    "EPYC-Milan-v1": "AVX2+FMA, no AVX-512/VNNI",
    "Nehalem": "SSE4.2, no AVX",
}
# The tests that compare pionnx with onnxruntime (the exporter tests do too, but torch
# itself crashes under QEMU's x86 emulation; they run natively in `nox -s tests`).
EMULATED_TESTS = [
    "tests/test_quantized.py",
    "tests/tools/test_bench_models.py",
    "tests/test_optimizer.py::test_optimized_model_filepath_round_trip",
]
# QEMU's note for every CPUID feature of a named model that it cannot emulate.
TCG_NOTE = re.compile(r"^qemu-x86_64[-a-z]*: warning: TCG doesn't support requested feature.*\n?", re.M)
PYTEST = ["-p", "no:cacheprovider", "--timeout=1800", "--timeout-method=thread", "-q", "-ra"]

# Reports what this process picked, and onnxruntime's u8 x s8 error on the same probe the
# quantized tests use (0: exact on this CPU); run with the project root on its path.
PROBE = r"""
import json
import pionnx
from ci.checks import suite
test_quantized = suite.load("test_quantized", "quant_reference")
print(json.dumps({"pionnx": pionnx.simd_info(), "ort_u8s8_error": test_quantized.ort_u8s8_error()}))
"""


def say(msg: str) -> None:
    print(f"[cpu-matrix] {msg}", flush=True)


def rungs(paths: dict[str, list[str]]) -> list[dict[str, str]]:
    """Each family forced to its i-th path (clamped), for every i below the top rung."""
    depth = max(len(p) for p in paths.values())
    out = []
    for i in range(depth - 1):
        out.append({f: paths[f][min(i, len(paths[f]) - 1)] for f in FAMILIES})
    return out


def summary_of(output: str) -> str:
    """pytest's last line, e.g. '2190 passed, 57 skipped, 58 xfailed in 36.48s'."""
    for line in reversed(output.splitlines()):
        if re.search(r"\d+ (passed|failed|error)", line):
            return line.strip("= ").strip()
    return (output.strip().splitlines() or ["no output"])[-1][:200]


def run_pytest(label: str, cmd: list[str], env: dict[str, str], log_dir: Path) -> dict:
    t0 = time.monotonic()
    proc = subprocess.run(
        cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, check=False
    )
    seconds = round(time.monotonic() - t0, 1)
    output = TCG_NOTE.sub("", proc.stdout)
    log = log_dir / (re.sub(r"[^A-Za-z0-9.-]+", "_", label) + ".log")
    log.write_text(output)
    failed = [line for line in output.splitlines() if line.startswith(("FAILED", "ERROR"))]
    # Exit code 5 (nothing collected) is a failure here too.
    status = "passed" if proc.returncode == 0 else f"FAILED (exit {proc.returncode})"
    say(f"{label}: {status}, {summary_of(output)} [{seconds:.0f} s, log {log.relative_to(ROOT)}]")
    for line in failed[:20]:
        say("  " + line)
    return {
        "label": label,
        "status": status,
        "exit_code": proc.returncode,
        "summary": summary_of(output),
        "seconds": seconds,
        "failed": failed,
        "log": str(log.relative_to(ROOT)),
    }


def native_paths(pytest_args: list[str], log_dir: Path) -> list[dict]:
    import pionnx

    paths = pionnx.simd_paths()
    say(f"this CPU ({cpu_model()}) runs: " + "; ".join(f"{f} {', '.join(paths[f])}" for f in FAMILIES))
    results = []
    for i, rung in enumerate(rungs(paths)):
        env = dict(os.environ, PIONNX_CONFORMANCE_THREADS="1")
        env.update({f"PIONNX_{f.upper()}": p for f, p in rung.items()})
        label = "paths " + "/".join(rung[f] for f in FAMILIES)
        if i == 0:
            # The convolution algorithm is no instruction-set family, but the default run takes Winograd
            # F(4x4, 3x3) and the direct (in-place) GEMM where they apply; the first rung forces the im2col
            # GEMM everywhere instead.
            env["PIONNX_CONV"] = "im2col"
            label += " conv im2col"
        conf = log_dir / (re.sub(r"[^A-Za-z0-9.-]+", "_", label) + ".conformance.json")
        cmd = [sys.executable, "-m", "pytest", "-n", "auto", *PYTEST, f"--conformance-json={conf}", *pytest_args]
        result = run_pytest(label, cmd, env, log_dir)
        result["forced"] = rung
        try:
            result["conformance"] = json.loads(conf.read_text()).get("all", {})
        except (OSError, ValueError):
            result["conformance"] = {}
        results.append(result)
    return results


def qemu_x86() -> str:
    return shutil.which("qemu-x86_64-static") or shutil.which("qemu-x86_64") or ""


def probe(prefix: list[str], env: dict[str, str]) -> dict:
    """What pionnx picks and onnxruntime's u8 x s8 error, in a process started by `prefix`
    (nothing: natively; qemu-x86_64 -cpu MODEL: as that CPU); {"stderr": its last lines} when
    Python does not start."""
    proc = subprocess.run(
        [*prefix, sys.executable, "-c", PROBE],
        cwd=ROOT,
        env=dict(env, PYTHONPATH=str(ROOT)),
        capture_output=True,
        text=True,
        check=False,
    )
    for line in reversed(proc.stdout.splitlines()):
        if line.startswith("{"):
            return json.loads(line)
    return {"stderr": "\n".join(proc.stderr.splitlines()[-5:])}


def emulated_cpus(pytest_args: list[str], log_dir: Path, every: bool = False) -> list[dict]:
    qemu = qemu_x86()
    if platform.machine() not in ("x86_64", "AMD64"):
        say("emulated CPUs: skipped, this host is not x86-64")
        return []
    if not qemu:
        raise SystemExit(
            "[cpu-matrix] qemu-x86_64 not found: apt-get install qemu-user-static (or run with --paths-only)"
        )
    known = subprocess.run([qemu, "-cpu", "help"], capture_output=True, text=True, check=False).stdout
    results = []
    env = dict(os.environ, PIONNX_CONFORMANCE_THREADS="1")
    for f in FAMILIES:
        env.pop(f"PIONNX_{f.upper()}", None)
    host = probe([], env)
    for model, what in EMULATED_CPUS.items():
        if model not in known:
            raise SystemExit(f"[cpu-matrix] {qemu} does not know the CPU model {model}")
        emu = [qemu, "-cpu", model]
        picked = probe(emu, env)
        if "pionnx" not in picked:
            raise SystemExit(f"[cpu-matrix] python does not start under {qemu} -cpu {model}: {picked['stderr']}")
        err = picked["ort_u8s8_error"]
        choice = "/".join(picked["pionnx"][f] for f in FAMILIES)
        say(
            f"qemu -cpu {model} ({what}): pionnx picks {choice}"
            + f"; onnxruntime's u8 x s8 GEMM is {'exact' if err == 0 else f'off by up to {err}'}"
        )
        # The same kernel choice in both runtimes as this host's own: the emulated run would repeat
        # the native default run (`nox -s tests`) ten times slower (five minutes on an AVX2-only
        # EPYC). --every-emulated runs it anyway.
        if not every and picked == {k: host.get(k) for k in picked}:
            say(f"qemu {model}: skipped, this host picks the same ({choice}; onnxruntime's error the same)")
            results.append(
                dict(
                    label=f"qemu {model}",
                    exit_code=0,
                    status="skipped",
                    summary="skipped: this host's own kernel choice (the native default run covers it)",
                    seconds=0.0,
                    cpu=model,
                    features=what,
                    pionnx=picked["pionnx"],
                    ort_u8s8_error=err,
                )
            )
            continue
        cmd = [*emu, sys.executable, "-m", "pytest", "-p", "no:xdist", *PYTEST, *EMULATED_TESTS, *pytest_args]
        result = run_pytest(f"qemu {model}", cmd, env, log_dir)
        result.update(cpu=model, features=what, pionnx=picked["pionnx"], ort_u8s8_error=err)
        results.append(result)
    return results


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    pytest_args: list[str] = []
    if "--" in argv:
        i = argv.index("--")
        argv, pytest_args = argv[:i], argv[i + 1 :]
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--paths-only", action="store_true", help="only the native runs with forced kernel paths")
    parser.add_argument("--emulated-only", action="store_true", help="only the emulated-CPU runs")
    parser.add_argument(
        "--every-emulated",
        action="store_true",
        help="run an emulated CPU even when this host picks the same kernels (skipped otherwise)",
    )
    parser.add_argument("--json", default=str(ROOT / "build" / "cpu-matrix.json"))
    args = parser.parse_args(argv)
    log_dir = ROOT / "build" / "cpu-matrix"
    log_dir.mkdir(parents=True, exist_ok=True)
    t0 = time.monotonic()
    results = []
    emulated: list[dict] = []
    # The emulated runs are single processes (one core each, one after the other); the native
    # runs use every core through pytest-xdist. So the emulated half runs in a thread beside the
    # native one: the one core an emulated run takes is time the native runs lose, the rest is saved.
    worker = None
    if not args.paths_only:
        failure: list[BaseException] = []

        def run_emulated() -> None:
            try:
                emulated.extend(emulated_cpus(pytest_args, log_dir, args.every_emulated))
            except BaseException as err:  # SystemExit included: raised again below, in the main thread
                failure.append(err)

        worker = threading.Thread(target=run_emulated, name="emulated-cpus")
        worker.start()
    if not args.emulated_only:
        results += native_paths(pytest_args, log_dir)
    if worker is not None:
        worker.join()
        if failure:
            raise failure[0]
    results += emulated
    counts = {json.dumps(r["conformance"], sort_keys=True) for r in results if r.get("conformance")}
    if len(counts) > 1:
        say("conformance counts differ between kernel paths: " + "; ".join(sorted(counts)))
    report = {
        "cpu": cpu_model(),
        "runs": results,
        "seconds": round(time.monotonic() - t0, 1),
        "conformance_same_on_every_path": len(counts) <= 1,
    }
    Path(args.json).parent.mkdir(parents=True, exist_ok=True)
    Path(args.json).write_text(json.dumps(report, indent=2) + "\n")
    print()
    rows = [("run", "result", "pytest", "s")]
    rows += [
        (
            r["label"],
            r["status"] if r["status"] == "skipped" or r["exit_code"] else "ok",
            r["summary"],
            f"{r['seconds']:.0f}",
        )
        for r in results
    ]
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    for n, row in enumerate(rows):
        print("  ".join(c.ljust(w) for c, w in zip(row, widths)).rstrip())
        if n == 0:
            print("  ".join("-" * w for w in widths))
    print(f"\nCPU: {report['cpu']}; {len(results)} run(s) in {report['seconds']:.0f} s; {args.json}")
    bad = [r for r in results if r["exit_code"] != 0]
    if not results:
        say("no run was made")
        return 1
    if bad or len(counts) > 1:
        say("FAILED: " + ", ".join(r["label"] for r in bad) if bad else "FAILED: conformance counts differ")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
