"""An onnxruntime-style script over pionnx's typed API: `mypy --strict` must pass on it
(tests/test_typing.py), and it runs: python tests/typing/sample_api.py MODEL.onnx INPUT_NAME."""

from __future__ import annotations

import sys

import numpy as np
import numpy.typing as npt

import pionnx as ort


def make_session(path: str, profile: bool) -> ort.InferenceSession:
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.log_severity_level = 3
    options.enable_profiling = profile
    options.add_free_dimension_override_by_name("batch", 2)
    return ort.InferenceSession(path, options, providers=["CPUExecutionProvider"])


def run_all_ways(session: ort.InferenceSession, name: str, x: npt.NDArray[np.float32]) -> list[float]:
    shapes: list[list[int | str | None] | None] = [arg.shape for arg in session.get_inputs()]
    assert shapes
    plain: list[object] = session.run(None, {name: x})
    value = ort.OrtValue.ortvalue_from_numpy(x)
    assert value.element_type() == 1 and value.data_type() == "tensor(float)" and value.is_tensor()
    outputs: list[ort.OrtValue] = session.run_with_ort_values(None, {name: value})
    binding: ort.IOBinding = session.io_binding()
    binding.bind_cpu_input(name, x)
    for out in session.get_outputs():
        binding.bind_output(out.name, "cpu")
    run_options = ort.RunOptions()
    run_options.terminate = False
    session.run_with_iobinding(binding, run_options)
    copied: list[object] = binding.copy_outputs_to_cpu()
    first = np.asarray(outputs[0].numpy())
    assert len(plain) == len(copied) == len(outputs)
    return [float(v) for v in first.reshape(-1)]


def main(argv: list[str]) -> int:
    ort.set_default_logger_severity(3)
    session = make_session(argv[0], profile=True)
    values = run_all_ways(session, argv[1], np.ones((2, 3), np.float32))
    trace: str = session.end_profiling()
    started: int = session.get_profiling_start_time_ns()
    print(len(values), trace.endswith(".json"), started > 0, ort.get_optimizer_names()[:1])
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
