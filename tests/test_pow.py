"""Pow over every numeric base x exponent type pair (opset 15), against references in numpy.

The kernel reads the exponent in the type its loop computes with (a 64-bit integer of the
exponent's signedness for integer bases, float32 for float32-like pairs, double otherwise), so
these pairs all meet four loops per base type; each must still give what the pair's own types
define: integer powers by repeated squaring (wrapping, a negative exponent truncating 1/x^|e|),
float powers in double (float32 in float32) cast to the base type, integer bases with float
exponents through double and truncated toward zero (0 where that is NaN or out of range).
"""

from __future__ import annotations

import numpy as np
import pytest
from models import model, tensor
from onnx import TensorProto, helper

import pionnx

ml_dtypes = pytest.importorskip("ml_dtypes")

INTS = {
    TensorProto.INT8: np.int8,
    TensorProto.INT16: np.int16,
    TensorProto.INT32: np.int32,
    TensorProto.INT64: np.int64,
    TensorProto.UINT8: np.uint8,
    TensorProto.UINT16: np.uint16,
    TensorProto.UINT32: np.uint32,
    TensorProto.UINT64: np.uint64,
}
FLOATS = {
    TensorProto.FLOAT16: np.float16,
    TensorProto.BFLOAT16: ml_dtypes.bfloat16,
    TensorProto.FLOAT: np.float32,
    TensorProto.DOUBLE: np.float64,
}
TYPES = {**INTS, **FLOATS}
NAMES = {code: TensorProto.DataType.Name(code).lower() for code in TYPES}


def run_pow(base: np.ndarray, expo: np.ndarray, b_code: int, e_code: int) -> np.ndarray:
    m = model(
        [helper.make_node("Pow", ["x", "y"], ["z"])],
        [tensor("x", b_code, list(base.shape)), tensor("y", e_code, list(expo.shape))],
        [tensor("z", b_code, None)],
        opset=15,
    )
    sess = pionnx.InferenceSession(m.SerializeToString())
    (z,) = sess.run(None, {"x": base, "y": expo})
    assert z.dtype == base.dtype
    return z


def bases(code: int) -> np.ndarray:
    if code in INTS:
        values = [0, 1, 2, 3, 7] + ([-1, -2, -3] if np.issubdtype(INTS[code], np.signedinteger) else [])
    else:
        values = [0.0, 1.0, 1.5, 2.0, 3.25, 0.75, -2.0, -1.0, -0.5]
    return np.array(values, dtype=TYPES[code])


def exponents(code: int) -> np.ndarray:
    if code in INTS:
        values = [0, 1, 2, 3] + ([-1, -2] if np.issubdtype(INTS[code], np.signedinteger) else [])
    else:
        values = [0.0, 0.5, 1.0, 2.0, 2.5, 3.0, -1.0, -0.5]
    return np.array(values, dtype=TYPES[code])


def expected(x: np.ndarray, e: np.ndarray, b_code: int, e_code: int) -> np.ndarray:
    out_type = TYPES[b_code]
    if b_code in INTS and e_code in INTS:
        bits = np.dtype(out_type).itemsize * 8
        xb, eb = np.broadcast_arrays(x, e)
        result = []
        for xv, ev in zip(xb.ravel().tolist(), eb.ravel().tolist()):
            if ev < 0:
                result.append(1 if xv == 1 else (1 if ev % 2 == 0 else -1) if xv == -1 else 0)
            else:
                r = (int(xv) ** int(ev)) % (1 << bits)  # wrapping, as the kernel's unsigned squaring
                if np.issubdtype(out_type, np.signedinteger) and r >= 1 << (bits - 1):
                    r -= 1 << bits
                result.append(r)
        return np.array(result, dtype=out_type).reshape(xb.shape)
    with np.errstate(all="ignore"):
        xd, ed = x.astype(np.float64), e.astype(np.float64)
        if (
            b_code in FLOATS
            and e_code in (TensorProto.FLOAT16, TensorProto.BFLOAT16, TensorProto.FLOAT)
            and (b_code != TensorProto.DOUBLE)
        ):
            r = np.power(xd.astype(np.float32), ed.astype(np.float32))  # float32 pow, as powf
        else:
            r = np.power(xd, ed)
        if b_code in INTS:
            ok = np.abs(r) < 9.2e18
            r = np.where(ok, np.trunc(np.where(ok, r, 0)), 0)
            return r.astype(np.int64).astype(out_type)
        return r.astype(out_type)


@pytest.mark.parametrize("e_code", list(TYPES), ids=[NAMES[c] for c in TYPES])
@pytest.mark.parametrize("b_code", list(TYPES), ids=[NAMES[c] for c in TYPES])
def test_pow_every_type_pair(b_code, e_code):
    # Every base with every exponent (an outer product), and a scalar exponent (its special cases:
    # x^2, x^1 and x^0.5 take no pow call).
    x = bases(b_code)[:, None]
    e = exponents(e_code)[None, :]
    z = run_pow(x, e, b_code, e_code)
    want = expected(x, e, b_code, e_code)
    if b_code in INTS:
        np.testing.assert_array_equal(z, want)
    else:
        rtol = {TensorProto.FLOAT16: 1e-3, TensorProto.BFLOAT16: 8e-3, TensorProto.FLOAT: 1e-6}.get(b_code, 1e-15)
        np.testing.assert_allclose(z.astype(np.float64), want.astype(np.float64), rtol=rtol, equal_nan=True)
    for scalar in exponents(e_code)[:6]:
        s = np.array(scalar, dtype=TYPES[e_code])
        zs = run_pow(bases(b_code), s, b_code, e_code)
        ws = expected(bases(b_code), s, b_code, e_code)
        if b_code in INTS:
            np.testing.assert_array_equal(zs, ws, err_msg=f"exponent {scalar}")
        else:
            np.testing.assert_allclose(
                zs.astype(np.float64), ws.astype(np.float64), rtol=rtol, equal_nan=True, err_msg=f"exponent {scalar}"
            )


def test_pow_large_unsigned_exponent_stays_unsigned():
    # A uint64 exponent past INT64_MAX: read as a signed 64-bit value it would be negative (and
    # give 0); as the unsigned one it is the squaring of x 2^63 + 1 times: 1^e = 1, 3^(2^63+1) wraps.
    x = np.array([1, 3], dtype=np.uint64)
    e = np.array([2**63 + 1, 2**63 + 1], dtype=np.uint64)
    z = run_pow(x, e, TensorProto.UINT64, TensorProto.UINT64)
    assert z.tolist() == [1, pow(3, 2**63 + 1, 2**64)]


def test_pow_exponent_type_is_checked():
    m = model(
        [helper.make_node("Pow", ["x", "y"], ["z"])],
        [tensor("x", TensorProto.FLOAT, [2]), tensor("y", TensorProto.BOOL, [2])],
        [tensor("z", TensorProto.FLOAT, None)],
        opset=15,
    )
    sess = pionnx.InferenceSession(m.SerializeToString())
    with pytest.raises(pionnx.NotImplemented, match="exponent: input dtype bool is not supported"):
        sess.run(None, {"x": np.ones(2, np.float32), "y": np.ones(2, bool)})
