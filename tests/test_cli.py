"""The `pionnx` command (pionnx.cli): info, run, bench, check-wheel, --help and the exit codes."""

from __future__ import annotations

import base64
import glob
import hashlib
import json
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

import pionnx
from pionnx import cli

ROOT = Path(__file__).resolve().parents[1]


def _save(model: onnx.ModelProto, path: Path) -> str:
    onnx.save(model, str(path))
    return str(path)


def add_mul_model() -> onnx.ModelProto:
    """Two inputs (one with a symbolic dim), three outputs, two with names that are not file names."""
    graph = helper.make_graph(
        [
            helper.make_node("Add", ["a", "b"], ["sum/out:0"]),
            helper.make_node("Mul", ["a", "b"], [".hidden"]),
            helper.make_node("Cast", ["a"], ["as_int"], to=TensorProto.INT64),
        ],
        "g",
        [
            helper.make_tensor_value_info("a", TensorProto.FLOAT, ["n", 3]),
            helper.make_tensor_value_info("b", TensorProto.FLOAT, [1, 3]),
        ],
        [
            helper.make_tensor_value_info("sum/out:0", TensorProto.FLOAT, ["n", 3]),
            helper.make_tensor_value_info(".hidden", TensorProto.FLOAT, ["n", 3]),
            helper.make_tensor_value_info("as_int", TensorProto.INT64, ["n", 3]),
        ],
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], producer_name="test_cli")


def custom_model() -> onnx.ModelProto:
    """A custom-domain op, a model-local function, an If with two subgraphs and an initializer."""
    then_g = helper.make_graph(
        [helper.make_node("Relu", ["y"], ["t"])],
        "then",
        [],
        [helper.make_tensor_value_info("t", TensorProto.FLOAT, None)],
    )
    else_g = helper.make_graph(
        [helper.make_node("Neg", ["y"], ["e"])],
        "else",
        [],
        [helper.make_tensor_value_info("e", TensorProto.FLOAT, None)],
    )
    fn = helper.make_function(
        "local",
        "Swish",
        ["a"],
        ["b"],
        [helper.make_node("Sigmoid", ["a"], ["s"]), helper.make_node("Mul", ["a", "s"], ["b"])],
        [helper.make_opsetid("", 17)],
    )
    nodes = [
        helper.make_node("Swish", ["x"], ["y"], domain="local", name="act"),
        helper.make_node("FancyOp", ["y"], ["f"], domain="com.example", name="fancy"),
        helper.make_node("ReduceSum", ["f"], ["c"], keepdims=0),
        helper.make_node("Greater", ["c", "zero"], ["cond"]),
        helper.make_node("If", ["cond"], ["out"], then_branch=then_g, else_branch=else_g, name="branch"),
    ]
    graph = helper.make_graph(
        nodes,
        "custom",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 4])],
        [helper.make_tensor_value_info("out", TensorProto.FLOAT, None)],
        [numpy_helper.from_array(np.float32(0), "zero")],
    )
    return helper.make_model(
        graph,
        opset_imports=[
            helper.make_opsetid("", 17),
            helper.make_opsetid("local", 1),
            helper.make_opsetid("com.example", 1),
        ],
        functions=[fn],
        producer_name="handmade",
        producer_version="1.0",
    )


@pytest.fixture
def add_model(tmp_path: Path) -> str:
    return _save(add_mul_model(), tmp_path / "add.onnx")


# --------------------------------------------------------------------------------------------- info


def test_info_reports_a_custom_domain_op_as_not_runnable(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = _save(custom_model(), tmp_path / "custom.onnx")
    assert cli.main(["info", path]) == 0  # not --strict
    out = capsys.readouterr().out
    assert "producer     handmade 1.0" in out
    assert "ai.onnx 17, local 1, com.example 1" in out
    assert "[batch, 4]" in out
    assert "2 in subgraphs" in out and "2 in 1 model-local function(s)" in out
    assert "local::Swish" in out and "model-local function" in out
    assert "cannot run 1 op type(s)" in out
    assert "com.example::FancyOp (1 node(s), e.g. 'fancy'): not implemented" in out
    assert cli.main(["info", path, "--strict"]) == 1


def test_info_json_structure(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = _save(custom_model(), tmp_path / "custom.onnx")
    assert cli.main(["info", path, "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["ir_version"] == custom_model().ir_version
    assert info["producer_name"] == "handmade" and info["producer_version"] == "1.0"
    assert info["opset_import"] == {"ai.onnx": 17, "local": 1, "com.example": 1}
    assert info["inputs"] == [{"name": "x", "type": "tensor(float)", "shape": ["batch", 4]}]
    assert info["outputs"] == [{"name": "out", "type": "tensor(float)", "shape": None}]
    assert info["initializers"]["count"] == 1
    assert info["nodes"] == {"total": 9, "main_graph": 5, "subgraphs": 2, "functions": 2}
    assert info["functions"][0]["name"] == "Swish" and info["functions"][0]["nodes"] == 2
    ops = {(o["domain"], o["op"]): o for o in info["ops"]}
    assert ops[("ai.onnx", "Relu")]["runnable"] and ops[("ai.onnx", "Neg")]["count"] == 1  # subgraph nodes count
    assert ops[("local", "Swish")]["kind"] == "local function" and ops[("local", "Swish")]["runnable"]
    fancy = ops[("com.example", "FancyOp")]
    assert not fancy["runnable"] and "not implemented" in fancy["problems"][0]
    assert [o["op"] for o in info["not_runnable"]] == ["FancyOp"]
    assert info["runnable"] is False
    assert info["pionnx"]["version"] == pionnx.__version__


def test_info_reports_an_opset_outside_the_implemented_range(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    graph = helper.make_graph(
        [helper.make_node("Upsample", ["x", "s"], ["y"])],
        "old",
        [
            helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 1, 2, 2]),
            helper.make_tensor_value_info("s", TensorProto.FLOAT, [4]),
        ],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
    )
    path = _save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 10)]), tmp_path / "old.onnx")
    assert cli.main(["info", path, "--json"]) == 0
    (bad,) = json.loads(capsys.readouterr().out)["not_runnable"]
    assert bad["op"] == "Upsample" and "the model imports 10" in bad["problems"][0]
    assert "implemented for opsets" in bad["problems"][0]


def test_info_of_a_runnable_model_and_of_a_file_that_is_no_model(
    add_model: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(["info", add_model, "--strict"]) == 0
    assert "implements every op of the model" in capsys.readouterr().out
    junk = tmp_path / "junk.onnx"
    junk.write_text("this is not protobuf {}\n")
    assert cli.main(["info", str(junk)]) == 3
    err = capsys.readouterr().err
    assert "is not an ONNX model" in err and "Traceback" not in err
    assert cli.main(["info", str(tmp_path / "missing.onnx")]) == 3
    assert "model file not found" in capsys.readouterr().err


# ---------------------------------------------------------------------------------------------- run


def test_run_with_npy_inputs_writes_the_outputs(
    add_model: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    a = np.arange(6, dtype=np.float32).reshape(2, 3) - 2.5
    b = np.array([[1.0, -2.0, 0.5]], dtype=np.float32)
    np.save(tmp_path / "a.npy", a)
    np.save(tmp_path / "b.npy", b)
    out_dir = tmp_path / "out"
    argv = ["run", add_model, "--input", f"a={tmp_path / 'a.npy'}", "-i", f"b={tmp_path / 'b.npy'}", "-o", str(out_dir)]
    assert cli.main(argv) == 0
    out = capsys.readouterr().out
    expected = pionnx.InferenceSession(add_model).run(None, {"a": a, "b": b})
    files = {"sum/out:0": "sum_out_0.npy", ".hidden": "_hidden.npy", "as_int": "as_int.npy"}
    assert sorted(p.name for p in out_dir.iterdir()) == sorted(files.values())
    for (name, file_name), want in zip(files.items(), expected):
        got = np.load(out_dir / file_name)
        assert got.dtype == want.dtype
        np.testing.assert_array_equal(got, want)
        assert name in out and file_name in out
    np.testing.assert_array_equal(np.load(out_dir / "sum_out_0.npy"), a + b)
    assert "'sum/out:0' -> sum_out_0.npy" in out  # the renames are said
    assert f"{float((a + b).min()):.6g}" in out and f"{float((a + b).max()):.6g}" in out


def test_run_without_output_dir_only_prints(add_model: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["run", add_model, "-i", "a=random", "-i", "b=random", "--dim", "n=5"]) == 0
    out = capsys.readouterr().out
    assert "input  a: float32 [5, 3] from random" in out
    assert "output" in out and "mean" in out and "file" not in out.splitlines()[-4]


def test_run_with_a_missing_input_file(add_model: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    missing = tmp_path / "nope.npy"
    assert cli.main(["run", add_model, "--input", f"a={missing}", "--input", "b=random"]) == 3
    err = capsys.readouterr().err
    assert err.strip() == f"pionnx run: error: input file for 'a' not found: {missing}"


def test_run_usage_errors(add_model: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["run", add_model, "--input", "a=random"]) == 2
    assert "no value for input(s) 'b'" in capsys.readouterr().err
    assert cli.main(["run", add_model, "--input", "c=x.npy", "--input", "b=random"]) == 2
    assert "the model has no input 'c'; its inputs are: 'a', 'b'" in capsys.readouterr().err
    not_npy = tmp_path / "a.npy"
    not_npy.write_text("text")
    assert cli.main(["run", add_model, "--input", f"a={not_npy}", "--input", "b=random"]) == 3
    assert "not a readable .npy file" in capsys.readouterr().err


def test_run_failure_is_exit_4(add_model: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    np.save(tmp_path / "a.npy", np.zeros((2, 4), np.float32))  # does not broadcast with b [1, 3]
    assert cli.main(["run", add_model, "--input", f"a={tmp_path / 'a.npy'}", "--input", "b=random"]) == 4
    err = capsys.readouterr().err
    assert err.startswith("pionnx run: error: the run failed:") and "Traceback" not in err


def test_safe_file_names() -> None:
    assert cli.safe_file_names(["a/b", "a:b", "A_B", "", "..x", "ok.1"]) == [
        "a_b.npy",
        "a_b_2.npy",
        "A_B_3.npy",
        "output.npy",
        "_.x.npy",
        "ok.1.npy",
    ]


# -------------------------------------------------------------------------------------------- bench


def test_bench_json(add_model: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out_json = tmp_path / "bench.json"
    assert (
        cli.main(["bench", add_model, "--runs", "3", "--warmup", "1", "--threads", "1", "--json", str(out_json)]) == 0
    )
    captured = capsys.readouterr()
    assert captured.err == ""  # no progress bar when stderr is not a terminal
    for word in ("load", "first run", "mean", "median", "p90", "min", "max", "threads    1"):
        assert word in captured.out
    result = json.loads(out_json.read_text())
    assert result["runs"] == 3 and len(result["times_ms"]) == 3 and result["warmup"] == 1
    assert result["threads"] == 1
    assert result["min_ms"] <= result["median_ms"] <= result["max_ms"]
    assert result["min_ms"] <= result["p90_ms"] <= result["max_ms"]
    assert result["inputs"]["a"] == {"shape": [1, 3], "dtype": "float32", "source": "random"}


def test_progress_bar_only_on_a_terminal() -> None:
    class Stream:
        def __init__(self, tty: bool) -> None:
            self.tty, self.text = tty, ""

        def isatty(self) -> bool:
            return self.tty

        def write(self, s: str) -> int:
            self.text += s
            return len(s)

        def flush(self) -> None:
            pass

    for tty in (True, False):
        stream = Stream(tty)
        bar = cli.Progress(4, "bench", stream)  # type: ignore[arg-type]
        for i in range(4):
            bar.update(i + 1, 1.0)
        bar.close()
        assert ("\r" in stream.text and "4/4" in stream.text) if tty else stream.text == ""


def test_legacy_form_is_bench_with_one_run(add_model: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main([add_model, "--threads", "1"]) == 0
    captured = capsys.readouterr()
    assert "runs `pionnx bench" in captured.err
    assert "mean" in captured.out and "warm-up" not in captured.out


# -------------------------------------------------------------------------------------- check-wheel


def _record_line(name: str, data: bytes) -> str:
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return f"{name},sha256={digest},{len(data)}"


def fake_wheel(tmp_path: Path, file_name: str, version: str = "0.1.0", with_core: bool = True) -> Path:
    files = {
        "pionnx/__init__.py": b"__version__ = '0.1.0'\n",
        "pionnx/py.typed": b"",
        f"pionnx-{version}.dist-info/METADATA": f"Metadata-Version: 2.1\nName: pionnx\nVersion: {version}\n\n".encode(),
        f"pionnx-{version}.dist-info/WHEEL": b"Wheel-Version: 1.0\n",
    }
    if with_core:
        files["pionnx/_core.cpython-39-armv7l-linux-gnueabihf.so"] = b"\x7fELF" + b"\0" * 1000
    record = f"pionnx-{version}.dist-info/RECORD"
    lines = [_record_line(n, d) for n, d in files.items()] + [f"{record},,"]
    path = tmp_path / file_name
    with zipfile.ZipFile(path, "w") as zf:
        for n, d in files.items():
            zf.writestr(n, d)
        zf.writestr(record, "\n".join(lines) + "\n")
    return path


def test_check_wheel_static_report_of_a_wheel_for_another_platform(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    whl = fake_wheel(tmp_path, "pionnx-0.1.0-cp39-cp39-manylinux_2_31_armv7l.whl")
    assert cli.main(["check-wheel", str(whl)]) == 0
    out = capsys.readouterr().out
    assert "tags         python cp39, abi cp39, platform manylinux_2_31_armv7l" in out
    assert "ok   extension    pionnx/_core.cpython-39-armv7l-linux-gnueabihf.so" in out
    assert "py.typed     present" in out
    assert "RECORD       6 entries, every hash matches" in out
    assert "files        6 files" in out
    assert "does not match this interpreter" in out
    assert "skipped: the wheel is for another interpreter or platform" in out
    assert out.rstrip().endswith("result: OK")


def test_check_wheel_fails_without_the_compiled_module(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    whl = fake_wheel(tmp_path, "pionnx-0.1.0-cp39-cp39-manylinux_2_31_armv7l.whl", with_core=False)
    assert cli.main(["check-wheel", str(whl)]) == 1
    out = capsys.readouterr().out
    assert "FAIL extension" in out and "result: FAILED (extension)" in out


def test_check_wheel_detects_a_tampered_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    whl = fake_wheel(tmp_path, "pionnx-0.1.0-cp39-cp39-manylinux_2_31_armv7l.whl")
    with zipfile.ZipFile(whl, "a") as zf:
        zf.writestr("pionnx/extra.py", b"print('not in RECORD')\n")
    assert cli.main(["check-wheel", str(whl)]) == 1
    assert "not listed: pionnx/extra.py" in capsys.readouterr().out


def test_check_wheel_rejects_what_is_no_wheel(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad_name = tmp_path / "pionnx.whl"
    bad_name.write_bytes(b"x")
    assert cli.main(["check-wheel", str(bad_name)]) == 3
    assert "is not a wheel file name" in capsys.readouterr().err
    not_zip = tmp_path / "pionnx-0.1.0-cp39-cp39-linux_x86_64.whl"
    not_zip.write_bytes(b"not a zip")
    assert cli.main(["check-wheel", str(not_zip)]) == 3
    assert "not a zip archive" in capsys.readouterr().err
    assert cli.main(["check-wheel", str(tmp_path / "pionnx-0.1.0-py3-none-any.whl")]) == 3
    assert "wheel not found" in capsys.readouterr().err


def _real_wheels() -> list[str]:
    patterns = ("dist/pionnx-*.whl", "build/**/pionnx-*.whl", "wheelhouse/pionnx-*.whl")
    found = [p for pattern in patterns for p in glob.glob(str(ROOT / pattern), recursive=True)]
    return [p for p in found if cli.interpreter_match(cli.parse_wheel_name(Path(p).name))[0]]


@pytest.mark.skipif(not _real_wheels(), reason="no pionnx wheel for this interpreter in dist/, build/ or wheelhouse/")
def test_check_wheel_on_a_real_wheel(capsys: pytest.CaptureFixture[str]) -> None:
    whl = _real_wheels()[0]
    assert cli.main(["check-wheel", whl, "--no-conformance"]) == 0, capsys.readouterr().out
    out = capsys.readouterr().out
    assert "ok   import" in out and "ok   tiny models  3/3 match numpy" in out
    assert "simd_info    sgemm=" in out


# ----------------------------------------------------------------------------------- help, version


@pytest.mark.parametrize(
    ("argv", "words"),
    [
        ([], ["info", "run", "bench", "check-wheel", "exit codes:", "--version"]),
        (["info"], ["--json", "--strict", "examples:"]),
        (["run"], ["--input", "--output-dir", "--threads", "--dim", "examples:"]),
        (["bench"], ["--threads", "--runs", "--warmup", "--dim", "--input", "--json", "examples:"]),
        (["check-wheel"], ["--no-smoke", "--no-conformance", "--subset", "--expected-failures", "examples:"]),
    ],
)
def test_help(argv: list[str], words: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main([*argv, "--help"]) == 0
    out = capsys.readouterr().out
    for word in words:
        assert word in out, word


def test_version_and_usage_errors(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["--version"]) == 0
    assert capsys.readouterr().out.strip() == f"pionnx {pionnx.__version__}"
    assert cli.main([]) == 2
    assert "usage: pionnx" in capsys.readouterr().err
    assert cli.main(["bench", "m.onnx", "--runs", "many"]) == 2
    assert "invalid int value" in capsys.readouterr().err


# ------------------------------------------------------------------------------------- subprocess


def test_exit_codes_through_python_m_pionnx(add_model: str, tmp_path: Path) -> None:
    def pionnx_cmd(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "pionnx", *args], capture_output=True, text=True, timeout=120, cwd=tmp_path
        )

    ok = pionnx_cmd("info", add_model)
    assert ok.returncode == 0 and "implements every op" in ok.stdout, ok.stderr
    custom = _save(custom_model(), tmp_path / "custom.onnx")
    assert pionnx_cmd("info", custom, "--strict").returncode == 1
    assert pionnx_cmd("run", add_model, "--bogus").returncode == 2
    missing = pionnx_cmd("run", add_model, "--input", "a=missing.npy", "--input", "b=random")
    assert missing.returncode == 3
    assert missing.stderr.strip() == "pionnx run: error: input file for 'a' not found: missing.npy"
    cannot = pionnx_cmd("bench", custom)
    assert cannot.returncode == 4 and "FancyOp" in cannot.stderr and "Traceback" not in cannot.stderr
    assert pionnx_cmd("--version").stdout.strip() == f"pionnx {pionnx.__version__}"


def test_read_model_matches_onnx_and_refuses_truncated_bytes() -> None:
    data = custom_model().SerializeToString()
    desc = cli.read_model(data)
    assert [n.op for n in desc.nodes] == [
        "Swish",
        "FancyOp",
        "ReduceSum",
        "Greater",
        "If",
        "Neg",
        "Relu",
        "Sigmoid",
        "Mul",
    ]
    assert desc.nodes[6].where == "subgraph then_branch of If 'branch' (main graph)"
    assert desc.nodes[7].where == "function local::Swish"
    with pytest.raises(ValueError):
        cli.read_model(data[: len(data) // 2])


@pytest.mark.parametrize("command", ["", "info", "run", "bench", "check-wheel"])
def test_readme_shows_the_real_help(command: str, capsys: pytest.CaptureFixture[str]) -> None:
    """README.md's "Command line" section pastes each --help; regenerate it when this fails."""
    assert cli.main([command, "--help"] if command else ["--help"]) == 0
    assert capsys.readouterr().out in (ROOT / "README.md").read_text()
