"""The onnxruntime-shaped Python API over pionnx._core."""

from __future__ import annotations

import collections.abc
import datetime
import enum
import json
import os
import threading
import time
import warnings
from collections.abc import Sequence
from typing import Any, cast

import numpy as np

from . import _core
from ._dtypes import ELEM_CODES, ELEM_NAMES, ML_BY_ELEM, ML_DTYPES, NUMPY_ELEMS
from ._ortvalue import IOBinding, OrtValue

_PROVIDER = "CPUExecutionProvider"


class GraphOptimizationLevel(enum.IntEnum):
    ORT_DISABLE_ALL = 0
    ORT_ENABLE_BASIC = 1
    ORT_ENABLE_EXTENDED = 2
    ORT_ENABLE_ALL = 99


class ExecutionMode(enum.IntEnum):
    ORT_SEQUENTIAL = 0
    ORT_PARALLEL = 1


# SessionOptions' limits and their smallest allowed values.
LIMITS = {"max_tensor_bytes": 0, "max_memory_bytes": 0, "max_nesting_depth": 1, "max_inlined_nodes": 0}


class SessionOptions:
    """Options for :class:`InferenceSession` (onnxruntime's names)."""

    def __init__(self) -> None:
        self.intra_op_num_threads: int = 0
        self.inter_op_num_threads: int = 0
        self.graph_optimization_level: GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_ALL
        # -1: the default logger's severity (set_default_logger_severity); 0 verbose .. 4 fatal.
        self.log_severity_level: int = -1
        self.log_verbosity_level: int = 0
        self.optimized_model_filepath: str = ""
        self.execution_mode: ExecutionMode = ExecutionMode.ORT_SEQUENTIAL
        self.enable_profiling: bool = False
        self.profile_file_prefix: str = "onnxruntime_profile_"
        self.enable_mem_pattern: bool = True
        self.enable_cpu_mem_arena: bool = True
        self.logid: str = ""
        # pionnx's limits on what one model may claim (not in onnxruntime). 0: the default,
        # this machine's RAM for the two byte limits. Each refusal names its limit.
        self.max_tensor_bytes: int = 0  # one tensor
        self.max_memory_bytes: int = 0  # a run's live intermediates together
        self.max_nesting_depth: int = 64  # nested messages/graphs in the model file
        self.max_inlined_nodes: int = 1_000_000  # nodes after expanding the model's own functions
        self._config: dict[str, str] = {}
        self._free_dims: dict[str, int] = {}

    def add_free_dimension_override_by_name(self, dim_name: str, dim_value: int) -> None:
        """Fixes the symbolic dimension `dim_name` of the model's inputs to `dim_value`: get_inputs()
        shows the value and a feed of another size is refused."""
        if not isinstance(dim_name, str) or not dim_name:
            raise ValueError(f"dim_name must be a non-empty str, got {dim_name!r}")
        if isinstance(dim_value, bool) or not isinstance(dim_value, (int, np.integer)) or dim_value < 0:
            raise ValueError(f"dim_value must be an int >= 0, got {dim_value!r}")
        self._free_dims[dim_name] = int(dim_value)

    def add_session_config_entry(self, key: str, value: str) -> None:
        self._config[key] = value

    def get_session_config_entry(self, key: str) -> str:
        return self._config[key]

    def _validated(self) -> SessionOptions:
        threads = self.intra_op_num_threads
        if not isinstance(threads, (int, np.integer)) or threads < 0:
            raise ValueError(f"intra_op_num_threads must be an int >= 0, got {threads!r}")
        level = int(self.graph_optimization_level)
        if level not in {int(v) for v in GraphOptimizationLevel}:
            raise ValueError(f"graph_optimization_level must be a GraphOptimizationLevel, got {level!r}")
        if not -1 <= int(self.log_severity_level) <= 4:
            raise ValueError(
                f"log_severity_level must be -1 (the default logger's) or 0..4, got {self.log_severity_level!r}"
            )
        for name, low in LIMITS.items():
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or not low <= value < 2**63:
                raise ValueError(f"{name} must be an int >= {low}, got {value!r}")
        return self

    def _limits(self) -> dict[str, int]:
        return {name: int(getattr(self, name)) for name in LIMITS}


class RunOptions:
    """Per-run options. ``terminate = True``, set from another thread, stops a run in progress
    between two nodes: that run raises pionnx.Fail ("Exiting due to terminate flag being set to
    true."), as in onnxruntime. The other fields are accepted for onnxruntime scripts."""

    def __init__(self) -> None:
        self.log_severity_level: int = -1
        self.log_verbosity_level: int = 0
        self.logid: str = ""
        self.only_execute_path_to_fetches: bool = False
        self._flag = _core.RunFlag()

    @property
    def terminate(self) -> bool:
        return bool(self._flag.get())

    @terminate.setter
    def terminate(self, value: bool) -> None:
        self._flag.set(bool(value))


class NodeArg:
    """A model input or output: name, shape (ints, symbolic names or None), type."""

    def __init__(self, name: str, shape: list[int | str | None] | None, type: str) -> None:  # noqa: A002
        self.name = name
        self.shape = shape
        self.type = type

    def __repr__(self) -> str:
        return f"NodeArg(name={self.name!r}, type={self.type!r}, shape={self.shape!r})"


class ModelMetadata:
    def __init__(self, meta: dict[str, Any]) -> None:
        self.producer_name: str = meta["producer_name"]
        self.graph_name: str = meta["graph_name"]
        self.domain: str = meta["domain"]
        self.description: str = meta["description"]
        self.graph_description: str = meta["graph_description"]
        self.version: int = meta["version"]
        self.custom_metadata_map: dict[str, str] = dict(meta["custom_metadata_map"])
        self.producer_version: str = meta["producer_version"]


def _ml_dtypes(dtype_name: str) -> Any:
    try:
        import ml_dtypes
    except ImportError:
        raise TypeError(
            f"tensor({ML_DTYPES[dtype_name]}) values need the ml_dtypes package for numpy: pip install ml_dtypes"
        ) from None
    return ml_dtypes


def _from_raw(code: int, bits: np.ndarray) -> np.ndarray:
    """A ("rawdtype", code, uint8/uint16 array) output -> an ml_dtypes array.

    bfloat16 comes back as ml_dtypes.bfloat16 when ml_dtypes is importable,
    else widened to float32 (exact); the other types need ml_dtypes.
    """
    name = ML_BY_ELEM[ELEM_NAMES[code]]
    if name == "bfloat16":
        try:
            import ml_dtypes
        except ImportError:
            return (bits.astype(np.uint32) << 16).view(np.float32)
        return bits.view(ml_dtypes.bfloat16)
    return bits.view(getattr(_ml_dtypes(name), name))


def _node_args(descs: list[dict[str, Any]]) -> list[NodeArg]:
    return [NodeArg(d["name"], None if d["shape"] is None else list(d["shape"]), d["type"]) for d in descs]


def _to_python(value: Any) -> Any:
    """Converts what _core returns into numpy arrays (strings as object arrays)."""
    if isinstance(value, tuple) and len(value) == 3 and value[0] == "strings":
        items = [b.decode("utf-8", errors="surrogateescape") for b in value[1]]
        arr = np.empty(len(items), dtype=object)
        arr[:] = items
        return arr.reshape(value[2])
    if isinstance(value, tuple) and len(value) == 3 and value[0] == "rawdtype":
        return _from_raw(value[1], value[2])
    if isinstance(value, list):
        return [_to_python(v) for v in value]
    return value


def _output_to_python(value: Any, type_str: str) -> Any:
    """Like _to_python; a seq(map(K, V)) output becomes a list of dicts, as onnxruntime returns it.

    The runtime carries such a sequence (ZipMap's output) as [keys [C], values [N, C]].
    """
    if type_str.startswith("seq(map(") and isinstance(value, list) and len(value) == 2:
        keys, values = (_to_python(v) for v in value)
        keys = keys.tolist()
        return [dict(zip(keys, row)) for row in values.tolist()]
    return _to_python(value)


def _expected_elem(type_str: str) -> str | None:
    if type_str.startswith("tensor(") and type_str.endswith(")"):
        return type_str[len("tensor(") : -1]
    return None


def _feed_value(name: str, value: Any, type_str: str | None) -> Any:
    """numpy -> what _core accepts; checks the dtype against the model's."""
    if value is None:
        return None
    if type_str is not None and type_str.startswith(("seq(", "optional(seq(")):
        if not isinstance(value, (list, tuple)):
            raise TypeError(f"input '{name}': expected a list of arrays for {type_str}, got {type(value).__name__}")
        inner = type_str[type_str.index("tensor(") :].rstrip(")") + ")" if "tensor(" in type_str else None
        return [_feed_value(name, v, inner) for v in value]
    if not isinstance(value, np.ndarray):
        if isinstance(value, (list, tuple, int, float, bool, np.generic, str)):
            value = np.asarray(value)
        else:
            raise TypeError(f"input '{name}': expected a numpy array, got {type(value).__name__}")
    want = _expected_elem(type_str) if type_str else None
    if value.dtype.kind in "OUS":
        if want is not None and want != "string":
            raise TypeError(f"input '{name}': expected tensor({want}), got a string array (numpy dtype {value.dtype})")
        flat = [v.decode("utf-8") if isinstance(v, bytes) else str(v) for v in value.reshape(-1).tolist()]
        return ("strings", flat, list(value.shape))
    ml = ML_DTYPES.get(value.dtype.name) if value.dtype.kind in "Vf" else None
    if ml is not None and value.dtype.itemsize == (2 if ml == "bfloat16" else 1):
        elem, code = ml, ELEM_CODES[ml]
        if want is not None and want != elem:
            raise TypeError(f"input '{name}': expected tensor({want}), got tensor({elem}) (numpy dtype {value.dtype})")
        bits = np.ascontiguousarray(value).view(np.uint16 if elem == "bfloat16" else np.uint8)
        if elem in ("int4", "int2"):  # ml_dtypes reads only the low bits; pionnx wants them sign-extended
            sign = 8 if elem == "int4" else 2
            bits = ((bits.view(np.int8) & (2 * sign - 1)) ^ sign) - sign
            bits = bits.astype(np.int8).view(np.uint8)
        elif elem in ("uint4", "float4e2m1", "uint2"):
            bits = np.bitwise_and(bits, np.uint8(0xF if elem != "uint2" else 0x3))
        if bits.ndim != value.ndim:  # np.ascontiguousarray makes a 0-d array 1-d
            bits = bits.reshape(value.shape)
        return ("rawdtype", code, bits)
    plain = NUMPY_ELEMS.get(value.dtype)
    if plain is None:
        raise TypeError(f"input '{name}': numpy dtype {value.dtype} is not supported")
    if want is not None and want != plain:
        raise TypeError(f"input '{name}': expected tensor({want}), got tensor({plain}) (numpy dtype {value.dtype})")
    if plain == "bool" and value.size and value.view(np.uint8).max() > 1:
        # A numpy bool is a byte that may hold any value (np.frombuffer(b"\x0b", bool)); the kernels
        # read C++ bools, which must be 0 or 1. Any nonzero byte is true, as numpy treats it.
        value = value.view(np.uint8) != 0
    # np.ascontiguousarray would turn a 0-d array into shape (1,).
    return value if value.flags.c_contiguous else value.copy(order="C")


class InferenceSession:
    """Loads an ONNX model and runs it, like onnxruntime.InferenceSession."""

    def __init__(
        self,
        path_or_bytes: str | bytes | os.PathLike[str],
        sess_options: SessionOptions | None = None,
        providers: Sequence[Any] | None = None,
        provider_options: Sequence[dict[str, Any]] | None = None,
        **kwargs: Any,
    ) -> None:
        opts = (sess_options or SessionOptions())._validated()
        self._sess_options = opts
        try:
            self._providers, self._provider_options = self._check_providers(providers, provider_options)
        except ValueError as e:
            # onnxruntime's fallback: a provider argument it cannot use is reported and the
            # session is made with the CPU provider, in the same words.
            print("*************** EP Error ***************")
            print(f"EP Error {e} when using {providers}")
            print(f"Falling back to {[_PROVIDER]} and retrying.")
            print("****************************************")
            self._providers, self._provider_options = [_PROVIDER], {_PROVIDER: {}}
        disabled = kwargs.pop("disabled_optimizers", None) or []
        if isinstance(disabled, str) or not all(isinstance(name, str) for name in disabled):
            raise TypeError(f"disabled_optimizers must be a list or set of optimizer names, got {disabled!r}")
        if kwargs:
            raise TypeError(f"InferenceSession got unexpected keyword arguments: {sorted(kwargs)}")
        self._profiling = bool(opts.enable_profiling)
        self._profile_start_ns = time.time_ns() if self._profiling else 0
        self._profile_start_steady = _core.steady_clock_ns()
        self._profile_events: list[dict[str, Any]] = []
        self._profile_lock = threading.Lock()
        args = (
            int(opts.intra_op_num_threads),
            int(opts.graph_optimization_level),
            int(opts.log_severity_level),
            str(opts.optimized_model_filepath or ""),
            opts._limits(),
            str(opts.logid or ""),
            sorted(disabled),
        )
        if isinstance(path_or_bytes, (bytes, bytearray, memoryview)):
            self._model_path = None
            self._sess = _core.Session.from_bytes(bytes(path_or_bytes), *args)
        elif isinstance(path_or_bytes, (str, os.PathLike)):
            path = os.fspath(path_or_bytes)
            if not os.path.exists(path):
                raise FileNotFoundError(f"model file not found: {path}")
            if os.path.isdir(path):
                raise IsADirectoryError(f"model path is a directory, not an ONNX file: {path}")
            self._model_path = path
            self._sess = _core.Session.from_path(path, *args)
        else:
            raise TypeError(f"InferenceSession expects a path or the model's bytes, got {type(path_or_bytes).__name__}")
        if self._profiling:
            self._add_profile_event("Session", "session_initialization", self._profile_start_steady, {})
        self._free_dims = dict(opts._free_dims)
        self._inputs = [self._override_dims(a) for a in _node_args(self._sess.inputs())]
        self._outputs = _node_args(self._sess.outputs())
        self._overridable = _node_args(self._sess.overridable_initializers())
        self._input_types = {a.name: a.type for a in self._inputs + self._overridable}
        self._output_names = [a.name for a in self._outputs]
        self._output_types = {a.name: a.type for a in self._outputs}

    @staticmethod
    def _check_providers(
        providers: Sequence[Any] | None, provider_options: Sequence[dict[Any, Any]] | None = None
    ) -> tuple[list[str], dict[str, dict[str, str]]]:
        """onnxruntime's checks and messages: malformed arguments raise ValueError; a provider this
        build lacks is warned about and skipped; the CPU provider always runs."""
        options: dict[str, dict[str, str]] = {_PROVIDER: {}}
        if providers is None:
            return [_PROVIDER], options
        named: list[tuple[str, dict[Any, Any]]] = []
        if not isinstance(providers, collections.abc.Sequence):  # a str is one (of characters), as there
            raise ValueError("'providers' should be a sequence.")
        if provider_options is not None:
            if not isinstance(provider_options, collections.abc.Sequence):
                raise ValueError("'provider_options' should be a sequence.")
            if len(providers) != len(provider_options):
                raise ValueError("'providers' and 'provider_options' should be the same length if both are given.")
            if not all(isinstance(p, str) for p in providers):
                raise ValueError("Only string values for 'providers' are supported if 'provider_options' is given.")
            if not all(isinstance(o, dict) for o in provider_options):
                raise ValueError("'provider_options' values must be dicts.")
            named = list(zip(providers, provider_options))
        else:
            for p in providers:
                if isinstance(p, str):
                    named.append((p, {}))
                elif isinstance(p, tuple) and len(p) == 2 and isinstance(p[0], str) and isinstance(p[1], dict):
                    named.append((p[0], p[1]))
                else:
                    raise ValueError("'providers' values must be either strings or (string, dict) tuples.")
        seen: set[str] = set()
        for name, opts in named:  # onnxruntime's order of checks and warnings
            if name != _PROVIDER:
                warnings.warn(
                    f"Specified provider '{name}' is not in available provider names."
                    f"Available providers: '{_PROVIDER}'",
                    stacklevel=3,
                )
            if name in seen:
                warnings.warn(f"Duplicate provider '{name}' encountered, ignoring.", stacklevel=3)
                continue
            seen.add(name)
            if name == _PROVIDER:
                options[name] = {str(k): str(v) for k, v in opts.items()}
        return [_PROVIDER], options

    def _override_dims(self, arg: NodeArg) -> NodeArg:
        if not self._free_dims or arg.shape is None:
            return arg
        shape = [self._free_dims.get(d, d) if isinstance(d, str) else d for d in arg.shape]
        return NodeArg(arg.name, shape, arg.type)

    def get_inputs(self) -> list[NodeArg]:
        return list(self._inputs)

    def get_outputs(self) -> list[NodeArg]:
        return list(self._outputs)

    def get_overridable_initializers(self) -> list[NodeArg]:
        return list(self._overridable)

    def get_modelmeta(self) -> ModelMetadata:
        return ModelMetadata(self._sess.meta())

    def get_providers(self) -> list[str]:
        return list(self._providers)

    def get_provider_options(self) -> dict[str, dict[str, str]]:
        return {name: dict(opts) for name, opts in self._provider_options.items()}

    def get_session_options(self) -> SessionOptions:
        return self._sess_options

    def set_providers(self, providers: Sequence[Any] | None = None, provider_options: Any = None) -> None:
        self._providers, self._provider_options = self._check_providers(providers, provider_options)

    def get_profile(self) -> dict[str, int]:
        """Debug facts: node counts before/after optimization, peak intermediate bytes, threads, and the
        most run() calls seen in progress at once (peak_concurrent_runs)."""
        return dict(self._sess.profile())

    def run(
        self,
        output_names: Sequence[str] | None,
        input_feed: dict[str, Any],
        run_options: RunOptions | None = None,
    ) -> list[Any]:
        """Runs the model; returns the outputs as numpy arrays.

        Types numpy lacks (bfloat16, float8*, float4e2m1, int4, uint4, int2, uint2) are fed
        and returned as ml_dtypes arrays. Without ml_dtypes installed, bfloat16
        outputs come back widened (exactly) to float32 and the other types
        raise TypeError.
        """
        if not isinstance(input_feed, dict):
            raise TypeError(f"input_feed must be a dict of name -> numpy array, got {type(input_feed).__name__}")
        return self._run_values(output_names, input_feed, run_options)

    def run_with_ort_values(
        self,
        output_names: Sequence[str] | None,
        input_dict_ort_values: dict[str, OrtValue],
        run_options: RunOptions | None = None,
    ) -> list[OrtValue]:
        """Like run, with OrtValues in and out (no copies either way)."""
        if not isinstance(input_dict_ort_values, dict):
            raise TypeError(
                f"input_dict_ort_values must be a dict of name -> OrtValue, got {type(input_dict_ort_values).__name__}"
            )
        feeds = {}
        for name, value in input_dict_ort_values.items():
            if not isinstance(value, OrtValue):
                raise TypeError(f"input '{name}': expected an OrtValue, got {type(value).__name__}")
            feeds[name] = value._value
        return [OrtValue(v) for v in self._run_values(output_names, feeds, run_options)]

    def io_binding(self) -> IOBinding:
        return IOBinding(self)

    def run_with_iobinding(self, iobinding: IOBinding, run_options: RunOptions | None = None) -> None:
        if not isinstance(iobinding, IOBinding) or iobinding._session is not self:
            raise ValueError("IOBinding must be used with the session that created it.")
        iobinding._run(run_options)

    def _run_values(
        self, output_names: Sequence[str] | None, input_feed: dict[str, Any], run_options: RunOptions | None
    ) -> list[Any]:
        names = list(output_names) if output_names else []
        for n in names:
            if n not in self._output_names:
                raise ValueError(f"unknown output '{n}'; the model's outputs are: {self._output_names}")
        if run_options is not None and not isinstance(run_options, RunOptions):
            raise TypeError(f"run_options must be a RunOptions, got {type(run_options).__name__}")
        feeds = []
        for name, value in input_feed.items():
            if not isinstance(name, str):
                raise TypeError(f"input names must be str, got {type(name).__name__}")
            if name not in self._input_types:
                known = ", ".join(repr(a.name) for a in self._inputs)
                raise InvalidArgumentError(f"unknown input '{name}'; the model's inputs are: {known}")
            if self._free_dims:
                self._check_free_dims(name, value)
            feeds.append((name, _feed_value(name, value, self._input_types[name])))
        types = [self._output_types[n] for n in (names or self._output_names)]
        flag = run_options._flag if run_options is not None else None
        if not self._profiling:
            outs = cast("list[Any]", self._sess.run(feeds, names, flag, False))
        else:
            start = _core.steady_clock_ns()
            outs, nodes = cast("tuple[list[Any], list[dict[str, Any]]]", self._sess.run(feeds, names, flag, True))
            self._add_profile_event("Session", "model_run", start, {})
            for node in nodes:
                self._add_profile_event(
                    "Node", f"{node['name']}_kernel_time", node["start_ns"], _node_args_json(node), node["duration_ns"]
                )
        return [_output_to_python(v, t) for v, t in zip(outs, types)]

    def _check_free_dims(self, name: str, value: Any) -> None:
        arg = next((a for a in self._inputs if a.name == name), None)
        shape = getattr(value, "shape", None)
        if arg is None or arg.shape is None or shape is None or len(shape) != len(arg.shape):
            return
        bad = [
            (i, got, want)
            for i, (got, want) in enumerate(zip(shape, arg.shape))
            if isinstance(want, int) and got != want
        ]
        if bad:
            detail = " ".join(f"index: {i} Got: {got} Expected: {want}" for i, got, want in bad)
            raise InvalidArgumentError(
                f"Got invalid dimensions for input: {name} for the following indices {detail} "
                "(fixed by SessionOptions.add_free_dimension_override_by_name)"
            )

    # ---- profiling (onnxruntime's Chrome-trace JSON: chrome://tracing, Perfetto)
    def _add_profile_event(
        self, cat: str, name: str, start_steady_ns: int, args: dict[str, Any], dur_ns: int | None = None
    ) -> None:
        if dur_ns is None:
            dur_ns = _core.steady_clock_ns() - start_steady_ns
        event = {
            "cat": cat,
            "pid": os.getpid(),
            "tid": threading.get_native_id(),
            "dur": max(0, dur_ns // 1000),
            "ts": max(0, (start_steady_ns - self._profile_start_steady) // 1000),
            "ph": "X",
            "name": name,
            "args": args,
        }
        with self._profile_lock:
            self._profile_events.append(event)

    def end_profiling(self) -> str:
        """Writes the profile (one event per node run, op type, duration, shapes) and returns its
        file name: <profile_file_prefix>_<date>_<time>.json. Profiling stops; "" when it was off."""
        if not self._profiling:
            return ""
        stamp = datetime.datetime.now().strftime("%Y-%m-%d_%H-%M-%S")
        path = f"{self._sess_options.profile_file_prefix}_{stamp}.json"
        with self._profile_lock:
            events, self._profile_events = self._profile_events, []
            self._profiling = False
        with open(path, "w", encoding="utf-8") as f:
            json.dump(events, f, indent=0)
        return path

    def get_profiling_start_time_ns(self) -> int:
        """When profiling started (ns since the epoch); 0 when profiling is off."""
        return self._profile_start_ns


def _node_args_json(node: dict[str, Any]) -> dict[str, Any]:
    def shapes(args: list[tuple[str, list[int]]]) -> list[dict[str, list[int]]]:
        return [{elem: list(shape)} for elem, shape in args]

    return {
        "op_name": node["op_type"],
        "provider": _PROVIDER,
        "input_type_shape": shapes(node["inputs"]),
        "output_type_shape": shapes(node["outputs"]),
    }


InvalidArgumentError = _core.InvalidArgument


def get_available_providers() -> list[str]:
    return [_PROVIDER]


def get_all_providers() -> list[str]:
    return [_PROVIDER]


def get_device() -> str:
    return "CPU"


def set_default_logger_severity(severity: int) -> None:
    """The level sessions whose log_severity_level is -1 report at: 0 verbose, 1 info,
    2 warning (the default), 3 error, 4 fatal. pionnx writes its messages to stderr."""
    if isinstance(severity, bool) or not isinstance(severity, (int, np.integer)):
        raise TypeError(f"severity must be an int 0..4, got {severity!r}")
    _core.set_default_logger_severity(int(severity))


def get_optimizer_names() -> list[str]:
    """The graph optimizers pionnx runs, by the names disabled_optimizers takes (onnxruntime's
    names where onnxruntime has the same rewrite)."""
    return list(_core.optimizer_names())


def tensor_from_proto(data: bytes) -> np.ndarray:
    """Parses a serialized ONNX TensorProto with pionnx's own reader."""
    array: np.ndarray = _to_python(_core.tensor_from_proto(bytes(data)))
    return array


def value_from_proto(data: bytes, kind: str = "tensor") -> Any:
    """Parses a serialized TensorProto ("tensor"), SequenceProto ("sequence") or OptionalProto ("optional")."""
    return _to_python(_core.value_from_proto(bytes(data), kind))
