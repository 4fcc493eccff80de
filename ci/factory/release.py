"""The release steps, one script for .github/workflows/release.yml and `nox -s release`, so a
release can be reproduced on a laptop.

    python -m ci.factory.release version [--ref-type TYPE --ref-name NAME] [--index pypi|testpypi] [--github-output FILE]
        The one version (bindings/pionnx/_version.py, which the wheel metadata and the compiled
        module also read) and the commit's SOURCE_DATE_EPOCH. With a ref: a tag must be exactly
        v<version>, and publishing to PyPI needs such a tag; anything else is refused.
    python -m ci.factory.release export-cases DIR [--subset N]
        The ONNX conformance cases the wheels are tested on (onnx on the host, numpy in the wheel's venv).
    python -m ci.factory.release sdist DIST
        Build the sdist into DIST and check what it holds (everything a build needs, nothing generated).
    python -m ci.factory.release collect DIST [--allow-gap ARCH/PY ...] [--gaps-from-report]
        What a tag would publish: every architecture x Python present and of the one version, the
        sdist checked, SHA256SUMS and build-report.json written, `twine check --strict` and
        `check-wheel-contents` clean, and a printed summary. Fails on any missing wheel.

The architectures and Pythons are those of the local factory (ci/factory/build_cross.py): the workflow's
matrix is checked against the same lists by tests/tools/test_workflows.py.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tarfile
import time
from pathlib import Path

from ci.factory import (
    build_armv7,  # write_report, print_rows, sha256_of, export_conformance
    build_cross,
    cross_toolchain,
)

ROOT = Path(__file__).resolve().parents[2]
VERSION_FILE = ROOT / "bindings" / "pionnx" / "_version.py"
# The architectures and Pythons of the local factory; abi3 is the cp312 stable-ABI wheel.
ARCHES = tuple(cross_toolchain.TARGETS)
PYTHONS = build_cross.PYTHONS
# What an sdist must hold for a build, and what it must never hold (generated or not needed).
SDIST_REQUIRED = (
    "pyproject.toml",
    "CMakeLists.txt",
    "README.md",
    "LICENSE",
    "PKG-INFO",
    "bindings/pionnx/__init__.py",
    "bindings/pionnx/_version.py",
    "bindings/CMakeLists.txt",
    "runtime/CMakeLists.txt",
    "runtime/cmake/armv7-baseline-flags.txt",
)
SDIST_FORBIDDEN = (
    "build/",
    "dist/",
    ".nox/",
    ".git/",
    ".github/",
    ".ci/",
    "wheelhouse/",
    "_skbuild/",
    "tests/fuzz/corpus/",
    "tests/fuzz/crashes/",
)
SDIST_FORBIDDEN_SUFFIXES = (".so", ".pyc", ".whl", ".o", ".a")
WHEEL_RE = re.compile(r"^pionnx-(?P<version>[^-]+)-(?P<py>[^-]+)-(?P<abi>[^-]+)-(?P<plat>[^-]+)\.whl$")


def say(msg: str) -> None:
    print(f"[release] {msg}", flush=True)


class ReleaseError(Exception):
    pass


def read_version() -> str:
    match = re.search(r'^__version__ = "([^"]+)"$', VERSION_FILE.read_text(), re.M)
    if not match:
        raise ReleaseError(f'no __version__ = "..." line in {VERSION_FILE.relative_to(ROOT)}')
    return match.group(1)


def source_date_epoch() -> str:
    """The commit time: what every build of this commit stamps into its archives."""
    proc = subprocess.run(["git", "log", "-1", "--format=%ct"], cwd=ROOT, capture_output=True, text=True, check=False)
    if proc.returncode != 0 or not proc.stdout.strip().isdigit():
        raise ReleaseError("not a git checkout: SOURCE_DATE_EPOCH comes from the commit (git log -1 --format=%ct)")
    return proc.stdout.strip()


def check_ref(version: str, ref_type: str, ref_name: str, index: str) -> str:
    """'' when this ref may publish `version` to `index`, else why not (raised by the caller)."""
    if ref_type == "tag":
        if ref_name != f"v{version}":
            return (
                f"tag {ref_name!r} does not match the package version {version!r} "
                f"(bindings/pionnx/_version.py): tag v{version}, or bump the version first"
            )
        return ""
    if index == "pypi":
        return f"publishing to PyPI needs a tag v{version}; this run is on {ref_type} {ref_name!r}"
    return ""


def cmd_version(args: argparse.Namespace) -> int:
    version = read_version()
    epoch = source_date_epoch()
    if args.ref_type:
        problem = check_ref(version, args.ref_type, args.ref_name or "", args.index)
        if problem:
            raise ReleaseError(problem)
    say(
        f"version {version}, SOURCE_DATE_EPOCH {epoch}"
        + (f", ref {args.ref_type} {args.ref_name}" if args.ref_type else "")
    )
    if args.github_output:
        with open(args.github_output, "a") as f:
            f.write(f"version={version}\nepoch={epoch}\n")
    else:
        print(version)
    return 0


def cmd_export_cases(args: argparse.Namespace) -> int:
    problem = build_armv7.export_conformance(Path(args.dir).resolve(), args.subset)
    if problem:
        raise ReleaseError(f"conformance export failed: {problem}")
    return 0


# ------------------------------------------------------------------ the sdist


def sdist_problems(sdist: Path) -> list[str]:
    """What is wrong with an sdist: a file a build needs missing, or one that must not be there."""
    with tarfile.open(sdist) as tar:
        names = tar.getnames()
    top = names[0].split("/")[0] if names else ""
    rel = {n[len(top) + 1 :] for n in names if n.startswith(top + "/")}
    problems = [f"missing {need}" for need in SDIST_REQUIRED if need not in rel]
    for name in sorted(rel):
        if name.startswith(SDIST_FORBIDDEN) or name.endswith(SDIST_FORBIDDEN_SUFFIXES) or "/__pycache__/" in name:
            problems.append(f"holds {name}")
    return problems


def build_sdist(dist: Path) -> Path:
    dist.mkdir(parents=True, exist_ok=True)
    before = set(dist.glob("pionnx-*.tar.gz"))
    env = dict(os.environ)
    if "SOURCE_DATE_EPOCH" not in env:
        try:
            env["SOURCE_DATE_EPOCH"] = source_date_epoch()
        except ReleaseError:  # not a git checkout (e.g. the tests run from an unpacked sdist)
            pass
    proc = subprocess.run(
        [sys.executable, "-m", "build", "--sdist", "--outdir", str(dist), str(ROOT)],
        capture_output=True,
        text=True,
        check=False,
        env=env,
    )
    made = sorted(set(dist.glob("pionnx-*.tar.gz")) - before) or sorted(dist.glob(f"pionnx-{read_version()}.tar.gz"))
    if proc.returncode != 0 or not made:
        raise ReleaseError("python -m build --sdist failed: " + (proc.stderr or proc.stdout).strip()[-500:])
    return made[-1]


def cmd_sdist(args: argparse.Namespace) -> int:
    sdist = build_sdist(Path(args.dist))
    problems = sdist_problems(sdist)
    if problems:
        raise ReleaseError(f"{sdist.name}: " + "; ".join(problems[:20]))
    say(f"{sdist.name}: {sdist.stat().st_size / 2**20:.2f} MiB, holds what a build needs and nothing generated")
    return 0


# ------------------------------------------------------------------ collect


def wheel_key(name: str) -> tuple[str, str, str] | None:
    """(version, arch, python) of a pionnx wheel name, python as in PYTHONS; None if not one."""
    m = WHEEL_RE.match(name)
    if not m:
        return None
    arch = next((a for a in ARCHES if m["plat"].endswith("_" + a)), m["plat"])
    if m["abi"] == "abi3":
        python = "abi3"
    else:
        digits = m["py"][2:]
        python = f"{digits[0]}.{digits[1:]}"
    return m["version"], arch, python


def coverage_problems(files: list[str], version: str, gaps: set[str]) -> tuple[list[str], dict]:
    """Every arch x Python wheel and the sdist present, all of `version`; gaps are 'arch/python'
    pairs documented as not built (the local factory's cp310 on ARM)."""
    problems, found = [], {}
    for name in files:
        if name.endswith(".tar.gz"):
            if name != f"pionnx-{version}.tar.gz":
                problems.append(f"{name}: not the sdist of version {version}")
            continue
        key = wheel_key(name)
        if key is None:
            problems.append(f"{name}: not a pionnx wheel name")
            continue
        wv, arch, python = key
        if wv != version:
            problems.append(f"{name}: version {wv}, the package is {version}")
        if arch not in ARCHES:
            problems.append(f"{name}: unexpected platform")
        found.setdefault(f"{arch}/{python}", []).append(name)
    if f"pionnx-{version}.tar.gz" not in files:
        problems.append(f"the sdist pionnx-{version}.tar.gz is missing")
    matrix = {}
    for arch in ARCHES:
        for python in PYTHONS:
            key = f"{arch}/{python}"
            if key in found:
                matrix[key] = found[key]
            elif key in gaps:
                matrix[key] = "documented gap"
            else:
                matrix[key] = None
                problems.append(
                    f"no {arch} wheel for {'the cp312 stable ABI' if python == 'abi3' else 'CPython ' + python}"
                )
    return problems, matrix


def documented_gaps(report: dict) -> set[str]:
    """The 'not built' entries of the local factory's report that carry a documented reason."""
    gaps = set()
    for entry in report.get("cross", {}).get("not_built", []):
        if entry.get("note"):
            gaps.add(f"{entry['arch']}/{entry['python']}")
    return gaps


def run_tool(cmd: list[str]) -> tuple[int, str]:
    exe = shutil.which(cmd[0])
    if exe is None:
        raise ReleaseError(f"{cmd[0]} not found: pip install twine check-wheel-contents")
    proc = subprocess.run([exe, *cmd[1:]], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, check=False)
    return proc.returncode, proc.stdout


def cmd_collect(args: argparse.Namespace) -> int:
    dist = Path(args.dist).resolve()
    version = read_version()
    files = sorted(p.name for p in dist.iterdir() if p.is_file() and (p.suffix == ".whl" or p.name.endswith(".tar.gz")))
    report = build_armv7.read_json(dist / "build-report.json")
    gaps = set(args.allow_gap) | (documented_gaps(report) if args.gaps_from_report else set())
    problems, matrix = coverage_problems(files, version, gaps)
    sdist = dist / f"pionnx-{version}.tar.gz"
    if sdist.is_file():
        problems += [f"{sdist.name}: {p}" for p in sdist_problems(sdist)]

    paths = [str(dist / f) for f in files]
    checks = {}
    wheel_paths = [p for p in paths if p.endswith(".whl")]
    for name, tool_cmd, targets in (
        ("twine check --strict", ["twine", "check", "--strict"], paths),
        ("check-wheel-contents", ["check-wheel-contents"], wheel_paths),
    ):
        if not targets:
            continue
        say(f"$ {' '.join(tool_cmd)} ... ({len(targets)} files)")
        rc, out = run_tool([*tool_cmd, *targets])
        print(out.rstrip(), flush=True)
        checks[name] = "clean" if rc == 0 else f"failed (exit {rc})"
        if rc != 0:
            problems.append(f"{name} failed")

    # Per file: what it is, for the report and the summary.
    wheels = []
    for name in files:
        path = dist / name
        entry = {"wheel": name, "size_bytes": path.stat().st_size, "sha256": build_armv7.sha256_of(path)}
        key = wheel_key(name)
        if key:
            entry.update(arch=key[1], python=key[2], tag=build_armv7.wheel_tag(name))
            # The test run's report: dist/reports/ (the release workflow), dist/cross/reports/ (build_all).
            tests = next(
                (
                    r
                    for r in (
                        build_armv7.read_json(dist / sub / f"{name}.test.json") for sub in ("reports", "cross/reports")
                    )
                    if r
                ),
                {},
            )
            if tests:
                entry["tests"] = {
                    k: tests[k].get("status") for k in ("smoke", "version", "simd", "conformance") if k in tests
                }
        wheels.append(entry)
    meta = {
        "version": version,
        "collected": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "matrix": matrix,
        "checks": checks,
        "problems": problems,
        "source_date_epoch": os.environ.get("SOURCE_DATE_EPOCH", ""),
    }
    build_armv7.write_report(dist, wheels, "release", meta)

    rows = [("file", "arch", "python", "MiB", "sha256")]
    for w in wheels:
        rows.append(
            (
                w["wheel"],
                w.get("arch", "source"),
                w.get("python", "-"),
                f"{w['size_bytes'] / 2**20:.2f}",
                w["sha256"][:16],
            )
        )
    print(f"\nA tag v{version} would publish these {len(files)} files (dist/, with SHA256SUMS and build-report.json):")
    build_armv7.print_rows(rows)
    print(
        "\nmatrix: " + ", ".join(f"{k} {'ok' if isinstance(v, list) else (v or 'MISSING')}" for k, v in matrix.items())
    )
    print("checks: " + ", ".join(f"{k} {v}" for k, v in checks.items()))
    if problems:
        for p in problems:
            say(f"PROBLEM: {p}")
        raise ReleaseError(f"{len(problems)} problem(s): nothing may be published from {dist}")
    say(f"dist/ is ready: {len(files)} files, SHA256SUMS, build-report.json")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("version")
    p.add_argument("--ref-type", default="", help="github.ref_type: tag or branch")
    p.add_argument("--ref-name", default="")
    p.add_argument("--index", default="pypi", choices=["pypi", "testpypi"])
    p.add_argument("--github-output", default="")
    p.set_defaults(func=cmd_version)
    p = sub.add_parser("export-cases")
    p.add_argument("dir")
    p.add_argument("--subset", type=int, default=0)
    p.set_defaults(func=cmd_export_cases)
    p = sub.add_parser("sdist")
    p.add_argument("dist")
    p.set_defaults(func=cmd_sdist)
    p = sub.add_parser("collect")
    p.add_argument("dist")
    p.add_argument(
        "--allow-gap",
        action="append",
        default=[],
        metavar="ARCH/PY",
        help="a wheel documented as not built, e.g. armv7l/3.10",
    )
    p.add_argument(
        "--gaps-from-report",
        action="store_true",
        help="accept the gaps the local factory documented in build-report.json",
    )
    p.set_defaults(func=cmd_collect)
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except ReleaseError as err:
        print(f"[release] ERROR: {err}", file=sys.stderr, flush=True)
        return 1


if __name__ == "__main__":
    sys.exit(main())
