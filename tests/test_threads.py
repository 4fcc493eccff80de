"""The per-session thread pool: results do not depend on the thread count, and
sessions run from several Python threads at once (the GIL is released during
run) stay correct and never hang, including when a kernel fails mid-region."""

from __future__ import annotations

import threading

import numpy as np
import pytest
from models import model, tensor
from onnx import TensorProto, helper, numpy_helper

import pionnx

RNG = np.random.default_rng(7)
W = RNG.standard_normal((256, 192)).astype(np.float32)
B = RNG.standard_normal(192).astype(np.float32)


def mlp() -> bytes:
    """Large enough that MatMul, Add, Relu, Softmax and ReduceSum all split across threads."""
    nodes = [
        helper.make_node("MatMul", ["x", "w"], ["h"]),
        helper.make_node("Add", ["h", "b"], ["hb"]),
        helper.make_node("Relu", ["hb"], ["r"]),
        helper.make_node("Softmax", ["r"], ["s"], axis=-1),
        helper.make_node("ReduceSum", ["r"], ["total"], keepdims=0, axes=None),
        helper.make_node("Sigmoid", ["s"], ["y"]),
    ]
    m = model(
        nodes,
        [tensor("x", TensorProto.FLOAT, ["N", 256])],
        [tensor("y", TensorProto.FLOAT, ["N", 192]), tensor("total", TensorProto.FLOAT, [])],
        initializers=[numpy_helper.from_array(W, "w"), numpy_helper.from_array(B, "b")],
        opset=17,
    )
    return m.SerializeToString()


def reference(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    r = np.maximum(x.astype(np.float64) @ W + B, 0)
    e = np.exp(r - r.max(axis=-1, keepdims=True))
    s = e / e.sum(axis=-1, keepdims=True)
    return 1 / (1 + np.exp(-s)), r.sum()


def make(threads: int) -> pionnx.InferenceSession:
    opts = pionnx.SessionOptions()
    opts.intra_op_num_threads = threads
    return pionnx.InferenceSession(mlp(), opts)


@pytest.mark.parametrize("rows", [1, 3, 64, 1000])
def test_thread_count_does_not_change_results(rows):
    x = RNG.standard_normal((rows, 256)).astype(np.float32)
    outs = [make(t).run(None, {"x": x}) for t in (1, 2, 3, 8)]
    ref_y, ref_total = reference(x)
    for y, total in outs:
        np.testing.assert_allclose(y, ref_y, rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(total, ref_total, rtol=1e-4)
        # Same split points per element: the elementwise ops are bit-identical.
        np.testing.assert_allclose(y, outs[0][0], rtol=1e-6, atol=1e-7)


def test_one_session_from_many_python_threads():
    sess = make(2)
    inputs = [RNG.standard_normal((int(RNG.integers(1, 300)), 256)).astype(np.float32) for _ in range(24)]
    results: dict[int, list[np.ndarray]] = {}
    errors: list[BaseException] = []

    def work(i: int) -> None:
        try:
            for _ in range(5):
                results[i] = sess.run(None, {"x": inputs[i]})
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(len(inputs))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not any(t.is_alive() for t in threads), "a run hung"
    assert not errors, errors
    for i, x in enumerate(inputs):
        ref_y, _ = reference(x)
        np.testing.assert_allclose(results[i][0], ref_y, rtol=1e-5, atol=1e-6)


def test_many_sessions_each_with_a_pool():
    x = RNG.standard_normal((128, 256)).astype(np.float32)
    ref_y, _ = reference(x)
    sessions = [make(2) for _ in range(16)]
    for sess in sessions:
        np.testing.assert_allclose(sess.run(None, {"x": x})[0], ref_y, rtol=1e-5, atol=1e-6)
    del sessions  # joins every pool's workers; a lost wake-up would hang here


def test_failure_inside_a_parallel_kernel_is_raised_and_the_pool_recovers():
    """GatherElements checks each index inside its parallel copy loop."""
    data = RNG.standard_normal((4096, 64)).astype(np.float32)
    m = model(
        [helper.make_node("GatherElements", ["data", "idx"], ["y"], axis=0)],
        [tensor("data", TensorProto.FLOAT, [4096, 64]), tensor("idx", TensorProto.INT64, [4096, 64])],
        [tensor("y", TensorProto.FLOAT, [4096, 64])],
    )
    opts = pionnx.SessionOptions()
    opts.intra_op_num_threads = 2
    sess = pionnx.InferenceSession(m.SerializeToString(), opts)
    idx = np.tile(np.arange(4096, dtype=np.int64)[::-1, None], (1, 64))
    for row in (5, 3000):  # a bad index early and late in the range
        bad = idx.copy()
        bad[row, 7] = 10_000
        with pytest.raises(pionnx.InvalidArgument, match="10000"):
            sess.run(None, {"data": data, "idx": bad})
    np.testing.assert_array_equal(sess.run(None, {"data": data, "idx": idx})[0], data[::-1])


def test_sessions_side_by_side_share_the_cores():
    """Two 4-thread sessions run at once from two Python threads. A region takes helper threads
    only while fewer than default_threads() threads are busy, so the callers (which always run)
    plus helpers stay within cores + callers - 1, instead of 2 x 4 threads."""
    from pionnx import _core

    cores = _core.default_threads()
    sessions = [make(4), make(4)]
    x = RNG.standard_normal((2000, 256)).astype(np.float32)
    ref_y, _ = reference(x)
    _core.peak_busy_threads(reset=True)
    errors: list[BaseException] = []

    def work(sess):
        try:
            for _ in range(20):
                np.testing.assert_allclose(sess.run(None, {"x": x})[0], ref_y, rtol=1e-5, atol=1e-6)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(s,)) for s in sessions]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=300)
    assert not errors, errors
    peak = _core.peak_busy_threads()
    assert 1 <= peak <= cores + len(sessions) - 1, (peak, cores)
    assert peak < 2 * 4
    assert _core.busy_threads() == 0
