"""A tiny ONNX model written as protobuf bytes by hand, and its numpy answer.

No onnx package: the armv7 side has only numpy and the wheel. The model is
Y = Relu(X @ W + B) with X float32[2, 3], W float32[3, 4], B float32[4] —
three of the most common ops, one initializer each way (float_data, raw_data).
"""

from __future__ import annotations

import struct


def _varint(value: int) -> bytes:
    out = bytearray()
    value &= (1 << 64) - 1
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def _key(field: int, wire: int) -> bytes:
    return _varint(field << 3 | wire)


def _int(field: int, value: int) -> bytes:
    return _key(field, 0) + _varint(value)


def _bytes(field: int, value: bytes) -> bytes:
    return _key(field, 2) + _varint(len(value)) + value


def _str(field: int, value: str) -> bytes:
    return _bytes(field, value.encode())


FLOAT = 1  # TensorProto.FLOAT


def _value_info(name: str, dims: list[int]) -> bytes:
    shape = b"".join(_bytes(1, _int(1, d)) for d in dims)  # TensorShapeProto.dim.dim_value
    tensor_type = _int(1, FLOAT) + _bytes(2, shape)  # TypeProto.Tensor
    return _str(1, name) + _bytes(2, _bytes(1, tensor_type))  # ValueInfoProto


def _tensor_float_data(name: str, dims: list[int], values: list[float]) -> bytes:
    packed = struct.pack(f"<{len(values)}f", *values)
    return b"".join(_int(1, d) for d in dims) + _int(2, FLOAT) + _bytes(4, packed) + _str(8, name)


def _tensor_raw(name: str, dims: list[int], values: list[float]) -> bytes:
    raw = struct.pack(f"<{len(values)}f", *values)
    return b"".join(_int(1, d) for d in dims) + _int(2, FLOAT) + _str(8, name) + _bytes(9, raw)


def _node(op: str, inputs: list[str], outputs: list[str], name: str) -> bytes:
    return (
        b"".join(_str(1, i) for i in inputs)
        + b"".join(_str(2, o) for o in outputs)
        + _str(3, name)
        + _str(4, op)
    )


W = [0.5, -1.0, 0.25, 2.0, 1.5, 0.75, -0.5, -2.0, -1.25, 0.125, 1.0, 0.5]
B = [0.1, -0.2, 0.3, -0.4]


def model_bytes() -> bytes:
    graph = (
        _bytes(1, _node("MatMul", ["X", "W"], ["XW"], "matmul"))
        + _bytes(1, _node("Add", ["XW", "B"], ["Z"], "add"))
        + _bytes(1, _node("Relu", ["Z"], ["Y"], "relu"))
        + _str(2, "tiny")
        + _bytes(5, _tensor_float_data("W", [3, 4], W))
        + _bytes(5, _tensor_raw("B", [4], B))
        + _bytes(11, _value_info("X", [2, 3]))
        + _bytes(12, _value_info("Y", [2, 4]))
    )
    opset = _str(1, "") + _int(2, 13)
    return _int(1, 8) + _str(2, "pionnx-armv7-smoke") + _bytes(7, graph) + _bytes(8, opset)


def expected(x):  # x: numpy array float32[2, 3]
    import numpy as np

    w = np.array(W, dtype=np.float32).reshape(3, 4)
    b = np.array(B, dtype=np.float32)
    return np.maximum(x @ w + b, 0).astype(np.float32)
