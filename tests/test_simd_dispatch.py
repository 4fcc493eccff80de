"""The SGEMM micro-kernel chosen at run time is the best the CPU has, and it
computes what the portable one does.

Each model runs in two subprocesses, ``PIONNX_SGEMM=generic`` and the default
(the kernel is picked once per process). Runs with numpy and the wheel only
(the armv7 container has no onnx package): the models are encoded here with a
few lines of protobuf wire format.
"""

from __future__ import annotations

import json
import os
import platform
import struct
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

pionnx = pytest.importorskip("pionnx")
from pionnx import _wire  # noqa: E402

# ---------------------------------------------------------------- protobuf


def _tensor(name: str, arr: np.ndarray) -> bytes:  # TensorProto, float32
    arr = np.ascontiguousarray(arr, dtype="<f4")
    return _wire.tensor(name, arr.shape, arr.tobytes())


def _node(op: str, inputs, outputs, attrs=()) -> bytes:
    return _wire.node(op, inputs, outputs, attrs)


def _model(nodes, inits, inputs, outputs, opset: int = 13) -> bytes:
    return _wire.model(nodes, [_tensor(k, v) for k, v in inits.items()],
                       [_wire.value_info(k, s) for k, s in inputs], [_wire.value_info(k, s) for k, s in outputs],
                       opset=opset)


_attr_ints, _attr_int = _wire.attr_ints, _wire.attr_int


# ------------------------------------------------------------------ models


def conv_model(rng) -> tuple[bytes, dict]:
    """Three convolutions (3x3, strided 3x3, 1x1) with odd channel counts."""
    w = lambda *s: (rng.standard_normal(s) / np.sqrt(np.prod(s[1:]))).astype(np.float32)  # noqa: E731
    inits = {"w1": w(19, 5, 3, 3), "b1": w(19, 1)[:, 0], "w2": w(24, 19, 3, 3),
             "w3": w(13, 24, 1, 1), "b3": w(13, 1)[:, 0]}
    nodes = [
        _node("Conv", ["x", "w1", "b1"], ["c1"], [_attr_ints("pads", [1, 1, 1, 1])]),
        _node("Relu", ["c1"], ["r1"]),
        _node("Conv", ["r1", "w2"], ["c2"],
              [_attr_ints("pads", [1, 1, 1, 1]), _attr_ints("strides", [2, 2])]),
        _node("Relu", ["c2"], ["r2"]),
        _node("Conv", ["r2", "w3", "b3"], ["y"]),
    ]
    model = _model(nodes, inits, [("x", (2, 5, 23, 21))], [("y", (2, 13, 12, 11))])
    return model, {"x": rng.standard_normal((2, 5, 23, 21)).astype(np.float32)}


def matmul_model(rng) -> tuple[bytes, dict]:
    """Odd-sized MatMul (37x53 by 53x29), batched and against a constant, a Gemm, and a
    vector times a 67x141 matrix (the row-vector kernel: full blocks plus every tail width)."""
    inits = {"b": rng.standard_normal((53, 29)).astype(np.float32),
             "g": rng.standard_normal((31, 29)).astype(np.float32),
             "bv": rng.standard_normal((67, 141)).astype(np.float32)}
    nodes = [
        _node("MatMul", ["a", "b"], ["y"]),
        _node("MatMul", ["a3", "b3"], ["y3"]),
        _node("Gemm", ["y", "g"], ["z"], [_attr_int("transB", 1)]),
        _node("MatMul", ["v", "bv"], ["yv"]),
    ]
    model = _model(nodes, inits, [("a", (37, 53)), ("a3", (3, 37, 53)), ("b3", (3, 53, 29)), ("v", (1, 67))],
                   [("y", (37, 29)), ("y3", (3, 37, 29)), ("z", (37, 31)), ("yv", (1, 141))])
    feeds = {"a": rng.standard_normal((37, 53)).astype(np.float32),
             "a3": rng.standard_normal((3, 37, 53)).astype(np.float32),
             "b3": rng.standard_normal((3, 53, 29)).astype(np.float32),
             "v": rng.standard_normal((1, 67)).astype(np.float32)}
    return model, feeds


# ------------------------------------------------------------ the CPU's ISA


def _hwcap() -> int:
    """AT_HWCAP from /proc/self/auxv (qemu-user emulates it for the guest)."""
    word = struct.calcsize("L")
    data = Path("/proc/self/auxv").read_bytes()
    for i in range(0, len(data) - 2 * word + 1, 2 * word):
        key, value = struct.unpack_from("LL", data, i)
        if key == 16:  # AT_HWCAP
            return value
    return 0


def _x86_flags() -> set[str]:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("flags"):
            return set(line.split(":", 1)[1].split())
    return set()


def expected_isa() -> str:
    machine = platform.machine().lower()
    if machine in ("aarch64", "arm64"):
        return "neon"
    if machine.startswith("arm") or (struct.calcsize("P") == 4 and "aarch64" in machine):
        return "neon" if _hwcap() & (1 << 12) else "generic"  # HWCAP_NEON
    if machine in ("x86_64", "amd64"):
        flags = _x86_flags()
        if "avx512f" in flags:
            return "avx512"
        if {"avx2", "fma"} <= flags:
            return "avx2"
    return "generic"


# ------------------------------------------------------------- subprocesses

_RUNNER = r"""
import json, sys
import numpy as np
import pionnx
model, feeds_path, out_path = sys.argv[1:4]
feeds = dict(np.load(feeds_path))
sess = pionnx.InferenceSession(model)
names = [o.name for o in sess.get_outputs()]
outs = sess.run(None, feeds)
np.savez(out_path, **dict(zip(names, outs)))
print(json.dumps(pionnx.simd_info()))
"""


def run_with(tmp: Path, model: Path, feeds: Path, cap: str | None):
    env = dict(os.environ)
    env.pop("PIONNX_SGEMM", None)
    if cap:
        env["PIONNX_SGEMM"] = cap
    out = tmp / f"out-{model.stem}-{cap or 'default'}.npz"
    proc = subprocess.run([sys.executable, "-c", _RUNNER, str(model), str(feeds), str(out)],
                          env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr
    info = json.loads(proc.stdout.strip().splitlines()[-1])
    with np.load(out) as z:
        return info, {k: z[k] for k in z.files}


@pytest.mark.parametrize("build", [conv_model, matmul_model], ids=["conv", "matmul"])
def test_default_kernel_matches_generic(tmp_path, build):
    model_bytes, feeds = build(np.random.default_rng(7))
    model = tmp_path / f"{build.__name__}.onnx"
    model.write_bytes(model_bytes)
    feeds_path = tmp_path / f"{build.__name__}-feeds.npz"
    np.savez(feeds_path, **feeds)

    info_g, ref = run_with(tmp_path, model, feeds_path, "generic")
    info_d, got = run_with(tmp_path, model, feeds_path, None)
    assert info_g["sgemm"] == "generic"
    assert info_d["sgemm"] == expected_isa(), (info_d, platform.machine())
    assert info_d["arch"] in ("x86_64", "aarch64", "armv7l", "i686", "unknown")
    if info_d["arch"] == "armv7l":
        assert info_d["hwcap_neon"] == bool(_hwcap() & (1 << 12))
    assert ref.keys() == got.keys()
    for name in ref:
        scale = float(np.max(np.abs(ref[name]))) or 1.0
        np.testing.assert_allclose(got[name], ref[name], rtol=1e-4, atol=1e-4 * scale,
                                   err_msg=f"{name}: {info_d['sgemm']} vs generic")


def test_simd_info_in_process():
    info = pionnx.simd_info()
    assert set(info) == {"sgemm", "hwcap_neon", "arch"}
    assert info["sgemm"] in ("generic", "neon", "avx2", "avx512")
    if info["arch"] not in ("armv7l", "aarch64"):
        assert info["hwcap_neon"] is False
