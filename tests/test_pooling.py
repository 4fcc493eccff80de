"""MaxPool and AveragePool against onnx.reference over the geometries the
fast 2-D path (kernels/nn/pool.cc, pool2d_plane) takes apart: windows inside
the input, windows clipped at each border (symmetric, asymmetric and wide
pads, ceil_mode), strides 1, 2 and 3, the unrolled 2x2 and 3x3 kernels (3-wide
windows four at a time in vectors) and the general one, 1-D pools, maps narrower than the window, and 1 or 2
threads. Max is exact; averages differ from the reference only by the order
of the float sums."""

from __future__ import annotations

import numpy as np
import pytest
from models import model, tensor
from onnx import TensorProto, helper

import pionnx

# (input spatial shape, kernel, strides, pads [begin..., end...], ceil_mode)
GEOMETRIES = [
    ((13, 13), (3, 3), (2, 2), (0, 0, 0, 0), 0),
    ((13, 13), (3, 3), (2, 2), (0, 0, 0, 0), 1),
    ((28, 28), (3, 3), (1, 1), (1, 1, 1, 1), 0),
    ((16, 17), (2, 2), (2, 2), (0, 0, 0, 0), 0),
    ((15, 15), (2, 2), (2, 2), (0, 0, 0, 0), 1),
    ((12, 11), (3, 3), (2, 2), (1, 1, 1, 1), 0),
    ((9, 14), (3, 3), (2, 2), (0, 1, 2, 1), 1),
    ((10, 10), (2, 3), (1, 2), (1, 0, 0, 2), 0),
    ((11, 19), (5, 1), (3, 1), (2, 0, 2, 0), 0),
    ((7, 9), (4, 4), (3, 3), (3, 3, 3, 3), 1),
    ((3, 2), (3, 3), (1, 1), (2, 2, 2, 2), 0),
    ((6, 6), (1, 1), (2, 2), (0, 0, 0, 0), 0),
    ((7, 7), (7, 7), (1, 1), (0, 0, 0, 0), 0),  # the window is the whole input: the global pool's loops
    ((13, 11), (13, 11), (2, 3), (0, 0, 0, 0), 0),
    # 3-wide windows at strides 1 and 2 run four outputs per vector step: rows of several steps and a tail
    ((9, 41), (3, 3), (2, 2), (1, 1, 1, 1), 0),
    ((6, 38), (3, 3), (1, 1), (0, 0, 0, 0), 0),
    ((20,), (3,), (2,), (1, 1), 0),
    ((17,), (4,), (3,), (0, 2), 1),
]


def pool_case(op: str, shape: tuple[int, ...], kernel, strides, pads, ceil: int, include_pad: int):
    attrs = {"kernel_shape": list(kernel), "strides": list(strides), "pads": list(pads), "ceil_mode": ceil}
    if op == "AveragePool":
        attrs["count_include_pad"] = include_pad
    dims = [2, 5, *shape]
    return model(
        [helper.make_node(op, ["x"], ["y"], **attrs)],
        [tensor("x", TensorProto.FLOAT, dims)],
        [tensor("y", TensorProto.FLOAT, None)],
        opset=19,
        ir_version=9,
    ), dims


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize(
    "op,include_pad", [("MaxPool", 0), ("AveragePool", 0), ("AveragePool", 1)], ids=["max", "avg", "avg_pad"]
)
@pytest.mark.parametrize(
    "geometry", GEOMETRIES, ids=lambda g: "x".join(map(str, g[0])) + f"-k{g[1]}-s{g[2]}-p{g[3]}-c{g[4]}"
)
def test_pool_matches_reference(geometry, op, include_pad, threads):
    from onnx.reference import ReferenceEvaluator

    shape, kernel, strides, pads, ceil = geometry
    m, dims = pool_case(op, shape, kernel, strides, pads, ceil, include_pad)
    rng = np.random.default_rng(len(GEOMETRIES) * threads + sum(dims))
    # Negative values everywhere: a max taken over padding (0) or over too few taps shows.
    x = (rng.standard_normal(dims) - 4.0).astype(np.float32)
    so = pionnx.SessionOptions()
    so.intra_op_num_threads = threads
    got = pionnx.InferenceSession(m.SerializeToString(), so).run(None, {"x": x})[0]
    want = ReferenceEvaluator(m).run(None, {"x": x})[0]
    assert got.shape == want.shape
    if op == "MaxPool":
        np.testing.assert_array_equal(got, want)
    else:
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("op", ["GlobalAveragePool", "GlobalMaxPool"])
@pytest.mark.parametrize("size", [1, 15, 16, 31, 32, 33, 49, 169])
def test_global_pool_matches_reference(size, op, threads):
    """Global pools reduce each plane in 16 independent lanes (pool.cc's plane_sum and plane_max), then
    combine them: plane sizes under, at and around the lane count and ResNet-50's and SqueezeNet's last maps
    (7x7, 13x13), 1 and 2 threads, against onnx.reference."""
    from onnx.reference import ReferenceEvaluator

    dims = [2, 37, 1, size]  # rank 4: onnx.reference's GlobalMaxPool drops the channel axis of rank-3 inputs
    m = model(
        [helper.make_node(op, ["x"], ["y"])],
        [tensor("x", TensorProto.FLOAT, dims)],
        [tensor("y", TensorProto.FLOAT, None)],
        opset=19,
        ir_version=9,
    )
    x = (np.random.default_rng(size).standard_normal(dims) - 4.0).astype(np.float32)
    so = pionnx.SessionOptions()
    so.intra_op_num_threads = threads
    got = pionnx.InferenceSession(m.SerializeToString(), so).run(None, {"x": x})[0]
    want = ReferenceEvaluator(m).run(None, {"x": x})[0]
    assert got.shape == want.shape
    if op == "GlobalMaxPool":
        np.testing.assert_array_equal(got, want)
    else:
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
