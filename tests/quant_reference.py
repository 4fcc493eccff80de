"""Exact references for the quantized operators, independent of any CPU.

The quantized tests judge pionnx against these, never against another
runtime's kernels: onnxruntime's u8 x s8 GEMM sums byte pairs into saturating
16-bit lanes (`vpmaddubsw`) on x86 CPUs with AVX2 but without VNNI, so its
MatMulInteger, QLinearConv, QLinearMatMul, QGemm, MatMulIntegerToFloat and
DynamicQuantizeMatMul answers there are not exact (onnxruntime's own
quantization docs recommend `reduce_range` on such CPUs for that reason).

What each reference computes:

- Integer accumulation (`(A - a_zp) x (B - b_zp)`, convolutions): int64
  numpy arithmetic, exact. Convolutions run onnx.reference's Conv on float64
  copies of the integer operands, which is exact too (every partial sum is an
  integer far below 2**53) and is checked against a direct int64 loop in
  tests/test_quantized.py.
- Requantization (`round(acc * scale) + zp`, saturated): the float32
  arithmetic the ONNX spec and onnxruntime's contrib-op definitions state,
  round half to even. An implementation that orders the float32 products
  differently can land one step away at an exact tie, which is why the tests
  allow one quantization step on a requantized output and none on an integer
  one.
- The com.microsoft operators (QLinearAdd, QLinearMul, QLinearSigmoid,
  QLinearLeakyRelu, QLinearSoftmax, QLinearConcat, QLinearGlobalAveragePool,
  QLinearAveragePool, QGemm, MatMulIntegerToFloat, DynamicQuantizeMatMul,
  QuantizeLinear, DequantizeLinear): from their definitions in onnxruntime's
  contrib-op schemas (dequantize in float64, apply the float op, quantize).
- QuantizeLinear / DequantizeLinear (both domains): the spec's float32
  formulas (onnx.reference implements them only from opset 19 on).
- Whole graphs: onnx.reference.ReferenceEvaluator with the operators above
  (`evaluator(model)`). onnx.reference's own QLinearMatMul is replaced, since
  it does not saturate (300 stored in uint8 wraps to 44), and its
  MatMulInteger, ConvInteger and QLinearConv are replaced by the int64 ones.
"""

from __future__ import annotations

import numpy as np
import onnx
from onnx import TensorProto, helper
from onnx.reference import ReferenceEvaluator
from onnx.reference.op_run import OpRun

MS = "com.microsoft"


# ------------------------------------------------------------ integer cores


def _i64(v) -> np.ndarray:
    return np.asarray(v).astype(np.int64)


def _zp(z) -> np.ndarray:
    return np.zeros((), np.int64) if z is None else _i64(z)


def int_matmul(a, a_zp, b, b_zp) -> np.ndarray:
    """(A - a_zp) x (B - b_zp) in int64 with numpy's matmul broadcasting.

    a_zp: scalar (or per-row of a 2-D A); b_zp: scalar or one per column of B.
    """
    az = _zp(a_zp)
    if az.ndim == 1 and az.size > 1:  # one per row of A
        az = az.reshape(-1, 1)
    A = _i64(a) - az
    B = _i64(b) - _zp(b_zp)  # a 1-D b_zp broadcasts along the last (column) axis
    return np.matmul(A, B)


_CONV_CACHE: dict[tuple, ReferenceEvaluator] = {}


def float64_conv(x: np.ndarray, w: np.ndarray, **attrs) -> np.ndarray:
    """onnx.reference's Conv on float64 operands (NCHW)."""
    key = (x.ndim, tuple(sorted((k, str(v)) for k, v in attrs.items() if v is not None)))
    ev = _CONV_CACHE.get(key)
    if ev is None:
        node = helper.make_node("Conv", ["x", "w"], ["y"], **{k: v for k, v in attrs.items() if v is not None})
        graph = helper.make_graph(
            [node],
            "conv",
            [
                helper.make_tensor_value_info("x", TensorProto.DOUBLE, None),
                helper.make_tensor_value_info("w", TensorProto.DOUBLE, None),
            ],
            [helper.make_tensor_value_info("y", TensorProto.DOUBLE, None)],
        )
        ev = ReferenceEvaluator(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]))
        _CONV_CACHE[key] = ev
    return ev.run(None, {"x": x.astype(np.float64), "w": w.astype(np.float64)})[0]


def explicit_pads(spatial, kernel, strides, dilations, auto_pad) -> list[int]:
    """The ONNX auto_pad rule as begin..., end... pads (onnx.reference's Conv reads the
    batch and channel sizes here instead of the spatial ones, so it is not asked)."""
    n = len(spatial)
    strides = strides or [1] * n
    dilations = dilations or [1] * n
    if auto_pad == "VALID":
        return [0] * (2 * n)
    head, tail = [], []
    for d, k, s, dil in zip(spatial, kernel, strides, dilations):
        out = -(-d // s)
        need = max(0, (out - 1) * s + (k - 1) * dil + 1 - d)
        first = (need + 1) // 2 if auto_pad == "SAME_LOWER" else need // 2
        head.append(first)
        tail.append(need - first)
    return head + tail


def int_conv(x, x_zp, w, w_zp, **attrs) -> np.ndarray:
    """The int64 accumulator of ConvInteger/QLinearConv: conv(X - x_zp, W - w_zp).

    w_zp: scalar or one per output channel.
    """
    X = _i64(x) - _zp(x_zp)
    W = _i64(w)
    wz = _zp(w_zp)
    W = W - (wz.reshape((-1,) + (1,) * (W.ndim - 1)) if wz.ndim == 1 else wz)
    if attrs.get("auto_pad") not in (None, "", "NOTSET"):
        attrs = dict(attrs)
        attrs["pads"] = explicit_pads(
            X.shape[2:], W.shape[2:], attrs.get("strides"), attrs.get("dilations"), attrs.pop("auto_pad")
        )
    acc = float64_conv(X, W, **attrs)
    # Exact: every product and partial sum is an integer far below 2**53.
    assert np.abs(acc).max(initial=0) < 2**52
    return np.rint(acc).astype(np.int64)


def direct_int_conv_2d(X: np.ndarray, W: np.ndarray, pads, strides, dilations, group) -> np.ndarray:
    """A plain int64 loop for 2-D convolution, used only to check int_conv itself."""
    n, c, h, wd = X.shape
    m, cg, kh, kw = W.shape
    pt, pl, pb, pr = pads
    Xp = np.zeros((n, c, h + pt + pb, wd + pl + pr), np.int64)
    Xp[:, :, pt : pt + h, pl : pl + wd] = X
    oh = (h + pt + pb - dilations[0] * (kh - 1) - 1) // strides[0] + 1
    ow = (wd + pl + pr - dilations[1] * (kw - 1) - 1) // strides[1] + 1
    out = np.zeros((n, m, oh, ow), np.int64)
    mg = m // group
    for o in range(m):
        g = o // mg
        for i in range(oh):
            for j in range(ow):
                patch = Xp[
                    :,
                    g * cg : (g + 1) * cg,
                    i * strides[0] : i * strides[0] + dilations[0] * (kh - 1) + 1 : dilations[0],
                    j * strides[1] : j * strides[1] + dilations[1] * (kw - 1) + 1 : dilations[1],
                ]
                out[:, o, i, j] = (patch * W[o]).sum(axis=(1, 2, 3))
    return out


# ------------------------------------------------------- (de)quantization


def quantize(v, scale, zp, dtype) -> np.ndarray:
    """saturate(round_half_even(v / scale) + zp) in float64 (contrib ops' float math)."""
    info = np.iinfo(dtype)
    q = np.rint(np.asarray(v, np.float64) / np.float64(scale)) + (0 if zp is None else _i64(zp))
    return np.clip(q, info.min, info.max).astype(dtype)


def requantize(acc, multiplier, zp, dtype) -> np.ndarray:
    """saturate(round_half_even(float32(acc) * float32 multiplier) + zp): the float32 step of
    QLinearMatMul / QLinearConv / QGemm after the exact integer accumulation."""
    info = np.iinfo(dtype)
    y = np.rint(np.asarray(acc).astype(np.float32) * np.asarray(multiplier, np.float32)).astype(np.float64)
    y = y + (0 if zp is None else _i64(zp))
    return np.clip(y, info.min, info.max).astype(dtype)


def dequantize(x, scale, zp) -> np.ndarray:
    return (_i64(x) - _zp(zp)).astype(np.float64) * np.asarray(scale, np.float64)


def _out_dtype(zp, fallback):
    return (zp if zp is not None else fallback).dtype.type


# ------------------------------------------- operators for ReferenceEvaluator


class MatMulInteger(OpRun):
    def _run(self, A, B, a_zero_point=None, b_zero_point=None):
        return (int_matmul(A, a_zero_point, B, b_zero_point).astype(np.int32),)


def _only(op: OpRun, attrs: dict, names: tuple[str, ...]) -> dict:
    """The attributes passed to `op._run`, refused (as keyword parameters would be) unless all are `names`."""
    unexpected = set(attrs) - set(names)
    if unexpected:
        raise TypeError(f"{type(op).__name__}._run() got unexpected attributes {sorted(unexpected)}")
    return attrs


_CONV_ATTRS = ("auto_pad", "dilations", "group", "kernel_shape", "pads", "strides")


def _node_int_conv(op: OpRun, x, x_zp, w, w_zp, attrs: dict) -> np.ndarray:
    """int_conv with a ConvInteger/QLinearConv node's attributes (_CONV_ATTRS): each as
    passed to _run, else the node's own."""
    attrs = _only(op, attrs, _CONV_ATTRS)
    return int_conv(x, x_zp, w, w_zp, **{k: attrs.get(k) or getattr(op, k) for k in _CONV_ATTRS})


class ConvInteger(OpRun):
    def _run(self, x, w, x_zero_point=None, w_zero_point=None, **attrs):
        return (_node_int_conv(self, x, x_zero_point, w, w_zero_point, attrs).astype(np.int32),)


class QLinearMatMul(OpRun):
    def _run(self, a, a_scale, a_zero_point, b, b_scale, b_zero_point, y_scale, y_zero_point):
        acc = int_matmul(a, a_zero_point, b, b_zero_point)
        mult = np.float32(a_scale) * np.asarray(b_scale, np.float32) / np.float32(y_scale)
        return (requantize(acc, mult, y_zero_point, _out_dtype(y_zero_point, a)),)


class QLinearConv(OpRun):
    def _run(self, x, x_scale, x_zero_point, w, w_scale, w_zero_point, y_scale, y_zero_point, B=None, **attrs):
        acc = _node_int_conv(self, x, x_zero_point, w, w_zero_point, attrs)
        if B is not None:
            acc = acc + _i64(B).reshape((1, -1) + (1,) * (acc.ndim - 2))
        ws = np.asarray(w_scale, np.float32)
        mult = np.float32(x_scale) * ws / np.float32(y_scale)
        if mult.ndim == 1 and mult.size > 1:
            mult = mult.reshape((1, -1) + (1,) * (acc.ndim - 2))
        return (requantize(acc, mult, y_zero_point, _out_dtype(y_zero_point, x)),)


class QLinearAdd(OpRun):
    op_domain = MS

    def _run(self, A, A_scale, A_zero_point, B, B_scale, B_zero_point, C_scale, C_zero_point=None):
        v = dequantize(A, A_scale, A_zero_point) + dequantize(B, B_scale, B_zero_point)
        return (quantize(v, C_scale, C_zero_point, _out_dtype(C_zero_point, A)),)


class QLinearMul(OpRun):
    op_domain = MS

    def _run(self, A, A_scale, A_zero_point, B, B_scale, B_zero_point, C_scale, C_zero_point=None):
        v = dequantize(A, A_scale, A_zero_point) * dequantize(B, B_scale, B_zero_point)
        return (quantize(v, C_scale, C_zero_point, _out_dtype(C_zero_point, A)),)


class QLinearSigmoid(OpRun):
    op_domain = MS

    def _run(self, X, X_scale, X_zero_point, Y_scale, Y_zero_point=None):
        v = 1.0 / (1.0 + np.exp(-dequantize(X, X_scale, X_zero_point)))
        return (quantize(v, Y_scale, Y_zero_point, _out_dtype(Y_zero_point, X)),)


class QLinearLeakyRelu(OpRun):
    op_domain = MS

    def _run(self, X, X_scale, X_zero_point, Y_scale, Y_zero_point=None, alpha=0.01):
        v = dequantize(X, X_scale, X_zero_point)
        v = np.where(v >= 0, v, np.float64(np.float32(alpha)) * v)
        return (quantize(v, Y_scale, Y_zero_point, _out_dtype(Y_zero_point, X)),)


def _softmax(v: np.ndarray, axis: int) -> np.ndarray:
    e = np.exp(v - v.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


class QLinearSoftmax(OpRun):
    op_domain = MS

    def _run(self, X, X_scale, x_zero_point, y_scale, y_zero_point, axis=-1, opset=1):
        v = dequantize(X, X_scale, x_zero_point)
        axis = axis % v.ndim
        if opset >= 13:
            s = _softmax(v, axis)
        else:  # opset <= 12: over everything from `axis` on, as an N x D matrix
            flat = v.reshape(int(np.prod(v.shape[:axis])), -1)
            s = _softmax(flat, 1).reshape(v.shape)
        return (quantize(s, y_scale, y_zero_point, _out_dtype(y_zero_point, X)),)


class QLinearConcat(OpRun):
    op_domain = MS

    def _run(self, Y_scale, Y_zero_point, *inputs, axis=0):
        parts = [dequantize(inputs[i], inputs[i + 1], inputs[i + 2]) for i in range(0, len(inputs), 3)]
        v = np.concatenate(parts, axis=axis)
        return (quantize(v, Y_scale, Y_zero_point, Y_zero_point.dtype.type),)


class QLinearGlobalAveragePool(OpRun):
    op_domain = MS

    def _run(self, X, x_scale, x_zero_point, y_scale, y_zero_point, channels_last=0):
        v = dequantize(X, x_scale, x_zero_point)
        axes = tuple(range(1, v.ndim - 1)) if channels_last else tuple(range(2, v.ndim))
        m = v.mean(axis=axes, keepdims=True)
        return (quantize(m, y_scale, y_zero_point, _out_dtype(y_zero_point, X)),)


# The attributes QLinearAveragePool passes on to AveragePool (channels_last is its own).
_POOL_ATTRS = ("auto_pad", "ceil_mode", "count_include_pad", "kernel_shape", "pads", "strides")


class QLinearAveragePool(OpRun):
    op_domain = MS

    def _run(self, X, x_scale, x_zero_point, y_scale, y_zero_point, channels_last=0, **attrs):
        attrs = _only(self, attrs, _POOL_ATTRS)
        if channels_last:
            raise NotImplementedError("reference QLinearAveragePool: channels_last=1")
        node = helper.make_node("AveragePool", ["x"], ["y"], **{k: v for k, v in attrs.items() if v is not None})
        graph = helper.make_graph(
            [node],
            "pool",
            [helper.make_tensor_value_info("x", TensorProto.DOUBLE, None)],
            [helper.make_tensor_value_info("y", TensorProto.DOUBLE, None)],
        )
        pooled = ReferenceEvaluator(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 19)])).run(
            None, {"x": dequantize(X, x_scale, x_zero_point)}
        )[0]
        return (quantize(pooled, y_scale, y_zero_point, _out_dtype(y_zero_point, X)),)


class QGemm(OpRun):
    op_domain = MS

    def _run(
        self,
        A,
        a_scale,
        a_zero_point,
        B,
        b_scale,
        b_zero_point=None,
        C=None,
        y_scale=None,
        y_zero_point=None,
        alpha=1.0,
        transA=0,
        transB=0,
    ):
        A = A.T if transA else A
        B = B.T if transB else B
        acc = int_matmul(A, a_zero_point, B, b_zero_point)
        if C is not None:
            acc = acc + _i64(C)
        # Y = alpha * a_scale * b_scale * (A'B' + C), C's scale being alpha * a_scale * b_scale.
        mult = np.float32(alpha) * np.float32(a_scale) * np.asarray(b_scale, np.float32)
        if y_scale is None:
            return ((acc.astype(np.float32) * mult).astype(np.float32),)
        return (requantize(acc, mult / np.float32(y_scale), y_zero_point, _out_dtype(y_zero_point, A)),)


def _int_matmul_to_float(acc, a_scale, b_scale, bias) -> np.ndarray:
    y = acc.astype(np.float32) * (np.float32(a_scale) * np.asarray(b_scale, np.float32))
    if bias is not None:
        y = y + bias.astype(np.float32)
    return y.astype(np.float32)


class MatMulIntegerToFloat(OpRun):
    op_domain = MS

    def _run(self, A, B, a_scale, b_scale, a_zero_point=None, b_zero_point=None, bias=None):
        return (_int_matmul_to_float(int_matmul(A, a_zero_point, B, b_zero_point), a_scale, b_scale, bias),)


def dynamic_quantize(x: np.ndarray):
    """ONNX DynamicQuantizeLinear, in float32 as its spec states: uint8 values, scale, zero point."""
    x = np.asarray(x, np.float32)
    hi = np.float32(max(0.0, float(x.max(initial=0.0))))
    lo = np.float32(min(0.0, float(x.min(initial=0.0))))
    scale = np.float32(1.0) if hi == lo else np.float32((hi - lo) / np.float32(255))
    zp = np.rint(np.clip(np.float32(0) - lo / scale, 0, 255))
    q = np.clip(np.rint(x / scale) + zp, 0, 255).astype(np.uint8)
    return q, np.array(scale, np.float32), np.array(zp, np.uint8)


class DynamicQuantizeMatMul(OpRun):
    op_domain = MS

    def _run(self, A, B, b_scale, b_zero_point=None, bias=None):
        q, a_scale, a_zp = dynamic_quantize(A)
        return (_int_matmul_to_float(int_matmul(q, a_zp, B, b_zero_point), a_scale, b_scale, bias),)


def _per_axis(v, x_ndim: int, axis: int) -> np.ndarray:
    """A scale or zero point shaped to broadcast along `axis` (scalars as they are)."""
    v = np.asarray(v)
    if v.ndim == 1 and v.size > 1:
        shape = [1] * x_ndim
        shape[axis % x_ndim] = v.size
        return v.reshape(shape)
    return v.reshape(())


def _no_blocks(block_size, other) -> None:
    if block_size or other:
        raise NotImplementedError(
            "reference Quantize/DequantizeLinear: block_size, output_dtype and precision are not covered"
        )


class QuantizeLinear(OpRun):
    """saturate(round_half_even(x / y_scale) + y_zero_point), x / y_scale in float32 (opsets 10-21;
    onnx.reference has none below opset 19)."""

    def _run(self, x, y_scale, y_zero_point=None, axis=1, saturate=1, block_size=0, output_dtype=0, precision=0):
        _no_blocks(block_size, output_dtype or precision)
        dtype = np.uint8 if y_zero_point is None else y_zero_point.dtype.type
        info = np.iinfo(dtype)
        q = np.rint(np.asarray(x, np.float32) / _per_axis(y_scale, x.ndim, axis).astype(np.float32))
        if y_zero_point is not None:
            q = q + _per_axis(y_zero_point, x.ndim, axis).astype(np.float64)
        return (np.clip(q, info.min, info.max).astype(dtype),)


class DequantizeLinear(OpRun):
    """(x - x_zero_point) * x_scale in float32 (opsets 10-21)."""

    def _run(self, x, x_scale, x_zero_point=None, axis=1, block_size=0, output_dtype=0, precision=0):
        _no_blocks(block_size, output_dtype or precision)
        v = _i64(x) - (0 if x_zero_point is None else _i64(_per_axis(x_zero_point, x.ndim, axis)))
        return ((v.astype(np.float32) * _per_axis(x_scale, x.ndim, axis).astype(np.float32)).astype(np.float32),)


class _MsQuantizeLinear(QuantizeLinear):
    op_domain = MS


class _MsDequantizeLinear(DequantizeLinear):
    op_domain = MS


# ReferenceEvaluator takes the operator type from the class name.
_MsQuantizeLinear.__name__ = "QuantizeLinear"
_MsDequantizeLinear.__name__ = "DequantizeLinear"


REFERENCE_OPS = [
    MatMulInteger,
    ConvInteger,
    QLinearMatMul,
    QLinearConv,
    QLinearAdd,
    QLinearMul,
    QLinearSigmoid,
    QLinearLeakyRelu,
    QLinearSoftmax,
    QLinearConcat,
    QLinearGlobalAveragePool,
    QLinearAveragePool,
    QGemm,
    MatMulIntegerToFloat,
    DynamicQuantizeMatMul,
    QuantizeLinear,
    DequantizeLinear,
    _MsQuantizeLinear,
    _MsDequantizeLinear,
]


def evaluator(model: onnx.ModelProto) -> ReferenceEvaluator:
    """onnx.reference for a (quantized) model, with the exact operators above."""
    return ReferenceEvaluator(model, new_ops=REFERENCE_OPS)


def run_reference(model: onnx.ModelProto, feeds: dict[str, np.ndarray]) -> list[np.ndarray]:
    return evaluator(model).run(None, feeds)
