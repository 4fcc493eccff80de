"""Operators on shapes the ONNX node suite does not reach (planes of thousands of values, rows long
enough for every vector width and its tail, several threads), against numpy in float64: the paths
that vectorize or split a kernel are checked where they run."""

from __future__ import annotations

import numpy as np
import pytest
from onnx import TensorProto, helper, numpy_helper

import pionnx

RNG = np.random.default_rng(2026)


def run(node, feeds: dict, inits=(), threads: int = 1, opset: int = 18) -> list[np.ndarray]:
    types = {np.dtype(np.float32): TensorProto.FLOAT, np.dtype(np.int64): TensorProto.INT64}
    graph = helper.make_graph(
        [node],
        "g",
        [helper.make_tensor_value_info(k, types[v.dtype], list(v.shape)) for k, v in feeds.items()],
        [helper.make_tensor_value_info(o, TensorProto.UNDEFINED, None) for o in node.output],
        [numpy_helper.from_array(v, k) for k, v in inits],
    )
    m = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    opts = pionnx.SessionOptions()
    opts.intra_op_num_threads = threads
    return pionnx.InferenceSession(m.SerializeToString(), opts).run(None, feeds)


def assert_u8_node_equals_the_reference(node, name: str, x: np.ndarray, inits, opset: int, threads: int) -> None:
    """One uint8-in, uint8-out node with its parameters as initializers: pionnx's output on two runs of one
    session (the second reads what the first packed or prepared) equals onnx.reference's bit for bit, and
    not every value saturates."""
    from onnx.reference import ReferenceEvaluator

    graph = helper.make_graph(
        [node],
        "g",
        [helper.make_tensor_value_info(name, TensorProto.UINT8, list(x.shape))],
        [helper.make_tensor_value_info(node.output[0], TensorProto.UINT8, None)],
        [numpy_helper.from_array(v, k) for k, v in inits],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    opts = pionnx.SessionOptions()
    opts.intra_op_num_threads = threads
    sess = pionnx.InferenceSession(model.SerializeToString(), opts)
    want = ReferenceEvaluator(model).run(None, {name: x})[0]
    assert 0 < np.count_nonzero((want > 0) & (want < 255)), "every value saturated: the case checks nothing"
    for _ in range(2):
        np.testing.assert_array_equal(sess.run(None, {name: x})[0], want)


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("groups", [0, 4])
def test_instance_and_group_norm_on_large_offset_planes(threads, groups):
    """InstanceNormalization (groups 0) and GroupNormalization: planes of 37 x 41 values around 300
    with a spread of 0.01 (a one-pass variance loses every digit there), scale and bias per
    channel."""
    n, c = 2, 8
    x = (300 + RNG.standard_normal((n, c, 37, 41)) * 0.01).astype(np.float32)
    scale = RNG.uniform(0.5, 1.5, c).astype(np.float32)
    bias = RNG.uniform(-1, 1, c).astype(np.float32)
    g = c if groups == 0 else groups
    xd = x.astype(np.float64).reshape(n, g, -1)
    norm = ((xd - xd.mean(-1, keepdims=True)) / np.sqrt(xd.var(-1, keepdims=True) + 1e-5)).reshape(x.shape)
    want = norm * scale[None, :, None, None] + bias[None, :, None, None]
    if groups == 0:
        node = helper.make_node("InstanceNormalization", ["x", "s", "b"], ["y"])
        got = run(node, {"x": x}, [("s", scale), ("b", bias)], threads)[0]
    else:
        node = helper.make_node("GroupNormalization", ["x", "s", "b"], ["y"], num_groups=groups)
        got = run(node, {"x": x}, [("s", scale), ("b", bias)], threads, opset=21)[0]
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=2e-4)


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("p", [1, 2])
def test_lp_normalization_over_rows_and_columns(threads, p):
    """LpNormalization over the last axis (contiguous rows of 1-67 values and a long one: every vector
    tail) and over a middle axis (strided vectors), with an all-zero row that stays zero."""
    for shape, axis in (((300, 67), -1), ((5, 1000), 1), ((4, 37, 6), 1)):
        x = RNG.standard_normal(shape).astype(np.float32)
        x[0] = 0
        for n in (1, 7, 16, 33, 67) if shape == (300, 67) else (shape[axis],):
            xs = np.ascontiguousarray(x[..., :n]) if shape == (300, 67) else x
            got = run(helper.make_node("LpNormalization", ["x"], ["y"], axis=axis, p=p), {"x": xs}, threads=threads)[0]
            xd = xs.astype(np.float64)
            norm = np.abs(xd).sum(axis, keepdims=True) if p == 1 else np.sqrt((xd * xd).sum(axis, keepdims=True))
            want = np.divide(xd, norm, out=np.zeros_like(xd), where=norm != 0)
            np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6, err_msg=f"{shape} axis {axis} n {n}")


QCONV_GEOMETRIES = [
    ((1, 8, 23, 29), (16, 8, 3, 3), {"pads": [1, 1, 1, 1]}),
    ((2, 6, 19, 17), (9, 6, 5, 3), {"pads": [2, 0, 1, 3], "strides": [2, 3]}),
    ((1, 8, 21, 21), (8, 4, 3, 3), {"pads": [2, 2, 2, 2], "dilations": [2, 2], "group": 2}),
    ((1, 4, 40), (5, 4, 7), {"pads": [3, 2], "strides": [2]}),
    ((1, 3, 6, 7, 8), (4, 3, 3, 2, 3), {"pads": [1, 0, 1, 1, 1, 0]}),
    ((1, 16, 12, 12), (24, 16, 1, 1), {}),
]


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("case", range(len(QCONV_GEOMETRIES)))
def test_qlinear_conv_geometries_equal_the_reference(case, threads):
    """QLinearConv's im2col (fills, copies and strided gathers per output row, split by channels)
    and requantization over padded, strided, dilated, grouped, 1-D and 3-D convolutions: equal to
    onnx.reference (int32 sums scaled in float64, rounded half to even) to the bit, per-channel weight
    scales (2-D) and an int32 bias included."""

    xs, ws, attrs = QCONV_GEOMETRIES[case]
    rng = np.random.default_rng(case)
    x = rng.integers(0, 256, xs).astype(np.uint8)
    w = rng.integers(-128, 128, ws).astype(np.int8)
    m = ws[0]
    inits = [
        ("sx", np.array(0.02, np.float32)),
        ("zx", np.array(119, np.uint8)),
        ("w", w),
        # Per channel on 2-D convolutions: onnx.reference broadcasts a per-channel scale as 2-D only.
        ("sw", np.linspace(0.001, 0.004, m).astype(np.float32) if len(xs) == 4 else np.array(0.003, np.float32)),
        ("zw", np.zeros(m, np.int8)),
        ("sy", np.array(0.37, np.float32)),
        ("zy", np.array(131, np.uint8)),
        ("bias", rng.integers(-20000, 20000, m).astype(np.int32)),
    ]
    node = helper.make_node("QLinearConv", ["x", "sx", "zx", "w", "sw", "zw", "sy", "zy", "bias"], ["y"], **attrs)
    assert_u8_node_equals_the_reference(node, "x", x, inits, 18, threads)


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("per_column", [False, True])
def test_qlinear_matmul_with_constant_weights_equals_the_reference(per_column, threads):
    """QLinearMatMul with B an initializer (packed once per session, the second run reads the
    packing): u8 x s8 over a depth of 600 (more than one depth block), batch dims on A, per-tensor or
    per-column scales, equal to onnx.reference bit for bit on both runs."""

    rng = np.random.default_rng(7 + per_column)
    a = rng.integers(0, 256, (2, 37, 600)).astype(np.uint8)
    b = rng.integers(-128, 128, (600, 67)).astype(np.int8)
    sb = np.linspace(0.0005, 0.002, 67).astype(np.float32) if per_column else np.array(0.001, np.float32)
    zb = np.zeros(67, np.int8) if per_column else np.array(0, np.int8)
    inits = [
        ("sa", np.array(0.03, np.float32)),
        ("za", np.array(121, np.uint8)),
        ("b", b),
        ("sb", sb),
        ("zb", zb),
        ("sy", np.array(2.5, np.float32)),
        ("zy", np.array(127, np.uint8)),
    ]
    node = helper.make_node("QLinearMatMul", ["a", "sa", "za", "b", "sb", "zb", "sy", "zy"], ["y"])
    assert_u8_node_equals_the_reference(node, "a", a, inits, 21, threads)


@pytest.mark.parametrize("op", ["ArgMax", "ArgMin"])
@pytest.mark.parametrize("last", [0, 1])
@pytest.mark.parametrize("dtype", [np.float32, np.int32, np.int64])
def test_arg_extremes_over_long_rows_with_ties(op, last, dtype):
    """ArgMax/ArgMin over the last axis (the blocked row scan) and over the first (the strided one):
    rows of 1 to 1100 values (inside one block of 256, across several, with a partial last block),
    values drawn from a few levels so the extreme repeats within and across blocks, and
    select_last_index: numpy's first (or, reversed, last) index of the extreme."""
    rng = np.random.default_rng(11)
    for n in (1, 7, 255, 256, 257, 513, 1100):
        x = rng.integers(-3, 4, (9, n)).astype(dtype)
        x[3] = 2  # a row of one value: the first or last index
        if n > 300:
            x[4, 300] = 9 if op == "ArgMax" else -9  # the extreme alone, in a later block
        for axis, data in ((1, x), (0, np.ascontiguousarray(x.T))):
            node = helper.make_node(op, ["x"], ["y"], axis=axis, keepdims=0, select_last_index=last)
            graph = helper.make_graph(
                [node],
                "g",
                [helper.make_tensor_value_info("x", helper.np_dtype_to_tensor_dtype(data.dtype), list(data.shape))],
                [helper.make_tensor_value_info("y", TensorProto.INT64, None)],
            )
            model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
            got = pionnx.InferenceSession(model.SerializeToString()).run(None, {"x": data})[0]
            fn = np.argmax if op == "ArgMax" else np.argmin
            if last:
                flipped = np.flip(data, axis)
                want = data.shape[axis] - 1 - fn(flipped, axis=axis)
            else:
                want = fn(data, axis=axis)
            np.testing.assert_array_equal(got, want, err_msg=f"n {n} axis {axis}")


FLOAT_CONV_ND = [
    ((1, 5, 301), (7, 5, 4), {"pads": [2, 1], "strides": [2], "dilations": [3]}),
    ((2, 4, 9, 11, 10), (6, 4, 3, 2, 3), {"pads": [1, 0, 2, 1, 1, 0], "strides": [2, 1, 3], "dilations": [1, 2, 1]}),
    ((1, 3, 40, 40, 40), (4, 3, 3, 3, 3), {"pads": [1, 1, 1, 1, 1, 1]}),
    ((1, 2, 6, 7, 8), (4, 1, 2, 2, 2), {"group": 2, "strides": [1, 2, 2]}),
]


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("case", range(len(FLOAT_CONV_ND)))
def test_float_conv_1d_and_3d_match_the_reference(case, threads):
    """1-D and 3-D float convolutions (the im2col by output rows, in chunks of positions that start
    and end inside a row: the 40^3 case makes several): padded, strided, dilated and grouped, against
    onnx.reference in float64."""
    from onnx.reference import ReferenceEvaluator

    xs, ws, attrs = FLOAT_CONV_ND[case]
    rng = np.random.default_rng(100 + case)
    x = rng.standard_normal(xs).astype(np.float32)
    w = (rng.standard_normal(ws) * 0.3).astype(np.float32)
    b = rng.standard_normal(ws[0]).astype(np.float32)
    node = helper.make_node("Conv", ["x", "w", "b"], ["y"], **attrs)
    got = run(node, {"x": x}, [("w", w), ("b", b)], threads)[0]
    graph = helper.make_graph(
        [helper.make_node("Conv", ["x", "w", "b"], ["y"], **attrs)],
        "g",
        [helper.make_tensor_value_info("x", TensorProto.DOUBLE, list(xs))],
        [helper.make_tensor_value_info("y", TensorProto.DOUBLE, None)],
        [numpy_helper.from_array(w.astype(np.float64), "w"), numpy_helper.from_array(b.astype(np.float64), "b")],
    )
    ref = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)])
    want = ReferenceEvaluator(ref).run(None, {"x": x.astype(np.float64)})[0]
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("trans_b", [0, 1])
def test_qgemm_packed_constant_weights_equal_fed_ones(trans_b):
    """com.microsoft QGemm with B an initializer (transposed when transB, and packed, once per session)
    gives on two runs exactly what the same node gives with B fed (transposed and packed per run)."""
    rng = np.random.default_rng(17 + trans_b)
    a = rng.integers(0, 256, (5, 300)).astype(np.uint8)
    b = rng.integers(-128, 128, (70, 300) if trans_b else (300, 70)).astype(np.int8)
    params = [
        ("sa", np.array(0.02, np.float32)),
        ("za", np.array(120, np.uint8)),
        ("sb", np.linspace(0.001, 0.003, 70).astype(np.float32)),
        ("zb", np.zeros(70, np.int8)),
        ("c", rng.integers(-3000, 3000, 70).astype(np.int32)),
        ("sy", np.array(0.7, np.float32)),
        ("zy", np.array(125, np.uint8)),
    ]
    outs = []
    for fed in (False, True):
        node = helper.make_node(
            "QGemm", ["a", "sa", "za", "b", "sb", "zb", "c", "sy", "zy"], ["y"], domain="com.microsoft", transB=trans_b
        )
        inputs = [helper.make_tensor_value_info("a", TensorProto.UINT8, list(a.shape))]
        inits = [numpy_helper.from_array(v, k) for k, v in params]
        if fed:
            inputs.append(helper.make_tensor_value_info("b", TensorProto.INT8, list(b.shape)))
        else:
            inits.append(numpy_helper.from_array(b, "b"))
        graph = helper.make_graph(
            [node], "g", inputs, [helper.make_tensor_value_info("y", TensorProto.UINT8, None)], inits
        )
        model = helper.make_model(
            graph, opset_imports=[helper.make_opsetid("", 18), helper.make_opsetid("com.microsoft", 1)]
        )
        sess = pionnx.InferenceSession(model.SerializeToString())
        feeds = {"a": a, "b": b} if fed else {"a": a}
        outs += [sess.run(None, feeds)[0] for _ in range(2)]
    assert 0 < np.count_nonzero((outs[0] > 0) & (outs[0] < 255))
    for o in outs[1:]:
        np.testing.assert_array_equal(o, outs[0])


@pytest.mark.parametrize("largest", [0, 1])
@pytest.mark.parametrize("k", [1, 10, 32, 33, 300])
def test_topk_over_long_rows_with_ties(k, largest):
    """TopK over rows of 5000 values drawn from a few levels (ties broken by the lower index) and a
    strided axis: the small-k buffer (k <= 32) and the partial sort, against numpy's stable sort."""
    rng = np.random.default_rng(k)
    x = rng.integers(-20, 20, (3, 5000)).astype(np.float32)
    for axis, data in ((1, x), (0, np.ascontiguousarray(x.T))):
        node = helper.make_node("TopK", ["x", "k"], ["v", "i"], axis=axis, largest=largest)
        graph = helper.make_graph(
            [node],
            "g",
            [helper.make_tensor_value_info("x", TensorProto.FLOAT, list(data.shape))],
            [
                helper.make_tensor_value_info("v", TensorProto.FLOAT, None),
                helper.make_tensor_value_info("i", TensorProto.INT64, None),
            ],
            [numpy_helper.from_array(np.array([k], np.int64), "k")],
        )
        model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
        values, indices = pionnx.InferenceSession(model.SerializeToString()).run(None, {"x": data})
        order = np.argsort(-data if largest else data, axis=axis, kind="stable")
        want_i = np.take(order, np.arange(k), axis=axis)
        np.testing.assert_array_equal(indices, want_i, err_msg=f"axis {axis}")
        np.testing.assert_array_equal(values, np.take_along_axis(data, want_i, axis=axis))
