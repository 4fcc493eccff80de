"""The armv7l wheel factory: cibuildwheel in emulated Debian armhf images.

    nox -s build_armv7 [-- --images bookworm,trixie] [--official-image] [--skip-tests]
    python -m ci.factory.build_armv7 [same options]

Steps, each printed as it happens:

1. host: container engine, binfmt_misc + qemu-arm, mmdebstrap, free disk
   (ci/factory/host.py; installs what is missing when root with apt);
2. images: one per Raspberry Pi OS generation, built from mmdebstrap root
   file systems and reused by recipe hash (ci/factory/images.py), or the
   official quay.io/pypa/manylinux_2_31_armv7l with --official-image;
3. conformance cases exported on the host (`python -m pionnx.conformance
   export`), seen by the container through cibuildwheel's /host mount;
4. per image, cibuildwheel builds, repairs (auditwheel, in the container) and
   tests the wheel (ci/factory/wheel_tests.py); ccache lives on the host;
5. per wheel, a second, clean container installs it with pip and runs a
   model, as a Pi user would (ci/factory/smoke.py);
6. dist/: the wheels, SHA256SUMS, build-report.json; dist/armv7/reports/:
   `auditwheel show`, ccache statistics, test results, logs.

One image failing does not stop the others; wheels already built are kept,
and the run exits non-zero naming what failed.

This is the emulated path: every compiler process runs under QEMU (about 12
minutes per wheel on an Intel host, 41 on an AMD one). `nox -s build_cross`
(ci/factory/build_cross.py) compiles on the host instead and uses QEMU only to test.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import NoReturn

from ci.factory import host as armv7_host
from ci.factory import images as armv7_images
from ci.factory.images import DISTROS, OFFICIAL_IMAGE, Distro

ROOT = armv7_images.ROOT
CIBUILDWHEEL = [sys.executable, "-m", "cibuildwheel"]
# Top-level folders never sent into the container: build trees of other
# platforms, earlier outputs, nox's venvs.
# Every container this run starts carries this label, so an interrupted run
# can remove exactly its own.
RUN_LABEL = f"org.pionnx.armv7-run={os.getpid()}-{int(time.time())}"
STAGE_EXCLUDE = {".git", ".nox", "build", "dist", ".venv", "venv", "__pycache__", ".pytest_cache"}


@dataclass
class Variant:
    """One cibuildwheel run: an image, an interpreter, maybe config-settings."""

    image: str  # bullseye / bookworm / trixie
    distro: Distro
    name: str  # e.g. "cp311" or "cp313" or "abi3"
    config_settings: str = ""  # CIBW_CONFIG_SETTINGS for this run

    @property
    def identifier(self) -> str:
        return f"{self.distro.cp}-manylinux_armv7l"

    @property
    def label(self) -> str:
        return f"{self.image}/{self.name}"


@dataclass
class WheelResult:
    variant: str
    image: str
    build_path: str = "emulated"  # cibuildwheel under QEMU (the cross path is ci/factory/build_cross.py)
    wheel: str = ""
    tag: str = ""
    size_bytes: int = 0
    sha256: str = ""
    build_seconds: float = 0.0
    test_seconds: float | None = None
    auditwheel_policy: str = ""
    ccache: dict = field(default_factory=dict)
    conformance: dict = field(default_factory=dict)
    simd: dict = field(default_factory=dict)  # run-time kernel choice, ci/checks/simd_dispatch.py
    tests: str = "skipped"  # passed / failed / skipped
    pi_user_smoke: dict = field(default_factory=dict)
    abi3audit: str = ""
    error: str = ""


def say(msg: str) -> None:
    print(f"[build-armv7] {msg}", flush=True)


def variants_for(images: list[str], abi3: bool) -> list[Variant]:
    out = []
    for image in images:
        distro = DISTROS[image]
        if tuple(int(x) for x in distro.python.split(".")) >= (3, 12):
            # pyproject asks for cp312 stable ABI; this Python builds both a
            # version-specific wheel and the abi3 one (the C++ core is shared,
            # so the second build is mostly ccache hits).
            out.append(Variant(image, distro, distro.cp, "wheel.py-api="))
            if abi3:
                out.append(Variant(image, distro, "abi3", "wheel.py-api=cp312"))
        else:
            out.append(Variant(image, distro, distro.cp))
    return out


def stage_project(dest: Path) -> Path:
    """A clean snapshot of the project for cibuildwheel to copy into the container.

    The working tree is shared with engineers editing it right now; a snapshot
    keeps one build consistent and keeps .nox/build/dist out of the container.
    """
    if dest.exists():
        shutil.rmtree(dest)
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    if listed.returncode == 0:
        files = [Path(p) for p in listed.stdout.split("\0") if p]
    else:
        files = [p.relative_to(ROOT) for p in ROOT.rglob("*") if p.is_file()]
    count = 0
    for rel in files:
        if rel.parts and (rel.parts[0] in STAGE_EXCLUDE or "__pycache__" in rel.parts):
            continue
        if rel.suffix in {".so", ".o", ".whl"}:
            continue
        src = ROOT / rel
        if not src.is_file():
            continue
        target = dest / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(src, target)
        count += 1
    say(f"staged {count} project files in {dest}")
    return dest


def host_path(path: Path) -> str:
    """The path under which a container started by cibuildwheel sees a host path."""
    return "/host" + str(path.resolve())


# Runs pionnx.conformance's exporter from the source tree without importing
# pionnx/__init__ (which needs the compiled _core): the exporter needs only onnx.
EXPORT_BOOTSTRAP = """
import runpy, sys, types
package = types.ModuleType("pionnx")
package.__path__ = [sys.argv[1]]
sys.modules["pionnx"] = package
sys.argv = ["python -m pionnx.conformance"] + sys.argv[2:]
runpy.run_module("pionnx.conformance", run_name="__main__", alter_sys=True)
"""


def export_conformance(dest: Path, subset: int) -> str:
    """Export the ONNX backend cases for the armv7 side; '' if done, else why not."""
    if dest.exists():
        shutil.rmtree(dest)
    dest.mkdir(parents=True)
    cmd = [sys.executable, "-c", EXPORT_BOOTSTRAP, str(ROOT / "bindings" / "pionnx"), "export", str(dest)]
    if subset:
        cmd += ["--subset", str(subset)]
    say("$ python -m pionnx.conformance export " + " ".join(cmd[5:]) + "   (from the source tree)")
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        reason = (proc.stderr or proc.stdout).strip().splitlines()[-1:] or ["?"]
        say(f"conformance export failed; the wheels are built and the tiny model runs, but the run fails: {reason[0]}")
        return reason[0]
    say(proc.stdout.strip().splitlines()[-1] if proc.stdout.strip() else f"exported to {dest}")
    return ""


def source_revision() -> str:
    """The commit the wheels were built from, '+changes' when the tree differed from it."""
    head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True, check=False)
    if head.returncode != 0:
        return "unknown (not a git checkout)"
    dirty = subprocess.run(
        ["git", "status", "--porcelain", "--untracked-files=no"], cwd=ROOT, capture_output=True, text=True, check=False
    ).stdout.strip()
    return head.stdout.strip() + ("+changes" if dirty else "")


def read_json(path: Path) -> dict:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return {}


def sha256_of(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def wheel_tag(name: str) -> str:
    # name-version-pytag-abitag-platform.whl
    return "-".join(name[:-4].split("-")[-3:])


def ccache_dir_for(variant: Variant, kind: str = "") -> Path:
    base = Path(os.environ.get("PIONNX_ARMV7_CCACHE") or Path.home() / ".cache" / "pionnx-armv7-ccache")
    path = base / (f"{variant.image}-{kind}" if kind else variant.image)
    path.mkdir(parents=True, exist_ok=True)
    return path


def run_cibuildwheel(
    variant: Variant, image_tag: str, stage: Path, work: Path, reports: Path, cases: str, skip_tests: bool, engine: str
) -> tuple[int, float, Path]:
    out_dir = work / "out" / variant.name
    keep_dir = work / "kept" / variant.name
    for d in (out_dir, keep_dir):
        if d.exists():
            shutil.rmtree(d)
        d.mkdir(parents=True)
    env = dict(os.environ)
    env.update(
        {
            "CIBW_PLATFORM": "linux",
            "CIBW_ARCHS_LINUX": "armv7l",
            "CIBW_BUILD": variant.identifier,
            "CIBW_MANYLINUX_ARMV7L_IMAGE": image_tag,
            # ccache on the host, one folder per image (different compilers).
            "CIBW_CONTAINER_ENGINE": (
                f"{engine}; create_args: --volume={ccache_dir_for(variant)}:/ccache --label={RUN_LABEL}"
            ),
            "PIONNX_ARMV7_REPORTS": host_path(reports),
            "PIONNX_ARMV7_KEEP": host_path(keep_dir),
            "PIONNX_ARMV7_VARIANT": variant.name,
            "PIONNX_CONFORMANCE_DIR": cases,
            # cibuildwheel copies this bundle in for pip on Python < 3.10: the
            # host's, which trusts the TLS-intercepting proxy when there is one.
            "SSL_CERT_FILE": str(armv7_images.HOST_CA_BUNDLE),
            "PYTHONUNBUFFERED": "1",  # so the log file follows the build as it goes
        }
    )
    if variant.config_settings:
        env["CIBW_CONFIG_SETTINGS"] = variant.config_settings
    if skip_tests:
        env["CIBW_TEST_SKIP"] = "*"
    elif image_tag == OFFICIAL_IMAGE:
        # No Debian numpy there: pip builds it from the sdist under QEMU (slow).
        env["CIBW_TEST_REQUIRES"] = "numpy"
    log_path = reports / f"cibuildwheel-{variant.image}-{variant.name}.log"
    cmd = ["nice", "-n", "10", *CIBUILDWHEEL, "--output-dir", str(out_dir), "."]
    say(
        f"{variant.label}: cibuildwheel {variant.identifier} in {image_tag} "
        f"(log {log_path.relative_to(ROOT) if log_path.is_relative_to(ROOT) else log_path})"
    )
    t0 = time.monotonic()
    with open(log_path, "w") as log:
        proc = subprocess.Popen(cmd, cwd=stage, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        assert proc.stdout
        try:
            for line in proc.stdout:
                log.write(line)
                if os.environ.get("PIONNX_ARMV7_VERBOSE"):
                    sys.stdout.write(line)
            rc = proc.wait()
        finally:
            if proc.poll() is None:
                proc.terminate()
                proc.wait()
            # cibuildwheel leaves its container behind when it is killed.
            remove_containers(engine)
    seconds = time.monotonic() - t0
    if rc != 0:
        tail = "\n".join(log_path.read_text().splitlines()[-25:])
        say(f"{variant.label}: cibuildwheel exited {rc} after {seconds:.0f} s; log tail:\n{tail}")
        say(f"{variant.label}: cause: {failure_cause(log_path)}")
    return rc, seconds, out_dir


def remove_containers(engine: str) -> None:
    """Remove containers this run started (labelled), e.g. after an interrupt."""
    ids = subprocess.run(
        [engine, "ps", "-aq", "--filter", f"label={RUN_LABEL}"], capture_output=True, text=True, check=False
    ).stdout.split()
    if ids:
        say(f"removing {len(ids)} leftover container(s) of this run")
        subprocess.run([engine, "rm", "-f", *ids], capture_output=True, check=False)


def failure_cause(log_path: Path) -> str:
    """The first line of a failed cibuildwheel log that says what broke."""
    lines = log_path.read_text(errors="replace").splitlines()
    for marker in (": error: ", "FAILED: ", "Error: ", "cibuildwheel: error: "):
        for line in lines:
            if marker in line and "-Werror" not in line:
                return line.strip()[:300]
    return (lines[-1].strip() if lines else "empty log")[:300]


def collect(
    variant: Variant, rc: int, seconds: float, out_dir: Path, dist: Path, reports: Path, skip_tests: bool
) -> WheelResult:
    result = WheelResult(variant=variant.label, image=variant.image)
    wheels = sorted(out_dir.glob("*.whl"))
    kept = sorted((out_dir.parent.parent / "kept" / variant.name).glob("*.whl"))
    if not wheels and kept:
        # Built and repaired, but the tests failed in the container: keep it.
        wheels = kept
        result.error = "tests failed in the build container (wheel kept)"
    if not wheels:
        log_path = reports / f"cibuildwheel-{variant.image}-{variant.name}.log"
        cause = failure_cause(log_path) if log_path.exists() else "no log"
        result.error = result.error or f"cibuildwheel failed (exit {rc}), no wheel: {cause}"
        return result
    wheel = wheels[0]
    final = dist / wheel.name
    shutil.copy2(wheel, final)
    result.wheel = wheel.name
    result.tag = wheel_tag(wheel.name)
    result.size_bytes = final.stat().st_size
    result.sha256 = sha256_of(final)
    build_info = read_json(reports / f"{wheel.name}.build.json")
    test_info = read_json(reports / f"{wheel.name}.test.json")
    result.auditwheel_policy = build_info.get("auditwheel_policy", "")
    result.ccache = build_info.get("ccache", {})
    if test_info:
        result.test_seconds = test_info.get("test_seconds")
        result.conformance = test_info.get("conformance", {})
        smoke_ok = test_info.get("smoke", {}).get("status") == "ok"
        result.simd = {k: test_info.get("simd", {}).get(k) for k in ("status", "kernels", "models")}
        simd_ok = result.simd["status"] == "passed"
        # Like pytest's exit code 5: a test run that ran no conformance case is not a pass.
        conf_ok = result.conformance.get("status") == "passed" and result.conformance.get("total", 0) > 0
        result.tests = "passed" if smoke_ok and conf_ok and simd_ok else "failed"
        if not simd_ok:
            result.error = result.error or (
                "run-time kernel choice check "
                + (result.simd["status"] or "missing from the test report")
                + f", see {reports / (wheel.name + '.simd.json')}"
            )
        if not conf_ok and result.conformance.get("status") != "failed":
            result.error = result.error or (
                "no conformance case ran in emulation: " + result.conformance.get("reason", "0 cases")
            )
    elif not skip_tests:
        result.tests = "failed" if rc else "not run"
    result.build_seconds = round(seconds - (result.test_seconds or 0.0), 1)
    if rc != 0 and not result.error:
        result.error = f"cibuildwheel exited {rc}"
    if "abi3" in wheel.name:
        result.abi3audit = abi3audit(final, reports)
        if result.abi3audit != "clean" and not result.error:
            result.error = f"abi3audit --strict: {result.abi3audit}"
    return result


def abi3audit(wheel: Path, reports: Path) -> str:
    proc = subprocess.run(
        [sys.executable, "-m", "abi3audit", "--strict", "--report", str(wheel)],
        capture_output=True,
        text=True,
        check=False,
    )
    (reports / f"{wheel.name}.abi3audit.json").write_text(proc.stdout + proc.stderr)
    if proc.returncode == 127 or "No module named" in proc.stderr:
        return "abi3audit not installed (pip install abi3audit)"
    if proc.returncode == 0:
        return "clean"
    return f"violations, see {reports / (wheel.name + '.abi3audit.json')}"


def pi_user_smoke(wheel: Path, run_image: str, engine: str, reports: Path) -> dict:
    """A second, clean container: pip install the wheel and run a model (ci.factory.smoke, from
    the project's ci/ mounted at /project/ci)."""
    cmd = [
        *armv7_images.run_command(engine, "linux/arm/v7"),
        f"--volume={wheel.parent}:/dist:ro",
        f"--volume={ROOT / 'ci'}:/project/ci:ro",
        "--env=PYTHONPATH=/project",
        run_image,
        "nice",
        "-n",
        "10",
        "python3",
        "-m",
        "ci.factory.smoke",
        f"/dist/{wheel.name}",
    ]
    t0 = time.monotonic()
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    seconds = round(time.monotonic() - t0, 1)
    (reports / f"{wheel.name}.pi-user.log").write_text(proc.stdout + proc.stderr)
    result: dict = {"seconds": seconds, "image": run_image}
    for line in reversed(proc.stdout.splitlines()):
        if line.startswith("{"):
            result.update(read_json_str(line))
            break
    if proc.returncode != 0 and result.get("smoke") != "ok":
        result["smoke"] = result.get("smoke") or "failed"
        result["error"] = (proc.stderr.strip().splitlines() or ["?"])[-1]
    return result


def read_json_str(text: str) -> dict:
    try:
        return json.loads(text)
    except ValueError:
        return {}


def write_report(dist: Path, wheels: list[dict], section: str, meta: dict) -> None:
    """SHA256SUMS over every wheel and sdist in dist/, whoever made it (so it stays right
    whichever build session ran last), and build-report.json with these `wheels` replacing
    their earlier entries (other sessions' wheels are kept) and `meta` under `section`."""
    lines = [
        f"{sha256_of(p)}  {p.name}"
        for p in sorted(dist.iterdir())
        if p.is_file() and (p.suffix == ".whl" or p.name.endswith(".tar.gz"))
    ]
    (dist / "SHA256SUMS").write_text("\n".join(lines) + ("\n" if lines else ""))
    report_path = dist / "build-report.json"
    report = read_json(report_path)
    mine = {w["wheel"] for w in wheels}
    kept = [w for w in report.get("wheels", []) if w.get("wheel") not in mine]
    report["wheels"] = kept + wheels
    report[section] = meta
    report_path.write_text(json.dumps(report, indent=2) + "\n")


def write_outputs(dist: Path, results: list[WheelResult], meta: dict) -> None:
    write_report(
        dist,
        [asdict(r) for r in results if r.wheel],
        "armv7",
        {**meta, "failures": [asdict(r) for r in results if not r.wheel]},
    )


def print_rows(rows: list[tuple]) -> None:
    """A plain-text table: the first row is the header."""
    widths = [max(len(str(row[i])) for row in rows) for i in range(len(rows[0]))]
    for n, row in enumerate(rows):
        print("  ".join(str(c).ljust(w) for c, w in zip(row, widths)).rstrip())
        if n == 0:
            print("  ".join("-" * w for w in widths))


def print_table(results: list[WheelResult]) -> None:
    rows = [
        (
            "variant",
            "wheel tag",
            "MiB",
            "build s",
            "test s",
            "ccache hit",
            "kernels",
            "conformance",
            "pi user",
            "policy",
        )
    ]
    for r in results:
        conf = r.conformance
        if "total" in conf:
            # passed/total, then known (listed) failures and surprises
            conf_s = (
                f"{conf['passed']}/{conf['total']} xf{conf.get('expected_failures', 0)} "
                f"new{conf.get('unexpected_failures', 0)}"
            )
        else:
            conf_s = conf.get("status", r.tests)
        hit = r.ccache.get("hit_rate")
        rows.append(
            (
                r.variant,
                r.tag or ("FAILED: " + r.error)[:100],
                f"{r.size_bytes / 2**20:.2f}" if r.wheel else "",
                f"{r.build_seconds:.0f}" if r.wheel else "",
                f"{r.test_seconds:.0f}" if r.test_seconds is not None else "-",
                f"{hit:.0%}" if isinstance(hit, (int, float)) else "-",
                "+".join(r.simd.get("kernels") or [])
                if r.simd.get("status") == "passed"
                else (r.simd.get("status") or "-"),
                conf_s,
                r.pi_user_smoke.get("smoke", "-") if r.wheel else "",
                r.auditwheel_policy,
            )
        )
    print_rows(rows)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="build_armv7", description="build the armv7l wheels")
    parser.add_argument(
        "--images",
        default=os.environ.get("PIONNX_ARMV7_IMAGES", "bullseye,bookworm,trixie"),
        help="comma-separated: bullseye, bookworm, trixie (default all)",
    )
    parser.add_argument(
        "--official-image",
        action="store_true",
        default=os.environ.get("PIONNX_ARMV7_OFFICIAL_IMAGE") == "1",
        help=f"build in {OFFICIAL_IMAGE} (needs a registry) instead of local images",
    )
    parser.add_argument("--skip-tests", action="store_true", help="build and repair only")
    parser.add_argument(
        "--conformance-subset",
        type=int,
        default=int(os.environ.get("PIONNX_ARMV7_SUBSET", "0")),
        help="at most N conformance cases per suite under emulation (default 0: all)",
    )
    parser.add_argument(
        "--stage", default="", help="build this earlier snapshot folder (e.g. dist/armv7/stage-bookworm) as it is"
    )
    parser.add_argument("--no-abi3", action="store_true", help="skip the cp312-abi3 wheel")
    parser.add_argument(
        "--no-ccache",
        action="store_true",
        help="compile every object (CCACHE_DISABLE=1 in the build container): the emulated compile's own cost",
    )
    parser.add_argument("--engine", default=os.environ.get("PIONNX_ARMV7_ENGINE", "docker"))
    parser.add_argument("--dist", default=str(ROOT / "dist"))
    args = parser.parse_args(argv)
    args.images = [i.strip() for i in args.images.replace(" ", ",").split(",") if i.strip()]
    unknown = [i for i in args.images if i not in DISTROS]
    if unknown:
        parser.error(f"unknown image(s) {unknown}; choose from {', '.join(DISTROS)}")
    return args


def _terminate(signum: int, frame: object) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def run_main(main: Callable[[], int], say: Callable[[str], None]) -> NoReturn:
    """Exit with main()'s status (the entry point of this factory and of build_cross): an
    interrupt (Ctrl-C, or SIGTERM through _terminate) exits 130, keeping what dist/ holds."""
    try:
        sys.exit(main())
    except KeyboardInterrupt as interrupt:
        say(f"interrupted ({str(interrupt) or 'Ctrl-C'}); wheels already in dist/ are kept")
        sys.exit(130)


def main(argv: list[str] | None = None) -> int:
    # SIGTERM (a CI timeout, `kill`) unwinds like Ctrl-C, so containers are removed.
    signal.signal(signal.SIGTERM, _terminate)
    args = parse_args(argv)
    t_start = time.monotonic()
    if args.no_ccache:
        # Passed into the build container (pyproject's environment-pass); cibuildwheel's
        # "Building wheel" step is then the emulated compile's whole cost.
        os.environ["CCACHE_DISABLE"] = "1"
    dist = Path(args.dist).resolve()
    work = dist / "armv7"
    reports = work / "reports"
    reports.mkdir(parents=True, exist_ok=True)

    say("step 1/6: host")
    try:
        armv7_host.prepare_host(
            fix=True,
            disk_paths=[dist, armv7_images.cache_dir(), Path("/var/lib")],
            need_local_tools=not args.official_image,
            engine=args.engine,
        )
    except (armv7_host.HostNotReady, subprocess.CalledProcessError) as err:
        say(f"host not ready: {err}")
        return 2

    say("step 2/6: images")
    # image -> (build tag, clean-run tag)
    images: dict[str, tuple[str, str]] = {}
    failures: list[WheelResult] = []
    for image in args.images:
        distro = DISTROS[image]
        if args.official_image:
            # The official image has every CPython; it stands in for each
            # generation's interpreter (glibc 2.31 for all).
            images[image] = (OFFICIAL_IMAGE, OFFICIAL_IMAGE)
            continue
        try:
            images[image] = (
                armv7_images.ensure_image(distro, "build", args.engine),
                armv7_images.ensure_image(distro, "run", args.engine),
            )
        except (armv7_images.ImageBuildError, subprocess.CalledProcessError) as err:
            say(f"image {image} FAILED, skipping its wheels: {err}")
            for variant in variants_for([image], abi3=not args.no_abi3):
                failures.append(
                    WheelResult(
                        variant=variant.label,
                        image=image,
                        tests="not built",
                        error=f"image build failed: {str(err).splitlines()[0]}",
                    )
                )
    if not images:
        write_outputs(dist, failures, {"images": {}, "wall_seconds": round(time.monotonic() - t_start, 1)})
        print_table(failures)
        say("no image could be made; nothing built")
        return 1
    try:
        armv7_host.smoke_test_arm(args.engine, next(iter(images.values()))[1])
    except armv7_host.HostNotReady as err:
        say(f"armv7 containers do not run: {err}")
        return 2

    say("step 3/6: conformance cases")
    # Per-run folders, so two runs for different images can go side by side.
    run_key = "-".join(args.images) + ("-official" if args.official_image else "")
    cases_dir = work / f"conformance-{run_key}"
    cases = ""
    export_error = "--skip-tests"
    if not args.skip_tests:
        export_error = export_conformance(cases_dir, args.conformance_subset)
        if not export_error:
            cases = host_path(cases_dir)

    say("steps 4-5/6: per wheel, cibuildwheel (build, repair, test in emulation), then a clean-container pip install")
    if args.stage:
        stage = Path(args.stage).resolve()
        say(f"building the existing snapshot {stage} (--stage), not the working tree")
    else:
        stage = stage_project(work / f"stage-{run_key}")
    results: list[WheelResult] = []
    for variant in variants_for([i for i in args.images if i in images], abi3=not args.no_abi3):
        build_tag, run_tag = images[variant.image]
        rc, seconds, out_dir = run_cibuildwheel(
            variant, build_tag, stage, work, reports, cases, args.skip_tests, args.engine
        )
        result = collect(variant, rc, seconds, out_dir, dist, reports, args.skip_tests)
        if result.wheel:
            say(
                f"{variant.label}: {result.wheel} ({result.size_bytes / 2**20:.2f} MiB, "
                f"{result.build_seconds:.0f} s build, tests {result.tests})"
            )
        else:
            say(f"{variant.label}: FAILED: {result.error}")
        # step 5: the Pi user's view, in a clean container
        if result.wheel and not args.skip_tests and not args.official_image:
            result.pi_user_smoke = pi_user_smoke(dist / result.wheel, run_tag, args.engine, reports)
            say(
                f"{variant.label}: clean-container pip install + model: "
                f"{result.pi_user_smoke.get('smoke')} ({result.pi_user_smoke['seconds']:.0f} s)"
            )
            if result.pi_user_smoke.get("smoke") != "ok":
                result.tests = "failed"
        results.append(result)

    say("step 6/6: dist")
    all_results = failures + results
    meta = {
        "build_path": "emulated (cibuildwheel under QEMU)",
        "images": {k: v[0] for k, v in images.items()},
        "official_image": args.official_image,
        "conformance_export": "ok" if not export_error else export_error,
        "musllinux": "skipped: Raspberry Pi OS and the other armv7 boards we target are "
        "glibc (Debian); musl armv7 users build from the sdist",
        "wall_seconds": round(time.monotonic() - t_start, 1),
        "source": f"snapshot {stage} (--stage)" if args.stage else source_revision(),
    }
    write_outputs(dist, all_results, meta)
    print()
    print_table(all_results)
    print(
        f"\n{len([r for r in all_results if r.wheel])} wheel(s) in {dist}; "
        f"reports in {reports.relative_to(ROOT) if reports.is_relative_to(ROOT) else reports}; "
        f"{meta['wall_seconds']:.0f} s"
    )
    bad = [r for r in all_results if not r.wheel or r.error or r.tests == "failed"]
    for r in bad:
        say(f"FAILED {r.variant}: {r.error or 'tests failed'}")
    return 1 if bad else 0


if __name__ == "__main__":
    run_main(main, say)
