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

#if defined(__aarch64__)
// For the aarch64 inline-assembly kernels (sgemm_neon.cc, qgemm_neon.cc), whose
// accumulators are v16-v31: their zeroing, and the clobber list of a kernel
// that uses every vector register.
// clang-format off
#define PIONNX_A64_ZERO_V16_V31                                                                 \
  "movi v16.4s, #0\n\t" "movi v17.4s, #0\n\t" "movi v18.4s, #0\n\t" "movi v19.4s, #0\n\t" \
  "movi v20.4s, #0\n\t" "movi v21.4s, #0\n\t" "movi v22.4s, #0\n\t" "movi v23.4s, #0\n\t" \
  "movi v24.4s, #0\n\t" "movi v25.4s, #0\n\t" "movi v26.4s, #0\n\t" "movi v27.4s, #0\n\t" \
  "movi v28.4s, #0\n\t" "movi v29.4s, #0\n\t" "movi v30.4s, #0\n\t" "movi v31.4s, #0\n\t"
#define PIONNX_A64_CLOBBERS                                                                                        \
  "cc", "memory", "v0", "v1", "v2", "v3", "v4", "v5", "v6", "v7", "v8", "v9", "v10", "v11", "v12", "v13", "v14", \
      "v15", "v16", "v17", "v18", "v19", "v20", "v21", "v22", "v23", "v24", "v25", "v26", "v27", "v28", "v29",    \
      "v30", "v31"
// clang-format on
#endif
