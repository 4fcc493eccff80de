// Integer GEMM for quantized inference: 8-bit x 8-bit -> int32.
//
//   C[i, j] (+)= sum_k (A[i, k] - a_zp[i]) * (B[k, j] - b_zp[j])
//
// A and B hold uint8 or int8 elements (the flag says which). Zero points are
// per tensor (one value) or per row of A / per column of B, so the same call
// serves MatMulInteger, QLinearMatMul, QGemm and ConvInteger/QLinearConv
// (weights as A with per-output-channel zero points, im2col columns as B).
// Products of zero-point-shifted 8-bit values fit 17 bits, so int32 sums
// are exact for any K below 32768.
//
// Panels of B are packed as int16 (zero point already subtracted) with depth
// in pairs, and a micro-kernel chosen once at start-up multiplies 4 rows of
// A against them: AVX2 or SSE2 pmaddwd on x86, NEON smlal on ARM, portable
// C++ elsewhere; on AVX512-VNNI parts, u8 x s8 quads (vpdpbusd) with the zero
// points applied from row and column sums, and on AMX parts the same quads
// as tiles (tdpbusd). One file per instruction set
// (qgemm_<isa>.cc); qgemm.cc is the driver.
#pragma once
#include <cstdint>
#include <vector>

namespace pionnx {
class ThreadPool;
namespace simd {

struct QGemmPackedB;
struct QGemmPreparedA;

struct QGemmArgs {
  int64_t M = 0, N = 0, K = 0;
  // A: M x K, row-major with leading dimension lda.
  const void* A = nullptr;
  int64_t lda = 0;
  bool a_signed = false;
  // nullptr = 0; else a_zp[0] (a_zp_per_row false) or a_zp[i].
  const int32_t* a_zp = nullptr;
  bool a_zp_per_row = false;
  // B: K x N, row-major with leading dimension ldb.
  const void* B = nullptr;
  int64_t ldb = 0;
  bool b_signed = false;
  const int32_t* b_zp = nullptr;  // nullptr = 0; else b_zp[0] or b_zp[j]
  bool b_zp_per_col = false;
  // C: M x N int32 with leading dimension ldc. accumulate: C += product.
  int32_t* C = nullptr;
  int64_t ldc = 0;
  bool accumulate = false;
  // B (with b_zp applied) as qgemm_pack_b made it, or nullptr: B is packed
  // during the call. Must come from the same B, zero points, K and N.
  const QGemmPackedB* packed_b = nullptr;
  // A (with a_zp applied) as qgemm_prepare_a made it, or nullptr: A is
  // prepared during the call. Must come from the same A, zero points, M and K
  // and a B of the same signedness and zero points.
  const QGemmPreparedA* prepared_a = nullptr;
  // Float output (MatMulIntegerToFloat): when Cf is set (and not
  // accumulate), each finished sum is written as Cf[i * ldcf + j] =
  // float(sum) * scale[scale_per_col ? j : 0], then + bias[j] when bias is
  // set, as it leaves the micro-kernel; C is then only scratch for the
  // partial sums of a K longer than one depth block, and may be nullptr
  // (qgemm allocates such scratch where its path needs it).
  float* Cf = nullptr;
  int64_t ldcf = 0;
  const float* scale = nullptr;
  bool scale_per_col = false;
  const float* bias = nullptr;
  // The output's columns are read by heads, each head by one thread (an
  // attention, see KernelInfo::output_heads): on several threads the product
  // then splits its columns between them, in order, instead of its rows, so
  // the calling thread makes the front heads' columns, which the attention's
  // calling thread reads.
  bool split_columns = false;
  // Rows handed over instead of stored (QLinearConv's requantization to 8 bits): when row_out is set (and neither
  // accumulate nor Cf), each finished block of rows goes to row_out(row_out_ctx, i, rows, j, v, ldv, n, sub,
  // row_sub) -- the n sums from column j on of rows i .. i + rows - 1, row r's at v + r * ldv, in the cache still:
  // the values themselves when sub is nullptr, else v[t] - sub[t] - row_sub[r] (the quad kernels' raw sums and
  // zero-point terms, taken off by the receiver in its own pass; each fits in int32 where the sum does) -- and
  // nothing is written to C, which may be nullptr (scratch is made where a path needs it). A block of rows in one
  // call: a call per row of 256 sums cost a third as much as their requantization. Called from the pool's
  // threads, each (row, j) once.
  void (*row_out)(const void* ctx, int64_t i, int64_t rows, int64_t j, const int32_t* v, int64_t ldv, int64_t n,
                  const int32_t* sub, const int32_t* row_sub) = nullptr;
  const void* row_out_ctx = nullptr;
};

// B packed once for many products (constant MatMulInteger weights): the
// panels the call would otherwise build on every run. The int16-pair kernels
// use `data` (zero point subtracted); the VNNI paths `quads` (int8 with depth
// in quads, uint8 shifted by -128) and each column's sum of them over all of
// K (`colsum`, for the zero-point terms). Only the active path's are filled.
struct QGemmPackedB {
  int64_t K = 0, N = 0;
  std::vector<int16_t> data;
  std::vector<int8_t> quads;
  std::vector<int32_t> colsum;
};
QGemmPackedB qgemm_pack_b(const QGemmArgs& args);

// A prepared once for many products (a convolution's constant weights, A of
// every call of the node): what each call otherwise makes from A. The quad
// paths' A as their kernels read it (int8 + 128 as uint8, depth and rows
// padded; `quads` empty where A is read in place) and its row sums (for B's
// zero-point term; `sums` says whether they were made), the int16-pair
// kernels' rows with the zero point subtracted. Only the active path's part
// is filled.
struct QGemmPreparedA {
  int64_t M = 0, K = 0;
  std::vector<uint8_t> quads;
  int64_t quad_lda = 0;
  std::vector<int32_t> rowsum;
  bool sums = false;
  std::vector<int16_t> pairs;
  int64_t pair_lda = 0;
};
QGemmPreparedA qgemm_prepare_a(const QGemmArgs& args);

// Splits the work over `pool` when given and the problem is big enough.
void qgemm(const QGemmArgs& args, ThreadPool* pool = nullptr);

// Name of the micro-kernel in use: "generic", "neon", "sse2", "avx2", "vnni", "vnni512", "amx".
const char* qgemm_isa();

// Whether a quantized convolution on the active path beats the float one it stands for, so the QDQ fusion
// (optimize/quant_fusion.cc) runs: the quad kernels (a QDQ MobileNetV2 0.78 of its float form's time on a VNNI
// Xeon) and AVX2's int16-pair kernel (0.81 on an AMD EPYC Zen 3), not the portable, SSE2 or NEON ones.
bool qgemm_int8_conv_fast();

}  // namespace simd
}  // namespace pionnx
