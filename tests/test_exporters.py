"""Models from the real exporters, run by pionnx and onnxruntime.

PyTorch models (a small transformer encoder with a padding mask, a
MobileNet-style CNN, a bidirectional LSTM text classifier) are exported with
``torch.onnx.export`` through both exporters:

* the TorchScript exporter (``dynamo=False``) at opsets 13 to 18 (the
  transformer from 14: it has no opset-13 export of scaled_dot_product_attention);
* the dynamo exporter (``dynamo=True``, needs onnxscript) at the opsets it
  writes. With torch 2.13 it always builds the graph at opset 18 and, asked
  for less, converts it down with the ONNX version converter; where that
  conversion fails it warns and keeps opset 18. Such cases are skipped as
  "asked for opset N wrote opset 18"; they are not run at a relabelled opset.
  With torch 2.13 / onnxscript 0.7.2 / onnx 1.19.1 the dynamo exports that run
  are: transformer at 17-18, CNN at 18, LSTM at 15-18. Each dynamo export
  runs in a fresh interpreter (see ``export_torch``).

The TorchScript exporter bakes the traced sequence length into
nn.MultiheadAttention's query Reshape (onnxruntime then fails at any other
length too), so its transformer export is run at two batch sizes and the
traced length; the dynamo export runs at two batch and sequence sizes.

scikit-learn models (StandardScaler + LogisticRegression pipeline, random
forests, gradient boosting) are converted with skl2onnx, with the default
ZipMap output (a list of {label: probability} dicts in onnxruntime) and with
``zipmap=False``, including string class labels.

Outputs must agree with onnxruntime within rtol 1e-3 / atol 1e-4; labels
exactly.
"""

from __future__ import annotations

import io
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import onnx
import pytest
from models import convert_sklearn

import pionnx

ort = pytest.importorskip("onnxruntime")

RTOL, ATOL = 1e-3, 1e-4
TESTS_DIR = Path(__file__).resolve().parent
TORCH_OPSETS = list(range(13, 19))


def ort_session(data: bytes):
    return ort.InferenceSession(data, providers=["CPUExecutionProvider"])


def assert_close(got, ref) -> None:
    got, ref = np.asarray(got), np.asarray(ref)
    assert got.shape == ref.shape, (got.shape, ref.shape)
    np.testing.assert_allclose(got, ref, rtol=RTOL, atol=ATOL)


# ================================================================ PyTorch


def _torch():
    return pytest.importorskip("torch")


def _torch_nn():
    """torch and torch.nn, for the model builders."""
    torch = _torch()
    return torch, torch.nn


def build_transformer():
    torch, nn = _torch_nn()

    class Encoder(nn.Module):
        def __init__(self):
            super().__init__()
            layer = nn.TransformerEncoderLayer(d_model=64, nhead=4, dim_feedforward=128, dropout=0.0, batch_first=True)
            # enable_nested_tensor off: the exported graph must not depend on the fast path.
            self.encoder = nn.TransformerEncoder(layer, num_layers=2, enable_nested_tensor=False)
            self.head = nn.Linear(64, 8)

        def forward(self, x, mask):
            return self.head(self.encoder(x, src_key_padding_mask=mask))

    torch.manual_seed(0)
    model = Encoder().eval()

    def feeds(batch, seq, seed):
        rng = np.random.default_rng(seed)
        x = rng.standard_normal((batch, seq, 64)).astype(np.float32)
        mask = np.zeros((batch, seq), dtype=bool)
        for b in range(batch):  # pad the tail of every row but the first
            mask[b, seq - b :] = b > 0
        return {"x": x, "mask": mask}

    example = feeds(2, 7, 0)
    return {
        "model": model,
        "args": (torch.from_numpy(example["x"]), torch.from_numpy(example["mask"])),
        "input_names": ["x", "mask"],
        "output_names": ["y"],
        "dynamic_axes": {"x": {0: "batch", 1: "seq"}, "mask": {0: "batch", 1: "seq"}, "y": {0: "batch", 1: "seq"}},
        "feeds": [feeds(2, 7, 1), feeds(3, 11, 2)],
        # The TorchScript exporter writes the traced sequence length (7) as a
        # constant into nn.MultiheadAttention's Reshape of the queries, so the
        # model runs (in onnxruntime too) only at that length: vary the batch.
        "feeds_torchscript": [feeds(2, 7, 1), feeds(3, 7, 2)],
    }


def build_mobilenet():
    torch, nn = _torch_nn()

    def conv_bn(cin, cout, k, stride=1, groups=1, act=True):
        layers = [
            nn.Conv2d(cin, cout, k, stride, k // 2, groups=groups, bias=False),
            nn.BatchNorm2d(cout),
        ]
        if act:
            layers.append(nn.ReLU6())
        return layers

    class InvertedResidual(nn.Module):
        def __init__(self, cin, cout, stride, expand):
            super().__init__()
            hidden = cin * expand
            self.residual = stride == 1 and cin == cout
            self.block = nn.Sequential(
                *conv_bn(cin, hidden, 1),
                *conv_bn(hidden, hidden, 3, stride, groups=hidden),  # depthwise
                *conv_bn(hidden, cout, 1, act=False),  # linear bottleneck
            )

        def forward(self, x):
            y = self.block(x)
            return x + y if self.residual else y

    class MobileNet(nn.Module):
        def __init__(self):
            super().__init__()
            self.features = nn.Sequential(
                *conv_bn(3, 16, 3, 2),
                *conv_bn(16, 16, 3, groups=16),  # depthwise-separable
                *conv_bn(16, 16, 1),
                InvertedResidual(16, 24, 2, 4),
                InvertedResidual(24, 24, 1, 4),
                InvertedResidual(24, 32, 2, 4),
                InvertedResidual(32, 32, 1, 4),
            )
            self.pool = nn.AdaptiveAvgPool2d(1)
            self.fc = nn.Linear(32, 10)

        def forward(self, x):
            return self.fc(torch.flatten(self.pool(self.features(x)), 1))

    torch.manual_seed(0)
    model = MobileNet()
    # Non-trivial BatchNorm statistics, so the folded/unfolded affine matters.
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.running_mean.uniform_(-0.5, 0.5)
                m.running_var.uniform_(0.5, 2.0)
                m.weight.uniform_(0.5, 1.5)
                m.bias.uniform_(-0.2, 0.2)
    model.eval()

    def feeds(batch, seed):
        return {"x": np.random.default_rng(seed).standard_normal((batch, 3, 32, 32)).astype(np.float32)}

    return {
        "model": model,
        "args": (torch.from_numpy(feeds(2, 0)["x"]),),
        "input_names": ["x"],
        "output_names": ["y"],
        "dynamic_axes": {"x": {0: "batch"}, "y": {0: "batch"}},
        "feeds": [feeds(1, 1), feeds(3, 2)],
    }


def build_lstm():
    torch, nn = _torch_nn()

    class TextClassifier(nn.Module):
        def __init__(self):
            super().__init__()
            self.embed = nn.Embedding(100, 32)
            self.lstm = nn.LSTM(32, 24, num_layers=2, bidirectional=True, batch_first=True)
            self.fc = nn.Linear(48, 5)

        def forward(self, tokens):
            out, _ = self.lstm(self.embed(tokens))
            return self.fc(out[:, -1, :])

    torch.manual_seed(0)
    model = TextClassifier().eval()

    def feeds(batch, seq, seed):
        return {"tokens": np.random.default_rng(seed).integers(0, 100, size=(batch, seq), dtype=np.int64)}

    return {
        "model": model,
        "args": (torch.from_numpy(feeds(2, 6, 0)["tokens"]),),
        "input_names": ["tokens"],
        "output_names": ["y"],
        "dynamic_axes": {"tokens": {0: "batch", 1: "seq"}, "y": {0: "batch"}},
        "feeds": [feeds(2, 6, 1), feeds(4, 13, 2)],
    }


TORCH_MODELS = {"transformer": build_transformer, "mobilenet": build_mobilenet, "lstm": build_lstm}


def _dynamo_export(name: str, opset: int) -> onnx.ModelProto:
    """torch.onnx.export(dynamo=True) of a fresh TORCH_MODELS[name] in this process."""
    torch = _torch()
    spec = TORCH_MODELS[name]()
    # dynamic_shapes keyed by forward()'s argument names (the input names here), one
    # torch.export.Dim per axis name.
    dims: dict = {}
    dynamic_shapes = {
        arg: {axis: dims.setdefault(label, torch.export.Dim(label)) for axis, label in axes.items()}
        for arg, axes in spec["dynamic_axes"].items()
        if arg in spec["input_names"]
    }
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        program = torch.onnx.export(
            spec["model"],
            spec["args"],
            input_names=spec["input_names"],
            output_names=spec["output_names"],
            opset_version=opset,
            dynamo=True,
            external_data=False,
            dynamic_shapes=dynamic_shapes,
            verbose=False,
        )
    return program.model_proto


def _dynamo_export_child(name: str, opset: int, out: str) -> None:
    """Subprocess entry: writes the model to `out`, or the exporter's error to `out`.error."""
    try:
        model = _dynamo_export(name, opset)
    except Exception as e:
        with open(out + ".error", "w") as f:
            f.write(f"{type(e).__name__}: {e}")
        return
    with open(out, "wb") as f:
        f.write(model.SerializeToString())


def export_torch(name: str, spec, exporter: str, opset: int, tmp_path: Path) -> bytes:
    torch = _torch()
    if exporter == "dynamo":
        pytest.importorskip("onnxscript")
        # In a fresh interpreter: with torch 2.13, the second dynamo export of the LSTM
        # model in one process specializes the sequence axis to the example's length
        # (with dynamic_axes it fails, with dynamic_shapes it silently writes a static dim).
        out = tmp_path / f"{name}-dynamo-{opset}.onnx"
        code = (
            f"import sys; sys.path.insert(0, {str(TESTS_DIR)!r}); import test_exporters as t; "
            f"t._dynamo_export_child({name!r}, {opset}, {str(out)!r})"
        )
        proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=600)
        assert proc.returncode == 0, proc.stderr[-4000:]
        err = Path(str(out) + ".error")
        if err.exists():  # the exporter's own limits, not pionnx's
            pytest.skip(f"dynamo exporter failed at opset {opset}: {err.read_text()}"[:400])
        model = onnx.load(str(out))
    else:
        buf = io.BytesIO()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                torch.onnx.export(
                    spec["model"],
                    spec["args"],
                    buf,
                    input_names=spec["input_names"],
                    output_names=spec["output_names"],
                    opset_version=opset,
                    dynamo=False,
                    dynamic_axes=spec["dynamic_axes"],
                )
            except torch.onnx.errors.UnsupportedOperatorError as e:
                # e.g. aten::scaled_dot_product_attention (the transformer) needs opset >= 14
                pytest.skip(f"TorchScript exporter cannot write opset {opset}: {e}"[:400])
        model = onnx.load_from_string(buf.getvalue())
    got_opset = {o.domain: o.version for o in model.opset_import}.get("", 0)
    if got_opset != opset:
        # The dynamo exporter builds opset 18 and, asked for less, runs the ONNX
        # version converter; where that fails it warns and keeps opset 18.
        pytest.skip(f"{exporter} exporter asked for opset {opset} wrote opset {got_opset} (down-conversion failed)")
    # Every dynamic axis stayed dynamic.
    for vi in model.graph.input:
        for axis in spec["dynamic_axes"].get(vi.name, {}):
            assert not vi.type.tensor_type.shape.dim[axis].HasField("dim_value"), (vi.name, axis)
    return model.SerializeToString()


@pytest.mark.parametrize("opset", TORCH_OPSETS)
@pytest.mark.parametrize("exporter", ["torchscript", "dynamo"])
@pytest.mark.parametrize("name", list(TORCH_MODELS))
def test_torch_export(name, exporter, opset, tmp_path):
    torch = _torch()
    spec = TORCH_MODELS[name]()  # fixed seed: the same weights as the exported copy
    data = export_torch(name, spec, exporter, opset, tmp_path)
    ref_sess = ort_session(data)
    sess = pionnx.InferenceSession(data)
    for feeds in spec.get(f"feeds_{exporter}", spec["feeds"]):
        ref = ref_sess.run(None, feeds)
        got = sess.run(None, feeds)
        assert len(got) == len(ref)
        for g, r in zip(got, ref):
            assert_close(g, r)
        # And the exporter's source of truth.
        with torch.no_grad():
            expected = spec["model"](*(torch.from_numpy(v) for v in feeds.values())).numpy()
        np.testing.assert_allclose(got[0], expected, rtol=RTOL, atol=ATOL)


# ================================================================ skl2onnx


def _sk():
    pytest.importorskip("sklearn")
    return pytest.importorskip("skl2onnx")


def classification_data(string_labels: bool, n_classes: int = 3):
    from sklearn.datasets import make_classification

    x, y = make_classification(n_samples=300, n_features=8, n_informative=5, n_classes=n_classes, random_state=0)
    x = x.astype(np.float32)
    if string_labels:
        names = np.array(["cat", "dog", "émeu", "fox"][:n_classes], dtype=object)
        y = names[y]
    return x, y


def convert(model, n_features: int, options=None) -> bytes:
    _sk()
    return convert_sklearn(model, n_features, options)


def zipmap_to_array(rows, labels) -> np.ndarray:
    """A list of {label: probability} dicts as a [rows, labels] array, in `labels` order."""
    return np.array([[row[k] for k in labels] for row in rows], dtype=np.float64)


def compare_classifier(data: bytes, x: np.ndarray, classes, zipmap: bool) -> None:
    ref_sess, sess = ort_session(data), pionnx.InferenceSession(data)
    # e.g. seq(map(string,tensor(float))) for the ZipMap output
    assert [o.type for o in sess.get_outputs()] == [o.type for o in ref_sess.get_outputs()]
    ref = ref_sess.run(None, {"X": x})
    got = sess.run(None, {"X": x})
    assert len(got) == len(ref) == 2
    ref_label, ref_prob = ref
    got_label, got_prob = got
    # Labels exactly (strings come back as object arrays in both).
    assert np.asarray(got_label).dtype == np.asarray(ref_label).dtype
    np.testing.assert_array_equal(got_label, ref_label)
    if zipmap:
        # onnxruntime returns the ZipMap output (seq(map(K, float))) as a list of dicts.
        assert isinstance(ref_prob, list) and isinstance(got_prob, list)
        assert len(got_prob) == len(ref_prob) == len(x)
        for g, r in zip(got_prob, ref_prob):
            assert isinstance(g, dict)
            assert list(g) == list(r)  # same keys, same order
            assert all(type(k) is type(rk) for k, rk in zip(g, r))
        assert_close(zipmap_to_array(got_prob, list(classes)), zipmap_to_array(ref_prob, list(classes)))
    else:
        assert np.asarray(got_prob).dtype == np.asarray(ref_prob).dtype
        assert_close(got_prob, ref_prob)


def classifier_matrix(test):
    """Parametrizes a classifier test over zipmap (with, without), string_labels (int, str
    labels) and n_classes (2, 3)."""
    test = pytest.mark.parametrize("n_classes", [2, 3])(test)
    test = pytest.mark.parametrize("string_labels", [False, True], ids=["intlabels", "strlabels"])(test)
    return pytest.mark.parametrize("zipmap", [True, False], ids=["zipmap", "nozipmap"])(test)


def convert_classifier(model, clf, n_features: int, zipmap: bool) -> bytes:
    """convert(), with `clf`'s ZipMap output turned off unless `zipmap`."""
    return convert(model, n_features, None if zipmap else {id(clf): {"zipmap": False}})


@classifier_matrix
def test_skl_pipeline_logreg(zipmap, string_labels, n_classes):
    _sk()
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler

    x, y = classification_data(string_labels, n_classes)
    clf = LogisticRegression(max_iter=500)
    pipe = Pipeline([("scale", StandardScaler()), ("clf", clf)]).fit(x, y)
    compare_classifier(convert_classifier(pipe, clf, x.shape[1], zipmap), x, clf.classes_, zipmap)


@classifier_matrix
def test_skl_random_forest_classifier(zipmap, string_labels, n_classes):
    _sk()
    from sklearn.ensemble import RandomForestClassifier

    x, y = classification_data(string_labels, n_classes)
    clf = RandomForestClassifier(n_estimators=10, max_depth=6, random_state=0).fit(x, y)
    data = convert_classifier(clf, clf, x.shape[1], zipmap)
    if string_labels:
        tree = [n for n in onnx.load_from_string(data).graph.node if n.op_type == "TreeEnsembleClassifier"]
        assert tree and any(a.name == "classlabels_strings" for a in tree[0].attribute)
    compare_classifier(data, x, clf.classes_, zipmap)


@pytest.mark.parametrize("kind", ["gradient_boosting", "random_forest"])
def test_skl_tree_regressor(kind):
    _sk()
    from sklearn.datasets import make_regression
    from sklearn.ensemble import GradientBoostingRegressor, RandomForestRegressor

    x, y = make_regression(n_samples=300, n_features=8, noise=0.1, random_state=0)
    x = x.astype(np.float32)
    if kind == "gradient_boosting":
        reg = GradientBoostingRegressor(n_estimators=30, max_depth=3, random_state=0).fit(x, y)
    else:
        reg = RandomForestRegressor(n_estimators=10, max_depth=6, random_state=0).fit(x, y)
    data = convert(reg, x.shape[1])
    ref = ort_session(data).run(None, {"X": x})
    got = pionnx.InferenceSession(data).run(None, {"X": x})
    assert len(got) == len(ref) == 1
    assert got[0].dtype == ref[0].dtype
    assert_close(got[0], ref[0])


@pytest.mark.parametrize("norm", ["l1", "l2", "max"])
def test_skl_pipeline_normalizer_linear_regression(norm):
    """Scaler -> Normalizer -> LinearRegressor (skl2onnx's converters for these sklearn steps)."""
    _sk()
    from sklearn.datasets import make_regression
    from sklearn.linear_model import LinearRegression
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import Normalizer, StandardScaler

    x, y = make_regression(n_samples=200, n_features=6, n_targets=2, noise=0.1, random_state=0)
    x = x.astype(np.float32)
    pipe = Pipeline([("scale", StandardScaler()), ("norm", Normalizer(norm=norm)), ("reg", LinearRegression())])
    data = convert(pipe.fit(x, y), x.shape[1])
    ops = {n.op_type for n in onnx.load_from_string(data).graph.node}
    assert {"Scaler", "Normalizer"} <= ops
    ref = ort_session(data).run(None, {"X": x})
    got = pionnx.InferenceSession(data).run(None, {"X": x})
    assert len(got) == len(ref) == 1
    assert got[0].dtype == ref[0].dtype
    assert_close(got[0], ref[0])


@pytest.mark.parametrize("post", ["NONE", "LOGISTIC"])
@pytest.mark.parametrize("labels", ["ints", "strings"])
def test_linear_classifier_single_score(post, labels):
    """One intercept, two labels: the binary form other converters write (skl2onnx writes two scores)."""
    from onnx import TensorProto, helper

    label_attr = {"classlabels_ints": [3, 7]} if labels == "ints" else {"classlabels_strings": ["no", "yes"]}
    node = helper.make_node(
        "LinearClassifier",
        ["X"],
        ["label", "scores"],
        domain="ai.onnx.ml",
        coefficients=[0.5, -1.0, 0.25],
        intercepts=[0.1],
        post_transform=post,
        **label_attr,
    )
    label_type = TensorProto.INT64 if labels == "ints" else TensorProto.STRING
    graph = helper.make_graph(
        [node],
        "g",
        [helper.make_tensor_value_info("X", TensorProto.FLOAT, [None, 3])],
        [
            helper.make_tensor_value_info("label", label_type, [None]),
            helper.make_tensor_value_info("scores", TensorProto.FLOAT, [None, None]),
        ],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17), helper.make_opsetid("ai.onnx.ml", 1)])
    model.ir_version = 8
    data = model.SerializeToString()
    x = np.random.default_rng(3).standard_normal((20, 3)).astype(np.float32)
    ref = ort_session(data).run(None, {"X": x})
    got = pionnx.InferenceSession(data).run(None, {"X": x})
    np.testing.assert_array_equal(got[0], ref[0])
    assert_close(got[1], ref[1])
