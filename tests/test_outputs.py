"""Outputs belong to the caller: writing into them never changes the model or the feeds."""

import numpy as np
from onnx import TensorProto, helper, numpy_helper

import pionnx


def _session(nodes, inputs, outputs, initializers=()):
    graph = helper.make_graph(nodes, "g", inputs, outputs, initializer=list(initializers))
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    return pionnx.InferenceSession(model.SerializeToString())


def test_constant_output_is_a_private_copy():
    value = numpy_helper.from_array(np.arange(6, dtype=np.float32).reshape(2, 3), "c")
    sess = _session(
        [helper.make_node("Constant", [], ["y"], value=value)],
        [],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2, 3])],
    )
    first = sess.run(None, {})[0]
    first[:] = -1.0
    second = sess.run(None, {})[0]
    np.testing.assert_array_equal(second, np.arange(6, dtype=np.float32).reshape(2, 3))


def test_initializer_output_is_a_private_copy():
    w = np.ones((4,), dtype=np.float32)
    sess = _session(
        [helper.make_node("Identity", ["w"], ["y"])],
        [],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [4])],
        initializers=[numpy_helper.from_array(w, "w")],
    )
    out = sess.run(None, {})[0]
    out += 5
    np.testing.assert_array_equal(sess.run(None, {})[0], w)


def test_output_aliasing_a_feed_does_not_write_back():
    sess = _session(
        [helper.make_node("Reshape", ["x", "s"], ["y"])],
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 3])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [3, 2])],
        initializers=[numpy_helper.from_array(np.array([3, 2], dtype=np.int64), "s")],
    )
    x = np.arange(6, dtype=np.float32).reshape(2, 3)
    y = sess.run(None, {"x": x})[0]
    y[:] = 0
    np.testing.assert_array_equal(x, np.arange(6, dtype=np.float32).reshape(2, 3))
    assert y.flags.writeable


def test_two_outputs_of_one_buffer_are_independent():
    sess = _session(
        [helper.make_node("Relu", ["x"], ["a"]), helper.make_node("Identity", ["a"], ["b"])],
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [3])],
        [
            helper.make_tensor_value_info("a", TensorProto.FLOAT, [3]),
            helper.make_tensor_value_info("b", TensorProto.FLOAT, [3]),
        ],
    )
    a, b = sess.run(None, {"x": np.array([1.0, -2.0, 3.0], dtype=np.float32)})
    a[:] = 9
    np.testing.assert_array_equal(b, [1.0, 0.0, 3.0])


def test_an_output_handed_over_without_a_copy_stays_the_callers():
    # A computed output no one else holds is returned as it is (no copy): it must keep its values
    # while later runs compute into buffers of the same size, and stay valid after the session is gone.
    sess = _session(
        [helper.make_node("Relu", ["x"], ["y"])],
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [64, 1024])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [64, 1024])],
    )
    x = np.linspace(-1.0, 1.0, 64 * 1024, dtype=np.float32).reshape(64, 1024)
    kept = [sess.run(None, {"x": x * (k + 1)})[0] for k in range(4)]
    del sess
    for k, y in enumerate(kept):
        np.testing.assert_array_equal(y, np.maximum(x * (k + 1), 0))
        assert y.flags.writeable
    kept[0][:] = 7
    np.testing.assert_array_equal(kept[1], np.maximum(x * 2, 0))
