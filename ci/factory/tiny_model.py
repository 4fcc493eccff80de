"""A tiny ONNX model written as protobuf bytes by hand, and its numpy answer.

No onnx package: the armv7 side has only numpy and the wheel (whose
pionnx._wire writes the protobuf). The model is
Y = Relu(X @ W + B) with X float32[2, 3], W float32[3, 4], B float32[4] —
three of the most common ops, one initializer each way (float_data, raw_data).
"""

from __future__ import annotations

from pionnx._wire import model, node, tensor, value_info

W = [0.5, -1.0, 0.25, 2.0, 1.5, 0.75, -0.5, -2.0, -1.25, 0.125, 1.0, 0.5]
B = [0.1, -0.2, 0.3, -0.4]


def model_bytes() -> bytes:
    return model(
        [
            node("MatMul", ["X", "W"], ["XW"], name="matmul"),
            node("Add", ["XW", "B"], ["Z"], name="add"),
            node("Relu", ["Z"], ["Y"], name="relu"),
        ],
        [tensor("W", [3, 4], W, raw=False), tensor("B", [4], B)],
        [value_info("X", [2, 3])],
        [value_info("Y", [2, 4])],
        graph_name="tiny",
        producer="pionnx-armv7-smoke",
    )


def expected(x):  # x: numpy array float32[2, 3]
    import numpy as np

    w = np.array(W, dtype=np.float32).reshape(3, 4)
    b = np.array(B, dtype=np.float32)
    return np.maximum(x @ w + b, 0).astype(np.float32)
