// Internal to the SGEMM: the micro-kernel interface each instruction-set
// variant implements, and the packed-panel layout they all share.
//
// Packed A: MR-row panels, for each k the MR values of rows i..i+MR (zero
// padded), already scaled by alpha. Packed B: NR-column panels, for each k the
// NR values of columns j..j+NR (zero padded).
#pragma once
#include <cstdint>

namespace pionnx {
namespace simd {

// Computes the MR x NR product of one A panel and one B panel over kc steps
// and stores its top-left m x n corner into C (row stride ldc): C = acc, or
// C += acc when `accumulate`.
using SgemmMicroKernel = void (*)(int64_t kc, const float* a, const float* b, float* c, int64_t ldc, int m, int n,
                                  bool accumulate);

// The same product, finished as it is stored: row r of the tile gets
// bias[r] (when bias is not null), then res[r * ba.ldr + j] (when res is not
// null), then ba's activation (SgemmBiasAct in sgemm.h; ba.bias and
// ba.residual are not read: `bias` and `res` point at the tile's first row
// and column). Optional: a variant without one has the driver finish the
// tile in L1.
struct SgemmBiasAct;
using SgemmMicroKernelBiasAct = void (*)(int64_t kc, const float* a, const float* b, float* c, int64_t ldc, int m,
                                         int n, bool accumulate, const float* bias, const float* res,
                                         const SgemmBiasAct& ba);

// Vector times row-major matrix: y[j] = sum_k x[k] * m[k * ldm + j] for
// j in [0, n). The matrix-vector shape of RNN steps and batch-1 MatMul/Gemm,
// where a GEMM tile would be mostly padding.
using SgemvRowsKernel = void (*)(int64_t K, int64_t n, const float* x, const float* m, int64_t ldm, float* y);

// Matrix with contiguous rows times vector: y[j] = sum_k x[k] * m[j * ldm + k]
// for j in [0, n). Batch-1 Gemm with transB (a fully connected layer as
// exporters write it): one stream per weight row, bound by memory bandwidth.
using SgemvDotsKernel = void (*)(int64_t K, int64_t n, const float* x, const float* m, int64_t ldm, float* y);

// A band of up to MR rows of C over w columns with B read in place, not
// packed: B(k, t) = b[shift[k] + t] (a direct convolution's input rows, see
// SgemmShiftedB in sgemm.h). a is one packed A panel (kc steps); C(i, t) at
// c[i * ldc + t] for i < m, t < w is stored (never accumulated) and finished
// as SgemmMicroKernelBiasAct does (bias, res with ba.ldr, ba's activation).
// Reads up to nr - 1 floats past b[shift[k] + w - 1].
using SgemmShiftedKernel = void (*)(int64_t kc, const float* a, const float* b, const int64_t* shift, int64_t w,
                                    float* c, int64_t ldc, int m, const float* bias, const float* res,
                                    const SgemmBiasAct& ba);

// Finishes an m x n tile of C just stored (in L1) as SgemmMicroKernelBiasAct
// does in registers: row r gets bias[r] (bias not null), then res[r * ba.ldr +
// j] (res not null), then ba's activation. For kernels without a
// register epilogue (sgemm.cc's driver, the NEON in-place kernel).
void sgemm_finish_tile(const SgemmBiasAct& ba, const float* bias, const float* res, float* c, int64_t ldc, int64_t m,
                       int64_t n);

// sgemm_finish_transposed (sgemm.h) over rows [m0, m1) of Y.
using SgemmFinishTransposed = void (*)(const float* yt, int64_t ldt, int64_t P, int64_t m0, int64_t m1,
                                       const SgemmBiasAct& ba, float* y, int64_t ldy);

struct SgemmUKernel {
  int mr, nr;
  SgemmMicroKernel run;
  const char* isa;
  SgemvRowsKernel gemv_rows;
  SgemmMicroKernelBiasAct run_bias_act = nullptr;
  SgemvDotsKernel gemv_dots = nullptr;                // optional: the portable dot products otherwise
  SgemmShiftedKernel run_shifted = nullptr;           // optional: without it, sgemm_prepacked_shifted declines
  SgemmFinishTransposed finish_transposed = nullptr;  // optional: the portable loop otherwise
};

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
// The AVX2+FMA dot products (sgemm_avx2.cc), for the AVX-512 kernel as well.
void gemv_dots_avx2(int64_t K, int64_t n, const float* x, const float* m, int64_t ldm, float* y);
#endif

// Each returns nullptr when the variant is not compiled in or the CPU lacks
// the instructions it needs.
const SgemmUKernel* sgemm_ukernel_avx2();
const SgemmUKernel* sgemm_ukernel_avx512();
// NEON: nullptr when not compiled in; the caller checks platform::cpu_features().neon.
const SgemmUKernel* sgemm_ukernel_neon();
// aarch64's 8x8 kernel scheduled for in-order cores (Cortex-A53/A55/A35): nullptr
// elsewhere; the default where platform::cpu_features().arm_in_order.
const SgemmUKernel* sgemm_ukernel_neon_a53();

}  // namespace simd
}  // namespace pionnx
