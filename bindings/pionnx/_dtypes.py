"""The ONNX element types and their numpy and ml_dtypes spellings: the one table the session
(feeds and outputs), OrtValue, the `pionnx` command and the conformance runner read."""

from __future__ import annotations

from typing import Any

import numpy as np

# TensorProto.DataType code -> the element name in type strings ("tensor(float)"), as onnxruntime writes it.
ELEM_NAMES: dict[int, str] = {
    1: "float",
    2: "uint8",
    3: "int8",
    4: "uint16",
    5: "int16",
    6: "int32",
    7: "int64",
    8: "string",
    9: "bool",
    10: "float16",
    11: "double",
    12: "uint32",
    13: "uint64",
    14: "complex64",
    15: "complex128",
    16: "bfloat16",
    17: "float8e4m3fn",
    18: "float8e4m3fnuz",
    19: "float8e5m2",
    20: "float8e5m2fnuz",
    21: "uint4",
    22: "int4",
    23: "float4e2m1",
    24: "float8e8m0",
    25: "uint2",
    26: "int2",
}
ELEM_CODES: dict[str, int] = {name: code for code, name in ELEM_NAMES.items()}

# numpy dtype -> element name, for the element types numpy has (and pionnx runs).
NUMPY_ELEMS: dict[np.dtype[Any], str] = {
    np.dtype(np.float32): "float",
    np.dtype(np.float64): "double",
    np.dtype(np.float16): "float16",
    np.dtype(np.int8): "int8",
    np.dtype(np.int16): "int16",
    np.dtype(np.int32): "int32",
    np.dtype(np.int64): "int64",
    np.dtype(np.uint8): "uint8",
    np.dtype(np.uint16): "uint16",
    np.dtype(np.uint32): "uint32",
    np.dtype(np.uint64): "uint64",
    np.dtype(np.bool_): "bool",
}
NUMPY_BY_ELEM: dict[str, np.dtype[Any]] = {name: dtype for dtype, name in NUMPY_ELEMS.items()}

# The element types numpy lacks, carried by ml_dtypes: ml_dtypes name -> element name. pionnx stores
# each one byte per element (two for bfloat16) exactly as ml_dtypes does, 4- and 2-bit types unpacked.
ML_DTYPES: dict[str, str] = {
    "bfloat16": "bfloat16",
    "float8_e4m3fn": "float8e4m3fn",
    "float8_e4m3fnuz": "float8e4m3fnuz",
    "float8_e5m2": "float8e5m2",
    "float8_e5m2fnuz": "float8e5m2fnuz",
    "uint4": "uint4",
    "int4": "int4",
    "float4_e2m1fn": "float4e2m1",
    "float8_e8m0fnu": "float8e8m0",
    "uint2": "uint2",
    "int2": "int2",
}
ML_BY_ELEM: dict[str, str] = {elem: name for name, elem in ML_DTYPES.items()}
