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

#else  // armv7

// 6x8 in inline assembly: twelve accumulators q4-q15, the B row in q2-q3 and
// six A values in d0-d2, one vld1 each, 12 vmla.f32 by scalar per k step.
// GCC 12 compiled the same loop from intrinsics with register copies and
// address arithmetic around every load (llvm-mca, Cortex-A57: 75 % of the
// multiply-add rate) and, unrolled, spilled accumulators to the stack; this
// loop is what register blocking on 16 q registers is meant to be. vmla.f32
// (multiply, round, add) is in every NEON unit, VFPv4 or not.
constexpr int kMR = 6, kNR = 8;

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

// The first m rows, n columns of the tile the assembly stored, into C.
inline void store_tile(const float* tile, float* c, int64_t ldc, int m, int n, bool accumulate) {
  for (int i = 0; i < m; ++i) {
    const float32x4_t r[2] = {vld1q_f32(tile + i * kNR), vld1q_f32(tile + i * kNR + 4)};
    store_row<2>(c + i * ldc, r, n, accumulate);
  }
}

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
  store_tile(tile, c, ldc, m, n, accumulate);
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
  store_tile(tile, c, ldc, m, n, false);
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
void shifted_neon(int64_t kc, const float* a, const float* b, const int64_t* shift, int64_t w, float* c, int64_t ldc,
                  int m, const float* bias, const float* res, const SgemmBiasAct& ba) {
  for (int64_t t = 0; t < w; t += kNR) {
    int n = static_cast<int>(std::min<int64_t>(kNR, w - t));
    if (n < kNR && w >= kNR) {
      t = w - kNR;
      n = kNR;
    }
    shifted_tile_neon(kc, a, b + t, shift, c + t, ldc, m, n);
    sgemm_finish_tile(ba, bias, res ? res + t : nullptr, c + t, ldc, m, n);
  }
}

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

}  // namespace

// Whether the CPU has NEON is decided by the caller (platform::cpu_features().neon, in
// sgemm.cc, compiled without NEON so it can run anywhere).
const SgemmUKernel* sgemm_ukernel_neon() { return &kNeon; }

}  // namespace simd
}  // namespace pionnx

#else

namespace pionnx {
namespace simd {
const SgemmUKernel* sgemm_ukernel_neon() { return nullptr; }
}  // namespace simd
}  // namespace pionnx

#endif
