// NEON micro-kernels.
//
// aarch64: 8x12 tile, 24 q-register accumulators, three B vectors and two A
// vectors (29 of 32 registers), multiply-adds by lane (vfmaq_laneq_f32).
// armv7: 4x8 tile, 8 accumulators, two B vectors and one A vector (11 of the
// 16 q registers, so nothing spills), vmlaq_lane_f32 (or vfmaq_f32 when the
// build targets VFPv4).
//
// On armv7 the library's baseline has no NEON: only this file is compiled
// with -mfpu=neon (runtime/CMakeLists.txt), and sgemm.cc selects the kernel
// only when the kernel reports NEON in AT_HWCAP. Without NEON in the compile
// flags (x86, or an armv7 build without the per-file flag) the variant is
// simply absent.
#include "kernels/simd/sgemm_ukernel.h"

#if defined(__ARM_NEON) || defined(__ARM_NEON__)
#include <arm_neon.h>

namespace pionnx {
namespace simd {
namespace {

// Stores the m x n top-left corner of a tile held in `tile` (row stride nr).
inline void store_partial(const float* tile, int nr, float* c, int64_t ldc, int m, int n, bool accumulate) {
  for (int i = 0; i < m; ++i)
    for (int j = 0; j < n; ++j) c[i * ldc + j] = accumulate ? c[i * ldc + j] + tile[i * nr + j] : tile[i * nr + j];
}

#if defined(__aarch64__)

constexpr int kMR = 8, kNR = 12;

void ukernel_neon(int64_t kc, const float* a, const float* b, float* c, int64_t ldc, int m, int n, bool accumulate) {
  float32x4_t acc[kMR][3];
  for (int i = 0; i < kMR; ++i) acc[i][0] = acc[i][1] = acc[i][2] = vdupq_n_f32(0.f);
  for (int64_t k = 0; k < kc; ++k) {
    const float32x4_t b0 = vld1q_f32(b), b1 = vld1q_f32(b + 4), b2 = vld1q_f32(b + 8);
    const float32x4_t a0 = vld1q_f32(a), a1 = vld1q_f32(a + 4);
    // clang-format off
#define PIONNX_ROW(i, av, lane)                                   \
  acc[i][0] = vfmaq_laneq_f32(acc[i][0], b0, av, lane);           \
  acc[i][1] = vfmaq_laneq_f32(acc[i][1], b1, av, lane);           \
  acc[i][2] = vfmaq_laneq_f32(acc[i][2], b2, av, lane);
    PIONNX_ROW(0, a0, 0) PIONNX_ROW(1, a0, 1) PIONNX_ROW(2, a0, 2) PIONNX_ROW(3, a0, 3)
    PIONNX_ROW(4, a1, 0) PIONNX_ROW(5, a1, 1) PIONNX_ROW(6, a1, 2) PIONNX_ROW(7, a1, 3)
#undef PIONNX_ROW
    a += kMR;
    b += kNR;
  }
  // clang-format on
  if (m == kMR && n == kNR) {
    for (int i = 0; i < kMR; ++i) {
      float* ci = c + i * ldc;
      for (int v = 0; v < 3; ++v) {
        float32x4_t r = acc[i][v];
        if (accumulate) r = vaddq_f32(r, vld1q_f32(ci + 4 * v));
        vst1q_f32(ci + 4 * v, r);
      }
    }
    return;
  }
  float tile[kMR * kNR];
  for (int i = 0; i < kMR; ++i)
    for (int v = 0; v < 3; ++v) vst1q_f32(tile + i * kNR + 4 * v, acc[i][v]);
  store_partial(tile, kNR, c, ldc, m, n, accumulate);
}

#else  // armv7

constexpr int kMR = 4, kNR = 8;

void ukernel_neon(int64_t kc, const float* a, const float* b, float* c, int64_t ldc, int m, int n, bool accumulate) {
  float32x4_t acc[kMR][2];
  for (int i = 0; i < kMR; ++i) acc[i][0] = acc[i][1] = vdupq_n_f32(0.f);
  for (int64_t k = 0; k < kc; ++k) {
    const float32x4_t b0 = vld1q_f32(b), b1 = vld1q_f32(b + 4);
    const float32x4_t av = vld1q_f32(a);
#if defined(__ARM_FEATURE_FMA)
    // VFPv4: fused multiply-add (no by-lane form on armv7, so broadcast).
    // clang-format off
#define PIONNX_ROW(i, half, lane)                                            \
  {                                                                          \
    const float32x4_t ai = vdupq_lane_f32(half, lane);                       \
    acc[i][0] = vfmaq_f32(acc[i][0], b0, ai);                                \
    acc[i][1] = vfmaq_f32(acc[i][1], b1, ai);                                \
  }
#else
#define PIONNX_ROW(i, half, lane)                         \
  acc[i][0] = vmlaq_lane_f32(acc[i][0], b0, half, lane);  \
  acc[i][1] = vmlaq_lane_f32(acc[i][1], b1, half, lane);
#endif
    const float32x2_t lo = vget_low_f32(av), hi = vget_high_f32(av);
    PIONNX_ROW(0, lo, 0) PIONNX_ROW(1, lo, 1) PIONNX_ROW(2, hi, 0) PIONNX_ROW(3, hi, 1)
#undef PIONNX_ROW
    a += kMR;
    b += kNR;
  }
  // clang-format on
  if (m == kMR && n == kNR) {
    for (int i = 0; i < kMR; ++i) {
      float* ci = c + i * ldc;
      float32x4_t r0 = acc[i][0], r1 = acc[i][1];
      if (accumulate) {
        r0 = vaddq_f32(r0, vld1q_f32(ci));
        r1 = vaddq_f32(r1, vld1q_f32(ci + 4));
      }
      vst1q_f32(ci, r0);
      vst1q_f32(ci + 4, r1);
    }
    return;
  }
  float tile[kMR * kNR];
  for (int i = 0; i < kMR; ++i) {
    vst1q_f32(tile + i * kNR, acc[i][0]);
    vst1q_f32(tile + i * kNR + 4, acc[i][1]);
  }
  store_partial(tile, kNR, c, ldc, m, n, accumulate);
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
      a0 = vmlaq_f32(a0, xk, vld1q_f32(p));
      a1 = vmlaq_f32(a1, xk, vld1q_f32(p + 4));
      a2 = vmlaq_f32(a2, xk, vld1q_f32(p + 8));
      a3 = vmlaq_f32(a3, xk, vld1q_f32(p + 12));
    }
    vst1q_f32(y + j, a0);
    vst1q_f32(y + j + 4, a1);
    vst1q_f32(y + j + 8, a2);
    vst1q_f32(y + j + 12, a3);
  }
  for (; j + 4 <= n; j += 4) {
    float32x4_t a0 = vdupq_n_f32(0.f);
    const float* p = m + j;
    for (int64_t k = 0; k < K; ++k, p += ldm) a0 = vmlaq_f32(a0, vdupq_n_f32(x[k]), vld1q_f32(p));
    vst1q_f32(y + j, a0);
  }
  for (; j < n; ++j) {
    float s = 0.f;
    for (int64_t k = 0; k < K; ++k) s += x[k] * m[k * ldm + j];
    y[j] = s;
  }
}

const SgemmUKernel kNeon{kMR, kNR, ukernel_neon, "neon", gemv_rows_neon};

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
