"""Run the test suite against a pionnx built with AddressSanitizer + UndefinedBehaviorSanitizer.

    nox -s sanitize [-- PYTEST_ARGS]        (builds the instrumented module, then runs this)
    python -m ci.checks.sanitize [-- PYTEST_ARGS]  (with such a pionnx already installed)

The module is built by the nox session with clang and
-DPIONNX_SANITIZE=address,undefined,fuzzer-no-link (-fno-sanitize-recover:
every finding stops the process; the coverage instrumentation is for the
fuzzer built from the same objects). Python itself is not
instrumented, so the ASan runtime is preloaded into every Python process the
run starts (pytest, its xdist workers, the child processes of the crash
tests). Every finding aborts its process (SIGABRT, never an ordinary exit
code a test might expect), and the run also fails on any report it sees:
reports go to files under build/sanitize/ (log_path), and pytest's whole
output is scanned as well, for a report written to stderr by a process that
did not get the options (a child process's report reaches it through the
failing test's message). A test listed as an expected failure that dies of a report still
fails the run this way. The run fails if pytest fails (exit code 5, no tests,
included) or if any report appears, and prints the reports.
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
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
LOGS = ROOT / "build" / "sanitize"
# The first line of a report, from either runtime.
REPORT = re.compile(
    r"runtime error: |ERROR: AddressSanitizer|ERROR: LeakSanitizer|SUMMARY: (Address|UndefinedBehavior)"
    r"Sanitizer"
)


def clang_runtime_dir() -> Path:
    for version in ("", "-19", "-18", "-17", "-16", "-15", "-14"):
        clang = shutil.which(f"clang++{version}")
        if clang:
            out = subprocess.run([clang, "-print-runtime-dir"], capture_output=True, text=True, check=False)
            if out.returncode == 0 and Path(out.stdout.strip()).is_dir():
                return Path(out.stdout.strip())
    raise SystemExit("[sanitize] clang not found: apt-get install clang-14 libclang-rt-14-dev")


def preload() -> list[str]:
    """The shared ASan runtime (UBSan's handlers are part of it), then libstdc++: python links
    neither, and ASan's __cxa_throw interceptor must find the real one at start-up
    ("CHECK failed: real___cxa_throw")."""
    asan = clang_runtime_dir() / f"libclang_rt.asan-{platform.machine()}.so"
    if not asan.exists():
        raise SystemExit(f"[sanitize] {asan} is missing: apt-get install libclang-rt-14-dev")
    out = subprocess.run(["g++", "-print-file-name=libstdc++.so"], capture_output=True, text=True, check=False)
    libstdcxx = out.stdout.strip()
    return [str(asan)] + ([libstdcxx] if os.path.isabs(libstdcxx) else [])


def environment() -> dict[str, str]:
    env = dict(os.environ)
    env["LD_PRELOAD"] = " ".join(filter(None, [*preload(), env.get("LD_PRELOAD", "")]))
    # Leaks: CPython and numpy keep allocations until exit by design; the leak
    # checker would report them, not pionnx's.
    env["ASAN_OPTIONS"] = ":".join(
        [
            "detect_leaks=0",
            "abort_on_error=1",
            "halt_on_error=1",
            "detect_stack_use_after_return=0",
            f"log_path={LOGS / 'asan'}",
            env.get("ASAN_OPTIONS", ""),
        ]
    ).rstrip(":")
    env["UBSAN_OPTIONS"] = ":".join(
        [
            "print_stacktrace=1",
            "halt_on_error=1",
            "abort_on_error=1",
            f"log_path={LOGS / 'ubsan'}",
            env.get("UBSAN_OPTIONS", ""),
        ]
    ).rstrip(":")
    env["PIONNX_CONFORMANCE_THREADS"] = "1"
    return env


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    own, pytest_args = (argv[: argv.index("--")], argv[argv.index("--") + 1 :]) if "--" in argv else (argv, [])
    argparse.ArgumentParser(description=__doc__.splitlines()[0], usage="%(prog)s [-h] [-- PYTEST_ARGS]").parse_args(own)
    if LOGS.exists():
        shutil.rmtree(LOGS)
    LOGS.mkdir(parents=True)
    env = environment()
    probe = subprocess.run(
        [sys.executable, "-c", "import pionnx._core as c, sys; print(c.__file__)"],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if probe.returncode != 0:
        print(probe.stdout + probe.stderr)
        raise SystemExit("[sanitize] the instrumented pionnx does not import")
    module = probe.stdout.strip()
    symbols = subprocess.run(
        ["nm", "-D", "--undefined-only", module], capture_output=True, text=True, check=False
    ).stdout
    if "__asan_report" not in symbols or "__ubsan_handle" not in symbols:
        raise SystemExit(
            f"[sanitize] {module} is not built with ASan+UBSan (it calls no __asan_report_* or "
            "__ubsan_handle_*): build it with nox -s sanitize"
        )
    cmd = [
        sys.executable,
        "-m",
        "pytest",
        "-n",
        "auto",
        "-p",
        "no:cacheprovider",
        "--timeout=1800",
        "--timeout-method=thread",
        "-q",
        "-ra",
        *pytest_args,
    ]
    print("[sanitize] $ " + " ".join(cmd), flush=True)
    t0 = time.monotonic()
    log = LOGS / "pytest-output.txt"
    in_output: list[str] = []
    with (
        subprocess.Popen(
            cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, errors="replace"
        ) as proc,
        log.open("w") as out,
    ):
        assert proc.stdout is not None
        for line in proc.stdout:
            sys.stdout.write(line)
            out.write(line)
            if REPORT.search(line):
                in_output.append(line.strip())
    seconds = time.monotonic() - t0
    reports = sorted(p for p in LOGS.iterdir() if p.is_file() and p != log)
    for report in reports[:20]:
        print(f"\n===== {report.relative_to(ROOT)}\n" + report.read_text(errors="replace")[-6000:])
    if in_output:
        print(f"\n===== sanitizer reports in pytest's output ({log.relative_to(ROOT)}):")
        for line in in_output[:40]:
            print("  " + line)
        reports.append(log)
    summary = {
        "pytest_exit_code": proc.returncode,
        "sanitizer_reports": [str(p.relative_to(ROOT)) for p in reports],
        "report_lines": in_output[:200],
        "seconds": round(seconds, 1),
        "pytest_args": pytest_args,
        "module": module,
    }
    (ROOT / "build" / "sanitize-summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    print(
        f"\n[sanitize] pytest exit code {proc.returncode}; {len(reports)} sanitizer report(s); {seconds:.0f} s; "
        f"build/sanitize-summary.json"
    )
    # Exit code 5 (no tests collected) fails too.
    return 0 if proc.returncode == 0 and not reports else 1


if __name__ == "__main__":
    sys.exit(main())
