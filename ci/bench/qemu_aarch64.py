"""pionnx's aarch64 wheel against onnxruntime's own aarch64 wheel, side by side under qemu-aarch64.

There is no ARM hardware here, so this is an indication, not a hardware time: both runtimes run
the same models on the same inputs in one emulated arm64 container (the `-run` image of
`nox -s build_cross`, Debian's python3), 1 thread, alternating run by run, and the ratio of their
medians is what to read. QEMU translates NEON to host SIMD with its own costs per instruction, so
the ratio says which runtime does less emulated work, not which is faster on a Cortex core. Each
output is checked against onnxruntime's (rel 1e-3).

onnxruntime's aarch64 wheel and its dependencies (numpy among them) are fetched from PyPI on the
host (`pip download --platform manylinux_2_28_aarch64`) and installed in the container with no
network; the models are the benchmark's (`ci.bench.models`, cached in build/bench-models).

    python -m ci.bench.qemu_aarch64 build/aarch64/pionnx-...-cp311-...aarch64.whl
        [--models squeezenet,mobilenetv2,resnet50,bert] [--runs 3] [--image bookworm]
        [--env PIONNX_NCHWC=neon]   (a path pionnx takes only when named; both runtimes see it)

Prints a table and writes JSON (default build/qemu-aarch64.json).
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import subprocess
import sys
from pathlib import Path

from ci.bench.run import cpu_facts
from ci.factory import images

ROOT = Path(__file__).resolve().parents[2]
DEFAULT_MODELS = "squeezenet,mobilenetv2,resnet50,bert"

CPUINFO_A72 = "".join(
    f"processor\t: {i}\nBogoMIPS\t: 108.00\nFeatures\t: fp asimd evtstrm crc32 cpuid\nCPU implementer\t: 0x41\n"
    "CPU architecture: 8\nCPU variant\t: 0x0\nCPU part\t: 0xd08\nCPU revision\t: 3\n\n"
    for i in range(2)
)

_INSIDE = r"""
import json, os, statistics, subprocess, sys, time
venv = "/tmp/venv"
if not os.path.exists(venv + "/bin/python"):
    subprocess.run([sys.executable, "-m", "venv", venv], check=True)
    wheels = [os.path.join("/wheels", w) for w in sorted(os.listdir("/wheels")) if w.endswith(".whl")]
    subprocess.run([venv + "/bin/pip", "install", "-q", "--no-index", "--no-deps", *wheels], check=True)
    sys.exit(subprocess.run([venv + "/bin/python", *sys.argv]).returncode)
import numpy as np, onnxruntime as ort, pionnx
runs = int(sys.argv[1])
out = {"pionnx": pionnx.__version__, "onnxruntime": ort.__version__, "simd": pionnx.simd_info(),
       "machine": os.uname().machine, "models": {}}
for name in sys.argv[2].split(","):
    feeds = dict(np.load(f"/models/{name}.npz"))
    path = f"/models/{name}.onnx"
    so = pionnx.SessionOptions(); so.intra_op_num_threads = 1
    p = pionnx.InferenceSession(path, so)
    oo = ort.SessionOptions(); oo.intra_op_num_threads = 1; oo.inter_op_num_threads = 1
    o = ort.InferenceSession(path, oo, providers=["CPUExecutionProvider"])
    fp = [f for f in feeds if f in {i.name for i in p.get_inputs()}]
    feeds = {k: feeds[k] for k in fp}
    a, b = p.run(None, feeds), o.run(None, feeds)  # warm-up, and the check
    rel = max(float(np.max(np.abs(x.astype(np.float64) - y)) / max(1e-30, float(np.max(np.abs(y)))))
              for x, y in zip(a, b))
    t = {"pionnx": [], "onnxruntime": []}
    for _ in range(runs):
        for rt, s in (("pionnx", p), ("onnxruntime", o)):
            t0 = time.perf_counter(); s.run(None, feeds); t[rt].append(time.perf_counter() - t0)
    out["models"][name] = {"seconds": t, "max_rel_diff": rel}
    print(name, {k: round(statistics.median(v), 3) for k, v in t.items()}, "rel", rel, file=sys.stderr, flush=True)
print(json.dumps(out))
"""


def fetch_onnxruntime(dest: Path, python: str) -> list[Path]:
    """onnxruntime's aarch64 wheel for `python` (e.g. '3.11') and its dependencies, from PyPI."""
    dest.mkdir(parents=True, exist_ok=True)
    cmd = [
        sys.executable,
        "-m",
        "pip",
        "download",
        "-q",
        "--only-binary=:all:",
        "--implementation",
        "cp",
        "--python-version",
        python,
        "-d",
        str(dest),
        "onnxruntime",
    ]
    for tag in ("manylinux_2_28_aarch64", "manylinux_2_27_aarch64", "manylinux2014_aarch64"):
        cmd[6:6] = ["--platform", tag]
    subprocess.run(cmd, check=True)
    wheels = sorted(dest.glob("*.whl"))
    if not any(w.name.startswith("onnxruntime-") for w in wheels):
        raise SystemExit(f"no onnxruntime aarch64 wheel for Python {python} was downloaded into {dest}")
    return wheels


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("wheel", type=Path, help="a pionnx aarch64 wheel (nox -s build_cross -- --arch aarch64)")
    p.add_argument("--models", default=DEFAULT_MODELS)
    p.add_argument("--runs", type=int, default=3, help="timed runs per runtime and model (default 3)")
    p.add_argument("--image", default="bookworm", help="Debian generation of the arm64 run image (default bookworm)")
    p.add_argument(
        "--env",
        action="append",
        default=[],
        metavar="VAR=VALUE",
        help="set in the container for both runtimes, e.g. PIONNX_NCHWC=neon to time a path pionnx takes only when"
        " named (repeatable)",
    )
    p.add_argument("--engine", default="docker")
    p.add_argument("--json", default=str(ROOT / "build" / "qemu-aarch64.json"))
    args = p.parse_args(argv)
    for e in args.env:
        if "=" not in e or not e.split("=", 1)[0].startswith("PIONNX_"):
            raise SystemExit(f"--env {e}: expected PIONNX_VARIABLE=value")

    wheel = args.wheel.resolve()
    if "aarch64" not in wheel.name or not wheel.is_file():
        raise SystemExit(f"{wheel}: not an aarch64 pionnx wheel (nox -s build_cross -- --arch aarch64 makes one)")
    tag = images.image_tag(images.DISTROS[args.image], "run", "arm64")
    if not images.image_exists(args.engine, tag):
        raise SystemExit(f"image {tag} is missing: nox -s build_cross -- --arch aarch64 makes it")
    python = "3.11" if args.image == "bookworm" else {"bullseye": "3.9", "trixie": "3.13"}[args.image]

    from ci.bench.models import prepare, random_weights_path  # imports onnx: the host needs it, the container does not

    work = ROOT / "build" / "qemu-aarch64"
    models_dir = work / "models"
    models_dir.mkdir(parents=True, exist_ok=True)
    names = [m for m in args.models.split(",") if m]
    for name in names:
        bm = prepare(name, ROOT / "build" / "bench-models")
        # onnx's light models set every weight to one value; their random-weight twin has outputs worth comparing.
        src = random_weights_path(bm, ROOT / "build" / "bench-models") or bm.path
        (models_dir / f"{name}.onnx").write_bytes(src.read_bytes())
        (models_dir / f"{name}.npz").write_bytes(bm.feeds_path.read_bytes())
    wheels_dir = work / "wheels"
    for old in wheels_dir.glob("pionnx-*.whl"):
        old.unlink()
    fetch_onnxruntime(wheels_dir, python)
    (wheels_dir / wheel.name).write_bytes(wheel.read_bytes())
    (work / "inside.py").write_text(_INSIDE)
    # Under qemu-user /proc/cpuinfo is the host's x86 text, and onnxruntime's cpuinfo library crashes
    # parsing it at import (SIGSEGV in the extension's initializers): the container sees a Cortex-A72's
    # instead, as a Raspberry Pi 4 reports it.
    (work / "cpuinfo").write_text(CPUINFO_A72)
    cmd = [
        *images.run_command(args.engine, "linux/arm64"),
        "-v",
        f"{work}:/work:ro",
        "-v",
        f"{wheels_dir}:/wheels:ro",
        "-v",
        f"{models_dir}:/models:ro",
        "-v",
        f"{work / 'cpuinfo'}:/proc/cpuinfo:ro",
        *[x for e in args.env for x in ("-e", e)],
        tag,
        "python3",
        "/work/inside.py",
        str(args.runs),
        ",".join(names),
    ]
    print(
        f"[qemu-aarch64] {tag}: {', '.join(names)}, {args.runs} runs each, 1 thread (host {platform.machine()})",
        flush=True,
    )
    proc = subprocess.run(cmd, stdout=subprocess.PIPE, text=True, check=False)
    if proc.returncode:
        print(f"[qemu-aarch64] the container failed (exit {proc.returncode})", file=sys.stderr)
        return 1
    inside = json.loads(proc.stdout.strip().splitlines()[-1])
    rows = []
    for name, r in inside["models"].items():
        med = {rt: statistics.median(v) for rt, v in r["seconds"].items()}
        rows.append(
            {
                "model": name,
                "pionnx_s": med["pionnx"],
                "onnxruntime_s": med["onnxruntime"],
                "ratio": med["pionnx"] / med["onnxruntime"],
                "max_rel_diff": r["max_rel_diff"],
                "ok": r["max_rel_diff"] <= 1e-3,
                "runs": r["seconds"],
            }
        )
    geo = statistics.geometric_mean([r["ratio"] for r in rows if r["ok"]]) if any(r["ok"] for r in rows) else None
    report = {
        "note": "both runtimes emulated by qemu-aarch64 on an x86-64 host: an indication, not a hardware time",
        "host_cpu": cpu_facts().get("model_name", platform.machine()),
        "image": tag,
        "env": args.env,
        "inside": {k: v for k, v in inside.items() if k != "models"},
        "rows": rows,
        "geomean_ratio": geo,
    }
    out = Path(args.json)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=1) + "\n")
    print(
        f"under qemu-aarch64 ({tag}; host {report['host_cpu']}); pionnx {inside['pionnx']} "
        f"[sgemm {inside['simd']['sgemm']}, qgemm {inside['simd']['qgemm']}, nchwc {inside['simd']['nchwc']}]"
        f"{' with ' + ' '.join(args.env) if args.env else ''} vs onnxruntime {inside['onnxruntime']}"
    )
    print(f"{'model':14} {'pionnx s':>9} {'onnxrt s':>9} {'p/ort':>6}  check")
    for r in rows:
        print(
            f"{r['model']:14} {r['pionnx_s']:9.3f} {r['onnxruntime_s']:9.3f} {r['ratio']:6.2f}  "
            f"{'ok' if r['ok'] else 'MISMATCH'} (rel {r['max_rel_diff']:.1e})"
        )
    if geo is not None:
        print(f"geomean pionnx/onnxruntime under emulation: {geo:.2f} (an indication, not a hardware time)")
    print(f"written to {out}")
    return 0 if all(r["ok"] for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
