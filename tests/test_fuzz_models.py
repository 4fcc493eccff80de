"""Mutated model files (flipped bytes, truncations, insertions) never crash the process.

Each batch runs in a subprocess, so a segfault shows up as a failed test with
its return code instead of killing pytest. Sessions that happen to load are
run once on random feeds: kernels must reject bad attributes, not crash.
"""

import os
import subprocess
import sys
import textwrap

import onnx.backend.test
import pytest

DATA = os.path.join(os.path.dirname(onnx.backend.test.__file__), "data")
MODELS = [
    os.path.join(DATA, "light", "light_squeezenet.onnx"),
    os.path.join(DATA, "node", "test_conv_with_strides_padding", "model.onnx"),
    os.path.join(DATA, "node", "test_if", "model.onnx"),
    os.path.join(DATA, "node", "test_lstm_with_peepholes", "model.onnx"),
    os.path.join(DATA, "node", "test_gather_elements_1", "model.onnx"),
]

SCRIPT = textwrap.dedent(
    """
    import random, sys
    import numpy as np
    import pionnx

    seed, count, paths = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3:]
    rng = random.Random(seed)
    blobs = [open(p, "rb").read() for p in paths]
    loaded = refused = 0
    for _ in range(count):
        b = bytearray(rng.choice(blobs))
        for _ in range(rng.randint(1, 8)):
            if not b:
                break
            pos = rng.randrange(len(b))
            kind = rng.randrange(4)
            if kind == 0:
                b[pos] = rng.randrange(256)
            elif kind == 1:
                del b[pos:]
            elif kind == 2:
                b[pos:pos] = bytes(rng.randrange(256) for _ in range(rng.randint(1, 9)))
            else:
                b[pos] |= 0x80
        try:
            sess = pionnx.InferenceSession(bytes(b))
        except Exception:
            refused += 1
            continue
        loaded += 1
        feeds = {}
        for a in sess.get_inputs():
            shape = [d if isinstance(d, int) and 0 <= d < 64 else 2 for d in (a.shape or [])]
            dtype = {"tensor(int64)": np.int64, "tensor(bool)": np.bool_}.get(a.type, np.float32)
            feeds[a.name] = np.ones(shape, dtype=dtype)
        try:
            sess.run(None, feeds)
        except Exception:
            pass
    print(loaded, refused)
    """
)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_mutated_models_raise_instead_of_crashing(seed):
    models = [m for m in MODELS if os.path.exists(m)]
    assert models, "no seed models found in the onnx package"
    out = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(seed), "150", *models], capture_output=True, text=True, timeout=600
    )
    assert out.returncode == 0, f"crashed with return code {out.returncode}:\n{out.stderr[-2000:]}"
    loaded, refused = map(int, out.stdout.split())
    assert loaded + refused == 150
    assert refused > 0  # the mutations do break models: the test is not vacuous
