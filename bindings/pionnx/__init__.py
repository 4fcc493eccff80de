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
from ._ortvalue import IOBinding, OrtValue
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
    get_optimizer_names,
    set_default_logger_severity,
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
    "IOBinding",
    "InvalidArgument",
    "InvalidGraph",
    "InvalidProtobuf",
    "ModelMetadata",
    "NodeArg",
    "NotImplemented",
    "OrtValue",
    "RunOptions",
    "SessionOptions",
    "get_all_providers",
    "get_available_providers",
    "get_device",
    "get_optimizer_names",
    "set_default_logger_severity",
    "tensor_from_proto",
    "value_from_proto",
    "simd_info",
    "simd_paths",
]
