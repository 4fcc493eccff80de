"""Output comparison with the semantics of onnx's backend test runner.

Mirrors ``onnx.backend.test.runner.Runner.assert_similar_outputs``: same number
of outputs, then per output the shape, the dtype (strings: exact equality
instead) and ``np.testing.assert_allclose(rtol, atol)``, with rtol at least two
bfloat16 ULPs (2**-6) for a bfloat16 output, as onnx 1.23's runner has it.
numpy only.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

BFLOAT16_RTOL = 2.0**-6


def assert_similar_outputs(
    ref_outputs: Sequence[Any],
    outputs: Sequence[Any],
    rtol: float,
    atol: float,
    bfloat16: Sequence[bool] | None = None,
) -> None:
    """bfloat16: per output, whether it was bfloat16 before being decoded to float64 (the raw-bits
    path, without ml_dtypes); otherwise the dtype says so."""
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
            output_rtol = rtol
            if out.dtype.name == "bfloat16" or (bfloat16 is not None and i < len(bfloat16) and bfloat16[i]):
                output_rtol = max(rtol, BFLOAT16_RTOL)
                out, ref = out.astype(np.float64), ref.astype(np.float64)
            np.testing.assert_allclose(out, ref, rtol=output_rtol, atol=atol)
