"""Softmax and LogSoftmax over the last axis run through the vector math's exp-shift-sum (simd/
elementwise_math_kernels.h: exp of x - max, which is never above 0). Checked against float64 numpy on
rows of every length around the vector loops (8 lanes on AVX2, 4 elsewhere, two vectors per step), with
masked entries (-inf: exactly 0), entries far below the max (exp underflows to 0), ties with the max and
a NaN (its row is NaN, as numpy's)."""

from __future__ import annotations

import numpy as np
import pytest
from models import model, tensor
from onnx import TensorProto, helper

import pionnx

RNG = np.random.default_rng(15)


def run(op: str, x: np.ndarray) -> np.ndarray:
    m = model(
        [helper.make_node(op, ["x"], ["y"], axis=-1)],
        [tensor("x", TensorProto.FLOAT, list(x.shape))],
        [tensor("y", TensorProto.FLOAT, None)],
        opset=17,
    )
    return pionnx.InferenceSession(m.SerializeToString()).run(None, {"x": x})[0]


def rows(n: int) -> np.ndarray:
    x = (RNG.standard_normal((6, n)) * 8).astype(np.float32)
    x[1, 1::3] = -np.inf  # masked keys (the first stays: a row of only -inf is NaN)
    x[2, ::2] -= 150.0  # far below the max: exp(x - max) underflows
    x[3] = 2.5  # all equal
    x[4, n // 2] = 1e4  # one dominant entry
    return x


@pytest.mark.parametrize("op", ["Softmax", "LogSoftmax"])
def test_softmax_rows_match_float64(op):
    for n in [*range(1, 41), 63, 64, 65, 1001]:
        x = rows(n)
        got = run(op, x)
        x64 = x.astype(np.float64)
        shifted = x64 - x64.max(axis=-1, keepdims=True)
        with np.errstate(divide="ignore"):
            want = np.exp(shifted) / np.exp(shifted).sum(axis=-1, keepdims=True)
            if op == "LogSoftmax":
                want = shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))
        if op == "Softmax":
            np.testing.assert_allclose(got, want, rtol=2e-6, atol=1e-7, err_msg=f"n={n}")
            assert np.all(got[1, 1::3] == 0), f"n={n}: a masked entry got probability"
        else:
            finite = np.isfinite(want)
            np.testing.assert_allclose(got[finite], want[finite], rtol=2e-6, atol=2e-6, err_msg=f"n={n}")
            assert np.all(got[~finite] == -np.inf), f"n={n}"


def test_a_nan_makes_its_row_nan():
    for n in (1, 7, 8, 9, 16, 17, 33):
        x = rows(n)
        x[5, n - 1] = np.nan
        got = run("Softmax", x)
        assert np.all(np.isnan(got[5])), f"n={n}"
        assert np.all(np.isfinite(got[:5])), f"n={n}"
