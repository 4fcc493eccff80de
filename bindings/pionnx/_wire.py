"""A minimal ONNX protobuf writer, for places without the onnx package: the
armv7 smoke test and tests that must also run on the board (numpy and the
wheel only). Just enough of ModelProto for small float graphs: nodes with int
and ints attributes, float32 initializers (raw_data or float_data) and
float32 inputs/outputs with fixed shapes. Not a public API.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable, Sequence

FLOAT = 1  # TensorProto.FLOAT


def varint(value: int) -> bytes:
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


def int_field(field: int, value: int) -> bytes:
    return varint(field << 3) + varint(value)


def bytes_field(field: int, value: bytes | str) -> bytes:
    if isinstance(value, str):
        value = value.encode()
    return varint(field << 3 | 2) + varint(len(value)) + value


def tensor(name: str, dims: Sequence[int], values: Sequence[float] | bytes, raw: bool = True) -> bytes:
    """TensorProto of float32: `values` as little-endian bytes or a flat sequence;
    stored in raw_data, or in float_data when raw is False."""
    data = values if isinstance(values, bytes) else struct.pack(f"<{len(values)}f", *values)
    head = b"".join(int_field(1, d) for d in dims) + int_field(2, FLOAT)
    if raw:
        return head + bytes_field(8, name) + bytes_field(9, data)
    return head + bytes_field(4, data) + bytes_field(8, name)


def value_info(name: str, dims: Sequence[int]) -> bytes:
    """ValueInfoProto of a float32 tensor with fixed dims."""
    shape = b"".join(bytes_field(1, int_field(1, d)) for d in dims)
    tensor_type = int_field(1, FLOAT) + bytes_field(2, shape)
    return bytes_field(1, name) + bytes_field(2, bytes_field(1, tensor_type))


def attr_int(name: str, value: int) -> bytes:
    return bytes_field(1, name) + int_field(3, value) + int_field(20, 2)  # AttributeProto INT


def attr_ints(name: str, values: Iterable[int]) -> bytes:
    return bytes_field(1, name) + b"".join(int_field(8, v) for v in values) + int_field(20, 7)  # INTS


def node(op: str, inputs: Sequence[str], outputs: Sequence[str], attrs: Sequence[bytes] = (), name: str = "") -> bytes:
    out = b"".join(bytes_field(1, i) for i in inputs) + b"".join(bytes_field(2, o) for o in outputs)
    if name:
        out += bytes_field(3, name)
    return out + bytes_field(4, op) + b"".join(bytes_field(5, a) for a in attrs)


def model(nodes: Sequence[bytes], initializers: Sequence[bytes], inputs: Sequence[bytes], outputs: Sequence[bytes],
          opset: int = 13, graph_name: str = "g", producer: str = "pionnx") -> bytes:
    """ModelProto (IR 8) from encoded NodeProtos, TensorProtos and ValueInfoProtos."""
    graph = (b"".join(bytes_field(1, n) for n in nodes) + bytes_field(2, graph_name)
             + b"".join(bytes_field(5, t) for t in initializers)
             + b"".join(bytes_field(11, v) for v in inputs) + b"".join(bytes_field(12, v) for v in outputs))
    opset_id = bytes_field(1, "") + int_field(2, opset)
    return int_field(1, 8) + bytes_field(2, producer) + bytes_field(7, graph) + bytes_field(8, opset_id)
