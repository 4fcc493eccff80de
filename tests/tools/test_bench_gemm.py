"""The GEMM table of the benchmark (`python -m ci.bench.run --gemm`, ci/bench/gemm.py) and the machine facts.

Shapes: the size list parses, ResNet-50's GEMMs are derived from its layer list (and agree with the
convolutions of onnx's light_resnet50.onnx), MiniLM's are the expected products. One tiny run in a child
process writes a JSON with a checked row and the kernel paths. No timing is asserted beyond > 0.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from ci.bench import gemm
from ci.bench import run as bench

ROOT = Path(__file__).resolve().parents[2]


# ----------------------------------------------------------------- shapes


def test_gemm_sizes_parse() -> None:
    assert [s.name for s in gemm.parse_shapes("1024")] == ["1024x1024x1024"]
    shapes = gemm.parse_shapes("1024x1024x1024, 64x3136x576,12*128x128x32,12x128x32x128,1024")
    assert [s.name for s in shapes] == ["1024x1024x1024", "64x3136x576", "12*128x128x32", "12*128x32x128"]
    assert (shapes[2].batch, shapes[2].m, shapes[2].n, shapes[2].k) == (12, 128, 128, 32)
    assert shapes[2].flops == 2 * 12 * 128 * 128 * 32
    assert shapes[2].a_shape == (12, 128, 32) and shapes[2].b_shape == (12, 32, 128)
    assert shapes[1].source.startswith("resnet50 ")  # a built-in shape keeps its label
    assert [s.name for s in gemm.parse_shapes("minilm")] == [s.name for s in gemm.minilm_shapes()]
    assert [s.name for s in gemm.parse_shapes("")] == [s.name for s in gemm.all_shapes()]
    assert len(gemm.parse_shapes("all")) == len(gemm.parse_shapes("square,resnet50,minilm"))
    for bad in ("12x", "0", "axb", "2*3x4x5x6", "1x2", "64x-1x3"):
        with pytest.raises(ValueError):
            gemm.parse_shapes(bad)
    with pytest.raises(SystemExit):
        bench.parse_args(["--gemm-sizes", "12x"])
    assert bench.parse_args(["--gemm-sizes", "64"]).gemm  # a size list implies --gemm


def test_resnet50_shapes_come_from_its_layer_list() -> None:
    convs = gemm.resnet50_convs()
    assert len(convs) == 53  # conv1 + 16 blocks x 3 + 4 projections
    assert convs[0].gemm() == (64, 112 * 112, 3 * 7 * 7)
    shapes = gemm.resnet50_shapes()
    names = [s.name for s in shapes]
    assert len(names) == len(set(names)) == len({c.gemm() for c in convs})
    assert sum(len(s.layers) for s in shapes) == 53
    for expected in (
        "64x12544x147",
        "64x3136x576",
        "128x784x1152",
        "256x196x2304",
        "512x49x4608",
        "256x3136x64",
        "64x3136x256",
        "2048x49x512",
        "512x49x2048",
    ):
        assert expected in names
    by_name = {s.name: s for s in shapes}
    assert by_name["64x12544x147"].layers == ("conv1",)
    assert len(by_name["512x49x4608"].layers) == 3  # layer4's three 3x3 convolutions


def test_resnet50_shapes_match_the_bench_model() -> None:
    """The im2col GEMMs of the ResNet-50 `nox -s bench` times (onnx's light_resnet50.onnx) are ours."""
    onnx = pytest.importorskip("onnx")
    from ci.bench import models as bench_models

    path = bench_models.light_dir() / "light_resnet50.onnx"
    if not path.is_file():
        pytest.skip(f"{path} not shipped with this onnx")
    model = onnx.shape_inference.infer_shapes(onnx.load(str(path)))
    g = model.graph
    dims = {v.name: [d.dim_value for d in v.type.tensor_type.shape.dim] for v in [*g.value_info, *g.input, *g.output]}
    found = []
    for node in g.node:
        if node.op_type != "Conv":
            continue
        attrs = {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}
        group = attrs.get("group", 1)
        kh, kw = attrs["kernel_shape"]
        in_c = dims[node.input[0]][1]
        _, out_c, oh, ow = dims[node.output[0]]
        found.append((out_c // group, oh * ow, in_c // group * kh * kw))
    assert len(found) == len(gemm.resnet50_convs())
    assert [c.gemm() for c in gemm.resnet50_convs()] == found


def test_minilm_shapes() -> None:
    names = [s.name for s in gemm.minilm_shapes()]
    assert names == ["128x384x384", "128x1536x384", "128x384x1536", "12*128x128x32", "12*128x32x128"]


# ---------------------------------------------------------------- machine


CPUINFO_X86 = """processor\t: 0
vendor_id\t: GenuineIntel
cpu family\t: 6
model\t\t: 85
model name\t: Intel(R) Xeon(R) Platinum 8259CL CPU @ 2.50GHz
stepping\t: 7
flags\t\t: fpu sse2 avx fma avx2 avx512f avx512cd avx512_vnni

processor\t: 1
model name\t: another
"""

CPUINFO_ARM = """processor\t: 0
BogoMIPS\t: 108.00
Features\t: fp asimd evtstrm crc32 cpuid
CPU implementer\t: 0x41

Hardware\t: BCM2835
Model\t\t: Raspberry Pi 4 Model B Rev 1.4
"""


def test_cpu_facts(tmp_path: Path) -> None:
    for i, (level, kind, size) in enumerate([(1, "Data", "48K"), (1, "Instruction", "32K"), (2, "Unified", "1024K")]):
        d = tmp_path / f"index{i}"
        d.mkdir()
        for name, value in (("level", level), ("type", kind), ("size", size)):
            (d / name).write_text(f"{value}\n")
    x86 = bench.cpu_facts(CPUINFO_X86, str(tmp_path))
    assert x86["model_name"].startswith("Intel(R) Xeon(R) Platinum 8259CL")
    assert (x86["cpu_family"], x86["model"], x86["stepping"]) == (6, 85, 7)
    assert x86["flags"] == {"avx2": True, "fma": True, "avx512f": True, "avx512_vnni": True, "amx_int8": False}
    assert x86["caches"] == [
        {"level": 1, "type": "Data", "size": "48K"},
        {"level": 2, "type": "Unified", "size": "1024K"},
    ]
    arm = bench.cpu_facts(CPUINFO_ARM, str(tmp_path / "none"))
    assert arm == {"model_name": "BCM2835"}  # no x86 fields, no caches: left out, no error
    assert bench.cpu_facts("", str(tmp_path / "none")) == {}
    lines = bench.machine_lines(
        {
            "cpu_model": "X",
            "usable_cores": 2,
            "cpu_count": 2,
            "versions": {"pionnx": "0"},
            "cpu": x86,
            "pionnx_simd": {"sgemm": "avx512", "qgemm": "vnni", "fastmath": "avx2", "arch": "x86_64"},
            "pionnx_env": {"PIONNX_SGEMM": "generic"},
        }
    )
    assert "family 6 model 85 stepping 7" in lines[1] and "L1d 48K, L2 1M" in lines[1]
    assert "sgemm avx512" in lines[2] and "PIONNX_SGEMM=generic" in lines[2]


# ------------------------------------------------------------------- a run


def test_a_tiny_gemm_run_writes_the_json(tmp_path: Path) -> None:
    """`--gemm` alone needs pionnx, onnx and numpy: onnxruntime and tract are made unimportable."""
    out = tmp_path / "gemm.json"
    code = (
        "import sys; sys.modules['onnxruntime'] = sys.modules['tract'] = None; "
        "from ci.bench.run import main; sys.exit(main(sys.argv[1:]))"
    )
    args = ["--gemm", "--gemm-sizes", "64,2*16x24x8", "--runs", "1", "--warmup", "1", "--gemm-sample-ms", "1"]
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    proc = subprocess.run(
        [sys.executable, "-c", code, *args, "--json", str(out)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "pionnx kernels" in proc.stdout and "geomean" in proc.stdout
    result = json.loads(out.read_text())
    machine = result["machine"]
    assert set(machine) >= {"cpu_model", "cpu", "pionnx_simd", "pionnx_env"}
    assert {"sgemm", "qgemm", "fastmath", "arch"} <= set(machine["pionnx_simd"])
    assert "models" not in result
    g = result["gemm"]
    assert g["pionnx_sgemm"] == machine["pionnx_simd"]["sgemm"]
    assert [r["shape"] for r in g["rows"]] == ["64x64x64", "2*16x24x8"]
    for row in g["rows"]:
        assert row["ok"], row["check"]
        assert set(row["check"]) == {"pionnx_input", "pionnx_initializer"}
        assert all(c["rel_diff"] < 1e-4 for c in row["check"].values())
        for col in gemm.COLUMNS:
            assert row["columns"][col]["status"] == "ok", (col, row["columns"][col])
            assert row["columns"][col]["gflops_best"] > 0 and row["columns"][col]["gflops_median"] > 0
        assert row["ratios"]["init/haswell_best"] > 0
    for col in ("openblas_default", "openblas_haswell"):
        info = g["openblas"][col]
        assert info["corename"]  # "unknown" when OpenBLAS does not say
        assert info["env"]["OPENBLAS_NUM_THREADS"] == "1" and info["env"]["OMP_NUM_THREADS"] == "1"
    assert g["openblas"]["openblas_haswell"]["env"]["OPENBLAS_CORETYPE"] == "Haswell"
    assert "OPENBLAS_L2_SIZE" not in g["openblas"]["openblas_haswell"]["env"]
    assert g["summary"]["init/haswell_best"] > 0 and g["all_checks_ok"]
