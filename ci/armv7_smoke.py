"""What a Raspberry Pi user does with the wheel, run in a clean armv7l container.

A fresh Debian armhf image with python3, pip and Debian's numpy and no
compiler: make a venv (seeing Debian's numpy, as `apt install python3-numpy`
users do), `pip install` the wheel, load a tiny model written as bytes and
check the answer. Prints one JSON line that the host reads.

    python3 armv7_smoke.py /dist/pionnx-...whl
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def in_venv(wheel: str) -> int:
    venv = Path(tempfile.mkdtemp(prefix="pi-user-")) / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--system-site-packages", str(venv)], check=True)
    py = str(venv / "bin" / "python")
    t0 = time.monotonic()
    subprocess.run([py, "-m", "pip", "install", "--no-cache-dir", wheel], check=True)
    install_s = time.monotonic() - t0
    env = dict(os.environ, PIONNX_SMOKE_INSTALL_S=f"{install_s:.1f}")
    # Run from an empty folder so the wheel, not a source tree, is imported.
    return subprocess.run([py, str(Path(__file__)), "--check"], cwd=venv.parent, env=env, check=False).returncode


def check() -> int:
    sys.path.insert(0, str(HERE))
    import numpy as np
    from armv7_tiny_model import expected, model_bytes

    import pionnx

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


if __name__ == "__main__":
    if sys.argv[1:] == ["--check"]:
        sys.exit(check())
    sys.exit(in_venv(sys.argv[1]))
