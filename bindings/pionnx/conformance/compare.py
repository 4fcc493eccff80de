"""Output comparison with the semantics of onnx's backend test runner.

Mirrors ``onnx.backend.test.runner.Runner.assert_similar_outputs``: same number
of outputs, then per output the shape, the dtype (strings: exact equality
instead) and ``np.testing.assert_allclose(rtol, atol)``. numpy only.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np


def assert_similar_outputs(ref_outputs: Sequence[Any], outputs: Sequence[Any], rtol: float, atol: float) -> None:
    np.testing.assert_equal(len(outputs), len(ref_outputs))
    for i, (out, ref) in enumerate(zip(outputs, ref_outputs)):
        if ref is None or out is None:  # an empty optional
            if ref is not out:
                raise AssertionError(f"output {i} is {out!r}, expected {ref!r}")
            continue
        if isinstance(out, (list, tuple)):
            if not isinstance(ref, (list, tuple)):
                raise AssertionError(f"output {i} is a {type(out).__name__}, expected {type(ref).__name__}")  # noqa: TRY004
            assert_similar_outputs(ref, out, rtol, atol)
            continue
        out = np.asarray(out)
        ref = np.asarray(ref)
        np.testing.assert_array_equal(out.shape, ref.shape, err_msg=f"Output {i} has incorrect shape")
        if ref.dtype == object:
            np.testing.assert_array_equal(out, ref)
        else:
            np.testing.assert_equal(out.dtype, ref.dtype)
            np.testing.assert_allclose(out, ref, rtol=rtol, atol=atol)
