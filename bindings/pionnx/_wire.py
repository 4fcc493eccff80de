"""A minimal ONNX protobuf writer, for places without the onnx package: the
armv7 smoke test and tests that must also run on the board (numpy and the
wheel only). Just enough of ModelProto for small float graphs: nodes with int
and ints attributes, float32 initializers (raw_data or float_data) and
float32 inputs/outputs with fixed shapes. Not a public API.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable, Sequence

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
