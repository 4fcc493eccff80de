"""A minimal ONNX protobuf writer, for places without the onnx package: the
armv7 smoke test and tests that must also run on the board (numpy and the
wheel only). Just enough of ModelProto for small float graphs: nodes with int
and ints attributes, float32 initializers (raw_data or float_data) and
float32 inputs/outputs with fixed shapes. Not a public API.

And the matching reader, `fields`: one message's (field, wire type, value)
triples, values of nested messages as views into the same buffer, for
`pionnx info` (pionnx.cli), which inspects models without the onnx package.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable, Iterator, Sequence
from typing import Union

from pionnx._onnx_fields import (
    AttributeProto,
    GraphProto,
    ModelProto,
    NodeProto,
    OperatorSetIdProto,
    TensorProto,
    TensorShapeProto,
    TensorShapeProto_Dimension,
    TypeProto,
    TypeProto_Tensor,
    ValueInfoProto,
)

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


# A field's value as `fields` yields it: an int for varint, fixed64 and fixed32
# fields (the raw bits), a view of the payload for length-delimited ones.
FieldValue = Union[int, memoryview]


def read_varint(buf: memoryview, pos: int) -> tuple[int, int]:
    """The varint at buf[pos:] and the position after it; ValueError when truncated."""
    value = shift = 0
    while True:
        if pos >= len(buf):
            raise ValueError("truncated varint")
        byte = buf[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return value, pos
        shift += 7
        if shift > 63:
            raise ValueError("varint longer than 10 bytes")


def fields(data: bytes | memoryview) -> Iterator[tuple[int, int, FieldValue]]:
    """Each field of one serialized message, in order: (field number, wire type, value).
    Length-delimited values are memoryviews into `data` (nothing is copied, so large
    initializers cost nothing to skip). ValueError on anything that is not protobuf."""
    buf = data if isinstance(data, memoryview) else memoryview(data)
    pos = 0
    while pos < len(buf):
        key, pos = read_varint(buf, pos)
        field, wire = key >> 3, key & 7
        if field == 0:
            raise ValueError("field number 0")
        value: FieldValue
        if wire == 0:
            value, pos = read_varint(buf, pos)
        elif wire == 1 or wire == 5:
            size = 8 if wire == 1 else 4
            if pos + size > len(buf):
                raise ValueError("truncated fixed-size field")
            value = int.from_bytes(buf[pos : pos + size], "little")
            pos += size
        elif wire == 2:
            size, pos = read_varint(buf, pos)
            if pos + size > len(buf):
                raise ValueError(f"field {field} claims {size} bytes, {len(buf) - pos} are left")
            value = buf[pos : pos + size]
            pos += size
        else:
            raise ValueError(f"wire type {wire} (groups are not used by ONNX)")
        yield field, wire, value


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
    head = b"".join(int_field(TensorProto.dims, d) for d in dims) + int_field(TensorProto.data_type, FLOAT)
    if raw:
        return head + bytes_field(TensorProto.name, name) + bytes_field(TensorProto.raw_data, data)
    return head + bytes_field(TensorProto.float_data, data) + bytes_field(TensorProto.name, name)


def value_info(name: str, dims: Sequence[int]) -> bytes:
    """ValueInfoProto of a float32 tensor with fixed dims."""
    shape = b"".join(
        bytes_field(TensorShapeProto.dim, int_field(TensorShapeProto_Dimension.dim_value, d)) for d in dims
    )
    tensor_type = int_field(TypeProto_Tensor.elem_type, FLOAT) + bytes_field(TypeProto_Tensor.shape, shape)
    return bytes_field(ValueInfoProto.name, name) + bytes_field(
        ValueInfoProto.type, bytes_field(TypeProto.tensor_type, tensor_type)
    )


def attr_int(name: str, value: int) -> bytes:
    return (
        bytes_field(AttributeProto.name, name) + int_field(AttributeProto.i, value) + int_field(AttributeProto.type, 2)
    )  # AttributeProto.INT


def attr_ints(name: str, values: Iterable[int]) -> bytes:
    return (
        bytes_field(AttributeProto.name, name)
        + b"".join(int_field(AttributeProto.ints, v) for v in values)
        + int_field(AttributeProto.type, 7)  # AttributeProto.INTS
    )


def node(op: str, inputs: Sequence[str], outputs: Sequence[str], attrs: Sequence[bytes] = (), name: str = "") -> bytes:
    out = b"".join(bytes_field(NodeProto.input, i) for i in inputs) + b"".join(
        bytes_field(NodeProto.output, o) for o in outputs
    )
    if name:
        out += bytes_field(NodeProto.name, name)
    return out + bytes_field(NodeProto.op_type, op) + b"".join(bytes_field(NodeProto.attribute, a) for a in attrs)


def model(
    nodes: Sequence[bytes],
    initializers: Sequence[bytes],
    inputs: Sequence[bytes],
    outputs: Sequence[bytes],
    opset: int = 13,
    graph_name: str = "g",
    producer: str = "pionnx",
) -> bytes:
    """ModelProto (IR 8) from encoded NodeProtos, TensorProtos and ValueInfoProtos."""
    graph = (
        b"".join(bytes_field(GraphProto.node, n) for n in nodes)
        + bytes_field(GraphProto.name, graph_name)
        + b"".join(bytes_field(GraphProto.initializer, t) for t in initializers)
        + b"".join(bytes_field(GraphProto.input, v) for v in inputs)
        + b"".join(bytes_field(GraphProto.output, v) for v in outputs)
    )
    opset_id = bytes_field(OperatorSetIdProto.domain, "") + int_field(OperatorSetIdProto.version, opset)
    return (
        int_field(ModelProto.ir_version, 8)
        + bytes_field(ModelProto.producer_name, producer)
        + bytes_field(ModelProto.graph, graph)
        + bytes_field(ModelProto.opset_import, opset_id)
    )
