"""test-command for armv7l, run by cibuildwheel inside the emulated container,
in a fresh venv holding only the repaired wheel (and Debian's numpy).

1. Keeps a copy of the repaired wheel on the host first (PIONNX_ARMV7_KEEP),
   so a wheel whose tests fail is not lost with the container.
2. Runs the tiny hand-written model (ci/factory/tiny_model.py).
3. Checks the run-time kernel choice (ci/checks/simd_dispatch.py): the
   default pick is NEON when AT_HWCAP has it, and with QEMU_CPU=cortex-r5f (a
   VFPv3-D16 CPU without NEON) the same wheel falls back to the portable
   kernel; both give the portable kernel's answers.
4. Runs the ONNX conformance cases exported on the host
   (PIONNX_CONFORMANCE_DIR, seen through /host) with
   `python -m pionnx.conformance run DIR`: numpy and pionnx only, no onnx.
5. Writes counts and seconds to PIONNX_ARMV7_REPORTS/<wheel>.test.json.

    PYTHONPATH=PROJECT_ROOT python -m ci.factory.wheel_tests WHEEL
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

# The project root (/project in the containers): the ci package and tests/expected_failures.txt.
PROJECT = Path(__file__).resolve().parents[2]
# An ARMv7 CPU qemu-user knows that has VFPv3-D16 but no NEON (the baseline
# the wheel is compiled for, and what Debian's armhf userland runs on).
NO_NEON_CPU = "cortex-r5f"


def run_conformance(cases: Path, json_out: Path) -> dict:
    if not (cases / "manifest.json").is_file():
        return {"status": "not run", "reason": f"no exported cases at {cases}"}
    probe_code = "import importlib.util as u; raise SystemExit(0 if u.find_spec('pionnx.conformance.__main__') else 1)"
    probe = subprocess.run([sys.executable, "-c", probe_code], check=False)
    if probe.returncode != 0:
        return {"status": "not run", "reason": "pionnx.conformance has no runner (__main__)"}
    cmd = [sys.executable, "-m", "pionnx.conformance", "run", str(cases), "--json", str(json_out)]
    # The project's list of known failures: a listed case failing here is
    # expected; anything else failing (e.g. an armv7-only numeric bug) is not.
    expected = PROJECT / "tests" / "expected_failures.txt"
    if expected.is_file():
        cmd += ["--expected-failures", str(expected)]
    print("[armv7-test] $ " + " ".join(cmd), flush=True)
    t0 = time.monotonic()
    proc = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, check=False)
    seconds = time.monotonic() - t0
    print(proc.stdout, flush=True)
    result = {
        "status": "passed" if proc.returncode == 0 else "failed",
        "exit_code": proc.returncode,
        "seconds": round(seconds, 1),
    }
    try:
        summary = json.loads(json_out.read_text())
    except (OSError, ValueError):
        summary = {}
    if summary:
        suites = summary.get("suites", {})
        result.update(
            total=summary.get("total", 0),
            passed=summary.get("passed", 0),
            skipped=sum(c.get("skipped", 0) for c in suites.values()),
            expected_failures=sum(c.get("xfailed", 0) for c in suites.values()),
            unexpected_failures=len(summary.get("unexpected_failures", [])),
            unexpected_passes=len(summary.get("unexpected_passes", [])),
            suites={
                name: {k: c.get(k) for k in ("total", "passed", "xfailed", "failed", "crashed", "timeout", "skipped")}
                for name, c in suites.items()
            },
            first_unexpected=summary.get("unexpected_failures", [])[:20],
        )
    result["tail"] = proc.stdout.splitlines()[-15:]
    return result


def run_simd_check(json_out: Path) -> dict:
    cmd = [sys.executable, "-m", "ci.checks.simd_dispatch", "--json", str(json_out), "--no-neon-cpu", NO_NEON_CPU]
    print("[armv7-test] $ " + " ".join(cmd), flush=True)
    proc = subprocess.run(
        cmd,
        env=dict(os.environ, PYTHONPATH=str(PROJECT)),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        check=False,
    )
    print(proc.stdout, flush=True)
    try:
        report = json.loads(json_out.read_text())
    except (OSError, ValueError):
        report = {}
    return {
        "status": "passed" if proc.returncode == 0 else "failed",
        "exit_code": proc.returncode,
        "kernels": report.get("kernels", []),
        "models": report.get("models", {}),
        "tail": proc.stdout.splitlines()[-5:],
    }


def check_version(wheel: Path) -> dict:
    """One version: the wheel's file name, pionnx.__version__ and the compiled module's agree."""
    want = wheel.name.split("-")[1]
    proc = subprocess.run(
        [sys.executable, "-c", "import pionnx, pionnx._core as c; print(pionnx.__version__, c.__version__)"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        check=False,
    )
    got = proc.stdout.split()
    ok = proc.returncode == 0 and got == [want, want]
    print(
        f"[armv7-test] version: wheel {want}, pionnx.__version__ and _core.__version__ {' '.join(got[-2:])}"
        + ("" if ok else "  MISMATCH"),
        flush=True,
    )
    return {"status": "ok" if ok else "failed", "wheel": want, "python": got[:1], "core": got[1:2]}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("wheel", type=Path, help="the repaired wheel, already installed in this Python's venv")
    wheel = parser.parse_args(argv).wheel
    reports = Path(os.environ.get("PIONNX_ARMV7_REPORTS", "/tmp/pionnx-armv7-reports"))
    reports.mkdir(parents=True, exist_ok=True)
    keep = os.environ.get("PIONNX_ARMV7_KEEP")
    if keep:
        Path(keep).mkdir(parents=True, exist_ok=True)
        shutil.copy2(wheel, Path(keep) / wheel.name)

    t0 = time.monotonic()
    smoke = subprocess.run(
        [sys.executable, "-m", "ci.factory.smoke", "--check"],
        env=dict(os.environ, PYTHONPATH=str(PROJECT)),
        stdout=subprocess.PIPE,
        text=True,
        check=False,
    )
    print(smoke.stdout, flush=True)
    smoke_result = {
        "status": "ok" if smoke.returncode == 0 else "failed",
        "output": smoke.stdout.strip().splitlines()[-1:],
    }

    version = check_version(wheel)
    simd = run_simd_check(reports / f"{wheel.name}.simd.json")

    cases = os.environ.get("PIONNX_CONFORMANCE_DIR", "")
    conformance = (
        run_conformance(Path(cases), reports / f"{wheel.name}.conformance.json")
        if cases
        else {"status": "not run", "reason": "PIONNX_CONFORMANCE_DIR not set"}
    )
    seconds = time.monotonic() - t0

    (reports / f"{wheel.name}.test.json").write_text(
        json.dumps(
            {
                "wheel": wheel.name,
                "test_seconds": round(seconds, 1),
                "smoke": smoke_result,
                "version": version,
                "simd": simd,
                "conformance": conformance,
            },
            indent=2,
        )
    )
    failed = (
        smoke.returncode != 0
        or version["status"] != "ok"
        or simd["status"] != "passed"
        or conformance["status"] == "failed"
    )
    print(
        f"[armv7-test] {wheel.name}: smoke {smoke_result['status']}, kernel choice {simd['status']} "
        f"({'+'.join(simd['kernels'])}), conformance {conformance['status']} in {seconds:.0f} s",
        flush=True,
    )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
