"""Which parts of the ONNX backend test data pionnx runs, and what they are called."""

from __future__ import annotations

# pionnx's suite name -> the category onnx's BackendTest files the tests under
# (test classes are named f"OnnxBackend{category}ModelTest").
# onnx 1.19 keeps its "real" models in the wheel as "light" models (weights
# replaced by ConstantOfShape), so that category needs no download; any "real"
# case that still points at a URL is left out (see NETWORK_REASON).
SUITES: dict[str, str] = {
    "node": "Node",
    "simple": "Simple",
    "pytorch-converted": "PyTorchConverted",
    "pytorch-operator": "PyTorchOperator",
    "light": "Real",
}

# The directory under onnx/backend/test/data/ each suite's cases come from.
DATA_KINDS: dict[str, str] = {
    "node": "node",
    "simple": "simple",
    "pytorch-converted": "pytorch-converted",
    "pytorch-operator": "pytorch-operator",
    "light": "real",
}

LIGHT_URL_PREFIX = "onnx/backend/test/data/light/"
NETWORK_REASON = "needs a model download (no network in CI); only local light models run"

# The device suffix BackendTest gives every test name; pionnx runs on CPU only.
DEVICE_SUFFIX = "_cpu"


def suite_of_class(class_name: str) -> str | None:
    """Suite name for a BackendTest class name such as 'OnnxBackendNodeModelTest'."""
    for suite, category in SUITES.items():
        if class_name == f"OnnxBackend{category}ModelTest":
            return suite
    return None
