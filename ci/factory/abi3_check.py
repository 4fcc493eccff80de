"""The stable-ABI (cp312-abi3) build on the host: build it, audit it, run it on every Python >= 3.12 found.

The armv7l abi3 wheel is made in the trixie image by `nox -s build_armv7`
(Debian's Python 3.13 there). This check shows the stable-ABI build itself,
with no emulation, in a few minutes:

1. find CPython interpreters >= 3.12 (PATH, then pyenv's versions folder);
2. build the wheel with the oldest of them (`python -m build`; pyproject's
   `wheel.py-api = "cp312"` makes it `cp312-abi3`);
3. `abi3audit --strict`: no symbol outside the 3.12 limited API;
4. in a fresh venv per interpreter: install the wheel and numpy, run the tiny
   model (ci/factory/tiny_model.py) and compare with numpy.

    python -m ci.factory.abi3_check [--outdir build/abi3]     (nox -s build_abi3)

Exits non-zero, naming the step, when any of these fails, and when no
interpreter >= 3.12 is found (nothing checked is not a pass).
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
# Run in each interpreter's venv with the project root on PYTHONPATH (for ci.factory.tiny_model).
CHECK = """
import sys
import numpy as np
import pionnx
from ci.factory.tiny_model import expected, model_bytes
x = np.array([[1.0, -2.0, 0.5], [0.25, 3.0, -1.0]], dtype=np.float32)
(y,) = pionnx.InferenceSession(model_bytes()).run(None, {"X": x})
np.testing.assert_allclose(y, expected(x), rtol=1e-6, atol=1e-6)
print(sys.version.split()[0], pionnx._core.__file__.rsplit("/", 1)[-1])
"""


def say(msg: str) -> None:
    print(f"[abi3] {msg}", flush=True)


def version_of(python: str) -> tuple[int, int] | None:
    try:
        out = subprocess.run(
            [python, "-c", "import sys; print(sys.implementation.name, *sys.version_info[:2])"],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
    except OSError:
        return None
    fields = out.stdout.split()
    if out.returncode != 0 or len(fields) != 3 or fields[0] != "cpython":
        return None
    return int(fields[1]), int(fields[2])


def find_interpreters() -> dict[tuple[int, int], str]:
    """One CPython >= 3.12 per minor version: PATH first, then ~/.pyenv/versions."""
    found: dict[tuple[int, int], str] = {}
    candidates = [shutil.which(f"python3.{minor}") for minor in range(12, 20)]
    pyenv_root = os.environ.get("PYENV_ROOT") or str(Path.home() / ".pyenv")
    candidates += sorted(glob.glob(f"{pyenv_root}/versions/3.1[2-9]*/bin/python3"))
    for python in filter(None, candidates):
        version = version_of(python)
        if version and version >= (3, 12) and version not in found:
            found[version] = python
    return dict(sorted(found.items()))


def run(cmd: list[str], **kwargs) -> None:
    say("$ " + " ".join(cmd))
    subprocess.run(cmd, check=True, **kwargs)


def venv_with(python: str, where: Path, *packages: str) -> str:
    run([python, "-m", "venv", str(where)])
    py = str(where / "bin" / "python")
    run([py, "-m", "pip", "install", "--quiet", *packages])
    return py


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--outdir", default=str(ROOT / "build" / "abi3"))
    args = parser.parse_args(argv)
    outdir = Path(args.outdir).resolve()
    interpreters = find_interpreters()
    if not interpreters:
        say(
            "no CPython >= 3.12 found (PATH python3.12..3.19, ~/.pyenv/versions): the stable-ABI build "
            "was NOT checked. Install one (e.g. `pyenv install 3.12`) and re-run."
        )
        return 2
    say("interpreters: " + ", ".join(f"{a}.{b} {p}" for (a, b), p in interpreters.items()))
    if outdir.exists():
        shutil.rmtree(outdir)
    outdir.mkdir(parents=True)
    report: dict = {"interpreters": {f"{a}.{b}": p for (a, b), p in interpreters.items()}}
    with tempfile.TemporaryDirectory(prefix="pionnx-abi3-") as tmp_str:
        tmp = Path(tmp_str)
        builder_version, builder = next(iter(interpreters.items()))
        py = venv_with(builder, tmp / "build-venv", "build", "abi3audit")
        run(
            [
                py,
                "-m",
                "build",
                "--wheel",
                "--outdir",
                str(outdir),
                f"-Cbuild-dir={ROOT / 'build' / 'abi3-tree'}",
                str(ROOT),
            ]
        )
        wheels = sorted(outdir.glob("*-abi3-*.whl"))
        if len(wheels) != 1:
            say(f"expected one *-abi3-*.whl in {outdir}, found {[w.name for w in outdir.glob('*.whl')]}")
            return 1
        wheel = wheels[0]
        report["wheel"] = wheel.name
        report["built_with"] = "{}.{}".format(*builder_version)
        audit = subprocess.run(
            [py, "-m", "abi3audit", "--strict", "--report", str(wheel)], capture_output=True, text=True, check=False
        )
        (outdir / f"{wheel.name}.abi3audit.json").write_text(audit.stdout + audit.stderr)
        say(f"abi3audit --strict: exit {audit.returncode}; report {outdir / (wheel.name + '.abi3audit.json')}")
        report["abi3audit"] = "clean" if audit.returncode == 0 else "violations"
        report["runs"] = {}
        for (a, b), python in interpreters.items():
            py = venv_with(python, tmp / f"run-{a}.{b}", "numpy", str(wheel))
            out = subprocess.run(
                [py, "-c", CHECK],
                capture_output=True,
                text=True,
                cwd=tmp,
                env=dict(os.environ, PYTHONPATH=str(ROOT)),
                check=False,
            )
            ok = out.returncode == 0
            report["runs"][f"{a}.{b}"] = out.stdout.strip() if ok else "FAILED: " + out.stderr.strip()[-300:]
            say(f"Python {a}.{b}: {'tiny model ok: ' + out.stdout.strip() if ok else report['runs'][f'{a}.{b}']}")
    (outdir / "abi3-report.json").write_text(json.dumps(report, indent=2) + "\n")
    bad = report["abi3audit"] != "clean" or any(v.startswith("FAILED") for v in report["runs"].values())
    say(
        f"{wheel.name}: {wheel.stat().st_size / 2**20:.2f} MiB, abi3audit {report['abi3audit']}, "
        f"ran on {', '.join(report['runs'])}: {'FAILED' if bad else 'ok'}"
    )
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
