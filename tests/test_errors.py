"""Bad input must raise a Python exception that names the problem, never crash.

The nastiest inputs (broken model files, external data pointing anywhere) run
in a child interpreter: a segfault there fails one test instead of killing the
test run.
"""

from __future__ import annotations

import os
import random

import numpy as np
import onnx
import pytest
from models import (
    WEIGHTS,
    add_mul,
    describe,
    external_weight_model,
    fixed_add,
    identity,
    model,
    run_python,
    tensor,
)
from onnx import TensorProto, helper

import pionnx
from pionnx._wire import varint

FEED_ERRORS = (ValueError, TypeError, pionnx.InvalidArgument)


def session(m: onnx.ModelProto) -> pionnx.InferenceSession:
    return pionnx.InferenceSession(m.SerializeToString())


# ---------------------------------------------------------------- feeds


def test_missing_feed_names_the_input():
    sess = session(add_mul())
    with pytest.raises(FEED_ERRORS) as info:
        sess.run(None, {"a": np.ones((1, 3), dtype=np.float32)})
    assert "b" in str(info.value)


def test_no_feed_at_all():
    with pytest.raises(FEED_ERRORS, match="x"):
        session(fixed_add()).run(None, {})


def test_unknown_feed_name_is_named():
    sess = session(fixed_add())
    x = np.ones((2, 3), dtype=np.float32)
    with pytest.raises(FEED_ERRORS) as info:
        sess.run(None, {"x": x, "not_an_input": x})
    assert "not_an_input" in str(info.value)


def test_unknown_output_name_is_named():
    with pytest.raises(Exception) as info:  # noqa: PT011 - onnxruntime raises its own type here too
        session(fixed_add()).run(["no_such_output"], {"x": np.ones((2, 3), dtype=np.float32)})
    assert "no_such_output" in str(info.value)


def fixed_add_feed_error(x: np.ndarray) -> str:
    """The message of the feed error fixed_add() raises when `x` is fed as its input "x",
    checked to name that input."""
    with pytest.raises(FEED_ERRORS) as info:
        session(fixed_add()).run(None, {"x": x})
    message = str(info.value)
    assert "x" in message
    return message


def test_wrong_dtype_names_input_expected_and_given():
    message = fixed_add_feed_error(np.ones((2, 3), dtype=np.float64))
    assert "float" in message
    assert "double" in message or "float64" in message


def test_wrong_dtype_int_for_float():
    with pytest.raises(FEED_ERRORS, match="int64|int"):
        session(fixed_add()).run(None, {"x": np.ones((2, 3), dtype=np.int64)})


def test_wrong_rank_names_input_and_shapes():
    message = fixed_add_feed_error(np.ones((2, 3, 1), dtype=np.float32))
    assert "rank" in message.lower() or "dimension" in message.lower() or "shape" in message.lower()
    assert "3" in message and "2" in message


def test_wrong_dimension_names_input_and_sizes():
    message = fixed_add_feed_error(np.ones((2, 4), dtype=np.float32))
    assert "4" in message and "3" in message


def test_wrong_dimension_with_symbolic_batch():
    # ["N", 3]: N may be anything, the 3 may not.
    with pytest.raises(FEED_ERRORS, match="a|b"):
        session(add_mul()).run(None, {"a": np.ones((5, 2), np.float32), "b": np.ones((5, 2), np.float32)})


def test_feed_that_is_not_an_array():
    with pytest.raises(FEED_ERRORS):
        session(fixed_add()).run(None, {"x": object()})


def test_feed_object_array_for_a_numeric_input():
    with pytest.raises(FEED_ERRORS):
        session(fixed_add()).run(None, {"x": np.array([["a", "b", "c"], ["d", "e", "f"]], dtype=object)})


@pytest.mark.parametrize(("tiles", "axis"), [([], [0]), ([2], []), ([2, 3], [0])])
def test_tile_1_with_a_missing_tiles_or_axis_value_is_named(tiles, axis):
    """Tile-1 reads its tiles and axis from one-value inputs: an empty (or longer) one is an InvalidArgument
    that names both counts; it was an unnamed std::out_of_range (IndexError), which aborts a C++ caller."""
    m = model(
        [helper.make_node("Tile", ["x", "t", "a"], ["y"])],
        [
            tensor("x", TensorProto.FLOAT, [2, 3]),
            tensor("t", TensorProto.INT64, [None]),
            tensor("a", TensorProto.INT64, [None]),
        ],
        [tensor("y", TensorProto.FLOAT, None)],
        opset=1,
    )
    feeds = {"x": np.ones((2, 3), np.float32), "t": np.array(tiles, np.int64), "a": np.array(axis, np.int64)}
    with pytest.raises(pionnx.InvalidArgument, match=r"Tile-1's tiles and axis must each hold one value"):
        session(m).run(None, feeds)


def test_session_still_works_after_a_bad_feed():
    sess = session(fixed_add())
    with pytest.raises(FEED_ERRORS):
        sess.run(None, {"x": np.ones((2, 4), dtype=np.float32)})
    x = np.zeros((2, 3), dtype=np.float32)
    np.testing.assert_array_equal(sess.run(None, {"x": x})[0], x + 1)


# ---------------------------------------------------------------- unsupported ops


def test_unsupported_op_in_custom_domain_is_named_at_creation():
    m = model(
        [helper.make_node("FrobnicateWidget", ["x"], ["y"], name="frob_node_7", domain="com.example.widgets")],
        [tensor("x", TensorProto.FLOAT, [2])],
        [tensor("y", TensorProto.FLOAT, [2])],
        extra_opsets=[("com.example.widgets", 3)],
    )
    with pytest.raises(pionnx.NotImplemented) as info:
        session(m)
    message = str(info.value)
    for part in ("FrobnicateWidget", "com.example.widgets", "3", "frob_node_7"):
        assert part in message, f"{part!r} not in {message!r}"


def test_unknown_op_in_default_domain_is_named_at_creation():
    m = model(
        [helper.make_node("NoSuchOperator", ["x"], ["y"], name="mystery_node")],
        [tensor("x", TensorProto.FLOAT, [2])],
        [tensor("y", TensorProto.FLOAT, [2])],
        opset=17,
    )
    with pytest.raises((pionnx.NotImplemented, pionnx.InvalidGraph, pionnx.Fail)) as info:
        session(m)
    message = str(info.value)
    for part in ("NoSuchOperator", "mystery_node", "17"):
        assert part in message, f"{part!r} not in {message!r}"


def test_missing_opset_import_for_a_domain():
    m = model(
        [helper.make_node("Thing", ["x"], ["y"], name="thing", domain="com.example.undeclared")],
        [tensor("x", TensorProto.FLOAT, [2])],
        [tensor("y", TensorProto.FLOAT, [2])],
    )
    with pytest.raises(RuntimeError, match="com.example.undeclared"):
        session(m)


def test_graph_with_undefined_value_is_rejected():
    m = model(
        [helper.make_node("Add", ["x", "ghost"], ["y"], name="add_ghost")],
        [tensor("x", TensorProto.FLOAT, [2])],
        [tensor("y", TensorProto.FLOAT, [2])],
    )
    with pytest.raises((RuntimeError, ValueError), match="ghost"):
        session(m)


# ---------------------------------------------------------------- broken model files

LOAD_IN_CHILD = """
import sys
import pionnx
path = sys.argv[1]
data = open(path, "rb").read()
for source in (data, path):
    try:
        pionnx.InferenceSession(source)
    except Exception as e:
        print("RAISED", type(e).__name__, str(e)[:300].replace("\\n", " "))
    else:
        print("LOADED", type(source).__name__)
        sys.exit(3)
"""


def _real_model_bytes() -> bytes:
    """A model with a few nodes, initializers, attributes and metadata."""
    rng = np.random.default_rng(0)
    w = onnx.numpy_helper.from_array(rng.random((8, 4), dtype=np.float32), "w")
    b = onnx.numpy_helper.from_array(rng.random(8, dtype=np.float32), "b")
    m = model(
        [
            helper.make_node("Gemm", ["x", "w", "b"], ["h"], name="gemm", transB=1),
            helper.make_node("Relu", ["h"], ["r"], name="relu"),
            helper.make_node("Softmax", ["r"], ["y"], name="softmax", axis=-1),
        ],
        [tensor("x", TensorProto.FLOAT, ["N", 4])],
        [tensor("y", TensorProto.FLOAT, ["N", 8])],
        initializers=[w, b],
    )
    helper.set_model_props(m, {"k": "v"})
    return m.SerializeToString()


def _broken_files() -> dict[str, bytes]:
    real = _real_model_bytes()
    rng = random.Random(1234)
    flipped = bytearray(real)
    for i in rng.sample(range(len(flipped)), 40):
        flipped[i] ^= 0xFF
    return {
        "empty": b"",
        "random_bytes": bytes(rng.getrandbits(8) for _ in range(4096)),
        "jpeg_header": bytes.fromhex("ffd8ffe000104a46494600010100000100010000ffdb004300") + b"\x08" * 200,
        "text_file": b"this is not an onnx model\n" * 20,
        "truncated_to_10_bytes": real[:10],
        "truncated_to_half": real[: len(real) // 2],
        "truncated_by_one_byte": real[:-1],
        "corrupted_bytes": bytes(flipped),
        # graph (field 7) claims to be 2**62 bytes long
        "huge_length_prefix": b"\x08\x08" + b"\x3a" + varint(2**62) + b"\x0a\x00",
        # graph claims a length just past the end of the file
        "length_past_end": b"\x08\x08" + b"\x3a" + varint(1000) + b"\x0a\x01x",
        # a varint that never ends
        "endless_varint": b"\x08" + b"\xff" * 64,
        # ir_version only: a well-formed message that is not a usable model
        "no_graph": b"\x08\x08",
        # a tensor claiming 2**40 floats with no data behind them
        "tensor_dims_without_data": _model_with_lying_initializer(),
        # nodes nested inside If branches, deeper than any real model
        "deep_nesting": _deeply_nested_model(depth=200),
    }


def _model_with_lying_initializer() -> bytes:
    w = TensorProto()
    w.name = "w"
    w.data_type = TensorProto.FLOAT
    w.dims.extend([1 << 20, 1 << 20])
    w.raw_data = b"\0" * 16
    m = model(
        [helper.make_node("Add", ["x", "w"], ["y"], name="add")],
        [tensor("x", TensorProto.FLOAT, [1])],
        [tensor("y", TensorProto.FLOAT, [1 << 20, 1 << 20])],
        initializers=[w],
    )
    return m.SerializeToString()


def _deeply_nested_model(depth: int) -> bytes:
    # Raw protobuf: GraphProto{node: NodeProto{attribute: AttributeProto{g: GraphProto{...}}}}, `depth` times.
    def field(number: int, payload: bytes) -> bytes:
        return varint(number << 3 | 2) + varint(len(payload)) + payload

    graph = field(2, b"inner")  # GraphProto.name
    for _ in range(depth):
        attribute = field(1, b"then_branch") + field(6, graph)  # AttributeProto.name, .g
        node = field(4, b"If") + field(5, attribute)  # NodeProto.op_type, .attribute
        graph = field(1, node)  # GraphProto.node
    opset = varint(2 << 3 | 0) + varint(17)  # OperatorSetIdProto.version
    return b"\x08\x08" + field(7, graph) + field(8, opset)


@pytest.mark.parametrize("name", list(_broken_files()))
def test_broken_model_file_raises_without_crashing(name, tmp_path):
    path = tmp_path / f"{name}.onnx"
    path.write_bytes(_broken_files()[name])
    proc = run_python(LOAD_IN_CHILD, str(path))
    assert proc.returncode == 0, f"loading {name}: {describe(proc)}"
    assert proc.stdout.count("RAISED") == 2, proc.stdout


def test_broken_model_error_is_a_python_exception_in_process():
    with pytest.raises((RuntimeError, ValueError)):
        pionnx.InferenceSession(b"\x08\x08\x3a\x05\x0a")


def test_missing_model_file_names_the_path(tmp_path):
    missing = tmp_path / "nowhere" / "model.onnx"
    with pytest.raises((OSError, RuntimeError, ValueError)) as info:
        pionnx.InferenceSession(str(missing))
    assert "nowhere" in str(info.value)


def test_directory_instead_of_model_file(tmp_path):
    with pytest.raises((OSError, RuntimeError, ValueError)):
        pionnx.InferenceSession(str(tmp_path))


def test_random_byte_flips_never_crash(tmp_path):
    """Many corrupted variants of one model, loaded and run in one child interpreter."""
    real = _real_model_bytes()
    rng = random.Random(99)
    variants = []
    for _ in range(300):
        data = bytearray(real)
        for _ in range(rng.randint(1, 6)):
            data[rng.randrange(len(data))] = rng.getrandbits(8)
        variants.append(bytes(data))
    folder = tmp_path / "variants"
    folder.mkdir()
    for i, data in enumerate(variants):
        (folder / f"{i:03}.onnx").write_bytes(data)
    code = """
    import os, sys
    import numpy as np
    import pionnx
    folder = sys.argv[1]
    loaded = 0
    for name in sorted(os.listdir(folder)):
        print(name, flush=True)
        try:
            sess = pionnx.InferenceSession(open(os.path.join(folder, name), "rb").read())
            loaded += 1
            for arg in sess.get_inputs():
                shape = [d if isinstance(d, int) and 0 < d < 64 else 2 for d in arg.shape]
                try:
                    sess.run(None, {arg.name: np.ones(shape, dtype=np.float32)})
                except Exception:
                    pass
        except Exception:
            pass
    print("DONE", loaded)
    """
    proc = run_python(code, str(folder), timeout=600)
    last = proc.stdout.strip().splitlines()[-1:] or ["(nothing)"]
    assert proc.returncode == 0, f"crashed after variant {last[0]}: {describe(proc)}"
    assert "DONE" in proc.stdout


# ---------------------------------------------------------------- external data

EXTERNAL_IN_CHILD = """
import sys
import numpy as np
import pionnx
try:
    sess = pionnx.InferenceSession(sys.argv[1])
    print("LOADED", sess.run(None, {"x": np.zeros(4, dtype=np.float32)})[0].tolist())
    sys.exit(3)
except Exception as e:
    print("RAISED", type(e).__name__, str(e).replace("\\n", " "))
"""


def _load_external(model_path: str) -> str:
    proc = run_python(EXTERNAL_IN_CHILD, model_path)
    assert proc.returncode in (0, 3), describe(proc)
    assert proc.returncode == 0, f"external data outside the model folder was read: {proc.stdout}"
    assert proc.stdout.startswith("RAISED"), proc.stdout
    return proc.stdout


@pytest.fixture
def secret(tmp_path):
    """A readable file with valid weights outside the model's folder."""
    path = tmp_path / "outside" / "secret.bin"
    path.parent.mkdir()
    path.write_bytes(WEIGHTS.tobytes())
    folder = tmp_path / "model_dir"
    folder.mkdir()
    return path, folder


def test_external_data_with_dotdot_is_refused(secret):
    _, folder = secret
    onnx.save(external_weight_model("../outside/secret.bin"), str(folder / "model.onnx"))
    out = _load_external(str(folder / "model.onnx"))
    assert "secret.bin" in out


def test_external_data_with_nested_dotdot_is_refused(secret):
    _, folder = secret
    (folder / "sub").mkdir()
    onnx.save(external_weight_model("sub/../../outside/secret.bin"), str(folder / "model.onnx"))
    assert "secret.bin" in _load_external(str(folder / "model.onnx"))


def test_external_data_with_absolute_path_is_refused(secret):
    path, folder = secret
    onnx.save(external_weight_model(str(path)), str(folder / "model.onnx"))
    assert "secret.bin" in _load_external(str(folder / "model.onnx"))


def test_external_data_through_symlink_outside_is_refused(secret):
    path, folder = secret
    os.symlink(path, folder / "weights.bin")
    onnx.save(external_weight_model("weights.bin"), str(folder / "model.onnx"))
    assert "weights.bin" in _load_external(str(folder / "model.onnx"))


def test_external_data_through_symlinked_directory_outside_is_refused(secret):
    path, folder = secret
    os.symlink(path.parent, folder / "data")
    onnx.save(external_weight_model("data/secret.bin"), str(folder / "model.onnx"))
    assert "secret.bin" in _load_external(str(folder / "model.onnx"))


def test_external_data_missing_file_is_named(secret):
    _, folder = secret
    onnx.save(external_weight_model("not_there.bin"), str(folder / "model.onnx"))
    assert "not_there.bin" in _load_external(str(folder / "model.onnx"))


@pytest.mark.parametrize(("offset", "length"), [(0, 64), (12, 16), (1 << 40, 16), (0, 1 << 40)])
def test_external_data_range_past_end_of_file(secret, offset, length):
    _, folder = secret
    (folder / "w.bin").write_bytes(WEIGHTS.tobytes())  # 16 bytes
    onnx.save(external_weight_model("w.bin", offset=offset, length=length), str(folder / "model.onnx"))
    _load_external(str(folder / "model.onnx"))


def test_external_data_wrong_length_for_shape(secret):
    _, folder = secret
    (folder / "w.bin").write_bytes(WEIGHTS.tobytes())
    onnx.save(external_weight_model("w.bin", offset=0, length=8), str(folder / "model.onnx"))
    _load_external(str(folder / "model.onnx"))


def test_external_data_from_bytes_without_folder_is_refused(secret):
    _, folder = secret
    (folder / "w.bin").write_bytes(WEIGHTS.tobytes())
    m = external_weight_model("w.bin")
    # From bytes there is no model folder to resolve against: the working directory must not stand in.
    code = """
    import os, sys
    import numpy as np
    import pionnx
    os.chdir(sys.argv[1])
    try:
        pionnx.InferenceSession(open("model.bin", "rb").read())
        print("LOADED")
        sys.exit(3)
    except Exception as e:
        print("RAISED", type(e).__name__, e)
    """
    (folder / "model.bin").write_bytes(m.SerializeToString())
    proc = run_python(code, str(folder))
    assert proc.returncode == 0, describe(proc)


def test_identity_model_still_loads_after_all_that():
    # Guards against a global state left behind by failed loads.
    sess = session(identity(TensorProto.FLOAT, [2]))
    np.testing.assert_array_equal(sess.run(None, {"x": np.ones(2, np.float32)})[0], [1, 1])
