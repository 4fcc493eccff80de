// Single-precision GEMM for the CNN hot path (MatMul, Gemm, Conv).
//
// A packed, cache-blocked SGEMM: panels of op(A) and op(B) are copied into
// contiguous buffers and a register-blocked micro-kernel computes MR x NR
// tiles of C. The micro-kernel is chosen once per process from what the CPU
// reports (portable C++ everywhere, AVX2+FMA / AVX-512 on x86-64, NEON on
// aarch64 and on armv7 boards whose kernel reports it in AT_HWCAP).
#pragma once
#include <cstdint>
#include <functional>
#include <vector>

namespace pionnx {
class ThreadPool;
namespace simd {

// C = alpha * op(A) * op(B) + beta * C, all row-major.
// op(A) is M x K: element (i, k) is A[i * lda + k], or A[k * lda + i] when
// trans_a. op(B) is K x N: element (k, j) is B[k * ldb + j], or
// B[j * ldb + k] when trans_b. With beta == 0, C is not read (may hold NaN).
// Splits the work over `pool` when given and the problem is big enough.
void sgemm(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, float alpha, const float* A, int64_t lda,
           const float* B, int64_t ldb, float beta, float* C, int64_t ldc, ThreadPool* pool = nullptr);

// op(A) packed once for many products with the same left operand (constant
// Conv/Gemm weights). Tied to the micro-kernel chosen at start-up.
struct SgemmPackedA {
  int64_t M = 0, K = 0;
  int mr = 0;
  std::vector<float> data;
};
SgemmPackedA sgemm_pack_a(bool trans_a, int64_t M, int64_t K, const float* A, int64_t lda);
// C = packed A * op(B) + beta * C (alpha = 1); op(B) is K x N as in sgemm.
// What is done to C as it is finished, for Conv's bias and activation:
// * `bias_act`, the common case: C(i, j) = act(C(i, j) + bias[i]
//   + residual[i * ldr + j]) (i, j of the whole product; no bias or no
//   residual: without that term; None and neither: C untouched; the
//   residual is com.microsoft FusedConv's Z), applied to each tile as the
//   micro-kernel stores it (in registers where the kernel can, AVX2; else
//   over the tile while it is in L1). act: None; Relu (v > 0 ? v : 0, so NaN
//   gives 0); Clip (min(max(v, lo), hi), NaN kept).
// * `fn`, when set, instead: called on each finished block of C (rows
//   [i0, i1), columns [j0, j1) of the whole product; `c` points at C(i0, j0))
//   while it is still in cache. Must touch only that block; may run on any
//   pool thread.
struct SgemmBiasAct {
  enum Act : int { None, Relu, Clip };
  const float* bias = nullptr;
  Act act = None;
  float lo = 0.f, hi = 0.f;
  const float* residual = nullptr;
  int64_t ldr = 0;
  bool active() const { return bias != nullptr || act != None || residual != nullptr; }
};
struct SgemmEpilogue {
  SgemmBiasAct bias_act;
  std::function<void(int64_t i0, int64_t i1, int64_t j0, int64_t j1, float* c, int64_t ldc)> fn;
};

void sgemm_prepacked(const SgemmPackedA& a, bool trans_b, int64_t N, const float* B, int64_t ldb, float beta, float* C,
                     int64_t ldc, ThreadPool* pool = nullptr, const SgemmEpilogue* epilogue = nullptr);

// A source of op(B) for products whose B is never materialised (implicit
// im2col): packs depth rows [k0, k0 + kc) x columns [j0, j0 + nc) into
// nr-wide panels, zero padded: panel p at out + p * nr * kc, element (k, j)
// of it at [k * nr + j]. Called from several threads at once.
using SgemmPackB = std::function<void(int64_t k0, int64_t kc, int64_t j0, int64_t nc, int nr, float* out)>;
// C (M x N) = packed A * B + beta * C with B supplied by `pack_b`.
void sgemm_prepacked_fn(const SgemmPackedA& a, int64_t N, const SgemmPackB& pack_b, float beta, float* C, int64_t ldc,
                        ThreadPool* pool = nullptr, const SgemmEpilogue* epilogue = nullptr);

// B read in place, never packed (a direct convolution): its columns come in
// rows of `width` (an output row of the convolution; column j is (j /
// width, j % width)), and B(k, j) = base[(j / width) * stride + j % width +
// shift[k]], shift holding K offsets. The buffer must hold the nr floats
// (sgemm_tile) past the last element any (k, j) names: the micro-kernel
// reads whole vectors.
struct SgemmShiftedB {
  const float* base = nullptr;
  const int64_t* shift = nullptr;
  int64_t width = 0, stride = 0;
};
// C (M x N, N a multiple of b.width) = packed A * B, finished by `epilogue`,
// over `pool` by rows of B. Returns false, doing nothing, where the active
// micro-kernel has no in-place variant (then pack B instead).
bool sgemm_prepacked_shifted(const SgemmPackedA& a, int64_t N, const SgemmShiftedB& b, float* C, int64_t ldc,
                             ThreadPool* pool = nullptr, const SgemmEpilogue* epilogue = nullptr);
// Whether sgemm_prepacked_shifted runs on this CPU's micro-kernel.
bool sgemm_has_shifted();

// op(B) packed once for many products with the same right operand (constant
// MatMul/Gemm weights with many rows of A: a transformer's projections), in
// the panels the SGEMM reads, block by block of depth. Tied to the
// micro-kernel and block sizes chosen at start-up.
struct SgemmPackedB {
  int64_t K = 0, N = 0, kc = 0, n_padded = 0;
  int nr = 0;
  std::vector<float> data;
};
SgemmPackedB sgemm_pack_b(bool trans_b, int64_t K, int64_t N, const float* B, int64_t ldb);
// C (M x N) = alpha * op(A) * packed B + beta * C.
void sgemm_packed_b(bool trans_a, int64_t M, float alpha, const float* A, int64_t lda, const SgemmPackedB& b,
                    float beta, float* C, int64_t ldc, ThreadPool* pool = nullptr);

// Rows [m0, m1) of Y (row stride ldy) from a product computed transposed,
// Yt (P x M, row stride ldt): Y(m, p) = act(Yt(p, m) + bias[m] +
// residual[m * ldr + p]), ba's terms as in SgemmEpilogue (bias, residual
// and act optional). A convolution over a small map computed as Y^T (conv.cc)
// finishes this way; the AVX-512 kernel transposes 16 x 16 blocks in
// registers, the others go element by element.
void sgemm_finish_transposed(const float* yt, int64_t ldt, int64_t P, int64_t m0, int64_t m1, const SgemmBiasAct& ba,
                             float* y, int64_t ldy);

// The micro-kernel's tile: rows (mr) by columns (nr) of C per call.
struct SgemmTile {
  int mr, nr;
};
SgemmTile sgemm_tile();

// Name of the micro-kernel in use: "avx512", "avx2", "neon", "neon_a53", "generic".
// PIONNX_SGEMM=generic|neon|neon_a53|avx2|avx512 caps the choice (read once).
const char* sgemm_isa();

}  // namespace simd
}  // namespace pionnx
