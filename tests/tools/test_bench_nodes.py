"""The layer-by-layer table of the benchmark (`python -m ci.bench.run --nodes`, ci/bench/nodes.py).

The grouping is checked on hand-made profile events (medians after the warm-up, sums per shape group,
a weight passed differently matched, a node one side has alone kept as its own row); one short run in a
child process on the LSTM bench model writes the JSON. No timing is asserted beyond > 0."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from ci.bench import nodes
from ci.bench import run as bench

ROOT = Path(__file__).resolve().parents[2]


def event(name: str, op: str, dur: float, out: list[int], *ins: list[int]) -> dict:
    return {
        "cat": "Node",
        "name": f"{name}_kernel_time",
        "dur": dur,
        "args": {
            "op_name": op,
            "output_type_shape": [{"float": out}],
            "input_type_shape": [{"float": s} for s in ins],
        },
    }


def test_medians_skip_the_warm_up_and_other_events() -> None:
    events = [event("a", "Conv", d, [1, 8], [1, 4], [8, 4]) for d in (1000.0, 5.0, 7.0, 6.0)]
    events.append({"cat": "Node", "name": "a_fence_before", "dur": 0, "args": {"op_name": "Conv"}})
    events.append({"cat": "Session", "name": "model_run", "dur": 9999})
    got = nodes.node_medians(events, warmup=1)
    assert list(got) == ["a_kernel_time"]
    assert got["a_kernel_time"]["us"] == 6.0 and got["a_kernel_time"]["op"] == "Conv"
    assert got["a_kernel_time"]["key"] == ("float[1,8]", "float[1,4]", "float[8,4]")


def test_groups_are_matched_by_shapes_not_names() -> None:
    ours = nodes.node_medians(
        [
            event("n1", "FusedConv", 30.0, [1, 24, 7, 7], [1, 144, 7, 7], [24, 144, 1, 1]),
            event("n2", "Conv", 10.0, [1, 24, 7, 7], [1, 144, 7, 7], [24, 144, 1, 1]),
            event("n3", "Gemm", 4.0, [1, 10], [1, 20], [10, 20]),
            event("n4", "Softmax", 2.0, [1, 10], [1, 10]),
        ],
        warmup=0,
    )
    theirs = nodes.node_medians(
        [
            event("r1_nchwc", "Conv", 15.0, [1, 24, 7, 7], [1, 144, 7, 7], [24, 144, 1, 1]),
            event("r2_nchwc", "Conv", 15.0, [1, 24, 7, 7], [1, 144, 7, 7], [24, 144, 1, 1]),
            event("fc", "Gemm", 5.0, [1, 10], [1, 20], [10]),  # the bias listed, not the weight
            event("reorder", "ReorderOutput", 1.0, [1, 24, 7, 7], [1, 24, 7, 7]),
        ],
        warmup=0,
    )
    rows = {tuple([r["output"], *r["inputs"]]): r for r in nodes.compare(ours, theirs)}
    conv = rows[("float[1,24,7,7]", "float[1,144,7,7]", "float[24,144,1,1]")]
    assert (conv["pionnx_us"], conv["onnxruntime_us"], conv["diff_us"]) == (40.0, 30.0, 10.0)
    assert conv["pionnx_nodes"] == conv["onnxruntime_nodes"] == 2
    assert conv["pionnx_ops"] == ["Conv", "FusedConv"] and conv["onnxruntime_ops"] == ["Conv"]
    gemm = rows[("float[1,10]", "float[1,20]", "float[10,20]")]
    assert (gemm["pionnx_us"], gemm["onnxruntime_us"]) == (4.0, 5.0)
    assert rows[("float[1,10]", "float[1,10]")]["onnxruntime_us"] == 0.0
    assert rows[("float[1,24,7,7]", "float[1,24,7,7]")]["pionnx_us"] == 0.0
    assert len(rows) == 4
    diffs = [r["diff_us"] for r in nodes.compare(ours, theirs)]
    assert diffs == sorted(diffs, reverse=True)
    lines = nodes.table(
        "m",
        1,
        {
            "groups": nodes.compare(ours, theirs),
            **dict.fromkeys(["pionnx_wall_ms", "onnxruntime_wall_ms", "pionnx_nodes_ms", "onnxruntime_nodes_ms"], 1.0),
        },
        top=5,
    )
    assert "where pionnx spends more" in lines[2] and "Conv+FusedConv / Conv" in lines[3]


@pytest.mark.timeout(600)
def test_a_nodes_run_writes_the_table(tmp_path) -> None:
    out = tmp_path / "nodes.json"
    proc = subprocess.run(
        [sys.executable, "-m", "ci.bench.run", "--nodes", "--models", "lstm", "--threads", "1,2"]
        + ["--runs", "2", "--warmup", "1", "--settle-ms", "1", "--json", str(out)]
        + ["--cache-dir", str(tmp_path / "models")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "lstm, 2 thread(s): run" in proc.stdout and "where pionnx spends more" in proc.stdout
    data = json.loads(out.read_text())
    assert data["machine"]["cpu_model"] and data["machine"]["pionnx_simd"]
    for t in ("1", "2"):
        entry = data["nodes"]["models"]["lstm"][t]
        assert entry["pionnx_wall_ms"] > 0 and entry["onnxruntime_wall_ms"] > 0
        assert entry["pionnx_nodes_ms"] > 0 and entry["onnxruntime_nodes_ms"] > 0
        assert any("LSTM" in g["pionnx_ops"] for g in entry["groups"])
    assert bench.parse_args(["--nodes"]).nodes
