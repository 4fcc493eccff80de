"""The cross factory: every wheel compiled on this x86-64 host, tested where it runs.

`nox -s build_cross -- --arch armv7l,aarch64,x86_64` (default: all three) and
`nox -s build_all` (the same for every architecture and Python, plus the sdist):

1. host: Docker, qemu-user for arm and aarch64 (binfmt), mmdebstrap and the
   cross binutils (ci/factory/host.py), only as far as the chosen architectures need;
2. toolchain: Debian bullseye's gcc 10 and the target's Python headers
   (ci/factory/cross_toolchain.py: glibc 2.31, so every wheel is manylinux_2_31 or lower);
3. per architecture, per Python (3.9, 3.10, 3.11, and abi3 = cp312-abi3 for 3.12
   and later): compile with scikit-build-core told the target, the C++ core
   once per architecture (ccache; the report counts the objects each wheel
   really compiled), repair with auditwheel on the host (ci/factory/cross_build.py);
   cp310 for x86_64 only (Debian ships no Python 3.10 headers for ARM);
4. meanwhile, in the background: the clean run images the ARM wheels are tested in
   (Debian's python3 and numpy, armhf and arm64: bullseye for cp39, bookworm for
   cp311, trixie for abi3), made without a registry as for build_armv7;
5. test every wheel in a clean environment of its architecture: x86_64 natively
   (a fresh venv of the matching host CPython), ARM in its run container under
   QEMU, two at a time: ci/factory/wheel_tests.py (tiny model, the run-time kernel
   choice with each SGEMM path forced, the exported conformance cases against
   tests/expected_failures.txt);
6. dist/: the wheels, SHA256SUMS, build-report.json (per wheel: arch, tag, size,
   compile seconds, objects compiled, ccache hits, test seconds, conformance
   counts, auditwheel policy, commit) and a table. One failed wheel keeps the
   others and fails the run by name.

Free-threaded CPython (3.13t, 3.14t) is out of scope: the bindings do not support it yet.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import os
import shutil
import signal
import subprocess
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from ci.factory import build_armv7, cross_build, cross_toolchain
from ci.factory import host as armv7_host
from ci.factory import images as armv7_images
from ci.factory.cross_toolchain import TARGETS, Target
from ci.factory.images import DISTROS

ROOT = cross_toolchain.ROOT
PYTHONS = ("3.9", "3.10", "3.11", "abi3")
# The Debian suite whose python3 tests a wheel for that Python on ARM.
RUN_SUITES = {"3.9": "bullseye", "3.11": "bookworm", "abi3": "trixie"}
MAX_WHEEL_BYTES = 3 * 2**20


@dataclass
class CrossResult:
    arch: str
    python: str
    build_path: str = "cross (bullseye gcc 10 on the host)"
    wheel: str = ""
    tag: str = ""
    size_bytes: int = 0
    sha256: str = ""
    compile_seconds: float = 0.0
    repair_seconds: float = 0.0
    objects_compiled: int | None = None  # ccache misses: what this wheel really compiled
    ccache: dict = field(default_factory=dict)
    auditwheel_policy: str = ""
    test_env: str = ""
    test_seconds: float | None = None
    conformance: dict = field(default_factory=dict)
    simd: dict = field(default_factory=dict)
    tests: str = "skipped"  # passed / failed / skipped
    abi3audit: str = ""
    commit: str = ""
    error: str = ""
    note: str = ""  # a documented gap (cp310 on ARM), not a failure

    @property
    def label(self) -> str:
        return f"{self.arch}/{'cp' + self.python.replace('.', '') if self.python != 'abi3' else 'abi3'}"


def say(msg: str) -> None:
    print(f"[build-cross] {msg}", flush=True)


def parse_list(text: str, allowed, what: str) -> list[str]:
    items = [x.strip() for x in text.replace(" ", ",").split(",") if x.strip()]
    unknown = [x for x in items if x not in allowed]
    if unknown:
        raise SystemExit(f"build_cross: unknown {what} {unknown}; choose from {', '.join(allowed)}")
    return items


class RunImages:
    """The clean ARM run images, made in the background (two at a time: each is mostly one
    emulated dpkg process) while the host compiles and tests; `get` waits for one."""

    def __init__(self, wanted: list[tuple[str, str]], engine: str, workers: int = 2):
        self.engine = engine
        self.order = list(wanted)
        self.results: dict[tuple[str, str], str | Exception] = {}
        self.done = {key: threading.Event() for key in wanted}
        self.lock = threading.Lock()
        self.checked: dict[str, str] = {}
        self.pool = concurrent.futures.ThreadPoolExecutor(max_workers=workers)
        for key in wanted:
            self.pool.submit(self._make, key)
        self.pool.shutdown(wait=False)

    def _make(self, key: tuple[str, str]) -> None:
        suite, arch = key
        try:
            self.results[key] = armv7_images.ensure_image(DISTROS[suite], "run", self.engine, arch)
        except Exception as err:  # reported per wheel, the other images still get made
            self.results[key] = err
        self.done[key].set()

    def container_problem(self, tag: str, platform: str) -> str:
        """'' once one container of `platform` has run `uname -m` rightly, else what is wrong
        (binfmt, engine), asked once per platform."""
        with self.lock:
            if platform not in self.checked:
                try:
                    armv7_host.smoke_test_arm(self.engine, tag, platform)
                    self.checked[platform] = ""
                except armv7_host.HostNotReady as err:
                    self.checked[platform] = f"{platform} containers do not run: {err}"
            return self.checked[platform]

    def get(self, suite: str, arch: str) -> str:
        self.done[(suite, arch)].wait()
        result = self.results[(suite, arch)]
        if isinstance(result, Exception):
            raise result
        return result


def build_one(
    result: CrossResult,
    target: Target,
    toolchain: Path,
    headers: Path,
    stage: Path,
    work: Path,
    dist: Path,
    reports: Path,
) -> Path | None:
    """Compile and repair one wheel into dist/; fills `result`; returns the wheel or None."""
    arch_work = work / target.arch
    ccache_dir = Path(os.environ.get("PIONNX_CROSS_CCACHE") or Path.home() / ".cache" / "pionnx-cross-ccache")
    try:
        built = cross_build.build(
            stage,
            target,
            toolchain,
            result.python,
            headers,
            arch_work / "out" / result.python,
            arch_work,
            [],
            ccache_dir / target.arch,
        )
    except (cross_build.CrossBuildError, subprocess.CalledProcessError, OSError) as err:
        result.error = f"build failed: {str(err).splitlines()[0]}"
        (reports / f"cross-{target.arch}-{result.python}.log").write_text(str(err) + "\n")
        say(f"{result.label}: FAILED: {err}")
        return None
    if built.log:
        shutil.copy2(built.log, reports / f"cross-{target.arch}-{result.python}.log")
    final = dist / built.wheel.name
    shutil.copy2(built.wheel, final)
    result.wheel = final.name
    result.tag = build_armv7.wheel_tag(final.name)
    result.size_bytes = final.stat().st_size
    result.sha256 = build_armv7.sha256_of(final)
    result.compile_seconds = built.compile_seconds
    result.repair_seconds = built.repair_seconds
    result.auditwheel_policy = built.auditwheel_policy
    result.ccache = built.ccache
    result.objects_compiled = built.ccache.get("misses") if built.ccache else None
    (reports / f"{final.name}.auditwheel.txt").write_text(built.auditwheel_show)
    if result.size_bytes > MAX_WHEEL_BYTES:
        result.error = f"{final.name} is {result.size_bytes / 2**20:.2f} MiB, over the 3 MiB budget"
    if result.python == "abi3":
        result.abi3audit = build_armv7.abi3audit(final, reports)
        if result.abi3audit != "clean":
            result.error = result.error or f"abi3audit --strict: {result.abi3audit}"
    say(
        f"{result.label}: {final.name} ({result.size_bytes / 2**20:.2f} MiB) compiled in "
        f"{result.compile_seconds:.0f} s, {result.objects_compiled if result.objects_compiled is not None else '?'} "
        f"objects compiled, {result.auditwheel_policy}"
    )
    return final


def test_one(
    result: CrossResult,
    wheel: Path,
    target: Target,
    images: RunImages | None,
    stage: Path,
    cases: Path | None,
    reports: Path,
    work: Path,
    engine: str,
) -> None:
    """Install and test one wheel in a clean environment of its architecture; fills `result`."""
    t0 = time.monotonic()
    if target.native:
        version = "3.13" if result.python == "abi3" else result.python
        result.test_env = f"host CPython {version} venv"
        rc, output = cross_build.test_native(wheel, result.python, cases, reports, work / "x86_64" / result.python)
    else:
        suite = RUN_SUITES[result.python]
        try:
            tag = images.get(suite, target.debian_arch) if images else ""
        except Exception as err:
            result.tests, result.error = "failed", f"run image {suite}/{target.debian_arch}: {str(err).splitlines()[0]}"
            return
        problem = images.container_problem(tag, target.platform)
        if problem:
            result.tests, result.error = "failed", problem
            return
        result.test_env = f"{tag} (QEMU)"
        rc, output = cross_build.test_in_container(wheel, tag, stage, cases, reports, engine, target.platform)
    (reports / f"{wheel.name}.test.log").write_text(output)
    info = build_armv7.read_json(reports / f"{wheel.name}.test.json")
    result.test_seconds = info.get("test_seconds", round(time.monotonic() - t0, 1))
    result.conformance = info.get("conformance", {})
    result.simd = {k: info.get("simd", {}).get(k) for k in ("status", "kernels", "models")}
    smoke_ok = info.get("smoke", {}).get("status") == "ok"
    conf_ok = result.conformance.get("status") == "passed" and result.conformance.get("total", 0) > 0
    simd_ok = result.simd.get("status") == "passed"
    result.tests = "passed" if rc == 0 and smoke_ok and conf_ok and simd_ok else "failed"
    if result.tests == "failed" and not result.error:
        if not info:
            result.error = "tests did not run: " + (output.strip().splitlines() or ["no output"])[-1][:200]
        elif not smoke_ok:
            result.error = "the tiny model failed"
        elif not simd_ok:
            result.error = f"run-time kernel choice check {result.simd.get('status')}"
        elif not conf_ok:
            result.error = "conformance: " + (
                f"{result.conformance.get('unexpected_failures', '?')} unexpected failures"
                if result.conformance.get("total")
                else result.conformance.get("reason", "no case ran")
            )
        else:
            result.error = f"the test run exited {rc}"
    say(
        f"{result.label}: tests {result.tests} in {result.test_seconds:.0f} s ({result.test_env})"
        + (f": {result.error}" if result.error else "")
    )


def failed(results: list[CrossResult]) -> list[CrossResult]:
    """The wheels that fail the run: not built, not tested, or tested and failed; a documented
    gap (cp310 on ARM, `note`) is not one of them."""
    return [r for r in results if not r.note and (r.error or r.tests == "failed" or not r.wheel)]


def make_sdist(dist: Path) -> dict:
    """The release's own sdist step (ci/factory/release.py, which imports this module): built, then
    checked to hold what a build needs and nothing generated."""
    from ci.factory import release

    t0 = time.monotonic()
    try:
        sdist = release.build_sdist(dist)
    except release.ReleaseError as err:
        return {"error": str(err)}
    problems = release.sdist_problems(sdist)
    if problems:
        return {"error": f"{sdist.name}: " + "; ".join(problems[:10])}
    return {
        "sdist": sdist.name,
        "size_bytes": sdist.stat().st_size,
        "seconds": round(time.monotonic() - t0, 1),
        "sha256": build_armv7.sha256_of(sdist),
    }


def write_outputs(dist: Path, results: list[CrossResult], meta: dict) -> None:
    build_armv7.write_report(
        dist,
        [{**asdict(r), "label": r.label} for r in results if r.wheel],
        "cross",
        {**meta, "not_built": [{**asdict(r), "label": r.label} for r in results if not r.wheel]},
    )


def print_table(results: list[CrossResult]) -> None:
    rows = [("wheel", "tag", "MiB", "compile s", "objects", "test s", "kernels", "conformance", "policy", "verdict")]
    for r in results:
        conf = r.conformance
        conf_s = (
            f"{conf['passed']}/{conf['total']} xf{conf.get('expected_failures', 0)} "
            f"new{conf.get('unexpected_failures', 0)}"
            if "total" in conf
            else conf.get("status", r.tests)
        )
        rows.append(
            (
                r.label,
                r.tag or "-",
                f"{r.size_bytes / 2**20:.2f}" if r.wheel else "",
                f"{r.compile_seconds:.0f}" if r.wheel else "",
                "" if r.objects_compiled is None else str(r.objects_compiled),
                f"{r.test_seconds:.0f}" if r.test_seconds is not None else "-",
                "+".join(r.simd.get("kernels") or [])
                if r.simd.get("status") == "passed"
                else (r.simd.get("status") or "-"),
                conf_s,
                r.auditwheel_policy,
                r.note[:60]
                if r.note
                else ("FAILED: " + (r.error or "tests failed"))[:90]
                if r.error or r.tests == "failed" or not r.wheel
                else r.tests,
            )
        )
    build_armv7.print_rows(rows)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="build_cross", description=__doc__.splitlines()[0])
    parser.add_argument("--arch", default="armv7l,aarch64,x86_64", help="comma-separated: armv7l, aarch64, x86_64")
    parser.add_argument(
        "--python",
        default=",".join(PYTHONS),
        help="comma-separated: 3.9, 3.10, 3.11, abi3 (cp312-abi3, for 3.12 and later)",
    )
    parser.add_argument("--skip-tests", action="store_true", help="build and repair only")
    parser.add_argument(
        "--conformance-subset", type=int, default=0, help="at most N conformance cases per suite (default 0: all)"
    )
    parser.add_argument("--sdist", action="store_true", help="also the sdist (nox -s build_all)")
    parser.add_argument("--engine", default=os.environ.get("PIONNX_ARMV7_ENGINE", "docker"))
    parser.add_argument("--dist", default=str(ROOT / "dist"))
    args = parser.parse_args(argv)
    args.arch = parse_list(args.arch, list(TARGETS), "architecture(s)")
    args.python = parse_list(args.python, PYTHONS, "Python(s)")
    return args


def main(argv: list[str] | None = None) -> int:
    signal.signal(signal.SIGTERM, build_armv7._terminate)
    args = parse_args(argv)
    t_start = time.monotonic()
    dist = Path(args.dist).resolve()
    work = dist / "cross"
    reports = work / "reports"
    reports.mkdir(parents=True, exist_ok=True)
    targets = [TARGETS[a] for a in args.arch]
    arm = [t for t in targets if not t.native]
    tests = not args.skip_tests

    say(f"step 1/6: host ({cross_toolchain.host_machine()})")
    try:
        if arm and tests:
            armv7_host.prepare_host(
                fix=True,
                disk_paths=[dist, armv7_images.cache_dir(), Path("/var/lib")],
                engine=args.engine,
                cross=True,
                handlers=tuple(sorted({"arm" if t.arch == "armv7l" else "aarch64" for t in arm})),
            )
        else:
            armv7_host.ensure_tools(armv7_host.HostReport(), fix=True, cross=bool(arm))
    except (armv7_host.HostNotReady, subprocess.CalledProcessError) as err:
        say(f"host not ready: {err}")
        return 2

    say("step 2/6: toolchain and Python headers")
    try:
        toolchain = cross_toolchain.ensure_toolchain()
        headers = {py: cross_toolchain.ensure_headers(py, targets) for py in args.python}
    except cross_toolchain.ToolchainError as err:
        say(f"no toolchain: {err}")
        return 2

    commit = build_armv7.source_revision()
    results: list[CrossResult] = []
    plan: list[tuple[CrossResult, Target]] = []
    for target in targets:
        for py in args.python:
            result = CrossResult(target.arch, py, commit=commit)
            results.append(result)
            if target.arch not in headers[py]:
                result.note = (
                    f"not built: no trustworthy Python {py} headers for {target.arch} (Debian ships "
                    "no Python 3.10; the GitHub release builds it in cibuildwheel's images)"
                )
                result.tests = "not built"
                say(f"{result.label}: {result.note}")
                continue
            plan.append((result, target))

    images = None
    if tests and arm:
        # In the order the tests will want them.
        wanted = list(dict.fromkeys((RUN_SUITES[r.python], t.debian_arch) for r, t in plan if not t.native))
        say("step 4/6 (background): run images " + ", ".join(f"{s}/{a}" for s, a in wanted))
        images = RunImages(wanted, args.engine)

    cases = None
    if tests:
        cases_dir = work / "conformance"
        if build_armv7.export_conformance(cases_dir, args.conformance_subset) == "":
            cases = cases_dir
    stage = build_armv7.stage_project(work / "stage")

    say(f"step 3/6: compile and repair {len(plan)} wheel(s)")
    built: list[tuple[CrossResult, Target, Path]] = []
    for result, target in plan:
        wheel = build_one(result, target, toolchain, headers[result.python][target.arch], stage, work, dist, reports)
        if wheel is not None:
            built.append((result, target, wheel))
    build_seconds = round(time.monotonic() - t_start, 1)
    say(f"built {len(built)}/{len(plan)} wheel(s) in {build_seconds:.0f} s since the start")

    if tests and built:
        say(f"step 5/6: test {len(built)} wheel(s), two at a time")
        # Native wheels first (no image to wait for), then in the order their images come.
        order = images.order if images else []
        built.sort(key=lambda b: -1 if b[1].native else order.index((RUN_SUITES[b[0].python], b[1].debian_arch)))
        with concurrent.futures.ThreadPoolExecutor(max_workers=2) as pool:
            futures = [
                pool.submit(test_one, r, w, t, images, stage, cases, reports, work, args.engine) for r, t, w in built
            ]
            for future in futures:
                future.result()

    sdist = {}
    if args.sdist:
        say("the sdist")
        sdist = make_sdist(dist)
        say(f"sdist: {sdist}")

    say("step 6/6: dist")
    meta = {
        "toolchain": f"Debian {cross_toolchain.TOOLCHAIN_SUITE} gcc {cross_toolchain.GCC_VERSION} ({toolchain.name})",
        "glibc_floor": "manylinux_{}_{}".format(*cross_toolchain.GLIBC_FLOOR),
        "build_seconds": build_seconds,
        "wall_seconds": round(time.monotonic() - t_start, 1),
        "commit": commit,
        "free_threaded": "not built: the bindings do not support free-threaded CPython yet",
        "sdist": sdist,
    }
    write_outputs(dist, results, meta)
    print()
    print_table(results)
    print(
        f"\n{len(built)} wheel(s) in {dist}; build {build_seconds:.0f} s, all {meta['wall_seconds']:.0f} s; "
        f"reports in {reports}"
    )
    # cp310 on ARM is a documented gap, not a failure.
    bad = failed(results)
    if args.sdist and sdist.get("error"):
        say(f"FAILED sdist: {sdist['error']}")
        bad.append(CrossResult("sdist", "-", error=sdist["error"]))
    for r in bad:
        say(f"FAILED {r.label}: {r.error or 'tests failed'}")
    return 1 if bad else 0


if __name__ == "__main__":
    build_armv7.run_main(main, say)
