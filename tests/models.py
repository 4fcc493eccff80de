"""Small ONNX models for the API and error tests, built with onnx.helper."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from collections.abc import Sequence

import numpy as np
import onnx
from onnx import TensorProto, helper

OPSET = 17


def tensor(name: str, elem_type: int, shape: Sequence[int | str | None] | None) -> onnx.ValueInfoProto:
    return helper.make_tensor_value_info(name, elem_type, shape)


def model(
    nodes: list[onnx.NodeProto],
    inputs: list[onnx.ValueInfoProto],
    outputs: list[onnx.ValueInfoProto],
    initializers: Sequence[onnx.TensorProto] = (),
    opset: int = OPSET,
    extra_opsets: Sequence[tuple[str, int]] = (),
    name: str = "graph",
    ir_version: int = 8,
) -> onnx.ModelProto:
    graph = helper.make_graph(nodes, name, inputs, outputs, initializer=list(initializers))
    opsets = [helper.make_opsetid("", opset)] + [helper.make_opsetid(d, v) for d, v in extra_opsets]
    m = helper.make_model(graph, opset_imports=opsets, producer_name="pionnx-tests")
    m.ir_version = ir_version
    return m


def identity(elem_type: int, shape: Sequence[int | str | None] | None = None) -> onnx.ModelProto:
    return model(
        [helper.make_node("Identity", ["x"], ["y"], name="identity")],
        [tensor("x", elem_type, shape)],
        [tensor("y", elem_type, shape)],
    )


def add_mul() -> onnx.ModelProto:
    """sum = a + b, prod = a * b over float [N, 3]."""
    return model(
        [
            helper.make_node("Add", ["a", "b"], ["sum"], name="add"),
            helper.make_node("Mul", ["a", "b"], ["prod"], name="mul"),
        ],
        [tensor("a", TensorProto.FLOAT, ["N", 3]), tensor("b", TensorProto.FLOAT, ["N", 3])],
        [tensor("sum", TensorProto.FLOAT, ["N", 3]), tensor("prod", TensorProto.FLOAT, ["N", 3])],
    )


def fixed_add() -> onnx.ModelProto:
    """y = x + 1 over float [2, 3] (no symbolic dimension)."""
    one = helper.make_tensor("one", TensorProto.FLOAT, [1], [1.0])
    return model(
        [helper.make_node("Add", ["x", "one"], ["y"], name="add_one")],
        [tensor("x", TensorProto.FLOAT, [2, 3])],
        [tensor("y", TensorProto.FLOAT, [2, 3])],
        initializers=[one],
    )


def external_weight_model(location: str, offset: int | None = None, length: int | None = None) -> onnx.ModelProto:
    """y = x + w, with w (float [4]) stored outside the model file at `location`."""
    w = TensorProto()
    w.name = "w"
    w.data_type = TensorProto.FLOAT
    w.dims.extend([4])
    w.data_location = TensorProto.EXTERNAL
    entries = [("location", location)]
    if offset is not None:
        entries.append(("offset", str(offset)))
    if length is not None:
        entries.append(("length", str(length)))
    for key, value in entries:
        entry = w.external_data.add()
        entry.key = key
        entry.value = value
    return model(
        [helper.make_node("Add", ["x", "w"], ["y"], name="add_w")],
        [tensor("x", TensorProto.FLOAT, [4])],
        [tensor("y", TensorProto.FLOAT, [4])],
        initializers=[w],
    )


WEIGHTS = np.array([1.0, 2.0, 3.0, 4.0], dtype=np.float32)


def convert_sklearn(fitted, n_features: int, options: dict | None = None) -> bytes:
    """A fitted scikit-learn model through skl2onnx (input "X": float [None, n_features]; opsets 17 and ai.onnx.ml 3).

    Needs scikit-learn and skl2onnx: callers importorskip them first.
    """
    import skl2onnx
    from skl2onnx.common.data_types import FloatTensorType

    onx = skl2onnx.convert_sklearn(
        fitted,
        initial_types=[("X", FloatTensorType([None, n_features]))],
        options=options,
        target_opset={"": 17, "ai.onnx.ml": 3},
    )
    return onx.SerializeToString()


def run_python(code: str, *args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    """Run `code` in a fresh interpreter, so a crash of pionnx fails one test, not pytest."""
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def describe(proc: subprocess.CompletedProcess) -> str:
    how = f"killed by signal {-proc.returncode}" if proc.returncode < 0 else f"exit code {proc.returncode}"
    return f"{how}\n--- stdout\n{proc.stdout[-3000:]}\n--- stderr\n{proc.stderr[-3000:]}"


def nchwc_chain_model(batch: int = 2, seed: int = 5) -> tuple[onnx.ModelProto, dict[str, np.ndarray]]:
    """A chain the NCHWc layout pass blocks whole (runtime/src/optimize/nchwc_layout.cc), and random feeds:
    3x3 and 1x1 convolutions, stride 2 with asymmetric pads, a dilated 5x5, Relu and Clip fused into them, a
    residual Add (FusedConv's Z), max and average pools (pads, count_include_pad, ceil_mode), a channel
    Concat, Sigmoid and Mul between blocked tensors, global pools; a blocked value is also a graph output,
    and the map sizes leave partial register tiles. Input x [batch, 32, 19, 23]."""
    from onnx import numpy_helper

    rng = np.random.default_rng(seed)

    def weight(name: str, *shape: int) -> onnx.TensorProto:
        return numpy_helper.from_array((rng.standard_normal(shape) * 0.2).astype(np.float32), name)

    inits = [
        weight("w1", 48, 32, 3, 3),
        weight("b1", 48),
        weight("w2", 64, 48, 1, 1),
        weight("w3", 64, 64, 3, 3),
        weight("b3", 64),
        weight("w4", 64, 64, 1, 1),
        weight("b4", 64),
        weight("w5", 32, 64, 5, 5),
        numpy_helper.from_array(np.float32(-0.5), "lo"),
        numpy_helper.from_array(np.float32(0.7), "hi"),
    ]
    node = helper.make_node
    nodes = [
        node("Conv", ["x", "w1", "b1"], ["c1"], pads=[1, 1, 1, 1]),
        node("Relu", ["c1"], ["r1"]),
        node("Conv", ["r1", "w2"], ["c2"]),
        node("MaxPool", ["c2"], ["p1"], kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1]),
        node("Conv", ["p1", "w3", "b3"], ["c3"], strides=[2, 2], pads=[0, 1, 1, 0]),
        node("Clip", ["c3", "lo", "hi"], ["k3"]),
        node("Conv", ["k3", "w4", "b4"], ["c4"]),
        node("Add", ["c4", "k3"], ["a"]),
        node("Relu", ["a"], ["ra"]),
        node("Conv", ["ra", "w5"], ["c5"], dilations=[2, 2], pads=[4, 4, 4, 4]),
        node("Concat", ["ra", "c5"], ["cat"], axis=1),
        node("AveragePool", ["cat"], ["ap"], kernel_shape=[2, 2], pads=[1, 1, 0, 0], count_include_pad=1),
        node("Sigmoid", ["ap"], ["sg"]),
        node("Mul", ["sg", "ap"], ["m"]),
        node("MaxPool", ["m"], ["mp"], kernel_shape=[2, 2], strides=[2, 2]),
        node("GlobalAveragePool", ["mp"], ["y1"]),
        node("AveragePool", ["cat"], ["ap2"], kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1], ceil_mode=1),
        node("GlobalMaxPool", ["ap2"], ["y2"]),
    ]
    outputs = [tensor(name, TensorProto.FLOAT, None) for name in ("y1", "y2", "c5", "c2")]
    m = model(nodes, [tensor("x", TensorProto.FLOAT, [batch, 32, 19, 23])], outputs, inits)
    return m, {"x": rng.standard_normal((batch, 32, 19, 23)).astype(np.float32)}


def nchwc_depthwise_model(batch: int = 2, seed: int = 6) -> tuple[onnx.ModelProto, dict[str, np.ndarray]]:
    """A MobileNet-style chain the NCHWc layout pass blocks whole with its depthwise convolutions: a 1x1
    expansion with Clip (ReLU6) fused, a depthwise 3x3 (pads 1) with Relu, a 1x1 projection, a residual Add
    of the chain's input, then a depthwise 3x3 of stride 2 with asymmetric pads, a dilated depthwise 3x3 and
    a 1x1 with a bias. The batch is symbolic (the pass relates the residual to the output through the input's
    batch); map sizes leave edge positions and partial tiles. Input x [batch, 32, 13, 11]."""
    from onnx import numpy_helper

    rng = np.random.default_rng(seed)

    def weight(name: str, *shape: int) -> onnx.TensorProto:
        return numpy_helper.from_array((rng.standard_normal(shape) * 0.2).astype(np.float32), name)

    C, E = 32, 96
    inits = [
        weight("we", E, C, 1, 1),
        weight("be", E),
        weight("wd1", E, 1, 3, 3),
        weight("bd1", E),
        weight("wp", C, E, 1, 1),
        weight("we2", E, C, 1, 1),
        weight("wd2", E, 1, 3, 3),
        weight("wd3", E, 1, 3, 3),
        weight("wo", C, E, 1, 1),
        weight("bo", C),
        numpy_helper.from_array(np.float32(0.0), "lo"),
        numpy_helper.from_array(np.float32(6.0), "hi"),
    ]
    node = helper.make_node
    nodes = [
        node("Conv", ["x", "we", "be"], ["e"]),
        node("Clip", ["e", "lo", "hi"], ["e6"]),
        node("Conv", ["e6", "wd1", "bd1"], ["d1"], group=E, pads=[1, 1, 1, 1]),
        node("Relu", ["d1"], ["r1"]),
        node("Conv", ["r1", "wp"], ["p"]),
        node("Add", ["p", "x"], ["s"]),
        node("Conv", ["s", "we2"], ["e2"]),
        node("Conv", ["e2", "wd2"], ["d2"], group=E, strides=[2, 2], pads=[0, 1, 2, 1]),
        node("Conv", ["d2", "wd3"], ["d3"], group=E, dilations=[2, 2], pads=[2, 2, 2, 2]),
        node("Conv", ["d3", "wo", "bo"], ["y"]),
    ]
    m = model(
        nodes, [tensor("x", TensorProto.FLOAT, ["batch", C, 13, 11])], [tensor("y", TensorProto.FLOAT, None)], inits
    )
    return m, {"x": rng.standard_normal((batch, C, 13, 11)).astype(np.float32)}
