// The NCHWc family's NEON path (conv_nchwc.h), ncnn's "pack4" layout: blocks of 4 channels, one q register
// a position's block. aarch64: a tile of 4 output blocks by 6 positions (24 of the 32 registers accumulate,
// 4 hold the filter, the input values are loaded replicated, ld1r); armv7: 2 blocks by 6 positions (12 of the
// 16 q registers, 2 for the filter, 1 for the input value). Multiply-adds fused on aarch64, vmla.f32 on
// armv7 (neon_madd.h). The row kernels, pools and reorders are conv_nchwc_kernels.h's, as on x86. On armv7
// only this file and the other *_neon.cc get -mfpu=neon; the driver takes it when AT_HWCAP reports NEON.
#include "kernels/simd/conv_nchwc.h"

#if defined(__ARM_NEON) || defined(__ARM_NEON__)
#include <arm_neon.h>

#include "kernels/simd/neon_madd.h"

#define PIONNX_NCHWC_TARGET
#include "kernels/simd/conv_nchwc_kernels.h"

namespace pionnx {
namespace simd {
namespace {

struct VNeon {
  using vec = float32x4_t;
#if defined(__aarch64__)
  static constexpr int kLanes = 4, kBlocks = 4, kPositions = 5, kMaxPositions = 8, kDepthwisePositions = 8;
#else
  static constexpr int kLanes = 4, kBlocks = 3, kPositions = 3, kMaxPositions = 6, kDepthwisePositions = 4;
#endif
  static constexpr bool kSumsInL2 = false, kLaneMadd = true;
  static vec load(const float* p) { return vld1q_f32(p); }
  static void store(float* p, vec v) { vst1q_f32(p, v); }
  static vec broadcast(const float* p) { return vld1q_dup_f32(p); }
  static vec set1(float v) { return vdupq_n_f32(v); }
  static vec fmadd(vec a, vec b, vec c) { return neon_madd(c, a, b); }
  // c + a x b[Lane]: fmla by element on aarch64, vmla.f32 by scalar (a d register's lane) on armv7.
  template <int Lane>
  static vec fmadd_lane(vec a, vec b, vec c) {
#if defined(__aarch64__)
    return vfmaq_laneq_f32(c, a, b, Lane);
#else
    return vmlaq_lane_f32(c, a, Lane < 2 ? vget_low_f32(b) : vget_high_f32(b), Lane & 1);
#endif
  }
  static vec add(vec a, vec b) { return vaddq_f32(a, b); }
  static vec mul(vec a, vec b) { return vmulq_f32(a, b); }
  static vec zero() { return vdupq_n_f32(0.f); }
  static vec max(vec a, vec b) { return vmaxq_f32(a, b); }
  static vec min(vec a, vec b) { return vminq_f32(a, b); }
  // Four rows of four floats transposed in registers: pairs of lanes swapped, then halves.
  static void transpose(vec* r) {
    const float32x4x2_t t01 = vtrnq_f32(r[0], r[1]), t23 = vtrnq_f32(r[2], r[3]);
    r[0] = vcombine_f32(vget_low_f32(t01.val[0]), vget_low_f32(t23.val[0]));
    r[1] = vcombine_f32(vget_low_f32(t01.val[1]), vget_low_f32(t23.val[1]));
    r[2] = vcombine_f32(vget_high_f32(t01.val[0]), vget_high_f32(t23.val[0]));
    r[3] = vcombine_f32(vget_high_f32(t01.val[1]), vget_high_f32(t23.val[1]));
  }
};

}  // namespace

// Called by the driver only when the CPU has NEON (this function's own code may use it).
NchwcKernel nchwc_kernel_neon() { return nchwc_detail::table<VNeon>(); }

}  // namespace simd
}  // namespace pionnx

#else

namespace pionnx {
namespace simd {
NchwcKernel nchwc_kernel_neon() { return {}; }
}  // namespace simd
}  // namespace pionnx

#endif
