"""The synthetic benchmark models (ci.bench.models) are valid ONNX and pionnx agrees with a reference on them.

The reference is onnxruntime when it is installed, else onnx's ReferenceEvaluator.
No timing is asserted here: `nox -s bench` measures, tests only check.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import pytest

import pionnx
from ci.bench import models as bench_models
from ci.bench import run as bench


@pytest.fixture(scope="module")
def cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("bench-models")


def reference_outputs(path: Path, feeds: dict[str, np.ndarray], exact_integers: bool) -> tuple[str, list[np.ndarray]]:
    """onnxruntime's outputs, or onnx.reference's where integer kernels must be exact (onnxruntime's u8 x s8
    GEMM saturates on AVX2 CPUs without VNNI, so its int8 results depend on the CPU)."""
    try:
        if exact_integers:
            raise ImportError
        import onnxruntime
    except ImportError:
        from onnx.reference import ReferenceEvaluator
        from onnx.reference.ops.op_dequantize_linear import DequantizeLinear_23

        class DequantizeLinear(DequantizeLinear_23):
            # onnx 1.19's evaluator has no DequantizeLinear before opset 19 (quantize_dynamic writes 13's);
            # 23's computes the same for the per-tensor int8 weights there.
            op_domain = ""

        evaluator = ReferenceEvaluator(str(path), new_ops=[DequantizeLinear])
        return "onnx.reference", list(evaluator.run(None, feeds))
    opts = onnxruntime.SessionOptions()
    opts.intra_op_num_threads = 1
    sess = onnxruntime.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
    return "onnxruntime", sess.run(None, feeds)


@pytest.mark.parametrize("name", bench_models.SYNTHETIC_NAMES)
def test_synthetic_model_valid_and_pionnx_agrees(name: str, cache: Path) -> None:
    try:
        model = bench_models.prepare(name, cache)
    except RuntimeError as exc:
        if "onnxruntime.quantization" not in str(exc):
            raise
        pytest.skip(str(exc))  # bert_int8 is made by onnxruntime's quantizer
    onnx.checker.check_model(str(model.path), full_check=True)
    feeds = model.feeds()
    assert feeds, "the model needs inputs"

    opts = pionnx.SessionOptions()
    opts.intra_op_num_threads = 1
    try:
        sess = pionnx.InferenceSession(str(model.path), opts)
    except pionnx.NotImplemented as exc:
        # Turns into a real comparison as soon as pionnx has the operator.
        pytest.skip(f"pionnx cannot run {name} yet: {exc}")
    got = sess.run(None, feeds)

    which, ref = reference_outputs(model.path, feeds, exact_integers=name in bench_models.TOLERANCES)
    assert [o.name for o in sess.get_outputs()] == [o.name for o in onnx.load(str(model.path)).graph.output]
    for r in ref:
        assert np.isfinite(r).all() and np.abs(r).max() > 0, "the model's outputs should carry signal"
    verdict = bench.compare(ref, got, model.rel_tolerance)
    assert verdict["ok"], f"pionnx vs {which} on {name}: {verdict}"


def test_compare_flags_a_relative_difference_above_tolerance() -> None:
    ref = [np.array([100.0, -50.0, 0.0], np.float32)]
    assert bench.compare(ref, [ref[0] + 0.05])["ok"]  # 5e-4 of the largest magnitude
    assert not bench.compare(ref, [ref[0] + np.float32(0.2)])["ok"]
    assert not bench.compare(ref, [ref[0][:2]])["ok"]
    assert not bench.compare(ref, [np.array([100.0, np.nan, 0.0], np.float32)])["ok"]
    assert not bench.compare(ref, ref + ref)["ok"]


def test_scaling_mode_reports_the_median_of_per_round_ratios(cache: Path, tmp_path: Path) -> None:
    """`--scaling` alternates 1 and 2 threads per round and reports the median of the rounds' ratios
    (the figures themselves are the benchmark's business, not a test's)."""
    import json
    import statistics

    out = tmp_path / "scaling.json"
    argv = ["--scaling", "--models", "lstm", "--runs", "3", "--scaling-runs", "2", "--settle-ms", "0"]
    argv += ["--runtimes", "pionnx", "--cache-dir", str(cache), "--json", str(out)]
    assert bench.main(argv) == 0
    result = json.loads(out.read_text())
    entry = result["models"]["lstm"]["pionnx"]
    assert result["config"]["threads"] == [1, 2]
    assert len(entry["round_speedups"]) == 3
    assert entry["speedup"] == statistics.median(entry["round_speedups"])
    assert entry["ms_1_thread"] > 0 and entry["ms_2_threads"] > 0
    assert result["summary"]["pionnx_speedups"] == {"lstm": entry["speedup"]}
    assert bench.main(["--scaling", "--threads", "1", "--models", "lstm", "--runtimes", "pionnx"]) == 2
