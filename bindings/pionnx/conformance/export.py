"""Copy the ONNX backend test cases to a folder the numpy-only runner can use.

Host side (imports onnx). Layout of the export:

    DIR/manifest.json
    DIR/<suite>/<test name>/model.onnx
    DIR/<suite>/<test name>/test_data_set_N/{input,output}_K.pb

The manifest carries what the runner cannot read without onnx: each case's
rtol/atol (from the case's data.json, defaults 1e-3/1e-7 as in onnx's loader),
the graph input/output names, the graph input each input_K.pb feeds, and the
kind of each value (tensor, sequence, optional, map) so the runner reads each
file as the right message or skips the case with a reason.

Light models (onnx's "real" category) have no test data in the wheel: onnx's
runner makes the inputs with ``Runner.generate_dummy_data`` and takes the
outputs from ``light_<model>_output_K.pb``; the export does the same and writes
them as an ordinary test_data_set_0.

Node cases: onnx up to 1.19 ships them as files (model.onnx + test_data_set_N);
from 1.20 the wheel builds them in memory (``TestCase.model`` and
``TestCase.data_sets``) and the export writes them out the way onnx's own
``cmd_tools generate-data`` does.
"""

from __future__ import annotations

import glob
import json
import os
import shutil
from pathlib import Path
from typing import Any

import onnx
from onnx.backend.test.loader import load_model_tests
from onnx.backend.test.runner import Runner

from .feeds import feed_names
from .suites import DATA_KINDS, DEVICE_SUFFIX, LIGHT_URL_PREFIX, SUITES

MANIFEST = "manifest.json"
FORMAT = "pionnx-conformance/1"


def _kind(type_proto: onnx.TypeProto) -> str:
    which = type_proto.WhichOneof("value")
    return {
        "tensor_type": "tensor",
        "sequence_type": "sequence",
        "optional_type": "optional",
        "map_type": "map",
        "sparse_tensor_type": "sparse_tensor",
    }.get(which or "", "unknown")


def _value_infos(values: Any) -> list[dict[str, str]]:
    return [{"name": value.name, "kind": _kind(value.type)} for value in values]


def _reference_dtype(path: Path, kind: str) -> str | None:
    """The numpy dtype name onnx's runner gives a reference output (e.g. 'bfloat16' via ml_dtypes)."""
    if kind != "tensor":
        return None
    proto = onnx.TensorProto()
    proto.ParseFromString(path.read_bytes())
    return onnx.numpy_helper.to_array(proto).dtype.name


def _data_sets(case_dir: Path, model: onnx.ModelProto) -> list[dict[str, Any]]:
    input_names = [value.name for value in model.graph.input]
    initializer_names = [init.name for init in model.graph.initializer]
    output_kinds = [_kind(value.type) for value in model.graph.output]
    sets = []
    for set_dir in sorted(case_dir.glob("test_data_set*")):
        n_in = len(glob.glob(os.path.join(set_dir, "input_*.pb")))
        n_out = len(glob.glob(os.path.join(set_dir, "output_*.pb")))
        sets.append(
            {
                "dir": set_dir.name,
                "inputs": [
                    {"file": f"input_{i}.pb", "name": name}
                    for i, name in enumerate(feed_names(input_names, initializer_names, n_in))
                ],
                "outputs": [f"output_{i}.pb" for i in range(n_out)],
                "output_dtypes": [
                    _reference_dtype(set_dir / f"output_{i}.pb", output_kinds[i] if i < len(output_kinds) else "")
                    for i in range(n_out)
                ],
            }
        )
    return sets


def _pick(items: list[Any], subset: int | None) -> list[Any]:
    """At most `subset` items, spread evenly over the sorted list (deterministic)."""
    if subset is None or subset >= len(items):
        return items
    if subset <= 0:
        return []
    step = len(items) / subset
    return [items[int(i * step)] for i in range(subset)]


def _light_model_path(url: str) -> Path:
    # url is relative to the folder that holds the onnx package, as in onnx's runner.
    return Path(onnx.__file__).resolve().parent.parent / url


def _export_light(case: Any, dest: Path) -> None:
    source = _light_model_path(case.url)
    dest.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(source, dest / "model.onnx")
    model = onnx.load(str(source))
    data_dir = dest / "test_data_set_0"
    data_dir.mkdir(exist_ok=True)
    initializers = {init.name for init in model.graph.initializer}
    feeds = {}
    graph_inputs = [value for value in model.graph.input if value.name not in initializers]
    for i, value in enumerate(graph_inputs):
        array = Runner.generate_dummy_data(value, seed=0, name=case.model_name, random=False)
        feeds[value.name] = array
        (data_dir / f"input_{i}.pb").write_bytes(onnx.numpy_helper.from_array(array).SerializeToString())
    prefix = str(source.with_suffix(""))
    shipped = [Path(f"{prefix}_output_{i}.pb") for i in range(len(model.graph.output))]
    if all(path.exists() for path in shipped):
        for i, path in enumerate(shipped):
            shutil.copyfile(path, data_dir / f"output_{i}.pb")
    else:
        from onnx.reference import ReferenceEvaluator  # slow on the big conv nets; onnx ships their outputs

        outputs = ReferenceEvaluator(model).run(None, feeds)
        for i, array in enumerate(outputs):
            (data_dir / f"output_{i}.pb").write_bytes(onnx.numpy_helper.from_array(array).SerializeToString())


def _value_proto(value: Any, type_proto: onnx.TypeProto, name: str) -> Any:
    """A test value as the protobuf message its graph type calls for."""
    kind = _kind(type_proto)
    if kind == "map":
        return onnx.numpy_helper.from_dict(value, name)
    if kind == "sequence":
        return onnx.numpy_helper.from_list(value, name)
    if kind == "optional":
        return onnx.numpy_helper.from_optional(value, name)
    if isinstance(value, onnx.TensorProto):  # element types numpy has no dtype for (int4, float8, ...)
        return value
    return onnx.numpy_helper.from_array(value, name)


def _write_in_memory_case(case: Any, dest: Path) -> None:
    """Write a case onnx keeps in memory (node cases from onnx 1.20) as files."""
    dest.mkdir(parents=True, exist_ok=True)
    (dest / "model.onnx").write_bytes(case.model.SerializeToString())
    graph = case.model.graph
    for i, (inputs, outputs) in enumerate(case.data_sets):
        data_dir = dest / f"test_data_set_{i}"
        data_dir.mkdir()
        for prefix, values, declared in (("input", inputs, graph.input), ("output", outputs, graph.output)):
            for j, value in enumerate(values):
                proto = _value_proto(value, declared[j].type, declared[j].name)
                (data_dir / f"{prefix}_{j}.pb").write_bytes(proto.SerializeToString())


def export(
    out_dir: str | os.PathLike[str],
    suites: list[str] | None = None,
    subset: int | None = None,
) -> dict[str, Any]:
    """Export the chosen suites to out_dir and return the manifest written there."""
    out = Path(out_dir)
    suites = suites or list(SUITES)
    unknown = [s for s in suites if s not in SUITES]
    if unknown:
        raise ValueError(f"unknown suite(s) {unknown}; choose from {list(SUITES)}")
    out.mkdir(parents=True, exist_ok=True)
    cases_out: list[dict[str, Any]] = []
    for suite in suites:
        cases = sorted(load_model_tests(kind=DATA_KINDS[suite]), key=lambda c: c.name)
        if suite == "light":
            cases = [c for c in cases if c.model_dir is None and (c.url or "").startswith(LIGHT_URL_PREFIX)]
        else:
            cases = [c for c in cases if c.model_dir is not None or c.model is not None]
        for case in _pick(cases, subset):
            dest = out / suite / case.name
            if dest.exists():
                shutil.rmtree(dest)
            if suite == "light":
                _export_light(case, dest)
            elif case.model_dir is None:
                _write_in_memory_case(case, dest)
            else:
                shutil.copytree(case.model_dir, dest)
            model = onnx.load(str(dest / "model.onnx"), load_external_data=False)
            cases_out.append(
                {
                    "id": case.name + DEVICE_SUFFIX,
                    "name": case.name,
                    "suite": suite,
                    "dir": f"{suite}/{case.name}",
                    "model": "model.onnx",
                    "rtol": case.rtol,
                    "atol": case.atol,
                    "inputs": _value_infos(model.graph.input),
                    "outputs": _value_infos(model.graph.output),
                    "data_sets": _data_sets(dest, model),
                }
            )
    manifest = {
        "format": FORMAT,
        "onnx_version": onnx.__version__,
        "suites": suites,
        "subset": subset,
        "cases": cases_out,
    }
    (out / MANIFEST).write_text(json.dumps(manifest, indent=1) + "\n")
    return manifest
