"""The SGEMM micro-kernel chosen at run time is the best the CPU has, and it
computes what the portable one does (ci/checks/simd_dispatch.py, which the
armv7l wheel test also runs inside the emulated container, there with a
NEON-less CPU as a third leg).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest

pionnx = pytest.importorskip("pionnx")

from ci.checks import simd_dispatch as sdc  # noqa: E402  (it imports pionnx)


@pytest.mark.parametrize("name", list(sdc.MODELS))
def test_default_kernel_matches_generic(tmp_path, name):
    report = sdc.check_model(name, tmp_path)
    assert report["default"]["sgemm"] == sdc.expected_isa()
    assert report["default"]["max_scaled_error"] <= 1e-4


def test_simd_info_in_process():
    """The path each family runs is one this CPU can run; SGEMM's is the fastest one,
    or the one PIONNX_SGEMM caps it to (the suite also runs with every path forced)."""
    info, paths = pionnx.simd_info(), pionnx.simd_paths()
    assert set(info) == {"sgemm", "qgemm", "fastmath", "depthwise", "nchwc", "hwcap_neon", "arch"}
    assert set(paths) == {"sgemm", "qgemm", "fastmath", "depthwise", "nchwc"}
    for family, available in paths.items():
        assert available[0] == "generic" and info[family] in available
        forced = os.environ.get(f"PIONNX_{family.upper()}")
        if forced in available:
            assert info[family] == forced
        elif not forced and family == "nchwc":  # AVX2's and NEON's blocked kernels only when named
            assert info[family] == ("avx512" if "avx512" in available else "generic")
        elif not forced and family != "sgemm":  # aarch64's SGEMM: see below
            assert info[family] == available[-1]
    assert info["sgemm"] in sdc.SGEMM_LADDER
    assert info["sgemm"] == sdc.expected_isa(cap=os.environ.get("PIONNX_SGEMM"))
    assert paths["sgemm"] == sdc.expected_paths()
    if info["arch"] not in ("armv7l", "aarch64"):
        assert info["hwcap_neon"] is False


def test_a_wrong_kernel_is_caught():
    rng = np.random.default_rng(0)
    ref = {"y": rng.standard_normal((5, 7)).astype(np.float32)}
    assert sdc.max_scaled_error(ref, {"y": ref["y"] + 1e-7}, "noise") < 1e-4
    bad = ref["y"].copy()
    bad[4, 6] += 0.01 * np.abs(ref["y"]).max()
    with pytest.raises(AssertionError, match="differs from the generic kernel's"):
        sdc.max_scaled_error(ref, {"y": bad}, "one element off")
    with pytest.raises(AssertionError, match="shape"):
        sdc.max_scaled_error(ref, {"y": ref["y"][:4]}, "short")
    with pytest.raises(AssertionError, match="outputs"):
        sdc.max_scaled_error(ref, {"z": ref["y"]}, "renamed")
    nan = ref["y"].copy()
    nan[0, 0] = np.nan
    with pytest.raises(AssertionError):
        sdc.max_scaled_error(ref, {"y": nan}, "nan")


def test_script_reports_and_exits_zero(tmp_path):
    out = tmp_path / "simd.json"
    assert sdc.main(["--json", str(out), "--no-neon-cpu", "cortex-r5f"]) == 0
    report = json.loads(out.read_text())
    assert report["status"] == "passed"
    assert set(report["models"]) == set(sdc.MODELS)
    assert sdc.expected_isa() in report["kernels"] and "generic" in report["kernels"]


def test_forcing_names_are_checked(tmp_path):
    """PIONNX_QGEMM/SGEMM name a path; a CPU without it gets the fastest below it, and a
    name no family knows is reported (and ignored) instead of silently doing nothing."""
    code = "import pionnx, json; print(json.dumps(pionnx.simd_info()))"
    paths = pionnx.simd_paths()
    env = {k: v for k, v in os.environ.items() if not k.startswith("PIONNX_")}
    proc = subprocess.run(
        [sys.executable, "-c", code], env={**env, "PIONNX_QGEMM": "avx1024"}, capture_output=True, text=True, check=True
    )
    assert "PIONNX_QGEMM=avx1024 names no integer GEMM path" in proc.stderr
    assert json.loads(proc.stdout)["qgemm"] == paths["qgemm"][-1]
    proc = subprocess.run(
        [sys.executable, "-c", code],
        env={**env, **{f"PIONNX_{family.upper()}": "generic" for family in paths}},
        capture_output=True,
        text=True,
        check=True,
    )
    assert proc.stderr == ""
    assert {k: v for k, v in json.loads(proc.stdout).items() if k in paths} == dict.fromkeys(paths, "generic")


def _cores(implementer: str, part: str, n: int) -> str:
    return "".join(
        f"processor\t: {i}\nCPU implementer\t: {implementer}\nCPU architecture: 8\nCPU part\t: {part}\n\n"
        for i in range(n)
    )


def test_in_order_cores_are_read_from_cpuinfo():
    assert sdc.arm_in_order(_cores("0x41", "0xd03", 4))  # Raspberry Pi 3: Cortex-A53
    assert sdc.arm_in_order(_cores("0x41", "0xd05", 4))  # Cortex-A55
    assert not sdc.arm_in_order(_cores("0x41", "0xd08", 4))  # Raspberry Pi 4: Cortex-A72
    assert not sdc.arm_in_order(_cores("0x41", "0xd05", 4) + _cores("0x41", "0xd0b", 4))  # A55 + A76
    assert not sdc.arm_in_order(_cores("0x51", "0xd03", 4))  # another implementer
    assert not sdc.arm_in_order("processor\t: 0\nflags\t\t: fpu sse2 avx2\n")
    assert not sdc.arm_in_order("")


@pytest.mark.parametrize("in_order", [True, False])
def test_aarch64_sgemm_default_follows_the_cores(monkeypatch, in_order):
    """aarch64 runs both NEON kernels; the default is the one scheduled for its cores, and
    PIONNX_SGEMM names either (the runtime's rule, runtime/src/kernels/simd/sgemm.cc)."""
    monkeypatch.setattr(sdc, "_aarch64", lambda: True)
    monkeypatch.setattr(sdc, "arm_in_order", lambda cpuinfo=None: in_order)
    default = "neon_a53" if in_order else "neon"
    assert sdc.expected_paths() == ["generic", "neon", "neon_a53"]
    assert sdc.expected_isa() == default
    assert sdc.expected_isa(cap="neon") == "neon"
    assert sdc.expected_isa(cap="neon_a53") == "neon_a53"
    assert sdc.expected_isa(cap="generic") == "generic"
    assert sdc.expected_isa(cap="avx512") == default


def expected_family_paths(avx512_flags: set[str]) -> list[str]:
    """The paths of a family with portable, AVX2 + FMA, AVX-512 (needing avx512_flags) and NEON
    kernels that this CPU runs, portable first."""
    if sdc._aarch64():
        return ["generic", "neon"]
    if sdc.is_arm32():
        return ["generic", "neon"] if sdc.hwcap() & sdc.HWCAP_NEON else ["generic"]
    flags = sdc._x86_flags()
    paths = ["generic"]
    if {"avx2", "fma"} <= flags:
        paths.append("avx2")
        if avx512_flags <= flags:
            paths.append("avx512")
    return paths


def expected_fastmath_paths() -> list[str]:
    """The vector-math paths this CPU runs (elementwise_math.cc's rule)."""
    return expected_family_paths({"avx512f", "avx512dq", "avx512bw", "avx512vl"})


def test_fastmath_paths_follow_the_cpu():
    """AVX-512's 16-lane table where the CPU has AVX-512 F, DQ, BW and VL (and AVX2 + FMA), the
    default then unless PIONNX_FASTMATH caps it."""
    assert pionnx.simd_paths()["fastmath"] == expected_fastmath_paths()


_FORCED_RUNNER = r"""
import sys, numpy as np, pionnx
model, feeds, out, family = sys.argv[1:5]
y = pionnx.InferenceSession(model).run(None, dict(np.load(feeds)))
np.savez(out, *y)
print(pionnx.simd_info()[family])
"""


def forced_outputs(family: str, path: str, model, feeds) -> list[np.ndarray]:
    """The model's outputs in a child process with `family`'s kernels forced to `path`
    (PIONNX_<FAMILY>), which the child confirms it ran."""
    out = model.parent / f"{family}-{path}.npz"
    proc = subprocess.run(
        [sys.executable, "-c", _FORCED_RUNNER, str(model), str(feeds), str(out), family],
        env={**os.environ, f"PIONNX_{family.upper()}": path},
        capture_output=True,
        text=True,
        check=True,
    )
    assert proc.stdout.strip() == path
    with np.load(out) as z:
        return [z[k] for k in sorted(z.files, key=lambda k: int(k.split("_")[1]))]


def test_every_fastmath_path_matches_the_portable_one(tmp_path):
    """Each vector-math path this CPU runs (forced with PIONNX_FASTMATH, one process each) gives the
    portable path's Exp, Tanh, Erf, Sigmoid, GELU (erf and tanh forms), Softmax and
    LayerNormalization within float rounding, over rows of lengths that leave every vector tail
    (1-67 values) and values from underflow to overflow, NaN and infinities in their places."""
    from onnx import TensorProto, helper

    rng = np.random.default_rng(17)
    x = (rng.standard_normal((67, 67)) * 4).astype(np.float32)
    x[0, :8] = [np.nan, np.inf, -np.inf, 0.0, -0.0, 1e-30, -90.0, 90.0]
    x[1, :6] = [3e-4, -3e-4, 5e-4, 7.9, -7.95, 4.0]
    ops = [
        ("Exp", {}),
        ("Tanh", {}),
        ("Erf", {}),
        ("Sigmoid", {}),
        ("Gelu", {}),
        ("Gelu", {"approximate": "tanh"}),
        ("Softmax", {"axis": -1}),
    ]
    nodes, outs = [], []
    for i, (op, attrs) in enumerate(ops):
        nodes.append(helper.make_node(op, ["x"], [f"y{i}"], **attrs))
        outs.append(helper.make_tensor_value_info(f"y{i}", TensorProto.FLOAT, None))
    # LayerNormalization on rows of each length 1..67 (the tails of every vector width).
    for n in (1, 3, 7, 8, 15, 16, 17, 31, 33, 64, 67):
        name = f"ln{n}"
        nodes.append(helper.make_node("Slice", ["xf", "zero", f"len{n}", "axis1"], [f"{name}_in"]))
        nodes.append(helper.make_node("LayerNormalization", [f"{name}_in", f"g{n}", f"b{n}"], [name], axis=-1))
        outs.append(helper.make_tensor_value_info(name, TensorProto.FLOAT, None))
    finite = np.nan_to_num(x, nan=0.5, posinf=3.0, neginf=-3.0)
    inits = [
        helper.make_tensor("zero", TensorProto.INT64, [1], [0]),
        helper.make_tensor("axis1", TensorProto.INT64, [1], [1]),
    ]
    for n in (1, 3, 7, 8, 15, 16, 17, 31, 33, 64, 67):
        inits += [
            helper.make_tensor(f"len{n}", TensorProto.INT64, [1], [n]),
            helper.make_tensor(f"g{n}", TensorProto.FLOAT, [n], rng.uniform(0.5, 1.5, n).tolist()),
            helper.make_tensor(f"b{n}", TensorProto.FLOAT, [n], rng.uniform(-1, 1, n).tolist()),
        ]
    graph = helper.make_graph(
        nodes,
        "fastmath",
        [
            helper.make_tensor_value_info("x", TensorProto.FLOAT, [67, 67]),
            helper.make_tensor_value_info("xf", TensorProto.FLOAT, [67, 67]),
        ],
        outs,
        inits,
    )
    model = tmp_path / "fastmath.onnx"
    model.write_bytes(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 20)]).SerializeToString())
    feeds = tmp_path / "feeds.npz"
    np.savez(feeds, x=x, xf=finite)
    results = {path: forced_outputs("fastmath", path, model, feeds) for path in expected_fastmath_paths()}
    ref = results["generic"]
    for path, got in results.items():
        for i, (g, r) in enumerate(zip(got, ref)):
            np.testing.assert_array_equal(np.isnan(g), np.isnan(r), err_msg=f"{path}: output {i} NaN positions")
            np.testing.assert_allclose(g, r, rtol=2e-6, atol=1e-6, err_msg=f"{path}: output {i}")


def test_every_fastmath_path_converts_halves_exactly(tmp_path):
    """Cast float -> float16 and float16 -> float on each vector-math path (F16C, AVX-512, aarch64
    NEON, the portable element-wise form) gives numpy's bits: every one of the 65536 halves widened,
    and floats rounded to nearest even at and around every half's rounding boundary, through the
    subnormal range, at the overflow threshold, infinities and NaN (any NaN for a NaN), over lengths
    that leave every vector tail."""
    from onnx import TensorProto, helper

    rng = np.random.default_rng(41)
    halves = np.arange(65536, dtype=np.uint16)
    # Each half's float image, the midpoints to its neighbours (the ties) and one float ulp either side of them.
    wide = halves.view(np.float16).astype(np.float32)
    finite = np.isfinite(wide)
    mids = ((wide[finite][:-1].astype(np.float64) + wide[finite][1:]) / 2).astype(np.float32)
    near = np.concatenate([mids, np.nextafter(mids, np.inf), np.nextafter(mids, -np.inf)])
    special = np.array([np.nan, -np.nan, np.inf, -np.inf, 65504.0, 65519.99, 65520.0, 1e-8, -3e-8, 6e-8, 0.0, -0.0])
    bits = rng.integers(0, 2**32, 200_000, dtype=np.uint64).astype(np.uint32).view(np.float32)
    x = np.concatenate([wide, near, special.astype(np.float32), bits]).astype(np.float32)
    rng.shuffle(x)
    lengths = [1, 3, 4, 5, 7, 8, 9, 15, 16, 17, 31, 33, len(x)]
    nodes, outs, inputs, feeds = [], [], [], {}
    for n in lengths:
        inputs.append(helper.make_tensor_value_info(f"f{n}", TensorProto.FLOAT, [n]))
        feeds[f"f{n}"] = x[:n]
        nodes.append(helper.make_node("Cast", [f"f{n}"], [f"h{n}"], to=TensorProto.FLOAT16))
        outs.append(helper.make_tensor_value_info(f"h{n}", TensorProto.FLOAT16, None))
    for n in (1, 7, 9, 17, 65536):
        inputs.append(helper.make_tensor_value_info(f"hh{n}", TensorProto.FLOAT16, [n]))
        feeds[f"hh{n}"] = halves.view(np.float16)[-n:] if n < 65536 else halves.view(np.float16)
        nodes.append(helper.make_node("Cast", [f"hh{n}"], [f"w{n}"], to=TensorProto.FLOAT))
        outs.append(helper.make_tensor_value_info(f"w{n}", TensorProto.FLOAT, None))
    m = helper.make_model(helper.make_graph(nodes, "halves", inputs, outs), opset_imports=[helper.make_opsetid("", 17)])
    model = tmp_path / "halves.onnx"
    model.write_bytes(m.SerializeToString())
    np.savez(tmp_path / "feeds.npz", **feeds)
    with np.errstate(over="ignore"):
        want = [feeds[f"f{n}"].astype(np.float16) for n in lengths]
    want += [feeds[f"hh{n}"].astype(np.float32) for n in (1, 7, 9, 17, 65536)]
    for path in expected_fastmath_paths():
        got = forced_outputs("fastmath", path, model, tmp_path / "feeds.npz")
        assert len(got) == len(want)
        for i, (g, w) in enumerate(zip(got, want)):
            assert g.dtype == w.dtype, f"{path}: output {i} is {g.dtype}"
            nan = np.isnan(w)
            np.testing.assert_array_equal(np.isnan(g), nan, err_msg=f"{path}: output {i} NaN positions")
            ui = np.uint16 if w.dtype == np.float16 else np.uint32
            np.testing.assert_array_equal(g[~nan].view(ui), w[~nan].view(ui), err_msg=f"{path}: output {i} bits")


def test_every_fastmath_path_requantizes_exactly(tmp_path):
    """The integer kernels' requantization (fastmath::requantize_block: AVX-512 and AVX2 intrinsics,
    the portable loop) on each forced path equals onnx.reference bit for bit: QLinearConv (depthwise 3x3
    at strides 1 and 2 (27-wide rows: a call per row), dilated, 5x5, and a plain one) with a multiplier of exactly 1/2 (every odd sum
    a tie, rounded to even) and QLinearMatMul with one of 1/512, u8 and s8 outputs, zero points at 0,
    255 and between, saturation at both ends, lengths that leave every vector tail; and a 1x1
    QLinearConv 600 channels deep (sums past 2^23, where the x86 loops leave float for double, and
    past one depth block of the integer GEMM) with biases at and past 2^23 and a multiplier of
    float(0.1) (sums ending in 5 lie just past a tie), also on each forced integer GEMM path (the
    requantization as each product's rows finish) and each forced depthwise path (the row kernels the
    depthwise cases run on, a stride-1 plane in one call)."""
    from onnx import TensorProto, helper, numpy_helper, reference

    rng = np.random.default_rng(43)
    nodes, inits, outs, feeds, inputs = [], [], [], {}, []

    def q(name, value, dtype):
        inits.append(numpy_helper.from_array(np.array(value, dtype), name))
        return name

    cases = [
        ("dw1", (1, 6, 13, 11), (6, 1, 3, 3), {"pads": [1, 1, 1, 1], "group": 6}, np.uint8, 0),
        ("dw2", (1, 5, 15, 17), (5, 1, 3, 3), {"pads": [1, 0, 1, 1], "strides": [2, 2], "group": 5}, np.uint8, 255),
        ("dw2r", (1, 3, 9, 53), (3, 1, 3, 3), {"pads": [1, 1, 1, 1], "strides": [2, 2], "group": 3}, np.int8, 0),
        ("dwd", (1, 4, 12, 12), (4, 1, 3, 3), {"pads": [2, 2, 2, 2], "dilations": [2, 2], "group": 4}, np.int8, 3),
        ("dw5", (2, 3, 9, 10), (3, 1, 5, 5), {"pads": [2, 2, 2, 2], "group": 3}, np.uint8, 131),
        ("plain", (1, 4, 9, 7), (7, 4, 3, 3), {"pads": [1, 1, 1, 1]}, np.int8, -5),
    ]
    for name, xs, ws, attrs, out_t, zy in cases:
        inputs.append(helper.make_tensor_value_info(name, TensorProto.UINT8, list(xs)))
        feeds[name] = rng.integers(0, 256, xs).astype(np.uint8)
        w = rng.integers(-128, 128, ws).astype(np.int8)
        inits.append(numpy_helper.from_array(w, f"{name}_w"))
        ins = [name, q(f"{name}_sx", 1.0, np.float32), q(f"{name}_zx", 127, np.uint8), f"{name}_w"]
        ins += [q(f"{name}_sw", 0.5, np.float32), q(f"{name}_zw", 0, np.int8)]
        ins += [q(f"{name}_sy", 1.0 if name != "plain" else 3.0, np.float32), q(f"{name}_zy", zy, out_t)]
        nodes.append(helper.make_node("QLinearConv", ins, [f"{name}_y"], **attrs))
        outs.append(helper.make_tensor_value_info(f"{name}_y", helper.np_dtype_to_tensor_dtype(np.dtype(out_t)), None))
    for n in (1, 7, 8, 15, 16, 17, 33):
        name = f"mm{n}"
        inputs.append(helper.make_tensor_value_info(name, TensorProto.UINT8, [3, 20]))
        feeds[name] = rng.integers(0, 256, (3, 20)).astype(np.uint8)
        inits.append(numpy_helper.from_array(rng.integers(-128, 128, (20, n)).astype(np.int8), f"{name}_b"))
        ins = [name, q(f"{name}_sa", 1.0, np.float32), q(f"{name}_za", 100, np.uint8), f"{name}_b"]
        ins += [q(f"{name}_sb", 0.5, np.float32), q(f"{name}_zb", 0, np.int8)]
        ins += [q(f"{name}_sy", 256.0, np.float32), q(f"{name}_zy", 128, np.uint8)]  # 1/512: exact, ties at 256
        nodes.append(helper.make_node("QLinearMatMul", ins, [f"{name}_y"]))
        outs.append(helper.make_tensor_value_info(f"{name}_y", TensorProto.UINT8, None))
    # Deep: x multiples of 5, so by float(0.1) every sum lands on or beside a tie; channel 5's sums
    # pass 2^23 (scaled into range by 2^-17), channels 2 and 3 add biases near +-2^23 (by 2^-16), channel 1
    # one past it.
    inputs.append(helper.make_tensor_value_info("deep", TensorProto.UINT8, [1, 600, 8, 16]))
    feeds["deep"] = (rng.integers(0, 52, (1, 600, 8, 16)) * 5).astype(np.uint8)
    wd = rng.integers(-1, 2, (6, 600, 1, 1)).astype(np.int8)
    wd[2:4] *= 127
    wd[5] = 127
    inits.append(numpy_helper.from_array(wd, "deep_w"))
    inits.append(numpy_helper.from_array(np.array([0, 8388608, -8388600, 8200000, 5, 0], np.int32), "deep_b"))
    sw = np.array([0.1, 0.1, 2.0**-16, 2.0**-16, 0.1, 2.0**-17], np.float32)
    ins = ["deep", q("deep_sx", 1.0, np.float32), q("deep_zx", 0, np.uint8), "deep_w"]
    ins += [q("deep_sw", sw, np.float32), q("deep_zw", np.zeros(6), np.int8), q("deep_sy", 1.0, np.float32)]
    ins += [q("deep_zy", 3, np.int8), "deep_b"]
    nodes.append(helper.make_node("QLinearConv", ins, ["deep_y"]))
    outs.append(helper.make_tensor_value_info("deep_y", TensorProto.INT8, None))
    m = helper.make_model(
        helper.make_graph(nodes, "rq", inputs, outs, inits), opset_imports=[helper.make_opsetid("", 18)]
    )
    for w in reference.ReferenceEvaluator(m).run(None, feeds):
        assert w.size < 8 or np.count_nonzero((w > w.min()) & (w < w.max())) > 0, "a case saturates everywhere"
    assert_forced_paths_match_the_reference("fastmath", expected_fastmath_paths(), m, feeds, tmp_path, 0)
    assert_forced_paths_match_the_reference("qgemm", pionnx.simd_paths()["qgemm"], m, feeds, tmp_path, 0)
    assert_forced_paths_match_the_reference("depthwise", expected_depthwise_paths(), m, feeds, tmp_path, 0)


def test_every_fastmath_path_quantize_linear_equals_the_reference(tmp_path):
    """QuantizeLinear to uint8 on each forced vector-math path (the division-free quantize where a
    row's quotients stay within kQuantizeMaxQuotient, the division loop elsewhere) equals
    onnx.reference: ties x / scale = k + 1/2 on both sides of 0, quotients far past the range (both
    ends saturate), a row with a quotient beyond 2^20 (the division loop), NaN (the zero point), zero
    points 0, 128 and 255, a per-axis case, lengths that leave every vector tail."""
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(47)
    nodes, inits, outs, inputs, feeds = [], [], [], [], {}
    scale = np.float32(0.25)
    for i, (n, zp, spread) in enumerate(
        [(1, 0, 1.0), (17, 128, 80.0), (67, 255, 3000.0), (200, 128, 70.0), (33, 7, 3e6)]
    ):
        x = ((rng.integers(-2 * 255, 2 * 255, n) + 0.5) * scale).astype(np.float32)  # every value a tie
        x[::3] = (rng.standard_normal(len(x[::3])) * spread).astype(np.float32)
        if n > 10:
            x[5] = np.nan
        name = f"x{i}"
        feeds[name] = x
        inputs.append(helper.make_tensor_value_info(name, TensorProto.FLOAT, [n]))
        inits += [numpy_helper.from_array(scale, f"s{i}"), numpy_helper.from_array(np.uint8(zp), f"z{i}")]
        nodes.append(helper.make_node("QuantizeLinear", [name, f"s{i}", f"z{i}"], [f"y{i}"]))
        outs.append(helper.make_tensor_value_info(f"y{i}", TensorProto.UINT8, None))
    feeds["xa"] = (rng.standard_normal((3, 4, 37)) * 40).astype(np.float32)
    inputs.append(helper.make_tensor_value_info("xa", TensorProto.FLOAT, [3, 4, 37]))
    inits += [
        numpy_helper.from_array(np.array([0.1, 0.5, 0.25, 0.125], np.float32), "sa"),
        numpy_helper.from_array(np.array([0, 60, 128, 255], np.uint8), "za"),
    ]
    nodes.append(helper.make_node("QuantizeLinear", ["xa", "sa", "za"], ["ya"], axis=1))
    outs.append(helper.make_tensor_value_info("ya", TensorProto.UINT8, None))
    m = helper.make_model(
        helper.make_graph(nodes, "ql", inputs, outs, inits), opset_imports=[helper.make_opsetid("", 19)]
    )

    def nan_to_zero_point(want):
        # A NaN quantizes to the zero point (pionnx's rule; numpy's reference casts NaN to uint8, undefined).
        for i, z in enumerate([0, 128, 255, 128, 7]):
            want[i][np.isnan(feeds[f"x{i}"])] = z
        return want

    assert_forced_paths_match_the_reference(
        "fastmath", expected_fastmath_paths(), m, feeds, tmp_path, 0, nan_to_zero_point
    )


def _tie_tensor(lo: float, hi: float, rng) -> np.ndarray:
    """A tensor whose range is [lo, hi] (both in it) and whose other values are the float32 quotients
    next to every rounding tie: (k + 1/2) * scale and up to 3 ulps either side, for each k the range
    holds, shuffled, with a length that leaves a vector tail."""
    lo32, hi32 = np.float32(lo), np.float32(hi)
    scale = np.float32((hi32 - lo32) / np.float32(255))
    ties = (np.arange(-256, 256, dtype=np.float64) + 0.5) * np.float64(scale)
    ties = ties[(ties > lo32) & (ties < hi32)].astype(np.float32)
    near = [ties]
    for direction in (np.inf, -np.inf):
        step = ties
        for _ in range(3):
            step = np.nextafter(step, np.float32(direction))
            near.append(step)
    x = np.concatenate([*near, [lo32, hi32]]).astype(np.float32)
    x = x[(x >= lo32) & (x <= hi32)]
    rng.shuffle(x)
    return x[: len(x) - (len(x) % 64 == 0)]


def test_every_fastmath_path_quantizes_exactly(tmp_path):
    """DynamicQuantizeLinear on each vector-math path (forced with PIONNX_FASTMATH) equals
    onnx.reference exactly, on quotients x / scale at and next to every rounding tie, for ranges
    whose scale spans 2^-70 (below the vector loops' floor, the scalar loop) to 2^100 and whose zero
    point is 0, 255 or between: the x86 loops form the quotient with FMAs instead of a division,
    and this is where a wrong rounding would show."""
    from onnx import TensorProto, helper, reference

    rng = np.random.default_rng(29)
    ranges = [(-1.0, 1.0), (-3.7, 11.2), (0.0, 255.0), (0.25, 9.0), (-9.0, -0.5), (-1e-3, 7e-4), (-2e20, 3e29)]
    ranges += [(-(2.0**-70) * 100, 2.0**-70 * 155), (-(2.0**-64) * 120, 2.0**-64 * 140)]
    ranges += [(-(2.0**-63) * 127, 2.0**-63 * 128), (-(2.0**100), 2.0**100 * 200)]
    ranges += [(float(-rng.uniform(0, 50)), float(rng.uniform(0, 50))) for _ in range(6)]
    feeds = {f"x{i}": _tie_tensor(lo, hi, rng) for i, (lo, hi) in enumerate(ranges)}
    nodes, outs = [], []
    for i in range(len(ranges)):
        nodes.append(helper.make_node("DynamicQuantizeLinear", [f"x{i}"], [f"y{i}", f"s{i}", f"z{i}"]))
        outs += [
            helper.make_tensor_value_info(f"y{i}", TensorProto.UINT8, None),
            helper.make_tensor_value_info(f"s{i}", TensorProto.FLOAT, None),
            helper.make_tensor_value_info(f"z{i}", TensorProto.UINT8, None),
        ]
    inputs = [helper.make_tensor_value_info(k, TensorProto.FLOAT, [len(v)]) for k, v in feeds.items()]
    m = helper.make_model(helper.make_graph(nodes, "dql", inputs, outs), opset_imports=[helper.make_opsetid("", 20)])
    model = tmp_path / "dql.onnx"
    model.write_bytes(m.SerializeToString())
    np.savez(tmp_path / "feeds.npz", **feeds)
    want = reference.ReferenceEvaluator(m).run(None, feeds)
    assert sum(len(v) for v in feeds.values()) > 20000
    for path in expected_fastmath_paths():
        got = forced_outputs("fastmath", path, model, tmp_path / "feeds.npz")
        for i, (g, w) in enumerate(zip(got, want)):
            np.testing.assert_array_equal(g, w, err_msg=f"{path}: output {i} (range {ranges[i // 3]})")


def expected_depthwise_paths() -> list[str]:
    """The depthwise paths this CPU runs (depthwise.cc's rule)."""
    return expected_family_paths({"avx512f", "avx512vl"})


def test_depthwise_paths_follow_the_cpu():
    """AVX-512's depthwise kernels where the CPU has AVX-512 F and VL (and AVX2 + FMA), the default
    then unless PIONNX_DEPTHWISE caps it."""
    assert pionnx.simd_paths()["depthwise"] == expected_depthwise_paths()


# (channels, height, width, stride, pads, activation): the eight-channel kernel (outputs up to 128
# wide at stride 1, 64 at stride 2; channels past a multiple of 8 on the rows), odd and even widths
# (a half vector of two positions last), and the row kernels (wider maps, fewer than 8 channels:
# 16-output blocks and masked tails).
_DEPTHWISE_CASES = [
    (19, 7, 7, 1, [1, 1, 1, 1], "Clip"),
    (16, 14, 13, 2, [1, 1, 1, 1], "Relu"),
    (24, 30, 31, 1, [1, 1, 1, 1], None),
    (8, 56, 56, 2, [0, 0, 1, 1], "Clip"),
    (11, 9, 5, 1, [2, 0, 1, 2], "Relu"),
    (9, 12, 100, 1, [1, 1, 1, 1], None),
    (5, 9, 75, 2, [1, 1, 1, 1], "Clip"),
    (3, 5, 67, 1, [0, 0, 0, 0], None),
    (10, 5, 140, 1, [1, 1, 1, 1], "Relu"),
    # Horizontal strides past 2 (the AVX-512 eight-channel kernel ran them as 2).
    (8, 13, 13, (3, 3), [1, 1, 1, 1], None),
    (9, 11, 16, (1, 3), [1, 0, 1, 2], "Relu"),
    (16, 12, 20, (2, 4), [1, 1, 1, 1], None),
]


def test_every_depthwise_path_matches_the_reference(tmp_path):
    """Each depthwise path this CPU runs (forced with PIONNX_DEPTHWISE, one process each) against
    onnx.reference: 3x3 depthwise convolutions over the eight-channel kernel's and the row kernels'
    shapes, strides 1 and 2, asymmetric pads, Relu and Clip fused into the convolution."""
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(23)
    nodes, inputs, outputs, inits, feeds = [], [], [], [], {}
    for i, (c, h, w, stride, pads, act) in enumerate(_DEPTHWISE_CASES):
        inputs.append(helper.make_tensor_value_info(f"x{i}", TensorProto.FLOAT, [2, c, h, w]))
        feeds[f"x{i}"] = rng.standard_normal((2, c, h, w)).astype(np.float32)
        inits.append(numpy_helper.from_array(rng.standard_normal((c, 1, 3, 3)).astype(np.float32), f"w{i}"))
        inits.append(numpy_helper.from_array(rng.standard_normal(c).astype(np.float32), f"b{i}"))
        conv_out = f"c{i}" if act else f"y{i}"
        nodes.append(
            helper.make_node(
                "Conv",
                [f"x{i}", f"w{i}", f"b{i}"],
                [conv_out],
                group=c,
                kernel_shape=[3, 3],
                strides=list(stride) if isinstance(stride, tuple) else [stride, stride],
                pads=pads,
            )
        )
        if act == "Relu":
            nodes.append(helper.make_node("Relu", [conv_out], [f"y{i}"]))
        elif act == "Clip":
            nodes.append(helper.make_node("Clip", [conv_out, "lo", "hi"], [f"y{i}"]))
        outputs.append(helper.make_tensor_value_info(f"y{i}", TensorProto.FLOAT, None))
    inits += [numpy_helper.from_array(np.float32(0), "lo"), numpy_helper.from_array(np.float32(1.5), "hi")]
    graph = helper.make_graph(nodes, "depthwise", inputs, outputs, inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    assert_forced_paths_match_the_reference("depthwise", expected_depthwise_paths(), model, feeds, tmp_path, 1e-5)


def assert_forced_paths_match_the_reference(family, paths, model, feeds, tmp_path, tol, fix_want=None):
    """The model's outputs with `family` forced to each of `paths` (one child process each) against
    onnx.reference's (passed through fix_want where pionnx's rule differs from it on purpose): as many,
    same shapes, within tol (0: equal)."""
    from onnx.reference import ReferenceEvaluator

    model_path = tmp_path / f"{family}.onnx"
    model_path.write_bytes(model.SerializeToString())
    feeds_path = tmp_path / "feeds.npz"
    np.savez(feeds_path, **feeds)
    want = ReferenceEvaluator(model).run(None, feeds)
    if fix_want is not None:
        want = fix_want(want)
    for path in paths:
        got = forced_outputs(family, path, model_path, feeds_path)
        assert len(got) == len(want), path
        for i, (g, r) in enumerate(zip(got, want)):
            assert g.shape == r.shape, f"{path}: output {i}"
            np.testing.assert_allclose(g, r, rtol=tol, atol=tol, err_msg=f"{path}: output {i}")


def expected_nchwc_paths() -> list[str]:
    """The NCHWc paths this CPU runs (conv_nchwc.cc's rule): AVX2 + FMA, AVX-512 F; NEON (blocks of 4)."""
    return expected_family_paths({"avx512f"})


def test_nchwc_paths_follow_the_cpu():
    """The blocked-layout kernels (16 channels a block with AVX-512 F, 8 with AVX2 + FMA, 4 with NEON) this
    CPU runs; generic, where no graph is blocked. The default is avx512 where the CPU has it, else generic (the
    AVX2 and NEON paths run when PIONNX_NCHWC names them), checked in test_simd_info_in_process."""
    assert pionnx.simd_paths()["nchwc"] == expected_nchwc_paths()


def test_every_nchwc_path_matches_the_reference(tmp_path):
    """Each NCHWc path this CPU runs (forced with PIONNX_NCHWC, one process each: generic leaves the graph
    NCHW, avx2 blocks by 8, avx512 by 16) against onnx.reference on the layout pass's chain model
    (models.nchwc_chain_model: convolutions, pools, Concat, a residual, activations, graph outputs inside
    the chain)."""
    from models import nchwc_chain_model

    model, feeds = nchwc_chain_model(batch=2)
    assert_forced_paths_match_the_reference("nchwc", expected_nchwc_paths(), model, feeds, tmp_path, 1e-4)


def test_every_nchwc_path_runs_depthwise_chains(tmp_path):
    """The same on a MobileNet-style chain (models.nchwc_depthwise_model): depthwise convolutions blocked
    with the 1x1s around them, on each forced path."""
    from models import nchwc_depthwise_model

    model, feeds = nchwc_depthwise_model(batch=2)
    assert_forced_paths_match_the_reference("nchwc", expected_nchwc_paths(), model, feeds, tmp_path, 1e-4)
