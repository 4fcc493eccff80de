"""pionnx is typed: _core's stub is current, the package ships py.typed, and `mypy --strict`
passes on a script that uses the onnxruntime-style API (and fails on one that misuses it)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from onnx import TensorProto, helper

import pionnx

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "tests" / "typing" / "sample_api.py"


def mypy(*args: str) -> subprocess.CompletedProcess[str]:
    pytest.importorskip("mypy")
    return subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--no-incremental", "--cache-dir", "/dev/null", *args],
        capture_output=True,
        text=True,
        cwd=ROOT / "tests",  # not the repository root: mypy must check the installed pionnx
    )


def test_package_ships_types() -> None:
    package = Path(pionnx.__file__).parent
    assert (package / "py.typed").is_file()
    assert (package / "_core.pyi").is_file()


def test_core_stub_is_current() -> None:
    pytest.importorskip("nanobind")
    import nanobind

    stub = (ROOT / "bindings" / "pionnx" / "_core.pyi").read_text()
    if f"(nanobind {nanobind.__version__} stubgen)" not in stub.splitlines()[0]:
        pytest.skip(f"the stub comes from another nanobind than {nanobind.__version__}; its output format differs")
    proc = subprocess.run(
        [sys.executable, "-m", "ci.tools.gen_stubs", "--check"], capture_output=True, text=True, cwd=ROOT
    )
    assert proc.returncode == 0, proc.stderr


def test_sample_is_strict_clean() -> None:
    proc = mypy(str(SAMPLE))
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_strict_mypy_catches_misuse(tmp_path: Path) -> None:
    bad = tmp_path / "bad.py"
    bad.write_text(
        "import pionnx as ort\n"
        "s = ort.InferenceSession('m.onnx')\n"
        "s.run(None, 3)\n"  # input_feed must be a dict
        "v = ort.OrtValue.ortvalue_from_shape_and_type([2], 1)\n"
        "n: str = v.element_type()\n"  # an int
    )
    proc = mypy(str(bad))
    assert proc.returncode == 1
    assert 'Argument 2 to "run" of "InferenceSession" has incompatible type "int"' in proc.stdout
    assert 'Incompatible types in assignment (expression has type "int", variable has type "str")' in proc.stdout


def test_sample_runs(tmp_path: Path) -> None:
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 3])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", 3])
    graph = helper.make_graph([helper.make_node("Relu", ["x"], ["y"])], "g", [x], [y])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 9
    path = tmp_path / "relu.onnx"
    path.write_bytes(model.SerializeToString())
    proc = subprocess.run([sys.executable, str(SAMPLE), str(path), "x"], capture_output=True, text=True, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["6", "True", "True", "['QDQSelectorActionTransformer']"]
