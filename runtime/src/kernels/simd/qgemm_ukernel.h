// Internal to the integer GEMM: the micro-kernel interfaces each
// instruction-set file implements (qgemm_sse2.cc, qgemm_avx2.cc,
// qgemm_vnni.cc, qgemm_amx.cc, qgemm_neon.cc) and the panel layouts they share with the
// driver (qgemm.cc).
#pragma once
#include <cstdint>

namespace pionnx {
namespace simd {

constexpr int64_t kQNc = 256;  // panel width (columns of B per panel)
constexpr int kQRows = 4;      // rows of A per micro-kernel call

// The int16-pair kernels. Depth is taken in pairs (k, k+1) so that one
// multiply-add of int16 pairs (x86 pmaddwd, NEON smlal pairs) consumes two
// depth steps. A packed panel of B is a row of strips of kQStrip columns,
// each strip contiguous (kcp * kQStrip int16: a 256-deep strip is 8 KiB, so
// it stays in L1 while every row of A passes it; a row-major panel put its
// depth rows a panel width apart, on a few L1 sets). Element (kp, j, t) =
// B[k0 + 2 kp + t][j0 + j] - zp at b[pair_index(kcp, kp, j) + t]; A rows
// are int16 (zero point subtracted) at a + r * lda, kcp (even) of them read;
// ncp is a multiple of kQStrip (a call may cover part of a panel: b at a
// strip's start, ncp its width). Padding is zero.
//
//   acc[r][0 .. ncp) = sum_k a[r * lda + k] * B(k, j)   for kQRows rows.
constexpr int64_t kQStrip = 16;
inline int64_t pair_index(int64_t kcp, int64_t kp, int64_t j) {
  return (j / kQStrip) * kcp * kQStrip + (kp * kQStrip + j % kQStrip) * 2;
}
using QPairKernel = void (*)(const int16_t* a, int64_t lda, int64_t kcp, const int16_t* b, int64_t ncp,
                             int32_t (*acc)[kQNc]);

// Packs kc rows of nc columns of 8-bit B (B at the block's first element, leading dimension ldb; int8 when
// b_signed) less one zero point into the int16-pair layout above, kc rounded up to even and nc up to ncp with
// zeros (an instruction set's packer; the driver's portable one takes per-column zero points too).
using QPairPackB = void (*)(const void* B, int64_t ldb, bool b_signed, int32_t zp, int64_t kc, int64_t nc, int64_t ncp,
                            int16_t* out);

// The u8 x s8 quad kernels (VNNI vpdpbusd, AMX tdpbusd): A rows as uint8
// with leading dimension lda, m of them (a multiple of the kernel's
// row_align; rows past the product's are zero), B as int8 with depth in
// quads, element (kq, j, t) at b[(kq * ncp + j) * 4 + t]; kcq a multiple of
// the kernel's depth_align (A and B zero there), ncp of 32. Sums go to
// acc[r * ldacc + j] for r < m, j < ncp, added to what is there when
// `accumulate` (the depth blocks of one product sum in place):
//
//   acc[r][0 .. ncp) (+)= sum_k a[r * lda + k] * B(k, j)   for r < m.
using QQuadKernel = void (*)(const uint8_t* a, int64_t lda, int64_t m, int64_t kcq, const int8_t* b, int64_t ncp,
                             int32_t* acc, int64_t ldacc, bool accumulate);

// Packs kc rows of nc columns of B (B points at the block's first element,
// leading dimension ldb) into the quad layout above, uint8 made int8 (v - 128)
// unless b_signed, and adds each column's packed values into colsum[j]. The
// panel (kc rounded up to quads) and colsum arrive zeroed.
using QQuadPackB = void (*)(const void* B, int64_t ldb, bool b_signed, int64_t kc, int64_t nc, int64_t ncp,
                            int8_t* panel, int32_t* colsum);

// A block of a float output with per-tensor zero points (MatMulIntegerToFloat),
// for r < rows, j < n:
//   out[r * ldout + j] = float(acc[r * ldacc + j] - colterm[j] - rowterm[r])
//                        * scale[scale_per_col ? j : 0] (+ bias[j] when bias is not null).
// One call per task's block: per row, a call's set-up cost as much as a
// 64-column row's work.
using QQuadFinishFloat = void (*)(const int32_t* acc, int64_t ldacc, const int32_t* colterm, const int32_t* rowterm,
                                  int64_t rows, int64_t n, const float* scale, bool scale_per_col, const float* bias,
                                  float* out, int64_t ldout);

struct QQuadUKernel {
  QQuadKernel run;
  QQuadPackB pack_b;
  int row_align = kQRows;  // m is a multiple of this
  int depth_align = 4;     // kcq is a multiple of this
  // Whole of K in one call where a prepacked B's depth blocks lie end to end
  // (full-width panels): no partial sums to reload between depth blocks.
  bool whole_depth = false;
  QQuadFinishFloat finish_float = nullptr;  // optional: the driver's loop otherwise
  // Optional: called by the driver around each thread's run of tasks in one
  // product (AMX loads its tile configuration once there, not per call).
  void (*enter)() = nullptr;
  void (*leave)() = nullptr;
  // Required: out[r] = sum of a[r * lda + k] over k < K for r < rows (A's
  // side of the zero-point terms).
  void (*row_sums)(const uint8_t* a, int64_t lda, int64_t rows, int64_t K, int32_t* out) = nullptr;
};

#if (defined(__x86_64__) || (defined(__i386__) && defined(__SSE2__))) && (defined(__GNUC__) || defined(__clang__))
// The quad packer of qgemm_vnni.cc (a QQuadPackB) and its AVX-512 float
// finish, AMX's as well.
void pack_b_quads(const void* B, int64_t ldb, bool b_signed, int64_t kc, int64_t nc, int64_t ncp, int8_t* panel,
                  int32_t* colsum);
void finish_float_avx512(const int32_t* acc, int64_t ldacc, const int32_t* colterm, const int32_t* rowterm,
                         int64_t rows, int64_t n, const float* scale, bool scale_per_col, const float* bias, float* out,
                         int64_t ldout);
// Row sums of uint8 A by vpsadbw, 32 bytes a step (a QQuadUKernel::row_sums
// for the VNNI and AMX kernels; the plain loop widened every byte to 32 bits:
// a seventh of a 128x256x1024 product on AMX).
void row_sums_avx2(const uint8_t* a, int64_t lda, int64_t rows, int64_t K, int32_t* out);
#endif

// Each returns nullptr when the variant is not compiled in or (x86) the CPU
// lacks the instructions it needs. NEON: nullptr when not compiled in (x86,
// or armv7 without the per-file -mfpu=neon); the CPU check is the caller's
// (platform::cpu_features().neon).
QPairKernel qgemm_kernel_sse2();
QPairKernel qgemm_kernel_avx2();
QPairPackB qgemm_pack_b_avx2();  // (nullptr where qgemm_kernel_avx2 is)
// The int16-pair path's float finish (QGemmArgs::Cf) for a block of rows: out[r * ldout + j] =
// float(acc[r * ldacc + j]) * scale[scale_per_col ? j : 0] (+ bias[j]), multiplied and added as two roundings
// (the driver's store_float's bits); nullptr where qgemm_kernel_avx2 is.
using QPairFinishFloat = void (*)(const int32_t* acc, int64_t ldacc, int64_t rows, int64_t n, const float* scale,
                                  bool scale_per_col, const float* bias, float* out, int64_t ldout);
QPairFinishFloat qgemm_finish_float_avx2();
QPairKernel qgemm_kernel_neon();
const QQuadUKernel* qgemm_ukernel_vnni();     // 256-bit AVX512-VL registers
const QQuadUKernel* qgemm_ukernel_vnni512();  // 512-bit registers
const QQuadUKernel* qgemm_ukernel_amx();      // AMX tiles (qgemm_amx.cc), B packed as for VNNI

}  // namespace simd
}  // namespace pionnx
