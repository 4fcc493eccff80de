"""onnxruntime's Python API beyond InferenceSession.run, checked against onnxruntime itself.

Each ``script_*`` function is an onnxruntime script written against a module
``ort``; the tests run it with ``import pionnx as ort`` and with onnxruntime and
compare what the two return: OrtValue, run_with_ort_values, IOBinding,
profiling, logging, free dimension overrides, disabled optimizers, provider
validation and RunOptions.terminate.
"""

from __future__ import annotations

import json
import os
import threading
import types
import warnings
from typing import Any

import numpy as np
import pytest
from onnx import TensorProto, helper

import pionnx

onnxruntime = pytest.importorskip("onnxruntime")

RUNTIMES = {"pionnx": pionnx, "onnxruntime": onnxruntime}


def small_model() -> bytes:
    """y = relu(x * (w + c)) with x [batch, 3], one initializer nothing reads, named nodes."""
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 3])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", 3])
    inits = [
        helper.make_tensor("w", TensorProto.FLOAT, [3], [1, -2, 3]),
        helper.make_tensor("c", TensorProto.FLOAT, [3], [1, 1, 1]),
        helper.make_tensor("unused_weight", TensorProto.FLOAT, [1], [0]),
    ]
    nodes = [
        helper.make_node("Add", ["w", "c"], ["wc"], name="fold_me"),
        helper.make_node("Mul", ["x", "wc"], ["m"], name="scale"),
        helper.make_node("Relu", ["m"], ["y"], name="act"),
    ]
    graph = helper.make_graph(nodes, "small", [x], [y], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 9
    return model.SerializeToString()


def long_model(n: int = 150, size: int = 384) -> bytes:
    """A chain of n MatMuls of size x size: a run long enough to be stopped part way."""
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [size, size])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [size, size])
    w = np.full((size, size), 1.0 / size, np.float32)
    init = helper.make_tensor("w", TensorProto.FLOAT, [size, size], w.reshape(-1).tolist())
    nodes = [helper.make_node("MatMul", ["x" if i == 0 else f"h{i}", "w"], [f"h{i + 1}"]) for i in range(n)]
    nodes.append(helper.make_node("Identity", [f"h{n}"], ["y"]))
    model = helper.make_model(
        helper.make_graph(nodes, "long", [x], [y], [init]), opset_imports=[helper.make_opsetid("", 17)]
    )
    model.ir_version = 9
    return model.SerializeToString()


X = np.array([[0, 1, 2], [3, -4, 5]], np.float32)


def both(script: Any, *args: Any) -> tuple[Any, Any]:
    return script(pionnx, *args), script(onnxruntime, *args)


# ---------------------------------------------------------------- OrtValue


def script_ortvalue(ort: types.ModuleType) -> dict[str, Any]:
    a = X.copy()
    v = ort.OrtValue.ortvalue_from_numpy(a)
    out: dict[str, Any] = {
        "shape": v.shape(),
        "data_type": v.data_type(),
        "element_type": v.element_type(),
        "is_tensor": v.is_tensor(),
        "has_value": v.has_value(),
        "device": v.device_name(),
        "bytes": v.tensor_size_in_bytes(),
    }
    a[0, 0] = 42  # the OrtValue shares the array's memory
    out["sees_write"] = float(v.numpy()[0, 0])
    v.update_inplace(np.full((2, 3), 7, np.float32))
    out["after_update"] = a.tolist()
    z = ort.OrtValue.ortvalue_from_shape_and_type([2, 2], np.int64)
    out["z"] = (z.shape(), z.data_type(), z.element_type())
    h = ort.OrtValue.ortvalue_from_shape_and_type([4], TensorProto.FLOAT16)
    out["h"] = (h.shape(), h.data_type(), h.element_type())
    return out


def test_ortvalue_matches_onnxruntime() -> None:
    ours, theirs = both(script_ortvalue)
    assert ours == theirs


def test_ortvalue_refuses_what_onnxruntime_refuses() -> None:
    for ort in RUNTIMES.values():
        with pytest.raises(RuntimeError, match="only supported from non-string numpy arrays"):
            ort.OrtValue.ortvalue_from_numpy([1.0, 2.0])
    with pytest.raises(RuntimeError, match="pionnx runs on the CPU"):
        pionnx.OrtValue.ortvalue_from_numpy(X, "cuda", 0)


def script_run_with_ort_values(ort: types.ModuleType) -> list[Any]:
    sess = ort.InferenceSession(small_model(), providers=["CPUExecutionProvider"])
    outs = sess.run_with_ort_values(["y"], {"x": ort.OrtValue.ortvalue_from_numpy(X)})
    return [(type(o).__name__, o.data_type(), o.shape(), o.numpy().tolist()) for o in outs]


def test_run_with_ort_values_matches_onnxruntime() -> None:
    ours, theirs = both(script_run_with_ort_values)
    assert ours == theirs


# ---------------------------------------------------------------- IOBinding


def script_iobinding(ort: types.ModuleType) -> dict[str, Any]:
    sess = ort.InferenceSession(small_model(), providers=["CPUExecutionProvider"])
    out: dict[str, Any] = {}
    io = sess.io_binding()
    io.bind_cpu_input("x", X)
    io.bind_output("y", "cpu")
    sess.run_with_iobinding(io)
    out["copied"] = [a.tolist() for a in io.copy_outputs_to_cpu()]
    out["ortvalues"] = [(v.data_type(), v.shape(), v.numpy().tolist()) for v in io.get_outputs()]
    # Bound to memory the caller owns: the run writes the result there.
    io2 = sess.io_binding()
    io2.bind_ortvalue_input("x", ort.OrtValue.ortvalue_from_numpy(X * 2))
    target = np.zeros((2, 3), np.float32)
    io2.bind_ortvalue_output("y", ort.OrtValue.ortvalue_from_numpy(target))
    sess.run_with_iobinding(io2)
    out["preallocated"] = target.tolist()
    # Raw pointers, as scripts that manage their own buffers bind them.
    src = np.ascontiguousarray(X * 3)
    dst = np.zeros((2, 3), np.float32)
    io3 = sess.io_binding()
    io3.bind_input("x", "cpu", 0, np.float32, [2, 3], src.ctypes.data)
    io3.bind_output("y", "cpu", 0, np.float32, [2, 3], dst.ctypes.data)
    sess.run_with_iobinding(io3)
    out["pointers"] = dst.tolist()
    io3.clear_binding_outputs()
    io3.bind_output("y")
    sess.run_with_iobinding(io3)
    out["rebound"] = io3.copy_outputs_to_cpu()[0].tolist()
    return out


def test_iobinding_matches_onnxruntime() -> None:
    ours, theirs = both(script_iobinding)
    assert ours == theirs
    assert ours["preallocated"] == np.maximum(X * 2 * np.array([2, -1, 4], np.float32), 0).tolist()


def test_iobinding_belongs_to_its_session() -> None:
    a = pionnx.InferenceSession(small_model())
    b = pionnx.InferenceSession(small_model())
    with pytest.raises(ValueError, match="IOBinding must be used with the session that created it"):
        b.run_with_iobinding(a.io_binding())


def test_bound_output_of_the_wrong_shape_is_refused() -> None:
    sess = pionnx.InferenceSession(small_model())
    io = sess.io_binding()
    io.bind_cpu_input("x", X)
    io.bind_ortvalue_output("y", pionnx.OrtValue.ortvalue_from_shape_and_type([3, 3], np.float32))
    with pytest.raises(ValueError, match=r"output 'y': the run produced float32\[2, 3\]"):
        sess.run_with_iobinding(io)


# ---------------------------------------------------------------- profiling


def script_profiling(ort: types.ModuleType, prefix: str) -> dict[str, Any]:
    so = ort.SessionOptions()
    so.enable_profiling = True
    so.profile_file_prefix = prefix
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    sess = ort.InferenceSession(small_model(), so, providers=["CPUExecutionProvider"])
    start = sess.get_profiling_start_time_ns()
    for _ in range(2):
        sess.run(None, {"x": X})
    path = sess.end_profiling()
    with open(path) as f:
        events = json.load(f)
    nodes = [e for e in events if e.get("cat") == "Node" and e["name"].endswith("_kernel_time")]
    return {
        "path_prefix": os.path.basename(path).startswith(os.path.basename(prefix)) and path.endswith(".json"),
        "start_positive": start > 0,
        "ops": sorted(e["args"]["op_name"] for e in nodes),
        "names": sorted({e["name"] for e in nodes}),
        "fields": sorted({k for e in nodes for k in ("ph", "ts", "dur", "pid", "tid", "name", "cat") if k in e}),
        "mul_shapes": [e["args"]["input_type_shape"] for e in nodes if e["args"]["op_name"] == "Mul"][:1],
    }


def test_profiling_matches_onnxruntime(tmp_path: Any) -> None:
    ours = script_profiling(pionnx, str(tmp_path / "pionnx_prof"))
    theirs = script_profiling(onnxruntime, str(tmp_path / "ort_prof"))
    assert ours == theirs
    assert ours["ops"] == ["Add", "Add", "Mul", "Mul", "Relu", "Relu"]  # one event per node per run


def test_profiling_off_writes_nothing() -> None:
    sess = pionnx.InferenceSession(small_model())
    sess.run(None, {"x": X})
    assert sess.end_profiling() == ""
    assert sess.get_profiling_start_time_ns() == 0


# ---------------------------------------------------------------- logging


def session_messages(capfd: Any, ort: types.ModuleType, severity: int | None = None, default: int = 2) -> str:
    ort.set_default_logger_severity(default)
    so = ort.SessionOptions()
    if severity is not None:
        so.log_severity_level = severity
    capfd.readouterr()
    ort.InferenceSession(small_model(), so, providers=["CPUExecutionProvider"])
    captured = capfd.readouterr()
    ort.set_default_logger_severity(2)
    return captured.out + captured.err


@pytest.mark.parametrize("name", list(RUNTIMES))
def test_logging_filters_like_onnxruntime(capfd: Any, name: str) -> None:
    ort = RUNTIMES[name]
    unused = "Removing initializer 'unused_weight'"
    assert unused in session_messages(capfd, ort)  # a warning, shown at the default severity
    assert unused not in session_messages(capfd, ort, severity=3)  # the session's own level
    assert unused not in session_messages(capfd, ort, default=3)  # -1 follows the default logger
    assert unused in session_messages(capfd, ort, severity=2, default=3)


def test_verbose_logging_reports_the_optimizer(capfd: Any) -> None:
    text = session_messages(capfd, pionnx, severity=0)
    assert "optimizer ConstantFolding changed the graph" in text
    assert "[I:pionnx:" in text and "3 nodes" in text
    assert "changed the graph" not in session_messages(capfd, pionnx, severity=1)


def test_bad_severity_is_refused() -> None:
    with pytest.raises(ValueError, match="severity must be 0"):
        pionnx.set_default_logger_severity(7)
    so = pionnx.SessionOptions()
    so.log_severity_level = 9
    with pytest.raises(ValueError, match="log_severity_level must be -1"):
        pionnx.InferenceSession(small_model(), so)


# ---------------------------------------------------------------- session options


def script_free_dimension(ort: types.ModuleType) -> dict[str, Any]:
    so = ort.SessionOptions()
    so.add_free_dimension_override_by_name("batch", 2)
    sess = ort.InferenceSession(small_model(), so, providers=["CPUExecutionProvider"])
    out: dict[str, Any] = {"shape": sess.get_inputs()[0].shape, "y": sess.run(None, {"x": X})[0].tolist()}
    try:
        sess.run(None, {"x": np.zeros((3, 3), np.float32)})
        out["other_size"] = "ran"
    except Exception as e:  # noqa: BLE001 - the two runtimes raise their own classes
        out["other_size"] = "invalid dimensions" in str(e)
    return out


def test_free_dimension_override_matches_onnxruntime() -> None:
    ours, theirs = both(script_free_dimension)
    assert ours == theirs
    assert ours["other_size"] is True


def script_disabled_optimizers(ort: types.ModuleType) -> list[Any]:
    sess = ort.InferenceSession(
        small_model(), providers=["CPUExecutionProvider"], disabled_optimizers=["ConstantFolding", "NoSuchPass"]
    )
    return sess.run(None, {"x": X})[0].tolist()


def test_disabled_optimizers_match_onnxruntime() -> None:
    ours, theirs = both(script_disabled_optimizers)
    assert ours == theirs
    kept = pionnx.InferenceSession(small_model(), disabled_optimizers=["ConstantFolding"])
    kept.run(None, {"x": X})
    folded = pionnx.InferenceSession(small_model())
    folded.run(None, {"x": X})
    assert kept.get_profile()["nodes_executed"] == 3
    assert folded.get_profile()["nodes_executed"] == 2
    assert "ConstantFolding" in pionnx.get_optimizer_names()


def provider_outcome(capfd: Any, ort: types.ModuleType, providers: Any, provider_options: Any = None) -> Any:
    capfd.readouterr()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        sess = ort.InferenceSession(small_model(), providers=providers, provider_options=provider_options)
    # onnxruntime names the providers it has (Azure, CPU): compare what both say about CPU.
    said = [str(w.message).replace("AzureExecutionProvider, ", "") for w in caught if "rovider" in str(w.message)]
    printed = [line for line in capfd.readouterr().out.splitlines() if "EP Error" in line or "Falling back" in line]
    return sess.get_providers(), said, printed, sess.run(None, {"x": X})[0].tolist()


@pytest.mark.parametrize(
    "providers, provider_options",
    [
        (["CPUExecutionProvider"], None),
        (["CUDAExecutionProvider", "CPUExecutionProvider"], None),
        ([("CPUExecutionProvider", {"arena_extend_strategy": "kSameAsRequested"})], None),
        (["CPUExecutionProvider"], [{}, {}]),
        ("CPUExecutionProvider", None),  # a str is a sequence: one unknown provider per character
        ([("CPUExecutionProvider",)], None),
        ([("CPUExecutionProvider", {})], [{}]),
    ],
    ids=["cpu", "unknown-first", "with-options", "length-mismatch", "a-string", "bad-tuple", "options-twice"],
)
def test_provider_validation_matches_onnxruntime(capfd: Any, providers: Any, provider_options: Any) -> None:
    ours = provider_outcome(capfd, pionnx, providers, provider_options)
    theirs = provider_outcome(capfd, onnxruntime, providers, provider_options)
    if isinstance(providers, str):
        # onnxruntime's C++ also refuses the made-up provider 'C' ("Unknown Provider Type") and
        # falls back to the CPU; pionnx, which knows no provider types but the CPU, has only the
        # warnings to give. Providers, warnings and outputs agree.
        assert ours[:2] == theirs[:2] and ours[3] == theirs[3]
        assert ours[2] == [] and "Unknown Provider Type: C" in theirs[2][1]
        return
    assert ours == theirs


# ---------------------------------------------------------------- RunOptions.terminate


def script_terminate_before(ort: types.ModuleType) -> tuple[str, Any]:
    sess = ort.InferenceSession(small_model(), providers=["CPUExecutionProvider"])
    ro = ort.RunOptions()
    ro.terminate = True
    try:
        sess.run(None, {"x": X}, ro)
        first = "ran"
    except Exception as e:  # noqa: BLE001 - onnxruntime's Fail is not a RuntimeError
        first = "terminate flag" in str(e)
    ro.terminate = False
    return first, sess.run(None, {"x": X}, ro)[0].tolist()


def test_terminate_matches_onnxruntime() -> None:
    ours, theirs = both(script_terminate_before)
    assert ours == theirs
    assert ours[0] is True


def test_terminate_from_another_thread_stops_a_long_run() -> None:
    sess = pionnx.InferenceSession(long_model(), disabled_optimizers=["ConstantFolding"])
    ro = pionnx.RunOptions()
    x = np.ones((384, 384), np.float32)
    started = threading.Event()

    def stop() -> None:
        started.wait()
        ro.terminate = True

    thread = threading.Thread(target=stop)
    thread.start()
    started.set()
    with pytest.raises(pionnx.Fail, match="Exiting due to terminate flag being set to true"):
        sess.run(None, {"x": x}, ro)
    thread.join()
    ro.terminate = False
    np.testing.assert_allclose(sess.run(None, {"x": x}, ro)[0], x, rtol=1e-4)


_LOOP_TERMINATE_RUNNER = r"""
import sys, threading, time, numpy as np, pionnx
from onnx import TensorProto, helper
empty_body = sys.argv[1] == "empty"
cond_in = helper.make_tensor_value_info("cond_in", TensorProto.BOOL, [])
x_in = helper.make_tensor_value_info("x_in", TensorProto.FLOAT, [4])
i_in = helper.make_tensor_value_info("i", TensorProto.INT64, [])
if empty_body:  # the body's outputs are its inputs: no node inside to check the flag between
    body = helper.make_graph([], "body", [i_in, cond_in, x_in], [cond_in, x_in])
else:
    body = helper.make_graph(
        [helper.make_node("Identity", ["cond_in"], ["cond_out"]), helper.make_node("Add", ["x_in", "x_in"], ["x_out"])],
        "body",
        [i_in, cond_in, x_in],
        [helper.make_tensor_value_info("cond_out", TensorProto.BOOL, []),
         helper.make_tensor_value_info("x_out", TensorProto.FLOAT, [4])],
    )
loop = helper.make_node("Loop", ["M", "cond", "x"], ["y"], body=body)
graph = helper.make_graph(
    [loop], "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [4])],
    [helper.make_tensor_value_info("y", TensorProto.FLOAT, [4])],
    [helper.make_tensor("M", TensorProto.INT64, [], [2**62]), helper.make_tensor("cond", TensorProto.BOOL, [], [True])],
)
model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 16)])
sess = pionnx.InferenceSession(model.SerializeToString())
ro = pionnx.RunOptions()
threading.Thread(target=lambda: (time.sleep(0.3), setattr(ro, "terminate", True)), daemon=True).start()
try:
    sess.run(None, {"x": np.zeros(4, np.float32)}, ro)
    print("finished")
except pionnx.Fail as e:
    print("stopped" if "terminate flag" in str(e) else f"other: {e}")
"""


@pytest.mark.parametrize("body", ["nodes", "empty"])
def test_terminate_stops_a_loop_between_iterations(body: str) -> None:
    """RunOptions.terminate reaches inside a Loop: a trip count of 2^62 (a hang otherwise) stops with
    the terminate error, whether the body has nodes (checked between them, as the top level is) or none
    (checked by the Loop every iteration). In a child process, so a run that ignores the flag is
    killed at the timeout instead of spinning inside the test process."""
    import subprocess
    import sys

    proc = subprocess.run(
        [sys.executable, "-c", _LOOP_TERMINATE_RUNNER, body], capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "stopped"
