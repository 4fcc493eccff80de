// NEON micro-kernel for the integer GEMM (qgemm.cc): the shared int16-pair
// panel layout. vld2q_s16 splits a depth pair's eight (k, k+1) column pairs
// into the k and k+1 halves, and vmlal_lane_s16 multiplies each half by a lane
// of the row's A values and widens into int32 accumulators. armv7: 4 rows x 8
// columns per step (8 q registers of accumulators, 4 for two depth pairs of B,
// 2 for four rows' A: 14 of the 16 q registers). aarch64: 4 rows x 16 columns
// (a whole strip), eight depth pairs at a time in inline assembly (below).
//
// On armv7 only the *_neon.cc files are compiled with -mfpu=neon;
// qgemm.cc picks the kernel only when AT_HWCAP reports NEON
// (platform::cpu_features().neon).
#include "kernels/simd/qgemm_ukernel.h"

#if defined(__ARM_NEON) || defined(__ARM_NEON__)
#include <arm_neon.h>

#include "kernels/simd/neon_madd.h"

namespace pionnx {
namespace simd {

namespace {

#if defined(__aarch64__)
// aarch64: a whole 16-column strip per pass, 4 rows x 16 columns in 16
// accumulators (v16-v31: row r, columns 4v..4v+3 in v(16+4r+v)), each row's A
// for four depth pairs in one q register (its lanes by smlal's element form),
// B's pair as two ld2 (columns 0-7 and 8-15, each split into its k and k+1
// halves).
//
// Eight depth pairs at a time in inline assembly, scheduled for in-order
// cores: LLVM's Cortex-A53 model writes back in order, so a load or add
// straight after a 6-cycle smlal waits for it, except ld2 (7 cycles). The
// next pair's two ld2 go among each pair's smlal (two B sets, v8-v11 and
// v12-v15), the next four pairs' A loads (two A sets, v0-v3 and v4-v7) in one
// group, the address adds twice per eight pairs: 90 % of the A53 model's peak
// (python -m ci.bench.neon_mca), where the compiled form of the same tile
// spent 14 register moves and 10 adds per four pairs (72 %; GCC's 4x8 form
// before it 49 %). The last block loads nothing past its own pairs; the pairs
// left over (kcp / 2 % 8) run in C.
// clang-format off
#define PIONNX_Q_SM(c, b, a, lane) "smlal v" #c ".4s, v" #b ".4h, v" #a ".h[" #lane "]\n\t"
#define PIONNX_Q_SM2(c, b, a, lane) "smlal2 v" #c ".4s, v" #b ".8h, v" #a ".h[" #lane "]\n\t"
#define PIONNX_Q_ROW(a, lane, lo, hi, c0, c1, c2, c3) \
  PIONNX_Q_SM(c0, lo, a, lane) PIONNX_Q_SM2(c1, lo, a, lane) PIONNX_Q_SM(c2, hi, a, lane) PIONNX_Q_SM2(c3, hi, a, lane)
#define PIONNX_Q_HALF(a0, a1, a2, a3, lane, lo, hi)                                      \
  PIONNX_Q_ROW(a0, lane, lo, hi, 16, 17, 18, 19) PIONNX_Q_ROW(a1, lane, lo, hi, 20, 21, 22, 23) \
  PIONNX_Q_ROW(a2, lane, lo, hi, 24, 25, 26, 27) PIONNX_Q_ROW(a3, lane, lo, hi, 28, 29, 30, 31)
// One depth pair: A set X (v0-v3) or Y (v4-v7) at lanes lk (k) and lk1
// (k + 1), B set 0 (v8-v11) or 1 (v12-v15); `lo` and `hi` (the next pair's
// loads into the other set) go before its first and second row: two ld2 back
// to back would hold the second, and every multiply-add behind it, for the
// load unit (4 cycles in the A53 model).
#define PIONNX_Q_PAIR(a0, a1, a2, a3, lk, lk1, lo0, lo1, hi0, hi1, lo, hi)                                  \
  lo PIONNX_Q_ROW(a0, lk, lo0, hi0, 16, 17, 18, 19) hi PIONNX_Q_ROW(a1, lk, lo0, hi0, 20, 21, 22, 23)        \
  PIONNX_Q_ROW(a2, lk, lo0, hi0, 24, 25, 26, 27) PIONNX_Q_ROW(a3, lk, lo0, hi0, 28, 29, 30, 31)             \
  PIONNX_Q_HALF(a0, a1, a2, a3, lk1, lo1, hi1)
#define PIONNX_Q_X0(lk, lk1, lo, hi) PIONNX_Q_PAIR(0, 1, 2, 3, lk, lk1, 8, 9, 10, 11, lo, hi)
#define PIONNX_Q_X1(lk, lk1, lo, hi) PIONNX_Q_PAIR(0, 1, 2, 3, lk, lk1, 12, 13, 14, 15, lo, hi)
#define PIONNX_Q_Y0(lk, lk1, lo, hi) PIONNX_Q_PAIR(4, 5, 6, 7, lk, lk1, 8, 9, 10, 11, lo, hi)
#define PIONNX_Q_Y1(lk, lk1, lo, hi) PIONNX_Q_PAIR(4, 5, 6, 7, lk, lk1, 12, 13, 14, 15, lo, hi)
#define PIONNX_Q_L0(ptr) "ld2 {v8.8h, v9.8h}, [%[" #ptr "]]\n\t"
#define PIONNX_Q_H0(ptr) "ld2 {v10.8h, v11.8h}, [%[" #ptr "]]\n\t"
#define PIONNX_Q_L1(ptr) "ld2 {v12.8h, v13.8h}, [%[" #ptr "]]\n\t"
#define PIONNX_Q_H1(ptr) "ld2 {v14.8h, v15.8h}, [%[" #ptr "]]\n\t"
#define PIONNX_Q_AX(off) \
  "ldr q0, [%[a0], #" #off "]\n\t" "ldr q1, [%[a1], #" #off "]\n\t" "ldr q2, [%[a2], #" #off "]\n\t" "ldr q3, [%[a3], #" #off "]\n\t"
#define PIONNX_Q_AY(off) \
  "ldr q4, [%[a0], #" #off "]\n\t" "ldr q5, [%[a1], #" #off "]\n\t" "ldr q6, [%[a2], #" #off "]\n\t" "ldr q7, [%[a3], #" #off "]\n\t"
#define PIONNX_Q_BADD                                                                                 \
  "add %[b0], %[b0], #256\n\t" "add %[b1], %[b1], #256\n\t" "add %[b2], %[b2], #256\n\t" "add %[b3], %[b3], #256\n\t" \
  "add %[b4], %[b4], #256\n\t" "add %[b5], %[b5], #256\n\t" "add %[b6], %[b6], #256\n\t" "add %[b7], %[b7], #256\n\t"
#define PIONNX_Q_AADD \
  "add %[a0], %[a0], #32\n\t" "add %[a1], %[a1], #32\n\t" "add %[a2], %[a2], #32\n\t" "add %[a3], %[a3], #32\n\t"
// Eight depth pairs, entered with pair 0's B in set 0 and pairs 0-3's A in X;
// `next_a`, `next_lo`, `next_hi` load the next block's (pairs 0-3's A, pair
// 0's B) and `tail` ends the block (the adds, and the counter in the loop).
#define PIONNX_Q_BLOCK(next_a, tail, next_lo, next_hi)                           \
  PIONNX_Q_X0(0, 1, PIONNX_Q_L1(b2), PIONNX_Q_H1(b3))                            \
  PIONNX_Q_AY(16) PIONNX_Q_X1(2, 3, PIONNX_Q_L0(b4), PIONNX_Q_H0(b5))            \
  PIONNX_Q_X0(4, 5, PIONNX_Q_L1(b6), PIONNX_Q_H1(b7))                            \
  PIONNX_Q_BADD PIONNX_Q_X1(6, 7, PIONNX_Q_L0(b0), PIONNX_Q_H0(b1))              \
  PIONNX_Q_Y0(0, 1, PIONNX_Q_L1(b2), PIONNX_Q_H1(b3))                            \
  next_a PIONNX_Q_Y1(2, 3, PIONNX_Q_L0(b4), PIONNX_Q_H0(b5))                     \
  PIONNX_Q_Y0(4, 5, PIONNX_Q_L1(b6), PIONNX_Q_H1(b7))                            \
  tail PIONNX_Q_Y1(6, 7, next_lo, next_hi)
// clang-format on

// One depth pair of a strip, in int16: columns 0-7, then 8-15 at kPair / 2.
constexpr int64_t kPair = 2 * kQStrip;

// The first 8 * blocks depth pairs of one strip's 4x16 tile into acc rows
// r0..r3 (stored, not added).
__attribute__((always_inline)) inline void strip_blocks(const int16_t* const ar[4], const int16_t* bp, int64_t blocks,
                                                        int32_t* r0, int32_t* r1, int32_t* r2, int32_t* r3) {
  const int16_t *a0 = ar[0], *a1 = ar[1], *a2 = ar[2], *a3 = ar[3];
  // Pairs 0-3's halves (the adds in the assembly step them 4 * kPair int16, 256 bytes).
  const int16_t *b0 = bp, *b1 = bp + kPair / 2, *b2 = bp + kPair, *b3 = b2 + kPair / 2, *b4 = bp + 2 * kPair,
                *b5 = b4 + kPair / 2, *b6 = bp + 3 * kPair, *b7 = b6 + kPair / 2;
  uint64_t loops = static_cast<uint64_t>(blocks) - 1;
  // clang-format off
  __asm__ __volatile__(
      PIONNX_A64_ZERO_V16_V31
      PIONNX_Q_AX(0) PIONNX_Q_L0(b0) PIONNX_Q_H0(b1)
      "cbz %[loops], 2f\n"
      "1:\n\t"
      PIONNX_Q_BLOCK(PIONNX_Q_AX(32), PIONNX_Q_BADD PIONNX_Q_AADD "subs %[loops], %[loops], #1\n\t",
                     PIONNX_Q_L0(b0), PIONNX_Q_H0(b1))
      "b.ne 1b\n"
      "2:\n\t"
      PIONNX_Q_BLOCK(, , , )
      "st1 {v16.4s, v17.4s, v18.4s, v19.4s}, [%[r0]]\n\t"
      "st1 {v20.4s, v21.4s, v22.4s, v23.4s}, [%[r1]]\n\t"
      "st1 {v24.4s, v25.4s, v26.4s, v27.4s}, [%[r2]]\n\t"
      "st1 {v28.4s, v29.4s, v30.4s, v31.4s}, [%[r3]]\n\t"
      : [a0] "+r"(a0), [a1] "+r"(a1), [a2] "+r"(a2), [a3] "+r"(a3), [b0] "+r"(b0), [b1] "+r"(b1), [b2] "+r"(b2),
        [b3] "+r"(b3), [b4] "+r"(b4), [b5] "+r"(b5), [b6] "+r"(b6), [b7] "+r"(b7), [loops] "+r"(loops)
      : [r0] "r"(r0), [r1] "r"(r1), [r2] "r"(r2), [r3] "r"(r3)
      : PIONNX_A64_CLOBBERS);
  // clang-format on
}

#undef PIONNX_Q_SM
#undef PIONNX_Q_SM2
#undef PIONNX_Q_ROW
#undef PIONNX_Q_HALF
#undef PIONNX_Q_X0
#undef PIONNX_Q_X1
#undef PIONNX_Q_Y0
#undef PIONNX_Q_Y1
#undef PIONNX_Q_PAIR
#undef PIONNX_Q_L0
#undef PIONNX_Q_H0
#undef PIONNX_Q_L1
#undef PIONNX_Q_H1
#undef PIONNX_Q_AX
#undef PIONNX_Q_AY
#undef PIONNX_Q_BADD
#undef PIONNX_Q_AADD
#undef PIONNX_Q_BLOCK

void kernel_neon(const int16_t* a, int64_t lda, int64_t kcp, const int16_t* b, int64_t ncp, int32_t (*acc)[kQNc]) {
  static_assert(kQRows == 4 && kQStrip == 16, "four rows of A per call, 16-column strips");
  const int16_t* ar[4] = {a, a + lda, a + 2 * lda, a + 3 * lda};
  const int64_t pairs = kcp / 2, blocks = pairs / 8;
  for (int64_t j0 = 0; j0 < ncp; j0 += kQStrip) {
    const int16_t* bp = b + pair_index(kcp, 0, j0);
    int32x4_t c[4][4];
    int64_t kp = 0;
    if (blocks > 0) {
      strip_blocks(ar, bp, blocks, acc[0] + j0, acc[1] + j0, acc[2] + j0, acc[3] + j0);
      kp = 8 * blocks;
      bp += kp * kPair;
      for (int r = 0; r < 4; ++r)
        for (int v = 0; v < 4; ++v) c[r][v] = vld1q_s32(acc[r] + j0 + 4 * v);
      if (kp == pairs) continue;
    } else {
      for (auto& row : c)
        for (auto& v : row) v = vdupq_n_s32(0);
    }
    // The pairs left: four at a time (A by lanes), then one at a time.
#define PIONNX_PAIR(P)                                                                                \
  {                                                                                                   \
    const int16x8x2_t lo = vld2q_s16(bp + kPair * (P)), hi = vld2q_s16(bp + kPair * (P) + kPair / 2); \
    for (int r = 0; r < 4; ++r) {                                                                     \
      c[r][0] = vmlal_laneq_s16(c[r][0], vget_low_s16(lo.val[0]), av[r], 2 * (P));                    \
      c[r][1] = vmlal_high_laneq_s16(c[r][1], lo.val[0], av[r], 2 * (P));                             \
      c[r][2] = vmlal_laneq_s16(c[r][2], vget_low_s16(hi.val[0]), av[r], 2 * (P));                    \
      c[r][3] = vmlal_high_laneq_s16(c[r][3], hi.val[0], av[r], 2 * (P));                             \
      c[r][0] = vmlal_laneq_s16(c[r][0], vget_low_s16(lo.val[1]), av[r], 2 * (P) + 1);                \
      c[r][1] = vmlal_high_laneq_s16(c[r][1], lo.val[1], av[r], 2 * (P) + 1);                         \
      c[r][2] = vmlal_laneq_s16(c[r][2], vget_low_s16(hi.val[1]), av[r], 2 * (P) + 1);                \
      c[r][3] = vmlal_high_laneq_s16(c[r][3], hi.val[1], av[r], 2 * (P) + 1);                         \
    }                                                                                                 \
  }
    for (; kp + 4 <= pairs; kp += 4, bp += 4 * kPair) {
      const int16x8_t av[4] = {vld1q_s16(ar[0] + 2 * kp), vld1q_s16(ar[1] + 2 * kp), vld1q_s16(ar[2] + 2 * kp),
                               vld1q_s16(ar[3] + 2 * kp)};
      PIONNX_PAIR(0) PIONNX_PAIR(1) PIONNX_PAIR(2) PIONNX_PAIR(3)
    }
#undef PIONNX_PAIR
    for (; kp < pairs; ++kp, bp += kPair) {
      const int16x8x2_t lo = vld2q_s16(bp), hi = vld2q_s16(bp + kPair / 2);
      for (int r = 0; r < 4; ++r) {
        const int16_t x0 = ar[r][2 * kp], x1 = ar[r][2 * kp + 1];
        c[r][0] = vmlal_n_s16(vmlal_n_s16(c[r][0], vget_low_s16(lo.val[0]), x0), vget_low_s16(lo.val[1]), x1);
        c[r][1] = vmlal_high_n_s16(vmlal_high_n_s16(c[r][1], lo.val[0], x0), lo.val[1], x1);
        c[r][2] = vmlal_n_s16(vmlal_n_s16(c[r][2], vget_low_s16(hi.val[0]), x0), vget_low_s16(hi.val[1]), x1);
        c[r][3] = vmlal_high_n_s16(vmlal_high_n_s16(c[r][3], hi.val[0], x0), hi.val[1], x1);
      }
    }
    for (int r = 0; r < 4; ++r)
      for (int v = 0; v < 4; ++v) vst1q_s32(acc[r] + j0 + 4 * v, c[r][v]);
  }
}
#else
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
#endif

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
