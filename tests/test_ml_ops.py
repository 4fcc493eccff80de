"""ai.onnx.ml operators against onnxruntime and onnx.reference.ReferenceEvaluator.

SVMClassifier, SVMRegressor, Imputer, FeatureVectorizer, OneHotEncoder and
CategoryMapper, on small models built with onnx.helper (every attribute
variant) and on scikit-learn SVMs converted with skl2onnx (skipped when
scikit-learn or skl2onnx is absent).

onnxruntime is the reference for everything; the onnx reference evaluator
too where it implements the op and agrees with onnxruntime (it has no
CategoryMapper, reads a 1-D FeatureVectorizer input as a column, and its
SVMClassifier differs from onnxruntime for string labels of two classes and
for post_transforms of two classes without probabilities).

Tolerances: float outputs within rtol 1e-5 / atol 1e-6 of onnxruntime, SVM
probabilities included, with two exceptions, each explained where it is
used: PROBIT (onnxruntime's erfinv approximation runs in float with pi as
3.14159f) and the decision values of the scikit-learn SVMs, float32 sums of
hundreds of cancelling terms (bounded relative to the terms' magnitudes).
The onnx reference's SVMClassifier probabilities are compared for two
classes only: from three classes its pairwise coupling is wrong (it assigns
one dot product to a whole row slice of Q where libsvm multiplies element by
element) and disagrees with onnxruntime and pionnx by up to 0.1.
"""

from __future__ import annotations

import warnings

import numpy as np
import onnx
import pytest
from models import convert_sklearn, model, tensor
from onnx import TensorProto, helper
from onnx.reference import ReferenceEvaluator

import pionnx

ort = pytest.importorskip("onnxruntime")

RTOL, ATOL = 1e-5, 1e-6
F, D, I64, I32, S = TensorProto.FLOAT, TensorProto.DOUBLE, TensorProto.INT64, TensorProto.INT32, TensorProto.STRING
POSTS = ["NONE", "LOGISTIC", "SOFTMAX", "SOFTMAX_ZERO", "PROBIT"]
KERNELS = ["LINEAR", "POLY", "RBF", "SIGMOID"]


def ml_model(op: str, attrs: dict, inputs: list, outputs: list, name: str = "ml_node") -> bytes:
    """One ai.onnx.ml node; inputs [(elem_type, shape)], outputs [elem_type]."""
    ins = [tensor(f"X{i}" if len(inputs) > 1 else "X", t, s) for i, (t, s) in enumerate(inputs)]
    outs = [tensor(f"Y{i}", t, None) for i, t in enumerate(outputs)]
    node = helper.make_node(op, [v.name for v in ins], [v.name for v in outs], domain="ai.onnx.ml", name=name, **attrs)
    return model([node], ins, outs, extra_opsets=[("ai.onnx.ml", 3)]).SerializeToString()


def feeds_of(data: bytes, xs) -> dict:
    names = [i.name for i in onnx.load_from_string(data).graph.input]
    return dict(zip(names, xs))


def run_pionnx(data: bytes, *xs):
    return pionnx.InferenceSession(data).run(None, feeds_of(data, xs))


def run_ort(data: bytes, *xs):
    return ort.InferenceSession(data, providers=["CPUExecutionProvider"]).run(None, feeds_of(data, xs))


def run_ref(data: bytes, *xs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return ReferenceEvaluator(onnx.load_from_string(data)).run(None, feeds_of(data, xs))


def assert_same(got, ref, rtol=RTOL, atol=ATOL) -> None:
    """Same shapes and dtypes; strings and integers exactly, floats within tolerance (NaN == NaN)."""
    assert len(got) == len(ref)
    for g, r in zip(got, ref):
        g, r = np.asarray(g), np.asarray(r)
        assert g.shape == r.shape, (g.shape, r.shape)
        if r.dtype.kind in "OUS":
            assert g.dtype.kind == "O", g.dtype
            assert g.tolist() == r.tolist()
        elif r.dtype.kind == "f":
            assert g.dtype == r.dtype, (g.dtype, r.dtype)
            np.testing.assert_allclose(g, r, rtol=rtol, atol=atol)
        else:
            assert g.dtype == r.dtype, (g.dtype, r.dtype)
            np.testing.assert_array_equal(g, r)


# ================================================================ SVMClassifier, hand-made

RNG = np.random.default_rng(0)
X_SVM = RNG.normal(size=(64, 3)).astype(np.float32)


def svc_attrs(classes: int, kernel: str, proba: bool, post: str = "NONE", strings: bool = False, seed: int = 1):
    """A libsvm-style model: vectors_per_class [2, 3, 1][:classes], mixed-sign coefficients."""
    rng = np.random.default_rng(seed)
    per_class = [2, 3, 1][:classes]
    v = sum(per_class)
    pairs = classes * (classes - 1) // 2
    attrs = {
        "kernel_type": kernel,
        "kernel_params": [0.4, 0.2, 3.0] if kernel != "SIGMOID" else [0.3, -0.1, 0.0],
        "support_vectors": rng.normal(size=v * 3).astype(np.float32).tolist(),
        "vectors_per_class": per_class,
        "coefficients": rng.uniform(-1, 1, size=(classes - 1) * v).astype(np.float32).tolist(),
        "rho": rng.uniform(-0.3, 0.3, size=pairs).astype(np.float32).tolist(),
        "post_transform": post,
    }
    if proba:
        attrs["prob_a"] = rng.uniform(-3, -0.5, size=pairs).astype(np.float32).tolist()
        attrs["prob_b"] = rng.uniform(-0.2, 0.2, size=pairs).astype(np.float32).tolist()
    if strings:
        attrs["classlabels_strings"] = ["ant", "bee", "cow"][:classes]
    else:
        attrs["classlabels_ints"] = [4, 2, 9][:classes]
    return attrs


def svc_model(attrs: dict, x_type=F) -> bytes:
    label = S if "classlabels_strings" in attrs else I64
    return ml_model("SVMClassifier", attrs, [(x_type, None)], [label, F])


@pytest.mark.parametrize("proba", [False, True], ids=["scores", "proba"])
@pytest.mark.parametrize("classes", [2, 3])
@pytest.mark.parametrize("kernel", KERNELS)
def test_svm_classifier_kernels(kernel, classes, proba):
    data = svc_model(svc_attrs(classes, kernel, proba))
    got = run_pionnx(data, X_SVM)
    assert_same(got, run_ort(data, X_SVM))
    if not (proba and classes > 2):  # the reference's pairwise coupling is wrong from 3 classes (module docstring)
        assert_same(got, run_ref(data, X_SVM))
    # Votes that split both ways, so the labels test something.
    assert len(set(got[0].tolist())) > 1


@pytest.mark.parametrize("strings", [False, True], ids=["intlabels", "strlabels"])
@pytest.mark.parametrize("proba", [False, True], ids=["scores", "proba"])
@pytest.mark.parametrize("classes", [2, 3])
@pytest.mark.parametrize("post", POSTS)
def test_svm_classifier_post_transform(post, classes, proba, strings):
    """Includes onnxruntime's two-class forms without probabilities ([-d, d], [1 - d, d], ...)."""
    data = svc_model(svc_attrs(classes, "RBF", proba, post, strings))
    got, ref = run_pionnx(data, X_SVM), run_ort(data, X_SVM)
    if post == "PROBIT" and classes == 2 and not proba:
        # onnxruntime writes only the first column (probit(d)) and leaves the second uninitialised; pionnx writes 0.
        np.testing.assert_array_equal(got[1][:, 1], 0)
        got, ref = [got[0], got[1][:, :1]], [ref[0], ref[1][:, :1]]
    # PROBIT: onnxruntime's erfinv runs in float with pi as 3.14159f; pionnx's (shared with the tree
    # ensembles, as the onnx reference) in double with pi; the two differ by up to ~1e-4 near 0.
    assert_same(got, ref, atol=1e-4 if post == "PROBIT" else ATOL)


@pytest.mark.parametrize("x_type", [D, I64, I32], ids=["double", "int64", "int32"])
def test_svm_classifier_input_types(x_type):
    dtype = {D: np.float64, I64: np.int64, I32: np.int32}[x_type]
    x = (X_SVM * 3).astype(dtype)
    data = svc_model(svc_attrs(3, "POLY", True), x_type)
    expect = run_ort(data, x) if x_type != I32 else run_ort(svc_model(svc_attrs(3, "POLY", True)), x.astype(np.float32))
    assert_same(run_pionnx(data, x), expect)


def test_svm_classifier_one_row():
    """A 1-D X is one row."""
    data = svc_model(svc_attrs(3, "RBF", False))
    got = run_pionnx(data, X_SVM[0])
    assert got[1].shape == (1, 3)
    assert_same(got, run_ort(data, X_SVM[0]))


@pytest.mark.parametrize("positive", [False, True], ids=["mixed", "positive"])
@pytest.mark.parametrize("classes", [2, 3])
@pytest.mark.parametrize("post", ["NONE", "LOGISTIC", "SOFTMAX"])
def test_svm_classifier_liblinear(post, classes, positive):
    """No support vectors: one row of weights per class, rho[0] added to each score."""
    rng = np.random.default_rng(3)
    coef = rng.uniform(0 if positive else -1, 1, size=classes * 3).astype(np.float32)
    attrs = {
        "classlabels_ints": [10, 20, 30][:classes],
        "coefficients": coef.tolist(),
        "rho": [-0.4],
        "kernel_params": [0.1, 0.0, 1.0],  # onnxruntime requires the attribute; linear mode ignores it
        "post_transform": post,
    }
    data = svc_model(attrs)
    got = run_pionnx(data, X_SVM)
    assert_same(got, run_ort(data, X_SVM))
    assert len(set(got[0].tolist())) > 1


# ================================================================ SVMRegressor, hand-made


def svr_attrs(kernel: str, linear: bool = False, one_class: int = 0) -> dict:
    rng = np.random.default_rng(5)
    if linear:
        # onnxruntime requires kernel_params; linear mode ignores it
        return {
            "coefficients": [0.5, -1.5, 0.25],
            "rho": [0.3],
            "n_supports": 0,
            "one_class": one_class,
            "kernel_params": [0.1, 0.0, 1.0],
        }
    return {
        "kernel_type": kernel,
        "kernel_params": [0.4, 0.2, 2.0],
        "support_vectors": rng.normal(size=5 * 3).astype(np.float32).tolist(),
        "coefficients": rng.uniform(-1, 1, size=5).astype(np.float32).tolist(),
        "rho": [0.1],
        "n_supports": 5,
        "one_class": one_class,
    }


@pytest.mark.parametrize("one_class", [0, 1])
@pytest.mark.parametrize("kernel", [*KERNELS, "liblinear"])
def test_svm_regressor(kernel, one_class):
    attrs = svr_attrs(kernel, kernel == "liblinear", one_class)
    data = ml_model("SVMRegressor", attrs, [(F, None)], [F])
    got = run_pionnx(data, X_SVM)
    assert got[0].shape == (len(X_SVM), 1)
    assert_same(got, run_ort(data, X_SVM))
    assert_same(got, run_ref(data, X_SVM))
    if one_class:
        assert set(got[0].ravel().tolist()) == {-1.0, 1.0}


def test_svm_regressor_post_transform_and_types():
    """post_transform applies as the schema says (onnxruntime ignores it); double and int64 X are cast to float."""
    attrs = svr_attrs("RBF")
    raw = run_ort(ml_model("SVMRegressor", attrs, [(F, None)], [F]), X_SVM)[0]
    got = run_pionnx(ml_model("SVMRegressor", {**attrs, "post_transform": "LOGISTIC"}, [(F, None)], [F]), X_SVM)[0]
    np.testing.assert_allclose(got, 1 / (1 + np.exp(-raw.astype(np.float64))), rtol=RTOL, atol=ATOL)
    for x_type, dtype in [(D, np.float64), (I64, np.int64)]:
        x = (X_SVM * 2).astype(dtype)
        got = run_pionnx(ml_model("SVMRegressor", attrs, [(x_type, None)], [F]), x)
        assert_same(got, run_ort(ml_model("SVMRegressor", attrs, [(F, None)], [F]), x.astype(np.float32)))


# ================================================================ SVMs from scikit-learn
#
# With hundreds of support vectors the decision values are float32 sums of many
# terms that largely cancel: onnxruntime (SGEMM, float accumulation) and pionnx
# (SGEMM for the kernels, double accumulation of the weighted terms) both land
# within ~1e-7 of a float64 evaluation *relative to the sum of the terms'
# magnitudes*, which can be a hundred times the result. Their scores are
# compared with atol 1e-6 of that sum (per row) on top of rtol 1e-5 / atol 1e-6.


def svm_term_scale(data: bytes, x: np.ndarray) -> np.ndarray:
    """Per row of x, sum |coefficient * K(x, v)| over the support vectors of the model's SVM node (float64)."""
    node = next(n for n in onnx.load_from_string(data).graph.node if n.op_type.startswith("SVM"))
    a = {att.name: helper.get_attribute_value(att) for att in node.attribute}
    gamma, coef0, degree = a.get("kernel_params", [0.0, 0.0, 0.0])
    kernel = a.get("kernel_type", b"LINEAR").decode()
    coef = np.abs(np.asarray(a["coefficients"], np.float64))
    n_sv = a["n_supports"] if node.op_type == "SVMRegressor" else sum(a["vectors_per_class"])
    sv = np.asarray(a["support_vectors"], np.float64).reshape(n_sv, -1)
    x = x.astype(np.float64)
    dot = x @ sv.T
    k = {
        "LINEAR": lambda: dot,
        "POLY": lambda: (gamma * dot + coef0) ** degree,
        "RBF": lambda: np.exp(-gamma * ((x[:, None, :] - sv[None]) ** 2).sum(-1)),
        "SIGMOID": lambda: np.tanh(gamma * dot + coef0),
    }[kernel]()
    return np.abs(k) @ coef.reshape(-1, n_sv).sum(0) + np.abs(np.asarray(a["rho"])).max()


def assert_svm_scores(got, ref, scale: np.ndarray) -> None:
    got, ref = np.asarray(got, np.float64), np.asarray(ref, np.float64)
    assert got.shape == ref.shape, (got.shape, ref.shape)
    bound = ATOL + RTOL * np.abs(ref) + 1e-6 * scale.reshape(-1, *([1] * (ref.ndim - 1)))
    excess = np.abs(got - ref) - bound
    assert np.all(excess <= 0), f"max difference {np.abs(got - ref).max():.3g} beyond the bound at {np.argmax(excess)}"


def _sk():
    pytest.importorskip("sklearn")
    return pytest.importorskip("skl2onnx")


def skl_convert(model, n_features: int, options=None) -> bytes:
    _sk()
    return convert_sklearn(model, n_features, options)


def skl_data(n_classes: int, n: int = 400):
    from sklearn.datasets import make_classification

    x, y = make_classification(n_samples=n, n_features=6, n_informative=4, n_classes=n_classes, random_state=0)
    x = ((x - x.mean(0)) / x.std(0)).astype(np.float32)
    return x, y


@pytest.mark.parametrize("string_labels", [False, True], ids=["intlabels", "strlabels"])
@pytest.mark.parametrize("probability", [False, True], ids=["scores", "proba"])
@pytest.mark.parametrize("n_classes", [2, 3])
@pytest.mark.parametrize("kernel", ["linear", "poly", "rbf", "sigmoid"])
def test_skl_svc(kernel, n_classes, probability, string_labels):
    _sk()
    from sklearn.svm import SVC

    x, y = skl_data(n_classes)
    if string_labels:
        y = np.array(["no", "maybe", "yes"], dtype=object)[y]
    clf = SVC(kernel=kernel, probability=probability, random_state=0).fit(x[:300], y[:300])
    data = skl_convert(clf, x.shape[1], {id(clf): {"zipmap": False}})
    got, ref = run_pionnx(data, x), run_ort(data, x)
    assert_same(got[:1], ref[:1])
    if probability:
        assert_same(got[1:], ref[1:])
    else:
        assert_svm_scores(got[1], ref[1], svm_term_scale(data, x))
    # The converted model predicts what scikit-learn predicts (away from ties).
    agree = np.mean(got[0] == clf.predict(x))
    assert agree > 0.99, agree


@pytest.mark.parametrize("kernel", ["linear", "poly", "rbf", "sigmoid"])
def test_skl_svr(kernel):
    _sk()
    from sklearn.svm import SVR

    x, y = skl_data(2)
    target = (x[:, 0] * 2 - x[:, 1] + 0.5 * y).astype(np.float32)
    reg = SVR(kernel=kernel).fit(x[:300], target[:300])
    data = skl_convert(reg, x.shape[1])
    got = run_pionnx(data, x)
    assert_svm_scores(got[0], run_ort(data, x)[0], svm_term_scale(data, x))
    np.testing.assert_allclose(got[0].ravel(), reg.predict(x), rtol=1e-4, atol=1e-4)


def test_skl_one_class_svm_and_nu_svc():
    _sk()
    from sklearn.svm import NuSVC, OneClassSVM

    x, y = skl_data(3)
    for fitted in (OneClassSVM(gamma=0.3).fit(x[:300]), NuSVC(probability=True, random_state=0).fit(x[:300], y[:300])):
        options = {id(fitted): {"zipmap": False}} if isinstance(fitted, NuSVC) else None
        data = skl_convert(fitted, x.shape[1], options)
        got, ref = run_pionnx(data, x), run_ort(data, x)
        assert_same(got[:1], ref[:1])
        assert_svm_scores(got[1], ref[1], svm_term_scale(data, x))


def test_skl_linear_svc():
    """LinearSVC goes through LinearClassifier."""
    _sk()
    from sklearn.svm import LinearSVC

    x, y = skl_data(3)
    clf = LinearSVC(random_state=0).fit(x[:300], y[:300])
    data = skl_convert(clf, x.shape[1])
    assert_same(run_pionnx(data, x), run_ort(data, x))


# ================================================================ Imputer


X_IMP = np.array([[1.0, np.nan, 3.0], [np.nan, 0.0, -1.0], [0.0, 5.0, np.nan], [-1.0, -1.0, 2.0]], np.float32)


@pytest.mark.parametrize(
    "attrs",
    [
        {"imputed_value_floats": [9.0], "replaced_value_float": float("nan")},
        {"imputed_value_floats": [7.0, 8.0, 9.0], "replaced_value_float": float("nan")},
        {"imputed_value_floats": [7.0, 8.0, 9.0]},  # replaced_value_float defaults to 0
        {"imputed_value_floats": [4.5], "replaced_value_float": -1.0},
    ],
    ids=["one-nan", "per-feature-nan", "per-feature-zero", "one-minus1"],
)
def test_imputer_float(attrs):
    data = ml_model("Imputer", attrs, [(F, None)], [F])
    got = run_pionnx(data, X_IMP)
    assert not np.array_equal(got[0], X_IMP, equal_nan=True)
    assert_same(got, run_ort(data, X_IMP))
    assert_same(got, run_ref(data, X_IMP))


@pytest.mark.parametrize("values", [[100], [100, 200, 300]], ids=["one", "per-feature"])
def test_imputer_int64(values):
    x = np.array([[1, -1, 3], [-1, 0, -1]], np.int64)
    data = ml_model("Imputer", {"imputed_value_int64s": values, "replaced_value_int64": -1}, [(I64, None)], [I64])
    got = run_pionnx(data, x)
    assert_same(got, run_ort(data, x))
    assert_same(got, run_ref(data, x))


def test_imputer_one_row_and_other_types():
    """A 1-D X is one row (as onnxruntime); double and int32 inputs keep their type."""
    x = X_IMP[0]
    data = ml_model(
        "Imputer", {"imputed_value_floats": [7.0, 8.0, 9.0], "replaced_value_float": np.nan}, [(F, None)], [F]
    )
    assert_same(run_pionnx(data, x), run_ort(data, x))
    data = ml_model(
        "Imputer", {"imputed_value_floats": [7.0, 8.0, 9.0], "replaced_value_float": np.nan}, [(D, None)], [D]
    )
    got = run_pionnx(data, X_IMP.astype(np.float64))
    assert_same(
        got,
        [
            run_ort(
                ml_model(
                    "Imputer",
                    {"imputed_value_floats": [7.0, 8.0, 9.0], "replaced_value_float": np.nan},
                    [(F, None)],
                    [F],
                ),
                X_IMP,
            )[0].astype(np.float64)
        ],
    )
    xi = np.array([[1, 0], [0, 5]], np.int32)
    got = run_pionnx(ml_model("Imputer", {"imputed_value_int64s": [6, 7]}, [(I32, None)], [I32]), xi)
    assert_same(got, [np.array([[1, 7], [6, 5]], np.int32)])


# ================================================================ FeatureVectorizer


@pytest.mark.parametrize(
    ("dims", "x_type", "dtype"),
    [([2, 3], F, np.float32), ([3, 1, 4], F, np.float32), ([1, 2], I64, np.int64), ([2, 2], D, np.float64)],
    ids=["cut-pad", "three", "int64", "double"],
)
def test_feature_vectorizer(dims, x_type, dtype):
    rng = np.random.default_rng(7)
    xs = [(rng.normal(size=(4, w)) * 10).astype(dtype) for w in (3, 2, 4)[: len(dims)]]
    data = ml_model("FeatureVectorizer", {"inputdimensions": dims}, [(x_type, None)] * len(dims), [F])
    got = run_pionnx(data, *xs)
    assert got[0].shape == (4, sum(dims))
    assert_same(got, run_ort(data, *xs))
    # The onnx reference keeps the input type; the schema's output is float.
    assert_same(got, [r.astype(np.float32) for r in run_ref(data, *xs)])


def test_feature_vectorizer_one_row():
    """1-D inputs are one row each (as onnxruntime; the onnx reference reads them as a column)."""
    xs = [np.array([1, 2, 3], np.float32), np.array([4, 5], np.float32)]
    data = ml_model("FeatureVectorizer", {"inputdimensions": [2, 3]}, [(F, None)] * 2, [F])
    got = run_pionnx(data, *xs)
    assert_same(got, run_ort(data, *xs))
    assert_same(got, [np.array([[1, 2, 4, 5, 0]], np.float32)])


# ================================================================ OneHotEncoder


@pytest.mark.parametrize("zeros", [0, 1])
@pytest.mark.parametrize(
    ("cats", "x"),
    [
        ({"cats_int64s": [3, 1, 7]}, np.array([1, 7, 3, 1], np.int64)),
        ({"cats_int64s": [3, 1, 7]}, np.array([[1, 7], [3, 1]], np.int64)),
        ({"cats_int64s": [3, 1, 7]}, np.array([[1.0, 7.0], [3.0, 1.0]], np.float32)),
        ({"cats_int64s": [3, 1, 7]}, np.array([1.0, 7.0, 3.0], np.float64)),
        ({"cats_strings": ["b", "a", "ç"]}, np.array(["a", "ç", "b", "a"], dtype=object)),
        ({"cats_strings": ["b", "a", "ç"]}, np.array([["a", "ç"], ["b", "b"]], dtype=object)),
    ],
    ids=["int64-1d", "int64-2d", "float-2d", "double-1d", "string-1d", "string-2d"],
)
def test_one_hot_encoder(cats, x, zeros):
    x_type = {np.dtype(np.int64): I64, np.dtype(np.float32): F, np.dtype(np.float64): D}.get(x.dtype, S)
    data = ml_model("OneHotEncoder", {**cats, "zeros": zeros}, [(x_type, None)], [F])
    got = run_pionnx(data, x)
    assert got[0].shape == (*x.shape, 3)
    assert_same(got, run_ort(data, x))
    assert_same(got, run_ref(data, x))


def test_one_hot_encoder_unknown():
    """Unknown values: a row of zeros with zeros=1, an error with zeros=0; floats are truncated (as onnxruntime)."""
    x = np.array([5, 1, 9], np.int64)
    data = ml_model("OneHotEncoder", {"cats_int64s": [1, 5, 1], "zeros": 1}, [(I64, None)], [F])
    got = run_pionnx(data, x)
    assert_same(got, run_ort(data, x))
    assert got[0][2].sum() == 0
    xf = np.array([1.7, np.nan, -2.5, 5.0], np.float32)
    data = ml_model("OneHotEncoder", {"cats_int64s": [1, 5, -2], "zeros": 1}, [(F, None)], [F])
    assert_same(run_pionnx(data, xf), run_ort(data, xf))
    data = ml_model("OneHotEncoder", {"cats_strings": ["a"], "zeros": 0}, [(S, None)], [F])
    with pytest.raises(pionnx.InvalidArgument, match="ml_node.*categories"):
        run_pionnx(data, np.array(["a", "z"], dtype=object))
    with pytest.raises(Exception, match="Unknown Category"):  # noqa: PT011 - onnxruntime's own error type
        run_ort(data, np.array(["a", "z"], dtype=object))


# ================================================================ CategoryMapper


CATS = {"cats_strings": ["lo", "mid", "hi", "lo"], "cats_int64s": [1, 2, 3, 4]}


@pytest.mark.parametrize("default", [{}, {"default_int64": 42, "default_string": "??"}], ids=["defaults", "custom"])
def test_category_mapper(default):
    xs = np.array([["lo", "hi", "zz"], ["mid", "", "lo"]], dtype=object)
    data = ml_model("CategoryMapper", {**CATS, **default}, [(S, None)], [I64])
    got = run_pionnx(data, xs)
    assert_same(got, run_ort(data, xs))
    assert_same(got, [np.array([[4, 3, default.get("default_int64", -1)], [2, default.get("default_int64", -1), 4]])])
    xi = np.array([3, 1, 7, 4, 2], np.int64)
    data = ml_model("CategoryMapper", {**CATS, **default}, [(I64, None)], [S])
    got = run_pionnx(data, xi)
    assert_same(got, run_ort(data, xi))
    assert got[0].tolist() == ["hi", "lo", default.get("default_string", "_Unused"), "lo", "mid"]


# ================================================================ errors


def svc_bad(**changes) -> bytes:
    return svc_model({**svc_attrs(3, "RBF", True), **changes})


@pytest.mark.parametrize(
    ("data", "match"),
    [
        (svc_bad(kernel_type="CUBIC"), "unknown kernel_type 'CUBIC'"),
        (svc_bad(post_transform="SQUASH"), "unknown post_transform 'SQUASH'"),
        (svc_bad(coefficients=[0.5] * 5), "coefficients must have"),
        (svc_bad(rho=[0.1]), "rho must have one value per pair"),
        (svc_bad(prob_b=[0.1]), "prob_a has 3 values, prob_b 1"),
        (svc_bad(vectors_per_class=[2, 3]), "vectors_per_class has 2 entries for 3 classes"),
        (svc_bad(support_vectors=[0.0] * 7), "do not make 6 vectors"),
        (svc_bad(kernel_params=[0.1]), "kernel_params must be"),
        (svc_bad(classlabels_strings=["a", "b", "c"]), "exactly one of classlabels_ints and classlabels_strings"),
        (
            ml_model("SVMRegressor", {**svr_attrs("RBF"), "n_supports": 4}, [(F, None)], [F]),
            "coefficients must have n_supports = 4",
        ),
        (
            ml_model("Imputer", {"imputed_value_floats": [1.0], "imputed_value_int64s": [1]}, [(F, None)], [F]),
            "exactly one of imputed_value_floats",
        ),
        (ml_model("Imputer", {}, [(F, None)], [F]), "exactly one of imputed_value_floats"),
        (
            ml_model("CategoryMapper", {"cats_strings": ["a", "b"], "cats_int64s": [1]}, [(S, None)], [I64]),
            "cats_int64s has 1 values, cats_strings 2",
        ),
        (
            ml_model("OneHotEncoder", {"cats_strings": ["a"], "cats_int64s": [1]}, [(S, None)], [F]),
            "exactly one of cats_int64s and cats_strings",
        ),
        (
            ml_model("FeatureVectorizer", {"inputdimensions": [1, 2, 3]}, [(F, None)] * 2, [F]),
            "inputdimensions has 3 entries for 2 inputs",
        ),
    ],
    ids=[
        "svc-kernel",
        "svc-post",
        "svc-coefficients",
        "svc-rho",
        "svc-prob",
        "svc-vectors-per-class",
        "svc-support-vectors",
        "svc-kernel-params",
        "svc-two-label-lists",
        "svr-n-supports",
        "imputer-both",
        "imputer-neither",
        "category-mapper-lengths",
        "one-hot-both",
        "feature-vectorizer-dims",
    ],
)
def test_bad_attributes_fail_at_session_creation(data, match):
    with pytest.raises(pionnx.InvalidGraph, match=match) as info:
        pionnx.InferenceSession(data)
    assert "ml_node" in str(info.value)


@pytest.mark.parametrize(
    ("data", "x", "match"),
    [
        (svc_model(svc_attrs(3, "RBF", False)), np.zeros((2, 4), np.float32), "X has 4 features, the model 3"),
        (svc_model(svc_attrs(3, "RBF", False)), np.zeros((2, 1, 3), np.float32), "rank 3"),
        (svc_model(svc_attrs(3, "RBF", False), TensorProto.BOOL), np.zeros((2, 3), bool), "got bool"),
        (ml_model("SVMRegressor", svr_attrs("RBF"), [(F, None)], [F]), np.zeros((2, 2), np.float32), "2 features"),
        (
            ml_model("Imputer", {"imputed_value_floats": [1.0, 2.0]}, [(F, None)], [F]),
            np.zeros((2, 3), np.float32),
            "2 imputed values for 3 features",
        ),
        (ml_model("Imputer", {"imputed_value_floats": [1.0]}, [(I64, None)], [I64]), np.zeros(3, np.int64), "int64s"),
        (ml_model("OneHotEncoder", {"cats_strings": ["a"]}, [(I64, None)], [F]), np.zeros(3, np.int64), "cats_int64s"),
        (
            ml_model("FeatureVectorizer", {"inputdimensions": [1, 1]}, [(F, None)] * 2, [F]),
            (np.zeros((2, 1), np.float32), np.zeros((3, 1), np.float32)),
            "input 1 has 3 rows",
        ),
    ],
    ids=[
        "svc-features",
        "svc-rank",
        "svc-dtype",
        "svr-features",
        "imputer-count",
        "imputer-type",
        "one-hot-type",
        "fv-rows",
    ],
)
def test_bad_inputs_fail_at_run(data, x, match):
    sess = pionnx.InferenceSession(data)
    xs = x if isinstance(x, tuple) else (x,)
    with pytest.raises(pionnx.InvalidArgument, match=match) as info:
        sess.run(None, feeds_of(data, xs))
    assert "ml_node" in str(info.value)
