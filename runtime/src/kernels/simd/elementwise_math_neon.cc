// The fastmath family's NEON table: elementwise_math_kernels.h's loops
// compiled with NEON. On armv7 the library's baseline has no NEON, so the
// portable table runs on VFP scalar code; this file alone (with the other
// *_neon.cc files) gets -mfpu=neon (runtime/CMakeLists.txt) and the driver
// takes it only when AT_HWCAP reports NEON. On aarch64, where NEON is the
// baseline, it is the same code as the portable table under its own name.
//
// armv7 NEON flushes denormal results to zero; the loops clamp their inputs
// so that no result they return is a denormal but exp's far tail (below
// 1.2e-38), where it returns 0 instead.
#include "kernels/simd/elementwise_math_kernels.h"
#include "platform/cpu_features.h"

#if defined(__ARM_NEON) || defined(__ARM_NEON__)
#include <arm_neon.h>
#endif

namespace pionnx {
namespace fastmath {

#if defined(__ARM_NEON) || defined(__ARM_NEON__)

namespace {

PIONNX_FASTMATH_TABLE(neon, Neon, )

#if defined(__aarch64__)
// float <-> half by fcvtn / fcvtl, 4 values a step (round to nearest even under the default FPCR, subnormals kept,
// NaN quiet); the tail through a 4-value buffer. armv7 keeps the table's element-wise forms: its half conversions
// (vcvt.f16.f32) are an optional extension (neon-fp16), not in every NEON core.
void half_from_float_a64(const float* x, uint16_t* y, int64_t n) {
  int64_t i = 0;
  for (; i + 4 <= n; i += 4) vst1_u16(y + i, vreinterpret_u16_f16(vcvt_f16_f32(vld1q_f32(x + i))));
  if (i < n) {
    float in[4] = {};
    uint16_t out[4];
    std::memcpy(in, x + i, static_cast<size_t>(n - i) * sizeof(float));
    vst1_u16(out, vreinterpret_u16_f16(vcvt_f16_f32(vld1q_f32(in))));
    std::memcpy(y + i, out, static_cast<size_t>(n - i) * sizeof(uint16_t));
  }
}

void float_from_half_a64(const uint16_t* x, float* y, int64_t n) {
  int64_t i = 0;
  for (; i + 4 <= n; i += 4) vst1q_f32(y + i, vcvt_f32_f16(vreinterpret_f16_u16(vld1_u16(x + i))));
  if (i < n) {
    uint16_t in[4] = {};
    float out[4];
    std::memcpy(in, x + i, static_cast<size_t>(n - i) * sizeof(uint16_t));
    vst1q_f32(out, vcvt_f32_f16(vreinterpret_f16_u16(vld1_u16(in))));
    std::memcpy(y + i, out, static_cast<size_t>(n - i) * sizeof(float));
  }
}
#endif

}  // namespace

const Kernels* kernels_neon() {
#if defined(__aarch64__)
  // Made on first use (no static initializer of another file can see it unmade).
  static const Kernels table = [] {
    Kernels k = kNeon;
    k.half_from_float = half_from_float_a64;
    k.float_from_half = float_from_half_a64;
    return k;
  }();
  return &table;
#else
  return platform::cpu_features().neon ? &kNeon : nullptr;
#endif
}

#else

const Kernels* kernels_neon() { return nullptr; }

#endif

}  // namespace fastmath
}  // namespace pionnx
