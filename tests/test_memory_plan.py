"""The memory plan: intermediates are freed after their last reader, and
elementwise nodes write into an input that dies with them (in place), never
into a feed, a weight, a graph output or a value another node still reads.
`get_profile()["peak_intermediate_bytes"]` reports the peak."""

from __future__ import annotations

import numpy as np
import pytest
from models import model, tensor
from onnx import TensorProto, helper, numpy_helper

import pionnx

N = 10_000
BYTES = N * 4


def run(m, feeds):
    sess = pionnx.InferenceSession(m.SerializeToString())
    outs = sess.run(None, feeds)
    return outs, sess.get_profile()["peak_intermediate_bytes"]


def chain(ops: list[str]):
    nodes, prev = [], "x"
    for i, op in enumerate(ops):
        out = "y" if i == len(ops) - 1 else f"t{i}"
        nodes.append(helper.make_node(op, [prev], [out]))
        prev = out
    return model(nodes, [tensor("x", TensorProto.FLOAT, [N])], [tensor("y", TensorProto.FLOAT, [N])])


def test_unary_chain_runs_in_one_buffer():
    x = np.linspace(-3, 3, N, dtype=np.float32)
    x_before = x.copy()
    (y,), peak = run(chain(["Neg", "Relu", "Sigmoid", "Tanh", "Abs"]), {"x": x})
    np.testing.assert_allclose(y, np.abs(np.tanh(1 / (1 + np.exp(-np.maximum(-x, 0))))), rtol=1e-5)
    np.testing.assert_array_equal(x, x_before)  # the feed is never a donor
    assert peak == BYTES  # each node after Neg wrote into its dying input


def test_value_read_twice_is_not_overwritten_by_the_first_reader():
    x = np.linspace(-3, 3, N, dtype=np.float32)
    m = model(
        [
            helper.make_node("Neg", ["x"], ["t"]),
            helper.make_node("Relu", ["t"], ["a"]),  # t is still needed by Abs
            helper.make_node("Abs", ["t"], ["b"]),
            helper.make_node("Add", ["a", "b"], ["y"]),
        ],
        [tensor("x", TensorProto.FLOAT, [N])],
        [tensor("y", TensorProto.FLOAT, [N])],
    )
    (y,), peak = run(m, {"x": x})
    np.testing.assert_allclose(y, np.maximum(-x, 0) + np.abs(x))
    # t and a live together; Abs, t's last reader, writes b into t; Add into a or b.
    assert peak == 2 * BYTES


def test_graph_output_consumed_later_is_kept():
    x = np.linspace(-3, 3, N, dtype=np.float32)
    m = model(
        [helper.make_node("Neg", ["x"], ["mid"]), helper.make_node("Relu", ["mid"], ["y"])],
        [tensor("x", TensorProto.FLOAT, [N])],
        [tensor("mid", TensorProto.FLOAT, [N]), tensor("y", TensorProto.FLOAT, [N])],
    )
    (mid, y), _ = run(m, {"x": x})
    np.testing.assert_array_equal(mid, -x)
    np.testing.assert_array_equal(y, np.maximum(-x, 0))


def test_weights_and_views_of_weights_are_never_donors():
    w = np.linspace(-1, 1, N, dtype=np.float32)
    m = model(
        [
            helper.make_node("Reshape", ["w", "shape"], ["wv"]),  # a view sharing the weight's storage
            helper.make_node("Relu", ["wv"], ["r"]),
            helper.make_node("Add", ["r", "x"], ["y"]),
        ],
        [tensor("x", TensorProto.FLOAT, [N])],
        [tensor("y", TensorProto.FLOAT, [N])],
        initializers=[numpy_helper.from_array(w, "w"), numpy_helper.from_array(np.array([N], np.int64), "shape")],
    )
    sess = pionnx.InferenceSession(m.SerializeToString(), sess_options=no_folding())
    x = np.ones(N, np.float32)
    for _ in range(3):  # a weight overwritten by run 1 would change runs 2 and 3
        np.testing.assert_allclose(sess.run(None, {"x": x})[0], np.maximum(w, 0) + 1)


@pytest.mark.parametrize("donor", ["a", "b"])
def test_broadcast_binary_writes_into_the_full_shape_operand(donor):
    a_full = donor == "a"
    big, small = [4, N // 4], [1, N // 4]
    m = model(
        [
            helper.make_node("Neg", ["a_in"], ["a"]),
            helper.make_node("Neg", ["b_in"], ["b"]),
            helper.make_node("Sub", ["a", "b"], ["y"]),
        ],
        [
            tensor("a_in", TensorProto.FLOAT, big if a_full else small),
            tensor("b_in", TensorProto.FLOAT, small if a_full else big),
        ],
        [tensor("y", TensorProto.FLOAT, big)],
    )
    rng = np.random.default_rng(3)
    a_in = rng.standard_normal(big if a_full else small).astype(np.float32)
    b_in = rng.standard_normal(small if a_full else big).astype(np.float32)
    (y,), peak = run(m, {"a_in": a_in, "b_in": b_in})
    np.testing.assert_allclose(y, (-a_in) - (-b_in), rtol=1e-6)
    assert peak == BYTES + BYTES // 4  # y took over the full-shape operand's buffer


def no_folding() -> pionnx.SessionOptions:
    so = pionnx.SessionOptions()
    so.graph_optimization_level = pionnx.GraphOptimizationLevel.ORT_DISABLE_ALL
    return so
