"""Transformer fusions and the com.microsoft kernels they write.

The kernels (MultiHeadAttention, SkipLayerNormalization, BiasGelu) are checked
against numpy references written from onnxruntime's operator documentation,
and, where onnxruntime is installed, against onnxruntime running the same node
(float, so within tolerance). The fusions are checked on encoder blocks written
the way exporters write them: the fused nodes appear, the lookalikes are left
alone, and the optimized session gives the unoptimized one's outputs.
"""

from __future__ import annotations

import collections
import json
import math

import numpy as np
import onnx
import pytest
from models import model, tensor
from onnx import TensorProto, helper, numpy_helper

import pionnx

L = pionnx.GraphOptimizationLevel
MS = "com.microsoft"

try:
    import onnxruntime
except ImportError:  # pragma: no cover - the dev and CI environments install it
    onnxruntime = None


def session(model: onnx.ModelProto, level=L.ORT_ENABLE_ALL, path: str = "", threads: int = 2):
    so = pionnx.SessionOptions()
    so.graph_optimization_level = level
    so.intra_op_num_threads = threads
    so.optimized_model_filepath = path
    return pionnx.InferenceSession(model.SerializeToString(), sess_options=so)


def make_model(nodes, inputs, outputs, inits=(), opset=17, ms=False):
    return model(nodes, inputs, outputs, inits, opset=opset, extra_opsets=[(MS, 1)] if ms else ())


def vi(name, shape, elem=TensorProto.FLOAT):
    return tensor(name, elem, shape)


def run_node(op, inputs: dict, outputs: list[str], attrs=None, onnxruntime_too=True):
    """One com.microsoft node on pionnx (and onnxruntime when installed)."""
    names = list(inputs)
    node = helper.make_node(
        op, [n if inputs[n] is not None else "" for n in names], outputs, domain=MS, **(attrs or {})
    )
    feeds = {n: v for n, v in inputs.items() if v is not None}
    ins = [vi(n, list(v.shape), helper.np_dtype_to_tensor_dtype(v.dtype)) for n, v in feeds.items()]
    m = make_model([node], ins, [vi(o, None) for o in outputs], ms=True)
    got = session(m).run(None, feeds)
    ref = None
    if onnxruntime_too and onnxruntime is not None:
        ref = onnxruntime.InferenceSession(m.SerializeToString(), providers=["CPUExecutionProvider"]).run(None, feeds)
    return got, ref


# --------------------------------------------------------------------------- references


def softmax(x):
    e = np.exp(x - x.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def mha_reference(
    q,
    k,
    v,
    heads,
    bias=None,
    key_padding_mask=None,
    attention_bias=None,
    past_key=None,
    past_value=None,
    scale=None,
    mask_filter_value=-10000.0,
    unidirectional=False,
):
    q, k, v = (t.astype(np.float64) for t in (q, k, v))
    if bias is not None:
        d, dk = q.shape[-1], k.shape[-1]
        q, k, v = q + bias[:d], k + bias[d : d + dk], v + bias[d + dk :]
    B, S, D = q.shape

    def per_head(t):  # [B, L, N*H] -> [B, N, L, H]; 4-D inputs are already per head
        return t if t.ndim == 4 else t.reshape(t.shape[0], t.shape[1], heads, -1).transpose(0, 2, 1, 3)

    qh, kh, vh = per_head(q), per_head(k), per_head(v)
    if past_key is not None:
        kh = np.concatenate([past_key, kh], axis=2)
        vh = np.concatenate([past_value, vh], axis=2)
    T, P = kh.shape[2], 0 if past_key is None else past_key.shape[2]
    s = np.einsum("bnsh,bnth->bnst", qh, kh) * (scale if scale is not None else 1 / math.sqrt(qh.shape[-1]))
    if attention_bias is not None:
        s = s + attention_bias
    if key_padding_mask is not None:
        if key_padding_mask.ndim == 1:
            masked = np.arange(T)[None, :] >= key_padding_mask[:, None]
        else:
            masked = key_padding_mask == 0
        s = s + np.where(masked, mask_filter_value, 0.0)[:, None, None, :]
    if unidirectional:
        s = s + np.where(np.arange(T)[None, :] > np.arange(S)[:, None] + P, mask_filter_value, 0.0)
    y = np.einsum("bnst,bnth->bnsh", softmax(s), vh)
    return y.transpose(0, 2, 1, 3).reshape(B, S, -1), kh, vh


def layer_norm(x, gamma, beta, eps):
    m = x.mean(axis=-1, keepdims=True)
    var = ((x - m) ** 2).mean(axis=-1, keepdims=True)
    inv = 1 / np.sqrt(var + eps)
    y = (x - m) * inv * gamma
    return (y + beta if beta is not None else y), m, inv


def gelu(x):
    return 0.5 * x * (1 + np.vectorize(math.erf)(x / math.sqrt(2)))


# --------------------------------------------------------------------------- MultiHeadAttention


RNG = np.random.default_rng(11)


def f32(*shape, scale=1.0):
    return (RNG.standard_normal(shape) * scale).astype(np.float32)


MHA_CASES = {
    "plain": {},
    "bias": {"bias": True},
    "lengths": {"bias": True, "kpm": "1d"},
    "key_mask": {"kpm": "2d"},
    "attention_bias": {"ab": (2, 3, 5, 7)},
    "attention_bias_broadcast": {"ab": (1, 1, 5, 7)},
    "unidirectional": {"attrs": {"unidirectional": 1}, "kv_len": 5},
    "scale": {"attrs": {"scale": 0.37}},
    "past": {"bias": True, "past": 4, "attrs": {"unidirectional": 1}, "kv_len": 5},  # decoding: L == S
    "bnsh_key_value": {"bnsh": True},
}


@pytest.mark.parametrize("case", list(MHA_CASES))
def test_multi_head_attention_matches_reference(case):
    c = MHA_CASES[case]
    B, S, N, H = 2, 5, 3, 4
    L_ = c.get("kv_len", 7)
    q = f32(B, S, N * H)
    k = f32(B, N, L_, H) if c.get("bnsh") else f32(B, L_, N * H)
    v = f32(B, N, L_, H) if c.get("bnsh") else f32(B, L_, N * H)
    P = c.get("past", 0)
    T = L_ + P
    inputs = {"q": q, "k": k, "v": v, "bias": None, "kpm": None, "ab": None, "pk": None, "pv": None}
    if c.get("bias"):
        inputs["bias"] = f32(3 * N * H, scale=0.5)
    if c.get("kpm") == "1d":
        inputs["kpm"] = np.array([T, T - 3], np.int32)
    elif c.get("kpm") == "2d":
        inputs["kpm"] = (RNG.random((B, T)) > 0.3).astype(np.int32)
        inputs["kpm"][:, 0] = 1
    if "ab" in c:
        inputs["ab"] = f32(*c["ab"])
    if P:
        inputs["pk"], inputs["pv"] = f32(B, N, P, H), f32(B, N, P, H)
    while inputs and list(inputs.values())[-1] is None:
        inputs.popitem()
    outputs = ["y", "present_key", "present_value"] if P else ["y"]
    attrs = {"num_heads": N, **c.get("attrs", {})}
    got, ort_out = run_node("MultiHeadAttention", inputs, outputs, attrs)
    want, kh, vh = mha_reference(
        q,
        k,
        v,
        N,
        inputs.get("bias"),
        inputs.get("kpm"),
        inputs.get("ab"),
        inputs.get("pk"),
        inputs.get("pv"),
        scale=attrs.get("scale"),
        unidirectional=bool(attrs.get("unidirectional")),
    )
    np.testing.assert_allclose(got[0], want, rtol=1e-5, atol=1e-5)
    if P:
        np.testing.assert_allclose(got[1], kh, rtol=1e-6, atol=1e-6)
        np.testing.assert_allclose(got[2], vh, rtol=1e-6, atol=1e-6)
    if ort_out is not None:
        np.testing.assert_allclose(got[0], ort_out[0], rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize(
    "layout,extra",
    [
        ("qkv", {}),
        ("qkv", {"bias": True}),
        ("qkv", {"bias": True, "kpm": "2d", "ab": True}),
        ("kv", {}),
        ("kv", {"bias": True, "kpm": "1d"}),
        ("kv", {"bias": True, "past": 3}),
    ],
)
def test_multi_head_attention_packed_layouts(layout, extra):
    """onnxruntime's packed layouts, read in place: query [B, S, N, 3, H] holding Q, K and V (what the layout
    pass writes, optimize/qkv_packing.cc), or key [B, L, N, 2, H] holding K and V; the bias is still
    [D + D + D] with each part added to its slot; against the reference on the unpacked tensors.
    (onnxruntime's CPU kernel refuses both layouts: no comparison with it.)"""
    B, S, N, H = 2, 5, 3, 4
    L_ = S if layout == "qkv" else 7
    P = extra.get("past", 0)
    q = f32(B, S, N * H)
    packed = f32(B, L_, N, 3 if layout == "qkv" else 2, H)
    if layout == "qkv":
        q = packed[:, :, :, 0].reshape(B, S, N * H)
    k, v = (packed[:, :, :, j].reshape(B, L_, N * H) for j in ((1, 2) if layout == "qkv" else (0, 1)))
    inputs = {"q": packed if layout == "qkv" else q, "k": None if layout == "qkv" else packed, "v": None}
    inputs.update({"bias": None, "kpm": None, "ab": None, "pk": None, "pv": None})
    if extra.get("bias"):
        inputs["bias"] = f32(3 * N * H, scale=0.5)
    if extra.get("kpm") == "1d":
        inputs["kpm"] = np.array([L_ + P, L_ + P - 2], np.int32)
    elif extra.get("kpm") == "2d":
        inputs["kpm"] = (RNG.random((B, L_ + P)) > 0.3).astype(np.int32)
        inputs["kpm"][:, 0] = 1
    if extra.get("ab"):
        inputs["ab"] = f32(B, N, S, L_ + P)
    if P:
        inputs["pk"], inputs["pv"] = f32(B, N, P, H), f32(B, N, P, H)
    while list(inputs.values())[-1] is None:
        inputs.popitem()
    outputs = ["y", "present_key", "present_value"] if P else ["y"]
    got, _ = run_node("MultiHeadAttention", inputs, outputs, {"num_heads": N}, onnxruntime_too=False)
    want, kh, vh = mha_reference(
        q, k, v, N, inputs.get("bias"), inputs.get("kpm"), inputs.get("ab"), inputs.get("pk"), inputs.get("pv")
    )
    np.testing.assert_allclose(got[0], want, rtol=1e-5, atol=1e-5)
    if P:
        np.testing.assert_allclose(got[1], kh, rtol=1e-6, atol=1e-6)
        np.testing.assert_allclose(got[2], vh, rtol=1e-6, atol=1e-6)


def test_multi_head_attention_refuses_what_it_does_not_implement():
    N, H = 2, 4
    packed = f32(1, 3, N, 3, H)
    with pytest.raises(pionnx.InvalidArgument, match="packed QKV query .* takes no key or value"):
        run_node("MultiHeadAttention", {"q": packed, "k": packed}, ["y"], {"num_heads": N}, onnxruntime_too=False)
    with pytest.raises(pionnx.InvalidArgument, match="has 2 heads, num_heads is 4"):
        run_node("MultiHeadAttention", {"q": packed}, ["y"], {"num_heads": 4}, onnxruntime_too=False)
    with pytest.raises(pionnx.InvalidArgument, match="query must be 3-D .* or packed QKV"):
        run_node("MultiHeadAttention", {"q": f32(1, 3, N, 2, H)}, ["y"], {"num_heads": N}, onnxruntime_too=False)
    q = f32(1, 3, N * H)
    bad_mask = np.ones((1, 2, 3), np.int32)
    with pytest.raises(pionnx.NotImplemented, match="key_padding_mask must be"):
        run_node(
            "MultiHeadAttention",
            {"q": q, "k": q, "v": q, "bias": None, "kpm": bad_mask},
            ["y"],
            {"num_heads": N},
            onnxruntime_too=False,
        )
    with pytest.raises(pionnx.InvalidArgument, match="not divisible by its head count 3"):
        run_node("MultiHeadAttention", {"q": q, "k": q, "v": q}, ["y"], {"num_heads": 3}, onnxruntime_too=False)


# --------------------------------------------------------------------------- SkipLayerNormalization, BiasGelu


@pytest.mark.parametrize(
    "skip_shape,beta,bias,extra",
    [
        ((2, 6, 32), True, True, 3),
        ((2, 6, 32), False, False, 0),
        ((6, 32), True, False, 3),
        ((1, 6, 32), True, True, 1),
        ((2, 1, 32), True, False, 3),  # broadcast over positions: expanded to full size (onnxruntime refuses it)
    ],
)
def test_skip_layer_norm_matches_reference(skip_shape, beta, bias, extra):
    H = 32
    x, skip, gamma = f32(2, 6, H), f32(*skip_shape), f32(H)
    b, c = f32(H) if beta else None, f32(H) if bias else None
    inputs = {"x": x, "skip": skip, "gamma": gamma, "beta": b, "bias": c}
    while list(inputs.values())[-1] is None:
        inputs.popitem()
    outputs = ["y", "mean", "inv_std", "sum"][: 1 + extra]
    expanded = skip_shape == (2, 1, 32)
    got, ort_out = run_node("SkipLayerNormalization", inputs, outputs, {"epsilon": 1e-5}, onnxruntime_too=not expanded)
    s = x.astype(np.float64) + skip + (c if bias else 0)
    y, m, inv = layer_norm(s, gamma, b, 1e-5)
    np.testing.assert_allclose(got[0], y, rtol=1e-5, atol=1e-5)
    for g_, w in zip(got[1:], [m, inv, s]):
        np.testing.assert_allclose(g_, w, rtol=1e-5, atol=1e-5)
    if ort_out is not None:
        np.testing.assert_allclose(got[0], ort_out[0], rtol=1e-4, atol=1e-5)


def test_bias_gelu_matches_reference():
    x, b = f32(3, 5, 40, scale=2.0), f32(40)
    got, ort_out = run_node("BiasGelu", {"x": x, "b": b}, ["y"])
    np.testing.assert_allclose(got[0], gelu(x.astype(np.float64) + b), rtol=1e-5, atol=1e-6)
    if ort_out is not None:
        np.testing.assert_allclose(got[0], ort_out[0], rtol=1e-4, atol=1e-5)
    with pytest.raises(pionnx.InvalidArgument, match="bias must be 1-D"):
        run_node("BiasGelu", {"x": x, "b": f32(39)}, ["y"], onnxruntime_too=False)
    # An input with last dimension 1 broadcasts to the bias, as Add did before the fusion.
    x1 = f32(3, 5, 1)
    got, _ = run_node("BiasGelu", {"x": x1, "b": b}, ["y"], onnxruntime_too=False)
    np.testing.assert_allclose(got[0], gelu(x1.astype(np.float64) + b), rtol=1e-5, atol=1e-6)


# --------------------------------------------------------------------------- the fusions


class Encoder:
    """A post-LN encoder layer as exporters write it (Hugging Face BERT at opset 17), with knobs for the
    variants exporters produce and for lookalikes that must not fuse."""

    def __init__(
        self,
        hidden=32,
        heads=4,
        seed=3,
        key_two_transposes=False,
        scale_op="Div",
        mask=True,
        proj_bias=True,
        softmax_axis=-1,
        pre_ln=False,
        opset=17,
        written_ln=None,
    ):
        self.rng = np.random.default_rng(seed)
        self.nodes, self.inits, self.n = [], [], 0
        self.hidden, self.heads, self.opset = hidden, heads, opset
        dh = hidden // heads
        self.written_ln = written_ln  # None, "pow" or "mul": LayerNorm written out as pre-17 exports do
        x = self.layer_norm("X", np.ones(hidden), np.zeros(hidden), 1e-5)
        inputs = [vi("X", ["batch", "seq", hidden])]
        bias = None
        if mask:
            inputs.append(vi("M", ["batch", "seq"], TensorProto.INT64))
            m = self.op("Unsqueeze", ["M", self.c(np.array([1, 2], np.int64))])
            m = self.op("Cast", [m], to=TensorProto.FLOAT)
            m = self.op("Sub", [self.c(np.array(1.0)), m])
            bias = self.op("Mul", [m, self.c(np.array(-10000.0))])
        split = self.c(np.array([0, 0, heads, dh], np.int64))

        def linear(t, cin, cout, with_bias=True):
            y = self.op("MatMul", [t, self.c(self.rng.standard_normal((cin, cout)) * 0.2)])
            return self.op("Add", [y, self.c(self.rng.standard_normal(cout) * 0.1)]) if with_bias else y

        q = self.op("Transpose", [self.op("Reshape", [linear(x, hidden, hidden, proj_bias), split])], perm=[0, 2, 1, 3])
        if key_two_transposes:
            k = self.op(
                "Transpose", [self.op("Reshape", [linear(x, hidden, hidden, proj_bias), split])], perm=[0, 2, 1, 3]
            )
            k = self.op("Transpose", [k], perm=[0, 1, 3, 2])
        else:
            k = self.op(
                "Transpose", [self.op("Reshape", [linear(x, hidden, hidden, proj_bias), split])], perm=[0, 2, 3, 1]
            )
        v = self.op("Transpose", [self.op("Reshape", [linear(x, hidden, hidden, proj_bias), split])], perm=[0, 2, 1, 3])
        s = self.op("MatMul", [q, k])
        if scale_op == "Div":
            s = self.op("Div", [s, self.c(np.array(math.sqrt(dh)))])
        elif scale_op == "Mul":
            s = self.op("Mul", [self.c(np.array(1 / math.sqrt(dh))), s])
        if bias is not None:
            s = self.op("Add", [s, bias])
        p = self.op("Softmax", [s], axis=softmax_axis)
        ctx = self.op("Transpose", [self.op("MatMul", [p, v])], perm=[0, 2, 1, 3])
        ctx = self.op("Reshape", [ctx, self.c(np.array([0, 0, hidden], np.int64))])

        def ln(t):
            gamma, beta = self.rng.uniform(0.8, 1.2, hidden), self.rng.standard_normal(hidden) * 0.1
            return self.layer_norm(t, gamma, beta, 1e-6)

        summed = self.op("Add", [linear(ctx, hidden, hidden), x])
        x1 = ln(summed)
        h = linear(x1, hidden, 4 * hidden)
        erf = self.op("Erf", [self.op("Div", [h, self.c(np.array(math.sqrt(2.0)))])])
        g = self.op("Mul", [self.op("Mul", [h, self.op("Add", [erf, self.c(np.array(1.0))])]), self.c(np.array(0.5))])
        residual = summed if pre_ln else x1  # pre-LN: the sum, not the normalized value, carries on
        out = ln(self.op("Add", [linear(g, 4 * hidden, hidden), residual]))
        self.model = make_model(self.nodes, inputs, [vi(out, None)], self.inits, opset=opset)
        self.mask = mask

    def layer_norm(self, t, gamma, beta, eps):
        if self.written_ln is None:
            return self.op("LayerNormalization", [t, self.c(gamma), self.c(beta)], axis=-1, epsilon=eps)

        def mean(v):
            if self.opset >= 18:
                return self.op("ReduceMean", [v, self.c(np.array([-1], np.int64))])
            return self.op("ReduceMean", [v], axes=[-1])

        d = self.op("Sub", [t, mean(t)])
        sq = self.op("Pow", [d, self.c(np.array(2.0))]) if self.written_ln == "pow" else self.op("Mul", [d, d])
        std = self.op("Sqrt", [self.op("Add", [mean(sq), self.c(np.array(eps))])])
        y = self.op("Mul", [self.op("Div", [d, std]), self.c(gamma)])
        return self.op("Add", [y, self.c(beta)])

    def c(self, value):
        self.n += 1
        name = f"c{self.n}"
        arr = np.asarray(value)
        self.inits.append(numpy_helper.from_array(arr.astype(np.float32) if arr.dtype == np.float64 else arr, name))
        return name

    def op(self, op_type, inputs, **attrs):
        self.n += 1
        out = f"{op_type.lower()}{self.n}"
        self.nodes.append(helper.make_node(op_type, inputs, [out], **attrs))
        return out

    def feeds(self, batch=2, seq=9):
        rng = np.random.default_rng(1)
        f = {"X": rng.standard_normal((batch, seq, self.hidden)).astype(np.float32)}
        if self.mask:
            m = np.ones((batch, seq), np.int64)
            m[1, seq - 3 :] = 0
            f["M"] = m
        return f


def fused_ops(model, tmp_path):
    path = tmp_path / "opt.onnx"
    session(model, path=str(path))
    return collections.Counter((n.domain, n.op_type) for n in onnx.load(path).graph.node)


def check_same_outputs(enc: Encoder, threads=2):
    feeds = enc.feeds()
    want = session(enc.model, L.ORT_DISABLE_ALL, threads=1).run(None, feeds)
    got = session(enc.model, threads=threads).run(None, feeds)
    for g_, w in zip(got, want):
        np.testing.assert_allclose(g_, w, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize(
    "variant",
    [
        {},
        {"key_two_transposes": True},
        {"scale_op": "Mul"},
        {"scale_op": None},
        {"mask": False},
        {"proj_bias": False},
        {"pre_ln": True},
    ],
    ids=["bert", "key_two_transposes", "mul_scale", "no_scale", "no_mask", "no_proj_bias", "pre_ln_sum_reused"],
)
def test_encoder_layer_fuses_like_onnxruntime(variant, tmp_path):
    enc = Encoder(**variant)
    ops = fused_ops(enc.model, tmp_path)
    assert ops[(MS, "MultiHeadAttention")] == 1, ops
    assert ops[(MS, "SkipLayerNormalization")] == 2, ops
    assert ops[(MS, "BiasGelu")] == 1, ops
    assert ops[("", "Softmax")] == ops[("", "Transpose")] == ops[("", "Reshape")] == 0, ops
    # What is left: the first LayerNorm, four projections, the mask arithmetic.
    assert ops[("", "MatMul")] == 6 and ops[("", "Add")] == 0, ops
    check_same_outputs(enc)
    check_same_outputs(enc, threads=1)


@pytest.mark.parametrize("threads", [2, 4])
@pytest.mark.parametrize("seq", [128, 131])
def test_attention_query_row_blocks(seq, threads, tmp_path):
    """With several threads and 128 or more query rows the fused attention splits each head's rows in two
    blocks (attention.cc, attend): whole and uneven blocks, a batch whose last keys are masked, against the
    unfused graph at 1 thread."""
    enc = Encoder()
    assert fused_ops(enc.model, tmp_path)[(MS, "MultiHeadAttention")] == 1
    feeds = enc.feeds(seq=seq)
    want = session(enc.model, L.ORT_DISABLE_ALL, threads=1).run(None, feeds)
    got = session(enc.model, threads=threads).run(None, feeds)
    for g_, w in zip(got, want):
        np.testing.assert_allclose(g_, w, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize(
    "written_ln,opset",
    [("pow", 14), ("mul", 14), ("pow", 17), ("pow", 18)],
)
def test_written_out_layer_norm_fuses(written_ln, opset, tmp_path):
    """LayerNorm as exports before opset 17 write it: after a residual Add it becomes SkipLayerNormalization at
    any opset; the first one (on the input, no Add) becomes LayerNormalization where the opset has it."""
    enc = Encoder(written_ln=written_ln, opset=opset)
    ops = fused_ops(enc.model, tmp_path)
    assert ops[(MS, "SkipLayerNormalization")] == 2, ops
    assert ops[(MS, "MultiHeadAttention")] == 1 and ops[(MS, "BiasGelu")] == 1, ops
    first_fused = opset >= 17
    assert ops[("", "LayerNormalization")] == int(first_fused), ops
    assert ops[("", "ReduceMean")] == (0 if first_fused else 2), ops
    check_same_outputs(enc)


def test_written_out_layer_norm_lookalike_is_left_alone(tmp_path):
    """A mean over another axis is not a layer normalization."""
    enc = Encoder(written_ln="pow", opset=17)
    for n in enc.model.graph.node:
        if n.op_type == "ReduceMean":
            del n.attribute[:]
            n.attribute.extend([helper.make_attribute("axes", [1])])
    ops = fused_ops(enc.model, tmp_path)
    assert ops[(MS, "SkipLayerNormalization")] == 0 and ops[("", "LayerNormalization")] == 0, ops
    check_same_outputs(enc)


def test_pre_ln_sum_becomes_the_fourth_output(tmp_path):
    path = tmp_path / "opt.onnx"
    session(Encoder(pre_ln=True).model, path=str(path))
    skips = [n for n in onnx.load(path).graph.node if n.op_type == "SkipLayerNormalization"]
    assert [len(n.output) for n in skips] == [4, 1]


@pytest.mark.parametrize("variant", [{"softmax_axis": 2}], ids=["softmax_over_queries"])
def test_attention_lookalike_is_left_alone(variant, tmp_path):
    enc = Encoder(**variant)
    ops = fused_ops(enc.model, tmp_path)
    assert ops[(MS, "MultiHeadAttention")] == 0 and ops[("", "Softmax")] == 1, ops
    check_same_outputs(enc)


def test_attention_intermediate_read_twice_is_left_alone(tmp_path):
    enc = Encoder()
    softmax_out = next(n.output[0] for n in enc.model.graph.node if n.op_type == "Softmax")
    enc.model.graph.output.append(vi(softmax_out, None))
    ops = fused_ops(enc.model, tmp_path)
    assert ops[(MS, "MultiHeadAttention")] == 0 and ops[("", "Softmax")] == 1, ops
    check_same_outputs(enc)


def test_attention_needs_known_ranks(tmp_path):
    """Without a declared rank for X, the projections' rank is unknown: a 4-D q would be read by
    MultiHeadAttention as per-head, so the subgraph stays."""
    enc = Encoder()
    enc.model.graph.input[0].type.tensor_type.ClearField("shape")
    ops = fused_ops(enc.model, tmp_path)
    assert ops[(MS, "MultiHeadAttention")] == 0, ops
    check_same_outputs(enc)


# --------------------------------------------------------------------------- dynamic int8 MatMul


def dynamic_int8_matmul(bias=True, per_column=False, scale_read_twice=False, cast_to=TensorProto.FLOAT):
    """quantize_dynamic's MatMul: DynamicQuantizeLinear, MatMulInteger, Cast, Mul by a_scale * b_scale, + bias."""
    rng = np.random.default_rng(4)
    K, N = 48, 40
    w = rng.integers(-128, 128, (K, N), dtype=np.int8)
    ws = (rng.uniform(0.001, 0.01, N) if per_column else np.array(0.004)).astype(np.float32)
    inits = [
        numpy_helper.from_array(w, "w"),
        numpy_helper.from_array(ws, "ws"),
        numpy_helper.from_array(np.int8(0).reshape(()), "wzp"),
        numpy_helper.from_array(rng.standard_normal(N).astype(np.float32), "b"),
    ]
    nodes = [
        helper.make_node("DynamicQuantizeLinear", ["X"], ["xq", "xs", "xzp"]),
        helper.make_node("Mul", ["xs", "ws"], ["s"]),
        helper.make_node("MatMulInteger", ["xq", "w", "xzp", "wzp"], ["acc"]),
        helper.make_node("Cast", ["acc"], ["accf"], to=cast_to),
        helper.make_node("Mul", ["accf", "s" if cast_to == TensorProto.FLOAT else "s16"], ["y"]),
    ]
    if cast_to != TensorProto.FLOAT:
        nodes.insert(1, helper.make_node("Cast", ["s"], ["s16"], to=cast_to))
    outputs = [vi("Z" if bias else "y", None, cast_to)]
    if bias:
        nodes.append(helper.make_node("Add", ["y", "b"], ["Z"]))
    if scale_read_twice:
        outputs.append(vi("s", None))
    return make_model(nodes, [vi("X", [2, 7, K])], outputs, inits)


@pytest.mark.parametrize(
    "kw,fused",
    [
        ({}, True),
        ({"bias": False}, True),
        ({"per_column": True}, True),
        ({"scale_read_twice": True}, True),
        ({"cast_to": TensorProto.FLOAT16, "bias": False}, False),
    ],
    ids=["bias", "no_bias", "per_column_scale", "scale_read_twice", "cast_to_float16"],
)
def test_dynamic_int8_matmul_becomes_matmul_integer_to_float(kw, fused, tmp_path):
    """The fusion onnxruntime makes, with bit-identical outputs (the same float operations in the same order)."""
    m = dynamic_int8_matmul(**kw)
    ops = fused_ops(m, tmp_path)
    assert ops[(MS, "MatMulIntegerToFloat")] == int(fused), ops
    if fused:
        assert (
            ops[("", "Cast")] == 0
            and ops[("", "Add")] == 0
            and ops[("", "Mul")] == int(kw.get("scale_read_twice", False))
        ), ops
    x = {"X": np.random.default_rng(2).standard_normal((2, 7, 48)).astype(np.float32)}
    want = session(m, L.ORT_DISABLE_ALL).run(None, x)
    for got, w in zip(session(m).run(None, x), want):
        np.testing.assert_array_equal(got, w)


def test_int8_encoder_projection_biases_stay_in_the_integer_products(tmp_path):
    """quantize_dynamic's encoder layer: the q, k and v projections' biases go into their MatMulIntegerToFloat
    (added as the sums are converted), and the attention node gets none (it would add them in copies of q, k
    and v); outputs bit-identical to the unfused graph's."""
    quantization = pytest.importorskip("onnxruntime.quantization")
    enc = Encoder()
    src, dst = tmp_path / "f.onnx", tmp_path / "q.onnx"
    onnx.save(enc.model, src)
    quantization.quantize_dynamic(str(src), str(dst))
    q = onnx.load(dst)
    path = tmp_path / "opt.onnx"
    session(q, path=str(path))
    nodes = onnx.load(path).graph.node
    mha = [n for n in nodes if n.op_type == "MultiHeadAttention"]
    assert len(mha) == 1 and (len(mha[0].input) < 4 or mha[0].input[3] == ""), mha
    fused = [n for n in nodes if n.op_type == "MatMulIntegerToFloat"]
    assert len(fused) >= 4 and sum(len(n.input) > 6 and n.input[6] != "" for n in fused) >= 3, fused
    feeds = enc.feeds()
    want = session(q, L.ORT_DISABLE_ALL).run(None, feeds)
    for got, w in zip(session(q).run(None, feeds), want):
        np.testing.assert_allclose(got, w, rtol=1e-5, atol=1e-5)


def test_written_optimized_encoder_reloads(tmp_path):
    """optimized_model_filepath writes the fused operators and their com.microsoft import; pionnx loads the file
    back and gives the unoptimized outputs."""
    enc = Encoder(written_ln="pow", opset=17)
    path = tmp_path / "opt.onnx"
    session(enc.model, path=str(path))
    assert {o.domain: o.version for o in onnx.load(path).opset_import}.get(MS) == 1
    feeds = enc.feeds()
    want = session(enc.model, L.ORT_DISABLE_ALL).run(None, feeds)
    got = pionnx.InferenceSession(str(path)).run(None, feeds)
    for g_, w in zip(got, want):
        np.testing.assert_allclose(g_, w, rtol=1e-4, atol=1e-5)


# --------------------------------------------------------------------------- packed attention projections


def profiled(m: onnx.ModelProto, feeds, threads, tmp_path, disabled=()):
    """pionnx's outputs and how many nodes of each op type its profile shows."""
    so = pionnx.SessionOptions()
    so.intra_op_num_threads = threads
    so.enable_profiling = True
    so.profile_file_prefix = str(tmp_path / "qkv")
    sess = pionnx.InferenceSession(m.SerializeToString(), so, disabled_optimizers=list(disabled))
    out = sess.run(None, feeds)
    with open(sess.end_profiling()) as f:
        events = json.load(f)
    return out, collections.Counter(e["args"]["op_name"] for e in events if e.get("cat") == "Node")


def int8_projections(
    scales=(0.004, 0.005, 0.003),
    zero_points=(None, None, None),
    biases=(True, True, True),
    graph_output=None,
    shape=(2, 6, 32),
):
    """x -> DynamicQuantizeLinear -> three MatMulIntegerToFloat -> MultiHeadAttention: the layout pass's
    pattern written directly, with each projection's weight scale, zero point (None: absent) and bias (or
    none); graph_output names a projection ("q", "k", "v") also read as a graph output; x of `shape`
    [B, S, D], 4 heads."""
    rng = np.random.default_rng(8)
    B, S, D = shape
    N = 4
    nodes = [helper.make_node("DynamicQuantizeLinear", ["x"], ["xq", "xs", "xz"])]
    inits = []
    unsigned = any(zp is not None for zp in zero_points)  # uint8 weights (all three: one product's B)
    for name, s, zp, b in zip("qkv", scales, zero_points, biases):
        dtype = np.uint8 if unsigned else np.int8
        lo, hi = (0, 256) if unsigned else (-128, 128)
        inits.append(numpy_helper.from_array(rng.integers(lo, hi, (D, D), dtype=dtype), f"w{name}"))
        inits.append(numpy_helper.from_array(np.asarray(s, np.float32), f"s{name}"))
        ins = ["xq", f"w{name}", "xs", f"s{name}", "xz", "", ""]
        if zp is not None:
            inits.append(numpy_helper.from_array(np.asarray(zp, np.uint8), f"z{name}"))
            ins[5] = f"z{name}"
        if b:
            inits.append(numpy_helper.from_array(rng.standard_normal(D).astype(np.float32), f"b{name}"))
            ins[6] = f"b{name}"
        while ins[-1] == "":
            ins.pop()
        nodes.append(helper.make_node("MatMulIntegerToFloat", ins, [name], domain=MS))
    nodes.append(helper.make_node("MultiHeadAttention", ["q", "k", "v"], ["y"], domain=MS, num_heads=N))
    outputs = [vi("y", None)] + ([vi(graph_output, None)] if graph_output else [])
    m = make_model(nodes, [vi("x", [B, S, D])], outputs, inits, ms=True)
    return m, {"x": np.random.default_rng(9).standard_normal((B, S, D)).astype(np.float32)}


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize(
    "kw",
    [
        {},
        {"scales": (0.004, 0.004, 0.004)},  # one scale for all: kept a scalar
        {"scales": (0.004, np.linspace(0.001, 0.005, 32), 0.003)},  # per-column beside per-tensor
        {"zero_points": (3, None, 200)},  # uint8 weights, two with zero points and one without
        {"biases": (True, False, True)},
        {"biases": (False, False, False)},
    ],
    ids=["scales_differ", "one_scale", "per_column_scale", "zero_points", "bias_missing", "no_bias"],
)
def test_int8_projections_packed_bit_for_bit(kw, threads, tmp_path):
    """The three integer products become one MatMulIntegerToFloat and a Reshape (a view) read as the packed
    QKV query: the same outputs to the bit as with the pass disabled, with onnx.reference near."""
    m, feeds = int8_projections(**kw)
    got, ops = profiled(m, feeds, threads, tmp_path)
    plain, plain_ops = profiled(m, feeds, threads, tmp_path, disabled=["AttentionQkvPacking"])
    assert ops["MatMulIntegerToFloat"] == 1 and ops["Reshape"] == 1, ops
    assert plain_ops["MatMulIntegerToFloat"] == 3 and plain_ops["Reshape"] == 0, plain_ops
    np.testing.assert_array_equal(got[0], plain[0])
    # The unpacked graph against numpy: the products exactly, the attention within float rounding.
    x = feeds["x"]
    inits = {t.name: numpy_helper.to_array(t) for t in m.graph.initializer}
    lo, hi = min(0.0, float(x.min())), max(0.0, float(x.max()))
    scale = np.float32((hi - lo) / 255)
    zp = np.clip(np.round(-lo / scale), 0, 255)
    xq = np.clip(np.round(x / scale) + zp, 0, 255).astype(np.int64)
    proj = []
    for name in "qkv":
        w = inits[f"w{name}"].astype(np.int64) - inits.get(f"z{name}", np.int64(0))
        acc = (xq - int(zp)) @ w
        proj.append(acc * (scale * inits[f"s{name}"]).astype(np.float64) + inits.get(f"b{name}", 0.0))
    want, _, _ = mha_reference(*proj, 4)
    np.testing.assert_allclose(got[0], want, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize(
    "shape", [(1, 128, 256), (2, 64, 256), (1, 300, 128)], ids=["one_sequence", "two", "long_narrow"]
)
def test_int8_projections_split_by_heads_across_threads(shape, tmp_path):
    """A product read only by an attention splits its columns by heads between threads when there are fewer
    sequences than threads (its rows otherwise): big enough to run threaded, packed and not, on 1, 2 and 3
    threads (3 not dividing 4 heads; 96 columns a head across 64-column panels, 300 rows in two row blocks), the same outputs to the bit."""
    m, feeds = int8_projections(shape=shape)
    ref, ops = profiled(m, feeds, 1, tmp_path)
    assert ops["MatMulIntegerToFloat"] == 1, ops
    for threads in (1, 2, 3):
        for disabled in ([], ["AttentionQkvPacking"]):
            got, _ = profiled(m, feeds, threads, tmp_path, disabled=disabled)
            np.testing.assert_array_equal(got[0], ref[0], err_msg=f"{threads} threads, {disabled} disabled")


def test_projections_read_elsewhere_or_of_other_inputs_stay_apart(tmp_path):
    """A projection also read as a graph output, or projections of different inputs, are left as they are."""
    m, feeds = int8_projections(graph_output="k")
    _, ops = profiled(m, feeds, 1, tmp_path)
    assert ops["MatMulIntegerToFloat"] == 3 and ops["Reshape"] == 0, ops
    m, feeds = int8_projections()
    m.graph.node[0].output[0] = "xq0"  # v's product reads a second quantization of x
    m.graph.node.insert(1, helper.make_node("DynamicQuantizeLinear", ["x"], ["xq", "xs2", "xz2"]))
    m.graph.node[2].input[:] = ["xq0", "wq", "xs", "sq", "xz", "", "bq"]
    m.graph.node[3].input[:] = ["xq0", "wk", "xs", "sk", "xz", "", "bk"]
    m.graph.node[4].input[:] = ["xq", "wv", "xs2", "sv", "xz2", "", "bv"]
    _, ops = profiled(m, feeds, 1, tmp_path)
    assert ops["MatMulIntegerToFloat"] == 3 and ops["Reshape"] == 0, ops


@pytest.mark.parametrize("quantized", [False, True])
def test_encoder_projections_packed_and_saved_file_stays_portable(quantized, tmp_path):
    """An exported encoder layer (float, and quantize_dynamic's int8 one): its attention's three projections run
    as one product at the layout level, with the outputs of the unpacked graph (the integer one bit for bit);
    optimized_model_filepath, written before the layout level, keeps the three products, and onnxruntime runs
    that file (without the padding mask: onnxruntime asks the fusion's [B, 1, 1, T] attention bias in full)."""
    enc = Encoder(mask=False)
    m = enc.model
    if quantized:
        quantization = pytest.importorskip("onnxruntime.quantization")
        src, dst = tmp_path / "f.onnx", tmp_path / "q.onnx"
        onnx.save(m, src)
        quantization.quantize_dynamic(str(src), str(dst))
        m = onnx.load(dst)
    product = "MatMulIntegerToFloat" if quantized else "MatMul"
    feeds = enc.feeds()
    got, ops = profiled(m, feeds, 2, tmp_path)
    plain, plain_ops = profiled(m, feeds, 2, tmp_path, disabled=["AttentionQkvPacking"])
    assert plain_ops[product] - ops[product] == 2 and ops["Reshape"] == plain_ops["Reshape"] + 1, (ops, plain_ops)
    if quantized:
        np.testing.assert_array_equal(got[0], plain[0])
    else:
        np.testing.assert_allclose(got[0], plain[0], rtol=1e-5, atol=1e-5)
    path = tmp_path / "opt.onnx"
    session(m, path=str(path)).run(None, feeds)
    saved = collections.Counter(n.op_type for n in onnx.load(path).graph.node)
    assert saved[product] == plain_ops[product], saved
    if onnxruntime is not None:
        ref = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"]).run(None, feeds)
        np.testing.assert_allclose(got[0], ref[0], rtol=1e-3, atol=1e-3)
