// AVX2+FMA micro-kernel: 6x16 tile, 12 ymm accumulators plus two B vectors
// and one broadcast A value (15 of 16 registers). Compiled with a target
// attribute so the rest of the library stays baseline x86-64; used only when
// the CPU reports AVX2 and FMA.
#include "kernels/simd/sgemm_ukernel.h"
#include "platform/cpu_features.h"

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>

namespace pionnx {
namespace simd {
namespace {

constexpr int kMR = 6, kNR = 16;

__attribute__((target("avx2,fma"))) void ukernel_avx2(int64_t kc, const float* a, const float* b, float* c, int64_t ldc,
                                                      int m, int n, bool accumulate) {
  __m256 acc[kMR][2];
  for (int i = 0; i < kMR; ++i) acc[i][0] = acc[i][1] = _mm256_setzero_ps();
  for (int64_t k = 0; k < kc; ++k) {
    const __m256 b0 = _mm256_loadu_ps(b), b1 = _mm256_loadu_ps(b + 8);
    for (int i = 0; i < kMR; ++i) {
      const __m256 ai = _mm256_broadcast_ss(a + i);
      acc[i][0] = _mm256_fmadd_ps(ai, b0, acc[i][0]);
      acc[i][1] = _mm256_fmadd_ps(ai, b1, acc[i][1]);
    }
    a += kMR;
    b += kNR;
  }
  if (m == kMR && n == kNR) {
    for (int i = 0; i < kMR; ++i) {
      float* ci = c + i * ldc;
      if (accumulate) {
        acc[i][0] = _mm256_add_ps(acc[i][0], _mm256_loadu_ps(ci));
        acc[i][1] = _mm256_add_ps(acc[i][1], _mm256_loadu_ps(ci + 8));
      }
      _mm256_storeu_ps(ci, acc[i][0]);
      _mm256_storeu_ps(ci + 8, acc[i][1]);
    }
    return;
  }
  alignas(32) float tile[kMR][kNR];
  for (int i = 0; i < kMR; ++i) {
    _mm256_store_ps(tile[i], acc[i][0]);
    _mm256_store_ps(tile[i] + 8, acc[i][1]);
  }
  for (int i = 0; i < m; ++i)
    for (int j = 0; j < n; ++j) c[i * ldc + j] = accumulate ? c[i * ldc + j] + tile[i][j] : tile[i][j];
}

// 32 columns (4 ymm accumulators) per pass down the rows, then 8, then the tail.
__attribute__((target("avx2,fma"))) void gemv_rows_avx2(int64_t K, int64_t n, const float* x, const float* m,
                                                        int64_t ldm, float* y) {
  int64_t j = 0;
  for (; j + 32 <= n; j += 32) {
    __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
    const float* p = m + j;
    for (int64_t k = 0; k < K; ++k, p += ldm) {
      const __m256 xk = _mm256_broadcast_ss(x + k);
      a0 = _mm256_fmadd_ps(xk, _mm256_loadu_ps(p), a0);
      a1 = _mm256_fmadd_ps(xk, _mm256_loadu_ps(p + 8), a1);
      a2 = _mm256_fmadd_ps(xk, _mm256_loadu_ps(p + 16), a2);
      a3 = _mm256_fmadd_ps(xk, _mm256_loadu_ps(p + 24), a3);
    }
    _mm256_storeu_ps(y + j, a0);
    _mm256_storeu_ps(y + j + 8, a1);
    _mm256_storeu_ps(y + j + 16, a2);
    _mm256_storeu_ps(y + j + 24, a3);
  }
  for (; j + 8 <= n; j += 8) {
    __m256 a0 = _mm256_setzero_ps();
    const float* p = m + j;
    for (int64_t k = 0; k < K; ++k, p += ldm) a0 = _mm256_fmadd_ps(_mm256_broadcast_ss(x + k), _mm256_loadu_ps(p), a0);
    _mm256_storeu_ps(y + j, a0);
  }
  for (; j < n; ++j) {
    float s = 0.f;
    for (int64_t k = 0; k < K; ++k) s += x[k] * m[k * ldm + j];
    y[j] = s;
  }
}

const SgemmUKernel kAvx2{kMR, kNR, ukernel_avx2, "avx2", gemv_rows_avx2};

}  // namespace

const SgemmUKernel* sgemm_ukernel_avx2() {
  const platform::CpuFeatures& cpu = platform::cpu_features();
  if (cpu.avx2 && cpu.fma) return &kAvx2;
  return nullptr;
}

}  // namespace simd
}  // namespace pionnx

#else

namespace pionnx {
namespace simd {
const SgemmUKernel* sgemm_ukernel_avx2() { return nullptr; }
}  // namespace simd
}  // namespace pionnx

#endif
