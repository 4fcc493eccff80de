"""ResNet-50 under QEMU on an armv7l wheel: the portable SGEMM against the NEON
one, as evidence that the NEON kernels are the ones in use.

Runs the wheel in the clean `-run` image of one Debian generation (numpy and
the wheel only), once per kernel choice (PIONNX_SGEMM=generic, and the
default, which must report "neon"), alternating, and compares their outputs.
Prints a table and writes JSON (default dist/armv7/reports/neon-ratio.json).

    python -m ci.bench.neon_ratio dist/pionnx-...-armv7l.whl [--image bookworm] [--runs 3] [--rounds 2]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

from ci.factory import images as armv7_images

ROOT = Path(__file__).resolve().parents[2]

_INSIDE = r"""
import json, os, sys, time, subprocess
venv = "/tmp/venv"
if not os.path.exists(venv + "/bin/python"):
    subprocess.run([sys.executable, "-m", "venv", "--system-site-packages", venv], check=True)
    subprocess.run([venv + "/bin/pip", "install", "-q", "--no-index", "--no-deps", sys.argv[1]], check=True)
code = '''
import json, sys, time, numpy as np, pionnx
runs = int(sys.argv[2])
so = pionnx.SessionOptions(); so.intra_op_num_threads = 1
sess = pionnx.InferenceSession(sys.argv[1], so)
inp = sess.get_inputs()[0]
x = np.random.default_rng(0).random([d if isinstance(d, int) else 1 for d in inp.shape], dtype=np.float32)
y = sess.run(None, {inp.name: x})[0]  # warm-up
times = []
for _ in range(runs):
    t = time.perf_counter(); sess.run(None, {inp.name: x}); times.append(time.perf_counter() - t)
np.save(sys.argv[3], y)
print(json.dumps({"simd": pionnx.simd_info(), "seconds": times}))
'''
env = dict(os.environ)
mode = sys.argv[4]
env.pop("PIONNX_SGEMM", None)
if mode == "generic":
    env["PIONNX_SGEMM"] = "generic"
out = subprocess.run([venv + "/bin/python", "-c", code, sys.argv[2], sys.argv[3], "/work/out-" + mode + ".npy"],
                     env=env, capture_output=True, text=True)
if out.returncode:
    sys.exit(out.stderr)
print(out.stdout.strip().splitlines()[-1])
"""

_COMPARE = r"""
import numpy as np, json
a = np.load("/work/out-generic.npy").astype(np.float64); b = np.load("/work/out-default.npy").astype(np.float64)
print(json.dumps({"max_abs": float(np.max(np.abs(a - b))), "max_ref": float(np.max(np.abs(a)))}))
"""


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("wheel", type=Path)
    p.add_argument("--image", default="bookworm", help="Debian generation of the run image (default bookworm)")
    p.add_argument(
        "--model",
        default=None,
        help="default: the random-weight ResNet-50 twin `nox -s bench` leaves in build/bench-models "
        "(outputs worth comparing), else onnx's light ResNet-50 (every weight one value)",
    )
    p.add_argument("--runs", type=int, default=3, help="timed runs per process (default 3)")
    p.add_argument("--rounds", type=int, default=2, help="generic/default process pairs, alternating (default 2)")
    p.add_argument("--engine", default="docker")
    p.add_argument("--json", default=str(ROOT / "dist" / "armv7" / "reports" / "neon-ratio.json"))
    args = p.parse_args()

    if args.model is None:
        twin = ROOT / "build" / "bench-models" / "resnet50-random-weights.onnx"
        if twin.is_file():
            args.model = str(twin)
        else:
            import onnx

            args.model = str(Path(onnx.__file__).parent / "backend" / "test" / "data" / "light" / "light_resnet50.onnx")
    model = Path(args.model).resolve()
    wheel = args.wheel.resolve()
    image = armv7_images.image_tag(armv7_images.DISTROS[args.image], "run")
    work = ROOT / "dist" / "armv7" / "neon-ratio"
    work.mkdir(parents=True, exist_ok=True)
    (work / "inside.py").write_text(_INSIDE)
    (work / "compare.py").write_text(_COMPARE)
    name = f"pionnx-neon-ratio-{os.getpid()}"
    # One container for all rounds, so the venv is made once.
    keep = [
        args.engine,
        "run",
        "-d",
        "--platform",
        "linux/arm/v7",
        "--pull=never",
        "--name",
        name,
        "-v",
        f"{work}:/work",
        "-v",
        f"{wheel.parent}:/wheels:ro",
        "-v",
        f"{model.parent}:/model:ro",
        image,
        "sleep",
        "infinity",
    ]
    subprocess.run(keep, check=True, stdout=subprocess.DEVNULL)
    results: dict = {"generic": [], "default": []}
    simd: dict = {}
    try:
        for r in range(args.rounds):
            for mode in ("generic", "default"):
                cmd = [
                    args.engine,
                    "exec",
                    name,
                    "python3",
                    "/work/inside.py",
                    f"/wheels/{wheel.name}",
                    f"/model/{model.name}",
                    str(args.runs),
                    mode,
                ]
                proc = subprocess.run(cmd, capture_output=True, text=True)
                if proc.returncode:
                    print(proc.stdout + proc.stderr, file=sys.stderr)
                    return 1
                row = json.loads(proc.stdout.strip().splitlines()[-1])
                results[mode] += row["seconds"]
                simd[mode] = row["simd"]
                print(
                    f"round {r + 1} {mode:8s} {row['simd']['sgemm']:8s} "
                    + " ".join(f"{s:.1f}" for s in row["seconds"])
                    + " s",
                    flush=True,
                )
        cmp = json.loads(
            subprocess.run(
                [args.engine, "exec", name, "python3", "/work/compare.py"], capture_output=True, text=True, check=True
            ).stdout
        )
    finally:
        subprocess.run([args.engine, "rm", "-f", name], capture_output=True)
    med = {m: statistics.median(v) for m, v in results.items()}
    ratio = med["generic"] / med["default"]
    report = {
        "wheel": wheel.name,
        "image": image,
        "model": model.name,
        "runs": results,
        "median_s": med,
        "ratio_generic_over_default": ratio,
        "simd": simd,
        "outputs": cmp,
    }
    Path(args.json).parent.mkdir(parents=True, exist_ok=True)
    Path(args.json).write_text(json.dumps(report, indent=2) + "\n")
    print(f"\nResNet-50 under QEMU ({args.image}, 1 thread), median of {len(results['generic'])} runs each:")
    print(f"  generic (PIONNX_SGEMM=generic): {med['generic']:.1f} s   [{simd['generic']['sgemm']}]")
    print(
        f"  default                       : {med['default']:.1f} s   [{simd['default']['sgemm']}, "
        f"hwcap_neon={simd['default']['hwcap_neon']}]"
    )
    print(
        f"  ratio generic/default = {ratio:.2f}x; outputs differ by at most {cmp['max_abs']:.2e} "
        f"(largest |output| {cmp['max_ref']:.2e})"
    )
    print(f"written to {args.json}")
    ok = simd["default"]["sgemm"] == "neon" and cmp["max_abs"] <= 1e-4 * max(1.0, cmp["max_ref"])
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
