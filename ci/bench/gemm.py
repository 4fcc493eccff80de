"""Single-precision GEMM at 1 thread: pionnx against numpy's OpenBLAS (`python -m ci.bench.run --gemm`).

    python -m ci.bench.run --gemm                                 # every shape below
    python -m ci.bench.run --gemm --gemm-sizes 1024,minilm --runs 5
    python -m ci.bench.run --gemm --gemm-sizes 64x3136x576,12*128x128x32

Shapes are M x N x K (C[M,N] = A[M,K] @ B[K,N]), `B*MxNxK` (or `BxMxNxK`) for B
independent products (batched MatMul): the squares 256..2048, every distinct
im2col GEMM of ResNet-50's convolutions (M = output channels, N = output
H*W, K = in_channels/groups*kh*kw, batch 1, 224x224; `resnet50_convs`) and
MiniLM's products (all-MiniLM-L6-v2, sequence 128, batch 1; `minilm_shapes`).

Four columns per shape, measured back to back in a fresh random order each
round (seed 0), so one row's ratios come from the same minutes of a shared
machine:

* pionnx, a one-node MatMul model, B a graph input (no prepacked weights);
* pionnx, the same with B an initializer (how models run);
* numpy's OpenBLAS as it configures itself for this CPU;
* numpy's OpenBLAS with OPENBLAS_CORETYPE=Haswell (its AVX2 kernels, even on
  an AVX-512 CPU; OPENBLAS_L2_SIZE removed from that process's environment).

pionnx runs in this process (one session per variant, intra_op_num_threads
1); each OpenBLAS column is a worker process started once, with
OPENBLAS_NUM_THREADS=1 and OMP_NUM_THREADS=1 set before numpy loads, that
times `np.matmul(A, B, out=C)` when asked over a pipe (its start-up is never
timed). A timed run repeats the product until it lasts --gemm-sample-ms and
counts the mean per product; best and median of --runs timed runs after
--warmup. pionnx's time includes its `run()` call (feeds, output allocation),
OpenBLAS's the bare product into a preallocated C. GFLOPS = 2*B*M*N*K / time.
Each pionnx product is checked once against a float64 numpy product (relative
error = max|diff| / max|reference| < 1e-4); a failed check leaves the row out of
the geometric means and makes the exit status 1.

numpy is imported at module level (the workers import this module after their
environment is set); onnx and pionnx only where used.
"""

from __future__ import annotations

import ctypes
import glob
import json
import math
import os
import statistics
import subprocess
import sys
import tempfile
import time
import zlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
WORKER_MARK = "GEMM-WORKER "
REL_TOLERANCE = 1e-4
COLUMNS = ["pionnx_input", "pionnx_initializer", "openblas_default", "openblas_haswell"]
HEAD = {
    "pionnx_input": "pionnx B in",
    "pionnx_initializer": "pionnx B init",
    "openblas_default": "OB default",
    "openblas_haswell": "OB Haswell",
}


# --------------------------------------------------------------------- shapes


@dataclass(frozen=True)
class Shape:
    """C[M,N] = A[M,K] @ B[K,N], `batch` times (batched MatMul)."""

    m: int
    n: int
    k: int
    batch: int = 1
    source: str = ""
    layers: tuple[str, ...] = field(default=(), compare=False)

    @property
    def name(self) -> str:
        return (f"{self.batch}*" if self.batch > 1 else "") + f"{self.m}x{self.n}x{self.k}"

    @property
    def flops(self) -> int:
        return 2 * self.batch * self.m * self.n * self.k

    @property
    def a_shape(self) -> tuple[int, ...]:
        return ((self.batch,) if self.batch > 1 else ()) + (self.m, self.k)

    @property
    def b_shape(self) -> tuple[int, ...]:
        return ((self.batch,) if self.batch > 1 else ()) + (self.k, self.n)


@dataclass(frozen=True)
class Conv:
    name: str
    in_c: int
    out_c: int
    kernel: int
    stride: int
    pad: int
    in_hw: int
    groups: int = 1

    @property
    def out_hw(self) -> int:
        return (self.in_hw + 2 * self.pad - self.kernel) // self.stride + 1

    def gemm(self) -> tuple[int, int, int]:
        """(M, N, K) of the convolution as an im2col GEMM at batch 1 (per group)."""
        return self.out_c // self.groups, self.out_hw**2, self.in_c // self.groups * self.kernel**2


# ResNet-50 (He et al. 2015, table 1): per stage (bottleneck blocks, middle width, output width, stride).
# The stride sits on the 3x3 convolution of a stage's first block and on its 1x1 projection, as in the
# Caffe2 ResNet-50 of the ONNX model zoo (onnx's light_resnet50.onnx, the `resnet50` that `nox -s bench`
# times) and torchvision; the original Caffe model strides the first 1x1 instead.
RESNET50_STAGES = [(3, 64, 256, 1), (4, 128, 512, 2), (6, 256, 1024, 2), (3, 512, 2048, 2)]


def resnet50_convs(image: int = 224) -> list[Conv]:
    """Every convolution of ResNet-50 v1 at `image`x`image`, in graph order, torchvision's names."""
    convs = [Conv("conv1", 3, 64, 7, 2, 3, image)]
    hw = (convs[0].out_hw + 2 - 3) // 2 + 1  # max pool 3x3, stride 2, pad 1
    in_c = 64
    for stage, (blocks, mid, out, stride) in enumerate(RESNET50_STAGES, 1):
        for b in range(blocks):
            s = stride if b == 0 else 1
            p = f"layer{stage}.{b}"
            a = Conv(f"{p}.conv1", in_c, mid, 1, 1, 0, hw)
            c3 = Conv(f"{p}.conv2", mid, mid, 3, s, 1, hw)
            c = Conv(f"{p}.conv3", mid, out, 1, 1, 0, c3.out_hw)
            convs += [a, c3, c]
            if b == 0:
                convs.append(Conv(f"{p}.downsample", in_c, out, 1, s, 0, hw))
            in_c, hw = out, c3.out_hw
    return convs


def resnet50_shapes() -> list[Shape]:
    """The distinct im2col GEMMs of ResNet-50's convolutions, in order of first appearance."""
    layers: dict[tuple[int, int, int], list[str]] = {}
    for conv in resnet50_convs():
        layers.setdefault(conv.gemm(), []).append(conv.name)
    out = []
    for (m, n, k), names in layers.items():
        label = f"resnet50 {names[0]}" + (f" +{len(names) - 1}" if len(names) > 1 else "")
        out.append(Shape(m, n, k, source=label, layers=tuple(names)))
    return out


# all-MiniLM-L6-v2 (a 6-layer BERT): hidden 384, intermediate 1536, 12 heads; sequence 128, batch 1.
MINILM = {"hidden": 384, "intermediate": 1536, "heads": 12, "sequence": 128}


def minilm_shapes() -> list[Shape]:
    h, f, heads, s = MINILM["hidden"], MINILM["intermediate"], MINILM["heads"], MINILM["sequence"]
    d = h // heads
    return [
        Shape(s, h, h, source="minilm Q/K/V/out proj."),
        Shape(s, f, h, source="minilm FFN up"),
        Shape(s, h, f, source="minilm FFN down"),
        Shape(s, s, d, heads, source="minilm Q·Kᵀ per head"),
        Shape(s, d, s, heads, source="minilm scores·V per head"),
    ]


SQUARES = [256, 512, 1024, 2048]


def square_shapes() -> list[Shape]:
    return [Shape(n, n, n, source="square") for n in SQUARES]


GROUPS = {"square": square_shapes, "resnet50": resnet50_shapes, "minilm": minilm_shapes}


def all_shapes() -> list[Shape]:
    return [s for make in GROUPS.values() for s in make()]


def parse_shapes(text: str) -> list[Shape]:
    """`--gemm-sizes`: comma-separated N (NxNxN), MxNxK, B*MxNxK or BxMxNxK, or a group name
    (square, resnet50, minilm, all). Empty: all. A shape of the built-in lists keeps its label."""
    known = {s.name: s for s in all_shapes()}
    out: list[Shape] = []
    for token in (t.strip() for t in text.split(",")):
        if not token:
            continue
        if token == "all":
            out += all_shapes()
            continue
        if token in GROUPS:
            out += GROUPS[token]()
            continue
        batch, _, dims = token.rpartition("*")
        parts = dims.lower().split("x")
        try:
            nums = [int(p) for p in parts] + ([int(batch)] if batch else [])
        except ValueError:
            raise ValueError(f"bad GEMM size {token!r}: want N, MxNxK, B*MxNxK or a group") from None
        if len(parts) == 1:
            shape = Shape(nums[0], nums[0], nums[0], batch=int(batch) if batch else 1)
        elif len(parts) == 3:
            shape = Shape(*nums[:3], batch=int(batch) if batch else 1)
        elif len(parts) == 4 and not batch:
            shape = Shape(nums[1], nums[2], nums[3], batch=nums[0])
        else:
            raise ValueError(f"bad GEMM size {token!r}: want N, MxNxK, B*MxNxK or a group")
        if min(nums) < 1:
            raise ValueError(f"bad GEMM size {token!r}: dimensions must be >= 1")
        out.append(known.get(shape.name, shape))
    seen: set[str] = set()
    unique = [s for s in out if not (s.name in seen or seen.add(s.name))]
    return unique or all_shapes()


# ------------------------------------------------------------------- OpenBLAS


def _blas_library_paths() -> list[str]:
    """numpy's BLAS shared library: what this process has mapped (Linux), else numpy's bundled copies."""
    paths: list[str] = []
    try:
        for line in Path("/proc/self/maps").read_text().splitlines():
            path = line.split()[-1] if len(line.split()) >= 6 else ""
            if "openblas" in os.path.basename(path).lower() and path not in paths:
                paths.append(path)
    except OSError:
        pass
    site = Path(np.__file__).resolve().parent
    for pattern in ("../numpy.libs/*openblas*", ".dylibs/*openblas*", "../scipy_openblas*/lib/*openblas*"):
        paths += [p for p in sorted(glob.glob(str(site / pattern))) if p not in paths]
    return paths


def _blas_call(lib, base: str, restype):
    """Calls the first of base's spellings (reference, scipy-openblas 32/64-bit) that the library exports."""
    for name in (base, f"{base}64_", f"{base}_64", f"scipy_{base}", f"scipy_{base}64_", f"scipy_{base}_64"):
        fn = getattr(lib, name, None)
        if fn is not None:
            fn.restype = restype
            return name, fn()
    return None, None


def openblas_library():
    for path in _blas_library_paths():
        try:
            return path, ctypes.CDLL(path)
        except OSError:
            continue
    return None, None


def numpy_blas_config() -> dict:
    """numpy's own account of its BLAS (numpy >= 1.26: show_config(mode='dicts'))."""
    try:
        cfg = np.show_config(mode="dicts")
        return {
            "blas": cfg.get("Build Dependencies", {}).get("blas"),
            "simd": cfg.get("SIMD Extensions"),
        }
    except TypeError:  # older numpy
        conf = np.__config__
        return {k: v for k, v in vars(conf).items() if k.endswith("_info") and isinstance(v, dict)}


def openblas_info() -> dict:
    """The core type and configuration the loaded OpenBLAS reports, its thread count, numpy's config."""
    path, lib = openblas_library()
    out: dict = {
        "numpy": np.__version__,
        "numpy_config": numpy_blas_config(),
        "library": path,
        "env": {k: v for k, v in os.environ.items() if k.startswith("OPENBLAS_") or k == "OMP_NUM_THREADS"},
    }
    corename = config = threads = None
    if lib is not None:
        _, raw = _blas_call(lib, "openblas_get_corename", ctypes.c_char_p)
        corename = raw.decode() if raw else None
        _, raw = _blas_call(lib, "openblas_get_config", ctypes.c_char_p)
        config = raw.decode() if raw else None
        _, threads = _blas_call(lib, "openblas_get_num_threads", ctypes.c_int)
    out.update({"corename": corename or "unknown", "config": config, "num_threads": threads})
    return out


def limit_blas_threads(n: int = 1) -> bool:
    """Sets this process's OpenBLAS thread count (for the float64 reference products: no pool spinning
    on the shared cores while pionnx is timed). False when no OpenBLAS is found."""
    _, lib = openblas_library()
    if lib is None:
        return False
    for base in ("openblas_set_num_threads",):
        for name in (base, f"{base}64_", f"{base}_64", f"scipy_{base}", f"scipy_{base}64_", f"scipy_{base}_64"):
            fn = getattr(lib, name, None)
            if fn is not None:
                fn.argtypes = [ctypes.c_int]
                fn(n)
                return True
    return False


# ----------------------------------------------------------------- timing core


def warm_and_calibrate(call, warmup: int, sample_s: float, cap: int = 100000) -> int:
    """Runs `call` `warmup` times; from the last one's duration, the repetitions that fill `sample_s`."""
    took = 0.0
    for _ in range(max(1, warmup)):
        t0 = time.perf_counter()
        call()
        took = time.perf_counter() - t0
    return max(1, min(cap, math.ceil(sample_s / took))) if took > 0 else cap


def sample(call, reps: int) -> float:
    """Mean seconds per call over `reps` back-to-back calls."""
    t0 = time.perf_counter()
    for _ in range(reps):
        call()
    return (time.perf_counter() - t0) / reps


def worker_main() -> int:
    """An OpenBLAS column: JSON requests on stdin, one WORKER_MARK line per answer on stdout."""
    proto = os.fdopen(os.dup(1), "w", buffering=1)
    sys.stdout = sys.stderr  # nothing else may write on the protocol stream
    state: dict = {}
    for line in sys.stdin:
        req = json.loads(line)
        cmd = req.get("cmd")
        try:
            if cmd == "quit":
                break
            if cmd == "info":
                resp = openblas_info()
            elif cmd == "load":
                a, b = np.load(req["a"]), np.load(req["b"])
                c = np.empty(a.shape[:-1] + b.shape[-1:], np.float32)
                state["call"] = lambda a=a, b=b, c=c: np.matmul(a, b, out=c)
                state["reps"] = warm_and_calibrate(state["call"], req["warmup"], req["sample_s"])
                resp = {"reps": state["reps"]}
            elif cmd == "time":
                resp = {"seconds": sample(state["call"], state["reps"])}
            else:
                resp = {"error": f"unknown command {cmd!r}"}
        except Exception as exc:  # noqa: BLE001 - answered, the parent decides
            resp = {"error": f"{type(exc).__name__}: {exc}"}
        proto.write(WORKER_MARK + json.dumps(resp) + "\n")
    return 0


class BlasWorker:
    """One OpenBLAS column: a `python -m ci.bench.run --gemm-worker` process kept across shapes."""

    def __init__(self, env: dict[str, str]) -> None:
        self.env = env
        self.error: str | None = None
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "ci.bench.run", "--gemm-worker"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            env=env,
            cwd=str(ROOT),
        )

    def ask(self, **req) -> dict:
        if self.error:
            raise RuntimeError(self.error)
        try:
            self.proc.stdin.write(json.dumps(req) + "\n")
            self.proc.stdin.flush()
            while True:
                line = self.proc.stdout.readline()
                if not line:
                    rc = self.proc.wait(timeout=30)
                    how = f"killed by signal {-rc}" if rc < 0 else f"exit code {rc}"
                    self.error = f"worker died ({how})"
                    raise RuntimeError(self.error)
                if line.startswith(WORKER_MARK):
                    resp = json.loads(line[len(WORKER_MARK) :])
                    if "error" in resp:
                        raise RuntimeError(resp["error"])
                    return resp
        except (BrokenPipeError, OSError) as exc:
            self.error = f"worker gone: {exc}"
            raise RuntimeError(self.error) from exc

    def close(self) -> None:
        try:
            if self.proc.poll() is None:
                self.proc.stdin.write(json.dumps({"cmd": "quit"}) + "\n")
                self.proc.stdin.flush()
            self.proc.wait(timeout=30)
        except (OSError, subprocess.TimeoutExpired):
            self.proc.kill()
            self.proc.wait()


def worker_envs() -> dict[str, dict[str, str]]:
    """The two OpenBLAS columns' environments: one thread; default core detection, or Haswell."""
    base = dict(os.environ, OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1", PYTHONPATH=str(ROOT))
    default = {k: v for k, v in base.items() if k != "OPENBLAS_CORETYPE"}
    haswell = {k: v for k, v in base.items() if k != "OPENBLAS_L2_SIZE"}
    haswell["OPENBLAS_CORETYPE"] = "Haswell"
    return {"openblas_default": default, "openblas_haswell": haswell}


# ------------------------------------------------------------------- pionnx


def matmul_model(shape: Shape, b_value: np.ndarray | None) -> bytes:
    """One MatMul node: A @ B, with B a graph input (b_value None) or an initializer holding b_value."""
    from onnx import TensorProto, helper, numpy_helper

    a = helper.make_tensor_value_info("A", TensorProto.FLOAT, list(shape.a_shape))
    b = helper.make_tensor_value_info("B", TensorProto.FLOAT, list(shape.b_shape))
    y_shape = list(shape.a_shape[:-1]) + [shape.n]
    y = helper.make_tensor_value_info("Y", TensorProto.FLOAT, y_shape)
    inits = [] if b_value is None else [numpy_helper.from_array(b_value, "B")]
    graph = helper.make_graph(
        [helper.make_node("MatMul", ["A", "B"], ["Y"])],
        f"gemm_{shape.name}",
        [a] + ([b] if b_value is None else []),
        [y],
        initializer=inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], producer_name="pionnx-bench")
    model.ir_version = 8
    return model.SerializeToString()


def pionnx_call(pionnx, shape: Shape, a: np.ndarray, b: np.ndarray, b_initializer: bool):
    opts = pionnx.SessionOptions()
    opts.intra_op_num_threads = 1
    sess = pionnx.InferenceSession(
        matmul_model(shape, b if b_initializer else None), opts, providers=["CPUExecutionProvider"]
    )
    feeds = {"A": a} if b_initializer else {"A": a, "B": b}
    return lambda: sess.run(None, feeds)[0]


def check(reference: np.ndarray, got: np.ndarray) -> dict:
    if got.shape != reference.shape:
        return {"ok": False, "why": f"shape {got.shape}, expected {reference.shape}"}
    diff = float(np.max(np.abs(got.astype(np.float64) - reference)))
    scale = float(np.max(np.abs(reference)))
    rel = diff / scale if scale > 0 else (0.0 if diff == 0 else math.inf)
    return {"ok": bool(rel < REL_TOLERANCE), "max_abs_diff": diff, "rel_diff": rel, "tolerance": REL_TOLERANCE}


# ---------------------------------------------------------------------- run


def geomean(values: list[float]) -> float | None:
    return math.exp(sum(map(math.log, values)) / len(values)) if values else None


def measure_shape(shape: Shape, pionnx, workers: dict, args, rng, tmp: Path) -> dict:
    data = np.random.default_rng(zlib.crc32(shape.name.encode()))
    a = data.standard_normal(shape.a_shape, dtype=np.float32)
    b = data.standard_normal(shape.b_shape, dtype=np.float32)
    row: dict = {
        "shape": shape.name,
        "m": shape.m,
        "n": shape.n,
        "k": shape.k,
        "batch": shape.batch,
        "source": shape.source,
        "layers": list(shape.layers),
        "flops": shape.flops,
        "columns": {},
        "check": {},
    }
    cols = row["columns"]
    sample_s = args.gemm_sample_ms / 1e3
    calls: dict = {}

    reference = np.matmul(a.astype(np.float64), b.astype(np.float64))
    for col, init in (("pionnx_input", False), ("pionnx_initializer", True)):
        try:
            call = pionnx_call(pionnx, shape, a, b, init)
            row["check"][col] = check(reference, call())
            reps = warm_and_calibrate(call, args.warmup, sample_s)
        except Exception as exc:  # noqa: BLE001
            cols[col] = {"status": f"error: {type(exc).__name__}: {exc}"}
            continue
        calls[col] = lambda call=call, reps=reps: sample(call, reps)
        cols[col] = {"status": "ok", "reps": reps}
    del reference

    np.save(tmp / "a.npy", a)
    np.save(tmp / "b.npy", b)
    for col, worker in workers.items():
        try:
            reps = worker.ask(
                cmd="load", a=str(tmp / "a.npy"), b=str(tmp / "b.npy"), warmup=args.warmup, sample_s=sample_s
            )["reps"]
        except RuntimeError as exc:
            cols[col] = {"status": f"error: {exc}"}
            continue
        calls[col] = lambda worker=worker: worker.ask(cmd="time")["seconds"]
        cols[col] = {"status": "ok", "reps": reps}

    times: dict = {col: [] for col in calls}
    for _ in range(args.runs):
        for col in rng.permutation(list(calls)):
            if col not in calls:
                continue
            try:
                times[col].append(calls[col]())
            except RuntimeError as exc:
                cols[col] = {"status": f"error: {exc}"}
                del calls[col], times[col]
    for col, ts in times.items():
        best, med = min(ts), statistics.median(ts)
        cols[col].update(
            {
                "best_s": best,
                "median_s": med,
                "runs_s": ts,
                "gflops_best": shape.flops / best / 1e9,
                "gflops_median": shape.flops / med / 1e9,
            }
        )
    row["ok"] = all(c.get("ok") for c in row["check"].values()) and len(row["check"]) == 2
    row["ratios"] = ratios(row)
    return row


RATIOS = {
    "init/haswell": ("pionnx_initializer", "openblas_haswell"),
    "init/default": ("pionnx_initializer", "openblas_default"),
    "input/haswell": ("pionnx_input", "openblas_haswell"),
    "input/default": ("pionnx_input", "openblas_default"),
}


def ratios(row: dict) -> dict:
    """pionnx GFLOPS / OpenBLAS GFLOPS (1.0 = as fast), from the best runs and from the medians."""
    out: dict = {}
    for key, (p, o) in RATIOS.items():
        pc, oc = row["columns"].get(p, {}), row["columns"].get(o, {})
        for stat in ("best", "median"):
            good = "gflops_best" in pc and "gflops_best" in oc and row["ok"]
            out[f"{key}_{stat}"] = pc[f"gflops_{stat}"] / oc[f"gflops_{stat}"] if good else None
    return out


def summarize(rows: list[dict]) -> dict:
    out: dict = {"rows_in_means": sum(1 for r in rows if r["ok"])}
    for col in COLUMNS:
        for stat in ("best", "median"):
            vals = [
                r["columns"][col][f"gflops_{stat}"]
                for r in rows
                if r["ok"] and "gflops_best" in r["columns"].get(col, {})
            ]
            out[f"{col}_gflops_{stat}"] = geomean(vals)
    for key in RATIOS:
        for stat in ("best", "median"):
            vals = [r["ratios"][f"{key}_{stat}"] for r in rows if r["ratios"][f"{key}_{stat}"] is not None]
            out[f"{key}_{stat}"] = geomean(vals)
    return out


def print_table(gemm: dict) -> None:
    w = 14
    header = (
        f"{'shape':<15}{'from':<30}"
        + "".join(f"{HEAD[c]:>{w}}" for c in COLUMNS)
        + f"{'init/Hsw':>10}{'init/dflt':>10}  check"
    )
    print()
    print(header)
    print("-" * len(header))

    def gf(col: dict) -> str:
        if "gflops_best" in col:
            return f"{col['gflops_best']:.1f}"
        return (col.get("status") or "-")[: w - 1]

    def pct(v: float | None) -> str:
        return f"{100 * v:.0f}%" if v is not None else "-"

    for r in gemm["rows"]:
        checks = r["check"].values()
        worst = max((c.get("rel_diff", math.inf) for c in checks), default=math.inf)
        verdict = ("ok" if r["ok"] else "MISMATCH") + (f" (rel {worst:.1e})" if math.isfinite(worst) else "")
        print(
            f"{r['shape']:<15}{r['source'][:29]:<30}"
            + "".join(f"{gf(r['columns'].get(c, {})):>{w}}" for c in COLUMNS)
            + f"{pct(r['ratios']['init/haswell_best']):>10}{pct(r['ratios']['init/default_best']):>10}  {verdict}"
        )
    s = gemm["summary"]
    print("-" * len(header))
    means = "".join(f"{s[c + '_gflops_best']:>{w}.1f}" if s[c + "_gflops_best"] else f"{'-':>{w}}" for c in COLUMNS)
    print(
        f"{'geomean':<15}{str(s['rows_in_means']) + ' shapes':<30}{means}"
        f"{pct(s['init/haswell_best']):>10}{pct(s['init/default_best']):>10}"
    )
    print()
    ob = gemm["openblas"]
    print(
        f"pionnx sgemm ISA: {gemm['pionnx_sgemm']}; OpenBLAS core: {ob.get('openblas_default', {}).get('corename')} "
        f"(default), {ob.get('openblas_haswell', {}).get('corename')} (OPENBLAS_CORETYPE=Haswell); "
        f"build: {(ob.get('openblas_default') or {}).get('config') or '?'}"
    )
    print(
        "GFLOPS from the best of "
        f"{gemm['config']['runs']} timed runs, 1 thread; init/Hsw, init/dflt = pionnx (B initializer) GFLOPS / "
        "OpenBLAS (Haswell / default) GFLOPS.\n"
        f"From the medians: init/Hsw {pct(s['init/haswell_median'])}, init/dflt {pct(s['init/default_median'])}; "
        f"B as input: input/Hsw {pct(s['input/haswell_best'])}, input/dflt {pct(s['input/default_best'])} (best)."
    )


def run(args, pionnx) -> dict:
    """The GEMM table: returns the JSON's "gemm" section (and prints the table)."""
    shapes = parse_shapes(args.gemm_sizes)
    simd = pionnx.simd_info() if hasattr(pionnx, "simd_info") else {}
    blas_limited = limit_blas_threads(1)
    out: dict = {
        "config": {
            "shapes": [s.name for s in shapes],
            "runs": args.runs,
            "warmup": args.warmup,
            "sample_ms": args.gemm_sample_ms,
            "threads": 1,
            "order": "per shape, the four columns in a fresh random order each run (seed 0)",
            "pionnx": "one MatMul node, intra_op_num_threads=1, time of run() incl. feeds and output allocation",
            "openblas": "np.matmul(A, B, out=C) in a worker process, OPENBLAS_NUM_THREADS=1, OMP_NUM_THREADS=1",
            "reference": "float64 numpy matmul"
            + (" (this process's OpenBLAS set to 1 thread)" if blas_limited else ""),
            "rel_tolerance": REL_TOLERANCE,
            "columns": dict(HEAD),
        },
        "pionnx_sgemm": simd.get("sgemm", "unknown"),
        "openblas": {},
        "rows": [],
    }
    print(
        f"GEMM, 1 thread, {len(shapes)} shapes, runs {args.runs}, warm-up {args.warmup}, "
        f"timed runs of >= {args.gemm_sample_ms:g} ms; pionnx sgemm: {out['pionnx_sgemm']}",
        flush=True,
    )
    workers: dict = {}
    for col, env in worker_envs().items():
        worker = BlasWorker(env)
        try:
            out["openblas"][col] = worker.ask(cmd="info")
            workers[col] = worker
        except RuntimeError as exc:
            out["openblas"][col] = {"error": str(exc)}
            worker.close()
    for col, info in out["openblas"].items():
        print(
            f"{col}: core {info.get('corename', '?')}, threads {info.get('num_threads')}, "
            + (f"build: {info.get('config')}" if "error" not in info else info["error"]),
            flush=True,
        )
    rng = np.random.default_rng(0)
    try:
        with tempfile.TemporaryDirectory(prefix="pionnx-gemm-") as tmp:
            for shape in shapes:
                started = time.perf_counter()
                row = measure_shape(shape, pionnx, workers, args, rng, Path(tmp))
                out["rows"].append(row)
                cells = " / ".join(
                    f"{row['columns'][c]['gflops_best']:.1f}" if "gflops_best" in row["columns"].get(c, {}) else "-"
                    for c in COLUMNS
                )
                print(
                    f"  {shape.name:15s} GFLOPS {cells}  ({'ok' if row['ok'] else 'MISMATCH'}, "
                    f"{time.perf_counter() - started:.1f} s)",
                    flush=True,
                )
    finally:
        for worker in workers.values():
            worker.close()
    out["summary"] = summarize(out["rows"])
    out["all_checks_ok"] = all(r["ok"] for r in out["rows"])
    print_table(out)
    return out
