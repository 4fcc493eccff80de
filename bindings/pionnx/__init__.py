"""pionnx: a compact ONNX inference runtime with an onnxruntime-compatible API.

``import pionnx as ort`` works for the common onnxruntime code path::

    sess = pionnx.InferenceSession("model.onnx")
    outputs = sess.run(None, {"input": x})
"""

from ._core import (
    Fail,
    InvalidArgument,
    InvalidGraph,
    InvalidProtobuf,
    NotImplemented,  # noqa: A004 - the onnxruntime name
    simd_info,
    simd_paths,
)
from ._session import (
    ExecutionMode,
    GraphOptimizationLevel,
    InferenceSession,
    ModelMetadata,
    NodeArg,
    RunOptions,
    SessionOptions,
    get_all_providers,
    get_available_providers,
    get_device,
    tensor_from_proto,
    value_from_proto,
)
from ._version import __version__

__all__ = [
    "__version__",
    "ExecutionMode",
    "Fail",
    "GraphOptimizationLevel",
    "InferenceSession",
    "InvalidArgument",
    "InvalidGraph",
    "InvalidProtobuf",
    "ModelMetadata",
    "NodeArg",
    "NotImplemented",
    "RunOptions",
    "SessionOptions",
    "get_all_providers",
    "get_available_providers",
    "get_device",
    "tensor_from_proto",
    "value_from_proto",
    "simd_info",
    "simd_paths",
]
