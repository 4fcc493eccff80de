"""Which graph input each positional test input (input_K.pb) feeds. numpy-free, onnx-free."""

from __future__ import annotations

from collections.abc import Iterable


def feed_names(input_names: list[str], initializer_names: Iterable[str], count: int) -> list[str]:
    """Names for `count` positional inputs, paired the way onnxruntime's backend pairs them.

    Positional data go to the graph inputs that are not initializers (IR < 4
    models, such as the light models, list every weight as a graph input too);
    only when more data than that are given do they pair with graph.input as is.
    """
    initializers = set(initializer_names)
    required = [name for name in input_names if name not in initializers]
    return required[:count] if count <= len(required) else input_names[:count]
