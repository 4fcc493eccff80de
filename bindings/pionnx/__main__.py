"""python -m pionnx MODEL.onnx: show a model's inputs/outputs and run it once on random data."""

from __future__ import annotations

import argparse
import sys
import time

import numpy as np

import pionnx

_NP = {
    "float": np.float32,
    "double": np.float64,
    "float16": np.float16,
    "int8": np.int8,
    "int16": np.int16,
    "int32": np.int32,
    "int64": np.int64,
    "uint8": np.uint8,
    "uint16": np.uint16,
    "uint32": np.uint32,
    "uint64": np.uint64,
    "bool": np.bool_,
}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="pionnx", description=__doc__)
    p.add_argument("model", nargs="?", help="path to an .onnx file")
    p.add_argument("--version", action="store_true", help="print the version and exit")
    p.add_argument("--threads", type=int, default=0, help="intra-op threads (0: physical cores)")
    p.add_argument("--runs", type=int, default=1, help="timed runs after one warm-up")
    p.add_argument("--dim", type=int, default=1, help="value for symbolic dimensions")
    a = p.parse_args(argv)
    if a.version or not a.model:
        print(f"pionnx {pionnx.__version__}")
        return 0
    opts = pionnx.SessionOptions()
    opts.intra_op_num_threads = a.threads
    t0 = time.perf_counter()
    sess = pionnx.InferenceSession(a.model, opts)
    print(f"loaded {a.model} in {(time.perf_counter() - t0) * 1e3:.1f} ms")
    feeds = {}
    rng = np.random.default_rng(0)
    for arg in sess.get_inputs():
        shape = [d if isinstance(d, int) else a.dim for d in (arg.shape or [])]
        elem = arg.type[len("tensor(") : -1]
        if elem not in _NP:
            print(f"input {arg.name}: {arg.type} cannot be generated", file=sys.stderr)
            return 2
        feeds[arg.name] = rng.standard_normal(shape).astype(_NP[elem])
        print(f"input  {arg.name}: {arg.type} {arg.shape}")
    sess.run(None, feeds)
    t0 = time.perf_counter()
    for _ in range(a.runs):
        outs = sess.run(None, feeds)
    ms = (time.perf_counter() - t0) * 1e3 / max(1, a.runs)
    for arg, o in zip(sess.get_outputs(), outs):
        print(f"output {arg.name}: {arg.type} {getattr(o, 'shape', None)}")
    print(f"{ms:.2f} ms per run")
    return 0


if __name__ == "__main__":
    sys.exit(main())
