// NEON micro-kernels.
//
// aarch64: 8x12 tile, 24 q-register accumulators, three B vectors and two A
// vectors (29 of 32 registers), multiply-adds by lane (vfmaq_laneq_f32).
// armv7: 6x8 tile, 12 accumulators, two B vectors and six A values (all 16
// q registers), vmla.f32 by scalar, in inline assembly (see the kernel).
//
// On armv7 the library's baseline has no NEON: only the *_neon.cc files are
// compiled with -mfpu=neon (runtime/CMakeLists.txt), and sgemm.cc selects the kernel
// only when the kernel reports NEON in AT_HWCAP. Without NEON in the compile
// flags (x86, or an armv7 build without the per-file flag) the variant is
// simply absent.
#include "kernels/simd/sgemm_ukernel.h"

#if defined(__ARM_NEON) || defined(__ARM_NEON__)
#include <arm_neon.h>

#include <algorithm>
#include <vector>

#include "kernels/simd/sgemm.h"

#include "kernels/simd/neon_madd.h"

namespace pionnx {
namespace simd {
namespace {

// One row of the tile into C: all of it, or its first n columns through a
// small buffer. The accumulators reach here as named values; see below.
template <int V>
inline void store_row(float* ci, const float32x4_t (&v)[V], int n, bool accumulate) {
  if (n == 4 * V) {
    for (int j = 0; j < V; ++j) vst1q_f32(ci + 4 * j, accumulate ? vaddq_f32(v[j], vld1q_f32(ci + 4 * j)) : v[j]);
    return;
  }
  float row[4 * V];
  for (int j = 0; j < V; ++j) vst1q_f32(row + 4 * j, v[j]);
  for (int j = 0; j < n; ++j) ci[j] = accumulate ? ci[j] + row[j] : row[j];
}

// The first m rows, n columns of an 8-column tile the assembly stored (rows
// of 8 floats: aarch64's in-order 8x8, armv7's 6x8), into C.
inline void store_tile8(const float* tile, float* c, int64_t ldc, int m, int n, bool accumulate) {
  for (int i = 0; i < m; ++i) {
    const float32x4_t r[2] = {vld1q_f32(tile + i * 8), vld1q_f32(tile + i * 8 + 4)};
    store_row<2>(c + i * ldc, r, n, accumulate);
  }
}

// The accumulators are named variables and the rows are stored with constant
// indices: with an accumulator array indexed by the live row count, GCC 12
// kept the array in memory and stored 12 of the 24 aarch64 accumulators to
// the stack on every k step (llvm-mca: half the FMA rate on Cortex-A57/A72,
// a quarter on A53; python -m ci.bench.neon_mca).
#if defined(__aarch64__)

constexpr int kMR = 8, kNR = 12;

// kShifted: B read in place, row k at b + shift[k] (SgemmShiftedKernel).
template <bool kShifted>
__attribute__((always_inline)) inline void tile_neon(int64_t kc, const float* a, const float* b, const int64_t* shift,
                                                     float* c, int64_t ldc, int m, int n, bool accumulate) {
  // clang-format off
#define PIONNX_ACC(i) float32x4_t c##i##0 = vdupq_n_f32(0.f), c##i##1 = c##i##0, c##i##2 = c##i##0;
  PIONNX_ACC(0) PIONNX_ACC(1) PIONNX_ACC(2) PIONNX_ACC(3) PIONNX_ACC(4) PIONNX_ACC(5) PIONNX_ACC(6) PIONNX_ACC(7)
#undef PIONNX_ACC
  for (int64_t k = 0; k < kc; ++k, a += kMR) {
    const float* bk = kShifted ? b + shift[k] : b + k * kNR;
    const float32x4_t b0 = vld1q_f32(bk), b1 = vld1q_f32(bk + 4), b2 = vld1q_f32(bk + 8);
    const float32x4_t a0 = vld1q_f32(a), a1 = vld1q_f32(a + 4);
#define PIONNX_ROW(i, av, lane)                     \
  c##i##0 = vfmaq_laneq_f32(c##i##0, b0, av, lane); \
  c##i##1 = vfmaq_laneq_f32(c##i##1, b1, av, lane); \
  c##i##2 = vfmaq_laneq_f32(c##i##2, b2, av, lane);
    PIONNX_ROW(0, a0, 0) PIONNX_ROW(1, a0, 1) PIONNX_ROW(2, a0, 2) PIONNX_ROW(3, a0, 3)
    PIONNX_ROW(4, a1, 0) PIONNX_ROW(5, a1, 1) PIONNX_ROW(6, a1, 2) PIONNX_ROW(7, a1, 3)
#undef PIONNX_ROW
  }
#define PIONNX_STORE(i) \
  if (m > i) store_row<3>(c + i * ldc, {c##i##0, c##i##1, c##i##2}, n, accumulate);
  PIONNX_STORE(0) PIONNX_STORE(1) PIONNX_STORE(2) PIONNX_STORE(3)
  PIONNX_STORE(4) PIONNX_STORE(5) PIONNX_STORE(6) PIONNX_STORE(7)
#undef PIONNX_STORE
  // clang-format on
}

void ukernel_neon(int64_t kc, const float* a, const float* b, float* c, int64_t ldc, int m, int n, bool accumulate) {
  tile_neon<false>(kc, a, b, nullptr, c, ldc, m, n, accumulate);
}

// Not inlined, so ci/bench/neon_mca.py finds its loop by name.
__attribute__((noinline)) void shifted_tile_neon(int64_t kc, const float* a, const float* b, const int64_t* shift,
                                                 float* c, int64_t ldc, int m, int n) {
  tile_neon<true>(kc, a, b, shift, c, ldc, m, n, false);
}

// In-order cores (Cortex-A53, A55, A35): an 8x8 tile in inline assembly.
//
// An in-order core issues in program order and, as LLVM's Cortex-A53 model
// has it, writes results back in order: an instruction with a shorter latency
// than the multiply-add before it (10 cycles) waits until its result would
// land after that one's. A 4-cycle load straight after a multiply-add loses 6
// cycles, an integer add 7, even a branch or a nop 8; the compiled 8x12 loop
// (five loads, two address adds, a compare and a branch among 24 multiply-adds
// per k step) ran at 60 % of the model's multiply-add rate. This loop issues
// only what the model lets through cheaply: 16 accumulators (v16-v31) leave
// 16 registers for two sets of operands, each set two k steps of A and of B
// loaded by one four-register ld1 (7 cycles: 3 lost) while the other set is
// multiplied; eight k steps per pass, so the eight address adds, the counter
// and the branch come once, together, per 128 multiply-adds (84 % of the
// model's peak; python -m ci.bench.neon_mca). The last pass loads nothing past
// its own eight steps, and the kc % 8 steps after it go one at a time.
constexpr int kMR8 = 8, kNR8 = 8;
static_assert(kNR8 == 8, "store_tile8 stores 8-column rows");

// clang-format off
#define PIONNX_FMLA(acc, bv, av, lane) "fmla v" #acc ".4s, v" #bv ".4s, v" #av ".s[" #lane "]\n\t"
// One k step in two halves: rows 0-3 (A lanes of a0) and rows 4-7 (a1), each
// row's two column vectors b0, b1; accumulator of row r, vector j: v(16+2r+j).
#define PIONNX_A53_TOP(a0, b0, b1)                                                                     \
  PIONNX_FMLA(16, b0, a0, 0) PIONNX_FMLA(17, b1, a0, 0) PIONNX_FMLA(18, b0, a0, 1) PIONNX_FMLA(19, b1, a0, 1) \
  PIONNX_FMLA(20, b0, a0, 2) PIONNX_FMLA(21, b1, a0, 2) PIONNX_FMLA(22, b0, a0, 3) PIONNX_FMLA(23, b1, a0, 3)
#define PIONNX_A53_BOTTOM(a1, b0, b1)                                                                  \
  PIONNX_FMLA(24, b0, a1, 0) PIONNX_FMLA(25, b1, a1, 0) PIONNX_FMLA(26, b0, a1, 1) PIONNX_FMLA(27, b1, a1, 1) \
  PIONNX_FMLA(28, b0, a1, 2) PIONNX_FMLA(29, b1, a1, 2) PIONNX_FMLA(30, b0, a1, 3) PIONNX_FMLA(31, b1, a1, 3)
#define PIONNX_A53_STEP(a0, a1, b0, b1) PIONNX_A53_TOP(a0, b0, b1) PIONNX_A53_BOTTOM(a1, b0, b1)
// Two k steps of one operand set: set 0 is A in v0-v3 and B in v4-v7, set 1
// A in v8-v11 and B in v12-v15 (each register pair one step). The other set's
// loads go between the first step's halves.
#define PIONNX_A53_LD4(q0, q1, q2, q3, ptr) "ld1 {v" #q0 ".4s, v" #q1 ".4s, v" #q2 ".4s, v" #q3 ".4s}, [" ptr "]\n\t"
#define PIONNX_A53_SET0(load_a, load_b) \
  load_a PIONNX_A53_TOP(0, 4, 5) load_b PIONNX_A53_BOTTOM(1, 4, 5) PIONNX_A53_STEP(2, 3, 6, 7)
#define PIONNX_A53_SET1(load_a, load_b) \
  load_a PIONNX_A53_TOP(8, 12, 13) load_b PIONNX_A53_BOTTOM(9, 12, 13) PIONNX_A53_STEP(10, 11, 14, 15)
// The end of an 8-step block: back to 1 while blocks remain, else the last
// block's steps 6-7 (set 1), then into the loop (4) over the kc % 8 steps left,
// one at a time, unless there are none (to 5).
#define PIONNX_A53_NEXT_BLOCK                                           \
  "subs %[blocks], %[blocks], #1\n\t"                                  \
  "b.ne 1b\n\t" PIONNX_A53_STEP(8, 9, 12, 13) PIONNX_A53_STEP(10, 11, 14, 15) \
  "3:\n\t"                                                             \
  "cbz %[rest], 5f\n"                                                   \
  "4:\n\t"
// The accumulators stored, row by row, to %[t].
#define PIONNX_A53_STORE                                  \
  "st1 {v16.4s, v17.4s, v18.4s, v19.4s}, [%[t]], #64\n\t" \
  "st1 {v20.4s, v21.4s, v22.4s, v23.4s}, [%[t]], #64\n\t" \
  "st1 {v24.4s, v25.4s, v26.4s, v27.4s}, [%[t]], #64\n\t" \
  "st1 {v28.4s, v29.4s, v30.4s, v31.4s}, [%[t]], #64\n\t"
// clang-format on

void ukernel_neon_a53(int64_t kc, const float* a, const float* b, float* c, int64_t ldc, int m, int n,
                      bool accumulate) {
  alignas(16) float tile[kMR8 * kNR8];
  float* t = tile;
  uint64_t blocks = static_cast<uint64_t>(kc) / 8, rest = static_cast<uint64_t>(kc) % 8;
  // Each stream's four quarters of an 8-step block (ld1 takes no offset).
  const float *a1 = a + 16, *a2 = a + 32, *a3 = a + 48, *b1 = b + 16, *b2 = b + 32, *b3 = b + 48;
  // clang-format off
  __asm__ __volatile__(
      PIONNX_A64_ZERO_V16_V31
      "cbz %[blocks], 3f\n\t"
      PIONNX_A53_LD4(0, 1, 2, 3, "%[a]") PIONNX_A53_LD4(4, 5, 6, 7, "%[b]")
      "b 2f\n"
      // Steps 6-7 of the block before (set 1) while the next block's steps 0-1 load into set 0.
      "1:\n\t"
      PIONNX_A53_SET1(PIONNX_A53_LD4(0, 1, 2, 3, "%[a]"), PIONNX_A53_LD4(4, 5, 6, 7, "%[b]"))
      "2:\n\t"
      PIONNX_A53_SET0(PIONNX_A53_LD4(8, 9, 10, 11, "%[a1]"), PIONNX_A53_LD4(12, 13, 14, 15, "%[b1]"))
      PIONNX_A53_SET1(PIONNX_A53_LD4(0, 1, 2, 3, "%[a2]"), PIONNX_A53_LD4(4, 5, 6, 7, "%[b2]"))
      PIONNX_A53_SET0(PIONNX_A53_LD4(8, 9, 10, 11, "%[a3]"), PIONNX_A53_LD4(12, 13, 14, 15, "%[b3]"))
      "add %[a], %[a], #256\n\t" "add %[a1], %[a1], #256\n\t" "add %[a2], %[a2], #256\n\t" "add %[a3], %[a3], #256\n\t"
      "add %[b], %[b], #256\n\t" "add %[b1], %[b1], #256\n\t" "add %[b2], %[b2], #256\n\t" "add %[b3], %[b3], #256\n\t"
      PIONNX_A53_NEXT_BLOCK
      "ld1 {v0.4s, v1.4s}, [%[a]], #32\n\t"
      "ld1 {v4.4s, v5.4s}, [%[b]], #32\n\t"
      PIONNX_A53_STEP(0, 1, 4, 5)
      "subs %[rest], %[rest], #1\n\t"
      "b.ne 4b\n"
      "5:\n\t"
      PIONNX_A53_STORE
      : [a] "+r"(a), [b] "+r"(b), [a1] "+r"(a1), [a2] "+r"(a2), [a3] "+r"(a3), [b1] "+r"(b1), [b2] "+r"(b2),
        [b3] "+r"(b3), [blocks] "+r"(blocks), [rest] "+r"(rest), [t] "+r"(t)
      :
      : PIONNX_A64_CLOBBERS);
  // clang-format on
  store_tile8(tile, c, ldc, m, n, accumulate);
}

// The in-place kernel (SgemmShiftedKernel) for in-order cores: the same 8x8
// registers, A's two-step quarters by four-register ld1, but each k step's B
// row lies at its own offset from b, so B is four q loads per two steps with
// register offsets. off[k] is shift[k] in bytes, with at least two entries
// past kc (read, not used, by the last block); each two steps' offsets load one
// pair ahead. Every load of two steps goes in one block before their 32
// multiply-adds: 71 % of the A53 model's peak, where the 8x12 and 8x8 compiled
// loops (a shift load, an address add and the B loads inside every step) reach
// 55 % and 46 % (python -m ci.bench.neon_mca); 80 % is out of reach here, B's
// loads being four single loads per 32 multiply-adds.
// clang-format off
#define PIONNX_A53_B(q0, q1, q2, q3, o0, o1)                                        \
  "ldr q" #q0 ", [%[b], %[" #o0 "]]\n\t" "ldr q" #q1 ", [%[b16], %[" #o0 "]]\n\t" \
  "ldr q" #q2 ", [%[b], %[" #o1 "]]\n\t" "ldr q" #q3 ", [%[b16], %[" #o1 "]]\n\t"
// A group of two k steps on one operand set, after the loads of the next group
// into the other set and of the offsets two groups ahead.
#define PIONNX_A53_GROUP0(pa, o0, o1, p0, p1, imm) \
  PIONNX_A53_LD4(8, 9, 10, 11, pa) "ldp %[" #p0 "], %[" #p1 "], [%[s], #" #imm "]\n\t" \
  PIONNX_A53_B(12, 13, 14, 15, o0, o1) PIONNX_A53_STEP(0, 1, 4, 5) PIONNX_A53_STEP(2, 3, 6, 7)
#define PIONNX_A53_GROUP1(pa, o0, o1, p0, p1, imm) \
  PIONNX_A53_LD4(0, 1, 2, 3, pa) "ldp %[" #p0 "], %[" #p1 "], [%[s], #" #imm "]\n\t" \
  PIONNX_A53_B(4, 5, 6, 7, o0, o1) PIONNX_A53_STEP(8, 9, 12, 13) PIONNX_A53_STEP(10, 11, 14, 15)
// clang-format on

__attribute__((noinline)) void shifted_tile_neon_a53(int64_t kc, const float* a, const float* b, const int64_t* off,
                                                     float* c, int64_t ldc, int m, int n) {
  alignas(16) float tile[kMR8 * kNR8];
  float* t = tile;
  uint64_t blocks = static_cast<uint64_t>(kc) / 8, rest = static_cast<uint64_t>(kc) % 8;
  const float *a1 = a + 16, *a2 = a + 32, *a3 = a + 48, *b16 = b + 4;
  const int64_t* s = off;
  int64_t o0, o1, o2, o3;  // offsets of even groups (o0, o1) and odd ones (o2, o3)
  // clang-format off
  __asm__ __volatile__(
      PIONNX_A64_ZERO_V16_V31
      "cbz %[blocks], 3f\n\t"
      "ldp %[o0], %[o1], [%[s]]\n\t"
      PIONNX_A53_LD4(0, 1, 2, 3, "%[a]") PIONNX_A53_B(4, 5, 6, 7, o0, o1)
      "ldp %[o2], %[o3], [%[s], #16]\n\t"
      "b 2f\n"
      // Group 3 of the block before (set 1), loading group 0 of this one.
      "1:\n\t"
      PIONNX_A53_GROUP1("%[a]", o0, o1, o2, o3, 16)
      "2:\n\t"
      PIONNX_A53_GROUP0("%[a1]", o2, o3, o0, o1, 32)
      PIONNX_A53_GROUP1("%[a2]", o0, o1, o2, o3, 48)
      PIONNX_A53_GROUP0("%[a3]", o2, o3, o0, o1, 64)
      "add %[a], %[a], #256\n\t" "add %[a1], %[a1], #256\n\t" "add %[a2], %[a2], #256\n\t"
      "add %[a3], %[a3], #256\n\t" "add %[s], %[s], #64\n\t"
      PIONNX_A53_NEXT_BLOCK
      "ldr %[o0], [%[s]], #8\n\t"
      "ld1 {v0.4s, v1.4s}, [%[a]], #32\n\t"
      "ldr q4, [%[b], %[o0]]\n\t"
      "ldr q5, [%[b16], %[o0]]\n\t"
      PIONNX_A53_STEP(0, 1, 4, 5)
      "subs %[rest], %[rest], #1\n\t"
      "b.ne 4b\n"
      "5:\n\t"
      PIONNX_A53_STORE
      : [a] "+r"(a), [a1] "+r"(a1), [a2] "+r"(a2), [a3] "+r"(a3), [s] "+r"(s), [blocks] "+r"(blocks),
        [rest] "+r"(rest), [t] "+r"(t), [o0] "=&r"(o0), [o1] "=&r"(o1), [o2] "=&r"(o2), [o3] "=&r"(o3)
      : [b] "r"(b), [b16] "r"(b16)
      : PIONNX_A64_CLOBBERS);
  // clang-format on
  store_tile8(tile, c, ldc, m, n, false);
}

#undef PIONNX_FMLA
#undef PIONNX_A53_TOP
#undef PIONNX_A53_BOTTOM
#undef PIONNX_A53_STEP
#undef PIONNX_A53_LD4
#undef PIONNX_A53_SET0
#undef PIONNX_A53_SET1
#undef PIONNX_A64_ZERO_V16_V31
#undef PIONNX_A53_NEXT_BLOCK
#undef PIONNX_A53_STORE

#undef PIONNX_A53_B
#undef PIONNX_A53_GROUP0
#undef PIONNX_A53_GROUP1

#else  // armv7

// 6x8 in inline assembly: twelve accumulators q4-q15, the B row in q2-q3 and
// six A values in d0-d2, one vld1 each, 12 vmla.f32 by scalar per k step.
// GCC 12 compiled the same loop from intrinsics with register copies and
// address arithmetic around every load (llvm-mca, Cortex-A57: 75 % of the
// multiply-add rate) and, unrolled, spilled accumulators to the stack; this
// loop is what register blocking on 16 q registers is meant to be. vmla.f32
// (multiply, round, add) is in every NEON unit, VFPv4 or not.
constexpr int kMR = 6, kNR = 8;
static_assert(kNR == 8, "store_tile8 stores 8-column rows");

// The parts of the two kernels' assembly that are the same: accumulators
// q4-q15 zeroed, the 12 multiply-adds of one k step (B row in q2-q3, the six A
// values in d0-d2), the tile stored to %[t], and the registers they clobber.
#define PIONNX_A7_ZERO   \
  "vmov.i32 q4, #0\n\t"  \
  "vmov.i32 q5, #0\n\t"  \
  "vmov.i32 q6, #0\n\t"  \
  "vmov.i32 q7, #0\n\t"  \
  "vmov.i32 q8, #0\n\t"  \
  "vmov.i32 q9, #0\n\t"  \
  "vmov.i32 q10, #0\n\t" \
  "vmov.i32 q11, #0\n\t" \
  "vmov.i32 q12, #0\n\t" \
  "vmov.i32 q13, #0\n\t" \
  "vmov.i32 q14, #0\n\t" \
  "vmov.i32 q15, #0\n\t"
#define PIONNX_A7_MLA           \
  "vmla.f32 q4, q2, d0[0]\n\t"  \
  "vmla.f32 q5, q3, d0[0]\n\t"  \
  "vmla.f32 q6, q2, d0[1]\n\t"  \
  "vmla.f32 q7, q3, d0[1]\n\t"  \
  "vmla.f32 q8, q2, d1[0]\n\t"  \
  "vmla.f32 q9, q3, d1[0]\n\t"  \
  "vmla.f32 q10, q2, d1[1]\n\t" \
  "vmla.f32 q11, q3, d1[1]\n\t" \
  "vmla.f32 q12, q2, d2[0]\n\t" \
  "vmla.f32 q13, q3, d2[0]\n\t" \
  "vmla.f32 q14, q2, d2[1]\n\t" \
  "vmla.f32 q15, q3, d2[1]\n\t"
#define PIONNX_A7_STORE            \
  "vst1.32 {d8-d11}, [%[t]]!\n\t"  \
  "vst1.32 {d12-d15}, [%[t]]!\n\t" \
  "vst1.32 {d16-d19}, [%[t]]!\n\t" \
  "vst1.32 {d20-d23}, [%[t]]!\n\t" \
  "vst1.32 {d24-d27}, [%[t]]!\n\t" \
  "vst1.32 {d28-d31}, [%[t]]!\n\t"
#define PIONNX_A7_CLOBBERS                                                                                            \
  "cc", "memory", "d0", "d1", "d2", "d3", "d4", "d5", "d6", "d7", "d8", "d9", "d10", "d11", "d12", "d13", "d14",      \
      "d15", "d16", "d17", "d18", "d19", "d20", "d21", "d22", "d23", "d24", "d25", "d26", "d27", "d28", "d29", "d30", \
      "d31"

void ukernel_neon(int64_t kc, const float* a, const float* b, float* c, int64_t ldc, int m, int n, bool accumulate) {
  alignas(16) float tile[kMR * kNR];
  float* t = tile;
  // kc is a depth block of the packed panels: far below 2^32.
  uint32_t k = static_cast<uint32_t>(kc);
  __asm__ __volatile__(PIONNX_A7_ZERO
                       "cmp %[k], #0\n\t"
                       "beq 2f\n"
                       "1:\n\t"
                       "vld1.32 {d0-d2}, [%[a]]!\n\t"
                       "vld1.32 {d4-d7}, [%[b]]!\n\t" PIONNX_A7_MLA
                       "subs %[k], %[k], #1\n\t"
                       "bne 1b\n"
                       "2:\n\t" PIONNX_A7_STORE
                       : [a] "+r"(a), [b] "+r"(b), [k] "+r"(k), [t] "+r"(t)
                       :
                       : PIONNX_A7_CLOBBERS);
  store_tile8(tile, c, ldc, m, n, accumulate);
}

// The same tile with B read in place (SgemmShiftedKernel): each step loads
// shift[k] (the low word of the int64_t: offsets stay far below 2^31) and the
// 8 floats at b + shift[k].
__attribute__((noinline)) void shifted_tile_neon(int64_t kc, const float* a, const float* b, const int64_t* shift,
                                                 float* c, int64_t ldc, int m, int n) {
  alignas(16) float tile[kMR * kNR];
  float* t = tile;
  uint32_t k = static_cast<uint32_t>(kc);
  const int64_t* s = shift;
  uint32_t off = 0;
  __asm__ __volatile__(PIONNX_A7_ZERO
                       "cmp %[k], #0\n\t"
                       "beq 2f\n"
                       "1:\n\t"
                       "ldr %[off], [%[s]], #8\n\t"
                       "vld1.32 {d0-d2}, [%[a]]!\n\t"
                       "add %[off], %[b], %[off], lsl #2\n\t"
                       "vld1.32 {d4-d7}, [%[off]]\n\t" PIONNX_A7_MLA
                       "subs %[k], %[k], #1\n\t"
                       "bne 1b\n"
                       "2:\n\t" PIONNX_A7_STORE
                       : [a] "+r"(a), [s] "+r"(s), [k] "+r"(k), [t] "+r"(t), [off] "+&r"(off)
                       : [b] "r"(b)
                       : PIONNX_A7_CLOBBERS);
  store_tile8(tile, c, ldc, m, n, false);
}

#undef PIONNX_A7_ZERO
#undef PIONNX_A7_MLA
#undef PIONNX_A7_STORE
#undef PIONNX_A7_CLOBBERS

#endif

// A band of B read in place (SgemmShiftedKernel): kNR columns at a time (a
// partial last tile of a band at least a tile wide is the band's last kNR
// columns instead, its first ones stored again with the same values), each
// tile finished in L1 as it is stored: + bias, + residual, the activation.
template <int NR, void (*Tile)(int64_t, const float*, const float*, const int64_t*, float*, int64_t, int, int)>
void shifted_band(int64_t kc, const float* a, const float* b, const int64_t* shift, int64_t w, float* c, int64_t ldc,
                  int m, const float* bias, const float* res, const SgemmBiasAct& ba) {
  for (int64_t t = 0; t < w; t += NR) {
    int n = static_cast<int>(std::min<int64_t>(NR, w - t));
    if (n < NR && w >= NR) {
      t = w - NR;
      n = NR;
    }
    Tile(kc, a, b + t, shift, c + t, ldc, m, n);
    sgemm_finish_tile(ba, bias, res ? res + t : nullptr, c + t, ldc, m, n);
  }
}

void shifted_neon(int64_t kc, const float* a, const float* b, const int64_t* shift, int64_t w, float* c, int64_t ldc,
                  int m, const float* bias, const float* res, const SgemmBiasAct& ba) {
  shifted_band<kNR, shifted_tile_neon>(kc, a, b, shift, w, c, ldc, m, bias, res, ba);
}

#if defined(__aarch64__)
// The in-order kernel reads byte offsets, with two spare entries past kc.
void shifted_neon_a53(int64_t kc, const float* a, const float* b, const int64_t* shift, int64_t w, float* c,
                      int64_t ldc, int m, const float* bias, const float* res, const SgemmBiasAct& ba) {
  thread_local std::vector<int64_t> off;
  off.assign(static_cast<size_t>(kc) + 2, 0);
  for (int64_t k = 0; k < kc; ++k) off[k] = shift[k] * static_cast<int64_t>(sizeof(float));
  shifted_band<kNR8, shifted_tile_neon_a53>(kc, a, b, off.data(), w, c, ldc, m, bias, res, ba);
}
#endif

// 16 columns (4 q accumulators) per pass down the rows, then 4, then the tail.
void gemv_rows_neon(int64_t K, int64_t n, const float* x, const float* m, int64_t ldm, float* y) {
  int64_t j = 0;
  for (; j + 16 <= n; j += 16) {
    float32x4_t a0 = vdupq_n_f32(0.f), a1 = a0, a2 = a0, a3 = a0;
    const float* p = m + j;
    for (int64_t k = 0; k < K; ++k, p += ldm) {
      const float32x4_t xk = vdupq_n_f32(x[k]);
      a0 = neon_madd(a0, xk, vld1q_f32(p));
      a1 = neon_madd(a1, xk, vld1q_f32(p + 4));
      a2 = neon_madd(a2, xk, vld1q_f32(p + 8));
      a3 = neon_madd(a3, xk, vld1q_f32(p + 12));
    }
    vst1q_f32(y + j, a0);
    vst1q_f32(y + j + 4, a1);
    vst1q_f32(y + j + 8, a2);
    vst1q_f32(y + j + 12, a3);
  }
  for (; j + 4 <= n; j += 4) {
    float32x4_t a0 = vdupq_n_f32(0.f);
    const float* p = m + j;
    for (int64_t k = 0; k < K; ++k, p += ldm) a0 = neon_madd(a0, vdupq_n_f32(x[k]), vld1q_f32(p));
    vst1q_f32(y + j, a0);
  }
  for (; j < n; ++j) {
    float s = 0.f;
    for (int64_t k = 0; k < K; ++k) s += x[k] * m[k * ldm + j];
    y[j] = s;
  }
}

// Four rows per pass (x loaded once for four weight streams), two
// accumulators per row: 8 k per step.
void gemv_dots_neon(int64_t K, int64_t n, const float* x, const float* m, int64_t ldm, float* y) {
  int64_t j = 0;
  for (; j + 4 <= n; j += 4) {
    const float* r[4] = {m + j * ldm, m + (j + 1) * ldm, m + (j + 2) * ldm, m + (j + 3) * ldm};
    float32x4_t a[4], b[4];
    for (int i = 0; i < 4; ++i) a[i] = b[i] = vdupq_n_f32(0.f);
    int64_t k = 0;
    for (; k + 8 <= K; k += 8) {
      const float32x4_t x0 = vld1q_f32(x + k), x1 = vld1q_f32(x + k + 4);
      for (int i = 0; i < 4; ++i) {
        a[i] = neon_madd(a[i], x0, vld1q_f32(r[i] + k));
        b[i] = neon_madd(b[i], x1, vld1q_f32(r[i] + k + 4));
      }
    }
    for (int i = 0; i < 4; ++i) {
      float s = neon_hsum(vaddq_f32(a[i], b[i]));
      for (int64_t t = k; t < K; ++t) s += x[t] * r[i][t];
      y[j + i] = s;
    }
  }
  for (; j < n; ++j) {
    const float* r = m + j * ldm;
    float32x4_t a = vdupq_n_f32(0.f);
    int64_t k = 0;
    for (; k + 4 <= K; k += 4) a = neon_madd(a, vld1q_f32(x + k), vld1q_f32(r + k));
    float s = neon_hsum(a);
    for (; k < K; ++k) s += x[k] * r[k];
    y[j] = s;
  }
}

const SgemmUKernel kNeon{kMR, kNR, ukernel_neon, "neon", gemv_rows_neon, nullptr, gemv_dots_neon, shifted_neon};
#if defined(__aarch64__)
const SgemmUKernel kNeonA53{kMR8,           kNR8,    ukernel_neon_a53, "neon_a53",
                            gemv_rows_neon, nullptr, gemv_dots_neon,   shifted_neon_a53};
#endif

}  // namespace

// Whether the CPU has NEON is decided by the caller (platform::cpu_features().neon, in
// sgemm.cc, compiled without NEON so it can run anywhere).
const SgemmUKernel* sgemm_ukernel_neon() { return &kNeon; }
#if defined(__aarch64__)
const SgemmUKernel* sgemm_ukernel_neon_a53() { return &kNeonA53; }
#else
const SgemmUKernel* sgemm_ukernel_neon_a53() { return nullptr; }
#endif

}  // namespace simd
}  // namespace pionnx

#else

namespace pionnx {
namespace simd {
const SgemmUKernel* sgemm_ukernel_neon() { return nullptr; }
const SgemmUKernel* sgemm_ukernel_neon_a53() { return nullptr; }
}  // namespace simd
}  // namespace pionnx

#endif
