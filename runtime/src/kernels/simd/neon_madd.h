// Included by the *_neon.cc files only (compiled with NEON; arm_neon.h first).
// neon_madd: a multiply-add of a whole vector, acc + x * y: fused on aarch64 (vmlaq_f32
// is an unfused fmul + fadd there, two instructions), vmla.f32 on armv7's
// NEON (which has no fused form without VFPv4).
#pragma once

namespace pionnx {
namespace simd {

inline float32x4_t neon_madd(float32x4_t acc, float32x4_t x, float32x4_t y) {
#if defined(__aarch64__)
  return vfmaq_f32(acc, x, y);
#else
  return vmlaq_f32(acc, x, y);
#endif
}

// The sum of a vector's four lanes.
inline float neon_hsum(float32x4_t v) {
#if defined(__aarch64__)
  return vaddvq_f32(v);
#else
  const float32x2_t h = vadd_f32(vget_low_f32(v), vget_high_f32(v));
  return vget_lane_f32(vpadd_f32(h, h), 0);
#endif
}

}  // namespace simd
}  // namespace pionnx
