"""What a Raspberry Pi user does with the wheel, run in a clean armv7l container.

A fresh Debian armhf image with python3, pip and Debian's numpy and no
compiler: make a venv (seeing Debian's numpy, as `apt install python3-numpy`
users do), `pip install` the wheel, load a tiny model written as bytes and
check the answer. Prints one JSON line that the host reads.

    python3 -m ci.factory.smoke /dist/pionnx-...whl     (PYTHONPATH: the project root)
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

# The project root (mounted at /project in the container): ci.factory.tiny_model is imported from it.
PROJECT = Path(__file__).resolve().parents[2]


def in_venv(wheel: str) -> int:
    venv = Path(tempfile.mkdtemp(prefix="pi-user-")) / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--system-site-packages", str(venv)], check=True)
    py = str(venv / "bin" / "python")
    t0 = time.monotonic()
    subprocess.run([py, "-m", "pip", "install", "--no-cache-dir", wheel], check=True)
    install_s = time.monotonic() - t0
    env = dict(os.environ, PIONNX_SMOKE_INSTALL_S=f"{install_s:.1f}", PYTHONPATH=str(PROJECT))
    # Run from an empty folder so the wheel, not a source tree, is imported.
    cmd = [py, "-m", "ci.factory.smoke", "--check"]
    return subprocess.run(cmd, cwd=venv.parent, env=env, check=False).returncode


def check() -> int:
    import numpy as np

    import pionnx
    from ci.factory.tiny_model import expected, model_bytes

    model = Path(tempfile.mkdtemp()) / "tiny.onnx"
    model.write_bytes(model_bytes())
    x = np.array([[1.0, -2.0, 0.5], [0.25, 3.0, -1.0]], dtype=np.float32)
    t0 = time.monotonic()
    sess = pionnx.InferenceSession(str(model))
    (y,) = sess.run(None, {"X": x})
    run_s = time.monotonic() - t0
    ok = y.shape == (2, 4) and bool(np.allclose(y, expected(x), atol=1e-5))
    print(
        json.dumps(
            {
                "smoke": "ok" if ok else "wrong answer",
                "machine": platform.machine(),
                "python": platform.python_version(),
                "numpy": np.__version__,
                "pionnx": getattr(pionnx, "__version__", "?"),
                "providers": pionnx.get_available_providers(),
                "install_seconds": float(os.environ.get("PIONNX_SMOKE_INSTALL_S", "0")),
                "run_seconds": round(run_s, 3),
            }
        ),
        flush=True,
    )
    if not ok:
        print(f"got {y!r}\nexpected {expected(x)!r}", file=sys.stderr)
    return 0 if ok else 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("wheel", nargs="?", help="pip install this wheel into a fresh venv and run --check there")
    parser.add_argument("--check", action="store_true", help="run the tiny model with the pionnx this Python imports")
    args = parser.parse_args(argv)
    if args.check:
        return check()
    if not args.wheel:
        parser.error("a WHEEL, or --check")
    return in_venv(args.wheel)


if __name__ == "__main__":
    sys.exit(main())
