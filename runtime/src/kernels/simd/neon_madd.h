// Included by the *_neon.cc files only (compiled with NEON; arm_neon.h first).
// A multiply-add of a whole vector, acc + x * y: fused on aarch64 (vmlaq_f32
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

}  // namespace simd
}  // namespace pionnx
