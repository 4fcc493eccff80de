"""The ONNX backend test suite (onnx.backend.test.BackendTest) run on pionnx.

Suites: node, simple, pytorch-converted, pytorch-operator and light (onnx
files its light models under the "real" category: OnnxBackendRealModelTest).
Known failures are listed in expected_failures.txt (applied by conftest.py);
the per-suite pass counts are printed at the end of the run.
"""

import unittest

import onnx.backend.test
from onnx.backend.test.loader import load_model_tests

from pionnx.conformance.backend import PionnxBackend
from pionnx.conformance.suites import DATA_KINDS, DEVICE_SUFFIX, LIGHT_URL_PREFIX, NETWORK_REASON, SUITES

backend_test = onnx.backend.test.BackendTest(PionnxBackend, __name__).enable_report()

# A "real" case that is not one of the light models in the onnx wheel would download it.
_needs_network = {
    case.name + DEVICE_SUFFIX
    for case in load_model_tests(kind=DATA_KINDS["light"])
    if case.model_dir is None and not (case.url or "").startswith(LIGHT_URL_PREFIX)
}

_wanted_classes = {f"OnnxBackend{category}ModelTest" for category in SUITES.values()}

for _class_name, _test_class in backend_test.test_cases.items():
    if _class_name not in _wanted_classes:
        continue
    for _name in [n for n in vars(_test_class) if n.startswith("test_")]:
        if not _name.endswith(DEVICE_SUFFIX):
            # pionnx is a CPU runtime: the CUDA twins would only be skipped noise.
            delattr(_test_class, _name)
        elif _name in _needs_network:
            setattr(_test_class, _name, unittest.skip(NETWORK_REASON)(getattr(_test_class, _name)))
    globals()[_class_name] = _test_class

# A TestCase class left under another module-level name would be collected twice.
del _class_name, _test_class, _name
