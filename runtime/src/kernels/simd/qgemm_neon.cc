// NEON micro-kernel for the integer GEMM (qgemm.cc): the shared int16-pair
// panel layout, 4 rows x 8 columns per step. vld2q_s16 splits a depth pair's
// eight (k, k+1) column pairs into the k and k+1 halves, and vmlal_lane_s16
// multiplies each half by a lane of the row's A values and widens into int32
// accumulators (8 q registers of accumulators, 4 for two depth pairs of B, 2
// for four rows' A: 14 of the 16 armv7 q registers).
//
// On armv7 only the *_neon.cc files are compiled with -mfpu=neon;
// qgemm.cc picks the kernel only when AT_HWCAP reports NEON
// (platform::cpu_features().neon).
#include "kernels/simd/qgemm_ukernel.h"

#if defined(__ARM_NEON) || defined(__ARM_NEON__)
#include <arm_neon.h>

namespace pionnx {
namespace simd {

namespace {

void kernel_neon(const int16_t* a, int64_t lda, int64_t kcp, const int16_t* b, int64_t ncp, int32_t (*acc)[kQNc]) {
  static_assert(kQRows == 4, "four rows of A per call");
  const int16_t *a0 = a, *a1 = a + lda, *a2 = a + 2 * lda, *a3 = a + 3 * lda;
  for (int64_t j0 = 0; j0 < ncp; j0 += 8) {
    // Named accumulators: row r, columns j0..j0+3 (lo) and j0+4..j0+7 (hi).
    int32x4_t c0l = vdupq_n_s32(0), c0h = c0l, c1l = c0l, c1h = c0l, c2l = c0l, c2h = c0l, c3l = c0l, c3h = c0l;
    const int16_t* bp = b + pair_index(kcp, 0, j0);
    const int64_t bstep = 2 * kQStrip;  // one depth pair of the strip
    int64_t kp = 0;
    // Two depth pairs per step: each row's four A values in one 64-bit load
    // (by-lane multiply-adds), instead of eight scalar loads moved into
    // vector lanes (llvm-mca, Cortex-A57: the scalar form was 48 % of peak on
    // armv7, its loads and moves outnumbering the multiply-adds).
    for (; kp + 2 <= kcp / 2; kp += 2, bp += 2 * bstep) {
      const int16x8x2_t p0 = vld2q_s16(bp), p1 = vld2q_s16(bp + bstep);  // k, k+1 | k+2, k+3
      const int16x4_t k0l = vget_low_s16(p0.val[0]), k0h = vget_high_s16(p0.val[0]);
      const int16x4_t k1l = vget_low_s16(p0.val[1]), k1h = vget_high_s16(p0.val[1]);
      const int16x4_t k2l = vget_low_s16(p1.val[0]), k2h = vget_high_s16(p1.val[0]);
      const int16x4_t k3l = vget_low_s16(p1.val[1]), k3h = vget_high_s16(p1.val[1]);
      // clang-format off
#define PIONNX_ROW(cl, ch, ap)                                                             \
  {                                                                                        \
    const int16x4_t av = vld1_s16((ap) + 2 * kp);                                          \
    cl = vmlal_lane_s16(vmlal_lane_s16(vmlal_lane_s16(vmlal_lane_s16(cl, k0l, av, 0), k1l, av, 1), k2l, av, 2), \
                        k3l, av, 3);                                                       \
    ch = vmlal_lane_s16(vmlal_lane_s16(vmlal_lane_s16(vmlal_lane_s16(ch, k0h, av, 0), k1h, av, 1), k2h, av, 2), \
                        k3h, av, 3);                                                       \
  }
      PIONNX_ROW(c0l, c0h, a0) PIONNX_ROW(c1l, c1h, a1) PIONNX_ROW(c2l, c2h, a2) PIONNX_ROW(c3l, c3h, a3)
#undef PIONNX_ROW
      // clang-format on
    }
    if (kp < kcp / 2) {  // an odd depth pair left
      const int16x8x2_t p0 = vld2q_s16(bp);
      const int16x4_t k0l = vget_low_s16(p0.val[0]), k0h = vget_high_s16(p0.val[0]);
      const int16x4_t k1l = vget_low_s16(p0.val[1]), k1h = vget_high_s16(p0.val[1]);
      // clang-format off
#define PIONNX_ROW(cl, ch, ap)                                           \
  {                                                                      \
    const int16_t x0 = (ap)[2 * kp], x1 = (ap)[2 * kp + 1];              \
    cl = vmlal_n_s16(vmlal_n_s16(cl, k0l, x0), k1l, x1);                 \
    ch = vmlal_n_s16(vmlal_n_s16(ch, k0h, x0), k1h, x1);                 \
  }
      PIONNX_ROW(c0l, c0h, a0) PIONNX_ROW(c1l, c1h, a1) PIONNX_ROW(c2l, c2h, a2) PIONNX_ROW(c3l, c3h, a3)
#undef PIONNX_ROW
      // clang-format on
    }
    vst1q_s32(acc[0] + j0, c0l);
    vst1q_s32(acc[0] + j0 + 4, c0h);
    vst1q_s32(acc[1] + j0, c1l);
    vst1q_s32(acc[1] + j0 + 4, c1h);
    vst1q_s32(acc[2] + j0, c2l);
    vst1q_s32(acc[2] + j0 + 4, c2h);
    vst1q_s32(acc[3] + j0, c3l);
    vst1q_s32(acc[3] + j0 + 4, c3h);
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
