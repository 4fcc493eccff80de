"""The ONNX backend test suite, run against pionnx.

Two ways in:

* on a machine with the ``onnx`` package, ``tests/test_conformance.py`` runs
  ``onnx.backend.test.BackendTest`` over :class:`PionnxBackend`
  (``pionnx.conformance.backend``);
* on a machine without it (the emulated armv7l container),
  ``python -m pionnx.conformance export DIR`` copies the cases on the host and
  ``python -m pionnx.conformance run DIR`` runs them with numpy and pionnx only.

Nothing here imports ``onnx`` at import time; only ``backend`` and ``export`` do.
"""

from .suites import SUITES

__all__ = ["SUITES"]
