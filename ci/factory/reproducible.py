"""`nox -s reproducible`: two builds of one commit, in two different folders, give byte-identical wheels.

The tree (tracked and new files, as `git ls-files` sees them) is copied into two folders of
different paths; each copy builds, with SOURCE_DATE_EPOCH taken from the commit and no compiler
cache (every object is compiled, twice):

* the host x86_64 wheel, as `nox -s build` makes it: `python -m build --wheel` (an isolated build,
  so even the build requirements sit in a fresh random folder), then `auditwheel repair`;
* an armv7l wheel (cp311) by the cross factory: ci/factory/cross_build.py of that copy, which repairs
  with auditwheel too.

The repaired wheels are compared by SHA-256; on a mismatch diffoscope (PyPI) shows where they
differ (build/reproducible/diffoscope-*.txt) and the run fails. What makes them equal: scikit-build-core's
reproducible wheels (fixed order, permissions and timestamps from SOURCE_DATE_EPOCH),
-ffile-prefix-map for the source, build and nanobind folders (CMakeLists.txt), auditwheel's
SOURCE_DATE_EPOCH. Writes build/reproducible-report.json and prints a table.

    python -m ci.factory.reproducible [--targets x86_64,armv7l] [--work DIR]
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

from ci.factory import build_armv7  # sha256_of, print_rows, source_revision

ROOT = Path(__file__).resolve().parents[2]
TARGETS = ("x86_64", "armv7l")


def say(msg: str) -> None:
    print(f"[reproducible] {msg}", flush=True)


class Mismatch(Exception):
    pass


def copy_tree(dest: Path) -> None:
    """The working tree's files (tracked, and new ones not ignored) into `dest`."""
    files = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        capture_output=True,
        check=True,
    ).stdout.split(b"\0")
    shutil.rmtree(dest, ignore_errors=True)
    for raw in files:
        if not raw:
            continue
        rel = raw.decode()
        src = ROOT / rel
        if not src.is_file():  # deleted in the working tree
            continue
        (dest / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(src, dest / rel)


def run(cmd: list[str], env: dict, log: Path, cwd: Path) -> None:
    with open(log, "a") as fh:
        fh.write("$ " + " ".join(map(str, cmd)) + "\n")
        fh.flush()
        proc = subprocess.run(cmd, env=env, cwd=cwd, stdout=fh, stderr=subprocess.STDOUT, check=False)
    if proc.returncode != 0:
        tail = log.read_text().splitlines()[-25:]
        raise SystemExit(f"[reproducible] failed ({proc.returncode}): {' '.join(map(str, cmd))}\n" + "\n".join(tail))


def build_host(src: Path, out: Path, env: dict, log: Path) -> Path:
    raw = out / "raw"
    run([sys.executable, "-m", "build", "--wheel", "--outdir", str(raw), str(src)], env, log, src)
    (wheel,) = raw.glob("*.whl")
    run([sys.executable, "-m", "auditwheel", "repair", "--plat", "auto", "-w", str(out), str(wheel)], env, log, src)
    (repaired,) = out.glob("*.whl")
    return repaired


def build_armv7l(src: Path, out: Path, env: dict, log: Path) -> Path:
    # That copy's own cross_build: run from the copy, with the copy on PYTHONPATH.
    env = dict(env, PIONNX_CROSS_WORK=str(out / "work"), PYTHONPATH=str(src))
    run(
        [sys.executable, "-m", "ci.factory.cross_build", str(out), "--arch", "armv7l", "--python", "3.11"],
        env,
        log,
        src,
    )
    (repaired,) = out.glob("*.whl")
    return repaired


BUILDERS = {"x86_64": build_host, "armv7l": build_armv7l}


def diffoscope(a: Path, b: Path, report: Path) -> str:
    exe = shutil.which("diffoscope") or str(Path(sys.executable).parent / "diffoscope")
    if not Path(exe).exists():
        return "diffoscope not installed (pip install diffoscope)"
    proc = subprocess.run([exe, "--text", str(report), str(a), str(b)], capture_output=True, text=True, check=False)
    return f"diffoscope exit {proc.returncode}: {report}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="two builds of one commit in two folders: identical wheels?")
    parser.add_argument("--targets", default=",".join(TARGETS))
    parser.add_argument("--work", type=Path, default=ROOT / "build" / "reproducible")
    args = parser.parse_args(argv)
    targets = [t for t in args.targets.split(",") if t]
    unknown = [t for t in targets if t not in BUILDERS]
    if unknown:
        raise SystemExit(f"[reproducible] unknown target(s) {unknown}; choose from {', '.join(TARGETS)}")

    epoch = subprocess.run(
        ["git", "log", "-1", "--format=%ct"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.strip()
    work = args.work.resolve()
    shutil.rmtree(work, ignore_errors=True)
    # Two folders whose paths differ in length and depth.
    folders = {"first": work / "a" / "pionnx", "second": work / "second-build" / "deeper" / "src"}
    for folder in folders.values():
        copy_tree(folder)
    env = dict(os.environ, SOURCE_DATE_EPOCH=epoch, CCACHE_DISABLE="1")
    env.pop("CMAKE_CXX_COMPILER_LAUNCHER", None)
    say(
        f"commit {build_armv7.source_revision()}, SOURCE_DATE_EPOCH {epoch}; folders "
        + ", ".join(str(f) for f in folders.values())
    )

    results = []
    for target in targets:
        wheels = {}
        seconds = {}
        for which, src in folders.items():
            out = src.parent / f"out-{target}"
            shutil.rmtree(out, ignore_errors=True)
            out.mkdir(parents=True)
            log = work / f"{target}-{which}.log"
            say(f"{target}: {which} build in {src} (log {log})")
            t0 = time.monotonic()
            wheels[which] = BUILDERS[target](src, out, env, log)
            seconds[which] = round(time.monotonic() - t0, 1)
        digests = {which: build_armv7.sha256_of(w) for which, w in wheels.items()}
        same_name = wheels["first"].name == wheels["second"].name
        identical = same_name and digests["first"] == digests["second"]
        entry = {
            "target": target,
            "wheel": wheels["first"].name,
            "identical": identical,
            "sha256": digests,
            "seconds": seconds,
            "size_bytes": wheels["first"].stat().st_size,
        }
        if not identical:
            entry["diffoscope"] = diffoscope(wheels["first"], wheels["second"], work / f"diffoscope-{target}.txt")
            if not same_name:
                entry["names"] = {k: w.name for k, w in wheels.items()}
        results.append(entry)
        say(
            f"{target}: {'IDENTICAL' if identical else 'DIFFERENT'} {digests['first'][:16]} / "
            f"{digests['second'][:16]}" + (f"; {entry['diffoscope']}" if not identical else "")
        )

    report = {
        "commit": build_armv7.source_revision(),
        "source_date_epoch": epoch,
        "folders": {k: str(v) for k, v in folders.items()},
        "results": results,
    }
    out_path = ROOT / "build" / "reproducible-report.json"
    out_path.write_text(json.dumps(report, indent=2) + "\n")
    rows = [("target", "wheel", "MiB", "sha256 (first build)", "sha256 (second build)", "verdict")]
    for r in results:
        rows.append(
            (
                r["target"],
                r["wheel"],
                f"{r['size_bytes'] / 2**20:.2f}",
                r["sha256"]["first"],
                r["sha256"]["second"],
                "identical" if r["identical"] else "DIFFERENT",
            )
        )
    print()
    build_armv7.print_rows(rows)
    print(f"\n(report: {out_path})")
    return 0 if all(r["identical"] for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
