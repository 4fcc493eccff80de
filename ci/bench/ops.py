"""Single operators side by side: pionnx against onnxruntime (`python -m ci.bench.run --ops`).

    python -m ci.bench.run --ops                       # every case below, 1 thread
    python -m ci.bench.run --ops --ops-filter conv     # the cases whose name holds "conv"
    python -m ci.bench.run --ops --threads 1,2

The model bench times whole networks; this table times one node each, on the
shapes real models give it, for the operators a model outside the bench may
lean on (recurrent cells, casts, normalizations, 3-D and quantized
convolutions, reductions, index and layout operators). Each case is a one-node
model with its weights as initializers, run by both runtimes on the same
feeds.

Timing: at 1 thread the two sessions alternate run by run in this process,
so each row's ratio comes from the same moments of a shared machine; at more
threads all of one runtime's runs come first, then the other's after a pause
(an idle onnxruntime worker spins for tens of milliseconds and would take the
other runtime's second core). A case runs until it has --runs runs and
--ops-sample-ms of them per runtime; the table gives medians.

Checks: a float output within 1e-4 relative (max |diff| / max |reference|)
of onnxruntime's; an integer or quantized output (quantized convolutions and
products, ArgMax, TopK's indices) equal to onnx.reference's, which is exact,
never to onnxruntime's kernels (its u8 x s8 products saturate on AVX2 CPUs
without VNNI). A failed check marks the row and makes the exit status 1.

Writes build/bench-ops.json (or --json): the machine facts, each case's
times, ratio and check, and the geometric mean of the ratios per thread count.
"""

from __future__ import annotations

import math
import statistics
import time
from dataclasses import dataclass, field

import numpy as np

REL_TOLERANCE = 1e-4


@dataclass
class Case:
    name: str
    op: str
    inputs: dict  # fed, in node input order after the initializers named in `order`
    attrs: dict = field(default_factory=dict)
    inits: list = field(default_factory=list)  # (name, array)
    outputs: int = 1
    opset: int = 18
    order: list | None = None  # node input names in order (default: inputs, then initializers)
    exact: bool = False  # integer / quantized result: checked against onnx.reference


def cases() -> list[Case]:
    rng = np.random.default_rng(0)

    def f32(*shape, scale=1.0):
        return (rng.standard_normal(shape) * scale).astype(np.float32)

    def u8(*shape):
        return rng.integers(0, 256, shape).astype(np.uint8)

    def s8(*shape):
        return rng.integers(-127, 128, shape).astype(np.int8)

    def scalar(v, dt=np.float32):
        return np.array(v, dt)

    h = 256
    out = [
        Case(
            "GRU H256 seq64 (linear_before_reset 0)",
            "GRU",
            {"x": f32(64, 1, 128)},
            {"hidden_size": h},
            [("W", f32(1, 3 * h, 128, scale=0.1)), ("R", f32(1, 3 * h, h, scale=0.1)), ("B", f32(1, 6 * h, scale=0.1))],
            2,
        ),
        Case(
            "GRU H256 seq64 (linear_before_reset 1)",
            "GRU",
            {"x": f32(64, 1, 128)},
            {"hidden_size": h, "linear_before_reset": 1},
            [("W", f32(1, 3 * h, 128, scale=0.1)), ("R", f32(1, 3 * h, h, scale=0.1)), ("B", f32(1, 6 * h, scale=0.1))],
            2,
        ),
        Case(
            "LSTM bidirectional H128 seq32 batch 8",
            "LSTM",
            {"x": f32(32, 8, 64)},
            {"hidden_size": 128, "direction": "bidirectional"},
            [("W", f32(2, 512, 64, scale=0.1)), ("R", f32(2, 512, 128, scale=0.1))],
            2,
        ),
        Case("Cast float32 -> float16, 4M", "Cast", {"x": f32(4, 1024, 1024)}, {"to": 10}),
        Case("Cast float16 -> float32, 4M", "Cast", {"x": f32(4, 1024, 1024).astype(np.float16)}, {"to": 1}),
        Case(
            "InstanceNormalization 1x64x128x128",
            "InstanceNormalization",
            {"x": f32(1, 64, 128, 128)},
            {},
            [("s", f32(64)), ("b", f32(64))],
        ),
        Case("LpNormalization 4096x256", "LpNormalization", {"x": f32(4096, 256)}, {"axis": -1, "p": 2}),
        Case(
            "LayerNormalization 512x768",
            "LayerNormalization",
            {"x": f32(512, 768)},
            {"axis": -1},
            [("s", f32(768)), ("b", f32(768))],
        ),
        Case("Softmax 12x128x128", "Softmax", {"x": f32(12, 128, 128)}, {"axis": -1}),
        Case("Softmax axis 1 of 1x1000x64", "Softmax", {"x": f32(1, 1000, 64)}, {"axis": 1}),
        Case("Exp 4M", "Exp", {"x": f32(4, 1024, 1024)}),
        Case("Sigmoid 4M", "Sigmoid", {"x": f32(4, 1024, 1024)}),
        Case("Gelu 512x3072", "Gelu", {"x": f32(512, 3072)}, opset=20),
        Case("ArgMax of 64x32000 over the last axis", "ArgMax", {"x": f32(64, 32000)}, {"axis": 1}, exact=True),
        Case(
            "TopK k=10 of 1x100000",
            "TopK",
            {"x": f32(1, 100000)},
            {},
            [("k", np.array([10], np.int64))],
            2,
            exact=True,
        ),
        Case(
            "Conv 3-D 32->32 3x3x3 on 16^3",
            "Conv",
            {"x": f32(1, 32, 16, 16, 16)},
            {"pads": [1] * 6},
            [("w", f32(32, 32, 3, 3, 3, scale=0.05))],
        ),
        Case(
            "Conv 1-D 256->256 k3 on 512",
            "Conv",
            {"x": f32(1, 256, 512)},
            {"pads": [1, 1]},
            [("w", f32(256, 256, 3, scale=0.05))],
        ),
        Case(
            "Conv grouped (32) 256->256 3x3 on 28x28",
            "Conv",
            {"x": f32(1, 256, 28, 28)},
            {"pads": [1] * 4, "group": 32},
            [("w", f32(256, 8, 3, 3, scale=0.1))],
        ),
        Case(
            "ConvTranspose 64->32 4x4 stride 2 on 28x28",
            "ConvTranspose",
            {"x": f32(1, 64, 28, 28)},
            {"strides": [2, 2], "pads": [1, 1, 1, 1]},
            [("w", f32(64, 32, 4, 4, scale=0.1))],
        ),
        Case(
            "QLinearConv u8 64->64 3x3 on 56x56",
            "QLinearConv",
            {"x": u8(1, 64, 56, 56)},
            {"pads": [1] * 4},
            [
                ("xs", scalar(0.02)),
                ("xz", scalar(128, np.uint8)),
                ("w", s8(64, 64, 3, 3)),
                ("ws", scalar(0.01)),
                ("wz", scalar(0, np.int8)),
                ("ys", scalar(0.5)),
                ("yz", scalar(128, np.uint8)),
            ],
            exact=True,
        ),
        Case(
            "QLinearMatMul u8 256x512 @ 512x512",
            "QLinearMatMul",
            {"a": u8(256, 512)},
            {},
            [
                ("as", scalar(0.02)),
                ("az", scalar(128, np.uint8)),
                ("b", s8(512, 512)),
                ("bs", scalar(0.01)),
                ("bz", scalar(0, np.int8)),
                ("ys", scalar(0.5)),
                ("yz", scalar(128, np.uint8)),
            ],
            exact=True,
        ),
        Case(
            "ConvInteger u8 64->64 3x3 on 56x56",
            "ConvInteger",
            {"x": u8(1, 64, 56, 56)},
            {"pads": [1] * 4},
            [("w", s8(64, 64, 3, 3))],
            exact=True,
        ),
        Case(
            "MatMulInteger u8 256x768 @ 768x768",
            "MatMulInteger",
            {"a": u8(256, 768)},
            {},
            [("b", s8(768, 768))],
            exact=True,
        ),
        Case(
            "ReduceMean over H, W of 1x256x56x56", "ReduceMean", {"x": f32(1, 256, 56, 56)}, {"axes": [2, 3]}, opset=17
        ),
        Case(
            "ReduceSum over C of 1x256x56x56",
            "ReduceSum",
            {"x": f32(1, 256, 56, 56)},
            {},
            [("ax", np.array([1], np.int64))],
        ),
        Case(
            "Resize linear x2 of 1x64x128x128",
            "Resize",
            {"x": f32(1, 64, 128, 128)},
            {"mode": "linear"},
            [("roi", np.array([], np.float32)), ("sc", np.array([1, 1, 2, 2], np.float32))],
        ),
        Case("Transpose NCHW -> NHWC 1x64x128x128", "Transpose", {"x": f32(1, 64, 128, 128)}, {"perm": [0, 2, 3, 1]}),
        Case(
            "AveragePool 3x3 stride 1 of 1x192x28x28",
            "AveragePool",
            {"x": f32(1, 192, 28, 28)},
            {"kernel_shape": [3, 3], "pads": [1] * 4},
        ),
        Case(
            "MaxPool 3x3 stride 2 of 1x64x112x112",
            "MaxPool",
            {"x": f32(1, 64, 112, 112)},
            {"kernel_shape": [3, 3], "strides": [2, 2], "pads": [1] * 4},
        ),
        Case("CumSum over 4096 of 1x4096x256", "CumSum", {"x": f32(1, 4096, 256)}, {}, [("ax", np.array(1, np.int64))]),
        Case(
            "Gather 256 rows of 30000x512",
            "Gather",
            {"i": rng.integers(0, 30000, (256,)).astype(np.int64)},
            {},
            [("tbl", f32(30000, 512))],
            order=["tbl", "i"],
        ),
        Case(
            "Where 4M",
            "Where",
            {"c": rng.random((4, 1024, 1024)) > 0.5, "a": f32(4, 1024, 1024), "b": f32(4, 1024, 1024)},
        ),
        Case(
            "GridSample 1x32x64x64",
            "GridSample",
            {"x": f32(1, 32, 64, 64), "g": rng.uniform(-1, 1, (1, 64, 64, 2)).astype(np.float32)},
            opset=16,
        ),
    ]
    return out


def build(case: Case) -> bytes:
    from onnx import helper, numpy_helper

    names = case.order or list(case.inputs) + [n for n, _ in case.inits]
    node = helper.make_node(case.op, names, [f"y{i}" for i in range(case.outputs)], **case.attrs)
    graph = helper.make_graph(
        [node],
        "op",
        [
            helper.make_tensor_value_info(k, helper.np_dtype_to_tensor_dtype(v.dtype), list(v.shape))
            for k, v in case.inputs.items()
        ],
        [helper.make_empty_tensor_value_info(f"y{i}") for i in range(case.outputs)],
        [numpy_helper.from_array(v, n) for n, v in case.inits],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", case.opset)])
    model.ir_version = 8
    return model.SerializeToString()


def check(case: Case, model: bytes, got: list, theirs: list) -> tuple[bool, str]:
    """(passed, what was compared and how far apart)."""
    if case.exact:
        import onnx
        from onnx.reference import ReferenceEvaluator

        want = ReferenceEvaluator(onnx.load_from_string(model)).run(None, case.inputs)
        for g, w in zip(got, want):
            if g.shape != w.shape or not np.array_equal(g, w.astype(g.dtype)):
                return False, "differs from onnx.reference"
        return True, "equal to onnx.reference"
    worst = 0.0
    for g, w in zip(got, theirs):
        g64, w64 = g.astype(np.float64), w.astype(np.float64)
        if g.shape != w.shape:
            return False, f"shape {g.shape} against onnxruntime's {w.shape}"
        scale = float(np.max(np.abs(w64))) if w64.size else 0.0
        worst = max(worst, float(np.max(np.abs(g64 - w64))) / (scale + 1e-30) if w64.size else 0.0)
    return worst <= REL_TOLERANCE, f"rel {worst:.1e} to onnxruntime"


def timed(session, feeds: dict, runs: int, sample_s: float) -> list[float]:
    ts: list[float] = []
    end = time.perf_counter() + sample_s
    while len(ts) < runs or time.perf_counter() < end:
        t0 = time.perf_counter()
        session.run(None, feeds)
        ts.append(time.perf_counter() - t0)
    return ts


def run(args, pionnx, ort) -> dict:
    threads = [int(t) for t in args.threads.split(",") if t.strip()]
    flt = args.ops_filter.lower()
    chosen = [c for c in cases() if flt in c.name.lower() or flt in c.op.lower()]
    result: dict = {"threads": threads, "cases": {}, "geomean": {}, "all_checks_ok": True}
    print(f"\n{'operator case':44s} | thr | {'pionnx us':>10s} | {'ort us':>10s} | p/ort | check", flush=True)
    for case in chosen:
        model = build(case)
        entry: dict = {"op": case.op, "threads": {}}
        for t in threads:
            so_p = pionnx.SessionOptions()
            so_p.intra_op_num_threads = t
            so_o = ort.SessionOptions()
            so_o.intra_op_num_threads = t
            so_o.inter_op_num_threads = 1
            sp = pionnx.InferenceSession(model, so_p)
            so = ort.InferenceSession(model, so_o, providers=["CPUExecutionProvider"])
            got, theirs = sp.run(None, case.inputs), so.run(None, case.inputs)
            ok, note = check(case, model, got, theirs)
            for _ in range(max(1, args.warmup)):
                sp.run(None, case.inputs)
                so.run(None, case.inputs)
            sample = args.ops_sample_ms / 1e3
            if t == 1:
                tp, to = [], []
                end = time.perf_counter() + 2 * sample
                while len(tp) < args.runs or time.perf_counter() < end:
                    a = time.perf_counter()
                    sp.run(None, case.inputs)
                    b = time.perf_counter()
                    so.run(None, case.inputs)
                    tp.append(b - a)
                    to.append(time.perf_counter() - b)
            else:
                tp = timed(sp, case.inputs, args.runs, sample)
                time.sleep(args.settle_ms / 1e3 + 0.1)
                to = timed(so, case.inputs, args.runs, sample)
                time.sleep(args.settle_ms / 1e3 + 0.1)
            p_us, o_us = statistics.median(tp) * 1e6, statistics.median(to) * 1e6
            ratio = p_us / o_us
            entry["threads"][str(t)] = {
                "pionnx_us": p_us,
                "onnxruntime_us": o_us,
                "ratio": ratio,
                "runs": len(tp),
                "check_ok": ok,
                "check": note,
            }
            result["all_checks_ok"] &= ok
            mark = note if ok else f"FAILED: {note}"
            print(f"{case.name[:44]:44s} | {t:3d} | {p_us:10.1f} | {o_us:10.1f} | {ratio:5.2f} | {mark}", flush=True)
        result["cases"][case.name] = entry
    for t in threads:
        ratios = [e["threads"][str(t)]["ratio"] for e in result["cases"].values()]
        if ratios:
            result["geomean"][str(t)] = math.exp(sum(math.log(r) for r in ratios) / len(ratios))
            print(f"geometric mean pionnx/onnxruntime at {t} thread(s): {result['geomean'][str(t)]:.3f}")
    return result
