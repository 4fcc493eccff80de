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
