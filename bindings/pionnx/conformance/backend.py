"""pionnx as an ``onnx.backend`` backend, for ``onnx.backend.test.BackendTest``.

``prepare`` serializes the ModelProto and hands the bytes to
``pionnx.InferenceSession``, so the suite exercises pionnx's own protobuf
reader, not the onnx package's. Imports ``onnx``: host side only.

Environment (for people running the suite, not for the product):
  PIONNX_CONFORMANCE_THREADS   intra_op_num_threads of every session
  PIONNX_CONFORMANCE_BACKEND   "onnxruntime" runs the same suite on onnxruntime,
                               to tell a pionnx bug from a test-data quirk
"""

from __future__ import annotations

import importlib
import os
from typing import Any

import numpy as np
import onnx
from onnx.backend.base import Backend, BackendRep, Device, DeviceType

from .feeds import feed_names


def _engine() -> Any:
    name = os.environ.get("PIONNX_CONFORMANCE_BACKEND", "pionnx")
    if name not in ("pionnx", "onnxruntime"):
        raise ValueError(f"PIONNX_CONFORMANCE_BACKEND must be pionnx or onnxruntime, not {name!r}")
    return importlib.import_module(name)


def _feed_value(value: Any) -> Any:
    # BackendTest hands numpy scalars for 0-d data in a few cases.
    return np.asarray(value) if isinstance(value, np.generic) else value


class PionnxBackendRep(BackendRep):
    def __init__(
        self, session: Any, input_names: list[str], initializer_names: set[str], output_names: list[str]
    ) -> None:
        self.session = session
        self.input_names = input_names
        self.initializer_names = initializer_names
        self.output_names = output_names

    def run(self, inputs: Any, **kwargs: Any) -> tuple[Any, ...]:
        if isinstance(inputs, dict):
            feeds = dict(inputs)
        elif isinstance(inputs, (list, tuple)):
            if len(inputs) > len(self.input_names):
                raise ValueError(f"{len(inputs)} inputs given, the model has {len(self.input_names)}")
            feeds = dict(zip(feed_names(self.input_names, self.initializer_names, len(inputs)), inputs))
        else:
            feeds = {feed_names(self.input_names, self.initializer_names, 1)[0]: inputs}
        feeds = {name: _feed_value(value) for name, value in feeds.items()}
        return tuple(self.session.run(self.output_names, feeds))


class PionnxBackend(Backend):
    @classmethod
    def supports_device(cls, device: str) -> bool:
        return bool(Device(device).type == DeviceType.CPU)

    @classmethod
    def prepare(cls, model: onnx.ModelProto, device: str = "CPU", **kwargs: Any) -> PionnxBackendRep:
        if not cls.supports_device(device):
            raise RuntimeError(f"pionnx runs on CPU only, not {device}")
        engine = _engine()
        options = engine.SessionOptions()
        threads = os.environ.get("PIONNX_CONFORMANCE_THREADS")
        if threads:
            options.intra_op_num_threads = int(threads)
        session = engine.InferenceSession(
            model.SerializeToString(), sess_options=options, providers=["CPUExecutionProvider"]
        )
        input_names = [value.name for value in model.graph.input]
        initializer_names = {init.name for init in model.graph.initializer}
        output_names = [value.name for value in model.graph.output]
        return PionnxBackendRep(session, input_names, initializer_names, output_names)

    @classmethod
    def run_model(cls, model: onnx.ModelProto, inputs: Any, device: str = "CPU", **kwargs: Any) -> tuple[Any, ...]:
        return cls.prepare(model, device, **kwargs).run(inputs)

    @classmethod
    def run_node(
        cls,
        node: onnx.NodeProto,
        inputs: Any,
        device: str = "CPU",
        outputs_info: Any = None,
        **kwargs: Any,
    ) -> tuple[Any, ...]:
        """Run one node on numpy inputs by wrapping it in a one-node model."""
        arrays = [np.asarray(x) for x in inputs]
        graph_inputs = [
            onnx.helper.make_tensor_value_info(name, onnx.helper.np_dtype_to_tensor_dtype(array.dtype), array.shape)
            for name, array in zip(node.input, arrays)
        ]
        graph_outputs = [onnx.helper.make_empty_tensor_value_info(name) for name in node.output]
        graph = onnx.helper.make_graph([node], "run_node", graph_inputs, graph_outputs)
        opset = kwargs.pop("opset_version", onnx.defs.onnx_opset_version())
        model = onnx.helper.make_model(graph, opset_imports=[onnx.helper.make_opsetid(node.domain, opset)])
        return cls.run_model(model, arrays, device, **kwargs)


prepare = PionnxBackend.prepare
run_model = PionnxBackend.run_model
run_node = PionnxBackend.run_node
supports_device = PionnxBackend.supports_device
