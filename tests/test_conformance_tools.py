"""The conformance tooling itself: export, the numpy-only runner, the expected-failures list."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from pionnx.conformance import compare, expected
from pionnx.conformance.export import export
from pionnx.conformance.feeds import feed_names


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    root = tmp_path_factory.mktemp("cases")
    manifest = export(root, ["node", "simple", "light"], subset=3)
    return root, manifest


@pytest.fixture
def no_onnx_env(tmp_path):
    """PYTHONPATH with an `onnx` package that refuses to import: the run side must not need it."""
    blocker = tmp_path / "blocker" / "onnx"
    blocker.mkdir(parents=True)
    (blocker / "__init__.py").write_text("raise ImportError('the conformance runner must not import onnx')\n")
    import os

    env = dict(os.environ)
    env["PYTHONPATH"] = str(blocker.parent) + os.pathsep + env.get("PYTHONPATH", "")
    return env


def run_cli(env, *args):
    return subprocess.run(
        [sys.executable, "-m", "pionnx.conformance", *args], capture_output=True, text=True, env=env, timeout=900
    )


def test_export_writes_manifest_models_data_and_tolerances(exported):
    root, manifest = exported
    assert json.loads((root / "manifest.json").read_text()) == manifest
    suites = [case["suite"] for case in manifest["cases"]]
    assert suites.count("node") == 3 and suites.count("simple") == 3 and suites.count("light") == 3
    for case in manifest["cases"]:
        case_dir = root / case["dir"]
        assert (case_dir / case["model"]).is_file()
        assert case["id"].endswith("_cpu")
        assert case["rtol"] > 0 and case["atol"] > 0
        assert case["data_sets"], case["id"]
        for data_set in case["data_sets"]:
            for feed in data_set["inputs"]:
                assert (case_dir / data_set["dir"] / feed["file"]).is_file()
                assert feed["name"] in [value["name"] for value in case["inputs"]]
            for file in data_set["outputs"]:
                assert (case_dir / data_set["dir"] / file).is_file()


def test_export_light_models_get_generated_inputs(exported):
    root, manifest = exported
    light = [case for case in manifest["cases"] if case["suite"] == "light"]
    for case in light:
        (data_set,) = case["data_sets"]
        assert len(data_set["inputs"]) == 1 and len(data_set["outputs"]) == 1
        # onnx's light models declare their weights as graph inputs too (IR 3); the data feeds the real one.
        assert data_set["inputs"][0]["name"] == "data_0"


def test_run_side_needs_no_onnx_and_reports(exported, no_onnx_env, tmp_path):
    root, manifest = exported
    out = tmp_path / "results.json"
    proc = run_cli(no_onnx_env, "run", str(root), "--json", str(out))
    assert proc.returncode in (0, 1), proc.stdout + proc.stderr
    assert "must not import onnx" not in proc.stdout + proc.stderr
    results = json.loads(out.read_text())
    assert results["total"] == len(manifest["cases"])
    assert {row["outcome"] for row in results["results"]} <= {"passed", "failed", "skipped", "crashed", "timeout"}
    assert f"{results['passed']}/{results['total']} passed" in proc.stdout
    for suite in ("node", "simple", "light"):
        assert f"conformance {suite}: " in proc.stdout


def test_run_side_expected_failures_are_strict(exported, no_onnx_env, tmp_path):
    root, _ = exported
    first = tmp_path / "first.json"
    run_cli(no_onnx_env, "run", str(root), "--json", str(first))
    rows = json.loads(first.read_text())["results"]
    failing = {row["id"]: "error" for row in rows if row["outcome"] in ("failed", "crashed", "timeout")}
    listed = tmp_path / "expected.txt"
    expected.write(listed, failing)
    proc = run_cli(no_onnx_env, "run", str(root), "--expected-failures", str(listed))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    passing = [row["id"] for row in rows if row["outcome"] == "passed"]
    if passing:
        expected.write(listed, {**failing, passing[0]: "mismatch"})
        proc = run_cli(no_onnx_env, "run", str(root), "--expected-failures", str(listed))
        assert proc.returncode == 1
        assert f"UNEXPECTED PASS {passing[0]}" in proc.stdout


def test_random_entries_never_decide_the_run():
    """A case listed as `random` is skipped whatever it did: an unseeded Bernoulli matches the
    fixed expected data about 1 run in 150, which must neither pass nor fail the run."""
    from pionnx.conformance import runner

    cases = [{"id": f"test_{n}_cpu", "suite": "node"} for n in ("rand", "rand2", "good")]
    listed = {"test_rand_cpu": expected.RANDOM, "test_rand2_cpu": expected.RANDOM}
    results = {0: {"outcome": "passed"}, 1: {"outcome": "failed", "message": "x"}, 2: {"outcome": "passed"}}
    summary = runner.summarize(cases, results, listed)
    assert summary["unexpected_passes"] == [] and summary["unexpected_failures"] == []
    assert [row["verdict"] for row in summary["results"]] == ["skipped", "skipped", "passed"]
    assert summary["passed"] == 1


def test_expected_failures_file_round_trip(tmp_path):
    path = tmp_path / "list.txt"
    expected.write(path, {"test_b_cpu": "mismatch", "test_a_cpu": "unsupported"})
    text = path.read_text()
    assert text.index("test_a_cpu") < text.index("test_b_cpu")
    assert expected.read(path) == {"test_a_cpu": "unsupported", "test_b_cpu": "mismatch"}
    assert expected.read(tmp_path / "missing.txt") == {}


def test_expected_failures_update_keeps_reasons_and_unrun_entries():
    old = {"test_a_cpu": "unsupported", "test_b_cpu": "mismatch", "test_c_cpu": "crash"}
    new = expected.update(old, failing={"test_a_cpu": "error", "test_d_cpu": "error"}, passing=["test_b_cpu"])
    assert new == {"test_a_cpu": "unsupported", "test_c_cpu": "crash", "test_d_cpu": "error"}


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("pionnx.NotImplemented: unsupported operator: op type 'Foo'", "unsupported"),
        ("AssertionError: \nNot equal to tolerance rtol=0.001", "mismatch"),
        ("worker 'gw1' crashed while running 'x'", "crash"),
        ("pionnx.Fail: something else", "error"),
    ],
)
def test_failure_reason_classification(text, reason):
    assert expected.classify(text) == reason


def test_compare_follows_onnx_semantics():
    ref = [np.array([1.0, 2.0], dtype=np.float32)]
    compare.assert_similar_outputs(ref, [np.array([1.0005, 2.0], dtype=np.float32)], rtol=1e-3, atol=1e-7)
    with pytest.raises(AssertionError):
        compare.assert_similar_outputs(ref, [np.array([1.1, 2.0], dtype=np.float32)], rtol=1e-3, atol=1e-7)
    with pytest.raises(AssertionError):  # dtype must match
        compare.assert_similar_outputs(ref, [np.array([1.0, 2.0], dtype=np.float64)], rtol=1e-3, atol=1e-7)
    with pytest.raises(AssertionError):  # shape must match
        compare.assert_similar_outputs(ref, [np.array([[1.0, 2.0]], dtype=np.float32)], rtol=1e-3, atol=1e-7)
    with pytest.raises(AssertionError):  # output count must match
        compare.assert_similar_outputs(ref, [], rtol=1e-3, atol=1e-7)
    strings = [np.array(["a", "b"], dtype=object)]
    compare.assert_similar_outputs(strings, [np.array(["a", "b"], dtype=object)], rtol=0, atol=0)


def test_positional_feeds_skip_initializer_inputs():
    assert feed_names(["w", "x", "b"], {"w", "b"}, 1) == ["x"]
    assert feed_names(["x", "y"], set(), 2) == ["x", "y"]
    # more data than non-initializer inputs: pair with graph.input as is
    assert feed_names(["x", "w"], {"w"}, 2) == ["x", "w"]


# ------------------------------------------------ exotic types without ml_dtypes

EXOTIC = (
    r"bfloat16|BFLOAT16|float8|FLOAT8|e4m3|e5m2|int4|INT4|uint4|UINT4|int2|INT2|uint2|UINT2|float4|FLOAT4|e8m0|E8M0"
)


@pytest.fixture(scope="module")
def exported_node(tmp_path_factory):
    root = tmp_path_factory.mktemp("node")
    export(root, ["node"])
    return root


def test_raw_bit_decoders_match_ml_dtypes():
    ml_dtypes = pytest.importorskip("ml_dtypes")
    from pionnx.conformance import rawbits

    codes = np.arange(256, dtype=np.uint8)
    for code, name in rawbits.NAMES.items():
        if code == 16:
            bits = np.arange(1 << 16, dtype=np.uint32).astype(np.uint16)
            want = bits.view(ml_dtypes.bfloat16).astype(np.float64)
        elif code in (21, 22, 23, 25, 26):  # 4- and 2-bit: one element per byte, int4/int2 sign-extended
            width = 2 if code in (25, 26) else 4
            low = np.arange(1 << width, dtype=np.uint8)
            sign = 1 << (width - 1)
            bits = ((low.astype(np.int8) ^ sign) - sign).astype(np.int8).view(np.uint8) if code in (22, 26) else low
            want = low.view(getattr(ml_dtypes, name)).astype(np.float64)
        else:
            bits = codes
            want = codes.view(getattr(ml_dtypes, name)).astype(np.float64)
        got = rawbits.to_float64(rawbits.RawBits(code, bits))
        np.testing.assert_array_equal(got, want, err_msg=name)


def test_exotic_types_run_the_same_without_ml_dtypes(exported_node, no_onnx_env, tmp_path):
    """The armv7 board has no ml_dtypes: those cases then run on bit patterns, with the same results."""
    blocker = tmp_path / "noml"
    blocker.mkdir()
    (blocker / "ml_dtypes.py").write_text("raise ImportError('ml_dtypes hidden')\n")
    env_noml = dict(no_onnx_env)
    env_noml["PYTHONPATH"] = str(blocker) + ":" + no_onnx_env["PYTHONPATH"]
    counts = {}
    for label, env in (("with", no_onnx_env), ("without", env_noml)):
        out = tmp_path / f"{label}.json"
        proc = run_cli(env, "run", str(exported_node), "-k", EXOTIC, "--json", str(out))
        rows = json.loads(out.read_text())["results"]
        counts[label] = {row["id"]: row["outcome"] for row in rows}
        assert proc.returncode in (0, 1), proc.stdout + proc.stderr
    assert len(counts["with"]) > 100
    assert counts["with"] == counts["without"]
    assert sum(v == "passed" for v in counts["without"].values()) > 100
