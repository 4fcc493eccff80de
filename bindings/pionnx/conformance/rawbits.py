"""Element types numpy cannot hold (bfloat16, float8, float4, int4, int2, e8m0) for a
harness without ml_dtypes, as on the armv7 board: values stay as the runtime's
bit patterns end to end, and are decoded to float64 here only to be compared.

The decoders follow the ONNX type definitions and do not use pionnx's own
conversions, so a wrong bit pattern from the runtime shows up as a mismatch.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from .._dtypes import ELEM_CODES, ML_DTYPES

# TensorProto.DataType code -> the numpy dtype name onnx's reference (ml_dtypes) uses.
NAMES = {ELEM_CODES[elem]: name for name, elem in ML_DTYPES.items()}


@dataclass
class RawBits:
    """A tensor of an exotic element type: its code and its bits, one element per
    uint8 (uint16 for bfloat16), 4- and 2-bit types unpacked, int4 and int2 sign-extended."""

    code: int
    bits: np.ndarray

    @property
    def dtype_name(self) -> str:
        return NAMES[self.code]

    @property
    def shape(self) -> tuple[int, ...]:
        return self.bits.shape


def have_ml_dtypes() -> bool:
    try:
        import ml_dtypes  # noqa: F401
    except ImportError:
        return False
    return True


def wrap(value: Any) -> Any:
    """_core's ("rawdtype", code, bits) -> RawBits; everything else unchanged (lists recursed)."""
    if isinstance(value, tuple) and len(value) == 3 and value[0] == "rawdtype":
        return RawBits(int(value[1]), value[2])
    if isinstance(value, list):
        return [wrap(v) for v in value]
    return value


def unwrap(value: Any) -> Any:
    """RawBits -> the ("rawdtype", code, bits) feed _core accepts."""
    if isinstance(value, RawBits):
        # np.ascontiguousarray makes a 0-d array 1-d: keep the shape.
        return ("rawdtype", value.code, np.ascontiguousarray(value.bits).reshape(value.bits.shape))
    if isinstance(value, list):
        return [unwrap(v) for v in value]
    return value


def _minifloat_table(exp_bits: int, man_bits: int, bias: int, kind: str) -> np.ndarray:
    """float64 value of every code of a sign/exponent/mantissa byte format.

    kind: 'ieee' (all-ones exponent: inf/NaN), 'fn' (only all-ones code is NaN,
    no infinities), 'fnuz' (0x80 is NaN, no negative zero, no infinities)."""
    width = 1 + exp_bits + man_bits
    table = np.empty(1 << width, dtype=np.float64)
    for code in range(1 << width):
        sign = -1.0 if code >> (width - 1) else 1.0
        e = (code >> man_bits) & ((1 << exp_bits) - 1)
        m = code & ((1 << man_bits) - 1)
        if e == 0:
            v = m / (1 << man_bits) * 2.0 ** (1 - bias)
        else:
            v = (1 + m / (1 << man_bits)) * 2.0 ** (e - bias)
        table[code] = sign * v
        if kind == "ieee" and e == (1 << exp_bits) - 1:
            table[code] = sign * np.inf if m == 0 else np.nan
        if kind == "fn" and e == (1 << exp_bits) - 1 and m == (1 << man_bits) - 1:
            table[code] = np.nan
    if kind == "fnuz":
        table[1 << (width - 1)] = np.nan
    return table


_TABLES = {
    17: _minifloat_table(4, 3, 7, "fn"),
    18: _minifloat_table(4, 3, 8, "fnuz"),
    19: _minifloat_table(5, 2, 15, "ieee"),
    20: _minifloat_table(5, 2, 16, "fnuz"),
    23: _minifloat_table(2, 1, 1, "none"),
}


def to_float64(raw: RawBits) -> np.ndarray:
    bits = raw.bits
    if raw.code == 16:
        with np.errstate(invalid="ignore"):  # NaN payloads
            return (bits.astype(np.uint32) << 16).view(np.float32).astype(np.float64)
    if raw.code == 21:
        return (bits & 0xF).astype(np.float64)
    if raw.code == 25:
        return (bits & 0x3).astype(np.float64)
    if raw.code in (22, 26):
        return bits.view(np.int8).astype(np.float64)
    if raw.code == 24:
        out = np.exp2(bits.astype(np.float64) - 127.0)
        out[bits == 0xFF] = np.nan
        return out
    return _TABLES[raw.code][(bits & (0xF if raw.code == 23 else 0xFF)).astype(np.intp)]


def decode(value: Any) -> Any:
    """RawBits (also inside lists) -> float64 arrays, for the comparison."""
    if isinstance(value, RawBits):
        return to_float64(value)
    if isinstance(value, list):
        return [decode(v) for v in value]
    return value
