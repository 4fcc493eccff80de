"""The per-session thread pool: results do not depend on the thread count, and
sessions run from several Python threads at once (the GIL is released during
run) stay correct and never hang, including when a kernel fails mid-region."""

from __future__ import annotations

import os
import threading
import time

import numpy as np
import pytest
from models import model, tensor
from onnx import TensorProto, helper, numpy_helper

import pionnx

RNG = np.random.default_rng(7)
W = RNG.standard_normal((256, 192)).astype(np.float32)
B = RNG.standard_normal(192).astype(np.float32)


def run_in_threads(work, args_list, timeout: float) -> None:
    """work(*args) in one thread per args; fails on a thread still running after `timeout` seconds
    and on any exception a thread raised (re-raised here, in the test's own thread)."""
    errors: list[BaseException] = []

    def guarded(*args) -> None:
        try:
            work(*args)
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=guarded, args=args) for args in args_list]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=timeout)
    assert not any(t.is_alive() for t in threads), "a run hung"
    assert not errors, errors


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

    def work(i: int) -> None:
        for _ in range(5):
            results[i] = sess.run(None, {"x": inputs[i]})

    run_in_threads(work, [(i,) for i in range(len(inputs))], timeout=120)
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

    def work(sess):
        for _ in range(20):
            np.testing.assert_allclose(sess.run(None, {"x": x})[0], ref_y, rtol=1e-5, atol=1e-6)

    run_in_threads(work, [(s,) for s in sessions], timeout=300)
    peak = _core.peak_busy_threads()
    assert 1 <= peak <= cores + len(sessions) - 1, (peak, cores)
    assert peak < 2 * 4
    assert _core.busy_threads() == 0


def conv_net() -> bytes:
    """Conv (packed weights), BatchNorm, pooling, Gemm, and a Loop whose body is a subgraph executor shared by runs."""
    rng = np.random.default_rng(3)
    w1 = rng.standard_normal((16, 3, 3, 3)).astype(np.float32) * 0.3
    w2 = rng.standard_normal((32, 16, 3, 3)).astype(np.float32) * 0.1
    fc = rng.standard_normal((10, 32)).astype(np.float32)
    body = helper.make_graph(
        [helper.make_node("Mul", ["acc_in", "half"], ["acc_out"]), helper.make_node("Identity", ["c"], ["c_out"])],
        "body",
        [
            tensor("i", TensorProto.INT64, []),
            tensor("c", TensorProto.BOOL, []),
            tensor("acc_in", TensorProto.FLOAT, None),
        ],
        [tensor("c_out", TensorProto.BOOL, []), tensor("acc_out", TensorProto.FLOAT, None)],
        [numpy_helper.from_array(np.array(0.5, np.float32), "half")],
    )
    nodes = [
        helper.make_node("Conv", ["x", "w1"], ["c1"], pads=[1, 1, 1, 1]),
        helper.make_node("Relu", ["c1"], ["r1"]),
        helper.make_node("MaxPool", ["r1"], ["p1"], kernel_shape=[2, 2], strides=[2, 2]),
        helper.make_node("Conv", ["p1", "w2"], ["c2"], pads=[1, 1, 1, 1]),
        helper.make_node("Relu", ["c2"], ["r2"]),
        helper.make_node("GlobalAveragePool", ["r2"], ["g"]),
        helper.make_node("Flatten", ["g"], ["f"]),
        helper.make_node("Gemm", ["f", "fc"], ["logits"], transB=1),
        helper.make_node("Loop", ["trip", "", "logits"], ["y"], body=body),
    ]
    m = model(
        nodes,
        [tensor("x", TensorProto.FLOAT, ["N", 3, 32, 32])],
        [tensor("y", TensorProto.FLOAT, None)],
        initializers=[
            numpy_helper.from_array(w1, "w1"),
            numpy_helper.from_array(w2, "w2"),
            numpy_helper.from_array(fc, "fc"),
            numpy_helper.from_array(np.array(3, np.int64), "trip"),
        ],
        opset=17,
    )
    return m.SerializeToString()


def int8_matmul() -> bytes:
    """MatMulInteger with a constant int8 weight (packed once, on first use)."""
    w = np.random.default_rng(4).integers(-128, 128, (256, 128), dtype=np.int8)
    m = model(
        [helper.make_node("MatMulInteger", ["x", "w"], ["y"])],
        [tensor("x", TensorProto.UINT8, ["N", 256])],
        [tensor("y", TensorProto.INT32, ["N", 128])],
        initializers=[numpy_helper.from_array(w, "w")],
        opset=17,
    )
    return m.SerializeToString()


CONCURRENT_MODELS = {
    "mlp": (mlp, lambda rng, n: {"x": rng.standard_normal((n, 256)).astype(np.float32)}),
    "conv_net": (conv_net, lambda rng, n: {"x": rng.standard_normal((n, 3, 32, 32)).astype(np.float32)}),
    "int8_matmul": (int8_matmul, lambda rng, n: {"x": rng.integers(0, 256, (n, 256), dtype=np.uint8)}),
}


def single_threaded(data: bytes) -> pionnx.InferenceSession:
    opts = pionnx.SessionOptions()
    opts.intra_op_num_threads = 1
    return pionnx.InferenceSession(data, opts)


@pytest.mark.parametrize("name", list(CONCURRENT_MODELS))
def test_concurrent_runs_equal_serial_runs(name):
    """Four threads run one fresh session at once (so the first-use weight packing races too);
    every result is bitwise equal to the same feed run alone on another session."""
    build, feeds_for = CONCURRENT_MODELS[name]
    data = build()
    rng = np.random.default_rng(11)
    feeds = [feeds_for(rng, int(rng.integers(1, 9))) for _ in range(16)]
    serial = single_threaded(data)
    expected = [serial.run(None, f) for f in feeds]
    shared = single_threaded(data)
    start = threading.Barrier(4)
    got: dict[tuple[int, int], list[np.ndarray]] = {}

    def work(k: int) -> None:
        start.wait()
        for rep in range(3):
            for i in range(k % 2, len(feeds), 2):  # threads 0 and 2 run the even feeds, 1 and 3 the odd
                got[(k, i, rep)] = shared.run(None, feeds[i])

    run_in_threads(work, [(k,) for k in range(4)], timeout=300)
    assert len(got) == 4 * 3 * len(feeds) // 2
    for (_, i, _), outs in got.items():
        for a, b in zip(outs, expected[i]):
            np.testing.assert_array_equal(a, b)


def test_runs_of_one_session_overlap():
    """Two threads calling run() on one single-threaded session are inside run() at the same
    time: the session keeps per-run state instead of serializing runs behind a lock."""
    sess = single_threaded(conv_net())
    x = RNG.standard_normal((8, 3, 32, 32)).astype(np.float32)
    ref = sess.run(None, {"x": x})[0]
    assert sess.get_profile()["peak_concurrent_runs"] == 1
    start = threading.Barrier(2)
    outs: list[np.ndarray] = []

    def work() -> None:
        start.wait()
        for _ in range(40):
            outs.append(sess.run(None, {"x": x})[0])

    run_in_threads(work, [(), ()], timeout=300)
    assert len(outs) == 80
    for y in outs:
        np.testing.assert_array_equal(y, ref)
    assert sess.get_profile()["peak_concurrent_runs"] == 2


@pytest.mark.skipif(
    not hasattr(os, "sched_getaffinity") or len(os.sched_getaffinity(0)) < 2, reason="needs Linux and two CPUs"
)
def test_idle_workers_may_run_on_every_allowed_cpu():
    """A worker woken on its caller's CPU narrows its own affinity to move off it while it works (see
    thread_pool.cc); once it sleeps again its affinity must be the process's whole set, never left pinned."""
    allowed = os.sched_getaffinity(0)
    before = set(os.listdir("/proc/self/task"))
    sess = make(2)
    workers = set(os.listdir("/proc/self/task")) - before
    assert workers, "a 2-thread session starts a worker thread"
    x = np.random.default_rng(0).standard_normal((512, 256)).astype(np.float32)
    for _ in range(40):
        time.sleep(0.01)  # past the 1.5 ms spin window: every run wakes a sleeping worker
        np.testing.assert_allclose(sess.run(None, {"x": x})[0], reference(x)[0], rtol=1e-4, atol=1e-4)
    time.sleep(0.05)
    for tid in workers:
        assert os.sched_getaffinity(int(tid)) == allowed, f"worker {tid} left with a narrowed CPU set"


@pytest.mark.parametrize("trans_b", [0, 1])
@pytest.mark.parametrize("layout", ["row", "column"])
def test_matrix_vector_products_split_over_threads(trans_b, layout):
    """Batch-1 fully connected layers (M == 1) and matrix-vector products (N == 1) stream the
    whole weight matrix and split it over the pool: 2 threads give 1 thread's values bit for bit,
    and numpy's, with an output count (1000) that is no multiple of the 16-wide blocks."""
    rng = np.random.default_rng(3)
    K, N = 700, 1000
    w = rng.standard_normal((N, K) if trans_b else (K, N)).astype(np.float32)
    if layout == "row":  # x [1, K] @ op(w) -> [1, N]
        node = helper.make_node("Gemm", ["x", "w"], ["y"], transB=trans_b)
        x = rng.standard_normal((1, K)).astype(np.float32)
        want = x.astype(np.float64) @ (w.T if trans_b else w).astype(np.float64)
    else:  # op(w)^T as A [N, K] @ x [K, 1] -> [N, 1]
        node = helper.make_node("Gemm", ["w", "x"], ["y"], transA=0 if trans_b else 1)
        x = rng.standard_normal((K, 1)).astype(np.float32)
        want = (w if trans_b else w.T).astype(np.float64) @ x.astype(np.float64)
    g = helper.make_graph(
        [node],
        "g",
        [tensor("x", TensorProto.FLOAT, list(x.shape))],
        [tensor("y", TensorProto.FLOAT, None)],
        initializer=[numpy_helper.from_array(w, "w")],
    )
    data = helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)]).SerializeToString()
    outs = []
    for threads in (1, 2):
        so = pionnx.SessionOptions()
        so.intra_op_num_threads = threads
        outs.append(pionnx.InferenceSession(data, so).run(None, {"x": x})[0])
    np.testing.assert_array_equal(outs[0], outs[1])
    np.testing.assert_allclose(outs[1], want, rtol=1e-4, atol=1e-3)
