"""The sdist alone builds pionnx: unpacked into an empty folder (no git checkout, no build/, no
source tree beside it), built into a wheel, installed in a fresh venv, and a model run there.

This is what `pip install pionnx` does on a machine with no wheel for it (musl, a new Python),
and what the release's sdist must allow. The sdist is made by ci.factory.release, the same step as
the release workflow and `nox -s release`, which also checks what it holds.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tarfile
import textwrap
import venv
from pathlib import Path

import numpy as np
import onnx
import pytest
from models import add_mul

from ci.factory import release

ROOT = Path(__file__).resolve().parents[2]


def run(cmd: list[str], **kw) -> subprocess.CompletedProcess:
    proc = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, check=False, **kw)
    assert proc.returncode == 0, f"$ {' '.join(map(str, cmd))}\n{proc.stdout[-4000:]}"
    return proc


def test_sdist_holds_what_a_build_needs_and_nothing_generated(tmp_path):
    sdist = release.build_sdist(tmp_path / "dist")
    assert release.sdist_problems(sdist) == []
    with tarfile.open(sdist) as tar:
        names = tar.getnames()
    assert sdist.name == f"pionnx-{release.read_version()}.tar.gz"
    assert all(n.startswith(sdist.name[:-7] + "/") for n in names), names[:5]
    # The check itself sees what it must refuse.
    bad = tmp_path / "bad.tar.gz"
    with tarfile.open(bad, "w:gz") as tar:
        for rel in ("pyproject.toml", "build/cp311/CMakeCache.txt", "tests/fuzz/corpus/x", "pionnx/_core.so"):
            f = tmp_path / "f"
            f.write_text("x")
            tar.add(f, arcname=f"pionnx-0/{rel}")
    problems = release.sdist_problems(bad)
    assert "holds build/cp311/CMakeCache.txt" in problems
    assert "holds tests/fuzz/corpus/x" in problems
    assert "holds pionnx/_core.so" in problems
    assert "missing CMakeLists.txt" in problems


@pytest.mark.timeout(1800)
def test_wheel_built_from_the_sdist_alone_runs_a_model(tmp_path):
    sdist = release.build_sdist(tmp_path / "dist")
    src = tmp_path / "empty"
    src.mkdir()
    with tarfile.open(sdist) as tar:
        if sys.version_info >= (3, 12):
            tar.extractall(src, filter="data")
        else:
            tar.extractall(src)
    (unpacked,) = src.iterdir()
    assert not (unpacked / ".git").exists()

    env = dict(os.environ, CMAKE_BUILD_PARALLEL_LEVEL=os.environ.get("CMAKE_BUILD_PARALLEL_LEVEL", "2"))
    wheels = tmp_path / "wheels"
    # An isolated build from the unpacked folder: only what the sdist holds and its build requirements.
    # Unoptimized (-O0): whether the sdist holds what a build needs does not depend on the optimizer,
    # and the compile is a quarter of -O3's (this test was 340 of the suite's 500 s on 2 cores). The
    # optimized build of the same CMake project is the one the suite itself runs against.
    run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--config-settings=cmake.define.CMAKE_CXX_FLAGS_RELEASE=-O0 -DNDEBUG",
            "--wheel-dir",
            str(wheels),
            str(unpacked),
        ],
        cwd=tmp_path,
        env=env,
    )
    (wheel,) = wheels.glob("pionnx-*.whl")
    assert wheel.name.startswith(f"pionnx-{release.read_version()}-")

    env_dir = tmp_path / "venv"
    venv.create(env_dir, with_pip=True)
    py = str(env_dir / "bin" / "python")
    run([py, "-m", "pip", "install", "--quiet", str(wheel)], cwd=tmp_path)  # numpy comes from the index

    model_path = tmp_path / "add_mul.onnx"
    onnx.save(add_mul(), model_path)
    a = np.arange(6, dtype=np.float32).reshape(2, 3)
    b = np.full((2, 3), 0.5, dtype=np.float32)
    np.save(tmp_path / "a.npy", a)
    np.save(tmp_path / "b.npy", b)
    code = textwrap.dedent(f"""
        import numpy as np, pionnx
        sess = pionnx.InferenceSession({str(model_path)!r})
        s, p = sess.run(None, {{"a": np.load({str(tmp_path / "a.npy")!r}), "b": np.load({str(tmp_path / "b.npy")!r})}})
        np.save({str(tmp_path / "sum.npy")!r}, s)
        np.save({str(tmp_path / "prod.npy")!r}, p)
        print(pionnx.__file__, pionnx.__version__)
    """)
    out = run([py, "-c", code], cwd=tmp_path).stdout
    assert str(env_dir) in out, out  # the venv's pionnx, not the source tree's
    assert out.split()[-1] == release.read_version()
    np.testing.assert_array_equal(np.load(tmp_path / "sum.npy"), a + b)
    np.testing.assert_array_equal(np.load(tmp_path / "prod.npy"), a * b)
