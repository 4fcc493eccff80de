// NEON micro-kernel for the integer GEMM (qgemm.cc): the shared int16-pair
// panel layout, 4 rows x 8 columns per step. vld2q_s16 splits a step's eight
// (k, k+1) column pairs into the k and k+1 halves, and vmlal_n_s16 multiplies
// each half by the row's A value and widens into int32 accumulators (8 q
// registers of accumulators, 2 for B: all 16 armv7 q registers fit).
//
// On armv7 only this file (and sgemm_neon.cc) is compiled with -mfpu=neon;
// qgemm.cc picks the kernel only when AT_HWCAP reports NEON
// (platform::cpu_features().neon).
#include "kernels/simd/qgemm_ukernel.h"

#if defined(__ARM_NEON) || defined(__ARM_NEON__)
#include <arm_neon.h>

namespace pionnx {
namespace simd {

namespace {

void kernel_neon(const int16_t* a, int64_t lda, int64_t kcp, const int16_t* b, int64_t ncp, int32_t (*acc)[kQNc]) {
  for (int64_t j0 = 0; j0 < ncp; j0 += 8) {
    int32x4_t c[kQRows][2];
    for (int r = 0; r < kQRows; ++r) c[r][0] = c[r][1] = vdupq_n_s32(0);
    for (int64_t kp = 0; kp < kcp / 2; ++kp) {
      const int16x8x2_t bv = vld2q_s16(b + (kp * ncp + j0) * 2);  // val[0]: k, val[1]: k+1
      const int16x4_t k0lo = vget_low_s16(bv.val[0]), k0hi = vget_high_s16(bv.val[0]);
      const int16x4_t k1lo = vget_low_s16(bv.val[1]), k1hi = vget_high_s16(bv.val[1]);
      for (int r = 0; r < kQRows; ++r) {
        const int16_t a0 = a[r * lda + 2 * kp], a1 = a[r * lda + 2 * kp + 1];
        c[r][0] = vmlal_n_s16(vmlal_n_s16(c[r][0], k0lo, a0), k1lo, a1);
        c[r][1] = vmlal_n_s16(vmlal_n_s16(c[r][1], k0hi, a0), k1hi, a1);
      }
    }
    for (int r = 0; r < kQRows; ++r) {
      vst1q_s32(acc[r] + j0, c[r][0]);
      vst1q_s32(acc[r] + j0 + 4, c[r][1]);
    }
  }
}

}  // namespace

QPairKernel qgemm_kernel_neon() { return kernel_neon; }

}  // namespace simd
}  // namespace pionnx

#else

namespace pionnx {
namespace simd {
QPairKernel qgemm_kernel_neon() { return nullptr; }
}  // namespace simd
}  // namespace pionnx

#endif
