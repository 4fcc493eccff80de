"""Graph optimizer: optimized and unoptimized sessions agree, the passes fire,
and optimized_model_filepath writes a valid, equivalent ONNX model."""

from __future__ import annotations

import math
import os

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

import pionnx

LIGHT_DIR = os.path.join(os.path.dirname(onnx.__file__), "backend", "test", "data", "light")
LIGHT_MODELS = sorted(f for f in os.listdir(LIGHT_DIR) if f.endswith(".onnx")) if os.path.isdir(LIGHT_DIR) else []
L = pionnx.GraphOptimizationLevel


def session(model, level=L.ORT_ENABLE_ALL, path=""):
    so = pionnx.SessionOptions()
    so.graph_optimization_level = level
    so.intra_op_num_threads = 2
    so.optimized_model_filepath = path
    data = model if isinstance(model, str) else model.SerializeToString()
    return pionnx.InferenceSession(data, sess_options=so)


def feeds_for(sess, rng):
    out = {}
    for i in sess.get_inputs():
        shape = [d if isinstance(d, int) and d > 0 else 1 for d in i.shape]
        out[i.name] = rng.standard_normal(shape).astype(np.float32)
    return out


def compare_levels(model, feeds, levels=(L.ORT_ENABLE_BASIC, L.ORT_ENABLE_EXTENDED, L.ORT_ENABLE_ALL)):
    ref_sess = session(model, L.ORT_DISABLE_ALL)
    ref = ref_sess.run(None, feeds)
    counts = {}
    for level in levels:
        s = session(model, level)
        got = s.run(None, feeds)
        for r, g in zip(ref, got):
            np.testing.assert_allclose(g, r, rtol=1e-3, atol=1e-4)
        counts[level] = s.get_profile()["nodes_executed"]
    return ref_sess.get_profile()["nodes_executed"], counts


@pytest.mark.parametrize("name", LIGHT_MODELS)
def test_light_model_same_outputs_fewer_nodes(name):
    path = os.path.join(LIGHT_DIR, name)
    rng = np.random.default_rng(0)
    feeds = feeds_for(session(path, L.ORT_DISABLE_ALL), rng)
    before, after = compare_levels(path, feeds, levels=(L.ORT_ENABLE_ALL,))
    assert after[L.ORT_ENABLE_ALL] < before


def make_model(nodes, inputs, outputs, inits=(), opset=17):
    g = helper.make_graph(nodes, "g", inputs, outputs, initializer=list(inits))
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", opset)])
    m.ir_version = 8
    return m


def vi(name, shape):
    return helper.make_tensor_value_info(name, TensorProto.FLOAT, shape)


def conv_model(tail_nodes, tail_inits=(), with_bias=True, out_shape=None):
    rng = np.random.default_rng(1)
    w = numpy_helper.from_array(rng.standard_normal((4, 3, 3, 3)).astype(np.float32), "W")
    b = numpy_helper.from_array(rng.standard_normal(4).astype(np.float32), "B")
    conv = helper.make_node("Conv", ["X", "W", "B"] if with_bias else ["X", "W"], ["c"], pads=[1, 1, 1, 1])
    inits = [w, b] if with_bias else [w]
    return make_model([conv] + tail_nodes, [vi("X", [1, 3, 8, 8])], [vi("Y", out_shape)], inits + list(tail_inits))


def bn_inits():
    rng = np.random.default_rng(2)
    return [
        numpy_helper.from_array(rng.uniform(0.5, 2, 4).astype(np.float32), "gamma"),
        numpy_helper.from_array(rng.standard_normal(4).astype(np.float32), "beta"),
        numpy_helper.from_array(rng.standard_normal(4).astype(np.float32), "mean"),
        numpy_helper.from_array(rng.uniform(0.5, 2, 4).astype(np.float32), "var"),
    ]


X8 = {"X": np.random.default_rng(3).standard_normal((1, 3, 8, 8)).astype(np.float32)}


@pytest.mark.parametrize("with_bias", [True, False])
def test_conv_batchnorm_relu(with_bias):
    bn = helper.make_node("BatchNormalization", ["c", "gamma", "beta", "mean", "var"], ["bn"], epsilon=1e-3)
    relu = helper.make_node("Relu", ["bn"], ["Y"])
    before, after = compare_levels(conv_model([bn, relu], bn_inits(), with_bias), X8)
    assert before == 3
    assert after[L.ORT_ENABLE_BASIC] == 3
    assert after[L.ORT_ENABLE_EXTENDED] == 1


@pytest.mark.parametrize(
    "op,attrs,extra",
    [
        ("Relu", {}, []),
        ("LeakyRelu", {"alpha": 0.2}, []),
        ("Sigmoid", {}, []),
        ("Tanh", {}, []),
        ("HardSigmoid", {"alpha": 0.3, "beta": 0.4}, []),
        ("Clip", {}, ["lo", "hi"]),
        ("Clip", {}, ["lo"]),
    ],
)
def test_conv_activation(op, attrs, extra):
    inits = [
        numpy_helper.from_array(np.array(-0.5, np.float32), "lo"),
        numpy_helper.from_array(np.array(0.7, np.float32), "hi"),
    ]
    act = helper.make_node(op, ["c"] + extra, ["Y"], **attrs)
    before, after = compare_levels(conv_model([act], inits), X8)
    assert (before, after[L.ORT_ENABLE_ALL]) == (2, 1)


def test_conv_output_used_twice_not_fused():
    relu = helper.make_node("Relu", ["c"], ["r"])
    add = helper.make_node("Add", ["r", "c"], ["Y"])
    before, after = compare_levels(conv_model([relu, add]), X8)
    assert after[L.ORT_ENABLE_ALL] == before == 3


def residual_model(tail_nodes, outputs=("Y",)):
    m = conv_model(tail_nodes)
    m.graph.input.append(vi("Z", [1, 4, 8, 8]))
    del m.graph.output[:]
    m.graph.output.extend(vi(o, None) for o in outputs)
    return m


@pytest.mark.parametrize(
    "tail,outputs,nodes_after",
    [
        # Conv + Add + Relu: one FusedConv with Z
        ([helper.make_node("Add", ["c", "Z"], ["s"]), helper.make_node("Relu", ["s"], ["Y"])], ("Y",), 1),
        # Sum of two, Z first, no activation
        ([helper.make_node("Sum", ["Z", "c"], ["Y"])], ("Y",), 1),
        # the Add's output is also a graph output: the Relu stays
        ([helper.make_node("Add", ["c", "Z"], ["s"]), helper.make_node("Relu", ["s"], ["Y"])], ("Y", "s"), 2),
        # an activation before the Add is the Conv's own; the Add stays
        ([helper.make_node("Relu", ["c"], ["r"]), helper.make_node("Add", ["r", "Z"], ["Y"])], ("Y",), 2),
        # Sum of three is not a residual Add
        ([helper.make_node("Sum", ["c", "Z", "Z"], ["Y"])], ("Y",), 2),
        # the Conv's output read twice
        ([helper.make_node("Add", ["c", "c"], ["Y"])], ("Y",), 2),
    ],
    ids=["add-relu", "sum", "add-output-kept", "act-before-add", "sum-of-three", "add-self"],
)
def test_conv_add_activation_fusion(tail, outputs, nodes_after):
    """ConvAddActivationFusion: where it fires (nodes run at ORT_ENABLE_ALL) and where it must not; the
    outputs of every level agree with the unoptimized graph's."""
    z = np.random.default_rng(4).standard_normal((1, 4, 8, 8)).astype(np.float32)
    before, after = compare_levels(residual_model(tail, outputs), {**X8, "Z": z})
    assert (before, after[L.ORT_ENABLE_ALL]) == (len(tail) + 1, nodes_after)


def const(name, value):
    return numpy_helper.from_array(np.asarray(value, np.float32), name)


CHANNEL_SHAPES = {"c11": (4, 1, 1), "1c11": (1, 4, 1, 1), "scalar": (), "111": (1, 1, 1)}


@pytest.mark.parametrize("shape", list(CHANNEL_SHAPES), ids=list(CHANNEL_SHAPES))
@pytest.mark.parametrize("with_bias", [True, False])
def test_conv_mul_add_relu_folds_into_one_conv(shape, with_bias):
    # Caffe2's DenseNet writes BN, Mul, Add, Relu; ConvBNFusion leaves Conv, Mul, Add, Relu.
    rng = np.random.default_rng(4)
    dims = CHANNEL_SHAPES[shape]
    nodes = [
        helper.make_node("Mul", ["s", "c"], ["m"]),  # the constant on either side
        helper.make_node("Add", ["m", "t"], ["a"]),
        helper.make_node("Relu", ["a"], ["Y"]),
    ]
    inits = [const("s", rng.uniform(-2, 2, dims)), const("t", rng.standard_normal(dims))]
    before, after = compare_levels(conv_model(nodes, inits, with_bias), X8)
    assert (before, after[L.ORT_ENABLE_BASIC], after[L.ORT_ENABLE_EXTENDED]) == (4, 4, 1)


@pytest.mark.parametrize(
    "value,why",
    [
        (np.ones((1, 1, 1, 8)), "broadcasts along the width"),
        (np.ones((2, 4, 1, 1)), "broadcasts along the batch"),
        (np.ones((1, 1, 4, 1, 1)), "adds an axis"),
        (np.array([1, np.inf, 1, 1]).reshape(4, 1, 1), "not finite"),
    ],
)
def test_conv_mul_that_is_not_per_channel_stays(value, why):
    mul = helper.make_node("Mul", ["c", "s"], ["Y"])
    before, after = compare_levels(conv_model([mul], [const("s", value)]), X8)
    assert after[L.ORT_ENABLE_ALL] == before == 2, why


def test_conv_mul_output_used_twice_stays():
    nodes = [helper.make_node("Mul", ["c", "s"], ["m"]), helper.make_node("Add", ["m", "c"], ["Y"])]
    before, after = compare_levels(conv_model(nodes, [const("s", np.full((4, 1, 1), 3.0))]), X8)
    assert after[L.ORT_ENABLE_ALL] == before == 3


@pytest.mark.parametrize("x_shape", [[1, 4, 5, 6], [2, 4, 7]], ids=["2d", "1d"])
def test_batchnorm_mul_add_fold_into_batchnorm(x_shape):
    rng = np.random.default_rng(6)
    dims = (4,) + (1,) * (len(x_shape) - 2)
    nodes = [
        helper.make_node("BatchNormalization", ["X", "gamma", "beta", "mean", "var"], ["bn"], epsilon=1e-3),
        helper.make_node("Mul", ["bn", "s"], ["m"]),
        helper.make_node("Add", ["t", "m"], ["a"]),
        helper.make_node("Relu", ["a"], ["Y"]),
    ]
    inits = bn_inits() + [const("s", rng.uniform(-2, 2, dims)), const("t", rng.standard_normal(dims))]
    m = make_model(nodes, [vi("X", x_shape)], [vi("Y", None)], inits)
    x = {"X": rng.standard_normal(x_shape).astype(np.float32)}
    before, after = compare_levels(m, x)
    assert (before, after[L.ORT_ENABLE_BASIC], after[L.ORT_ENABLE_EXTENDED]) == (4, 4, 2)


def test_batchnorm_mul_of_unknown_rank_stays():
    # [4, 1, 1] lines up with the channels only if X has rank 4: X's rank is not declared.
    nodes = [
        helper.make_node("BatchNormalization", ["X", "gamma", "beta", "mean", "var"], ["bn"]),
        helper.make_node("Mul", ["bn", "s"], ["Y"]),
    ]
    m = make_model(nodes, [vi("X", None)], [vi("Y", None)], bn_inits() + [const("s", np.full((4, 1, 1), 2.0))])
    x = {"X": np.random.default_rng(7).standard_normal((1, 4, 3, 3)).astype(np.float32)}
    before, after = compare_levels(m, x)
    assert after[L.ORT_ENABLE_ALL] == before == 2


def test_matmul_add_to_gemm():
    rng = np.random.default_rng(4)
    inits = [
        numpy_helper.from_array(rng.standard_normal((6, 5)).astype(np.float32), "Wm"),
        numpy_helper.from_array(rng.standard_normal(5).astype(np.float32), "bias"),
    ]
    nodes = [helper.make_node("MatMul", ["A", "Wm"], ["mm"]), helper.make_node("Add", ["mm", "bias"], ["Y"])]
    m = make_model(nodes, [vi("A", [3, 6])], [vi("Y", None)], inits)
    before, after = compare_levels(m, {"A": rng.standard_normal((3, 6)).astype(np.float32)})
    assert (before, after[L.ORT_ENABLE_ALL]) == (2, 1)
    # A of rank 3: Gemm cannot take it, the pair stays.
    m3 = make_model(nodes, [vi("A", [2, 3, 6])], [vi("Y", None)], inits)
    before, after = compare_levels(m3, {"A": rng.standard_normal((2, 3, 6)).astype(np.float32)})
    assert after[L.ORT_ENABLE_ALL] == before == 2


def gelu_nodes(variant: str, half: float = 0.5) -> tuple[list, list]:
    """0.5 * x * (1 + erf(x / sqrt 2)) as exporters write it before opset 20."""
    inits = [
        numpy_helper.from_array(np.array(np.sqrt(2.0), np.float32), "sqrt2"),
        numpy_helper.from_array(np.array(np.sqrt(0.5), np.float32), "rsqrt2"),
        numpy_helper.from_array(np.array(1.0, np.float32), "one"),
        numpy_helper.from_array(np.array(half, np.float32), "half"),
    ]
    scale = (
        helper.make_node("Mul", ["rsqrt2", "X"], ["s"])
        if variant == "mul"
        else helper.make_node("Div", ["X", "sqrt2"], ["s"])
    )
    nodes = [scale, helper.make_node("Erf", ["s"], ["e"]), helper.make_node("Add", ["e", "one"], ["a"])]
    if variant == "half_first":
        nodes += [helper.make_node("Mul", ["X", "half"], ["h"]), helper.make_node("Mul", ["h", "a"], ["Y"])]
    else:
        nodes += [helper.make_node("Mul", ["X", "a"], ["m"]), helper.make_node("Mul", ["m", "half"], ["Y"])]
    return nodes, inits


@pytest.mark.parametrize("variant", ["div", "mul", "half_first"])
def test_gelu_pattern_becomes_one_node(variant, tmp_path):
    """The written-out GELU of an opset-17 export fuses into com.microsoft Gelu (as onnxruntime's
    GeluFusion does): one node, the same values, and the written model imports com.microsoft."""
    nodes, inits = gelu_nodes(variant)
    m = make_model(nodes, [vi("X", [4, 37])], [vi("Y", None)], inits)
    x = np.random.default_rng(5).standard_normal((4, 37)).astype(np.float32) * 3
    before, after = compare_levels(m, {"X": x})
    assert (before, after[L.ORT_ENABLE_EXTENDED]) == (5, 1)
    want = 0.5 * x.astype(np.float64) * (1 + np.vectorize(math.erf)(x.astype(np.float64) / math.sqrt(2)))
    np.testing.assert_allclose(session(m).run(None, {"X": x})[0], want, rtol=1e-5, atol=1e-6)
    path = tmp_path / "gelu.onnx"
    session(m, path=str(path))
    written = onnx.load(path)
    assert [(n.domain, n.op_type) for n in written.graph.node] == [("com.microsoft", "Gelu")]
    assert {o.domain: o.version for o in written.opset_import}.get("com.microsoft") == 1
    assert session(str(path)).run(None, {"X": x})[0].shape == (4, 37)


def test_gelu_lookalikes_are_left_alone():
    # 0.49 is not GELU's 0.5; and an intermediate read twice must survive the fusion.
    nodes, inits = gelu_nodes("div", half=0.49)
    before, after = compare_levels(make_model(nodes, [vi("X", [3, 5])], [vi("Y", None)], inits), X5)
    assert after[L.ORT_ENABLE_ALL] == before == 5
    nodes, inits = gelu_nodes("div")
    m = make_model(nodes, [vi("X", [3, 5])], [vi("Y", None), vi("e", None)], inits)
    before, after = compare_levels(m, X5)
    assert after[L.ORT_ENABLE_ALL] == before == 5


X5 = {"X": np.random.default_rng(6).standard_normal((3, 5)).astype(np.float32)}


def test_identity_and_dropout_chain():
    nodes = [
        helper.make_node("Identity", ["X"], ["i1"]),
        helper.make_node("Dropout", ["i1"], ["d1"]),
        helper.make_node("Identity", ["d1"], ["i2"]),
        helper.make_node("Relu", ["i2"], ["r"]),
        helper.make_node("Identity", ["r"], ["Y"]),  # a graph output: kept
        helper.make_node("Identity", ["i2"], ["Z"]),
    ]
    m = make_model(nodes, [vi("X", [2, 3])], [vi("Y", None), vi("Z", None)])
    before, after = compare_levels(m, {"X": np.arange(-3, 3, dtype=np.float32).reshape(2, 3)})
    assert before == 6 and after[L.ORT_ENABLE_BASIC] == 3


def test_constant_subgraph_folds():
    # Shape of a static input -> Gather -> Unsqueeze -> Concat -> Reshape, and
    # ConstantOfShape weights: only the Reshape and Add remain.
    nodes = [
        helper.make_node("Shape", ["X"], ["s"]),
        helper.make_node("Constant", [], ["zero"], value=numpy_helper.from_array(np.array(0, np.int64))),
        helper.make_node("Gather", ["s", "zero"], ["n"]),
        helper.make_node("Unsqueeze", ["n", "ax"], ["n1"]),
        helper.make_node("Concat", ["n1", "minus1"], ["shape"], axis=0),
        helper.make_node("Reshape", ["X", "shape"], ["flat"]),
        helper.make_node(
            "ConstantOfShape", ["wshape"], ["w"], value=numpy_helper.from_array(np.array([0.5], np.float32))
        ),
        helper.make_node("Add", ["flat", "w"], ["Y"]),
    ]
    inits = [
        numpy_helper.from_array(np.array([0], np.int64), "ax"),
        numpy_helper.from_array(np.array([-1], np.int64), "minus1"),
        numpy_helper.from_array(np.array([2, 12], np.int64), "wshape"),
    ]
    m = make_model(nodes, [vi("X", [2, 3, 4])], [vi("Y", None)], inits)
    x = np.random.default_rng(5).standard_normal((2, 3, 4)).astype(np.float32)
    before, after = compare_levels(m, {"X": x})
    assert before == 8 and after[L.ORT_ENABLE_BASIC] == 2
    np.testing.assert_allclose(session(m).run(None, {"X": x})[0], x.reshape(2, 12) + 0.5)


def test_large_constant_weight_folds():
    # A fully connected weight built by ConstantOfShape and larger than 256 MB
    # (VGG-19's fc6 in onnx's light models is 411 MB) folds into an
    # initializer once: only the Gemm runs.
    k, n = 262_144, 300  # 300 MiB of float32
    nodes = [
        helper.make_node(
            "ConstantOfShape", ["wshape"], ["w"], value=numpy_helper.from_array(np.array([0.5], np.float32))
        ),
        helper.make_node("Gemm", ["X", "w"], ["Y"], transB=1),
    ]
    inits = [numpy_helper.from_array(np.array([n, k], np.int64), "wshape")]
    m = make_model(nodes, [vi("X", [1, k])], [vi("Y", None)], inits)
    x = np.random.default_rng(3).integers(-4, 5, (1, k)).astype(np.float32)
    s = session(m)
    y = s.run(None, {"X": x})[0]
    assert s.get_profile()["nodes_executed"] == 1
    np.testing.assert_array_equal(y, np.full((1, n), 0.5 * x.sum(), np.float32))


def test_overridable_initializer_not_folded():
    # An initializer that is also a graph input may be fed: not a constant.
    nodes = [helper.make_node("Neg", ["C"], ["Y"])]
    init = numpy_helper.from_array(np.ones(3, np.float32), "C")
    m = make_model(nodes, [vi("C", [3])], [vi("Y", None)], [init])
    s = session(m)
    np.testing.assert_array_equal(s.run(None, {})[0], -np.ones(3, np.float32))
    np.testing.assert_array_equal(s.run(None, {"C": np.full(3, 2, np.float32)})[0], np.full(3, -2, np.float32))


def test_random_not_folded():
    nodes = [helper.make_node("RandomUniform", [], ["r"], shape=[64]), helper.make_node("Relu", ["r"], ["Y"])]
    m = make_model(nodes, [], [vi("Y", None)])
    s = session(m)
    assert s.get_profile()["nodes_executed"] == 2


def test_optimized_model_filepath_round_trip(tmp_path):
    ort = pytest.importorskip("onnxruntime")
    bn = helper.make_node("BatchNormalization", ["c", "gamma", "beta", "mean", "var"], ["bn"])
    relu = helper.make_node("Relu", ["bn"], ["r"])
    ident = helper.make_node("Identity", ["r"], ["i"])
    flat = helper.make_node("Flatten", ["i"], ["f"])
    mm = helper.make_node("MatMul", ["f", "Wm"], ["mm"])
    add = helper.make_node("Add", ["mm", "bm"], ["Y"])
    rng = np.random.default_rng(6)
    inits = bn_inits() + [
        numpy_helper.from_array(rng.standard_normal((256, 7)).astype(np.float32), "Wm"),
        numpy_helper.from_array(rng.standard_normal(7).astype(np.float32), "bm"),
    ]
    m = conv_model([bn, relu, ident, flat, mm, add], inits, out_shape=[1, 7])
    onnx.checker.check_model(m)
    path = str(tmp_path / "opt.onnx")
    s = session(m, path=path)
    want = s.run(None, X8)[0]
    saved = onnx.load(path)
    onnx.checker.check_model(saved)
    assert [n.op_type for n in saved.graph.node] == ["FusedConv", "Flatten", "Gemm"]
    np.testing.assert_allclose(session(path).run(None, X8)[0], want, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(session(path, L.ORT_DISABLE_ALL).run(None, X8)[0], want, rtol=1e-4, atol=1e-5)
    ref = ort.InferenceSession(path, providers=["CPUExecutionProvider"]).run(None, X8)[0]
    np.testing.assert_allclose(ref, want, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("name", ["light_squeezenet.onnx", "light_inception_v1.onnx"])
def test_light_model_written_and_reloaded(tmp_path, name):
    if name not in LIGHT_MODELS:
        pytest.skip("onnx light models not installed")
    src = os.path.join(LIGHT_DIR, name)
    path = str(tmp_path / name)
    s = session(src, path=path)
    feeds = feeds_for(s, np.random.default_rng(7))
    want = s.run(None, feeds)
    onnx.checker.check_model(onnx.load(path))
    for g, w in zip(session(path).run(None, feeds), want):
        np.testing.assert_allclose(g, w, rtol=1e-4, atol=1e-5)
