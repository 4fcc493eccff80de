"""ci.factory.release's collect step: what it accepts as a complete release and what it refuses."""

from __future__ import annotations

from pathlib import Path

import pytest

from ci.factory import release

ROOT = Path(__file__).resolve().parents[2]

V = "1.2.3"


def full_set(version: str = V) -> list[str]:
    names = [f"pionnx-{version}.tar.gz"]
    plat = {
        "x86_64": "manylinux_2_27_x86_64.manylinux_2_28_x86_64",
        "aarch64": "manylinux_2_31_aarch64",
        "armv7l": "manylinux_2_31_armv7l",
    }
    for arch in release.ARCHES:
        for py in release.PYTHONS:
            tag = "cp312-abi3" if py == "abi3" else f"cp{py.replace('.', '')}-cp{py.replace('.', '')}"
            names.append(f"pionnx-{version}-{tag}-{plat[arch]}.whl")
    return names


@pytest.mark.parametrize(
    ("name", "key"),
    [
        ("pionnx-1.2.3-cp39-cp39-manylinux_2_31_armv7l.whl", ("1.2.3", "armv7l", "3.9")),
        ("pionnx-1.2.3-cp310-cp310-manylinux_2_27_x86_64.manylinux_2_28_x86_64.whl", ("1.2.3", "x86_64", "3.10")),
        ("pionnx-1.2.3-cp312-abi3-manylinux_2_31_aarch64.whl", ("1.2.3", "aarch64", "abi3")),
        ("pionnx-1.2.3.tar.gz", None),
        ("other-1.0-py3-none-any.whl", None),
    ],
)
def test_wheel_names_are_read(name, key):
    assert release.wheel_key(name) == key


def test_a_complete_release_passes():
    problems, matrix = release.coverage_problems(full_set(), V, set())
    assert problems == []
    assert len(matrix) == len(release.ARCHES) * len(release.PYTHONS)
    assert all(isinstance(v, list) and len(v) == 1 for v in matrix.values())


def test_a_missing_wheel_a_wrong_version_and_a_missing_sdist_are_refused():
    files = [f for f in full_set() if "cp311-cp311-manylinux_2_31_armv7l" not in f and not f.endswith(".tar.gz")]
    files.append("pionnx-1.2.4-cp39-cp39-manylinux_2_31_armv7l.whl")
    problems, matrix = release.coverage_problems(files, V, set())
    assert "no armv7l wheel for CPython 3.11" in problems
    assert any("version 1.2.4" in p for p in problems)
    assert f"the sdist pionnx-{V}.tar.gz is missing" in problems
    assert matrix["armv7l/3.11"] is None


def test_only_a_documented_gap_may_be_missing():
    files = [f for f in full_set() if "cp310-cp310-manylinux_2_31_a" not in f]
    problems, _ = release.coverage_problems(files, V, set())
    assert sorted(problems) == ["no aarch64 wheel for CPython 3.10", "no armv7l wheel for CPython 3.10"]
    report = {
        "cross": {
            "not_built": [
                {"arch": "armv7l", "python": "3.10", "note": "no Debian suite ships Python 3.10 for ARM"},
                {"arch": "aarch64", "python": "3.10", "note": "no Debian suite ships Python 3.10 for ARM"},
                {"arch": "armv7l", "python": "3.9", "note": "", "error": "compile failed"},
            ]
        }
    }
    gaps = release.documented_gaps(report)
    assert gaps == {"armv7l/3.10", "aarch64/3.10"}
    problems, matrix = release.coverage_problems(files, V, gaps)
    assert problems == [] and matrix["armv7l/3.10"] == "documented gap"


def test_the_version_comes_from_one_file():
    text = (ROOT / "bindings" / "pionnx" / "_version.py").read_text()
    assert f'__version__ = "{release.read_version()}"' in text
    # Nothing else spells the version out for the build: pyproject reads that file, CMake too.
    pyproject = (ROOT / "pyproject.toml").read_text()
    assert 'input = "bindings/pionnx/_version.py"' in pyproject
    assert release.read_version() not in pyproject
    assert "bindings/pionnx/_version.py" in (ROOT / "runtime" / "CMakeLists.txt").read_text()


def test_the_installed_module_reports_the_same_version():
    import pionnx
    from pionnx import _core

    assert pionnx.__version__ == _core.__version__ == release.read_version()
