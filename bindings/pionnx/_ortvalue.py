"""onnxruntime's OrtValue and IOBinding, for pionnx's one device: the CPU.

An OrtValue made from a numpy array shares that array's memory, as
onnxruntime's CPU OrtValues do: ``numpy()`` returns a view of it and
``update_inplace`` writes into it. Feeding an OrtValue hands its memory to the
runtime without a copy; outputs come back as arrays over the runtime's own
buffers, also without a copy. Only an output bound to memory the caller
allocated (``bind_output`` with a buffer, ``bind_ortvalue_output``) is copied,
once, into that memory.
"""

from __future__ import annotations

import ctypes
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from . import _core
from ._dtypes import ELEM_CODES, ELEM_NAMES, ML_BY_ELEM, ML_DTYPES, NUMPY_BY_ELEM, NUMPY_ELEMS

if TYPE_CHECKING:
    from ._session import InferenceSession, RunOptions


def _code_of_dtype(dtype: np.dtype[Any]) -> int | None:
    elem = NUMPY_ELEMS.get(dtype) or ML_DTYPES.get(dtype.name)
    return None if elem is None else ELEM_CODES[elem]


def _numpy_dtype(element_type: Any) -> np.dtype[Any]:
    """A numpy type (np.float32), a dtype, or an ONNX element code (1, 10, 16, ...) -> the numpy dtype."""
    if isinstance(element_type, (int, np.integer)) and not isinstance(element_type, bool):
        code = int(element_type)
        elem = ELEM_NAMES.get(code, "")
        if elem in NUMPY_BY_ELEM:
            return NUMPY_BY_ELEM[elem]
        name = ML_BY_ELEM.get(elem)
        if name is None:
            raise ValueError(f"unsupported ONNX element type {code}")
        try:
            import ml_dtypes
        except ImportError:
            raise TypeError(f"element type {elem} needs the ml_dtypes package: pip install ml_dtypes") from None
        ml_dtype: np.dtype[Any] = np.dtype(getattr(ml_dtypes, name))
        return ml_dtype
    dtype: np.dtype[Any] = np.dtype(element_type)
    if _code_of_dtype(dtype) is None:
        raise ValueError(f"unsupported element type {dtype}")
    return dtype


def _check_device(device_type: str, device_id: int) -> None:
    if str(device_type).lower() != "cpu" or int(device_id) != 0:
        raise _core.Fail(f"device '{device_type}:{device_id}' is not available: pionnx runs on the CPU ('cpu', 0) only")


class OrtValue:
    """A tensor (or a sequence of tensors) held for the runtime, like onnxruntime.OrtValue."""

    def __init__(self, value: Any) -> None:
        # An ndarray, a list of ndarrays (a tensor sequence) or None (an empty optional).
        self._value = value

    # ---- construction (onnxruntime's static methods)
    @staticmethod
    def ortvalue_from_numpy(numpy_obj: np.ndarray, device_type: str = "cpu", device_id: int = 0) -> OrtValue:
        """Wraps a numpy array without copying it (a non-contiguous one is copied once)."""
        _check_device(device_type, device_id)
        if not isinstance(numpy_obj, np.ndarray) or numpy_obj.dtype.kind in "OUS":
            raise _core.Fail("Creation of OrtValues is currently only supported from non-string numpy arrays")
        if _code_of_dtype(numpy_obj.dtype) is None:
            raise _core.Fail(f"numpy dtype {numpy_obj.dtype} has no ONNX element type")
        array = numpy_obj if numpy_obj.flags.c_contiguous else np.ascontiguousarray(numpy_obj).reshape(numpy_obj.shape)
        return OrtValue(array)

    @staticmethod
    def ortvalue_from_shape_and_type(
        shape: Sequence[int], element_type: Any, device_type: str = "cpu", device_id: int = 0
    ) -> OrtValue:
        """A new tensor of that shape and element type (a numpy type or an ONNX element code), zero-filled."""
        _check_device(device_type, device_id)
        dims = [int(d) for d in shape]
        if any(d < 0 for d in dims):
            raise ValueError(f"shape must not hold negative dimensions, got {list(shape)}")
        return OrtValue(np.zeros(dims, dtype=_numpy_dtype(element_type)))

    # ---- what it holds
    def _array(self) -> np.ndarray:
        return self._as_array(self._value)

    def numpy(self) -> Any:
        """The tensor as a numpy array sharing the OrtValue's memory (a list for a sequence)."""
        return self._value

    def shape(self) -> list[int]:
        return list(self._array().shape)

    def element_type(self) -> int:
        """The ONNX element type code (1 = float, 7 = int64, ...)."""
        value = self._value
        if isinstance(value, list):
            if not value:
                raise _core.Fail("an empty sequence has no element type")
            value = value[0]
        code = _code_of_dtype(self._as_array(value).dtype)
        assert code is not None
        return code

    def data_type(self) -> str:
        """onnxruntime's type string: 'tensor(float)', 'seq(tensor(int64))', ..."""
        if self._value is None:
            return "optional"
        name = ELEM_NAMES[self.element_type()]
        return f"seq(tensor({name}))" if isinstance(self._value, list) else f"tensor({name})"

    def is_tensor(self) -> bool:
        return isinstance(self._value, np.ndarray)

    def is_tensor_sequence(self) -> bool:
        return isinstance(self._value, list)

    def is_sparse_tensor(self) -> bool:
        return False

    def has_value(self) -> bool:
        return self._value is not None

    def device_name(self) -> str:
        return "cpu"

    def tensor_size_in_bytes(self) -> int:
        return int(self._array().nbytes)

    def data_ptr(self) -> int:
        return int(self._array().ctypes.data)

    def update_inplace(self, np_arr: np.ndarray) -> None:
        """Copies np_arr into this tensor's memory (same element count and type)."""
        target = self._array()
        source = np.asarray(np_arr)
        if source.dtype != target.dtype or source.size != target.size:
            raise _core.Fail(
                f"update_inplace: the array ({source.dtype}, {source.size} elements) must match the OrtValue "
                f"({target.dtype}, {target.size} elements)"
            )
        np.copyto(target, source.reshape(target.shape))

    @staticmethod
    def _as_array(value: Any) -> np.ndarray:
        if not isinstance(value, np.ndarray):
            raise _core.Fail("the OrtValue is not a tensor")
        return value

    def __repr__(self) -> str:
        if isinstance(self._value, np.ndarray):
            return f"OrtValue({self.data_type()}, shape={self.shape()}, device='cpu')"
        return f"OrtValue({self.data_type()})"


def _array_at(buffer_ptr: int, element_type: Any, shape: Sequence[int]) -> np.ndarray:
    """A numpy array over memory the caller owns at buffer_ptr (no copy)."""
    dtype = _numpy_dtype(element_type)
    dims = [int(d) for d in shape]
    nbytes = int(np.prod(dims, dtype=np.int64)) * dtype.itemsize
    if nbytes == 0:
        return np.zeros(dims, dtype=dtype)
    raw = memoryview((ctypes.c_char * nbytes).from_address(int(buffer_ptr))).cast("B")
    return np.frombuffer(raw, dtype=dtype).reshape(dims)


def _feed_of(name: str, value: Any) -> Any:
    if isinstance(value, OrtValue):
        return value._value
    raise TypeError(f"input '{name}': expected an OrtValue, got {type(value).__name__}")


class IOBinding:
    """Inputs and outputs bound to a session ahead of a run, like onnxruntime.IOBinding."""

    def __init__(self, session: InferenceSession) -> None:
        self._session = session
        self._inputs: dict[str, Any] = {}
        self._outputs: dict[str, OrtValue | None] = {}  # None: the runtime allocates the output
        self._results: list[OrtValue] = []

    def bind_cpu_input(self, name: str, arr_on_cpu: np.ndarray) -> None:
        """Binds an input to a numpy array (its memory is used as is, not copied)."""
        self._inputs[name] = arr_on_cpu

    def bind_input(
        self, name: str, device_type: str, device_id: int, element_type: Any, shape: Sequence[int], buffer_ptr: int
    ) -> None:
        """Binds an input to memory at buffer_ptr holding a tensor of that type and shape (not copied)."""
        _check_device(device_type, device_id)
        self._inputs[name] = _array_at(buffer_ptr, element_type, shape)

    def bind_ortvalue_input(self, name: str, ortvalue: OrtValue) -> None:
        self._inputs[name] = _feed_of(name, ortvalue)

    def bind_output(
        self,
        name: str,
        device_type: str = "cpu",
        device_id: int = 0,
        element_type: Any = None,
        shape: Sequence[int] | None = None,
        buffer_ptr: int | None = None,
    ) -> None:
        """Binds an output; with buffer_ptr, the run writes it into that memory."""
        _check_device(device_type, device_id)
        if buffer_ptr is None:
            self._outputs[name] = None
            return
        if element_type is None or shape is None:
            raise ValueError("`element_type` and `shape` are to be provided if pre-allocated memory is provided")
        self._outputs[name] = OrtValue(_array_at(buffer_ptr, element_type, shape))

    def bind_ortvalue_output(self, name: str, ortvalue: OrtValue) -> None:
        """Binds an output to an OrtValue: the run writes the result into its memory."""
        if not isinstance(ortvalue, OrtValue):
            raise TypeError(f"output '{name}': expected an OrtValue, got {type(ortvalue).__name__}")
        self._outputs[name] = ortvalue

    def clear_binding_inputs(self) -> None:
        self._inputs.clear()

    def clear_binding_outputs(self) -> None:
        self._outputs.clear()

    def synchronize_inputs(self) -> None:
        """Nothing to do on the CPU (kept for onnxruntime scripts)."""

    def synchronize_outputs(self) -> None:
        """Nothing to do on the CPU (kept for onnxruntime scripts)."""

    def get_outputs(self) -> list[OrtValue]:
        """The outputs of the last run_with_iobinding, in the order they were bound."""
        return list(self._results)

    def copy_outputs_to_cpu(self) -> list[Any]:
        """The outputs of the last run as numpy arrays (copies, as onnxruntime gives)."""
        return [np.array(v._value) if isinstance(v._value, np.ndarray) else v._value for v in self._results]

    def _run(self, run_options: RunOptions | None) -> None:
        names = list(self._outputs)
        results = self._session._run_values(names, dict(self._inputs), run_options)
        bound: list[OrtValue] = []
        for name, value in zip(names, results):
            target = self._outputs[name]
            if target is None:
                bound.append(OrtValue(value))
                continue
            array = target._array()
            got = np.asarray(value)
            if got.shape != array.shape or got.dtype != array.dtype:
                raise _core.InvalidArgument(
                    f"output '{name}': the run produced {got.dtype}{list(got.shape)}, but the bound memory holds "
                    f"{array.dtype}{list(array.shape)}"
                )
            np.copyto(array, got)
            bound.append(target)
        self._results = bound
