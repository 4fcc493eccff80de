"""Quantized inference against onnxruntime.

Small float models are built with onnx.helper and quantized here with
onnxruntime.quantization (quantize_dynamic; quantize_static in the QOperator
and QDQ formats), then run by pionnx and onnxruntime; outputs must agree
within one quantization step. Single-node models cover the com.microsoft
operators and the edge cases (per-channel, broadcasting, padding) directly.
"""

from __future__ import annotations

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

import pionnx

ort = pytest.importorskip("onnxruntime")
quantization = pytest.importorskip("onnxruntime.quantization")

RNG = np.random.default_rng(1234)


def run_both(model: onnx.ModelProto, feeds: dict[str, np.ndarray]):
    data = model.SerializeToString()
    so = ort.SessionOptions()
    # No graph fusions: compare the operators as written.
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    ref = ort.InferenceSession(data, so, providers=["CPUExecutionProvider"]).run(
        None, feeds
    )
    got = pionnx.InferenceSession(data).run(None, feeds)
    return ref, got


def assert_close_steps(
    ref: np.ndarray, got: np.ndarray, step: float, steps: float = 1.0
) -> None:
    """Agreement within `steps` quantization steps (integers: `steps` units)."""
    assert got.shape == ref.shape and got.dtype == ref.dtype
    diff = np.abs(got.astype(np.float64) - ref.astype(np.float64))
    assert diff.max(initial=0.0) <= steps * step * (1 + 1e-5) + 1e-6, (
        f"max diff {diff.max()} > {steps} x {step}"
    )


def init(name: str, shape, scale: float = 0.3) -> onnx.TensorProto:
    return numpy_helper.from_array(
        (RNG.standard_normal(shape) * scale).astype(np.float32), name
    )


# ------------------------------------------------------------ float models


def cnn_model() -> tuple[onnx.ModelProto, dict[str, tuple[int, ...]]]:
    nodes = [
        helper.make_node("Conv", ["x", "w1", "b1"], ["c1"], pads=[1, 1, 1, 1]),
        helper.make_node("Relu", ["c1"], ["r1"]),
        helper.make_node(
            "MaxPool", ["r1"], ["p1"], kernel_shape=[2, 2], strides=[2, 2]
        ),
        helper.make_node(
            "Conv", ["p1", "w2", "b2"], ["c2"], pads=[1, 1, 1, 1], group=2
        ),
        helper.make_node("Add", ["c2", "p1"], ["a2"]),
        helper.make_node("Sigmoid", ["a2"], ["s2"]),
        helper.make_node(
            "AveragePool", ["s2"], ["ap"], kernel_shape=[3, 3], pads=[1, 1, 1, 1]
        ),
        helper.make_node("Concat", ["ap", "s2"], ["cc"], axis=1),
        helper.make_node("GlobalAveragePool", ["cc"], ["g"]),
        helper.make_node("Flatten", ["g"], ["f"]),
        helper.make_node("Gemm", ["f", "wg", "bg"], ["y"], transB=1),
    ]
    graph = helper.make_graph(
        nodes,
        "cnn",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 12, 12])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 5])],
        [
            init("w1", [4, 3, 3, 3]),
            init("b1", [4]),
            init("w2", [4, 2, 3, 3]),
            init("b2", [4]),
            init("wg", [5, 8]),
            init("bg", [5]),
        ],
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), {
        "x": (1, 3, 12, 12)
    }


def transformer_model() -> tuple[onnx.ModelProto, dict[str, tuple[int, ...]]]:
    nodes = [
        helper.make_node("MatMul", ["x", "wq"], ["q"]),
        helper.make_node("MatMul", ["x", "wk"], ["k"]),
        helper.make_node("Transpose", ["k"], ["kt"], perm=[0, 2, 1]),
        helper.make_node("MatMul", ["q", "kt"], ["s"]),
        helper.make_node("Softmax", ["s"], ["p"], axis=-1),
        helper.make_node("MatMul", ["p", "x"], ["o"]),
        helper.make_node("MatMul", ["o", "wo"], ["o2"]),
        helper.make_node("Add", ["o2", "bo"], ["o3"]),
        helper.make_node("Mul", ["o3", "x"], ["o4"]),
        helper.make_node("Add", ["o4", "x"], ["y"]),
    ]
    graph = helper.make_graph(
        nodes,
        "transformer",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 6, 16])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2, 6, 16])],
        [
            init("wq", [16, 16]),
            init("wk", [16, 16]),
            init("wo", [16, 16]),
            init("bo", [16]),
        ],
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), {
        "x": (2, 6, 16)
    }


MODELS = {"cnn": cnn_model, "transformer": transformer_model}


class Reader(quantization.CalibrationDataReader):
    def __init__(self, shapes):
        rng = np.random.default_rng(7)
        self.batches = iter(
            [
                {
                    k: rng.standard_normal(v).astype(np.float32)
                    for k, v in shapes.items()
                }
                for _ in range(8)
            ]
        )

    def get_next(self):
        return next(self.batches, None)


def feeds_for(shapes):
    rng = np.random.default_rng(99)
    return {k: rng.standard_normal(v).astype(np.float32) for k, v in shapes.items()}


def output_step(model: onnx.ModelProto) -> float:
    """Scale of the DequantizeLinear that produces the graph output, else 0."""
    out = model.graph.output[0].name
    inits = {t.name: numpy_helper.to_array(t) for t in model.graph.initializer}
    for node in model.graph.node:
        if node.output[0] == out and node.op_type == "DequantizeLinear":
            return float(inits[node.input[1]].max())
    return 0.0


@pytest.mark.parametrize("name", MODELS)
def test_quantize_dynamic(tmp_path, name):
    model, shapes = MODELS[name]()
    src, dst = tmp_path / "f.onnx", tmp_path / "q.onnx"
    onnx.save(model, src)
    quantization.quantize_dynamic(str(src), str(dst))
    q = onnx.load(dst)
    ref, got = run_both(q, feeds_for(shapes))
    # Float outputs; the activations' dynamic quantization is bit-exact, so
    # the float results agree to float rounding.
    np.testing.assert_allclose(got[0], ref[0], rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("name", MODELS)
@pytest.mark.parametrize("fmt", ["QOperator", "QDQ"])
@pytest.mark.parametrize("act", ["QUInt8", "QInt8"])
@pytest.mark.parametrize("per_channel", [False, True])
def test_quantize_static(tmp_path, name, fmt, act, per_channel):
    model, shapes = MODELS[name]()
    src, dst = tmp_path / "f.onnx", tmp_path / "q.onnx"
    onnx.save(model, src)
    quantization.quantize_static(
        str(src),
        str(dst),
        Reader(shapes),
        quant_format=getattr(quantization.QuantFormat, fmt),
        activation_type=getattr(quantization.QuantType, act),
        weight_type=quantization.QuantType.QInt8,
        per_channel=per_channel,
    )
    q = onnx.load(dst)
    ref, got = run_both(q, feeds_for(shapes))
    step = output_step(q)
    assert step > 0
    if fmt == "QDQ":
        # Dequantize -> float op -> Quantize: float ops may round differently
        # from onnxruntime's, by at most one step per Q/DQ pair.
        assert_close_steps(ref[0], got[0], step, steps=2)
    else:
        assert_close_steps(ref[0], got[0], step)


# ------------------------------------------------------- single operators


def node_model(node, inputs, outputs, initializers=(), opset=21):
    graph = helper.make_graph([node], "g", inputs, outputs, list(initializers))
    return helper.make_model(
        graph,
        opset_imports=[
            helper.make_opsetid("", opset),
            helper.make_opsetid("com.microsoft", 1),
        ],
    )


def vi(name, elem, shape):
    return helper.make_tensor_value_info(name, elem, shape)


def q8(dtype, shape, rng=RNG):
    info = np.iinfo(dtype)
    return rng.integers(info.min, info.max + 1, size=shape).astype(dtype)


NP2ONNX = {np.uint8: TensorProto.UINT8, np.int8: TensorProto.INT8}


def scalar(name, value, dtype=np.float32):
    return numpy_helper.from_array(np.array(value, dtype=dtype), name)


@pytest.mark.parametrize("dtype", [np.uint8, np.int8])
@pytest.mark.parametrize("op", ["QLinearAdd", "QLinearMul"])
@pytest.mark.parametrize(
    "shapes",
    [((2, 3, 4), (2, 3, 4)), ((2, 3, 4), (4,)), ((2, 1, 4), (3, 1)), ((1,), (2, 5))],
)
def test_qlinear_binary(op, dtype, shapes):
    zp = 10 if dtype == np.uint8 else -3
    node = helper.make_node(
        op,
        ["a", "sa", "za", "b", "sb", "zb", "sc", "zc"],
        ["c"],
        domain="com.microsoft",
    )
    inits = [
        scalar("sa", 0.05),
        scalar("za", zp, dtype),
        scalar("sb", 0.02),
        scalar("zb", zp + 5, dtype),
        scalar("sc", 0.07 if op == "QLinearAdd" else 0.3),
        scalar("zc", zp - 2, dtype),
    ]
    t = NP2ONNX[dtype]
    m = node_model(
        node, [vi("a", t, shapes[0]), vi("b", t, shapes[1])], [vi("c", t, None)], inits
    )
    ref, got = run_both(m, {"a": q8(dtype, shapes[0]), "b": q8(dtype, shapes[1])})
    assert_close_steps(ref[0], got[0], 1)


@pytest.mark.parametrize("dtype", [np.uint8, np.int8])
@pytest.mark.parametrize("op", ["QLinearSigmoid", "QLinearLeakyRelu"])
def test_qlinear_unary(op, dtype):
    attrs = {"alpha": 0.1} if op == "QLinearLeakyRelu" else {}
    node = helper.make_node(
        op, ["x", "sx", "zx", "sy", "zy"], ["y"], domain="com.microsoft", **attrs
    )
    zp = 128 if dtype == np.uint8 else 0
    inits = [
        scalar("sx", 0.05),
        scalar("zx", zp, dtype),
        scalar("sy", 1 / 255 if op == "QLinearSigmoid" else 0.04),
        scalar("zy", 0 if op == "QLinearSigmoid" and dtype == np.uint8 else zp, dtype),
    ]
    t = NP2ONNX[dtype]
    x = np.arange(256).astype(np.int64).reshape(4, 64)
    x = (x if dtype == np.uint8 else x - 128).astype(dtype)
    m = node_model(node, [vi("x", t, [4, 64])], [vi("y", t, [4, 64])], inits)
    ref, got = run_both(m, {"x": x})
    assert_close_steps(ref[0], got[0], 1)


@pytest.mark.parametrize("dtype", [np.uint8, np.int8])
@pytest.mark.parametrize("axis", [-1, 1])
def test_qlinear_softmax(dtype, axis):
    node = helper.make_node(
        "QLinearSoftmax",
        ["x", "sx", "zx", "sy", "zy"],
        ["y"],
        domain="com.microsoft",
        axis=axis,
        opset=13,
    )
    zy = 0 if dtype == np.uint8 else -128
    inits = [
        scalar("sx", 0.1),
        scalar("zx", 3, dtype),
        scalar("sy", 1 / 256),
        scalar("zy", zy, dtype),
    ]
    t = NP2ONNX[dtype]
    m = node_model(node, [vi("x", t, [2, 5, 7])], [vi("y", t, [2, 5, 7])], inits)
    ref, got = run_both(m, {"x": q8(dtype, (2, 5, 7))})
    assert_close_steps(ref[0], got[0], 1)


@pytest.mark.parametrize("dtype", [np.uint8, np.int8])
def test_qlinear_concat(dtype):
    node = helper.make_node(
        "QLinearConcat",
        ["sy", "zy", "a", "sa", "za", "b", "sb", "zb", "c", "sy", "zy"],
        ["y"],
        domain="com.microsoft",
        axis=1,
    )
    inits = [
        scalar("sy", 0.05),
        scalar("zy", 4, dtype),
        scalar("sa", 0.02),
        scalar("za", 1, dtype),
        scalar("sb", 0.1),
        scalar("zb", 7, dtype),
    ]
    t = NP2ONNX[dtype]
    m = node_model(
        node,
        [vi("a", t, [2, 3, 4]), vi("b", t, [2, 1, 4]), vi("c", t, [2, 2, 4])],
        [vi("y", t, [2, 6, 4])],
        inits,
    )
    ref, got = run_both(
        m,
        {
            "a": q8(dtype, (2, 3, 4)),
            "b": q8(dtype, (2, 1, 4)),
            "c": q8(dtype, (2, 2, 4)),
        },
    )
    assert_close_steps(ref[0], got[0], 1)


@pytest.mark.parametrize("dtype", [np.uint8, np.int8])
@pytest.mark.parametrize("channels_last", [0, 1])
def test_qlinear_global_average_pool(dtype, channels_last):
    node = helper.make_node(
        "QLinearGlobalAveragePool",
        ["x", "sx", "zx", "sy", "zy"],
        ["y"],
        domain="com.microsoft",
        channels_last=channels_last,
    )
    inits = [
        scalar("sx", 0.05),
        scalar("zx", 5, dtype),
        scalar("sy", 0.02),
        scalar("zy", -2 if dtype == np.int8 else 9, dtype),
    ]
    t = NP2ONNX[dtype]
    shape = (2, 3, 5, 6)
    m = node_model(node, [vi("x", t, shape)], [vi("y", t, None)], inits)
    ref, got = run_both(m, {"x": q8(dtype, shape)})
    assert_close_steps(ref[0], got[0], 1)


@pytest.mark.parametrize("dtype", [np.uint8, np.int8])
@pytest.mark.parametrize(
    "attrs",
    [
        {"kernel_shape": [3, 3]},
        {"kernel_shape": [3, 3], "pads": [1, 1, 1, 1], "strides": [2, 2]},
        {"kernel_shape": [3, 3], "pads": [1, 1, 1, 1], "count_include_pad": 1},
        {"kernel_shape": [2, 3], "strides": [2, 2], "ceil_mode": 1},
        {"kernel_shape": [3, 3], "auto_pad": "SAME_UPPER", "strides": [2, 2]},
    ],
)
def test_qlinear_average_pool(dtype, attrs):
    node = helper.make_node(
        "QLinearAveragePool",
        ["x", "sx", "zx", "sy", "zy"],
        ["y"],
        domain="com.microsoft",
        **attrs,
    )
    inits = [
        scalar("sx", 0.05),
        scalar("zx", 5, dtype),
        scalar("sy", 0.04),
        scalar("zy", 3, dtype),
    ]
    t = NP2ONNX[dtype]
    m = node_model(node, [vi("x", t, [2, 3, 7, 8])], [vi("y", t, None)], inits)
    ref, got = run_both(m, {"x": q8(dtype, (2, 3, 7, 8))})
    assert_close_steps(ref[0], got[0], 1)


@pytest.mark.parametrize(
    "a_dtype,b_dtype", [(np.uint8, np.int8), (np.uint8, np.uint8), (np.int8, np.int8)]
)
@pytest.mark.parametrize("per_column", [False, True])
def test_matmul_integer(a_dtype, b_dtype, per_column):
    node = helper.make_node("MatMulInteger", ["a", "b", "za", "zb"], ["y"])
    zb = q8(b_dtype, (20,)) if per_column else np.array(3, dtype=b_dtype)
    inits = [scalar("za", 7, a_dtype), numpy_helper.from_array(zb, "zb")]
    m = node_model(
        node,
        [vi("a", NP2ONNX[a_dtype], [3, 5, 300]), vi("b", NP2ONNX[b_dtype], [300, 20])],
        [vi("y", TensorProto.INT32, None)],
        inits,
    )
    ref, got = run_both(m, {"a": q8(a_dtype, (3, 5, 300)), "b": q8(b_dtype, (300, 20))})
    np.testing.assert_array_equal(got[0], ref[0])


@pytest.mark.parametrize(
    "x_dtype,w_dtype", [(np.uint8, np.uint8), (np.uint8, np.int8), (np.int8, np.int8)]
)
@pytest.mark.parametrize(
    "attrs",
    [
        {},
        {"pads": [1, 2, 1, 0], "strides": [2, 1]},
        {"pads": [1, 1, 1, 1], "dilations": [2, 2], "group": 2},
        {"auto_pad": "SAME_LOWER", "strides": [2, 2]},
    ],
)
def test_conv_integer(x_dtype, w_dtype, attrs):
    node = helper.make_node("ConvInteger", ["x", "w", "zx", "zw"], ["y"], **attrs)
    inits = [scalar("zx", 9, x_dtype), scalar("zw", 2, w_dtype)]
    m = node_model(
        node,
        [
            vi("x", NP2ONNX[x_dtype], [2, 4, 9, 10]),
            vi("w", NP2ONNX[w_dtype], [6, 4 // attrs.get("group", 1), 3, 3]),
        ],
        [vi("y", TensorProto.INT32, None)],
        inits,
    )
    feeds = {
        "x": q8(x_dtype, (2, 4, 9, 10)),
        "w": q8(w_dtype, (6, 4 // attrs.get("group", 1), 3, 3)),
    }
    ref, got = run_both(m, feeds)
    np.testing.assert_array_equal(got[0], ref[0])


@pytest.mark.parametrize("x_dtype", [np.uint8, np.int8])
@pytest.mark.parametrize(
    "attrs",
    [{"pads": [1, 1, 1, 1]}, {"strides": [2, 2], "group": 3}, {"kernel_shape": [1, 1]}],
)
def test_qlinear_conv_per_channel(x_dtype, attrs):
    group = attrs.get("group", 1)
    k = attrs.get("kernel_shape", [3, 3])
    node = helper.make_node(
        "QLinearConv",
        ["x", "sx", "zx", "w", "sw", "zw", "sy", "zy", "bias"],
        ["y"],
        **attrs,
    )
    w = q8(np.int8, (6, 6 // group, *k))
    inits = [
        scalar("sx", 0.02),
        scalar("zx", 4, x_dtype),
        numpy_helper.from_array(w, "w"),
        numpy_helper.from_array(np.linspace(0.001, 0.01, 6).astype(np.float32), "sw"),
        numpy_helper.from_array(np.zeros(6, np.int8), "zw"),
        scalar("sy", 0.5),
        scalar("zy", 1, x_dtype),
        numpy_helper.from_array(RNG.integers(-5000, 5000, 6).astype(np.int32), "bias"),
    ]
    m = node_model(
        node,
        [vi("x", NP2ONNX[x_dtype], [1, 6, 8, 8])],
        [vi("y", NP2ONNX[x_dtype], None)],
        inits,
    )
    ref, got = run_both(m, {"x": q8(x_dtype, (1, 6, 8, 8))})
    assert_close_steps(ref[0], got[0], 1)


@pytest.mark.parametrize("a_dtype", [np.uint8, np.int8])
@pytest.mark.parametrize("quantized_out", [False, True])
@pytest.mark.parametrize("trans_b", [0, 1])
def test_qgemm(a_dtype, quantized_out, trans_b):
    inputs = ["a", "sa", "za", "b", "sb", "zb", "c"] + (
        ["sy", "zy"] if quantized_out else []
    )
    node = helper.make_node(
        "QGemm", inputs, ["y"], domain="com.microsoft", transB=trans_b, alpha=0.5
    )
    b_shape = (7, 33) if trans_b else (33, 7)
    inits = [
        scalar("sa", 0.03),
        scalar("za", 5, a_dtype),
        numpy_helper.from_array(q8(np.int8, b_shape), "b"),
        numpy_helper.from_array(np.linspace(0.01, 0.02, 7).astype(np.float32), "sb"),
        numpy_helper.from_array(np.zeros(7, np.int8), "zb"),
        numpy_helper.from_array(RNG.integers(-300, 300, 7).astype(np.int32), "c"),
        scalar("sy", 0.2),
        scalar("zy", 2, a_dtype),
    ]
    out_t = NP2ONNX[a_dtype] if quantized_out else TensorProto.FLOAT
    m = node_model(
        node, [vi("a", NP2ONNX[a_dtype], [4, 33])], [vi("y", out_t, None)], inits
    )
    ref, got = run_both(m, {"a": q8(a_dtype, (4, 33))})
    if quantized_out:
        assert_close_steps(ref[0], got[0], 1)
    else:
        np.testing.assert_allclose(got[0], ref[0], rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("per_column", [False, True])
def test_matmul_integer_to_float_and_dynamic_quantize_matmul(per_column):
    b = q8(np.int8, (24, 10))
    sb = (
        np.linspace(0.01, 0.02, 10).astype(np.float32)
        if per_column
        else np.array(0.015, np.float32)
    )
    zb = np.zeros(10, np.int8) if per_column else np.array(0, np.int8)
    inits = [
        numpy_helper.from_array(b, "b"),
        numpy_helper.from_array(sb, "sb"),
        numpy_helper.from_array(zb, "zb"),
        init("bias", [10]),
        scalar("sa", 0.04),
        scalar("za", 120, np.uint8),
    ]
    mm = helper.make_node(
        "MatMulIntegerToFloat",
        ["a", "b", "sa", "sb", "za", "zb", "bias"],
        ["y"],
        domain="com.microsoft",
    )
    m = node_model(
        mm,
        [vi("a", TensorProto.UINT8, [2, 3, 24])],
        [vi("y", TensorProto.FLOAT, None)],
        inits,
    )
    ref, got = run_both(m, {"a": q8(np.uint8, (2, 3, 24))})
    np.testing.assert_allclose(got[0], ref[0], rtol=1e-5, atol=1e-5)

    dq = helper.make_node(
        "DynamicQuantizeMatMul",
        ["x", "b", "sb", "zb", "bias"],
        ["y"],
        domain="com.microsoft",
    )
    m = node_model(
        dq,
        [vi("x", TensorProto.FLOAT, [2, 3, 24])],
        [vi("y", TensorProto.FLOAT, None)],
        inits,
    )
    ref, got = run_both(m, {"x": RNG.standard_normal((2, 3, 24)).astype(np.float32)})
    np.testing.assert_allclose(got[0], ref[0], rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("domain", ["", "com.microsoft"])
def test_quantize_dequantize_per_axis(domain):
    x = RNG.standard_normal((2, 3, 4)).astype(np.float32) * 3
    s = np.array([0.02, 0.05, 0.1], np.float32)
    z = np.array([0, 10, -5], np.int8)
    inits = [numpy_helper.from_array(s, "s"), numpy_helper.from_array(z, "z")]
    q = helper.make_node(
        "QuantizeLinear", ["x", "s", "z"], ["q"], axis=1, domain=domain
    )
    d = helper.make_node(
        "DequantizeLinear", ["q", "s", "z"], ["y"], axis=1, domain=domain
    )
    graph = helper.make_graph(
        [q, d],
        "g",
        [vi("x", TensorProto.FLOAT, [2, 3, 4])],
        [vi("q", TensorProto.INT8, None), vi("y", TensorProto.FLOAT, None)],
        inits,
    )
    m = helper.make_model(
        graph,
        opset_imports=[
            helper.make_opsetid("", 13),
            helper.make_opsetid("com.microsoft", 1),
        ],
    )
    ref, got = run_both(m, {"x": x})
    np.testing.assert_array_equal(got[0], ref[0])
    np.testing.assert_allclose(got[1], ref[1], rtol=1e-6)


def test_quantize_rounds_half_to_even_and_saturates():
    x = np.array([0.5, 1.5, 2.5, -0.5, -1.5, 1000.0, -1000.0, 0.0], np.float32)
    node = helper.make_node("QuantizeLinear", ["x", "s", "z"], ["y"])
    m = node_model(
        node,
        [vi("x", TensorProto.FLOAT, [8])],
        [vi("y", TensorProto.UINT8, [8])],
        [scalar("s", 1.0), scalar("z", 2, np.uint8)],
        opset=13,
    )
    got = pionnx.InferenceSession(m.SerializeToString()).run(None, {"x": x})[0]
    np.testing.assert_array_equal(got, np.array([2, 4, 4, 2, 0, 255, 0, 2], np.uint8))


@pytest.mark.parametrize(
    "a_dtype,b_dtype", [(np.uint8, np.int8), (np.int8, np.uint8), (np.uint8, np.uint8)]
)
def test_matmul_integer_large_matches_numpy(a_dtype, b_dtype):
    """Several depth and column blocks, odd sizes, per-column zero points:
    the blocked (and threaded) integer GEMM gives numpy's exact integers."""
    rng = np.random.default_rng(5)
    a, b = q8(a_dtype, (70, 601), rng), q8(b_dtype, (601, 301), rng)
    za, zb = q8(a_dtype, (), rng), q8(b_dtype, (301,), rng)
    node = helper.make_node("MatMulInteger", ["a", "b", "za", "zb"], ["y"])
    m = node_model(
        node,
        [vi("a", NP2ONNX[a_dtype], [70, 601]), vi("b", NP2ONNX[b_dtype], [601, 301])],
        [vi("y", TensorProto.INT32, None)],
        [
            numpy_helper.from_array(np.array(za), "za"),
            numpy_helper.from_array(zb, "zb"),
        ],
    )
    opts = pionnx.SessionOptions()
    opts.intra_op_num_threads = 2
    got = pionnx.InferenceSession(m.SerializeToString(), opts).run(
        None, {"a": a, "b": b}
    )[0]
    want = (a.astype(np.int64) - int(za)) @ (b.astype(np.int64) - zb.astype(np.int64))
    np.testing.assert_array_equal(got, want)


_QGEMM_RUNNER = r"""
import sys, numpy as np, pionnx
model, feeds, out = sys.argv[1:4]
f = dict(np.load(feeds))
y = pionnx.InferenceSession(model).run(None, f)
np.savez(out, *y)
"""


def test_integer_kernel_matches_portable_kernel(tmp_path):
    """The CPU's integer GEMM kernel (VNNI/AVX2/SSE2 here, NEON on ARM) gives the portable kernel's bits."""
    import os
    import subprocess
    import sys

    rng = np.random.default_rng(9)
    b = rng.integers(-128, 128, (300, 260), dtype=np.int8)
    nodes = [helper.make_node("MatMulInteger", ["a", "b", "azp", "bzp"], ["y"]),
             helper.make_node("ConvInteger", ["x", "w", "xzp"], ["z"], pads=[1, 1, 1, 1])]
    inits = [numpy_helper.from_array(b, "b"), numpy_helper.from_array(np.int8(3).reshape(()), "bzp"),
             numpy_helper.from_array(np.uint8(131).reshape(()), "azp"),
             numpy_helper.from_array(rng.integers(0, 256, (16, 8, 3, 3), dtype=np.uint8), "w"),
             numpy_helper.from_array(np.uint8(100).reshape(()), "xzp")]
    graph = helper.make_graph(
        nodes, "q",
        [helper.make_tensor_value_info("a", TensorProto.UINT8, [64, 300]),
         helper.make_tensor_value_info("x", TensorProto.UINT8, [1, 8, 20, 20])],
        [helper.make_tensor_value_info("y", TensorProto.INT32, None),
         helper.make_tensor_value_info("z", TensorProto.INT32, None)],
        initializer=inits)
    m = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    path = tmp_path / "q.onnx"
    path.write_bytes(m.SerializeToString())
    feeds = tmp_path / "feeds.npz"
    np.savez(feeds, a=rng.integers(0, 256, (64, 300), dtype=np.uint8),
             x=rng.integers(0, 256, (1, 8, 20, 20), dtype=np.uint8))
    outs = {}
    for mode in ("default", "generic"):
        env = dict(os.environ)
        env.pop("PIONNX_QGEMM", None)
        if mode == "generic":
            env["PIONNX_QGEMM"] = "generic"
        out = tmp_path / f"{mode}.npz"
        proc = subprocess.run([sys.executable, "-c", _QGEMM_RUNNER, str(path), str(feeds), str(out)],
                              env=env, capture_output=True, text=True, timeout=300)
        assert proc.returncode == 0, proc.stderr
        with np.load(out) as z:
            outs[mode] = [z[k] for k in sorted(z.files)]
    for got, want in zip(outs["default"], outs["generic"]):
        np.testing.assert_array_equal(got, want)
    a = np.load(feeds)["a"].astype(np.int64) - 131
    np.testing.assert_array_equal(outs["generic"][0], a @ (b.astype(np.int64) - 3))
