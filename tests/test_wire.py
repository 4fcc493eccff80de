"""pionnx._wire, the protobuf writer for places without onnx (the armv7 smoke
model, tests that also run on the board), writes models onnx accepts."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import onnx
from onnx import numpy_helper

import pionnx
from ci.factory import tiny_model
from pionnx import _wire


def test_smoke_model_is_valid_onnx_and_runs():
    data = tiny_model.model_bytes()
    m = onnx.load_from_string(data)
    onnx.checker.check_model(m, full_check=True)
    assert [n.op_type for n in m.graph.node] == ["MatMul", "Add", "Relu"]
    np.testing.assert_array_equal(numpy_helper.to_array(m.graph.initializer[0]).ravel(), tiny_model.W)
    np.testing.assert_array_equal(numpy_helper.to_array(m.graph.initializer[1]), np.float32(tiny_model.B))
    x = np.random.default_rng(0).standard_normal((2, 3)).astype(np.float32)
    y = pionnx.InferenceSession(data).run(None, {"X": x})[0]
    np.testing.assert_allclose(y, tiny_model.expected(x), atol=1e-6)


def test_attributes_round_trip():
    w = np.arange(2 * 3 * 3 * 3, dtype=np.float32).reshape(2, 3, 3, 3)
    data = _wire.model(
        [_wire.node("Conv", ["x", "w"], ["y"], [_wire.attr_ints("pads", [1, 1, 1, 1]), _wire.attr_int("group", 1)])],
        [_wire.tensor("w", w.shape, w.tobytes())],
        [_wire.value_info("x", [1, 3, 4, 4])],
        [_wire.value_info("y", [1, 2, 4, 4])],
    )
    m = onnx.load_from_string(data)
    onnx.checker.check_model(m, full_check=True)
    attrs = {a.name: onnx.helper.get_attribute_value(a) for a in m.graph.node[0].attribute}
    assert attrs == {"pads": [1, 1, 1, 1], "group": 1}


ROOT = Path(__file__).resolve().parent.parent


def test_one_schema_matches_onnx_proto():
    """The field numbers the C++ reader and writer and this Python writer use come from one table,
    generated from onnx's onnx.proto; regenerating it must change nothing."""
    proc = subprocess.run(
        [sys.executable, "-m", "ci.tools.gen_onnx_fields", "--check"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    from pionnx import _onnx_fields as F

    assert F.TensorProto.raw_data == onnx.TensorProto.DESCRIPTOR.fields_by_name["raw_data"].number


def test_no_field_number_is_written_outside_the_schema():
    reader = (ROOT / "runtime" / "src" / "proto" / "onnx.cc").read_text()
    writer = (ROOT / "runtime" / "src" / "proto" / "writer.cc").read_text()
    python = (ROOT / "bindings" / "pionnx" / "_wire.py").read_text()
    assert not re.findall(r"\bcase \d+:|\b[fg] [=!]= \d+\b", reader), "onnx.cc names a field by number"
    assert not re.findall(r"\.(?:int_field|float_field|bytes_field|str|packed_ints|packed_floats|msg)\(\d+,", writer)
    assert not re.findall(r"\b(?:int_field|bytes_field)\(\d+,", python), "_wire.py names a field by number"
