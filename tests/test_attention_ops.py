"""ai.onnx Attention (23-25), LinearAttention and CausalConvWithState (27),
ai.onnx.preview FlexAttention (1).

Each case runs one node in pionnx and in onnx's ReferenceEvaluator on random
float32 inputs, in the combinations the node conformance cases leave out
(GQA with a past cache, a window and softcap together; every update rule of
LinearAttention with and without a past state; every CausalConvWithState
activation with and without a past state; FlexAttention with GQA, score_mod
and prob_mod subgraphs, float16). Bad inputs must raise an error
naming the node and the problem. Needs an onnx whose reference knows these
operators (1.23 or later); skipped otherwise.
"""

from __future__ import annotations

import zlib

import numpy as np
import onnx
import pytest
from models import model, tensor
from onnx import TensorProto, helper
from onnx.reference import ReferenceEvaluator

import pionnx

F = TensorProto.FLOAT


def _has_schema_in(op: str, version: int, domain: str = "") -> bool:
    try:
        return onnx.defs.get_schema(op, version, domain).since_version == version
    except onnx.defs.SchemaError:
        return False


def _has_schema(op: str, version: int) -> bool:
    return _has_schema_in(op, version)


needs_attention25 = pytest.mark.skipif(not _has_schema("Attention", 25), reason="onnx without Attention-25")
needs_opset27 = pytest.mark.skipif(
    not (_has_schema("LinearAttention", 27) and _has_schema("CausalConvWithState", 27)),
    reason="onnx without LinearAttention / CausalConvWithState",
)


def one_node(op: str, inputs: dict, outputs: list[str], opset: int, **attrs) -> tuple[onnx.ModelProto, dict]:
    """A model of one node; `inputs` maps names to arrays (None: omitted, as "")."""
    names = [n if a is not None else "" for n, a in inputs.items()]
    node = helper.make_node(op, names, outputs, name=f"the_{op.lower()}", **attrs)
    feeds = {n: a for n, a in inputs.items() if a is not None}
    ins = [tensor(n, helper.np_dtype_to_tensor_dtype(a.dtype), list(a.shape)) for n, a in feeds.items()]
    outs = [tensor(n, F, None) for n in outputs if n]
    return model([node], ins, outs, opset=opset, ir_version=10), feeds


def check(m: onnx.ModelProto, feeds: dict, rtol: float = 1e-5, atol: float = 1e-5) -> None:
    expected = ReferenceEvaluator(m).run(None, feeds)
    so = pionnx.SessionOptions()
    so.intra_op_num_threads = 2
    got = pionnx.InferenceSession(m.SerializeToString(), sess_options=so).run(None, feeds)
    assert len(got) == len(expected)
    for name, g, e in zip([o.name for o in m.graph.output], got, expected):
        np.testing.assert_allclose(np.asarray(g), e, rtol=rtol, atol=atol, err_msg=name)


def seeded(*key) -> np.random.Generator:
    return np.random.default_rng(zlib.crc32(repr(key).encode()))


def rand(rng: np.random.Generator, *shape: int) -> np.ndarray:
    return rng.standard_normal(shape).astype(np.float32)


# ---------------------------------------------------------------- Attention


@needs_attention25
@pytest.mark.parametrize("three_d", [False, True])
@pytest.mark.parametrize(
    ("left", "right", "causal"),
    [(2, -1, 1), (1, 1, 0), (-1, 0, 0), (0, 3, 0), (3, -1, 0)],
)
@pytest.mark.parametrize("qk_mode", [0, 1, 2, 3])
def test_attention_gqa_past_window_softcap(three_d, left, right, causal, qk_mode):
    """GQA (4 q heads over 2 kv heads) with a past cache, a window, softcap, a
    float mask shorter than the keys and every qk_matmul_output mode."""
    rng = seeded(three_d, left, right, causal, qk_mode)
    B, Hq, Hkv, S, P, D, Dv = 2, 4, 2, 3, 5, 8, 6
    q, k, v = rand(rng, B, Hq, S, D), rand(rng, B, Hkv, S, D), rand(rng, B, Hkv, S, Dv)
    attrs = {}
    if three_d:
        q = q.transpose(0, 2, 1, 3).reshape(B, S, Hq * D)
        k = k.transpose(0, 2, 1, 3).reshape(B, S, Hkv * D)
        v = v.transpose(0, 2, 1, 3).reshape(B, S, Hkv * Dv)
        attrs = {"q_num_heads": Hq, "kv_num_heads": Hkv}
    inputs = {
        "Q": q * 2,
        "K": k,
        "V": v,
        "attn_mask": rand(rng, Hq, S, P + S - 1) * 0.5,  # last key masked by the padding
        "past_key": rand(rng, B, Hkv, P, D),
        "past_value": rand(rng, B, Hkv, P, Dv),
    }
    m, feeds = one_node(
        "Attention",
        inputs,
        ["Y", "present_key", "present_value", "qk"],
        25,
        is_causal=causal,
        left_window_size=left,
        right_window_size=right,
        softcap=3.0,
        qk_matmul_output_mode=qk_mode,
        **attrs,
    )
    if qk_mode == 0:
        # The Python reference returns the softcapped product in mode 0; the
        # spec and the function body (which pionnx follows) the raw product.
        m.graph.output.pop()
        m.graph.node[0].output[3] = ""
    check(m, feeds)


@needs_attention25
@pytest.mark.parametrize("causal", [0, 1])
@pytest.mark.parametrize("left", [-1, 1])
def test_attention_external_cache(causal, left):
    """nonpad_kv_seqlen (external cache): padding, per-batch causal offset
    (including a negative one, whose leading rows are fully masked and give
    zeros) and a boolean mask."""
    rng = seeded(causal, left)
    B, H, S, T, D = 3, 2, 3, 7, 4
    inputs = {
        "Q": rand(rng, B, H, S, D),
        "K": rand(rng, B, H, T, D),
        "V": rand(rng, B, H, T, D),
        "attn_mask": rng.random((B, 1, S, T)) > 0.2,
        "past_key": None,
        "past_value": None,
        "nonpad_kv_seqlen": np.array([7, 2, 4], dtype=np.int64),
    }
    m, feeds = one_node("Attention", inputs, ["Y"], 25, is_causal=causal, left_window_size=left)
    check(m, feeds)


@needs_attention25
def test_attention_fully_masked_rows_are_zero():
    rng = np.random.default_rng(5)
    mask = np.ones((2, 3, 4, 5), dtype=bool)
    mask[0, 1, 2, :] = False
    mask[1, :, 0, :] = False
    inputs = {"Q": rand(rng, 2, 3, 4, 8), "K": rand(rng, 2, 3, 5, 8), "V": rand(rng, 2, 3, 5, 8), "attn_mask": mask}
    m, feeds = one_node("Attention", inputs, ["Y", "", "", "qk"], 23, qk_matmul_output_mode=3)
    check(m, feeds)
    y = pionnx.InferenceSession(m.SerializeToString()).run(None, feeds)[0]
    assert np.all(y[0, 1, 2] == 0) and np.all(y[1, :, 0] == 0)


@needs_attention25
def test_attention_fully_masked_batch_under_a_mask_shared_by_its_rows():
    """A mask broadcast over the query rows (built once per head) that masks
    every key of one batch: float32 probabilities left unnormalised until
    after P V must still give that batch zero rows, not NaN."""
    rng = np.random.default_rng(6)
    mask = np.ones((2, 1, 1, 5), dtype=bool)
    mask[1] = False
    mask[0, ..., 3] = False
    inputs = {"Q": rand(rng, 2, 3, 4, 8), "K": rand(rng, 2, 3, 5, 8), "V": rand(rng, 2, 3, 5, 8), "attn_mask": mask}
    m, feeds = one_node("Attention", inputs, ["Y"], 23)
    check(m, feeds)
    y = pionnx.InferenceSession(m.SerializeToString()).run(None, feeds)[0]
    assert np.all(y[1] == 0) and np.all(np.isfinite(y))


@needs_attention25
def test_attention_without_keys_gives_zero_rows():
    """An empty key and value sequence: zero outputs (nothing attended), not NaN from a softmax over no
    scores normalised after the product."""
    rng = np.random.default_rng(7)
    inputs = {"Q": rand(rng, 1, 2, 3, 4), "K": rand(rng, 1, 2, 0, 4), "V": rand(rng, 1, 2, 0, 4)}
    m, feeds = one_node("Attention", inputs, ["Y"], 23)
    y = pionnx.InferenceSession(m.SerializeToString()).run(None, feeds)[0]
    assert y.shape == (1, 2, 3, 4) and np.all(y == 0)


@needs_attention25
@pytest.mark.parametrize("heads", [2, 3])
@pytest.mark.parametrize("mask", ["shared", "per_row"])
def test_attention_long_rows_over_two_threads(heads, mask):
    """130 query rows on 2 threads: 2 heads are split whole between the
    threads, 3 heads split each head's rows in halves; a padding mask shared
    by every query row and a mask per row."""
    rng = seeded("long rows", heads, mask)
    B, S, T, D = 1, 130, 140, 16
    shape = (B, 1, 1, T) if mask == "shared" else (B, heads, S, T)
    keep = rng.random(shape) > 0.2
    keep[..., 0] = True
    inputs = {
        "Q": rand(rng, B, heads, S, D),
        "K": rand(rng, B, heads, T, D),
        "V": rand(rng, B, heads, T, D),
        "attn_mask": keep,
    }
    m, feeds = one_node("Attention", inputs, ["Y"], 23)
    check(m, feeds, rtol=1e-4, atol=1e-5)


def function_body(m: onnx.ModelProto) -> onnx.ModelProto:
    """m with its one node replaced by the operator's function body (the graph
    of standard ops the schema defines it as)."""
    from onnx.backend.test.case.node import function_expand_helper

    node = m.graph.node[0]
    schema = onnx.defs.get_schema(node.op_type, m.opset_import[0].version)
    types = [i.type.SerializeToString() for i in m.graph.input]
    body = onnx.FunctionProto.FromString(schema.get_context_dependent_function(node.SerializeToString(), types))
    expanded = onnx.ModelProto()
    expanded.CopyFrom(m)
    del expanded.graph.node[:]
    expanded.graph.node.extend(function_expand_helper(node, body, "body"))
    return expanded


@needs_attention25
@pytest.mark.parametrize("dtype", [np.float16, "bfloat16"])
@pytest.mark.parametrize("precision", [None, 1])
@pytest.mark.parametrize("attrs", [{"is_causal": 1}, {"is_causal": 1, "softcap": 2.0}, {"softcap": 0.5}])
def test_attention_16bit_matches_function_body(dtype, precision, attrs):
    """16-bit inputs round each step to the input type (or compute the softmax
    in softmax_precision) as the function body does, run op by op by the
    reference evaluator. (With softcap, onnx's Python reference for the whole
    op computes the capped logits in float32 instead: a numpy promotion of
    its float32 attribute, which the function body does not do.)"""
    if dtype == "bfloat16":
        dtype = pytest.importorskip("ml_dtypes").bfloat16
    rng = seeded(str(dtype), precision, sorted(attrs.items()))
    inputs = {
        k: rng.random(s).astype(dtype) for k, s in (("Q", (2, 3, 4, 8)), ("K", (2, 3, 6, 8)), ("V", (2, 3, 6, 8)))
    }
    if precision is not None:
        attrs = {**attrs, "softmax_precision": precision}
    m, feeds = one_node("Attention", inputs, ["Y"], 25, **attrs)
    m.graph.output[0].type.tensor_type.elem_type = helper.np_dtype_to_tensor_dtype(np.dtype(dtype))
    expected = ReferenceEvaluator(function_body(m)).run(None, feeds)[0].astype(np.float32)
    got = np.asarray(pionnx.InferenceSession(m.SerializeToString()).run(None, feeds)[0]).astype(np.float32)
    np.testing.assert_allclose(got, expected, rtol=1e-3, atol=1e-7)


@needs_attention25
@pytest.mark.parametrize(
    ("shapes", "attrs", "message"),
    [
        ({"Q": (2, 4, 24), "K": (2, 6, 20), "V": (2, 6, 24)}, {"q_num_heads": 3, "kv_num_heads": 3},
         "K hidden size 20 is not divisible by its head count 3"),
        ({"Q": (2, 4, 4, 8)}, {}, "q heads 4 must be a multiple of kv heads 3"),
        ({"V": (2, 3, 5, 8)}, {}, "do not match Q"),
        ({"Q": (2, 3, 4)}, {}, "same rank"),
        ({"past_key": (2, 3, 2, 8)}, {}, "must be given together"),
        ({"past_key": (2, 3, 2, 8), "past_value": (2, 3, 2, 8), "nonpad_kv_seqlen": (2,)}, {},
         "cannot be combined with past_key"),
        ({"past_key": (2, 3, 2, 4), "past_value": (2, 3, 2, 8)}, {}, "past_key shape"),
        ({}, {"left_window_size": -2}, "left_window_size and right_window_size"),
    ],
)  # fmt: skip
def test_attention_bad_inputs(shapes, attrs, message):
    rng = np.random.default_rng(0)
    full = {"Q": (2, 3, 4, 8), "K": (2, 3, 6, 8), "V": (2, 3, 6, 8), "attn_mask": None, "past_key": None,
            "past_value": None, "nonpad_kv_seqlen": None}  # fmt: skip
    full.update(shapes)
    inputs = {k: (rand(rng, *s) if s is not None else None) for k, s in full.items()}
    if inputs["nonpad_kv_seqlen"] is not None:
        inputs["nonpad_kv_seqlen"] = np.array([6, 6], dtype=np.int64)
    while inputs and next(reversed(inputs.values())) is None:  # no trailing omitted inputs
        inputs.popitem()
    m, feeds = one_node("Attention", inputs, ["Y"], 25, **attrs)
    with pytest.raises(Exception, match=message) as info:  # noqa: PT011 - pionnx's InvalidArgument
        pionnx.InferenceSession(m.SerializeToString()).run(None, feeds)
    assert "the_attention" in str(info.value)


# ---------------------------------------------------------- LinearAttention


@needs_opset27
@pytest.mark.parametrize("rule", ["linear", "gated", "delta", "gated_delta"])
@pytest.mark.parametrize("past", [False, True])
@pytest.mark.parametrize(("hq", "hkv"), [(2, 2), (4, 2), (3, 1)])
@pytest.mark.parametrize("per_head", [False, True])
def test_linear_attention(rule, past, hq, hkv, per_head):
    rng = seeded(rule, past, hq, hkv, per_head)
    B, T, Dk, Dv = 2, 5, 4, 3
    key = rand(rng, B, T, hkv, Dk)
    key /= np.linalg.norm(key, axis=-1, keepdims=True)  # the delta rules expect L2-normalized keys
    inputs = {
        "query": rand(rng, B, T, hq * Dk),
        "key": key.reshape(B, T, hkv * Dk),
        "value": rand(rng, B, T, hkv * Dv),
        "past_state": rand(rng, B, hkv, Dk, Dv) * 0.3 if past else None,
        "decay": None,
        "beta": None,
    }
    if rule in ("gated", "gated_delta"):
        inputs["decay"] = -np.abs(rand(rng, B, T, hkv if per_head else hkv * Dk)) * 0.2
    if rule in ("delta", "gated_delta"):
        inputs["beta"] = rng.random((B, T, hkv if per_head else 1)).astype(np.float32)
    m, feeds = one_node(
        "LinearAttention",
        inputs,
        ["output", "present_state"],
        27,
        update_rule=rule,
        q_num_heads=hq,
        kv_num_heads=hkv,
        **({"scale": 0.7} if per_head else {}),
    )
    check(m, feeds)


@needs_opset27
@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"q_num_heads": 3}, "positive multiple of kv_num_heads"),
        ({"decay": None}, "need the decay input"),
        ({"beta": None}, "need the beta input"),
        ({"past_state": (1, 2, 4, 4)}, "past_state must be"),
        ({"key": (1, 3, 6)}, "do not match query"),
        ({"update_rule": "softmax"}, "update_rule must be"),
    ],
)
def test_linear_attention_bad_inputs(change, message):
    rng = np.random.default_rng(1)
    shapes = {"query": (1, 3, 8), "key": (1, 3, 8), "value": (1, 3, 6), "past_state": None, "decay": (1, 3, 2),
              "beta": (1, 3, 2)}  # fmt: skip
    shapes.update({k: v for k, v in change.items() if k in shapes})
    inputs = {k: (rand(rng, *s) if s is not None else None) for k, s in shapes.items()}
    attrs = {"q_num_heads": change.get("q_num_heads", 2), "kv_num_heads": 2}
    attrs["update_rule"] = change.get("update_rule", "gated_delta")
    m, feeds = one_node("LinearAttention", inputs, ["output", "present_state"], 27, **attrs)
    with pytest.raises(Exception, match=message) as info:  # noqa: PT011 - pionnx's InvalidArgument
        pionnx.InferenceSession(m.SerializeToString()).run(None, feeds)
    assert "the_linearattention" in str(info.value)


# ------------------------------------------------------ CausalConvWithState


@needs_opset27
@pytest.mark.parametrize("activation", ["none", "silu", "swish"])
@pytest.mark.parametrize("past", [False, True])
@pytest.mark.parametrize("bias", [False, True])
@pytest.mark.parametrize(("k", "length"), [(4, 7), (4, 2), (1, 3), (3, 1)])
def test_causal_conv_with_state(activation, past, bias, k, length):
    rng = seeded(activation, past, bias, k, length)
    B, C = 2, 3
    inputs = {
        "input": rand(rng, B, C, length),
        "weight": rand(rng, C, 1, k),
        "bias": rand(rng, C) if bias else None,
        "past_state": rand(rng, B, C, k - 1) if past else None,
    }
    m, feeds = one_node("CausalConvWithState", inputs, ["output", "present_state"], 27, activation=activation)
    check(m, feeds)


@needs_opset27
@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"weight": (3, 1, 3)}, "weight must be"),
        ({"past_state": (2, 4, 3)}, "past_state must be"),
        ({"bias": (3,)}, "bias must be"),
        ({"input": (2, 4)}, "input must be 3-D"),
    ],
)
def test_causal_conv_with_state_bad_inputs(change, message):
    rng = np.random.default_rng(2)
    shapes = {"input": (2, 4, 5), "weight": (4, 1, 3), "bias": None, "past_state": None}
    shapes.update(change)
    inputs = {k: (rand(rng, *s) if s is not None else None) for k, s in shapes.items()}
    m, feeds = one_node("CausalConvWithState", inputs, ["output", "present_state"], 27)
    with pytest.raises(Exception, match=message) as info:  # noqa: PT011 - pionnx's InvalidArgument
        pionnx.InferenceSession(m.SerializeToString()).run(None, feeds)
    assert "the_causalconvwithstate" in str(info.value)


# ------------------------------------------------ FlexAttention (ai.onnx.preview)

needs_flex = pytest.mark.skipif(
    not _has_schema_in("FlexAttention", 1, "ai.onnx.preview"), reason="onnx without FlexAttention"
)


def mod_graph(name: str, elem: int, nodes: list, initializers=(), out_shape=None) -> onnx.GraphProto:
    return helper.make_graph(
        nodes,
        name,
        [tensor("x", elem, ["B", "H", "L", "S"])],
        [tensor("y", elem, out_shape or ["B", "H", "L", "S"])],
        initializer=list(initializers),
    )


def causal_score_mod(elem: int) -> onnx.GraphProto:
    """Where(q_idx >= k_idx, x, -inf) + 0.25 * (q_idx - k_idx), with the
    indices built from the input's shape."""
    i64 = TensorProto.INT64
    nodes = [
        helper.make_node("Shape", ["x"], ["shape"]),
        helper.make_node("Gather", ["shape", "two"], ["l"], axis=0),
        helper.make_node("Gather", ["shape", "three"], ["s"], axis=0),
        helper.make_node("Range", ["zero", "l", "one"], ["qr"]),
        helper.make_node("Unsqueeze", ["qr", "last"], ["qi"]),
        helper.make_node("Range", ["zero", "s", "one"], ["ki"]),
        helper.make_node("Sub", ["qi", "ki"], ["rel"]),
        helper.make_node("GreaterOrEqual", ["rel", "zero"], ["keep"]),
        helper.make_node("Cast", ["rel"], ["relf"], to=elem),
        helper.make_node("Mul", ["relf", "quarter"], ["bias"]),
        helper.make_node("Add", ["x", "bias"], ["biased"]),
        helper.make_node("Where", ["keep", "biased", "ninf"], ["y"]),
    ]
    inits = [
        helper.make_tensor("zero", i64, [], [0]),
        helper.make_tensor("one", i64, [], [1]),
        helper.make_tensor("two", i64, [], [2]),
        helper.make_tensor("three", i64, [], [3]),
        helper.make_tensor("last", i64, [1], [-1]),
        helper.make_tensor("quarter", elem, [], [0.25]),
        helper.make_tensor("ninf", elem, [], [float("-inf")]),
    ]
    return mod_graph("causal_score_mod", elem, nodes, inits)


def scale_prob_mod(elem: int, factor: float = 0.5) -> onnx.GraphProto:
    nodes = [helper.make_node("Mul", ["x", "f"], ["y"])]
    return mod_graph("scale_prob_mod", elem, nodes, [helper.make_tensor("f", elem, [], [factor])])


def flex_model(inputs: dict, **attrs) -> onnx.ModelProto:
    node = helper.make_node("FlexAttention", list(inputs), ["Y"], name="the_flex", domain="ai.onnx.preview", **attrs)
    ins = [tensor(n, helper.np_dtype_to_tensor_dtype(a.dtype), list(a.shape)) for n, a in inputs.items()]
    out = tensor("Y", helper.np_dtype_to_tensor_dtype(inputs["Q"].dtype), None)
    return model([node], ins, [out], opset=25, extra_opsets=[("ai.onnx.preview", 1)], ir_version=10)


@needs_flex
@pytest.mark.parametrize(("hq", "hkv"), [(2, 2), (4, 2)])
@pytest.mark.parametrize("mods", ["none", "score", "prob", "both"])
@pytest.mark.parametrize("dtype", [np.float32, np.float16])
def test_flex_attention(hq, hkv, mods, dtype):
    rng = seeded(hq, hkv, mods, str(dtype))
    B, L, S, D, Dv = 2, 4, 5, 8, 3
    inputs = {
        "Q": rand(rng, B, hq, L, D).astype(dtype),
        "K": rand(rng, B, hkv, S, D).astype(dtype),
        "V": rand(rng, B, hkv, S, Dv).astype(dtype),
    }
    attrs = {"scale": 0.3} if hq == hkv else {}
    if mods in ("score", "both"):
        attrs["score_mod"] = causal_score_mod(TensorProto.FLOAT)
    if mods in ("prob", "both"):
        attrs["prob_mod"] = scale_prob_mod(TensorProto.FLOAT)
    m = flex_model(inputs, **attrs)
    tol = 1e-5 if dtype == np.float32 else 1e-3
    check(m, inputs, rtol=tol, atol=tol)


@needs_flex
def test_flex_attention_mod_must_keep_shape():
    rng = np.random.default_rng(3)
    inputs = {"Q": rand(rng, 1, 2, 3, 4), "K": rand(rng, 1, 2, 3, 4), "V": rand(rng, 1, 2, 3, 4)}
    bad = mod_graph(
        "shrinks",
        TensorProto.FLOAT,
        [helper.make_node("ReduceSum", ["x", "axes"], ["y"], keepdims=1)],
        [helper.make_tensor("axes", TensorProto.INT64, [1], [3])],
        out_shape=["B", "H", "L", 1],
    )
    m = flex_model(inputs, score_mod=bad)
    with pytest.raises(Exception, match="score_mod must return its input's shape") as info:  # noqa: PT011
        pionnx.InferenceSession(m.SerializeToString()).run(None, inputs)
    assert "the_flex" in str(info.value)
