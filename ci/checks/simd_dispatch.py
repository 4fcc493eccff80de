"""The SGEMM micro-kernel pionnx picks at run time is the one the CPU can run
best, and it computes what the portable kernel does.

Each model (three convolutions; odd-sized MatMuls, a Gemm and a row vector)
runs in subprocesses, since the kernel is picked once per process:

* ``generic``: ``PIONNX_SGEMM=generic``, the portable kernel, the reference;
* ``default``: the pick, which must match the CPU (NEON on armv7l when
  AT_HWCAP has HWCAP_NEON, AVX-512/AVX2 on x86_64, NEON on aarch64);
* ``forced-<path>``: every other path the CPU can run, forced with
  ``PIONNX_SGEMM`` (AVX2 on an AVX-512 CPU), picked and agreeing likewise;
* ``no-neon`` (``--no-neon-cpu CPU``, armv7l under qemu-user): the pick again
  with ``QEMU_CPU=CPU`` (e.g. cortex-r5f, a VFPv3-D16 CPU without NEON), which
  must fall back to ``generic``. On a real board QEMU_CPU means nothing; the
  leg then reports that no NEON-less CPU was emulated.

Needs numpy and pionnx only (the armv7 containers have no onnx package): the
models are written with pionnx's own protobuf wire helpers. Used by
tests/test_simd_dispatch.py on the host and by ci/factory/wheel_tests.py inside
the emulated container.

    python -m ci.checks.simd_dispatch [--json OUT] [--no-neon-cpu cortex-r5f]

Exit status 0 when every leg agrees, 1 otherwise (the reason is printed).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import struct
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

import pionnx
from pionnx import _wire as w

HWCAP_NEON = 1 << 12  # <asm/hwcap.h>, 32-bit ARM
AT_HWCAP = 16

# ---------------------------------------------------------------- models


def _model(nodes, inits, inputs, outputs, opset: int = 13) -> bytes:
    tensors = []
    for name, arr in inits.items():
        arr = np.ascontiguousarray(arr, dtype="<f4")
        tensors.append(w.tensor(name, arr.shape, arr.tobytes()))
    return w.model(
        nodes, tensors, [w.value_info(k, s) for k, s in inputs], [w.value_info(k, s) for k, s in outputs], opset=opset
    )


def conv_model(rng) -> tuple[bytes, dict]:
    """Three convolutions (3x3, strided 3x3, 1x1) with odd channel counts."""

    def weights(*s):
        return (rng.standard_normal(s) / np.sqrt(np.prod(s[1:]))).astype(np.float32)

    inits = {
        "w1": weights(19, 5, 3, 3),
        "b1": weights(19, 1)[:, 0],
        "w2": weights(24, 19, 3, 3),
        "w3": weights(13, 24, 1, 1),
        "b3": weights(13, 1)[:, 0],
    }
    nodes = [
        w.node("Conv", ["x", "w1", "b1"], ["c1"], [w.attr_ints("pads", [1, 1, 1, 1])]),
        w.node("Relu", ["c1"], ["r1"], ()),
        w.node("Conv", ["r1", "w2"], ["c2"], [w.attr_ints("pads", [1, 1, 1, 1]), w.attr_ints("strides", [2, 2])]),
        w.node("Relu", ["c2"], ["r2"], ()),
        w.node("Conv", ["r2", "w3", "b3"], ["y"], ()),
    ]
    model = _model(nodes, inits, [("x", (2, 5, 23, 21))], [("y", (2, 13, 12, 11))])
    return model, {"x": rng.standard_normal((2, 5, 23, 21)).astype(np.float32)}


def matmul_model(rng) -> tuple[bytes, dict]:
    """Odd-sized MatMul (37x53 by 53x29), batched and against a constant, a Gemm, and a
    vector times a 67x141 matrix (the row-vector kernel: full blocks plus every tail width)."""
    inits = {
        "b": rng.standard_normal((53, 29)).astype(np.float32),
        "g": rng.standard_normal((31, 29)).astype(np.float32),
        "bv": rng.standard_normal((67, 141)).astype(np.float32),
    }
    nodes = [
        w.node("MatMul", ["a", "b"], ["y"], ()),
        w.node("MatMul", ["a3", "b3"], ["y3"], ()),
        w.node("Gemm", ["y", "g"], ["z"], [w.attr_int("transB", 1)]),
        w.node("MatMul", ["v", "bv"], ["yv"], ()),
    ]
    model = _model(
        nodes,
        inits,
        [("a", (37, 53)), ("a3", (3, 37, 53)), ("b3", (3, 53, 29)), ("v", (1, 67))],
        [("y", (37, 29)), ("y3", (3, 37, 29)), ("z", (37, 31)), ("yv", (1, 141))],
    )
    feeds = {
        "a": rng.standard_normal((37, 53)).astype(np.float32),
        "a3": rng.standard_normal((3, 37, 53)).astype(np.float32),
        "b3": rng.standard_normal((3, 53, 29)).astype(np.float32),
        "v": rng.standard_normal((1, 67)).astype(np.float32),
    }
    return model, feeds


MODELS = {"conv": conv_model, "matmul": matmul_model}

# ------------------------------------------------------------ the CPU's ISA


def hwcap() -> int:
    """AT_HWCAP from /proc/self/auxv (qemu-user emulates it for the guest)."""
    word = struct.calcsize("L")
    data = Path("/proc/self/auxv").read_bytes()
    for i in range(0, len(data) - 2 * word + 1, 2 * word):
        key, value = struct.unpack_from("LL", data, i)
        if key == AT_HWCAP:
            return value
    return 0


def _x86_flags() -> set[str]:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("flags"):
            return set(line.split(":", 1)[1].split())
    return set()


def is_arm32() -> bool:
    machine = platform.machine().lower()
    return machine.startswith("arm") or (struct.calcsize("P") == 4 and "aarch64" in machine)


# The SGEMM paths, portable first, as PIONNX_SGEMM names them.
SGEMM_LADDER = ("generic", "neon", "neon_a53", "avx2", "avx512")

# Arm's in-order cores (implementer 0x41): Cortex-A53, A35, A55.
IN_ORDER_PARTS = {0xD03, 0xD04, 0xD05}


def arm_in_order(cpuinfo: str | None = None) -> bool:
    """Whether every "CPU part" of /proc/cpuinfo is an in-order Arm core, as
    runtime/src/platform/cpu_features.cc decides it (aarch64's SGEMM default then is neon_a53)."""
    if cpuinfo is None:
        try:
            cpuinfo = Path("/proc/cpuinfo").read_text()
        except OSError:
            return False
    parts, ok = 0, True
    for line in cpuinfo.splitlines():
        key, _, value = line.partition(":")
        key = key.strip()
        if key == "CPU implementer":
            ok = ok and int(value.strip(), 0) == 0x41
        elif key == "CPU part":
            ok = ok and int(value.strip(), 0) in IN_ORDER_PARTS
            parts += 1
    return parts > 0 and ok


def _aarch64() -> bool:
    return platform.machine().lower() in ("aarch64", "arm64") and struct.calcsize("P") == 8


def expected_paths(neon: bool | None = None) -> list[str]:
    """The SGEMM paths this CPU can run, portable first; `neon` overrides the HWCAP read (32-bit ARM)."""
    machine = platform.machine().lower()
    if _aarch64():
        return ["generic", "neon", "neon_a53"]
    if is_arm32():
        if neon is None:
            neon = bool(hwcap() & HWCAP_NEON)
        return ["generic", "neon"] if neon else ["generic"]
    paths = ["generic"]
    if machine in ("x86_64", "amd64"):
        flags = _x86_flags()
        if {"avx2", "fma"} <= flags:
            paths.append("avx2")
        if "avx512f" in flags:
            paths.append("avx512")
    return paths


def expected_isa(neon: bool | None = None, cap: str | None = None) -> str:
    """The kernel this CPU should get: its fastest (on aarch64, the one scheduled for its cores:
    neon_a53 where every core is in-order, neon elsewhere), or with `cap` (a PIONNX_SGEMM value)
    the named path where it runs, else the default's rule below the named path."""
    paths = expected_paths(neon)
    if _aarch64():
        not_default = "neon" if arm_in_order() else "neon_a53"
        if cap != not_default:
            paths = [p for p in paths if p != not_default]
    if cap in SGEMM_LADDER:
        paths = [p for p in paths if SGEMM_LADDER.index(p) <= SGEMM_LADDER.index(cap)]
    return paths[-1]


# ------------------------------------------------------------- subprocesses


def run_one(model: Path, feeds_path: Path, out_path: Path) -> None:
    """The body of one leg's subprocess (``--run-one``): runs the model, saves the
    outputs, and prints the kernel pionnx picked beside the NEON bit this process
    itself reads from its auxiliary vector."""
    feeds = dict(np.load(feeds_path))
    sess = pionnx.InferenceSession(str(model))
    names = [o.name for o in sess.get_outputs()]
    np.savez(out_path, **dict(zip(names, sess.run(None, feeds))))
    # Bit 12 means NEON only on 32-bit ARM (on x86 it is another feature's bit).
    print(json.dumps({"simd": pionnx.simd_info(), "auxv_neon": is_arm32() and bool(hwcap() & HWCAP_NEON)}))


def run_leg(tmp: Path, model: Path, feeds: Path, leg: str, env_extra: dict | None = None):
    """One subprocess: returns (its report, its outputs)."""
    env = dict(os.environ)
    env.pop("PIONNX_SGEMM", None)
    env.pop("QEMU_CPU", None)
    env.update(env_extra or {})
    out = tmp / f"out-{model.stem}-{leg}.npz"
    # This module again (`python -m`), the project root on the child's path.
    env["PYTHONPATH"] = str(Path(__file__).resolve().parents[2])
    proc = subprocess.run(
        [sys.executable, "-m", "ci.checks.simd_dispatch", "--run-one", str(model), str(feeds), str(out)],
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    if proc.returncode != 0:
        raise AssertionError(
            f"{leg} run of {model.name} failed (exit {proc.returncode}): "
            + (proc.stderr.strip().splitlines() or ["no output"])[-1]
        )
    info = json.loads(proc.stdout.strip().splitlines()[-1])
    with np.load(out) as z:
        return info, {k: z[k] for k in z.files}


def max_scaled_error(ref: dict, got: dict, what: str) -> float:
    """Largest |got - ref| relative to each output's largest |ref|; AssertionError
    when the outputs differ in names or shapes, or beyond float32 summation noise."""
    if ref.keys() != got.keys():
        raise AssertionError(f"{what}: outputs {sorted(got)} instead of {sorted(ref)}")
    worst = 0.0
    for name in ref:
        r, g = ref[name].astype(np.float64), got[name].astype(np.float64)
        if r.shape != g.shape:
            raise AssertionError(f"{what}: output {name} has shape {g.shape}, the generic kernel's {r.shape}")
        scale = float(np.max(np.abs(r))) or 1.0
        err = float(np.max(np.abs(g - r))) / scale if r.size else 0.0
        if not np.isfinite(err) or err > 1e-4:
            raise AssertionError(
                f"{what}: output {name} differs from the generic kernel's by {err:.3g} "
                "of its largest value (allowed 1e-4)"
            )
        worst = max(worst, err)
    return worst


def check_model(name: str, tmp: Path, no_neon_cpu: str | None = None, seed: int = 7) -> dict:
    """Runs model `name` on each leg; raises AssertionError naming the first disagreement."""
    model_bytes, feeds = MODELS[name](np.random.default_rng(seed))
    model = tmp / f"{name}.onnx"
    model.write_bytes(model_bytes)
    feeds_path = tmp / f"{name}-feeds.npz"
    np.savez(feeds_path, **feeds)

    report: dict = {}
    info, ref = run_leg(tmp, model, feeds_path, "generic", {"PIONNX_SGEMM": "generic"})
    if info["simd"]["sgemm"] != "generic":
        raise AssertionError(f"{name}: PIONNX_SGEMM=generic still picked {info['simd']['sgemm']}")
    report["generic"] = {"sgemm": "generic"}

    legs = [("default", {})]
    # Every other path this CPU can run, forced (e.g. AVX2 on an AVX-512 CPU): each must be
    # the one picked and compute what the portable kernel does.
    for path in expected_paths()[1:]:
        if path != expected_isa():
            legs.append((f"forced-{path}", {"PIONNX_SGEMM": path}))
    if no_neon_cpu and is_arm32():
        legs.append(("no-neon", {"QEMU_CPU": no_neon_cpu}))
    for leg, env in legs:
        info, got = run_leg(tmp, model, feeds_path, leg, env)
        simd = info["simd"]
        if leg == "no-neon" and info["auxv_neon"]:
            report[leg] = {
                "status": f"not emulated: QEMU_CPU={no_neon_cpu} left NEON in AT_HWCAP (not running under qemu-user?)"
            }
            continue
        want = expected_isa(info["auxv_neon"], env.get("PIONNX_SGEMM"))
        if simd["sgemm"] != want:
            raise AssertionError(
                f"{name}, {leg}: picked {simd['sgemm']}, but this CPU should get {want} "
                f"(simd_info {simd}, NEON in AT_HWCAP: {info['auxv_neon']})"
            )
        if is_arm32() and simd["hwcap_neon"] != info["auxv_neon"]:
            raise AssertionError(
                f"{name}, {leg}: pionnx read hwcap_neon={simd['hwcap_neon']}, /proc/self/auxv says {info['auxv_neon']}"
            )
        err = max_scaled_error(ref, got, f"{name}, {leg} ({simd['sgemm']})")
        report[leg] = {
            "sgemm": simd["sgemm"],
            "hwcap_neon": info["auxv_neon"],
            "max_scaled_error": err,
            **({"qemu_cpu": env["QEMU_CPU"]} if "QEMU_CPU" in env else {}),
        }
    return report


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--json", type=Path, help="write the per-model, per-leg report here")
    p.add_argument(
        "--no-neon-cpu", default=None, help="armv7l under qemu-user: also run with QEMU_CPU=this CPU (one without NEON)"
    )
    p.add_argument("--run-one", nargs=3, metavar=("MODEL", "FEEDS", "OUT"), type=Path, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.run_one:
        run_one(*args.run_one)
        return 0

    result: dict = {"machine": platform.machine(), "pionnx": pionnx.__version__, "models": {}}
    status = "passed"
    with tempfile.TemporaryDirectory(prefix="pionnx-simd-") as tmp:
        for name in MODELS:
            try:
                result["models"][name] = check_model(name, Path(tmp), args.no_neon_cpu)
            except AssertionError as e:
                result["models"][name] = {"error": str(e)}
                status = "failed"
                print(f"[simd] {e}", flush=True)
    result["status"] = status
    picks = sorted(
        {
            leg_r.get("sgemm")
            for m in result["models"].values()
            for leg_r in m.values()
            if isinstance(leg_r, dict) and leg_r.get("sgemm")
        }
    )
    result["kernels"] = picks
    print(f"[simd] {status}: kernels checked {', '.join(picks) or 'none'}; " + json.dumps(result["models"]), flush=True)
    if args.json:
        args.json.write_text(json.dumps(result, indent=2) + "\n")
    return 0 if status == "passed" else 1


if __name__ == "__main__":
    sys.exit(main())
