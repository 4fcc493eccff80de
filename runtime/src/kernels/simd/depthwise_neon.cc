// NEON kernels of the depthwise family (depthwise.h): four or eight outputs per step,
// the nine taps as shifted loads of the three input rows; at stride 2, vld2q
// splits eight inputs into the even and odd ones, which are two of a row's
// three taps, the third being the evens two floats on. Each kernel row is
// summed apart and the three added last (not the portable kernel's order: a
// rounding apart). Multiply-adds fused on aarch64, vmla.f32 on armv7 (whose baseline
// has no NEON: only this file, with the other *_neon.cc, gets -mfpu=neon; the
// driver takes it when AT_HWCAP reports NEON).
#include "kernels/simd/depthwise.h"
#include "platform/cpu_features.h"

#if defined(__ARM_NEON) || defined(__ARM_NEON__)
#include <arm_neon.h>

#include "kernels/simd/neon_madd.h"

namespace pionnx {
namespace simd {
namespace {

struct Taps {
  float32x4_t w[9];
  explicit Taps(const float* wt) {
    for (int t = 0; t < 9; ++t) w[t] = vdupq_n_f32(wt[t]);
  }
};

// One kernel row's three taps on four outputs (x0, x1, x2: the row at the
// three tap offsets), started from `init`.
inline float32x4_t row3(float32x4_t init, const Taps& k, int r, float32x4_t x0, float32x4_t x1, float32x4_t x2) {
  return neon_madd(neon_madd(neon_madd(init, k.w[3 * r], x0), k.w[3 * r + 1], x1), k.w[3 * r + 2], x2);
}

// Each kernel row summed on its own and the three added at the end: chains of
// three multiply-adds, where one chain of nine per four outputs waited on
// each multiply-add's latency. aarch64 takes eight outputs per step (six
// chains; its 32 registers hold them): llvm-mca puts the single chain at 9 %
// of a Cortex-A53's peak and this at 19 %. armv7 takes four (nine weights
// and three chains in 16 q registers; eight spilled). The loads, one per
// multiply-add, bound the rest (65 % of an A57/A72's peak).
void row_neon(const float* r0, const float* r1, const float* r2, int64_t d, const float* w, float bias, float* y,
              int64_t n) {
  const Taps k(w);
  const float32x4_t vb = vdupq_n_f32(bias), zero = vdupq_n_f32(0.f);
  const int64_t d2 = 2 * d;
  int64_t i = 0;
#if defined(__aarch64__)  // 32 registers: two halves at once
  for (; i + 8 <= n; i += 8) {
    const float *p0 = r0 + i, *p1 = r1 + i, *p2 = r2 + i;
    const float32x4_t a0 = row3(vb, k, 0, vld1q_f32(p0), vld1q_f32(p0 + d), vld1q_f32(p0 + d2));
    const float32x4_t b0 = row3(vb, k, 0, vld1q_f32(p0 + 4), vld1q_f32(p0 + 4 + d), vld1q_f32(p0 + 4 + d2));
    const float32x4_t a1 = row3(zero, k, 1, vld1q_f32(p1), vld1q_f32(p1 + d), vld1q_f32(p1 + d2));
    const float32x4_t b1 = row3(zero, k, 1, vld1q_f32(p1 + 4), vld1q_f32(p1 + 4 + d), vld1q_f32(p1 + 4 + d2));
    const float32x4_t a2 = row3(zero, k, 2, vld1q_f32(p2), vld1q_f32(p2 + d), vld1q_f32(p2 + d2));
    const float32x4_t b2 = row3(zero, k, 2, vld1q_f32(p2 + 4), vld1q_f32(p2 + 4 + d), vld1q_f32(p2 + 4 + d2));
    vst1q_f32(y + i, vaddq_f32(vaddq_f32(a0, a1), a2));
    vst1q_f32(y + i + 4, vaddq_f32(vaddq_f32(b0, b1), b2));
  }
#endif
  for (; i + 4 <= n; i += 4) {
    const float *p0 = r0 + i, *p1 = r1 + i, *p2 = r2 + i;
    const float32x4_t a0 = row3(vb, k, 0, vld1q_f32(p0), vld1q_f32(p0 + d), vld1q_f32(p0 + d2));
    const float32x4_t a1 = row3(zero, k, 1, vld1q_f32(p1), vld1q_f32(p1 + d), vld1q_f32(p1 + d2));
    const float32x4_t a2 = row3(zero, k, 2, vld1q_f32(p2), vld1q_f32(p2 + d), vld1q_f32(p2 + d2));
    vst1q_f32(y + i, vaddq_f32(vaddq_f32(a0, a1), a2));
  }
  for (; i < n; ++i)
    y[i] = bias + w[0] * r0[i] + w[1] * r0[i + d] + w[2] * r0[i + d2] + w[3] * r1[i] + w[4] * r1[i + d] +
           w[5] * r1[i + d2] + w[6] * r2[i] + w[7] * r2[i + d] + w[8] * r2[i + d2];
}

// Stride 2, the same blocks: four outputs read r[j .. j + 9] (vld2q at j and
// j + 2), so a block of four runs while a fifth output follows (whose window
// reaches j + 10), a block of eight while a ninth does; the tail goes one
// output at a time.
inline float32x4_t row3_s2(float32x4_t init, const Taps& k, int r, const float* p) {
  const float32x4x2_t eo = vld2q_f32(p);  // p[0], p[2], .. | p[1], p[3], ..
  return row3(init, k, r, eo.val[0], eo.val[1], vld2q_f32(p + 2).val[0]);
}

void row_s2_neon(const float* r0, const float* r1, const float* r2, const float* w, float bias, float* y, int64_t n) {
  const Taps k(w);
  const float32x4_t vb = vdupq_n_f32(bias), zero = vdupq_n_f32(0.f);
  int64_t i = 0;
#if defined(__aarch64__)
  for (; i + 9 <= n; i += 8) {
    const int64_t j = 2 * i;
    const float32x4_t a0 = row3_s2(vb, k, 0, r0 + j), b0 = row3_s2(vb, k, 0, r0 + j + 8);
    const float32x4_t a1 = row3_s2(zero, k, 1, r1 + j), b1 = row3_s2(zero, k, 1, r1 + j + 8);
    const float32x4_t a2 = row3_s2(zero, k, 2, r2 + j), b2 = row3_s2(zero, k, 2, r2 + j + 8);
    vst1q_f32(y + i, vaddq_f32(vaddq_f32(a0, a1), a2));
    vst1q_f32(y + i + 4, vaddq_f32(vaddq_f32(b0, b1), b2));
  }
#endif
  for (; i + 5 <= n; i += 4) {
    const int64_t j = 2 * i;
    const float32x4_t a0 = row3_s2(vb, k, 0, r0 + j), a1 = row3_s2(zero, k, 1, r1 + j),
                      a2 = row3_s2(zero, k, 2, r2 + j);
    vst1q_f32(y + i, vaddq_f32(vaddq_f32(a0, a1), a2));
  }
  for (; i < n; ++i) {
    const int64_t j = 2 * i;
    y[i] = bias + w[0] * r0[j] + w[1] * r0[j + 1] + w[2] * r0[j + 2] + w[3] * r1[j] + w[4] * r1[j + 1] +
           w[5] * r1[j + 2] + w[6] * r2[j] + w[7] * r2[j + 1] + w[8] * r2[j + 2];
  }
}

}  // namespace

Depthwise3x3Row depthwise3x3_row_neon() { return platform::cpu_features().neon ? row_neon : nullptr; }
Depthwise3x3S2Row depthwise3x3s2_row_neon() { return platform::cpu_features().neon ? row_s2_neon : nullptr; }

}  // namespace simd
}  // namespace pionnx

#else

namespace pionnx {
namespace simd {
Depthwise3x3Row depthwise3x3_row_neon() { return nullptr; }
Depthwise3x3S2Row depthwise3x3s2_row_neon() { return nullptr; }
}  // namespace simd
}  // namespace pionnx

#endif
