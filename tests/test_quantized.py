"""Quantized inference, judged against exact references that do not depend on the CPU.

Every test here compares pionnx with tests/quant_reference.py: integer
accumulation in int64 numpy arithmetic, requantization in the float32 the
specs state, whole graphs through onnx.reference.ReferenceEvaluator with those
operators. Integer outputs (MatMulInteger, ConvInteger) must be equal;
requantized outputs may differ by one quantization step (a float32 tie landing
the other way); float outputs by float32 rounding.

onnxruntime is not the reference: its u8 x s8 GEMM kernels sum byte pairs in
saturating 16-bit lanes on x86 CPUs with AVX2 and without VNNI, so its answers
there are not exact. It stays in the comparison only to check the references
themselves (`test_reference_agrees_with_onnxruntime`), on every CPU for the
operators it computes exactly, and for the u8 x s8 ones only on a CPU where a
probe shows its answers exact (skipped elsewhere, with the reason).

Small float models are built with onnx.helper and quantized here with
onnxruntime.quantization (quantize_dynamic; quantize_static in the QOperator
and QDQ formats). Single-node models cover the com.microsoft operators and the
edge cases (per-channel, broadcasting, padding) directly.
"""

from __future__ import annotations

import functools
import os
import subprocess
import sys
import tempfile
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnx
import onnx.reference
import pytest
import quant_reference as qref
from onnx import TensorProto, helper, numpy_helper

import pionnx

ort = pytest.importorskip("onnxruntime")
quantization = pytest.importorskip("onnxruntime.quantization")


def case_rng(*key) -> np.random.Generator:
    """A generator seeded by the case's own parameters: the same data whichever
    worker runs the case and whatever ran before it."""
    return np.random.default_rng(zlib.crc32(repr(key).encode()))


# ---------------------------------------------------------------- checking


@dataclass
class Case:
    """A model, its feeds, and how closely each output must match the reference.

    tol: ("exact",) for integer outputs; ("steps", n) for quantized outputs,
    n quantization steps of the output (its integer units); ("dq_steps", n,
    step) for float outputs of a DequantizeLinear with scale `step`;
    ("close", rtol, atol) for float outputs.
    u8s8: the model multiplies uint8 activations by int8 weights.
    """

    model: onnx.ModelProto
    feeds: dict[str, np.ndarray]
    tol: tuple
    u8s8: bool = False


def run_pionnx(model: onnx.ModelProto, feeds: dict[str, np.ndarray]) -> list[np.ndarray]:
    return pionnx.InferenceSession(model.SerializeToString()).run(None, feeds)


def run_ort(model: onnx.ModelProto, feeds: dict[str, np.ndarray]) -> list[np.ndarray]:
    so = ort.SessionOptions()
    # No graph fusions: compare the operators as written.
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    return ort.InferenceSession(model.SerializeToString(), so, providers=["CPUExecutionProvider"]).run(None, feeds)


def assert_matches(got: np.ndarray, want: np.ndarray, tol: tuple, what: str = "") -> None:
    got, want = np.asarray(got), np.asarray(want)
    assert got.shape == want.shape, f"{what}shape {got.shape} != reference {want.shape}"
    assert got.dtype == want.dtype, f"{what}dtype {got.dtype} != reference {want.dtype}"
    kind = tol[0]
    if kind == "exact":
        np.testing.assert_array_equal(got, want, err_msg=what)
        return
    if kind == "close":
        np.testing.assert_allclose(got, want, rtol=tol[1], atol=tol[2], err_msg=what)
        return
    steps, step = (tol[1], 1.0) if kind == "steps" else (tol[1], tol[2])
    diff = np.abs(got.astype(np.float64) - want.astype(np.float64))
    assert diff.max(initial=0.0) <= steps * step * (1 + 1e-5) + 1e-6, (
        f"{what}max diff {diff.max()} > {steps} x {step} (at {np.unravel_index(diff.argmax(), diff.shape)})"
    )


def check_pionnx(case: Case) -> None:
    """pionnx against the exact reference, output by output."""
    want = qref.run_reference(case.model, case.feeds)
    got = run_pionnx(case.model, case.feeds)
    assert len(got) == len(want)
    for i, (g, w) in enumerate(zip(got, want)):
        assert_matches(g, w, case.tol, f"output {i}: ")


@functools.cache
def ort_u8s8_error() -> int:
    """onnxruntime's largest error on a full-range u8 x s8 MatMulInteger on this CPU (0: exact).

    The case from the report of onnxruntime's AVX2 kernels: exact int32
    arithmetic says one thing, vpmaddubsw's saturating pair sums another.
    """
    rng = np.random.default_rng(0)
    a = rng.integers(0, 256, (8, 64), dtype=np.uint8)
    b = rng.integers(-128, 128, (64, 16), dtype=np.int8)
    g = helper.make_graph(
        [helper.make_node("MatMulInteger", ["a", "b"], ["y"])],
        "probe",
        [
            helper.make_tensor_value_info("a", TensorProto.UINT8, [8, 64]),
            helper.make_tensor_value_info("b", TensorProto.INT8, [64, 16]),
        ],
        [helper.make_tensor_value_info("y", TensorProto.INT32, None)],
    )
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)])
    y = run_ort(m, {"a": a, "b": b})[0]
    return int(np.abs(y.astype(np.int64) - a.astype(np.int64) @ b.astype(np.int64)).max())


# ------------------------------------------------------------ float models


def init(name: str, shape, rng: np.random.Generator, scale: float = 0.3) -> onnx.TensorProto:
    return numpy_helper.from_array((rng.standard_normal(shape) * scale).astype(np.float32), name)


def cnn_model() -> tuple[onnx.ModelProto, dict[str, tuple[int, ...]]]:
    rng = case_rng("cnn")
    nodes = [
        helper.make_node("Conv", ["x", "w1", "b1"], ["c1"], pads=[1, 1, 1, 1]),
        helper.make_node("Relu", ["c1"], ["r1"]),
        helper.make_node("MaxPool", ["r1"], ["p1"], kernel_shape=[2, 2], strides=[2, 2]),
        helper.make_node("Conv", ["p1", "w2", "b2"], ["c2"], pads=[1, 1, 1, 1], group=2),
        helper.make_node("Add", ["c2", "p1"], ["a2"]),
        helper.make_node("Sigmoid", ["a2"], ["s2"]),
        helper.make_node("AveragePool", ["s2"], ["ap"], kernel_shape=[3, 3], pads=[1, 1, 1, 1]),
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
            init("w1", [4, 3, 3, 3], rng),
            init("b1", [4], rng),
            init("w2", [4, 2, 3, 3], rng),
            init("b2", [4], rng),
            init("wg", [5, 8], rng),
            init("bg", [5], rng),
        ],
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), {"x": (1, 3, 12, 12)}


def transformer_model() -> tuple[onnx.ModelProto, dict[str, tuple[int, ...]]]:
    rng = case_rng("transformer")
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
            init("wq", [16, 16], rng),
            init("wk", [16, 16], rng),
            init("wo", [16, 16], rng),
            init("bo", [16], rng),
        ],
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), {"x": (2, 6, 16)}


MODELS = {"cnn": cnn_model, "transformer": transformer_model}


class Reader(quantization.CalibrationDataReader):
    def __init__(self, shapes):
        rng = np.random.default_rng(7)
        self.batches = iter(
            [{k: rng.standard_normal(v).astype(np.float32) for k, v in shapes.items()} for _ in range(8)]
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


# quantize_static's calibration and the model weights are fixed (seeded), so
# each case is made once per session and shared by the pionnx and the
# onnxruntime-versus-reference tests.
@functools.cache
def _quantized_bytes(name: str, mode: str, fmt: str = "", act: str = "", per_channel: bool = False) -> bytes:
    model, shapes = MODELS[name]()
    with tempfile.TemporaryDirectory() as tmp:
        src, dst = Path(tmp) / "f.onnx", Path(tmp) / "q.onnx"
        onnx.save(model, src)
        if mode == "dynamic":
            quantization.quantize_dynamic(str(src), str(dst))
        else:
            quantization.quantize_static(
                str(src),
                str(dst),
                Reader(shapes),
                quant_format=getattr(quantization.QuantFormat, fmt),
                activation_type=getattr(quantization.QuantType, act),
                weight_type=quantization.QuantType.QInt8,
                per_channel=per_channel,
            )
        return dst.read_bytes()


def quantized_case(name: str, mode: str, fmt: str = "", act: str = "", per_channel: bool = False) -> Case:
    q = onnx.load_from_string(_quantized_bytes(name, mode, fmt, act, per_channel))
    feeds = feeds_for(MODELS[name]()[1])
    # quantize_dynamic makes uint8 activations and int8 weights, as QUInt8 static does.
    u8s8 = mode == "dynamic" or act == "QUInt8"
    if mode == "dynamic":
        # Float output; the activations' dynamic quantization is exact arithmetic
        # on float32 (spec formula), the products exact integers: float rounding only.
        return Case(q, feeds, ("close", 1e-4, 1e-4), u8s8)
    step = output_step(q)
    assert step > 0
    # QDQ: Dequantize -> float op -> Quantize; the float op's rounding may land
    # one step away at each Q/DQ pair.
    return Case(q, feeds, ("dq_steps", 2 if fmt == "QDQ" else 1, step), u8s8)


@pytest.mark.parametrize("name", MODELS)
def test_quantize_dynamic(name):
    case = quantized_case(name, "dynamic")
    assert {n.op_type for n in case.model.graph.node} & {"MatMulInteger", "ConvInteger", "DynamicQuantizeMatMul"}
    check_pionnx(case)


@pytest.mark.parametrize("name", MODELS)
@pytest.mark.parametrize("fmt", ["QOperator", "QDQ"])
@pytest.mark.parametrize("act", ["QUInt8", "QInt8"])
@pytest.mark.parametrize("per_channel", [False, True])
def test_quantize_static(name, fmt, act, per_channel):
    check_pionnx(quantized_case(name, "static", fmt, act, per_channel))


# ------------------------------------------------ QDQ convolution fusion


def qdq_conv_model(x_dtype, per_channel: bool, bias: str, group: int = 1, reads: int = 1, fed_w: bool = False):
    """x (float) -> QuantizeLinear -> DequantizeLinear -> Conv(DequantizeLinear(int8 w)[, bias]) ->
    QuantizeLinear -> y (8-bit), as quantize_static's QDQ format writes a convolution. bias: "none",
    "int32" (DequantizeLinear of int32 in steps of x_scale * w_scale, the fusable form), "off_scale" (int32
    in other steps) or "float" (a float constant). reads: 2 adds a second reader of the Conv's output."""
    rng = case_rng("qdq_conv", str(x_dtype), per_channel, bias, group, reads, fed_w)
    c_in, c_out = 8, 6 if group == 1 else 8
    x_zp = 131 if x_dtype == np.uint8 else -3
    w = rng.integers(-127, 128, (c_out, c_in // group, 3, 3)).astype(np.int8)
    ws = (rng.uniform(0.002, 0.01, c_out) if per_channel else np.array(0.004)).astype(np.float32)
    xs, ys = np.float32(0.05), np.float32(0.25)
    inits = [
        numpy_helper.from_array(np.array(xs), "xs"),
        numpy_helper.from_array(np.array(x_zp, x_dtype), "xz"),
        numpy_helper.from_array(ws, "ws"),
        numpy_helper.from_array(np.zeros(ws.shape, np.int8), "wz"),
        numpy_helper.from_array(np.array(ys), "ys"),
        numpy_helper.from_array(np.array(128, np.uint8), "yz"),
    ]
    inputs = [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, c_in, 9, 11])]
    if fed_w:
        inputs.append(helper.make_tensor_value_info("wq", TensorProto.INT8, list(w.shape)))
    else:
        inits.append(numpy_helper.from_array(w, "wq"))
    nodes = [
        helper.make_node("QuantizeLinear", ["x", "xs", "xz"], ["xq"]),
        helper.make_node("DequantizeLinear", ["xq", "xs", "xz"], ["xf"]),
        helper.make_node("DequantizeLinear", ["wq", "ws", "wz"], ["wf"], axis=0),
    ]
    conv_in = ["xf", "wf"]
    if bias != "none":
        if bias == "float":
            inits.append(numpy_helper.from_array(rng.uniform(-2, 2, c_out).astype(np.float32), "bf"))
        else:
            bs = (xs * ws).astype(np.float32) * (np.float32(1.5) if bias == "off_scale" else np.float32(1))
            inits.append(numpy_helper.from_array(rng.integers(-3000, 3000, c_out).astype(np.int32), "bq"))
            inits.append(numpy_helper.from_array(bs, "bs"))
            inits.append(numpy_helper.from_array(np.zeros(bs.shape, np.int32), "bz"))
            nodes.append(helper.make_node("DequantizeLinear", ["bq", "bs", "bz"], ["bf"], axis=0))
        conv_in.append("bf")
    nodes.append(helper.make_node("Conv", conv_in, ["c"], pads=[1, 1, 1, 1], strides=[1, 2], group=group))
    nodes.append(helper.make_node("QuantizeLinear", ["c", "ys", "yz"], ["y"]))
    outputs = [helper.make_tensor_value_info("y", TensorProto.UINT8, None)]
    if reads == 2:
        nodes.append(helper.make_node("Relu", ["c"], ["r"]))
        outputs.append(helper.make_tensor_value_info("r", TensorProto.FLOAT, None))
    m = helper.make_model(
        helper.make_graph(nodes, "qdq_conv", inputs, outputs, inits), opset_imports=[helper.make_opsetid("", 13)]
    )
    feeds = {"x": rng.uniform(-6, 6, (1, c_in, 9, 11)).astype(np.float32)}
    if fed_w:
        feeds["wq"] = w
    return m, feeds


def optimized_ops(model: onnx.ModelProto, feeds, tmp_path: Path, disabled=()):
    """pionnx's outputs and the op types of its optimized graph (optimized_model_filepath)."""
    so = pionnx.SessionOptions()
    so.optimized_model_filepath = str(tmp_path / "optimized.onnx")
    got = pionnx.InferenceSession(model.SerializeToString(), so, disabled_optimizers=list(disabled)).run(None, feeds)
    optimized = onnx.load(so.optimized_model_filepath)
    return got, optimized, [n.op_type for n in optimized.graph.node]


# The integer GEMM paths where the QDQ fusion runs (simd::qgemm_int8_conv_fast): the u8 x s8 quad kernels and
# AVX2's int16-pair kernel, where a quantized convolution is faster than the float one.
FUSING_QGEMM_PATHS = {"avx2", "vnni", "vnni512", "amx"}


@pytest.mark.parametrize("x_dtype", [np.uint8, np.int8])
@pytest.mark.parametrize("per_channel", [False, True])
@pytest.mark.parametrize("bias", ["none", "int32"])
@pytest.mark.parametrize("group", [1, 8])
def test_qdq_conv_becomes_qlinearconv(x_dtype, per_channel, bias, group, tmp_path):
    """DequantizeLinear(x), DequantizeLinear(int8 weights), [DequantizeLinear(int32 bias)], Conv,
    QuantizeLinear run as one QLinearConv (onnxruntime's QDQ fusion) where the integer GEMM path makes it faster
    (VNNI, AMX, AVX2): the optimized graph has no Conv and no float DequantizeLinear of the weights; pionnx's
    output equals onnx.reference's QLinearConv on that graph exactly (its double requantization, zero point
    added before rounding). Elsewhere the graph keeps its Conv. Either way the output is within one
    quantization step of the graph as written, which disabled_optimizers=["QDQSelectorActionTransformer"]
    runs on any CPU (its Conv kept)."""
    m, feeds = qdq_conv_model(x_dtype, per_channel, bias, group)
    got, fused, ops = optimized_ops(m, feeds, tmp_path)
    if pionnx.simd_info()["qgemm"] in FUSING_QGEMM_PATHS:
        assert ops == ["QuantizeLinear", "QLinearConv"], ops
        np.testing.assert_array_equal(got[0], onnx.reference.ReferenceEvaluator(fused).run(None, feeds)[0])
    else:
        assert "Conv" in ops and "QLinearConv" not in ops, ops
    want = qref.run_reference(m, feeds)[0]
    assert_matches(got[0], want, ("steps", 1))
    inside = (want > 0) & (want < 255)
    assert inside.mean() > 0.5, "the case should mostly stay inside the output's range"
    off, _, off_ops = optimized_ops(m, feeds, tmp_path, ["QDQSelectorActionTransformer"])
    assert "Conv" in off_ops and "QLinearConv" not in off_ops
    assert_matches(off[0], want, ("steps", 1))


def test_qdq_fusion_follows_the_integer_gemm_path(tmp_path):
    """With each integer GEMM path this CPU runs forced (PIONNX_QGEMM, one process each), a QDQ convolution
    becomes QLinearConv exactly on the paths where it is faster than the float convolution (the quad kernels of
    VNNI and AMX, AVX2's int16-pair kernel), and stays a Conv on the portable, SSE2 and NEON ones."""
    m, _ = qdq_conv_model(np.uint8, True, "int32")
    path = tmp_path / "qdq.onnx"
    path.write_bytes(m.SerializeToString())
    code = (
        "import sys, onnx, pionnx\n"
        "so = pionnx.SessionOptions(); so.optimized_model_filepath = sys.argv[2]\n"
        "pionnx.InferenceSession(sys.argv[1], so)\n"
        "print(pionnx.simd_info()['qgemm'], 'QLinearConv' in [n.op_type for n in onnx.load(sys.argv[2]).graph.node])\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("PIONNX_")}
    for forced in pionnx.simd_paths()["qgemm"]:
        out = subprocess.run(
            [sys.executable, "-c", code, str(path), str(tmp_path / f"opt_{forced}.onnx")],
            env={**env, "PIONNX_QGEMM": forced},
            capture_output=True,
            text=True,
            check=True,
        ).stdout.split()
        assert out == [forced, str(forced in FUSING_QGEMM_PATHS)], out


@pytest.mark.parametrize(
    "kind,why",
    [
        ({"bias": "off_scale"}, "the bias is not in steps of x_scale * w_scale"),
        ({"bias": "float"}, "a float bias has no integer form"),
        ({"bias": "int32", "reads": 2}, "the float output is read by another node too"),
        ({"bias": "none", "fed_w": True}, "the weights are fed, not constant"),
    ],
)
def test_qdq_conv_lookalikes_stay_float(kind, why, tmp_path):
    m, feeds = qdq_conv_model(np.uint8, True, **kind)
    got, _, ops = optimized_ops(m, feeds, tmp_path)
    assert "Conv" in ops and "QLinearConv" not in ops, why
    want = qref.run_reference(m, feeds)
    assert_matches(got[0], want[0], ("steps", 1))
    for g, w in zip(got[1:], want[1:]):
        np.testing.assert_allclose(g, w, rtol=1e-5, atol=1e-5)


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


def q8(dtype, shape, rng):
    info = np.iinfo(dtype)
    return rng.integers(info.min, info.max + 1, size=shape).astype(dtype)


NP2ONNX = {np.uint8: TensorProto.UINT8, np.int8: TensorProto.INT8}


def scalar(name, value, dtype=np.float32):
    return numpy_helper.from_array(np.array(value, dtype=dtype), name)


BINARY_SHAPES = [
    ((2, 3, 4), (2, 3, 4)),
    ((2, 3, 4), (4,)),
    ((2, 1, 4), (3, 1)),
    ((1,), (2, 5)),
    ((1, 32, 71, 67), (1, 32, 71, 67)),
]


def qlinear_binary_case(op, dtype, shapes) -> Case:
    rng = case_rng("binary", op, dtype, shapes)
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
    m = node_model(node, [vi("a", t, shapes[0]), vi("b", t, shapes[1])], [vi("c", t, None)], inits)
    return Case(m, {"a": q8(dtype, shapes[0], rng), "b": q8(dtype, shapes[1], rng)}, ("steps", 1))


@pytest.mark.parametrize("dtype", [np.uint8, np.int8])
@pytest.mark.parametrize("op", ["QLinearAdd", "QLinearMul"])
@pytest.mark.parametrize("shapes", BINARY_SHAPES)
def test_qlinear_binary(op, dtype, shapes):
    check_pionnx(qlinear_binary_case(op, dtype, shapes))


def qlinear_x_to_y_model(op, dtype, quant, x_shape, y_shape, **attrs) -> onnx.ModelProto:
    """A com.microsoft `op(x, sx, zx, sy, zy) -> y` node; quant: (sx, zx, sy, zy),
    the scales float32 and the zero points `dtype` initializers."""
    node = helper.make_node(op, ["x", "sx", "zx", "sy", "zy"], ["y"], domain="com.microsoft", **attrs)
    sx, zx, sy, zy = quant
    inits = [
        scalar("sx", sx),
        scalar("zx", zx, dtype),
        scalar("sy", sy),
        scalar("zy", zy, dtype),
    ]
    t = NP2ONNX[dtype]
    return node_model(node, [vi("x", t, x_shape)], [vi("y", t, y_shape)], inits)


def qlinear_unary_case(op, dtype) -> Case:
    attrs = {"alpha": 0.1} if op == "QLinearLeakyRelu" else {}
    zp = 128 if dtype == np.uint8 else 0
    sy = 1 / 255 if op == "QLinearSigmoid" else 0.04
    zy = 0 if op == "QLinearSigmoid" and dtype == np.uint8 else zp
    x = np.arange(256).astype(np.int64).reshape(4, 64)
    x = (x if dtype == np.uint8 else x - 128).astype(dtype)
    m = qlinear_x_to_y_model(op, dtype, (0.05, zp, sy, zy), [4, 64], [4, 64], **attrs)
    return Case(m, {"x": x}, ("steps", 1))


@pytest.mark.parametrize("dtype", [np.uint8, np.int8])
@pytest.mark.parametrize("op", ["QLinearSigmoid", "QLinearLeakyRelu"])
def test_qlinear_unary(op, dtype):
    check_pionnx(qlinear_unary_case(op, dtype))


def qlinear_softmax_case(dtype, axis) -> Case:
    rng = case_rng("softmax", dtype, axis)
    zy = 0 if dtype == np.uint8 else -128
    m = qlinear_x_to_y_model("QLinearSoftmax", dtype, (0.1, 3, 1 / 256, zy), [2, 5, 7], [2, 5, 7], axis=axis, opset=13)
    return Case(m, {"x": q8(dtype, (2, 5, 7), rng)}, ("steps", 1))


@pytest.mark.parametrize("dtype", [np.uint8, np.int8])
@pytest.mark.parametrize("axis", [-1, 1])
def test_qlinear_softmax(dtype, axis):
    check_pionnx(qlinear_softmax_case(dtype, axis))


def qlinear_concat_case(dtype) -> Case:
    rng = case_rng("concat", dtype)
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
    feeds = {"a": q8(dtype, (2, 3, 4), rng), "b": q8(dtype, (2, 1, 4), rng), "c": q8(dtype, (2, 2, 4), rng)}
    return Case(m, feeds, ("steps", 1))


@pytest.mark.parametrize("dtype", [np.uint8, np.int8])
def test_qlinear_concat(dtype):
    check_pionnx(qlinear_concat_case(dtype))


def qlinear_gap_case(dtype, channels_last) -> Case:
    rng = case_rng("gap", dtype, channels_last)
    zy = -2 if dtype == np.int8 else 9
    shape = (2, 3, 5, 6)
    m = qlinear_x_to_y_model(
        "QLinearGlobalAveragePool", dtype, (0.05, 5, 0.02, zy), shape, None, channels_last=channels_last
    )
    return Case(m, {"x": q8(dtype, shape, rng)}, ("steps", 1))


@pytest.mark.parametrize("dtype", [np.uint8, np.int8])
@pytest.mark.parametrize("channels_last", [0, 1])
def test_qlinear_global_average_pool(dtype, channels_last):
    check_pionnx(qlinear_gap_case(dtype, channels_last))


AVERAGE_POOL_ATTRS = [
    {"kernel_shape": [3, 3]},
    {"kernel_shape": [3, 3], "pads": [1, 1, 1, 1], "strides": [2, 2]},
    {"kernel_shape": [3, 3], "pads": [1, 1, 1, 1], "count_include_pad": 1},
    {"kernel_shape": [2, 3], "strides": [2, 2], "ceil_mode": 1},
    {"kernel_shape": [3, 3], "auto_pad": "SAME_UPPER", "strides": [2, 2]},
]


def qlinear_average_pool_case(dtype, attrs) -> Case:
    rng = case_rng("avgpool", dtype, attrs)
    m = qlinear_x_to_y_model("QLinearAveragePool", dtype, (0.05, 5, 0.04, 3), [2, 3, 7, 8], None, **attrs)
    return Case(m, {"x": q8(dtype, (2, 3, 7, 8), rng)}, ("steps", 1))


@pytest.mark.parametrize("dtype", [np.uint8, np.int8])
@pytest.mark.parametrize("attrs", AVERAGE_POOL_ATTRS)
def test_qlinear_average_pool(dtype, attrs):
    check_pionnx(qlinear_average_pool_case(dtype, attrs))


INT_PAIRS = [(np.uint8, np.int8), (np.uint8, np.uint8), (np.int8, np.int8)]


def matmul_integer_case(a_dtype, b_dtype, per_column) -> Case:
    rng = case_rng("matmulinteger", a_dtype, b_dtype, per_column)
    node = helper.make_node("MatMulInteger", ["a", "b", "za", "zb"], ["y"])
    zb = q8(b_dtype, (20,), rng) if per_column else np.array(3, dtype=b_dtype)
    inits = [scalar("za", 7, a_dtype), numpy_helper.from_array(zb, "zb")]
    m = node_model(
        node,
        [vi("a", NP2ONNX[a_dtype], [3, 5, 300]), vi("b", NP2ONNX[b_dtype], [300, 20])],
        [vi("y", TensorProto.INT32, None)],
        inits,
    )
    feeds = {"a": q8(a_dtype, (3, 5, 300), rng), "b": q8(b_dtype, (300, 20), rng)}
    return Case(m, feeds, ("exact",), u8s8=(a_dtype, b_dtype) == (np.uint8, np.int8))


@pytest.mark.parametrize("a_dtype,b_dtype", INT_PAIRS)
@pytest.mark.parametrize("per_column", [False, True])
def test_matmul_integer(a_dtype, b_dtype, per_column):
    case = matmul_integer_case(a_dtype, b_dtype, per_column)
    check_pionnx(case)
    # The reference is numpy's own int64 product, spelled out once more here.
    f = case.feeds
    zb = numpy_helper.to_array(case.model.graph.initializer[1]).astype(np.int64)
    want = (f["a"].astype(np.int64) - 7) @ (f["b"].astype(np.int64) - zb)
    np.testing.assert_array_equal(run_pionnx(case.model, f)[0], want)


def qlinear_matmul_case(a_dtype, b_dtype, per_column) -> Case:
    rng = case_rng("qlinearmatmul", a_dtype, b_dtype, per_column)
    node = helper.make_node("QLinearMatMul", ["a", "sa", "za", "b", "sb", "zb", "sy", "zy"], ["y"])
    n = 24
    sb = np.linspace(0.002, 0.01, n).astype(np.float32) if per_column else np.array(0.005, np.float32)
    zb = q8(b_dtype, (n,), rng) if per_column else np.array(2, b_dtype)
    if b_dtype == np.int8 and per_column:
        zb = np.zeros(n, np.int8)  # onnxruntime takes per-column int8 weights symmetric only
    inits = [
        scalar("sa", 0.03),
        scalar("za", 9, a_dtype),
        numpy_helper.from_array(sb, "sb"),
        numpy_helper.from_array(zb, "zb"),
        scalar("sy", 0.1),
        scalar("zy", 3, a_dtype),
    ]
    m = node_model(
        node,
        [vi("a", NP2ONNX[a_dtype], [2, 7, 130]), vi("b", NP2ONNX[b_dtype], [130, n])],
        [vi("y", NP2ONNX[a_dtype], None)],
        inits,
    )
    feeds = {"a": q8(a_dtype, (2, 7, 130), rng), "b": q8(b_dtype, (130, n), rng)}
    return Case(m, feeds, ("steps", 1), u8s8=(a_dtype, b_dtype) == (np.uint8, np.int8))


@pytest.mark.parametrize("a_dtype,b_dtype", INT_PAIRS)
@pytest.mark.parametrize("per_column", [False, True])
def test_qlinear_matmul(a_dtype, b_dtype, per_column):
    case = qlinear_matmul_case(a_dtype, b_dtype, per_column)
    check_pionnx(case)
    # Saturation is part of the answer: enough outputs land on the bounds.
    y = run_pionnx(case.model, case.feeds)[0]
    info = np.iinfo(a_dtype)
    assert np.mean((y == info.min) | (y == info.max)) > 0.05


CONV_PAIRS = [(np.uint8, np.uint8), (np.uint8, np.int8), (np.int8, np.int8)]
CONV_INTEGER_ATTRS = [
    {},
    {"pads": [1, 2, 1, 0], "strides": [2, 1]},
    {"pads": [1, 1, 1, 1], "dilations": [2, 2], "group": 2},
    {"auto_pad": "SAME_LOWER", "strides": [2, 2]},
    # Output rows as wide as the input's at stride 1: im2col copies each (c, kh, kw) row as one shifted plane.
    {"pads": [1, 1, 1, 1]},
    {"pads": [2, 2, 2, 2], "dilations": [2, 2]},
    {"pads": [0, 1, 2, 1]},
    {"pads": [3, 0, 0, 2], "dilations": [1, 1], "group": 2},
    {"auto_pad": "SAME_UPPER"},
]


def conv_integer_case(x_dtype, w_dtype, attrs) -> Case:
    rng = case_rng("convinteger", x_dtype, w_dtype, attrs)
    node = helper.make_node("ConvInteger", ["x", "w", "zx", "zw"], ["y"], **attrs)
    inits = [scalar("zx", 9, x_dtype), scalar("zw", 2, w_dtype)]
    w_shape = (6, 4 // attrs.get("group", 1), 3, 3)
    m = node_model(
        node,
        [vi("x", NP2ONNX[x_dtype], [2, 4, 9, 10]), vi("w", NP2ONNX[w_dtype], list(w_shape))],
        [vi("y", TensorProto.INT32, None)],
        inits,
    )
    feeds = {"x": q8(x_dtype, (2, 4, 9, 10), rng), "w": q8(w_dtype, w_shape, rng)}
    return Case(m, feeds, ("exact",), u8s8=(x_dtype, w_dtype) == (np.uint8, np.int8))


@pytest.mark.parametrize("x_dtype,w_dtype", CONV_PAIRS)
@pytest.mark.parametrize("attrs", CONV_INTEGER_ATTRS)
def test_conv_integer(x_dtype, w_dtype, attrs):
    check_pionnx(conv_integer_case(x_dtype, w_dtype, attrs))


# Depthwise 3x3 geometries: the flat form (stride 1 or 2, pads of at most one before, a zero column after each
# row for the windows over an edge) and the padded plane beside it.
# (49, 50) and (7, 57): stride-2 rows of 24 outputs and more, made a call per row.
DEPTHWISE_SHAPES = [(1, 1), (1, 5), (2, 2), (3, 4), (5, 3), (7, 7), (8, 9), (14, 14), (17, 12), (49, 50), (7, 57)]
DEPTHWISE_ATTRS = [
    {"pads": [1, 1, 1, 1]},
    {"pads": [0, 0, 0, 0]},
    {"pads": [1, 1, 1, 1], "strides": [2, 2]},
    {"pads": [0, 0, 1, 1], "strides": [2, 2]},
    {"pads": [1, 0, 0, 1], "strides": [2, 2]},
    {"pads": [0, 1, 1, 0]},
    {"pads": [1, 0, 1, 0], "strides": [2, 2]},
    {"pads": [2, 2, 2, 2]},
    {"pads": [1, 1, 1, 1], "dilations": [2, 2]},
    {"pads": [1, 1, 1, 1], "strides": [1, 2]},
]


@pytest.mark.parametrize("attrs", DEPTHWISE_ATTRS, ids=str)
@pytest.mark.parametrize("hw", DEPTHWISE_SHAPES, ids=str)
def test_depthwise_conv_integer_geometries(hw, attrs):
    """ConvInteger with one channel per group, equal to the int64 reference: every output, edge windows
    and tiny planes included, per-channel weight zero points; 13 channels: eight at a time (the
    eight-channel kernel's small maps) and the five after them plane by plane."""
    c = 13
    rng = case_rng("depthwise", hw, attrs)
    k = 1 + 2 * attrs.get("dilations", [1, 1])[0]
    h, w = hw
    pads = attrs["pads"]
    if h + pads[0] + pads[2] < k or w + pads[1] + pads[3] < k:
        pytest.skip("window larger than the padded input")
    node = helper.make_node("ConvInteger", ["x", "w", "zx", "zw"], ["y"], group=c, **attrs)
    wz = numpy_helper.from_array((np.arange(c) - 2).astype(np.int8), "zw")
    m = node_model(
        node,
        [vi("x", TensorProto.UINT8, [2, c, h, w]), vi("w", TensorProto.INT8, [c, 1, 3, 3])],
        [vi("y", TensorProto.INT32, None)],
        [scalar("zx", 131, np.uint8), wz],
    )
    feeds = {"x": q8(np.uint8, (2, c, h, w), rng), "w": q8(np.int8, (c, 1, 3, 3), rng)}
    got = run_pionnx(m, feeds)[0]
    want = qref.int_conv(feeds["x"], np.uint8(131), feeds["w"], (np.arange(c) - 2).astype(np.int8), group=c, **attrs)
    np.testing.assert_array_equal(got, want.astype(np.int32))


@pytest.mark.parametrize(
    "attrs",
    [
        {"pads": [0, 0, 0, 0], "strides": [1, 1], "dilations": [1, 1], "group": 1},
        {"pads": [1, 2, 1, 0], "strides": [2, 1], "dilations": [1, 1], "group": 1},
        {"pads": [1, 1, 1, 1], "strides": [1, 1], "dilations": [2, 2], "group": 2},
    ],
)
def test_reference_integer_conv_is_exact(attrs):
    """The conv reference (onnx.reference's Conv on float64) equals a plain int64 loop."""
    rng = np.random.default_rng(3)
    x = rng.integers(0, 256, (2, 4, 9, 10)).astype(np.uint8)
    w = rng.integers(-128, 128, (6, 4 // attrs["group"], 3, 3)).astype(np.int8)
    zw = np.arange(6, dtype=np.int8) - 3
    want = qref.direct_int_conv_2d(
        x.astype(np.int64) - 9,
        w.astype(np.int64) - zw.reshape(-1, 1, 1, 1).astype(np.int64),
        attrs["pads"],
        attrs["strides"],
        attrs["dilations"],
        attrs["group"],
    )
    got = qref.int_conv(x, np.uint8(9), w, zw, **attrs)
    np.testing.assert_array_equal(got, want)


QLINEAR_CONV_ATTRS = [{"pads": [1, 1, 1, 1]}, {"strides": [2, 2], "group": 3}, {"kernel_shape": [1, 1]}]


def qlinear_conv_case(x_dtype, attrs) -> Case:
    rng = case_rng("qlinearconv", x_dtype, attrs)
    group = attrs.get("group", 1)
    k = attrs.get("kernel_shape", [3, 3])
    node = helper.make_node(
        "QLinearConv",
        ["x", "sx", "zx", "w", "sw", "zw", "sy", "zy", "bias"],
        ["y"],
        **attrs,
    )
    w = q8(np.int8, (6, 6 // group, *k), rng)
    inits = [
        scalar("sx", 0.02),
        scalar("zx", 4, x_dtype),
        numpy_helper.from_array(w, "w"),
        numpy_helper.from_array(np.linspace(0.001, 0.01, 6).astype(np.float32), "sw"),
        numpy_helper.from_array(np.zeros(6, np.int8), "zw"),
        scalar("sy", 0.5),
        scalar("zy", 1, x_dtype),
        numpy_helper.from_array(rng.integers(-5000, 5000, 6).astype(np.int32), "bias"),
    ]
    m = node_model(
        node,
        [vi("x", NP2ONNX[x_dtype], [1, 6, 8, 8])],
        [vi("y", NP2ONNX[x_dtype], None)],
        inits,
    )
    return Case(m, {"x": q8(x_dtype, (1, 6, 8, 8), rng)}, ("steps", 1), u8s8=x_dtype == np.uint8)


@pytest.mark.parametrize("x_dtype", [np.uint8, np.int8])
@pytest.mark.parametrize("attrs", QLINEAR_CONV_ATTRS)
def test_qlinear_conv_per_channel(x_dtype, attrs):
    check_pionnx(qlinear_conv_case(x_dtype, attrs))


def qgemm_case(a_dtype, quantized_out, trans_b) -> Case:
    rng = case_rng("qgemm", a_dtype, quantized_out, trans_b)
    inputs = ["a", "sa", "za", "b", "sb", "zb", "c"] + (["sy", "zy"] if quantized_out else [])
    node = helper.make_node("QGemm", inputs, ["y"], domain="com.microsoft", transB=trans_b, alpha=0.5)
    b_shape = (7, 33) if trans_b else (33, 7)
    inits = [
        scalar("sa", 0.03),
        scalar("za", 5, a_dtype),
        numpy_helper.from_array(q8(np.int8, b_shape, rng), "b"),
        numpy_helper.from_array(np.linspace(0.01, 0.02, 7).astype(np.float32), "sb"),
        numpy_helper.from_array(np.zeros(7, np.int8), "zb"),
        numpy_helper.from_array(rng.integers(-300, 300, 7).astype(np.int32), "c"),
        scalar("sy", 0.2),
        scalar("zy", 2, a_dtype),
    ]
    out_t = NP2ONNX[a_dtype] if quantized_out else TensorProto.FLOAT
    m = node_model(node, [vi("a", NP2ONNX[a_dtype], [4, 33])], [vi("y", out_t, None)], inits)
    tol = ("steps", 1) if quantized_out else ("close", 1e-5, 1e-5)
    return Case(m, {"a": q8(a_dtype, (4, 33), rng)}, tol, u8s8=a_dtype == np.uint8)


@pytest.mark.parametrize("a_dtype", [np.uint8, np.int8])
@pytest.mark.parametrize("quantized_out", [False, True])
@pytest.mark.parametrize("trans_b", [0, 1])
def test_qgemm(a_dtype, quantized_out, trans_b):
    check_pionnx(qgemm_case(a_dtype, quantized_out, trans_b))


def _int_to_float_inits(per_column, rng):
    b = q8(np.int8, (24, 10), rng)
    sb = np.linspace(0.01, 0.02, 10).astype(np.float32) if per_column else np.array(0.015, np.float32)
    zb = np.zeros(10, np.int8) if per_column else np.array(0, np.int8)
    return [
        numpy_helper.from_array(b, "b"),
        numpy_helper.from_array(sb, "sb"),
        numpy_helper.from_array(zb, "zb"),
        init("bias", [10], rng),
        scalar("sa", 0.04),
        scalar("za", 120, np.uint8),
    ]


def _int_to_float_model(op, inputs, x_type, per_column, rng) -> onnx.ModelProto:
    """A com.microsoft `op(*inputs) -> y` node with a float y, its first input fed ([2, 3, 24] of
    x_type), the others the initializers of _int_to_float_inits."""
    node = helper.make_node(op, inputs, ["y"], domain="com.microsoft")
    return node_model(
        node,
        [vi(inputs[0], x_type, [2, 3, 24])],
        [vi("y", TensorProto.FLOAT, None)],
        _int_to_float_inits(per_column, rng),
    )


def matmul_integer_to_float_case(per_column) -> Case:
    rng = case_rng("matmulintegertofloat", per_column)
    inputs = ["a", "b", "sa", "sb", "za", "zb", "bias"]
    m = _int_to_float_model("MatMulIntegerToFloat", inputs, TensorProto.UINT8, per_column, rng)
    return Case(m, {"a": q8(np.uint8, (2, 3, 24), rng)}, ("close", 1e-5, 1e-5), u8s8=True)


def dynamic_quantize_matmul_case(per_column) -> Case:
    rng = case_rng("dynamicquantizematmul", per_column)
    m = _int_to_float_model("DynamicQuantizeMatMul", ["x", "b", "sb", "zb", "bias"], TensorProto.FLOAT, per_column, rng)
    feeds = {"x": rng.standard_normal((2, 3, 24)).astype(np.float32)}
    return Case(m, feeds, ("close", 1e-4, 1e-4), u8s8=True)


@pytest.mark.parametrize("per_column", [False, True])
def test_matmul_integer_to_float_and_dynamic_quantize_matmul(per_column):
    check_pionnx(matmul_integer_to_float_case(per_column))
    check_pionnx(dynamic_quantize_matmul_case(per_column))


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize(("m", "k", "n"), [(37, 600, 70), (128, 256, 96), (5, 1, 33)])
def test_matmul_integer_to_float_blocks(m, k, n, threads):
    """MatMulIntegerToFloat writes its floats as each block of sums leaves the integer GEMM (qgemm.cc's
    store_float): depths over one 256-deep block (the earlier blocks' partial sums added), column blocks
    and rows off the kernel's 32 x 4, per-column and per-tensor scales, with and without a bias, a batch
    of 2, 1 and 2 threads; against the exact reference."""
    rng = case_rng("matmulintegertofloat-blocks", m, k, n, threads)
    for per_column in (False, True):
        for with_bias in (False, True):
            b = q8(np.int8, (k, n), rng)
            sb = np.linspace(0.01, 0.02, n).astype(np.float32) if per_column else np.array(0.015, np.float32)
            zb = np.zeros(n, np.int8) if per_column else np.array(0, np.int8)
            inits = [
                numpy_helper.from_array(b, "b"),
                numpy_helper.from_array(sb, "sb"),
                numpy_helper.from_array(zb, "zb"),
                scalar("sa", 0.04),
                scalar("za", 120, np.uint8),
            ]
            inputs = ["a", "b", "sa", "sb", "za", "zb"]
            if with_bias:
                inits.append(init("bias", [n], rng))
                inputs.append("bias")
            node = helper.make_node("MatMulIntegerToFloat", inputs, ["y"], domain="com.microsoft")
            model = node_model(node, [vi("a", TensorProto.UINT8, [2, m, k])], [vi("y", TensorProto.FLOAT, None)], inits)
            feeds = {"a": q8(np.uint8, (2, m, k), rng)}
            want = qref.run_reference(model, feeds)[0]
            so = pionnx.SessionOptions()
            so.intra_op_num_threads = threads
            got = pionnx.InferenceSession(model.SerializeToString(), so).run(None, feeds)[0]
            assert_matches(got, want, ("close", 1e-5, 1e-5), f"per_column={per_column} bias={with_bias}: ")


def quantize_dequantize_case(domain) -> Case:
    rng = case_rng("qdq", domain)
    x = rng.standard_normal((2, 3, 4)).astype(np.float32) * 3
    s = np.array([0.02, 0.05, 0.1], np.float32)
    z = np.array([0, 10, -5], np.int8)
    inits = [numpy_helper.from_array(s, "s"), numpy_helper.from_array(z, "z")]
    q = helper.make_node("QuantizeLinear", ["x", "s", "z"], ["q"], axis=1, domain=domain)
    d = helper.make_node("DequantizeLinear", ["q", "s", "z"], ["y"], axis=1, domain=domain)
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
    # Quantization is exact float32 arithmetic (x / scale, round half to even);
    # dequantization one float32 product.
    return Case(m, {"x": x}, ("exact",))


@pytest.mark.parametrize("domain", ["", "com.microsoft"])
def test_quantize_dequantize_per_axis(domain):
    check_pionnx(quantize_dequantize_case(domain))


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


@pytest.mark.parametrize("constant_b", [False, True], ids=["fed_b", "constant_b"])
@pytest.mark.parametrize("a_dtype,b_dtype", [(np.uint8, np.int8), (np.int8, np.uint8), (np.uint8, np.uint8)])
def test_matmul_integer_large_matches_numpy(a_dtype, b_dtype, constant_b):
    """Several depth and column blocks, odd sizes, per-column zero points:
    the blocked (and threaded) integer GEMM gives numpy's exact integers, with B
    fed, or constant and so packed once per session (run twice: the packed
    panels are reused)."""
    rng = np.random.default_rng(5)
    a, b = q8(a_dtype, (70, 601), rng), q8(b_dtype, (601, 301), rng)
    za, zb = q8(a_dtype, (), rng), q8(b_dtype, (301,), rng)
    node = helper.make_node("MatMulInteger", ["a", "b", "za", "zb"], ["y"])
    inits = [numpy_helper.from_array(np.array(za), "za"), numpy_helper.from_array(zb, "zb")]
    inputs = [vi("a", NP2ONNX[a_dtype], [70, 601])]
    if constant_b:
        inits.append(numpy_helper.from_array(b, "b"))
    else:
        inputs.append(vi("b", NP2ONNX[b_dtype], [601, 301]))
    m = node_model(node, inputs, [vi("y", TensorProto.INT32, None)], inits)
    opts = pionnx.SessionOptions()
    opts.intra_op_num_threads = 2
    sess = pionnx.InferenceSession(m.SerializeToString(), opts)
    feeds = {"a": a} if constant_b else {"a": a, "b": b}
    want = (a.astype(np.int64) - int(za)) @ (b.astype(np.int64) - zb.astype(np.int64))
    for _ in range(2):
        np.testing.assert_array_equal(sess.run(None, feeds)[0], want)


@pytest.mark.parametrize("zb_kind", ["zero", "last_column", "tensor"])
@pytest.mark.parametrize("threads", [1, 2])
def test_matmul_integer_row_sums_only_where_b_zero_point_needs_them(zb_kind, threads):
    """A's row sums enter only multiplied by B's zero point, so for an int8 B whose zero points are
    all 0 the integer GEMM skips them; one nonzero column zero point (here the last), or a nonzero
    per-tensor one, must bring them back. A uint8 A of 128 x 256 is read in place (the int8
    transformer's shape), 1 and 2 threads; numpy's exact integers."""
    rng = case_rng("matmulinteger-rowsums", zb_kind, threads)
    a, b = q8(np.uint8, (128, 256), rng), q8(np.int8, (256, 96), rng)
    if zb_kind == "tensor":
        zb = np.array(-7, np.int8)
    else:
        zb = np.zeros(96, np.int8)
        if zb_kind == "last_column":
            zb[-1] = 5
    node = helper.make_node("MatMulInteger", ["a", "b", "za", "zb"], ["y"])
    inits = [
        numpy_helper.from_array(b, "b"),
        numpy_helper.from_array(np.array(3, np.uint8), "za"),
        numpy_helper.from_array(zb, "zb"),
    ]
    m = node_model(node, [vi("a", TensorProto.UINT8, [128, 256])], [vi("y", TensorProto.INT32, None)], inits)
    opts = pionnx.SessionOptions()
    opts.intra_op_num_threads = threads
    got = pionnx.InferenceSession(m.SerializeToString(), opts).run(None, {"a": a})[0]
    want = (a.astype(np.int64) - 3) @ (b.astype(np.int64) - zb.astype(np.int64))
    np.testing.assert_array_equal(got, want)


_QGEMM_RUNNER = r"""
import sys, numpy as np, pionnx
model, feeds, out = sys.argv[1:4]
f = dict(np.load(feeds))
y = pionnx.InferenceSession(model).run(None, f)
np.savez(out, *y)
print(pionnx.simd_info()["qgemm"])
"""


def test_integer_kernel_matches_portable_kernel(tmp_path):
    """Every integer GEMM kernel this CPU can run (VNNI/AVX2/SSE2 here, NEON on ARM),
    each forced with PIONNX_QGEMM, gives the portable kernel's bits and numpy's integers."""
    rng = np.random.default_rng(9)
    b = rng.integers(-128, 128, (300, 260), dtype=np.int8)
    nodes = [
        helper.make_node("MatMulInteger", ["a", "b", "azp", "bzp"], ["y"]),
        helper.make_node("ConvInteger", ["x", "w", "xzp"], ["z"], pads=[1, 1, 1, 1]),
    ]
    w = rng.integers(0, 256, (16, 8, 3, 3), dtype=np.uint8)
    inits = [
        numpy_helper.from_array(b, "b"),
        numpy_helper.from_array(np.int8(3).reshape(()), "bzp"),
        numpy_helper.from_array(np.uint8(131).reshape(()), "azp"),
        numpy_helper.from_array(w, "w"),
        numpy_helper.from_array(np.uint8(100).reshape(()), "xzp"),
    ]
    graph = helper.make_graph(
        nodes,
        "q",
        [
            helper.make_tensor_value_info("a", TensorProto.UINT8, [64, 300]),
            helper.make_tensor_value_info("x", TensorProto.UINT8, [1, 8, 20, 20]),
        ],
        [
            helper.make_tensor_value_info("y", TensorProto.INT32, None),
            helper.make_tensor_value_info("z", TensorProto.INT32, None),
        ],
        initializer=inits,
    )
    m = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    path = tmp_path / "q.onnx"
    path.write_bytes(m.SerializeToString())
    feeds = tmp_path / "feeds.npz"
    a = rng.integers(0, 256, (64, 300), dtype=np.uint8)
    x = rng.integers(0, 256, (1, 8, 20, 20), dtype=np.uint8)
    np.savez(feeds, a=a, x=x)
    paths = ["default", *pionnx.simd_paths()["qgemm"]]
    outs, picked = {}, {}
    for mode in paths:
        env = dict(os.environ)
        env.pop("PIONNX_QGEMM", None)
        if mode != "default":
            env["PIONNX_QGEMM"] = mode
        out = tmp_path / f"{mode}.npz"
        proc = subprocess.run(
            [sys.executable, "-c", _QGEMM_RUNNER, str(path), str(feeds), str(out)],
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert proc.returncode == 0, proc.stderr
        picked[mode] = proc.stdout.strip().splitlines()[-1]
        with np.load(out) as z:
            outs[mode] = [z[k] for k in sorted(z.files)]
    for mode in paths[1:]:
        assert picked[mode] == mode, f"PIONNX_QGEMM={mode} ran the {picked[mode]} kernel"
    want_y = (a.astype(np.int64) - 131) @ (b.astype(np.int64) - 3)
    want_z = qref.int_conv(x, np.uint8(100), w, None, pads=[1, 1, 1, 1])
    for mode in paths:
        np.testing.assert_array_equal(outs[mode][0], want_y, err_msg=f"MatMulInteger, {mode} kernel")
        np.testing.assert_array_equal(outs[mode][1], want_z, err_msg=f"ConvInteger, {mode} kernel")


# ---------------------------------------- the references against onnxruntime


def _reference_cases() -> dict[str, object]:
    """Every case above, by id, as a function that builds it."""
    cases: dict[str, object] = {}
    ident = {np.uint8: "uint8", np.int8: "int8"}
    for op in ("QLinearAdd", "QLinearMul"):
        for dt in (np.uint8, np.int8):
            for i, shapes in enumerate(BINARY_SHAPES):
                cases[f"{op}-{ident[dt]}-shapes{i}"] = functools.partial(qlinear_binary_case, op, dt, shapes)
    for op in ("QLinearSigmoid", "QLinearLeakyRelu"):
        for dt in (np.uint8, np.int8):
            cases[f"{op}-{ident[dt]}"] = functools.partial(qlinear_unary_case, op, dt)
    for dt in (np.uint8, np.int8):
        for axis in (-1, 1):
            cases[f"QLinearSoftmax-{ident[dt]}-axis{axis}"] = functools.partial(qlinear_softmax_case, dt, axis)
        cases[f"QLinearConcat-{ident[dt]}"] = functools.partial(qlinear_concat_case, dt)
        for cl in (0, 1):
            cases[f"QLinearGlobalAveragePool-{ident[dt]}-cl{cl}"] = functools.partial(qlinear_gap_case, dt, cl)
        for i, attrs in enumerate(AVERAGE_POOL_ATTRS):
            cases[f"QLinearAveragePool-{ident[dt]}-attrs{i}"] = functools.partial(qlinear_average_pool_case, dt, attrs)
    for a_dt, b_dt in INT_PAIRS:
        for pc in (False, True):
            cases[f"MatMulInteger-{ident[a_dt]}-{ident[b_dt]}-pc{int(pc)}"] = functools.partial(
                matmul_integer_case, a_dt, b_dt, pc
            )
            cases[f"QLinearMatMul-{ident[a_dt]}-{ident[b_dt]}-pc{int(pc)}"] = functools.partial(
                qlinear_matmul_case, a_dt, b_dt, pc
            )
    for x_dt, w_dt in CONV_PAIRS:
        for i, attrs in enumerate(CONV_INTEGER_ATTRS):
            cases[f"ConvInteger-{ident[x_dt]}-{ident[w_dt]}-attrs{i}"] = functools.partial(
                conv_integer_case, x_dt, w_dt, attrs
            )
    for dt in (np.uint8, np.int8):
        for i, attrs in enumerate(QLINEAR_CONV_ATTRS):
            cases[f"QLinearConv-{ident[dt]}-attrs{i}"] = functools.partial(qlinear_conv_case, dt, attrs)
        for qo in (False, True):
            for tb in (0, 1):
                cases[f"QGemm-{ident[dt]}-q{int(qo)}-t{tb}"] = functools.partial(qgemm_case, dt, qo, tb)
    for pc in (False, True):
        cases[f"MatMulIntegerToFloat-pc{int(pc)}"] = functools.partial(matmul_integer_to_float_case, pc)
        cases[f"DynamicQuantizeMatMul-pc{int(pc)}"] = functools.partial(dynamic_quantize_matmul_case, pc)
    for domain in ("", "com.microsoft"):
        cases[f"QuantizeDequantize-{domain or 'onnx'}"] = functools.partial(quantize_dequantize_case, domain)
    for name in MODELS:
        cases[f"model-{name}-dynamic"] = functools.partial(quantized_case, name, "dynamic")
        for fmt in ("QOperator", "QDQ"):
            for act in ("QUInt8", "QInt8"):
                for pc in (False, True):
                    cases[f"model-{name}-{fmt}-{act}-pc{int(pc)}"] = functools.partial(
                        quantized_case, name, "static", fmt, act, pc
                    )
    return cases


REFERENCE_CASES = _reference_cases()


@pytest.mark.parametrize("case_id", list(REFERENCE_CASES))
def test_reference_agrees_with_onnxruntime(case_id):
    """The references are checked against an independent implementation, onnxruntime,
    wherever onnxruntime is exact on this CPU."""
    case = REFERENCE_CASES[case_id]()
    if case.u8s8:
        err = ort_u8s8_error()
        if err:
            pytest.skip(
                f"onnxruntime's u8 x s8 GEMM is not exact on this CPU (off by up to {err} on a "
                f"64-deep probe: AVX2 without VNNI saturates 16-bit pair sums); pionnx is judged "
                f"by the exact reference alone here"
            )
    want = qref.run_reference(case.model, case.feeds)
    ref = run_ort(case.model, case.feeds)
    assert len(ref) == len(want)
    for i, (r, w) in enumerate(zip(ref, want)):
        assert_matches(r, w, case.tol, f"onnxruntime output {i}: ")


@pytest.mark.parametrize("threads", [2, 3])
@pytest.mark.parametrize("case", ["normal", "ties", "one_sided", "zeros", "large", "extremes_at_ends"])
def test_dynamic_quantize_linear_matches_reference(case, threads):
    """DynamicQuantizeLinear against onnx.reference, exactly: random data, values that land on .5 after the
    division (round half to even), all-positive data (zero point 0), all zeros, and tensors big enough for
    the threaded range and quantize passes (one region: every chunk's range before any chunk's quantize),
    one with its minimum in the first and its maximum in the last element (each thread's chunk must extend
    the shared range)."""
    rng = np.random.default_rng(11)
    if case == "normal":
        x = rng.standard_normal((3, 129)).astype(np.float32)
    elif case == "ties":
        # scale = 255 / 255 = 1: x / scale = k + 0.5 exactly for every element.
        x = np.concatenate([np.arange(-100, 155, dtype=np.float32) + 0.5, [-100.0, 155.0]]).astype(np.float32)
    elif case == "one_sided":
        x = rng.uniform(0.5, 7.0, (1000,)).astype(np.float32)
    elif case == "zeros":
        x = np.zeros((17,), np.float32)
    elif case == "extremes_at_ends":
        x = rng.uniform(-1.0, 1.0, (128, 1024)).astype(np.float32)
        x[0, 0], x[-1, -1] = -9.0, 11.0
    else:
        x = (rng.standard_normal((64, 4096)) * 3).astype(np.float32)
    node = helper.make_node("DynamicQuantizeLinear", ["x"], ["y", "s", "z"])
    m = node_model(
        node,
        [vi("x", TensorProto.FLOAT, list(x.shape))],
        [vi("y", TensorProto.UINT8, None), vi("s", TensorProto.FLOAT, None), vi("z", TensorProto.UINT8, None)],
        [],
    )
    opts = pionnx.SessionOptions()
    opts.intra_op_num_threads = threads
    got = pionnx.InferenceSession(m.SerializeToString(), opts).run(None, {"x": x})
    want = onnx.reference.ReferenceEvaluator(m).run(None, {"x": x})
    for g, w in zip(got, want):
        np.testing.assert_array_equal(g, w)


@pytest.mark.parametrize(
    "x_type, scale_type, precision, out_type",
    [
        (TensorProto.FLOAT16, TensorProto.FLOAT16, 0, TensorProto.INT8),  # float16 division by default
        (TensorProto.FLOAT, TensorProto.FLOAT16, 0, TensorProto.UINT8),  # promoted to float
        (TensorProto.FLOAT, TensorProto.FLOAT, TensorProto.FLOAT16, TensorProto.INT8),
        (TensorProto.FLOAT, TensorProto.FLOAT, TensorProto.DOUBLE, TensorProto.INT8),
        (TensorProto.INT32, TensorProto.FLOAT, 0, TensorProto.INT16),  # int32 / float: double, as numpy
        (TensorProto.BFLOAT16, TensorProto.FLOAT, TensorProto.BFLOAT16, TensorProto.INT4),
        (TensorProto.FLOAT, TensorProto.FLOAT, 0, TensorProto.FLOAT8E4M3FN),
        (TensorProto.FLOAT, TensorProto.FLOAT, 0, TensorProto.UINT2),
    ],
)
def test_quantize_linear_division_precision_matches_the_reference(x_type, scale_type, precision, out_type):
    """QuantizeLinear divides in opset 23's `precision`, or in numpy's promotion of x and scale
    without it (onnx.reference), before rounding: checked exactly against onnx.reference."""
    pytest.importorskip("ml_dtypes")
    from onnx.reference import ReferenceEvaluator

    attrs = {"precision": precision} if precision else {}
    node = helper.make_node("QuantizeLinear", ["x", "s", "z"], ["y"], **attrs)
    graph = helper.make_graph(
        [node],
        "q",
        [
            helper.make_tensor_value_info("x", x_type, [257]),
            helper.make_tensor_value_info("s", scale_type, []),
            helper.make_tensor_value_info("z", out_type, []),
        ],
        [helper.make_tensor_value_info("y", out_type, [257])],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 25)])
    model.ir_version = 11
    rng = np.random.default_rng(precision + out_type)
    x_np = helper.tensor_dtype_to_np_dtype(x_type)
    x = (
        rng.integers(-3000, 3000, 257).astype(np.int32)
        if x_type == TensorProto.INT32
        else (rng.standard_normal(257) * 30).astype(x_np)
    )
    feeds = {
        "x": x,
        "s": np.array(0.37, dtype=helper.tensor_dtype_to_np_dtype(scale_type)),
        "z": np.array(0, dtype=helper.tensor_dtype_to_np_dtype(out_type)),
    }
    want = ReferenceEvaluator(model).run(None, feeds)[0]
    got = pionnx.InferenceSession(model.SerializeToString()).run(None, feeds)[0]
    assert got.dtype == want.dtype
    np.testing.assert_array_equal(got.astype(np.float64), want.astype(np.float64))
