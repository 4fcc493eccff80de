"""The onnxruntime-compatible Python API: sessions, NodeArg, run, metadata, options."""

from __future__ import annotations

import os

import numpy as np
import onnx
import pytest
from models import WEIGHTS, add_mul, external_weight_model, fixed_add, identity, model, tensor
from onnx import TensorProto, helper

import pionnx


def session(m: onnx.ModelProto, **kwargs) -> pionnx.InferenceSession:
    return pionnx.InferenceSession(m.SerializeToString(), **kwargs)


# ---------------------------------------------------------------- module level


def test_version_is_a_version_string():
    assert isinstance(pionnx.__version__, str)
    assert pionnx.__version__[:1].isdigit()


def test_providers_and_device():
    assert pionnx.get_available_providers() == ["CPUExecutionProvider"]
    assert pionnx.get_device() == "CPU"
    sess = session(identity(TensorProto.FLOAT, [2]))
    assert sess.get_providers() == ["CPUExecutionProvider"]


def test_providers_argument_accepts_cpu():
    sess = session(identity(TensorProto.FLOAT, [2]), providers=["CPUExecutionProvider"])
    x = np.array([1, 2], dtype=np.float32)
    np.testing.assert_array_equal(sess.run(None, {"x": x})[0], x)


def test_exception_hierarchy():
    assert issubclass(pionnx.InvalidArgument, ValueError)
    assert issubclass(pionnx.Fail, RuntimeError)
    assert issubclass(pionnx.InvalidGraph, RuntimeError)
    assert issubclass(pionnx.NotImplemented, RuntimeError)


# ---------------------------------------------------------------- NodeArg


def test_nodearg_names_shapes_types():
    sess = session(add_mul())
    inputs, outputs = sess.get_inputs(), sess.get_outputs()
    assert [i.name for i in inputs] == ["a", "b"]
    assert [o.name for o in outputs] == ["sum", "prod"]
    for arg in inputs + outputs:
        assert arg.shape == ["N", 3]
        assert arg.type == "tensor(float)"


def test_nodearg_unknown_dimension_is_none():
    sess = session(identity(TensorProto.FLOAT, ["batch", None, 4]))
    assert sess.get_inputs()[0].shape == ["batch", None, 4]


def test_nodearg_scalar_has_empty_shape():
    sess = session(identity(TensorProto.INT64, []))
    assert sess.get_inputs()[0].shape == []
    assert sess.get_inputs()[0].type == "tensor(int64)"


# The element types checked, by TensorProto name; onnxruntime's type string for each is
# "tensor(<that name in lower case>)", e.g. FLOAT16 -> "tensor(float16)".
ELEM_TYPE_NAMES = "FLOAT DOUBLE FLOAT16 INT8 INT16 INT32 INT64 UINT8 UINT16 UINT32 UINT64 BOOL STRING".split()


@pytest.mark.parametrize(
    ("elem_type", "type_string"),
    [(getattr(TensorProto, name), f"tensor({name.lower()})") for name in ELEM_TYPE_NAMES],
)
def test_nodearg_type_strings(elem_type, type_string):
    sess = session(identity(elem_type, [2]))
    assert sess.get_inputs()[0].type == type_string
    assert sess.get_outputs()[0].type == type_string


def test_nodearg_has_a_readable_repr():
    arg = session(add_mul()).get_inputs()[0]
    assert "a" in repr(arg)


def bias_input_model() -> onnx.ModelProto:
    """y = x + bias, with the initializer bias ([10, 20, 30]) also listed as a graph input."""
    bias = helper.make_tensor("bias", TensorProto.FLOAT, [3], [10.0, 20.0, 30.0])
    return model(
        [helper.make_node("Add", ["x", "bias"], ["y"], name="add_bias")],
        [tensor("x", TensorProto.FLOAT, [3]), tensor("bias", TensorProto.FLOAT, [3])],
        [tensor("y", TensorProto.FLOAT, [3])],
        initializers=[bias],
    )


def test_overridable_initializers():
    # IR >= 4: an initializer that is also a graph input is a default the caller may override.
    sess = session(bias_input_model())
    assert [i.name for i in sess.get_inputs()] == ["x"]
    overridable = sess.get_overridable_initializers()
    assert [i.name for i in overridable] == ["bias"]
    assert overridable[0].shape == [3]
    assert overridable[0].type == "tensor(float)"
    x = np.zeros(3, dtype=np.float32)
    np.testing.assert_array_equal(sess.run(None, {"x": x})[0], [10, 20, 30])
    new_bias = np.array([1, 2, 3], dtype=np.float32)
    np.testing.assert_array_equal(sess.run(None, {"x": x, "bias": new_bias})[0], new_bias)
    # The next run without the feed reads the default again (runs read initializers where they lie).
    np.testing.assert_array_equal(sess.run(None, {"x": x})[0], [10, 20, 30])


def test_initializers_listed_as_inputs_below_ir4_are_constants(tmp_path):
    """Below IR 4 the spec lists every initializer as a graph input too; such an input is a constant,
    not a default: onnxruntime neither lists it as overridable nor accepts a feed for it (and pionnx's
    kernels may pack it once per session)."""
    m = bias_input_model()
    m.ir_version = 3
    m.opset_import[0].version = 8
    data = m.SerializeToString()
    x = np.zeros(3, dtype=np.float32)
    sess = pionnx.InferenceSession(data)
    assert [i.name for i in sess.get_inputs()] == ["x"]
    assert sess.get_overridable_initializers() == []
    np.testing.assert_array_equal(sess.run(None, {"x": x})[0], [10, 20, 30])
    with pytest.raises(pionnx.InvalidArgument, match="unknown input 'bias'"):
        sess.run(None, {"x": x, "bias": np.ones(3, np.float32)})
    # The optimized model is written at IR 4 or later, where an initializer listed as an input would be
    # overridable: it is written as a plain initializer, so it stays a constant.
    opts = pionnx.SessionOptions()
    opts.optimized_model_filepath = str(tmp_path / "optimized.onnx")
    pionnx.InferenceSession(data, opts)
    written = onnx.load(opts.optimized_model_filepath)
    assert written.ir_version >= 4 and [i.name for i in written.graph.input] == ["x"]
    assert [t.name for t in written.graph.initializer] == ["bias"]
    onnx.checker.check_model(written)
    ort = pytest.importorskip("onnxruntime")
    ref = ort.InferenceSession(data, providers=["CPUExecutionProvider"])
    assert [i.name for i in ref.get_inputs()] == ["x"] and ref.get_overridable_initializers() == []
    with pytest.raises(Exception, match="bias"):
        ref.run(None, {"x": x, "bias": np.ones(3, np.float32)})


def test_plain_initializer_is_not_an_input():
    sess = session(fixed_add())
    assert [i.name for i in sess.get_inputs()] == ["x"]
    assert sess.get_overridable_initializers() == []


# ---------------------------------------------------------------- run


def test_run_all_outputs_in_graph_order():
    sess = session(add_mul())
    a = np.arange(6, dtype=np.float32).reshape(2, 3)
    b = np.full((2, 3), 2.0, dtype=np.float32)
    out = sess.run(None, {"a": a, "b": b})
    assert isinstance(out, list) and len(out) == 2
    np.testing.assert_array_equal(out[0], a + b)
    np.testing.assert_array_equal(out[1], a * b)
    assert all(isinstance(o, np.ndarray) and o.dtype == np.float32 for o in out)


def test_run_output_subset_and_order():
    sess = session(add_mul())
    a = np.ones((1, 3), dtype=np.float32)
    b = np.full((1, 3), 3.0, dtype=np.float32)
    (prod,) = sess.run(["prod"], {"a": a, "b": b})
    np.testing.assert_array_equal(prod, a * b)
    prod, total = sess.run(["prod", "sum"], {"a": a, "b": b})
    np.testing.assert_array_equal(prod, a * b)
    np.testing.assert_array_equal(total, a + b)


def test_run_options_none_and_positional():
    sess = session(add_mul())
    a = np.ones((1, 3), dtype=np.float32)
    out = sess.run(["sum"], {"a": a, "b": a}, None)
    np.testing.assert_array_equal(out[0], a + a)
    out = sess.run(output_names=["sum"], input_feed={"a": a, "b": a}, run_options=None)
    np.testing.assert_array_equal(out[0], a + a)


@pytest.mark.parametrize("batch", [1, 3, 17])
def test_symbolic_dimension_takes_any_size(batch):
    sess = session(add_mul())
    a = np.random.default_rng(batch).random((batch, 3), dtype=np.float32)
    total, prod = sess.run(None, {"a": a, "b": a})
    np.testing.assert_allclose(total, a + a)
    np.testing.assert_allclose(prod, a * a)


def test_empty_tensor_round_trip():
    sess = session(identity(TensorProto.FLOAT, ["N", 3]))
    x = np.zeros((0, 3), dtype=np.float32)
    (y,) = sess.run(None, {"x": x})
    assert y.shape == (0, 3) and y.dtype == np.float32


def test_scalar_round_trip():
    sess = session(identity(TensorProto.INT64, []))
    (y,) = sess.run(None, {"x": np.array(42, dtype=np.int64)})
    assert y.shape == () and y == 42


def test_non_contiguous_feed():
    sess = session(identity(TensorProto.FLOAT, [3, 2]))
    base = np.arange(6, dtype=np.float32).reshape(2, 3)
    x = base.T  # a view with transposed strides
    assert not x.flags["C_CONTIGUOUS"]
    np.testing.assert_array_equal(sess.run(None, {"x": x})[0], x)


def test_read_only_feed():
    # np.frombuffer and numpy_helper.to_array give read-only arrays; inputs are never written.
    sess = session(identity(TensorProto.FLOAT, [3]))
    x = np.frombuffer(np.arange(3, dtype=np.float32).tobytes(), dtype=np.float32)
    assert not x.flags["WRITEABLE"]
    np.testing.assert_array_equal(sess.run(None, {"x": x})[0], [0, 1, 2])
    y = np.ones(3, dtype=np.float32)
    y.flags.writeable = False
    np.testing.assert_array_equal(sess.run(None, {"x": y})[0], y)


def test_feed_is_not_modified():
    sess = session(fixed_add())
    x = np.arange(6, dtype=np.float32).reshape(2, 3)
    before = x.copy()
    sess.run(None, {"x": x})
    np.testing.assert_array_equal(x, before)


def test_outputs_do_not_alias_between_runs():
    sess = session(fixed_add())
    x = np.zeros((2, 3), dtype=np.float32)
    (first,) = sess.run(None, {"x": x})
    (second,) = sess.run(None, {"x": x + 5})
    np.testing.assert_array_equal(first, np.ones((2, 3)))
    np.testing.assert_array_equal(second, np.full((2, 3), 6.0))


def test_session_runs_many_times():
    sess = session(fixed_add())
    for i in range(50):
        x = np.full((2, 3), float(i), dtype=np.float32)
        np.testing.assert_array_equal(sess.run(None, {"x": x})[0], x + 1)


# ---------------------------------------------------------------- dtypes

NUMERIC = [
    (TensorProto.FLOAT, np.float32),
    (TensorProto.DOUBLE, np.float64),
    (TensorProto.FLOAT16, np.float16),
    (TensorProto.INT8, np.int8),
    (TensorProto.INT16, np.int16),
    (TensorProto.INT32, np.int32),
    (TensorProto.INT64, np.int64),
    (TensorProto.UINT8, np.uint8),
    (TensorProto.UINT16, np.uint16),
    (TensorProto.UINT32, np.uint32),
    (TensorProto.UINT64, np.uint64),
]


@pytest.mark.parametrize(("elem_type", "np_type"), NUMERIC, ids=[np.dtype(t).name for _, t in NUMERIC])
def test_identity_round_trips_numeric(elem_type, np_type):
    info = np.finfo(np_type) if np.issubdtype(np_type, np.floating) else np.iinfo(np_type)
    x = np.array([[info.min, 0, 1], [info.max, 2, 3]], dtype=np_type)
    (y,) = session(identity(elem_type, [2, 3])).run(None, {"x": x})
    assert y.dtype == np.dtype(np_type)
    np.testing.assert_array_equal(y, x)


def test_identity_round_trips_float_specials():
    x = np.array([np.nan, np.inf, -np.inf, -0.0, 1e-45], dtype=np.float32)
    (y,) = session(identity(TensorProto.FLOAT, [5])).run(None, {"x": x})
    assert y.tobytes() == x.tobytes()


def test_identity_round_trips_bool():
    x = np.array([[True, False], [False, True]])
    (y,) = session(identity(TensorProto.BOOL, [2, 2])).run(None, {"x": x})
    assert y.dtype == np.bool_
    np.testing.assert_array_equal(y, x)


def test_identity_round_trips_string():
    x = np.array([["a", "", "héllo"], ["tab\there", "x" * 1000, "✓"]], dtype=object)
    (y,) = session(identity(TensorProto.STRING, [2, 3])).run(None, {"x": x})
    assert y.dtype == object
    assert y.shape == (2, 3)
    assert y.tolist() == x.tolist()


def test_string_feed_as_numpy_unicode_array():
    x = np.array(["ab", "c"])  # dtype <U2, as people write it
    (y,) = session(identity(TensorProto.STRING, [2])).run(None, {"x": x})
    assert y.tolist() == ["ab", "c"]


# ---------------------------------------------------------------- metadata and options


def test_get_modelmeta():
    m = add_mul()
    m.producer_name = "pionnx-tests"
    m.domain = "org.pionnx.test"
    m.model_version = 7
    m.doc_string = "adds and multiplies"
    m.graph.name = "add_mul_graph"
    m.graph.doc_string = "the graph"
    helper.set_model_props(m, {"author": "tests", "licence": "MIT"})
    meta = session(m).get_modelmeta()
    assert meta.producer_name == "pionnx-tests"
    assert meta.graph_name == "add_mul_graph"
    assert meta.domain == "org.pionnx.test"
    assert meta.description == "adds and multiplies"
    assert meta.graph_description == "the graph"
    assert meta.version == 7
    assert meta.custom_metadata_map == {"author": "tests", "licence": "MIT"}


def test_session_options_fields():
    opts = pionnx.SessionOptions()
    opts.intra_op_num_threads = 3
    assert opts.intra_op_num_threads == 3
    opts.log_severity_level = 3
    assert opts.log_severity_level == 3
    for level in (
        pionnx.GraphOptimizationLevel.ORT_DISABLE_ALL,
        pionnx.GraphOptimizationLevel.ORT_ENABLE_BASIC,
        pionnx.GraphOptimizationLevel.ORT_ENABLE_EXTENDED,
        pionnx.GraphOptimizationLevel.ORT_ENABLE_ALL,
    ):
        opts.graph_optimization_level = level
        assert opts.graph_optimization_level == level


@pytest.mark.parametrize("level", ["ORT_DISABLE_ALL", "ORT_ENABLE_BASIC", "ORT_ENABLE_EXTENDED", "ORT_ENABLE_ALL"])
@pytest.mark.parametrize("threads", [1, 2])
def test_every_optimization_level_gives_the_same_answer(level, threads):
    opts = pionnx.SessionOptions()
    opts.graph_optimization_level = getattr(pionnx.GraphOptimizationLevel, level)
    opts.intra_op_num_threads = threads
    sess = session(fixed_add(), sess_options=opts)
    x = np.arange(6, dtype=np.float32).reshape(2, 3)
    np.testing.assert_array_equal(sess.run(None, {"x": x})[0], x + 1)


# ---------------------------------------------------------------- loading


def test_load_from_path_str_pathlike_and_bytes(tmp_path):
    m = fixed_add()
    path = tmp_path / "model.onnx"
    onnx.save(m, str(path))
    x = np.ones((2, 3), dtype=np.float32)
    for source in (str(path), path, path.read_bytes()):
        (y,) = pionnx.InferenceSession(source).run(None, {"x": x})
        np.testing.assert_array_equal(y, x + 1)


def test_external_data_next_to_the_model(tmp_path, monkeypatch):
    folder = tmp_path / "model_dir"
    (folder / "weights").mkdir(parents=True)
    (folder / "weights" / "w.bin").write_bytes(b"\0" * 8 + WEIGHTS.tobytes())
    onnx.save(external_weight_model("weights/w.bin", offset=8, length=16), str(folder / "model.onnx"))
    # Resolved against the model's folder, not the working directory.
    monkeypatch.chdir(tmp_path)
    x = np.ones(4, dtype=np.float32)
    (y,) = pionnx.InferenceSession(str(folder / "model.onnx")).run(None, {"x": x})
    np.testing.assert_array_equal(y, x + WEIGHTS)


def test_external_data_saved_by_onnx(tmp_path):
    w = np.linspace(-1, 1, 4096, dtype=np.float32)
    m = model(
        [helper.make_node("Add", ["x", "w"], ["y"], name="add_w")],
        [tensor("x", TensorProto.FLOAT, [4096])],
        [tensor("y", TensorProto.FLOAT, [4096])],
        initializers=[onnx.numpy_helper.from_array(w, "w")],
    )
    path = tmp_path / "big.onnx"
    onnx.save(m, str(path), save_as_external_data=True, location="big.onnx.data", size_threshold=0)
    assert (tmp_path / "big.onnx.data").exists()
    x = np.ones(4096, dtype=np.float32)
    (y,) = pionnx.InferenceSession(str(path)).run(None, {"x": x})
    np.testing.assert_array_equal(y, x + w)


def test_tensor_from_proto_reads_onnx_tensors():
    for array in (
        np.arange(12, dtype=np.float32).reshape(3, 4),
        np.array([-1, 0, 2**40], dtype=np.int64),
        np.array([True, False]),
        np.array(3.5, dtype=np.float64),
        np.array([1.5, -2], dtype=np.float16),
    ):
        got = pionnx.tensor_from_proto(onnx.numpy_helper.from_array(array).SerializeToString())
        assert got.dtype == array.dtype and got.shape == array.shape
        np.testing.assert_array_equal(got, array)
    strings = np.array(["a", "bc"], dtype=object)
    got = pionnx.tensor_from_proto(onnx.numpy_helper.from_array(strings).SerializeToString())
    assert [s.decode() if isinstance(s, bytes) else s for s in got.tolist()] == ["a", "bc"]


def test_tensor_from_proto_reads_typed_fields():
    # Not raw_data: the typed repeated fields (float_data, int64_data, ...) too.
    t = helper.make_tensor("t", TensorProto.FLOAT, [2, 2], [1.0, 2.0, 3.0, 4.0], raw=False)
    got = pionnx.tensor_from_proto(t.SerializeToString())
    np.testing.assert_array_equal(got, np.array([[1, 2], [3, 4]], dtype=np.float32))
    t = helper.make_tensor("t", TensorProto.INT32, [3], [-1, 0, 7], raw=False)
    np.testing.assert_array_equal(pionnx.tensor_from_proto(t.SerializeToString()), [-1, 0, 7])


def test_session_is_usable_from_threads():
    from concurrent.futures import ThreadPoolExecutor

    sess = session(fixed_add())

    def work(i: int) -> bool:
        x = np.full((2, 3), float(i), dtype=np.float32)
        return bool(np.array_equal(sess.run(None, {"x": x})[0], x + 1))

    with ThreadPoolExecutor(4) as pool:
        assert all(pool.map(work, range(64)))


def test_no_stray_files_written(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    session(fixed_add()).run(None, {"x": np.zeros((2, 3), dtype=np.float32)})
    assert os.listdir(tmp_path) == []


def test_python_m_pionnx_conformance_help():
    from models import run_python

    proc = run_python(
        "import runpy, sys; sys.argv = ['x', '--help']; runpy.run_module('pionnx.conformance', run_name='__main__')"
    )
    assert proc.returncode == 0, proc.stderr
    assert "export" in proc.stdout and "run" in proc.stdout


def test_session_does_not_depend_on_the_model_file_after_loading(tmp_path):
    """The file is decoded straight from a read-only mapping; nothing may point into it afterwards."""
    m = fixed_add()
    path = tmp_path / "model.onnx"
    path.write_bytes(m.SerializeToString())
    sess = pionnx.InferenceSession(str(path))
    path.write_bytes(b"\0" * 4096)  # overwritten in place...
    path.unlink()  # ...then gone
    x = np.arange(6, dtype=np.float32).reshape(2, 3)
    np.testing.assert_array_equal(sess.run(None, {"x": x})[0], x + 1)
    assert sess.get_inputs()[0].name == "x"
