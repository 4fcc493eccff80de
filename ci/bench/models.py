"""The models `nox -s bench` times, and their inputs.

Two kinds:

* the nine ``light`` architectures shipped in the onnx package
  (``onnx/backend/test/data/light/light_*.onnx``). Their float weights are
  ConstantOfShape nodes: the graphs are real, the values are not, so their
  outputs are near-constant and the correctness check on them is weak.
* models built here with onnx.helper and seeded random weights of
  realistic scale: ``mobilenetv2`` (depthwise-separable CNN) and its static
  int8 twin ``mobilenetv2_int8`` (QDQ), ``bert`` (a BERT-mini encoder
  with symbolic ``batch``/``seq`` dims) and its dynamic int8 twin
  ``bert_int8``, and ``lstm``.

Every model comes with deterministic inputs (fixed seed), saved next to it as
``<name>.npz`` so a child process can load them with numpy alone.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

OPSET = 17
SEED = 0

LIGHT_NAMES = [
    "bvlc_alexnet",
    "densenet121",
    "inception_v1",
    "inception_v2",
    "resnet50",
    "shufflenet",
    "squeezenet",
    "vgg19",
    "zfnet512",
]
SYNTHETIC_NAMES = ["mobilenetv2", "mobilenetv2_int8", "bert", "bert_int8", "lstm"]
ALL_NAMES = LIGHT_NAMES + SYNTHETIC_NAMES


def light_dir() -> Path:
    return Path(onnx.__file__).resolve().parent / "backend" / "test" / "data" / "light"


class _Graph:
    """Collects nodes and initializers with unique names."""

    def __init__(self, seed: int) -> None:
        self.rng = np.random.default_rng(seed)
        self.nodes: list[onnx.NodeProto] = []
        self.inits: list[onnx.TensorProto] = []
        self._count = 0

    def name(self, prefix: str) -> str:
        self._count += 1
        return f"{prefix}_{self._count}"

    def const(self, prefix: str, value: np.ndarray) -> str:
        name = self.name(prefix)
        self.inits.append(numpy_helper.from_array(np.asarray(value), name))
        return name

    def node(self, op: str, inputs: list[str], n_out: int = 1, **attrs) -> list[str]:
        outs = [self.name(op.lower()) for _ in range(n_out)]
        self.nodes.append(helper.make_node(op, inputs, outs, name=self.name(op), **attrs))
        return outs

    def op(self, op: str, inputs: list[str], **attrs) -> str:
        return self.node(op, inputs, 1, **attrs)[0]

    def normal(self, shape, std: float) -> np.ndarray:
        return (self.rng.standard_normal(shape) * std).astype(np.float32)

    def uniform(self, shape, lo: float, hi: float) -> np.ndarray:
        return self.rng.uniform(lo, hi, shape).astype(np.float32)


def _model(g: _Graph, name: str, inputs, outputs) -> onnx.ModelProto:
    graph = helper.make_graph(g.nodes, name, inputs, outputs, initializer=g.inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)], producer_name="pionnx-bench")
    model.ir_version = 8
    return model


# ---------------------------------------------------------------- MobileNetV2

# (expansion t, output channels c, repeats n, first stride s): the paper's table 2, width 1.0.
_MBV2_BLOCKS = [
    (1, 16, 1, 1),
    (6, 24, 2, 2),
    (6, 32, 3, 2),
    (6, 64, 4, 2),
    (6, 96, 3, 1),
    (6, 160, 3, 2),
    (6, 320, 1, 1),
]


def build_mobilenetv2(image: int = 224, classes: int = 1000, seed: int = SEED) -> onnx.ModelProto:
    """MobileNetV2: 17 inverted residual blocks, Conv (no bias) + BatchNorm + Clip(0, 6) as exporters write it."""
    g = _Graph(seed)
    zero, six = g.const("clip_min", np.array(0, np.float32)), g.const("clip_max", np.array(6, np.float32))

    def conv_bn(x: str, cin: int, cout: int, k: int, stride: int, group: int = 1, relu6: bool = True) -> str:
        fan_in = cin // group * k * k
        w = g.const("w", g.normal((cout, cin // group, k, k), math.sqrt(2.0 / fan_in)))
        y = g.op("Conv", [x, w], kernel_shape=[k, k], strides=[stride, stride], pads=[k // 2] * 4, group=group)
        bn = [
            g.const("bn_scale", g.uniform(cout, 0.5, 1.5)),
            g.const("bn_bias", g.normal(cout, 0.1)),
            g.const("bn_mean", g.normal(cout, 0.1)),
            g.const("bn_var", g.uniform(cout, 0.5, 1.5)),
        ]
        y = g.op("BatchNormalization", [y, *bn], epsilon=1e-5)
        return g.op("Clip", [y, zero, six]) if relu6 else y

    x = conv_bn("input", 3, 32, 3, 2)
    cin = 32
    for t, c, n, s in _MBV2_BLOCKS:
        for i in range(n):
            stride = s if i == 0 else 1
            hidden = cin * t
            y = conv_bn(x, cin, hidden, 1, 1) if t != 1 else x
            y = conv_bn(y, hidden, hidden, 3, stride, group=hidden)
            y = conv_bn(y, hidden, c, 1, 1, relu6=False)
            x = g.op("Add", [x, y]) if stride == 1 and cin == c else y
            cin = c
    x = conv_bn(x, cin, 1280, 1, 1)
    x = g.op("GlobalAveragePool", [x])
    x = g.op("Flatten", [x], axis=1)
    w = g.const("fc_w", g.normal((classes, 1280), 1 / math.sqrt(1280)))
    b = g.const("fc_b", g.normal(classes, 0.01))
    g.nodes.append(helper.make_node("Gemm", [x, w, b], ["logits"], name="fc", transB=1))
    return _model(
        g,
        "mobilenetv2",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["batch", 3, image, image])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["batch", classes])],
    )


# ----------------------------------------------------------------------- BERT

BERT_VOCAB = 30522


def build_bert(
    layers: int = 4, hidden: int = 256, heads: int = 4, vocab: int = BERT_VOCAB, max_pos: int = 512, seed: int = SEED
) -> onnx.ModelProto:
    """A BERT encoder the way exporters write it (BERT-mini size by default: 4 layers, hidden 256, 4 heads)."""
    g = _Graph(seed)
    dh = hidden // heads
    std = 0.02

    def linear(x: str, cin: int, cout: int) -> str:
        y = g.op("MatMul", [x, g.const("w", g.normal((cin, cout), std))])
        return g.op("Add", [y, g.const("b", g.normal(cout, std))])

    def layer_norm(x: str) -> str:
        scale, bias = g.const("ln_scale", g.uniform(hidden, 0.8, 1.2)), g.const("ln_bias", g.normal(hidden, 0.05))
        return g.op("LayerNormalization", [x, scale, bias], axis=-1, epsilon=1e-12)

    # Embeddings: word + position (positions sliced to the sequence length) + token type 0.
    word = g.op("Gather", [g.const("word_emb", g.normal((vocab, hidden), std)), "input_ids"], axis=0)
    seq_len = g.op("Gather", [g.op("Shape", ["input_ids"]), g.const("one", np.array([1], np.int64))], axis=0)
    position_ids = g.op(
        "Slice",
        [
            g.const("position_ids", np.arange(max_pos, dtype=np.int64)[None, :]),
            g.const("zero", np.array([0], np.int64)),
            seq_len,
            g.const("axis1", np.array([1], np.int64)),
        ],
    )
    pos = g.op("Gather", [g.const("pos_emb", g.normal((max_pos, hidden), std)), position_ids], axis=0)
    token_type = g.const("type_emb", g.normal((1, 1, hidden), std))
    x = layer_norm(g.op("Add", [g.op("Add", [word, pos]), token_type]))

    # Additive mask: (1 - mask) * -10000, broadcast over heads and query positions.
    mask = g.op("Unsqueeze", ["attention_mask", g.const("axes", np.array([1, 2], np.int64))])
    mask = g.op("Cast", [mask], to=TensorProto.FLOAT)
    mask = g.op("Sub", [g.const("one_f", np.array(1, np.float32)), mask])
    mask = g.op("Mul", [mask, g.const("neg", np.array(-10000, np.float32))])

    heads_shape = g.const("heads_shape", np.array([0, 0, heads, dh], np.int64))
    merge_shape = g.const("merge_shape", np.array([0, 0, hidden], np.int64))
    sqrt_dh = g.const("sqrt_dh", np.array(math.sqrt(dh), np.float32))
    sqrt2 = g.const("sqrt2", np.array(math.sqrt(2.0), np.float32))
    one, half = g.const("one", np.array(1, np.float32)), g.const("half", np.array(0.5, np.float32))
    for _ in range(layers):
        q = g.op("Transpose", [g.op("Reshape", [linear(x, hidden, hidden), heads_shape])], perm=[0, 2, 1, 3])
        k = g.op("Transpose", [g.op("Reshape", [linear(x, hidden, hidden), heads_shape])], perm=[0, 2, 3, 1])
        v = g.op("Transpose", [g.op("Reshape", [linear(x, hidden, hidden), heads_shape])], perm=[0, 2, 1, 3])
        scores = g.op("Add", [g.op("Div", [g.op("MatMul", [q, k]), sqrt_dh]), mask])
        ctx = g.op("MatMul", [g.op("Softmax", [scores], axis=-1), v])
        ctx = g.op("Reshape", [g.op("Transpose", [ctx], perm=[0, 2, 1, 3]), merge_shape])
        x = layer_norm(g.op("Add", [linear(ctx, hidden, hidden), x]))
        h = linear(x, hidden, 4 * hidden)
        gelu = g.op("Mul", [g.op("Mul", [h, g.op("Add", [g.op("Erf", [g.op("Div", [h, sqrt2])]), one])]), half])
        x = layer_norm(g.op("Add", [linear(gelu, 4 * hidden, hidden), x]))

    g.nodes.append(helper.make_node("Identity", [x], ["last_hidden_state"], name="last_hidden_state"))
    cls = g.op("Gather", [x, g.const("cls", np.array(0, np.int64))], axis=1)
    pool_w, pool_b = g.const("pool_w", g.normal((hidden, hidden), std)), g.const("pool_b", g.normal(hidden, std))
    pooled = g.op("Gemm", [cls, pool_w, pool_b])
    g.nodes.append(helper.make_node("Tanh", [pooled], ["pooler_output"], name="pooler_output"))
    return _model(
        g,
        "bert",
        [
            helper.make_tensor_value_info("input_ids", TensorProto.INT64, ["batch", "seq"]),
            helper.make_tensor_value_info("attention_mask", TensorProto.INT64, ["batch", "seq"]),
        ],
        [
            helper.make_tensor_value_info("last_hidden_state", TensorProto.FLOAT, ["batch", "seq", hidden]),
            helper.make_tensor_value_info("pooler_output", TensorProto.FLOAT, ["batch", hidden]),
        ],
    )


def build_bert_int8() -> onnx.ModelProto:
    """The BERT encoder through onnxruntime's dynamic quantization, as a user quantizes a transformer for CPU:
    int8 weights, each MatMul's input quantized per run (DynamicQuantizeLinear, MatMulInteger and float
    rescaling). Needs onnxruntime.quantization (the bench's environment has it)."""
    import tempfile

    try:
        from onnxruntime.quantization import QuantType, quantize_dynamic
    except ImportError as exc:
        raise RuntimeError(f"bert_int8 is made with onnxruntime.quantization, which cannot be imported: {exc}") from exc
    with tempfile.TemporaryDirectory() as tmp:
        src, dst = Path(tmp) / "bert.onnx", Path(tmp) / "bert_int8.onnx"
        onnx.save(build_bert(), str(src))
        quantize_dynamic(str(src), str(dst), weight_type=QuantType.QInt8)
        return onnx.load(str(dst))


def build_mobilenetv2_int8() -> onnx.ModelProto:
    """The MobileNetV2 above through onnxruntime's static quantization, as a user quantizes a CNN for an ARM board:
    its default QDQ format (QuantizeLinear/DequantizeLinear pairs around float Conv, Add and Gemm: standard ops
    only, so onnx.reference checks it), uint8 activations calibrated on four seeded random images, int8 weights
    per output channel. onnxruntime fuses each DequantizeLinear -> Conv -> QuantizeLinear into an int8
    QLinearConv, and pionnx does (its QDQSelectorActionTransformer) where its integer GEMM has VNNI or AMX
    kernels; elsewhere, and for the residual Adds and the classifier, pionnx runs the float operators between
    the pairs. Needs onnxruntime.quantization."""
    import tempfile

    try:
        from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static
        from onnxruntime.quantization.shape_inference import quant_pre_process
    except ImportError as exc:
        raise RuntimeError(
            f"mobilenetv2_int8 is made with onnxruntime.quantization, which cannot be imported: {exc}"
        ) from exc
    model = build_mobilenetv2()
    name = model.graph.input[0].name
    rng = np.random.default_rng(SEED)
    images = [rng.standard_normal((1, 3, 224, 224)).astype(np.float32) for _ in range(4)]

    class Images(CalibrationDataReader):
        def __init__(self) -> None:
            self.left = list(images)

        def get_next(self):
            return {name: self.left.pop()} if self.left else None

    with tempfile.TemporaryDirectory() as tmp:
        src, pre, dst = (Path(tmp) / f"mobilenetv2{s}.onnx" for s in ("", "_pre", "_int8"))
        onnx.save(model, str(src))
        # The pre-processing onnxruntime's quantization guide asks for (BatchNormalization folded into the
        # convolutions, shapes inferred), then the quantization.
        quant_pre_process(str(src), str(pre), skip_symbolic_shape=True)
        quantize_static(
            str(pre),
            str(dst),
            Images(),
            quant_format=QuantFormat.QDQ,
            activation_type=QuantType.QUInt8,
            weight_type=QuantType.QInt8,
            per_channel=True,
        )
        return onnx.load(str(dst))


def bert_feeds(batch: int = 1, seq: int = 128, vocab: int = BERT_VOCAB, seed: int = SEED) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    ids = rng.integers(0, vocab, (batch, seq), dtype=np.int64)
    mask = np.ones((batch, seq), np.int64)
    mask[:, seq - seq // 8 :] = 0  # a padded tail, so the mask does something
    return {"input_ids": ids, "attention_mask": mask}


# ----------------------------------------------------------------------- LSTM


def build_lstm(
    seq: int = 64, batch: int = 1, inp: int = 128, hidden: int = 256, classes: int = 32, seed: int = SEED
) -> onnx.ModelProto:
    """One forward LSTM (PyTorch's uniform(+-1/sqrt(hidden)) init) and a Gemm on its last hidden state."""
    g = _Graph(seed)
    bound = 1 / math.sqrt(hidden)
    w = g.const("W", g.uniform((1, 4 * hidden, inp), -bound, bound))
    r = g.const("R", g.uniform((1, 4 * hidden, hidden), -bound, bound))
    b = g.const("B", g.uniform((1, 8 * hidden), -bound, bound))
    g.nodes.append(helper.make_node("LSTM", ["x", w, r, b], ["y", "y_h"], name="lstm", hidden_size=hidden))
    last = g.op("Squeeze", ["y_h", g.const("axes", np.array([0], np.int64))])
    fc_w = g.const("fc_w", g.normal((classes, hidden), 1 / math.sqrt(hidden)))
    fc_b = g.const("fc_b", g.normal(classes, 0.01))
    g.nodes.append(helper.make_node("Gemm", [last, fc_w, fc_b], ["logits"], name="fc", transB=1))
    return _model(
        g,
        "lstm",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [seq, batch, inp])],
        [
            helper.make_tensor_value_info("logits", TensorProto.FLOAT, [batch, classes]),
            helper.make_tensor_value_info("y", TensorProto.FLOAT, [seq, 1, batch, hidden]),
        ],
    )


# ---------------------------------------------------------------------- feeds

_NP_OF_ONNX = {TensorProto.FLOAT: np.float32, TensorProto.INT64: np.int64, TensorProto.INT32: np.int32}


def random_feeds(model: onnx.ModelProto, dims: dict[str, int] | None = None, seed: int = SEED) -> dict[str, np.ndarray]:
    """Standard-normal floats for every graph input that is not an initializer; symbolic dims from `dims`."""
    rng = np.random.default_rng(seed)
    inits = {t.name for t in model.graph.initializer}
    feeds = {}
    for vi in model.graph.input:
        if vi.name in inits:
            continue
        tt = vi.type.tensor_type
        shape = []
        for d in tt.shape.dim:
            if d.HasField("dim_value"):
                shape.append(d.dim_value)
            elif d.dim_param in (dims or {}):
                shape.append(dims[d.dim_param])
            else:
                raise ValueError(f"input {vi.name!r}: no value given for dimension {d.dim_param or '?'!r}")
        dtype = _NP_OF_ONNX.get(tt.elem_type)
        if dtype is not np.float32:
            raise ValueError(f"input {vi.name!r}: element type {tt.elem_type} needs model-specific feeds")
        feeds[vi.name] = rng.standard_normal(shape).astype(np.float32)
    return feeds


# -------------------------------------------------- light models, real weights


def with_random_weights(model: onnx.ModelProto, seed: int = SEED) -> onnx.ModelProto:
    """The light model with every float ConstantOfShape replaced by a random initializer of that shape.

    The shipped light models fill every weight with one constant, so all channels
    compute the same thing and the outputs are constant: a broken kernel would
    still match. Here weight tensors (rank >= 2) get He-scaled normal values and
    vectors (biases, BatchNorm parameters) the constant times U(0.5, 1.5), which
    keeps BatchNorm variances positive.
    """
    rng = np.random.default_rng(seed)
    model = onnx.ModelProto.FromString(model.SerializeToString())
    graph = model.graph
    shapes = {t.name: numpy_helper.to_array(t) for t in graph.initializer}
    kept, made = [], []
    for node in graph.node:
        value = next((a.t for a in node.attribute if a.name == "value"), None)
        if (
            node.op_type != "ConstantOfShape"
            or node.input[0] not in shapes
            or value is None
            or value.data_type != TensorProto.FLOAT
        ):
            kept.append(node)
            continue
        shape = [int(d) for d in shapes[node.input[0]]]
        fill = float(numpy_helper.to_array(value).ravel()[0])
        if len(shape) >= 2:
            fan_in = max(1, int(np.prod(shape[1:])))
            array = rng.standard_normal(shape) * math.sqrt(2.0 / fan_in)
        else:
            array = fill * rng.uniform(0.5, 1.5, shape)
        made.append(numpy_helper.from_array(array.astype(np.float32), node.output[0]))
    del graph.node[:]
    graph.node.extend(kept)
    graph.initializer.extend(made)
    if model.ir_version < 4:  # initializers must be graph inputs too before IR 4
        graph.input.extend(helper.make_tensor_value_info(t.name, TensorProto.FLOAT, t.dims) for t in made)
    # Drop the shape initializers (and their graph inputs) nothing reads any more.
    used = {i for n in graph.node for i in n.input}
    dead = {t.name for t in graph.initializer if t.name.endswith("__SHAPE") and t.name not in used}
    keep_init = [t for t in graph.initializer if t.name not in dead]
    keep_inputs = [i for i in graph.input if i.name not in dead]
    del graph.initializer[:]
    graph.initializer.extend(keep_init)
    del graph.input[:]
    graph.input.extend(keep_inputs)
    return model


def random_weights_path(bench_model: BenchModel, cache_dir: Path) -> Path | None:
    """A light model's random-weight twin for the correctness check (None for models with real weights)."""
    if bench_model.kind != "light":
        return None
    path = cache_dir / f"{bench_model.name}-random-weights.onnx"
    if not path.exists() or path.stat().st_mtime < Path(__file__).stat().st_mtime:
        onnx.save(with_random_weights(onnx.load(str(bench_model.path))), str(path))
    return path


# ------------------------------------------------------------------- the list


@dataclass
class BenchModel:
    name: str
    path: Path
    kind: str  # "light" or "synthetic"
    feeds_path: Path
    dims: dict[str, int] = field(default_factory=dict)
    check_path: Path | None = None  # a twin with random weights to check outputs on (light models)
    rel_tolerance: float = 1e-3  # largest relative difference from onnxruntime's outputs that passes

    def feeds(self) -> dict[str, np.ndarray]:
        with np.load(self.feeds_path) as data:
            return {k: data[k] for k in data.files}


_BUILDERS: dict[str, tuple[Callable[[], onnx.ModelProto], dict[str, int], Callable | None]] = {
    "mobilenetv2": (build_mobilenetv2, {"batch": 1}, None),
    "bert": (build_bert, {"batch": 1, "seq": 128}, lambda m: bert_feeds(1, 128)),
    "mobilenetv2_int8": (build_mobilenetv2_int8, {"batch": 1}, None),
    "bert_int8": (build_bert_int8, {"batch": 1, "seq": 128}, lambda m: bert_feeds(1, 128)),
    "lstm": (build_lstm, {}, None),
}


# Models checked with a looser tolerance than float's 1e-3, and why.
TOLERANCES: dict[str, tuple[float, str]] = {
    "mobilenetv2_int8": (
        1e-1,
        "static int8 (QDQ) over 52 quantized convolutions, which onnxruntime (and pionnx with VNNI or AMX) fuse "
        "into integer QLinearConvs: a value near a rounding boundary lands a step away from the float graph's "
        "(onnxruntime requantizes in float, pionnx in double as onnx.reference's QLinearConv), and the steps "
        "compound from layer to layer (onnxruntime's logits 4.6 % of their range from onnx.reference's on the "
        "graph as written); a wrong kernel moves them by O(1)",
    ),
    "bert_int8": (
        1e-2,
        "dynamic int8: each MatMul input is rounded to 1/255 of its range, and onnxruntime's AVX2 u8 x s8 "
        "kernel saturates pair sums where pionnx's is exact, so a step either way moves the outputs ~0.2 %; "
        "a wrong kernel moves them by O(1)",
    ),
}


def prepare(name: str, cache_dir: Path) -> BenchModel:
    """Returns the model file and its inputs, building/writing them under cache_dir when missing."""
    cache_dir.mkdir(parents=True, exist_ok=True)
    feeds_path = cache_dir / f"{name}.npz"
    if name in LIGHT_NAMES:
        path, kind, dims, make_feeds = light_dir() / f"light_{name}.onnx", "light", {}, None
        if not path.exists():
            raise FileNotFoundError(f"{path} is not in this onnx package ({onnx.__version__})")
    elif name in _BUILDERS:
        builder, dims, make_feeds = _BUILDERS[name]
        path, kind = cache_dir / f"{name}.onnx", "synthetic"
        stamp = cache_dir / f"{name}.source-mtime"
        # Rebuild when this file changed since the cached model was written.
        source_mtime = str(Path(__file__).stat().st_mtime_ns)
        if not path.exists() or not stamp.exists() or stamp.read_text() != source_mtime:
            onnx.save(builder(), str(path))
            stamp.write_text(source_mtime)
            feeds_path.unlink(missing_ok=True)
    else:
        raise KeyError(f"unknown model {name!r}; known: {', '.join(ALL_NAMES)}")
    if not feeds_path.exists() or feeds_path.stat().st_mtime < path.stat().st_mtime:
        model = onnx.load(str(path), load_external_data=False)
        feeds = make_feeds(model) if make_feeds else random_feeds(model, dims)
        np.savez(feeds_path, **feeds)
    return BenchModel(name, path, kind, feeds_path, dims, rel_tolerance=TOLERANCES.get(name, (1e-3, ""))[0])
