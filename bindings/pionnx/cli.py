"""pionnx's command line (`pionnx ...`, the same as `python -m pionnx ...`).

    pionnx info MODEL          what a model declares and whether this build can run it
    pionnx run MODEL ...       run once on .npy (or random) inputs, save the outputs
    pionnx bench MODEL ...     time load, first run and repeated runs
    pionnx check-wheel WHEEL   inspect a pionnx wheel and smoke-test it without installing

Only numpy and pionnx are needed; `check-wheel` uses `packaging` when it is
importable and runs the conformance sample only where onnx is importable.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import sysconfig
import tempfile
import time
import zipfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

import numpy as np
import numpy.typing as npt

import pionnx
from pionnx import _core, _wire
from pionnx._dtypes import ELEM_NAMES, ML_BY_ELEM, ML_DTYPES, NUMPY_BY_ELEM
from pionnx._onnx_fields import (
    AttributeProto,
    FunctionProto,
    GraphProto,
    ModelProto,
    NodeProto,
    OperatorSetIdProto,
    SparseTensorProto,
    TensorProto,
    TensorShapeProto,
    TensorShapeProto_Dimension,
    TypeProto,
    TypeProto_Map,
    TypeProto_Opaque,
    TypeProto_Optional,
    TypeProto_Sequence,
    TypeProto_SparseTensor,
    TypeProto_Tensor,
    ValueInfoProto,
)

PROG = "pionnx"

# Exit codes (documented in `pionnx --help` and the README).
EXIT_OK = 0
EXIT_CHECK_FAILED = 1  # the model/wheel was read (and run) but a check failed
EXIT_USAGE = 2  # bad command line (argparse's code)
EXIT_BAD_FILE = 3  # a file named on the command line is missing, unreadable/unwritable, or not an ONNX model/wheel
EXIT_RUN_FAILED = 4  # pionnx raised while loading or running the model

EXIT_CODES_TEXT = """\
exit codes:
  0  success
  1  the model/wheel was read but a check failed (check-wheel: a static check or
     the smoke test; info --strict: ops this build cannot run)
  2  usage error (bad options or input names)
  3  a file named on the command line is missing, unreadable or unwritable, or is
     not an ONNX model / wheel
  4  pionnx failed to load or run the model (the pionnx exception is printed)"""

Array = npt.NDArray[Any]


class CliError(Exception):
    """A user-facing failure: one line on stderr and an exit code, no traceback."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def _human_bytes(n: int) -> str:
    size = float(n)
    for unit in ("B", "KB", "MB", "GB"):
        if size < 1024 or unit == "GB":
            return f"{int(size)} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{n} B"  # not reached


def _table(headers: Sequence[str], rows: Iterable[Sequence[str]], right: Sequence[int] = (), indent: str = "") -> str:
    """A plain text table: columns separated by two spaces, `right` columns right-aligned."""
    body = [list(r) for r in rows]
    widths = [len(h) for h in headers]
    for r in body:
        for i, cell in enumerate(r):
            widths[i] = max(widths[i], len(cell))

    def line(cells: Sequence[str]) -> str:
        parts = [c.rjust(widths[i]) if i in right else c.ljust(widths[i]) for i, c in enumerate(cells)]
        return (indent + "  ".join(parts)).rstrip()

    return "\n".join([line(headers)] + [line(r) for r in body])


def _readable_file(path: str, what: str) -> None:
    if not os.path.exists(path):
        raise CliError(EXIT_BAD_FILE, f"{what} not found: {path}")
    if os.path.isdir(path):
        raise CliError(EXIT_BAD_FILE, f"{what} is a directory, not a file: {path}")
    if not os.access(path, os.R_OK):
        raise CliError(EXIT_BAD_FILE, f"{what} is not readable (permissions): {path}")


# --------------------------------------------------------------------------------------------
# Reading a model without onnx: pionnx._wire.fields over the field numbers of _onnx_fields.

MAX_DEPTH = 64  # nested subgraphs/types, as SessionOptions.max_nesting_depth


@dataclass
class ValueDesc:
    name: str
    type: str
    shape: list[int | str | None] | None  # None: no shape declared


@dataclass
class NodeDesc:
    op: str
    domain: str  # canonical: "" for ai.onnx
    name: str
    overload: str
    where: str  # "main graph", "subgraph of If 'n1' (then_branch)", "function local::F"
    opsets: dict[str, int]  # the opset imports in effect for this node


@dataclass
class FunctionDesc:
    domain: str
    name: str
    overload: str
    opsets: dict[str, int]
    nodes: int = 0


@dataclass
class ModelDesc:
    ir_version: int = 0
    producer_name: str = ""
    producer_version: str = ""
    domain: str = ""
    model_version: int = 0
    graph_name: str = ""
    opsets: dict[str, int] = field(default_factory=dict)
    inputs: list[ValueDesc] = field(default_factory=list)
    outputs: list[ValueDesc] = field(default_factory=list)
    initializer_count: int = 0
    initializer_bytes: int = 0  # serialized TensorProto sizes (raw_data dominates)
    nodes: list[NodeDesc] = field(default_factory=list)
    functions: list[FunctionDesc] = field(default_factory=list)


def _canonical_domain(domain: str) -> str:
    return "" if domain == "ai.onnx" else domain


def _domain_name(domain: str) -> str:
    return domain or "ai.onnx"


def _text(value: _wire.FieldValue) -> str:
    if isinstance(value, int):
        raise ValueError("expected a string, got a number")
    return bytes(value).decode("utf-8", "replace")


def _view(value: _wire.FieldValue) -> memoryview:
    if isinstance(value, int):
        raise ValueError("expected a message, got a number")
    return value


def _number(value: _wire.FieldValue) -> int:
    if not isinstance(value, int):
        raise ValueError("expected a number, got bytes")
    return value - (1 << 64) if value >= 1 << 63 else value


def _opset(buf: memoryview) -> tuple[str, int]:
    domain, version = "", 0
    for num, _, value in _wire.fields(buf):
        if num == OperatorSetIdProto.domain:
            domain = _text(value)
        elif num == OperatorSetIdProto.version:
            version = _number(value)
    return _canonical_domain(domain), version


def _shape(buf: memoryview) -> list[int | str | None]:
    dims: list[int | str | None] = []
    for num, _, value in _wire.fields(buf):
        if num != TensorShapeProto.dim:
            continue
        dim: int | str | None = None
        for dnum, _, dvalue in _wire.fields(_view(value)):
            if dnum == TensorShapeProto_Dimension.dim_value:
                dim = _number(dvalue)
            elif dnum == TensorShapeProto_Dimension.dim_param:
                dim = _text(dvalue) or None
        dims.append(dim)
    return dims


def _tensor_type(buf: memoryview) -> tuple[str, list[int | str | None] | None]:
    elem, shape = 0, None
    for num, _, value in _wire.fields(buf):
        if num == TypeProto_Tensor.elem_type:  # the same numbers in TypeProto_SparseTensor
            elem = _number(value)
        elif num == TypeProto_Tensor.shape:
            shape = _shape(_view(value))
    return ELEM_NAMES.get(elem, f"type{elem}" if elem else "undefined"), shape


def _type(buf: memoryview, depth: int = 0) -> tuple[str, list[int | str | None] | None]:
    """onnxruntime's type string ("tensor(float)", "seq(tensor(int64))", "map(string,tensor(float))") and the shape."""
    if depth > MAX_DEPTH:
        raise ValueError("types nested too deeply")
    assert TypeProto_SparseTensor.elem_type == TypeProto_Tensor.elem_type
    for num, _, value in _wire.fields(buf):
        if num == TypeProto.tensor_type:
            elem, shape = _tensor_type(_view(value))
            return f"tensor({elem})", shape
        if num == TypeProto.sparse_tensor_type:
            elem, shape = _tensor_type(_view(value))
            return f"sparse_tensor({elem})", shape
        if num == TypeProto.sequence_type:
            inner = "undefined"
            for snum, _, svalue in _wire.fields(_view(value)):
                if snum == TypeProto_Sequence.elem_type:
                    inner = _type(_view(svalue), depth + 1)[0]
            return f"seq({inner})", None
        if num == TypeProto.optional_type:
            inner = "undefined"
            for onum, _, ovalue in _wire.fields(_view(value)):
                if onum == TypeProto_Optional.elem_type:
                    inner = _type(_view(ovalue), depth + 1)[0]
            return f"optional({inner})", None
        if num == TypeProto.map_type:
            key, val = "undefined", "undefined"
            for mnum, _, mvalue in _wire.fields(_view(value)):
                if mnum == TypeProto_Map.key_type:
                    key = ELEM_NAMES.get(_number(mvalue), "undefined")
                elif mnum == TypeProto_Map.value_type:
                    val = _type(_view(mvalue), depth + 1)[0]
            return f"map({key},{val})", None
        if num == TypeProto.opaque_type:
            parts = {onum: _text(ovalue) for onum, _, ovalue in _wire.fields(_view(value))}
            return f"opaque({parts.get(TypeProto_Opaque.domain, '')},{parts.get(TypeProto_Opaque.name, '')})", None
    return "undefined", None


def _value_info(buf: memoryview) -> ValueDesc:
    name, type_str, shape = "", "undefined", None
    for num, _, value in _wire.fields(buf):
        if num == ValueInfoProto.name:
            name = _text(value)
        elif num == ValueInfoProto.type:
            type_str, shape = _type(_view(value))
    return ValueDesc(name, type_str, shape)


def _tensor_name(buf: memoryview) -> str:
    for num, _, value in _wire.fields(buf):
        if num == TensorProto.name:
            return _text(value)
    return ""


def _graph(
    buf: memoryview, where: str, opsets: dict[str, int], nodes: list[NodeDesc], depth: int
) -> tuple[str, list[ValueDesc], list[ValueDesc], set[str], int, int]:
    """Appends the graph's nodes (and its subgraphs' nodes) to `nodes`; returns the graph's
    name, inputs, outputs, initializer names, initializer count and serialized bytes."""
    if depth > MAX_DEPTH:
        raise ValueError(f"subgraphs nested deeper than {MAX_DEPTH}")
    name = ""
    inputs: list[ValueDesc] = []
    outputs: list[ValueDesc] = []
    init_names: set[str] = set()
    init_count = init_bytes = 0
    for num, _, value in _wire.fields(buf):
        if num == GraphProto.node:
            _node(_view(value), where, opsets, nodes, depth)
        elif num == GraphProto.name:
            name = _text(value)
        elif num == GraphProto.initializer:
            init_names.add(_tensor_name(_view(value)))
            init_count += 1
            init_bytes += len(_view(value))
        elif num == GraphProto.sparse_initializer:
            for snum, _, svalue in _wire.fields(_view(value)):
                if snum == SparseTensorProto.values:
                    init_names.add(_tensor_name(_view(svalue)))
            init_count += 1
            init_bytes += len(_view(value))
        elif num == GraphProto.input:
            inputs.append(_value_info(_view(value)))
        elif num == GraphProto.output:
            outputs.append(_value_info(_view(value)))
    return name, inputs, outputs, init_names, init_count, init_bytes


def _node(buf: memoryview, where: str, opsets: dict[str, int], nodes: list[NodeDesc], depth: int) -> None:
    op = domain = name = overload = ""
    attributes: list[memoryview] = []
    for num, _, value in _wire.fields(buf):
        if num == NodeProto.op_type:
            op = _text(value)
        elif num == NodeProto.domain:
            domain = _canonical_domain(_text(value))
        elif num == NodeProto.name:
            name = _text(value)
        elif num == NodeProto.overload:
            overload = _text(value)
        elif num == NodeProto.attribute:
            attributes.append(_view(value))
    nodes.append(NodeDesc(op, domain, name, overload, where, opsets))
    label = f"{op} '{name}'" if name else op
    for attr in attributes:
        attr_name = ""
        graphs: list[memoryview] = []
        for num, _, value in _wire.fields(attr):
            if num == AttributeProto.name:
                attr_name = _text(value)
            elif num in (AttributeProto.g, AttributeProto.graphs):
                graphs.append(_view(value))
        for g in graphs:
            _graph(g, f"subgraph {attr_name} of {label} ({where})", opsets, nodes, depth + 1)


def _function(buf: memoryview, model_opsets: dict[str, int], nodes: list[NodeDesc]) -> FunctionDesc:
    name = domain = overload = ""
    opsets: dict[str, int] = {}
    bodies: list[memoryview] = []
    for num, _, value in _wire.fields(buf):
        if num == FunctionProto.name:
            name = _text(value)
        elif num == FunctionProto.domain:
            domain = _canonical_domain(_text(value))
        elif num == FunctionProto.overload:
            overload = _text(value)
        elif num == FunctionProto.opset_import:
            d, v = _opset(_view(value))
            opsets[d] = v
        elif num == FunctionProto.node:
            bodies.append(_view(value))
    # A function's own imports, the model's for the domains it does not import.
    in_effect = {**model_opsets, **opsets}
    fn = FunctionDesc(domain, name, overload, opsets)
    before = len(nodes)
    for body in bodies:
        _node(body, f"function {_domain_name(domain)}::{name}", in_effect, nodes, 1)
    fn.nodes = len(nodes) - before
    return fn


def read_model(data: bytes | memoryview) -> ModelDesc:
    """The facts `pionnx info` shows, from a serialized ModelProto. ValueError when it is not one."""
    desc = ModelDesc()
    graph: memoryview | None = None
    functions: list[memoryview] = []
    for num, _, value in _wire.fields(data):
        if num == ModelProto.ir_version:
            desc.ir_version = _number(value)
        elif num == ModelProto.producer_name:
            desc.producer_name = _text(value)
        elif num == ModelProto.producer_version:
            desc.producer_version = _text(value)
        elif num == ModelProto.domain:
            desc.domain = _text(value)
        elif num == ModelProto.model_version:
            desc.model_version = _number(value)
        elif num == ModelProto.graph:
            graph = _view(value)
        elif num == ModelProto.opset_import:
            d, v = _opset(_view(value))
            desc.opsets[d] = v
        elif num == ModelProto.functions:
            functions.append(_view(value))
    if graph is None:
        raise ValueError("it has no graph")
    name, inputs, outputs, init_names, count, size = _graph(graph, "main graph", desc.opsets, desc.nodes, 0)
    desc.graph_name = name
    desc.inputs = [v for v in inputs if v.name not in init_names]  # initializers listed as inputs are overridable
    desc.outputs = outputs
    desc.initializer_count, desc.initializer_bytes = count, size
    desc.functions = [_function(f, desc.opsets, desc.nodes) for f in functions]
    return desc


def load_model_desc(path: str) -> ModelDesc:
    _readable_file(path, "model file")
    try:
        data = Path(path).read_bytes()
    except OSError as e:
        raise CliError(EXIT_BAD_FILE, f"cannot read model file {path}: {e.strerror or e}") from e
    try:
        return read_model(data)
    except ValueError as e:
        raise CliError(EXIT_BAD_FILE, f"{path} is not an ONNX model ({e})") from e


# --------------------------------------------------------------------------------------------
# Which ops this build runs.


@dataclass
class OpReport:
    domain: str  # canonical ("" = ai.onnx)
    op: str
    count: int = 0
    nodes: list[NodeDesc] = field(default_factory=list)
    kind: str = "operator"  # or "local function"
    problems: list[str] = field(default_factory=list)  # empty: this build can run it

    @property
    def label(self) -> str:
        return self.op if not self.domain else f"{self.domain}::{self.op}"

    @property
    def runnable(self) -> bool:
        return not self.problems


def _not_supported_reasons() -> tuple[dict[tuple[str, str], str], dict[tuple[str, str, int], str]]:
    """Why an operator (version) onnx defines is not implemented, from the conformance tool's lists;
    they import onnx, so without it there is no reason beyond the plain facts."""
    try:
        from pionnx.conformance.opsets import NOT_SUPPORTED, NOT_SUPPORTED_VERSIONS
    except ImportError:
        return {}, {}
    return dict(NOT_SUPPORTED), dict(NOT_SUPPORTED_VERSIONS)


def op_reports(desc: ModelDesc) -> list[OpReport]:
    """One report per (domain, op) of the model's nodes, most frequent first."""
    rows: dict[tuple[str, str], list[tuple[int, int]]] = {}
    for domain, op, since, until in _core.supported_operators():
        rows.setdefault((_canonical_domain(str(domain)), str(op)), []).append((int(since), int(until)))
    latest = int(_core.latest_opset())
    functions = {(f.domain, f.name, f.overload) for f in desc.functions}
    domains = {domain for domain, _ in rows}
    reports: dict[tuple[str, str], OpReport] = {}
    reasons: tuple[dict[tuple[str, str], str], dict[tuple[str, str, int], str]] | None = None
    for node in desc.nodes:
        key = (node.domain, node.op)
        rep = reports.setdefault(key, OpReport(node.domain, node.op))
        rep.count += 1
        rep.nodes.append(node)
        if (node.domain, node.op, node.overload) in functions:
            rep.kind = "local function"
            continue
        version = node.opsets.get(node.domain)
        if version is None:
            problem = f"the model does not import domain '{_domain_name(node.domain)}' (no opset_import entry)"
        elif key not in rows:
            if reasons is None:
                reasons = _not_supported_reasons()
            why = reasons[0].get(key)
            if why:
                problem = f"not implemented: {why}"
            elif node.domain not in domains:
                problem = f"not implemented (this build has no operators in domain '{node.domain}')"
            else:
                problem = "not implemented"
        elif any(since <= version <= until for since, until in rows[key]):
            continue
        else:
            spans = ", ".join(f"{since}..{until}" for since, until in sorted(rows[key]))
            problem = f"implemented for opsets {spans}, the model imports {version}"
            if version > latest:
                problem += f" (newer than this build's latest opset, {latest})"
            if reasons is None:
                reasons = _not_supported_reasons()
            # The version the model gets: the newest listed one at or below its import.
            listed = [v for (d, o, v) in reasons[1] if (d, o) == key and v <= version]
            if listed:
                problem += f": {reasons[1][(node.domain, node.op, max(listed))]}"
        if problem not in rep.problems:
            rep.problems.append(problem)
    return sorted(reports.values(), key=lambda r: (-r.count, r.label))


def _shape_text(shape: list[int | str | None] | None) -> str:
    if shape is None:
        return "(no shape)"
    return "[" + ", ".join("?" if d is None else str(d) for d in shape) + "]"


def info_json(path: str, desc: ModelDesc, reports: list[OpReport]) -> dict[str, Any]:
    def values(vs: list[ValueDesc]) -> list[dict[str, Any]]:
        return [{"name": v.name, "type": v.type, "shape": v.shape} for v in vs]

    main = sum(1 for n in desc.nodes if n.where == "main graph")
    in_functions = sum(f.nodes for f in desc.functions)
    ops = [
        {
            "domain": _domain_name(r.domain),
            "op": r.op,
            "count": r.count,
            "kind": r.kind,
            "runnable": r.runnable,
            "problems": r.problems,
        }
        for r in reports
    ]
    return {
        "model": path,
        "file_bytes": os.path.getsize(path),
        "ir_version": desc.ir_version,
        "producer_name": desc.producer_name,
        "producer_version": desc.producer_version,
        "domain": desc.domain,
        "model_version": desc.model_version,
        "graph_name": desc.graph_name,
        "opset_import": {_domain_name(d): v for d, v in desc.opsets.items()},
        "inputs": values(desc.inputs),
        "outputs": values(desc.outputs),
        "initializers": {"count": desc.initializer_count, "bytes": desc.initializer_bytes},
        "nodes": {
            "total": len(desc.nodes),
            "main_graph": main,
            "subgraphs": len(desc.nodes) - main - in_functions,
            "functions": in_functions,
        },
        "functions": [
            {
                "domain": _domain_name(f.domain),
                "name": f.name,
                "overload": f.overload,
                "nodes": f.nodes,
                "opset_import": {_domain_name(d): v for d, v in f.opsets.items()},
            }
            for f in desc.functions
        ],
        "ops": ops,
        "not_runnable": [o for o in ops if not o["runnable"]],
        "runnable": all(r.runnable for r in reports),
        "pionnx": {"version": pionnx.__version__, "latest_opset": int(_core.latest_opset())},
    }


def print_info(info: dict[str, Any], reports: list[OpReport], out: TextIO) -> None:
    p = print
    p(f"model        {info['model']} ({_human_bytes(info['file_bytes'])})", file=out)
    producer = " ".join(x for x in (info["producer_name"], info["producer_version"]) if x) or "(not set)"
    p(f"producer     {producer}", file=out)
    p(f"ir_version   {info['ir_version']}", file=out)
    if info["graph_name"]:
        p(f"graph        {info['graph_name']}", file=out)
    opsets = ", ".join(f"{d} {v}" for d, v in info["opset_import"].items()) or "(none)"
    p(f"opsets       {opsets}", file=out)
    inits = info["initializers"]
    p(f"initializers {inits['count']} ({_human_bytes(inits['bytes'])})", file=out)
    n = info["nodes"]
    extra = []
    if n["subgraphs"]:
        extra.append(f"{n['subgraphs']} in subgraphs")
    if n["functions"]:
        extra.append(f"{n['functions']} in {len(info['functions'])} model-local function(s)")
    p(
        f"nodes        {n['total']}" + (f" ({n['main_graph']} in the main graph, {', '.join(extra)})" if extra else ""),
        file=out,
    )
    for title, key in (("inputs", "inputs"), ("outputs", "outputs")):
        p(f"\n{title}:", file=out)
        rows = [(v["name"], v["type"], _shape_text(v["shape"])) for v in info[key]]
        p(_table(("name", "type", "shape"), rows, indent="  ") if rows else "  (none)", file=out)
    p("\nops (most frequent first):", file=out)
    rows = []
    for r in reports:
        status = "yes" if r.runnable else "NO"
        if r.kind == "local function":
            status = "model-local function"
        rows.append((str(r.count), r.label, status))
    p(_table(("count", "op", "runs"), rows, right=(0,), indent="  ") if rows else "  (no nodes)", file=out)
    bad = [r for r in reports if not r.runnable]
    if bad:
        p(f"\nthis build of pionnx ({info['pionnx']['version']}) cannot run {len(bad)} op type(s):", file=out)
        for r in bad:
            first = r.nodes[0]
            example = f"'{first.name}'" if first.name else "unnamed"
            where = "" if first.where == "main graph" else f" in {first.where}"
            p(f"  {r.label} ({r.count} node(s), e.g. {example}{where}): {'; '.join(r.problems)}", file=out)
    else:
        p(f"\nthis build of pionnx ({info['pionnx']['version']}) implements every op of the model", file=out)


def cmd_info(args: argparse.Namespace) -> int:
    path: str = args.model
    desc = load_model_desc(path)
    reports = op_reports(desc)
    info = info_json(path, desc, reports)
    if args.json:
        print(json.dumps(info, indent=1))
    else:
        print_info(info, reports, sys.stdout)
    strict: bool = args.strict
    return EXIT_CHECK_FAILED if strict and not info["runnable"] else EXIT_OK


# --------------------------------------------------------------------------------------------
# Sessions and feeds (run, bench).


def load_session(path: str, threads: int) -> tuple[pionnx.InferenceSession, float]:
    """The session and its load time in ms; CliError 3 for a file that is not a model, 4 when pionnx refuses it."""
    _readable_file(path, "model file")
    opts = pionnx.SessionOptions()
    opts.intra_op_num_threads = threads
    t0 = time.perf_counter()
    try:
        sess = pionnx.InferenceSession(path, opts)
    except pionnx.InvalidProtobuf as e:
        raise CliError(EXIT_BAD_FILE, f"{path} is not a valid ONNX model: {e}") from e
    except pionnx.NotImplemented as e:
        raise CliError(
            EXIT_RUN_FAILED, f"pionnx cannot load {path}: {e} (`pionnx info {path}` lists every op it cannot run)"
        ) from e
    except (pionnx.Fail, ValueError, TypeError, MemoryError) as e:
        raise CliError(EXIT_RUN_FAILED, f"pionnx cannot load {path}: {type(e).__name__}: {e}") from e
    return sess, (time.perf_counter() - t0) * 1e3


def parse_dims(values: Sequence[str] | None) -> tuple[int, dict[str, int]]:
    """--dim N (every symbolic dimension) and --dim NAME=N (that one): the default and the named values."""
    default, named = 1, {}
    for text in values or ():
        name, sep, number = text.rpartition("=")
        try:
            value = int(number)
        except ValueError:
            raise CliError(EXIT_USAGE, f"--dim expects N or NAME=N with an integer N, got '{text}'") from None
        if value < 0:
            raise CliError(EXIT_USAGE, f"--dim must not be negative, got '{text}'")
        if sep:
            named[name] = value
        else:
            default = value
    return default, named


def parse_inputs(specs: Sequence[str] | None, names: Sequence[str]) -> dict[str, str]:
    """--input NAME=FILE.npy / NAME=random, as {name: file or "random"}. The split is at the
    '=' after a name the model has (names may contain '='); `NAME=` may be left out when the model
    has exactly one input."""
    out: dict[str, str] = {}
    for spec in specs or ():
        name = value = None
        for m in re.finditer("=", spec):
            if spec[: m.start()] in names:
                name, value = spec[: m.start()], spec[m.end() :]
                break
        if name is None:
            head, sep, tail = spec.partition("=")
            if sep and head and not os.path.exists(spec):
                known = ", ".join(repr(n) for n in names)
                raise CliError(EXIT_USAGE, f"--input {spec}: the model has no input '{head}'; its inputs are: {known}")
            if len(names) != 1:
                raise CliError(EXIT_USAGE, f"--input expects NAME=FILE.npy or NAME=random, got '{spec}'")
            name, value = names[0], spec
        if not value:
            raise CliError(EXIT_USAGE, f"--input {spec}: give a .npy file or 'random' after '='")
        if name in out:
            raise CliError(EXIT_USAGE, f"--input given twice for '{name}'")
        out[name] = value
    return out


def _ml_dtype(elem: str) -> Any:
    try:
        import ml_dtypes
    except ImportError:
        raise CliError(
            EXIT_USAGE, f"generating {elem} data needs ml_dtypes (pip install ml_dtypes); give a .npy file"
        ) from None
    return getattr(ml_dtypes, ML_BY_ELEM[elem])


def random_feed(arg: pionnx.NodeArg, dims: tuple[int, dict[str, int]], rng: np.random.Generator) -> Array:
    """Data of the input's declared type and shape: symbolic dims from --dim; floats standard normal,
    integers 0..9, bools fair coins."""
    default, named = dims
    if arg.shape is None:
        raise CliError(EXIT_USAGE, f"input '{arg.name}' declares no shape: give --input {arg.name}=FILE.npy")
    shape = [d if isinstance(d, int) else named.get(str(d), default) for d in arg.shape]
    elem = arg.type[len("tensor(") : -1] if arg.type.startswith("tensor(") else ""
    if elem in ("float", "double", "float16"):
        return rng.standard_normal(shape).astype(NUMPY_BY_ELEM[elem])
    if elem == "bool":
        return rng.integers(0, 2, shape).astype(np.bool_)
    if elem in NUMPY_BY_ELEM:
        return rng.integers(0, 10, shape).astype(NUMPY_BY_ELEM[elem])
    if elem in ML_BY_ELEM:
        dtype = _ml_dtype(elem)
        if elem.startswith(("int", "uint")):
            return rng.integers(0, 2, shape).astype(dtype)
        return rng.standard_normal(shape).astype(np.float32).astype(dtype)
    raise CliError(EXIT_USAGE, f"cannot generate data for input '{arg.name}' of type {arg.type}: give a .npy file")


def load_npy(name: str, path: str) -> Array:
    _readable_file(path, f"input file for '{name}'")
    try:
        value = np.load(path, allow_pickle=False)
    except (OSError, ValueError, EOFError) as e:
        raise CliError(EXIT_BAD_FILE, f"input file for '{name}' is not a readable .npy file: {path} ({e})") from e
    if not isinstance(value, np.ndarray):  # an .npz archive
        raise CliError(EXIT_BAD_FILE, f"input file for '{name}' is not a .npy file (an .npz archive?): {path}")
    return value


def build_feeds(
    sess: pionnx.InferenceSession,
    specs: Sequence[str] | None,
    dims: tuple[int, dict[str, int]],
    seed: int,
    missing_random: bool,
) -> tuple[dict[str, Array], dict[str, str]]:
    """The feeds and where each came from ("random" or the file); inputs without --input are random
    when `missing_random`, a usage error otherwise."""
    args = sess.get_inputs()
    chosen = parse_inputs(specs, [a.name for a in args])
    missing = [a.name for a in args if a.name not in chosen]
    if missing and not missing_random:
        names = ", ".join(repr(n) for n in missing)
        example = missing[0]
        raise CliError(
            EXIT_USAGE, f"no value for input(s) {names}: give --input {example}=FILE.npy or --input {example}=random"
        )
    rng = np.random.default_rng(seed)
    feeds: dict[str, Array] = {}
    sources: dict[str, str] = {}
    for arg in args:
        source = chosen.get(arg.name, "random")
        feeds[arg.name] = random_feed(arg, dims, rng) if source == "random" else load_npy(arg.name, source)
        sources[arg.name] = source
    return feeds, sources


def run_session(sess: pionnx.InferenceSession, feeds: dict[str, Array]) -> list[Any]:
    try:
        return sess.run(None, feeds)
    except (pionnx.Fail, ValueError, TypeError, MemoryError) as e:
        raise CliError(EXIT_RUN_FAILED, f"the run failed: {type(e).__name__}: {e}") from e


# --------------------------------------------------------------------------------------------
# run


def safe_file_names(names: Sequence[str]) -> list[str]:
    """File names for output names: every character outside A-Z a-z 0-9 . _ - becomes '_', a
    leading '.' becomes '_', an empty name becomes 'output', at most 200 characters; names that
    then collide (ignoring case) get _2, _3, ... Each gets '.npy'."""
    out: list[str] = []
    seen: set[str] = set()
    for name in names:
        base = re.sub(r"[^A-Za-z0-9._-]", "_", name)[:200] or "output"
        if base.startswith("."):
            base = "_" + base[1:]
        candidate, n = base, 1
        while candidate.lower() in seen:
            n += 1
            candidate = f"{base}_{n}"
        seen.add(candidate.lower())
        out.append(candidate + ".npy")
    return out


def _stats(value: Any) -> tuple[str, str, str, str, str]:
    """dtype, shape, min, max, mean (the last three '-' when not numeric or empty)."""
    if not isinstance(value, np.ndarray):
        kind = type(value).__name__
        size = f"len {len(value)}" if hasattr(value, "__len__") else ""
        return kind, size, "-", "-", "-"
    dtype, shape = str(value.dtype), "[" + ", ".join(str(d) for d in value.shape) + "]"
    if value.size == 0 or (value.dtype.kind not in "iufcb" and dtype not in ML_DTYPES):
        return dtype, shape, "-", "-", "-"
    data = value.astype(np.float64) if value.dtype.kind in "bV" or dtype in ML_DTYPES else value
    if data.dtype.kind == "c":
        return dtype, shape, "-", "-", "-"
    finite = data[np.isfinite(data)] if data.dtype.kind == "f" else data
    if finite.size == 0:
        return dtype, shape, "-", "-", "-"
    note = f" ({data.size - finite.size} non-finite)" if finite.size != data.size else ""
    mean = float(np.mean(finite, dtype=np.float64))
    return dtype, shape, f"{float(np.min(finite)):.6g}", f"{float(np.max(finite)):.6g}", f"{mean:.6g}{note}"


def cmd_run(args: argparse.Namespace) -> int:
    path: str = args.model
    out_dir: str | None = args.output_dir
    sess, load_ms = load_session(path, int(args.threads))
    feeds, sources = build_feeds(sess, args.input, parse_dims(args.dim), int(args.seed), missing_random=False)
    for name, source in sources.items():
        value = feeds[name]
        print(f"input  {name}: {value.dtype} {list(value.shape)} from {source}")
    t0 = time.perf_counter()
    outputs = run_session(sess, feeds)
    run_ms = (time.perf_counter() - t0) * 1e3
    names = [a.name for a in sess.get_outputs()]
    files = safe_file_names(names) if out_dir else [""] * len(names)
    written: list[str] = []
    if out_dir:
        try:
            os.makedirs(out_dir, exist_ok=True)
            for file_name, value in zip(files, outputs):
                if isinstance(value, np.ndarray):
                    np.save(os.path.join(out_dir, file_name), value, allow_pickle=False)
                    written.append(file_name)
        except OSError as e:
            raise CliError(EXIT_BAD_FILE, f"cannot write outputs to {out_dir}: {e.strerror or e}") from e
    rows = []
    for name, file_name, value in zip(names, files, outputs):
        row = [name, *_stats(value)]
        if out_dir:
            row.append(file_name if file_name in written else "(not a tensor: not written)")
        rows.append(row)
    headers = ["output", "dtype", "shape", "min", "max", "mean"] + (["file"] if out_dir else [])
    print(f"loaded in {load_ms:.1f} ms, ran in {run_ms:.1f} ms ({sess.get_profile().get('threads', '?')} threads)")
    print(_table(headers, rows))
    if out_dir:
        renamed = [f"'{n}' -> {f}" for n, f in zip(names, files) if f in written and f != n + ".npy"]
        print(f"wrote {len(written)} file(s) to {out_dir}")
        if renamed:
            print("renamed (characters outside A-Z a-z 0-9 . _ - became '_'): " + ", ".join(renamed))
    return EXIT_OK


# --------------------------------------------------------------------------------------------
# bench


class Progress:
    """A one-line progress bar on stderr, redrawn with '\\r'; silent unless stderr is a terminal."""

    def __init__(self, total: int, label: str, stream: TextIO | None = None) -> None:
        self.stream = stream if stream is not None else sys.stderr
        self.enabled = total > 0 and self.stream.isatty()
        self.total, self.label = total, label
        self.last = 0.0

    def update(self, done: int, ms: float) -> None:
        now = time.monotonic()
        if not self.enabled or (done < self.total and now - self.last < 0.1):
            return
        self.last = now
        width = 30
        filled = width * done // self.total
        bar = "#" * filled + "." * (width - filled)
        self.stream.write(f"\r{self.label} [{bar}] {done}/{self.total}  {ms:.2f} ms/run")
        self.stream.flush()

    def close(self) -> None:
        if self.enabled:
            self.stream.write("\r" + " " * 79 + "\r")
            self.stream.flush()


def percentile(values: Sequence[float], q: float) -> float:
    return float(np.percentile(np.asarray(values, dtype=np.float64), q))


def cmd_bench(args: argparse.Namespace) -> int:
    path: str = args.model
    runs, warmup = int(args.runs), int(args.warmup)
    if runs < 1 or warmup < 0:
        raise CliError(EXIT_USAGE, "--runs must be at least 1 and --warmup at least 0")
    sess, load_ms = load_session(path, int(args.threads))
    feeds, sources = build_feeds(sess, args.input, parse_dims(args.dim), int(args.seed), missing_random=True)
    t0 = time.perf_counter()
    run_session(sess, feeds)
    first_ms = (time.perf_counter() - t0) * 1e3
    bar = Progress(warmup + runs, "bench")
    times: list[float] = []
    for i in range(warmup + runs):
        t0 = time.perf_counter()
        run_session(sess, feeds)
        ms = (time.perf_counter() - t0) * 1e3
        if i >= warmup:
            times.append(ms)
        bar.update(i + 1, ms)
    bar.close()
    threads = int(sess.get_profile().get("threads", 0))
    result: dict[str, Any] = {
        "model": path,
        "pionnx_version": pionnx.__version__,
        "threads": threads,
        "threads_requested": int(args.threads),
        "inputs": {n: {"shape": list(v.shape), "dtype": str(v.dtype), "source": sources[n]} for n, v in feeds.items()},
        "load_ms": load_ms,
        "first_run_ms": first_ms,
        "warmup": warmup,
        "runs": runs,
        "mean_ms": float(np.mean(times)),
        "median_ms": percentile(times, 50),
        "p90_ms": percentile(times, 90),
        "min_ms": min(times),
        "max_ms": max(times),
        "times_ms": times,
    }
    shapes = ", ".join(f"{n} {v['dtype']}{v['shape']} ({v['source']})" for n, v in result["inputs"].items())
    print(f"model      {path}")
    print(f"inputs     {shapes or '(none)'}")
    print(f"threads    {threads}" + ("" if args.threads else " (the default: --threads 0)"))
    rows = [
        ("load", f"{load_ms:.2f}"),
        ("first run", f"{first_ms:.2f}"),
        ("mean", f"{result['mean_ms']:.3f}"),
        ("median", f"{result['median_ms']:.3f}"),
        ("p90", f"{result['p90_ms']:.3f}"),
        ("min", f"{result['min_ms']:.3f}"),
        ("max", f"{result['max_ms']:.3f}"),
    ]
    print(_table(("", "ms"), rows, right=(1,)))
    if warmup:
        print(f"({warmup} warm-up run(s) after the first run are not counted)")
    json_path: str | None = args.json
    if json_path:
        try:
            Path(json_path).write_text(json.dumps(result, indent=1) + "\n")
        except OSError as e:
            raise CliError(EXIT_BAD_FILE, f"cannot write {json_path}: {e.strerror or e}") from e
        print(f"numbers written to {json_path}")
    return EXIT_OK


# --------------------------------------------------------------------------------------------
# check-wheel


@dataclass
class WheelName:
    distribution: str
    version: str
    build: str
    python: str
    abi: str
    platform: str


def parse_wheel_name(file_name: str) -> WheelName:
    """PEP 427: {distribution}-{version}(-{build})?-{python}-{abi}-{platform}.whl (validated by
    packaging.utils.parse_wheel_filename when packaging is importable)."""
    if not file_name.endswith(".whl"):
        raise ValueError("the name does not end in .whl")
    parts = file_name[: -len(".whl")].split("-")
    if len(parts) not in (5, 6):
        raise ValueError("a wheel name has 5 or 6 '-'-separated parts (PEP 427)")
    try:
        from packaging.utils import InvalidWheelFilename, parse_wheel_filename
    except ImportError:
        pass
    else:
        try:
            parse_wheel_filename(file_name)
        except InvalidWheelFilename as e:
            raise ValueError(str(e)) from e
    build = parts[2] if len(parts) == 6 else ""
    return WheelName(parts[0], parts[1], build, parts[-3], parts[-2], parts[-1])


def interpreter_match(name: WheelName) -> tuple[bool, str]:
    """Whether this interpreter can import the wheel, and how that was decided."""
    wheel_tags = {
        f"{py}-{abi}-{plat}"
        for py in name.python.split(".")
        for abi in name.abi.split(".")
        for plat in name.platform.split(".")
    }
    try:
        from packaging.tags import sys_tags
    except ImportError:
        pass
    else:
        supported = [str(t) for t in sys_tags()]
        best = next((t for t in supported if t in wheel_tags), None)
        if best:
            return True, f"matches this interpreter (tag {best}, per packaging.tags.sys_tags())"
        return False, f"does not match this interpreter, whose most specific tag is {supported[0]}"
    # Without packaging: CPython X.Y, its ABI and the machine (manylinux/musllinux glibc versions unchecked).
    major, minor = sys.version_info[:2]
    soabi = str(sysconfig.get_config_var("SOABI") or "")
    abi_ok = {"none", "abi3", f"cp{major}{minor}"}
    if soabi.startswith("cpython-") and soabi.split("-")[1].endswith("t"):
        abi_ok = {"none", f"cp{major}{minor}t"}
    py_ok = {f"cp{major}{minor}", f"py{major}", f"py{major}{minor}"}
    plat = sysconfig.get_platform().replace("-", "_").replace(".", "_")
    arch = plat.split("_", 1)[1] if "_" in plat else plat

    def plat_ok(p: str) -> bool:
        if p in ("any", plat):
            return True
        return plat.startswith("linux") and p.startswith(("manylinux", "musllinux")) and p.endswith("_" + arch)

    for tag in sorted(wheel_tags):
        py, abi, p = tag.split("-")
        if py in py_ok and abi in abi_ok and plat_ok(p):
            return (
                True,
                f"matches this interpreter (tag {tag}; packaging is not importable, so glibc/musl versions were not checked)",
            )
    return False, f"does not match this interpreter (cp{major}{minor}, {plat})"


@dataclass
class Check:
    name: str
    ok: bool | None  # None: informational / skipped
    detail: str


SMOKE_SCRIPT = r"""
import json, sys
report = {}
try:
    import numpy as np
    import pionnx
    from pionnx import _core
except Exception as e:
    print(json.dumps({"import_error": type(e).__name__ + ": " + str(e)}))
    sys.exit(0)
report["file"] = pionnx.__file__
report["version"] = pionnx.__version__
report["core_version"] = getattr(_core, "__version__", None)
report["simd_info"] = {k: v if isinstance(v, (bool, int, float, str)) else str(v) for k, v in pionnx.simd_info().items()}
models = []
report["models"] = models
try:
    from pionnx import _wire as w
except ImportError as e:
    report["models_skipped"] = "this wheel has no pionnx._wire (" + str(e) + ")"
    print(json.dumps(report))
    sys.exit(0)
rng = np.random.default_rng(0)


def check(name, data, feeds, expected, atol):
    try:
        got = pionnx.InferenceSession(data).run(None, feeds)[0]
        if got.shape != expected.shape:
            models.append({"name": name, "ok": False, "error": "shape %s, expected %s" % (got.shape, expected.shape)})
            return
        err = float(np.max(np.abs(got.astype(np.float64) - expected)))
        models.append({"name": name, "ok": err <= atol, "max_abs_err": err})
    except Exception as e:
        models.append({"name": name, "ok": False, "error": type(e).__name__ + ": " + str(e)})


W = rng.standard_normal((3, 4)).astype(np.float32)
B = rng.standard_normal(4).astype(np.float32)
X = rng.standard_normal((2, 3)).astype(np.float32)
data = w.model(
    [w.node("MatMul", ["X", "W"], ["XW"]), w.node("Add", ["XW", "B"], ["Z"]), w.node("Relu", ["Z"], ["Y"])],
    [w.tensor("W", [3, 4], W.tobytes()), w.tensor("B", [4], B.tolist(), raw=False)],
    [w.value_info("X", [2, 3])],
    [w.value_info("Y", [2, 4])],
)
check("MatMul+Add+Relu", data, {"X": X}, np.maximum(X.astype(np.float64) @ W + B, 0), 1e-5)

x = rng.standard_normal((1, 3, 6, 6)).astype(np.float32)
k = rng.standard_normal((4, 3, 3, 3)).astype(np.float32)
xp = np.pad(x.astype(np.float64), ((0, 0), (0, 0), (1, 1), (1, 1)))
ref = np.zeros((1, 4, 6, 6))
for i in range(6):
    for j in range(6):
        ref[0, :, i, j] = np.tensordot(k, xp[0, :, i : i + 3, j : j + 3], axes=([1, 2, 3], [0, 1, 2]))
conv = w.model(
    [w.node("Conv", ["x", "k"], ["y"], [w.attr_ints("pads", [1, 1, 1, 1]), w.attr_ints("kernel_shape", [3, 3])])],
    [w.tensor("k", [4, 3, 3, 3], k.tobytes())],
    [w.value_info("x", [1, 3, 6, 6])],
    [w.value_info("y", [1, 4, 6, 6])],
)
check("Conv 3x3 pads 1", conv, {"x": x}, ref, 1e-4)

s = rng.standard_normal((4, 10)).astype(np.float32)
e = np.exp(s.astype(np.float64) - s.max(-1, keepdims=True))
softmax = w.model(
    [w.node("Softmax", ["s"], ["p"], [w.attr_int("axis", -1)])], [], [w.value_info("s", [4, 10])], [w.value_info("p", [4, 10])]
)
check("Softmax", softmax, {"s": s}, e / e.sum(-1, keepdims=True), 1e-6)
print(json.dumps(report))
"""


def _subprocess_env(root: str) -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = root + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    env.pop("PYTHONHOME", None)
    return env


def smoke_test(root: str, expected_version: str, conformance: int, expected_failures: str | None) -> list[Check]:
    """Imports the extracted wheel at `root` in a subprocess: version, kernels, three tiny models
    written with pionnx._wire; then, where onnx is importable, `conformance` node cases."""
    checks: list[Check] = []
    env = _subprocess_env(root)
    try:
        proc = subprocess.run(
            [sys.executable, "-c", SMOKE_SCRIPT], env=env, cwd=root, capture_output=True, text=True, timeout=300
        )
    except subprocess.TimeoutExpired:
        return [Check("import", False, "the smoke test took more than 300 s")]
    lines = proc.stdout.strip().splitlines()
    try:
        report: dict[str, Any] = json.loads(lines[-1]) if lines else {}
    except ValueError:
        report = {}
    if proc.returncode != 0 or not report:
        tail = (proc.stderr.strip().splitlines() or ["no output"])[-1]
        return [Check("import", False, f"the subprocess failed (exit {proc.returncode}): {tail}")]
    if "import_error" in report:
        return [Check("import", False, f"import pionnx failed: {report['import_error']}")]
    where = str(report.get("file", ""))
    inside = os.path.realpath(where).startswith(os.path.realpath(root) + os.sep)
    checks.append(Check("import", inside, f"pionnx from {where}" + ("" if inside else f", not from {root}")))
    versions = {str(report.get("version")), str(report.get("core_version"))}
    checks.append(
        Check(
            "version",
            versions == {expected_version},
            f"pionnx.__version__ {report.get('version')}, _core {report.get('core_version')}, file name {expected_version}",
        )
    )
    simd: dict[str, Any] = report.get("simd_info", {})
    checks.append(Check("simd_info", None, ", ".join(f"{k}={v}" for k, v in simd.items())))
    models: list[dict[str, Any]] = report.get("models", [])
    if "models_skipped" in report:
        checks.append(Check("tiny models", None, f"skipped: {report['models_skipped']}"))
    else:
        bad = [m for m in models if not m.get("ok")]
        detail = f"{len(models) - len(bad)}/{len(models)} match numpy ({', '.join(str(m['name']) for m in models)})"
        for m in bad:
            detail += f"; {m['name']}: {m.get('error') or 'max abs error ' + str(m.get('max_abs_err'))}"
        checks.append(Check("tiny models", not bad, detail))
    if conformance > 0:
        checks.append(conformance_sample(root, env, conformance, expected_failures))
    return checks


def conformance_sample(root: str, env: dict[str, str], subset: int, expected_failures: str | None) -> Check:
    name = "conformance"
    probe = subprocess.run([sys.executable, "-c", "import onnx"], env=env, cwd=root, capture_output=True, timeout=120)
    if probe.returncode != 0:
        return Check(name, None, "skipped: onnx is not importable here (the sample exports onnx's node test cases)")
    cases = os.path.join(root, "_pionnx_cases")
    results = os.path.join(root, "_pionnx_conformance.json")
    export = [sys.executable, "-m", "pionnx.conformance", "export", cases, "--suites", "node", "--subset", str(subset)]
    run = [sys.executable, "-m", "pionnx.conformance", "run", cases, "--json", results]
    if expected_failures:
        run += ["--expected-failures", os.path.abspath(expected_failures)]
    for cmd, timeout in ((export, 600), (run, 1800)):
        try:
            proc = subprocess.run(cmd, env=env, cwd=root, capture_output=True, text=True, timeout=timeout)
        except subprocess.TimeoutExpired:
            return Check(name, False, f"`{' '.join(cmd[1:4])}` took more than {timeout} s")
        if cmd is export and proc.returncode != 0:
            tail = (proc.stderr.strip().splitlines() or proc.stdout.strip().splitlines() or ["no output"])[-1]
            return Check(name, False, f"export failed (exit {proc.returncode}): {tail}")
    try:
        summary: dict[str, Any] = json.loads(Path(results).read_text())
    except (OSError, ValueError):
        tail = (proc.stderr.strip().splitlines() or proc.stdout.strip().splitlines() or ["no output"])[-1]
        return Check(name, False, f"run failed (exit {proc.returncode}): {tail}")
    # A case whose operator this build does not implement (the operator table says so, `pionnx info`
    # would too) is reported, not counted: the wheel is not broken, the op is missing everywhere.
    rows: list[dict[str, Any]] = summary.get("results", [])
    messages = {str(r.get("id")): str(r.get("message", "")) for r in rows}
    unexpected: list[str] = list(summary.get("unexpected_failures", []))
    missing = [c for c in unexpected if re.search(r"NotImplemented|unsupported operator", messages.get(c, ""))]
    failing = [c for c in unexpected if c not in missing]
    xfailed = sum(int(c.get("xfailed", 0)) for c in summary.get("suites", {}).values())
    detail = f"node suite, {summary.get('passed')}/{summary.get('total')} passed"
    if xfailed:
        detail += f", {xfailed} expected failure(s)"
    if missing:
        detail += f", {len(missing)} need an op this build does not implement ({', '.join(missing[:3])})"
    if failing:
        detail += f"; failing: {', '.join(failing[:5])}" + (" ..." if len(failing) > 5 else "")
        first = messages.get(failing[0], "").strip().splitlines()[:1]
        if first:
            detail += f" ({failing[0]}: {first[0][:200]})"
    passes: list[str] = summary.get("unexpected_passes", [])
    if passes:
        detail += f"; listed as failing but passed: {', '.join(passes[:5])}"
    return Check(name, not failing and not passes, detail)


def _wheel_static(path: str, zf: zipfile.ZipFile, name: WheelName) -> tuple[list[Check], list[str]]:
    infos = [i for i in zf.infolist() if not i.is_dir()]
    files = [i.filename for i in infos]
    checks = [Check("files", None, f"{len(files)} files, {_human_bytes(sum(i.file_size for i in infos))} unpacked")]
    ext = [i for i in infos if re.fullmatch(r"pionnx/_core(\..+)?\.(so|pyd|dylib)", i.filename)]
    if ext:
        e = ext[0]
        checks.append(
            Check(
                "extension",
                True,
                f"{e.filename} ({_human_bytes(e.file_size)}, {_human_bytes(e.compress_size)} compressed)",
            )
        )
    else:
        checks.append(Check("extension", False, "no pionnx/_core*.so: the wheel holds no compiled module"))
    has_typed = "pionnx/py.typed" in files
    checks.append(
        Check(
            "py.typed", None, "present" if has_typed else "absent (type checkers treat pionnx as untyped; not an error)"
        )
    )
    dist_info = f"{name.distribution}-{name.version}.dist-info"
    meta_name = f"{dist_info}/METADATA"
    if meta_name in files:
        meta = zf.read(meta_name).decode("utf-8", "replace")
        fields = dict(re.findall(r"^(Name|Version): (.+)$", meta.split("\n\n", 1)[0], flags=re.M))
        ok = fields.get("Version", "").strip() == name.version
        checks.append(Check("metadata", ok, f"{meta_name}: Name {fields.get('Name')}, Version {fields.get('Version')}"))
    else:
        checks.append(Check("metadata", False, f"no {meta_name}"))
    record_name = f"{dist_info}/RECORD"
    if record_name in files:
        checks.append(_check_record(zf, record_name, files))
    else:
        checks.append(Check("RECORD", False, f"no {record_name}"))
    return checks, files


def _check_record(zf: zipfile.ZipFile, record_name: str, files: list[str]) -> Check:
    import base64
    import csv
    import hashlib
    import io

    rows = list(csv.reader(io.StringIO(zf.read(record_name).decode("utf-8", "replace"))))
    listed = {r[0]: r[1] for r in rows if r}
    bad = []
    for path, digest in listed.items():
        if not digest:
            continue
        algo, _, want = digest.partition("=")
        if path not in files or algo not in hashlib.algorithms_available:
            bad.append(path)
            continue
        got = base64.urlsafe_b64encode(hashlib.new(algo, zf.read(path)).digest()).rstrip(b"=").decode()
        if got != want:
            bad.append(path)
    unlisted = [f for f in files if f not in listed]
    if bad or unlisted:
        detail = f"hash mismatch or missing: {', '.join(bad[:5])}" if bad else ""
        if unlisted:
            detail += ("; " if detail else "") + f"not listed: {', '.join(unlisted[:5])}"
        return Check("RECORD", False, detail)
    return Check("RECORD", True, f"{len(listed)} entries, every hash matches")


def cmd_check_wheel(args: argparse.Namespace) -> int:
    path: str = args.wheel
    _readable_file(path, "wheel")
    base = os.path.basename(path)
    try:
        name = parse_wheel_name(base)
    except ValueError as e:
        raise CliError(EXIT_BAD_FILE, f"{base} is not a wheel file name ({e})") from e
    if not zipfile.is_zipfile(path):
        raise CliError(EXIT_BAD_FILE, f"{path} is not a wheel (not a zip archive)")
    print(f"wheel        {base} ({_human_bytes(os.path.getsize(path))})")
    build = f", build {name.build}" if name.build else ""
    print(f"project      {name.distribution} {name.version}{build}")
    print(f"tags         python {name.python}, abi {name.abi}, platform {name.platform}")
    try:
        with zipfile.ZipFile(path) as zf:
            checks, _ = _wheel_static(path, zf, name)
            match, why = interpreter_match(name)
            checks.append(Check("interpreter", None, f"the wheel {why}"))
            smoke: bool = args.smoke
            if not match:
                checks.append(Check("smoke test", None, "skipped: the wheel is for another interpreter or platform"))
            elif not smoke:
                checks.append(Check("smoke test", None, "skipped (--no-smoke)"))
            elif not any(c.name == "extension" and c.ok for c in checks):
                checks.append(Check("smoke test", None, "skipped: no compiled module to import"))
            else:
                tmp = tempfile.mkdtemp(prefix="pionnx-wheel-")
                try:
                    zf.extractall(tmp)
                    subset = 0 if args.no_conformance else int(args.subset)
                    checks.extend(smoke_test(tmp, name.version, subset, args.expected_failures))
                finally:
                    shutil.rmtree(tmp, ignore_errors=True)
    except (zipfile.BadZipFile, OSError) as e:
        raise CliError(EXIT_BAD_FILE, f"cannot read {path} as a zip archive: {e}") from e
    for c in checks:
        mark = {True: "ok  ", False: "FAIL", None: "    "}[c.ok]
        print(f"{mark} {c.name:<12} {c.detail}")
    failed = [c.name for c in checks if c.ok is False]
    print(f"result: {'FAILED (' + ', '.join(failed) + ')' if failed else 'OK'}")
    return EXIT_CHECK_FAILED if failed else EXIT_OK


# --------------------------------------------------------------------------------------------
# The parser.

COMMANDS = ("info", "run", "bench", "check-wheel")

MAIN_EPILOG = f"""\
examples:
  pionnx info model.onnx                       inputs, outputs, opsets, ops and what cannot run
  pionnx run model.onnx --input x=x.npy --output-dir out/
  pionnx bench model.onnx --threads 2 --runs 50
  pionnx check-wheel dist/pionnx-*.whl

`pionnx MODEL.onnx [--threads N] [--dim N]` (no subcommand, the form before
subcommands existed) is short for `pionnx bench MODEL.onnx --runs 1 --warmup 0`.

{EXIT_CODES_TEXT}
"""

INFO_EPILOG = """\
examples:
  pionnx info model.onnx
  pionnx info model.onnx --json | python -c "import json,sys; print(json.load(sys.stdin)['not_runnable'])"
  pionnx info model.onnx --strict || echo "pionnx cannot run this model"

The model is read without the onnx package. Nodes inside subgraphs (If, Loop,
Scan bodies) and model-local functions are counted; a node that calls a
model-local function is listed as such. Exit code 0 even when some ops cannot
run, unless --strict (then 1)."""

RUN_EPILOG = """\
examples:
  pionnx run model.onnx --input x=x.npy
  pionnx run model.onnx --input x=x.npy --input mask=random --dim 8 --output-dir out/
  pionnx run model.onnx x.npy                    (a model with one input: NAME= may be left out)

Every input needs an --input. Outputs are saved as DIR/<name>.npy; characters
outside A-Z a-z 0-9 . _ - become '_' (a leading '.' too), names that then
collide get _2, _3, ..., and the renames are printed. Outputs that are not
tensors (sequences, maps) are summarized but not written. Random data: floats
standard normal, integers 0..9, bools 0/1; symbolic dimensions from --dim."""

BENCH_EPILOG = """\
examples:
  pionnx bench model.onnx
  pionnx bench model.onnx --threads 1 --runs 100 --warmup 5 --json bench.json
  pionnx bench model.onnx --dim batch=4 --dim 128 --input ids=ids.npy

Inputs without --input get random data (see `pionnx run --help`). The first
run is timed on its own; then --warmup runs are not counted and --runs runs
are. A progress bar is drawn on stderr only when it is a terminal."""

CHECK_WHEEL_EPILOG = """\
examples:
  pionnx check-wheel dist/pionnx-0.1.0-cp311-cp311-linux_x86_64.whl
  pionnx check-wheel dist/pionnx-*.whl --no-conformance
  pionnx check-wheel dist/pionnx-*.whl --expected-failures tests/expected_failures.txt

Static checks: the file name (PEP 427), the compiled module pionnx/_core*,
METADATA's version, every RECORD hash; py.typed is reported. When the wheel's
tags match this interpreter, a copy extracted to a temporary directory is
imported in a subprocess (nothing is installed): version, simd_info(), three
tiny models written with pionnx._wire against numpy, and, where onnx is
importable, --subset cases of onnx's node suite (python -m pionnx.conformance;
a case whose op this build does not implement is reported, not counted as a
failure). A wheel for another interpreter or platform gets only the static
checks and exits 0 when they pass."""


def _formatter(prog: str) -> argparse.HelpFormatter:
    return argparse.RawDescriptionHelpFormatter(prog, max_help_position=32, width=100)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="pionnx: inspect, run and time ONNX models; check pionnx wheels.",
        epilog=MAIN_EPILOG,
        formatter_class=_formatter,
    )
    parser.add_argument("--version", action="version", version=f"pionnx {pionnx.__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", title="commands")

    info = sub.add_parser(
        "info",
        help="inputs, outputs, opsets and ops of a model; which ops this build cannot run",
        description="Show what a model declares and whether this build of pionnx can run every op.",
        epilog=INFO_EPILOG,
        formatter_class=_formatter,
    )
    info.add_argument("model", help="path to an .onnx file")
    info.add_argument("--json", action="store_true", help="print the report as JSON")
    info.add_argument("--strict", action="store_true", help="exit 1 when some op cannot run (default: exit 0)")
    info.set_defaults(func=cmd_info)

    def model_options(p: argparse.ArgumentParser) -> None:
        p.add_argument("model", help="path to an .onnx file")
        p.add_argument(
            "--input",
            "-i",
            action="append",
            metavar="NAME=FILE.npy",
            help="an input from a .npy file, or NAME=random (repeat for each input)",
        )
        p.add_argument(
            "--threads", type=int, default=0, metavar="N", help="intra-op threads (default 0: the physical cores)"
        )
        p.add_argument(
            "--dim",
            action="append",
            metavar="N|NAME=N",
            help="value of symbolic dimensions for random inputs: N for all, NAME=N for one (default 1)",
        )
        p.add_argument("--seed", type=int, default=0, help="seed of the random inputs (default 0)")

    run = sub.add_parser(
        "run",
        help="run a model once on .npy inputs; save and summarize the outputs",
        description="Run a model once and print min/max/mean of each output; --output-dir saves them as .npy.",
        epilog=RUN_EPILOG,
        formatter_class=_formatter,
    )
    model_options(run)
    run.add_argument("--output-dir", "-o", metavar="DIR", help="write each output to DIR/<output name>.npy")
    run.set_defaults(func=cmd_run)

    bench = sub.add_parser(
        "bench",
        help="time loading, the first run and repeated runs",
        description="Time a model: load, first run, then mean/median/p90/min/max over --runs runs.",
        epilog=BENCH_EPILOG,
        formatter_class=_formatter,
    )
    model_options(bench)
    bench.add_argument("--runs", type=int, default=10, metavar="R", help="timed runs (default 10)")
    bench.add_argument("--warmup", type=int, default=2, metavar="W", help="uncounted runs after the first (default 2)")
    bench.add_argument("--json", metavar="FILE", help="write the numbers (and every run's time) to FILE as JSON")
    bench.set_defaults(func=cmd_bench)

    wheel = sub.add_parser(
        "check-wheel",
        help="inspect a pionnx wheel and smoke-test it without installing",
        description="Check a pionnx wheel file: static checks, then an install-free smoke test.",
        epilog=CHECK_WHEEL_EPILOG,
        formatter_class=_formatter,
    )
    wheel.add_argument("wheel", help="path to a pionnx .whl file")
    wheel.add_argument("--no-smoke", dest="smoke", action="store_false", help="static checks only, import nothing")
    wheel.add_argument("--no-conformance", action="store_true", help="skip the conformance sample")
    wheel.add_argument(
        "--subset", type=int, default=50, metavar="N", help="conformance cases of the node suite (default 50)"
    )
    wheel.add_argument(
        "--expected-failures", metavar="FILE", help="known conformance failures (e.g. tests/expected_failures.txt)"
    )
    wheel.set_defaults(func=cmd_check_wheel)
    return parser


def _legacy(argv: list[str]) -> list[str]:
    """`pionnx MODEL.onnx [options]`, the form before subcommands: `bench MODEL --runs 1 --warmup 0 [options]`."""
    if argv and argv[0] not in COMMANDS and not argv[0].startswith("-"):
        if argv[0].endswith(".onnx") or os.path.isfile(argv[0]):
            print(
                f"note: `pionnx {argv[0]}` runs `pionnx bench {argv[0]} --runs 1 --warmup 0` (see pionnx --help)",
                file=sys.stderr,
            )
            return ["bench", argv[0], "--runs", "1", "--warmup", "0", *argv[1:]]
    return argv


def main(argv: Sequence[str] | None = None) -> int:
    """The `pionnx` command; returns the exit code (see EXIT_CODES_TEXT)."""
    args_list = _legacy(list(sys.argv[1:] if argv is None else argv))
    parser = build_parser()
    try:
        args = parser.parse_args(args_list)
    except SystemExit as e:  # --help, --version (0) and usage errors (2)
        return e.code if isinstance(e.code, int) else EXIT_USAGE
    if not getattr(args, "command", None):
        parser.print_help(sys.stderr)
        return EXIT_USAGE
    try:
        code: int = args.func(args)
        return code
    except CliError as e:
        print(f"pionnx {args.command}: error: {e.message}", file=sys.stderr)
        return e.code
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # `pionnx info --json MODEL | head`: the reader left, nothing more to say
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return EXIT_OK
