"""Static throughput of the NEON micro-kernels under llvm-mca: ARM evidence without ARM hardware.

Each NEON kernel file is compiled to assembly by the cross compiler with the wheel's flags
(`-O3`; on armv7 the baseline of runtime/cmake/armv7-baseline-flags.txt with `-mfpu=neon` on top,
as runtime/CMakeLists.txt compiles those files). The kernel's innermost loop -- the loop in its
function with the most multiply-accumulate instructions -- is cut out of the assembly and handed to
llvm-mca for each modelled core. Its cycles per iteration give the kernel's FLOP/cycle.

The peak is asked of the same model: a loop of independent multiply-accumulates of the form the
kernel uses (`fmla .4s` on aarch64, `vmla.f32` on q registers on armv7, `smlal`/`vmlal.s16` for the
integer kernel), so "percent of peak" is what the scheduling model allows, with no number typed in
here. llvm-mca models the core's pipelines, not its memory: loads are assumed to hit L1, so the
figure is the kernel's compute ceiling (what register blocking and instruction mix allow), which is
what a micro-kernel is designed for; the packing keeps its operands in L1/L2.

    python -m ci.bench.neon_mca [--json build/neon-mca.json] [--min-percent 80]
    nox -s neon_mca

Needs g++-aarch64-linux-gnu, g++-arm-linux-gnueabihf and llvm (llvm-mca), all Debian packages.
Prints a table and writes JSON; exits 1 when the SGEMM micro-kernel a modelled core runs by default
(the 8x8 in-order one on Cortex-A53, the 8x12 one on A57/A72, armv7's 6x8) or the integer GEMM kernel
falls under --min-percent on that core's model (A53, A57, A72; A55 is reported only).
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SIMD = ROOT / "runtime" / "src" / "kernels" / "simd"


@dataclass(frozen=True)
class Target:
    name: str  # "aarch64" / "armv7"
    cxx: str
    flags: tuple[str, ...]
    triple: str
    cpus: tuple[str, ...]


def targets() -> list[Target]:
    base = tuple((ROOT / "runtime" / "cmake" / "armv7-baseline-flags.txt").read_text().split())
    return [
        Target(
            "aarch64",
            "aarch64-linux-gnu-g++",
            (),
            "aarch64-linux-gnu",
            ("cortex-a53", "cortex-a55", "cortex-a57", "cortex-a72"),
        ),
        # The NEON files' own flags come after the baseline, as in runtime/CMakeLists.txt.
        Target(
            "armv7",
            "arm-linux-gnueabihf-g++",
            (*base, "-march=armv7-a", "-mfpu=neon"),
            "armv7-linux-gnueabihf",
            ("cortex-a57",),
        ),
    ]


# The cores whose SGEMM default is the 8x8 kernel scheduled for in-order issue
# (runtime/src/platform/cpu_features.cc: every core a Cortex-A53, A55 or A35).
IN_ORDER = ("cortex-a53", "cortex-a55")
# The models whose default GEMM kernels --min-percent holds (the cores issue 15 names). The
# Cortex-A55 model is reported beside them: its loads are costed differently (a four-register
# ld1 takes the load unit longer), and no kernel is scheduled for it yet.
GATED_MODELS = ("cortex-a53", "cortex-a57", "cortex-a72")


@dataclass(frozen=True)
class Kernel:
    name: str
    source: str
    function: str  # the function's name, as the mangled symbol spells it (length-prefixed); "a|b": either
    kind: str  # "float" (FLOP) or "int16" (two ops per multiply-accumulate)
    arches: tuple[str, ...] = ("aarch64", "armv7")
    # The modelled cores that run this GEMM micro-kernel by default: its rows there are held to
    # --min-percent (on GATED_MODELS).
    default_on: tuple[str, ...] = ()
    # A template over tile sizes (every matching function an instantiation): its largest tile's loop.
    largest_tile: bool = False


KERNELS = [
    Kernel(
        "sgemm micro-kernel",
        "sgemm_neon.cc",
        "ukernel_neon",
        "float",
        default_on=("cortex-a57", "cortex-a72"),
    ),
    Kernel(
        "sgemm micro-kernel, in-order 8x8",
        "sgemm_neon.cc",
        "ukernel_neon_a53",
        "float",
        arches=("aarch64",),
        default_on=IN_ORDER,
    ),
    Kernel("sgemm in-place (direct conv)", "sgemm_neon.cc", "shifted_tile_neon", "float"),
    Kernel("sgemm in-place, 8x8", "sgemm_neon.cc", "shifted_tile_neon_a53", "float", arches=("aarch64",)),
    Kernel("sgemm gemv (rows)", "sgemm_neon.cc", "gemv_rows_neon", "float"),
    Kernel(
        "qgemm int16-pair kernel",
        "qgemm_neon.cc",
        "kernel_neon",
        "int16",
        default_on=(*IN_ORDER, "cortex-a57", "cortex-a72"),
    ),
    Kernel("depthwise 3x3 row", "depthwise_neon.cc", "row_neon", "float"),
    # The blocked (NCHWc, pack4) row kernel, taken only with PIONNX_NCHWC=neon: the inner loop (input blocks
    # stepped inside) of its largest tile among the instantiations (GCC inlines some into `row`).
    Kernel("nchwc row, blocked conv", "conv_nchwc_neon.cc", "row_blocks|row", "float", largest_tile=True),
    Kernel("depthwise 3x3 s2 row", "depthwise_neon.cc", "row_s2_neon", "float"),
]

# Operations per instruction, by mnemonic and vector width.
_A64_VEC = re.compile(r"\bv\d+\.(\d+)([bhsd])\b")


def ops_of(line: str, kind: str) -> int:
    """FLOPs (float) or integer ops (int16: 2 per multiply-accumulate) of one instruction."""
    parts = line.split(None, 1)
    if not parts:
        return 0
    mnem, rest = parts[0].lower(), parts[1] if len(parts) > 1 else ""
    if kind == "float":
        if mnem in ("fmla", "fmls"):  # aarch64: lanes of the destination
            m = _A64_VEC.search(rest)
            return 2 * int(m.group(1)) if m else 2
        if mnem.startswith(("vmla.f32", "vmls.f32", "vfma.f32", "vfms.f32")):  # armv7
            dest = rest.split(",")[0].strip()
            return 8 if dest.startswith("q") else 4
        if mnem in ("fmul", "fadd"):  # an unfused multiply-add is two instructions
            m = _A64_VEC.search(rest)
            return int(m.group(1)) if m else 0
        if mnem.startswith(("vmul.f32", "vadd.f32")):
            return 4 if rest.split(",")[0].strip().startswith("q") else 2
        return 0
    if mnem in ("smlal", "smlal2", "umlal", "umlal2"):  # aarch64 widening: 4 int32 lanes from .4h/.8h halves
        m = _A64_VEC.search(rest)
        return 2 * int(m.group(1)) if m else 8
    if mnem.startswith(("vmlal.s16", "vmlal.u16")):
        return 8  # q destination, 4 lanes
    return 0


def _symbols(asm: str) -> dict[str, list[str]]:
    """Function name -> its lines, from GCC assembly."""
    funcs: dict[str, list[str]] = {}
    current = None
    for line in asm.splitlines():
        m = re.match(r"\s*\.type\s+([^,]+),\s*[%@]function", line)
        if m:
            current = m.group(1).strip()
            funcs[current] = []
            continue
        if current and re.match(rf"\s*\.size\s+{re.escape(current)},", line):
            current = None
            continue
        if current:
            funcs[current].append(line)
    return funcs


def functions_named(funcs: dict[str, list[str]], name: str) -> list[str]:
    """The mangled symbols among `funcs` of functions called `name`. Itanium mangling writes a
    name as its length then itself: "12ukernel_neon" is not part of "16ukernel_neon_a53"."""
    spelled = f"{len(name)}{name}"
    return [n for n in funcs if spelled in n]


_LABEL = re.compile(r"^(\.?L[\w.$]+|[\w.$]+):")
# A branch to a compiler label (.L5) or back to an inline-assembly local label (1b -> "1").
_BRANCH = re.compile(
    r"^\s*(b\.\w+|b(?:eq|ne|gt|ge|lt|le|hi|hs|lo|ls|cs|cc|mi|pl)|cbnz|cbz|tbnz|tbz|b)\s+(?:[^,]+,\s*)*"
    r"(\.?L[\w.$]+|\d+(?=b\b))b?\s*$"
)


def instructions(lines: list[str]) -> list[str]:
    out = []
    for line in lines:
        text = line.split("@")[0].split("//")[0].strip() if "@" in line or "//" in line else line.strip()
        if not text or text.startswith(".") or _LABEL.match(text):
            continue
        out.append(text)
    return out


def loop_spans(body: list[str]) -> list[tuple[int, int]]:
    """(label line, backward branch line) of every loop in a function's lines."""
    labels: dict[str, int] = {}
    spans = []
    for i, line in enumerate(body):
        m = _LABEL.match(line.strip())
        if m:
            labels[m.group(1)] = i
            continue
        b = _BRANCH.match(line)
        if b and b.group(2) in labels:
            spans.append((labels[b.group(2)], i))
    return spans


def innermost_loop(body: list[str], kind: str) -> list[str]:
    """The instructions of the loop (label ... backward branch to it) with the most ops per
    instruction among loops holding multiply-accumulates; the innermost loop of a kernel is its
    densest."""
    best: list[str] = []
    best_key = (0.0, 0)
    for lo, hi in loop_spans(body):
        loop = instructions(body[lo + 1 : hi + 1])
        ops = sum(ops_of(x, kind) for x in loop)
        if ops and loop:
            key = (ops / len(loop), ops)
            if key > best_key:
                best, best_key = loop, key
    return best


def largest_innermost_loop(body: list[str], kind: str) -> list[str]:
    """Of the loops with multiply-accumulates that hold no other loop, the one with the most ops (then
    the fewest instructions): a register-tiled kernel's largest tile, where its smaller tiles (a row's
    rest) have denser but shorter loops."""
    spans = loop_spans(body)
    best: list[str] = []
    best_key = (0, 0)
    for lo, hi in spans:
        if any(lo < a and b <= hi and (a, b) != (lo, hi) for a, b in spans):
            continue  # holds another loop
        loop = instructions(body[lo + 1 : hi + 1])
        ops = sum(ops_of(x, kind) for x in loop)
        if ops and (ops, -len(loop)) > best_key:
            best, best_key = loop, (ops, -len(loop))
    return best


def compile_asm(target: Target, source: str, work: Path) -> str:
    out = work / f"{target.name}-{source}.s"
    cmd = [
        target.cxx,
        "-std=c++17",
        "-O3",
        "-DNDEBUG",
        *target.flags,
        f"-I{ROOT / 'runtime' / 'include'}",
        f"-I{ROOT / 'runtime' / 'src'}",
        "-S",
        str(SIMD / source),
        "-o",
        str(out),
    ]
    subprocess.run(cmd, check=True)
    return out.read_text()


def llvm_mca() -> str | None:
    return shutil.which("llvm-mca") or shutil.which("llvm-mca-14")


def mca(target: Target, cpu: str, loop: list[str], iterations: int = 500) -> dict:
    """Cycles per iteration of `loop` on `cpu` (llvm-mca, steady state over `iterations`)."""
    prologue = ".syntax unified\n" if target.name == "armv7" else ""
    text = prologue + "\n".join(loop) + "\n"
    res = subprocess.run(
        [
            llvm_mca(),
            f"-mtriple={target.triple}",
            f"-mcpu={cpu}",
            f"-iterations={iterations}",
            "-resource-pressure=0",
            "-instruction-info=0",
        ],
        input=text,
        capture_output=True,
        text=True,
        check=False,
    )
    if res.returncode != 0:
        raise RuntimeError(f"llvm-mca -mcpu={cpu} failed: {res.stderr.strip()[:400]}")
    cycles = int(re.search(r"Total Cycles:\s+(\d+)", res.stdout).group(1))
    rthroughput = float(re.search(r"Block RThroughput:\s+([\d.]+)", res.stdout).group(1))
    return {"cycles_per_iteration": cycles / iterations, "block_rthroughput": rthroughput}


def peak_loop(target: Target, kind: str) -> list[str]:
    """Independent multiply-accumulates of the kernel's own form: the model's peak."""
    if target.name == "aarch64":  # 24 accumulators (a by-element .h operand must be in v0-v15)
        form = "fmla v{i}.4s, v28.4s, v15.s[0]" if kind == "float" else "smlal v{i}.4s, v28.4h, v15.h[0]"
        return [form.format(i=i) for i in (*range(14), *range(16, 26))]
    # 12 accumulators q4-q15 (a by-scalar .s16 operand must be in d0-d7)
    form = "vmla.f32 q{i}, q2, d0[0]" if kind == "float" else "vmlal.s16 q{i}, d4, d0[0]"
    return [form.format(i=i) for i in range(4, 16)]


def measure(min_percent: float) -> dict:
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        for target in targets():
            asm_cache: dict[str, dict[str, list[str]]] = {}
            peaks: dict[tuple[str, str], float] = {}  # (model, kind) -> the model's ops per cycle
            for kernel in KERNELS:
                if target.name not in kernel.arches:
                    continue
                if kernel.source not in asm_cache:
                    asm_cache[kernel.source] = _symbols(compile_asm(target, kernel.source, work))
                funcs = [
                    f for name in kernel.function.split("|") for f in functions_named(asm_cache[kernel.source], name)
                ]
                if not funcs:
                    raise RuntimeError(f"{target.name}: no function matching {kernel.function} in {kernel.source}")
                pick = largest_innermost_loop if kernel.largest_tile else innermost_loop
                loop = max(
                    (pick(asm_cache[kernel.source][f], kernel.kind) for f in funcs),
                    key=lambda lp: (sum(ops_of(x, kernel.kind) for x in lp), -len(lp)),
                )
                if not loop:
                    raise RuntimeError(f"{target.name}: no multiply-accumulate loop found in {funcs[0]}")
                ops = sum(ops_of(x, kernel.kind) for x in loop)
                for cpu in target.cpus:
                    k = mca(target, cpu, loop)
                    per_cycle = ops / k["cycles_per_iteration"]
                    if (cpu, kernel.kind) not in peaks:
                        body = peak_loop(target, kernel.kind)
                        peaks[cpu, kernel.kind] = (
                            sum(ops_of(x, kernel.kind) for x in body) / mca(target, cpu, body)["cycles_per_iteration"]
                        )
                    peak = peaks[cpu, kernel.kind]
                    rows.append(
                        {
                            "arch": target.name,
                            "cpu": cpu,
                            "kernel": kernel.name,
                            "kind": kernel.kind,
                            "loop_instructions": len(loop),
                            "ops_per_iteration": ops,
                            "cycles_per_iteration": round(k["cycles_per_iteration"], 3),
                            "ops_per_cycle": round(per_cycle, 3),
                            "peak_ops_per_cycle": round(peak, 3),
                            "percent_of_peak": round(100 * per_cycle / peak, 1),
                            "default_kernel": cpu in kernel.default_on,
                            "loop": loop,
                        }
                    )
    gated = [r for r in rows if r["default_kernel"] and r["cpu"] in GATED_MODELS]
    return {
        "tool": next(
            (
                line.strip()
                for line in subprocess.run(
                    [llvm_mca(), "--version"],
                    capture_output=True,
                    text=True,
                    check=False,
                ).stdout.splitlines()
                if "version" in line.lower()
            ),
            "llvm-mca",
        ),
        "compilers": {
            t.name: subprocess.run(
                [t.cxx, "--version"], capture_output=True, text=True, check=False
            ).stdout.splitlines()[0]
            for t in targets()
        },
        "min_percent": min_percent,
        "rows": rows,
        "ok": all(r["percent_of_peak"] >= min_percent for r in gated),
    }


def print_table(result: dict) -> None:
    print(f"llvm-mca: {result['tool']}; " + "; ".join(f"{k}: {v}" for k, v in result["compilers"].items()))
    print("static throughput of each NEON kernel's inner loop (llvm-mca; loads assumed to hit L1)")
    print(
        f"{'arch':8} {'model':11} {'kernel':32} {'instr':>5} {'ops/it':>6} {'cyc/it':>7} {'ops/cyc':>8} "
        f"{'peak':>6} {'% peak':>7}"
    )
    for r in result["rows"]:
        unit = "FLOP" if r["kind"] == "float" else "int op"
        mark = ""
        if r["default_kernel"]:
            mark = ", the core's default" + (": held to --min-percent" if r["cpu"] in GATED_MODELS else "")
        print(
            f"{r['arch']:8} {r['cpu']:11} {r['kernel']:32} {r['loop_instructions']:5d} {r['ops_per_iteration']:6d} "
            f"{r['cycles_per_iteration']:7.2f} {r['ops_per_cycle']:8.2f} {r['peak_ops_per_cycle']:6.2f} "
            f"{r['percent_of_peak']:6.1f}%  ({unit}{mark})"
        )


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--json", default=str(ROOT / "build" / "neon-mca.json"), help="where the JSON goes")
    p.add_argument(
        "--min-percent",
        type=float,
        default=80.0,
        help="fail when a core's default SGEMM or integer GEMM micro-kernel is under this percent of its model's peak"
        " (default 80)",
    )
    args = p.parse_args(argv)
    missing = [t for t in ("aarch64-linux-gnu-g++", "arm-linux-gnueabihf-g++") if not shutil.which(t)]
    if not llvm_mca():
        missing.append("llvm-mca")
    if missing:
        print(
            f"missing tools: {', '.join(missing)}; install them with\n"
            "  apt-get install -y g++-aarch64-linux-gnu g++-arm-linux-gnueabihf llvm",
            file=sys.stderr,
        )
        return 2
    result = measure(args.min_percent)
    print_table(result)
    out = Path(args.json)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=1) + "\n")
    print(f"wrote {out}")
    if not result["ok"]:
        print(
            f"FAIL: a core's default GEMM micro-kernel is under {args.min_percent}% of peak on its model",
            file=sys.stderr,
        )
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
