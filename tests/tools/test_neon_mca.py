"""The llvm-mca report of the NEON kernels (ci/bench/neon_mca.py): the assembly parsing on fixed
snippets, then, where the cross compilers and llvm-mca are installed (CI installs them), the real
report: every kernel's inner loop found on every modelled core, its operation count what the kernel's
tile implies, and the SGEMM micro-kernels over a floor that a spilling accumulator array breaks."""

from __future__ import annotations

import shutil

import pytest

from ci.bench import neon_mca

GCC_AARCH64 = """\
\t.type\t_ZN6pionnx4simd12_GLOBAL__N_112ukernel_neonElPKfS3_PflbS4_, %function
_ZN6pionnx4simd12_GLOBAL__N_112ukernel_neonElPKfS3_PflbS4_:
\tmovi\tv4.4s, 0
.L3:
\tldp\tq1, q0, [x1]
\tfmla\tv6.4s, v4.4s, v1.s[0]
\tfmla\tv7.4s, v4.4s, v1.s[1]
\tadd\tx1, x1, 32
\tcmp\tx0, x1
\tbne\t.L3
.L4:
\tfadd\tv1.4s, v1.4s, v2.4s
\tb.ne\t.L4
\tret
\t.size\t_ZN6pionnx4simd12_GLOBAL__N_112ukernel_neonElPKfS3_PflbS4_, .-_ZN6pionnx4simd12_GLOBAL__N_112ukernel_neonElPKfS3_PflbS4_
"""

INLINE_ARMV7 = """\
\t.type\tkernel, %function
kernel:
1:
\tvld1.32 {d0-d2}, [r0]!
\tvmla.f32 q4, q2, d0[0]
\tvmla.f32 d10, d4, d0[1]
\tsubs r2, r2, #1
\tbne 1b
\tbx lr
\t.size\tkernel, .-kernel
"""


def test_operation_counts() -> None:
    assert neon_mca.ops_of("fmla\tv6.4s, v4.4s, v1.s[0]", "float") == 8
    assert neon_mca.ops_of("fmla\tv6.2s, v4.2s, v1.s[0]", "float") == 4
    assert neon_mca.ops_of("fmul\tv3.4s, v0.4s, v3.4s", "float") == 4  # half of an unfused multiply-add
    assert neon_mca.ops_of("vmla.f32\tq4, q2, d0[0]", "float") == 8
    assert neon_mca.ops_of("vmla.f32\td4, d2, d0[0]", "float") == 4
    assert neon_mca.ops_of("smlal\tv0.4s, v28.4h, v15.h[0]", "int16") == 8
    assert neon_mca.ops_of("vmlal.s16\tq4, d4, d0[0]", "int16") == 8
    assert neon_mca.ops_of("ldp\tq1, q0, [x1]", "float") == 0
    assert neon_mca.ops_of("fmla\tv6.4s, v4.4s, v1.s[0]", "int16") == 0


def test_innermost_loop_is_the_multiply_accumulate_loop() -> None:
    funcs = neon_mca._symbols(GCC_AARCH64)
    (name,) = funcs
    loop = neon_mca.innermost_loop(funcs[name], "float")
    assert loop == [
        "ldp\tq1, q0, [x1]",
        "fmla\tv6.4s, v4.4s, v1.s[0]",
        "fmla\tv7.4s, v4.4s, v1.s[1]",
        "add\tx1, x1, 32",
        "cmp\tx0, x1",
        "bne\t.L3",
    ]
    # an inline-assembly loop with a numeric local label
    funcs = neon_mca._symbols(INLINE_ARMV7)
    loop = neon_mca.innermost_loop(funcs["kernel"], "float")
    assert loop[0].startswith("vld1.32") and loop[-1] == "bne 1b" and len(loop) == 5
    assert sum(neon_mca.ops_of(x, "float") for x in loop) == 12


def test_largest_tile_is_the_innermost_loop_of_most_multiply_accumulates() -> None:
    """For a template over tile sizes: of the loops holding no other loop, the one with the most
    multiply-accumulates (the full tile), not a denser short one (a row's rest) nor the outer loop that holds
    the full tile's loop and has more operations in its text."""
    body = [
        ".L1:",  # outer loop
        "add\tx2, x2, 4",
        ".L2:",  # the full tile: 4 multiply-accumulates in 7 instructions
        "ldr\tq1, [x1]",
        "fmla\tv6.4s, v4.4s, v1.s[0]",
        "fmla\tv7.4s, v4.4s, v1.s[1]",
        "fmla\tv8.4s, v4.4s, v1.s[2]",
        "fmla\tv10.4s, v4.4s, v1.s[3]",
        "cmp\tx0, x1",
        "bne\t.L2",
        "fmla\tv9.4s, v4.4s, v1.s[3]",
        "cmp\tx3, x2",
        "bne\t.L1",
        ".L5:",  # a row's rest: 3 multiply-accumulates in 4 instructions (denser)
        "fmla\tv6.4s, v4.4s, v1.s[0]",
        "subs\tx0, x0, 1",
        "fmla\tv7.4s, v4.4s, v1.s[1]",
        "fmla\tv8.4s, v4.4s, v1.s[2]",
        "bne\t.L5",
    ]
    loop = neon_mca.largest_innermost_loop(body, "float")
    assert len(loop) == 7 and sum(neon_mca.ops_of(x, "float") for x in loop) == 32
    assert len(neon_mca.innermost_loop(body, "float")) == 5  # the densest, which the GEMM kernels use


def test_peak_loops_are_independent_accumulators() -> None:
    for target in neon_mca.targets():
        for kind in ("float", "int16"):
            body = neon_mca.peak_loop(target, kind)
            dests = [line.split()[1].rstrip(",") for line in body]
            assert len(set(dests)) == len(dests) >= 12, (target.name, kind)
            assert all(neon_mca.ops_of(line, kind) == 8 for line in body)


TOOLS = ("aarch64-linux-gnu-g++", "arm-linux-gnueabihf-g++")


@pytest.mark.skipif(
    not all(shutil.which(t) for t in TOOLS) or not neon_mca.llvm_mca(),
    reason="needs g++-aarch64-linux-gnu, g++-arm-linux-gnueabihf and llvm (apt-get install; .ci/run does)",
)
def test_report_on_the_real_kernels() -> None:
    result = neon_mca.measure(min_percent=80)
    rows = {(r["arch"], r["cpu"], r["kernel"]): r for r in result["rows"]}
    for target in neon_mca.targets():
        for cpu in target.cpus:
            for kernel in neon_mca.KERNELS:
                if target.name not in kernel.arches:
                    assert (target.name, cpu, kernel.name) not in rows
                    continue
                r = rows[(target.name, cpu, kernel.name)]
                assert 0 < r["percent_of_peak"] <= 101, r
    # One k step of the micro-kernel: MR x NR multiply-adds (2 FLOP each); armv7's loop is one step,
    # the in-order kernel's eight (8x8).
    assert rows[("aarch64", "cortex-a72", "sgemm micro-kernel")]["ops_per_iteration"] == 2 * 8 * 12
    assert rows[("armv7", "cortex-a57", "sgemm micro-kernel")]["ops_per_iteration"] == 2 * 6 * 8
    in_order = rows[("aarch64", "cortex-a53", "sgemm micro-kernel, in-order 8x8")]
    assert in_order["ops_per_iteration"] == 8 * 2 * 8 * 8 and in_order["default_kernel"]
    assert not rows[("aarch64", "cortex-a53", "sgemm micro-kernel")]["default_kernel"]
    # The aarch64 integer kernel's assembly loop: eight depth pairs of a 4x16 tile (2 ops per multiply-add).
    assert rows[("aarch64", "cortex-a53", "qgemm int16-pair kernel")]["ops_per_iteration"] == 8 * 2 * 4 * 16 * 2
    # Every gated model has one default SGEMM kernel and the integer one, each held to the floor.
    for target in neon_mca.targets():
        for cpu in set(target.cpus) & set(neon_mca.GATED_MODELS):
            defaults = [
                r["kernel"]
                for r in result["rows"]
                if (r["arch"], r["cpu"]) == (target.name, cpu) and r["default_kernel"]
            ]
            assert len(defaults) == 2 and "qgemm int16-pair kernel" in defaults, (target.name, cpu, defaults)
    assert result["ok"], [(r["arch"], r["cpu"], r["kernel"], r["percent_of_peak"]) for r in result["rows"]]


def test_kernel_names_match_whole_mangled_names() -> None:
    asm = GCC_AARCH64 + GCC_AARCH64.replace("12ukernel_neon", "16ukernel_neon_a53")
    funcs = neon_mca._symbols(asm)
    assert len(funcs) == 2
    for function, want in (("ukernel_neon", "12ukernel_neon"), ("ukernel_neon_a53", "16ukernel_neon_a53")):
        (found,) = neon_mca.functions_named(funcs, function)
        assert want + "E" in found
