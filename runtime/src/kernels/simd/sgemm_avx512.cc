// AVX-512F micro-kernel: 8x32 tile, 16 zmm accumulators plus two B vectors
// and one broadcast A value (19 of 32 registers). Compiled with a target
// attribute; used only when the CPU reports AVX-512F.
#include "kernels/simd/sgemm_ukernel.h"
#include "platform/cpu_features.h"

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>

namespace pionnx {
namespace simd {
namespace {

constexpr int kMR = 8, kNR = 32;

__attribute__((target("avx512f"))) void ukernel_avx512(int64_t kc, const float* a, const float* b, float* c,
                                                       int64_t ldc, int m, int n, bool accumulate) {
  __m512 acc[kMR][2];
  for (int i = 0; i < kMR; ++i) acc[i][0] = acc[i][1] = _mm512_setzero_ps();
  for (int64_t k = 0; k < kc; ++k) {
    const __m512 b0 = _mm512_loadu_ps(b), b1 = _mm512_loadu_ps(b + 16);
    for (int i = 0; i < kMR; ++i) {
      const __m512 ai = _mm512_set1_ps(a[i]);
      acc[i][0] = _mm512_fmadd_ps(ai, b0, acc[i][0]);
      acc[i][1] = _mm512_fmadd_ps(ai, b1, acc[i][1]);
    }
    a += kMR;
    b += kNR;
  }
  if (m == kMR && n == kNR) {
    for (int i = 0; i < kMR; ++i) {
      float* ci = c + i * ldc;
      if (accumulate) {
        acc[i][0] = _mm512_add_ps(acc[i][0], _mm512_loadu_ps(ci));
        acc[i][1] = _mm512_add_ps(acc[i][1], _mm512_loadu_ps(ci + 16));
      }
      _mm512_storeu_ps(ci, acc[i][0]);
      _mm512_storeu_ps(ci + 16, acc[i][1]);
    }
    return;
  }
  // Partial tile: masked loads/stores on the columns, only the live rows.
  const uint32_t cols = n >= 32 ? 0xffffffffu : ((1u << n) - 1u);
  const __mmask16 k0 = static_cast<__mmask16>(cols & 0xffff), k1 = static_cast<__mmask16>(cols >> 16);
  for (int i = 0; i < m; ++i) {
    float* ci = c + i * ldc;
    if (accumulate) {
      acc[i][0] = _mm512_add_ps(acc[i][0], _mm512_maskz_loadu_ps(k0, ci));
      acc[i][1] = _mm512_add_ps(acc[i][1], _mm512_maskz_loadu_ps(k1, ci + 16));
    }
    _mm512_mask_storeu_ps(ci, k0, acc[i][0]);
    _mm512_mask_storeu_ps(ci + 16, k1, acc[i][1]);
  }
}

// 64 columns (4 zmm accumulators) per pass down the rows, then 16, then a
// masked tail.
__attribute__((target("avx512f"))) void gemv_rows_avx512(int64_t K, int64_t n, const float* x, const float* m,
                                                         int64_t ldm, float* y) {
  int64_t j = 0;
  for (; j + 64 <= n; j += 64) {
    __m512 a0 = _mm512_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
    const float* p = m + j;
    for (int64_t k = 0; k < K; ++k, p += ldm) {
      const __m512 xk = _mm512_set1_ps(x[k]);
      a0 = _mm512_fmadd_ps(xk, _mm512_loadu_ps(p), a0);
      a1 = _mm512_fmadd_ps(xk, _mm512_loadu_ps(p + 16), a1);
      a2 = _mm512_fmadd_ps(xk, _mm512_loadu_ps(p + 32), a2);
      a3 = _mm512_fmadd_ps(xk, _mm512_loadu_ps(p + 48), a3);
    }
    _mm512_storeu_ps(y + j, a0);
    _mm512_storeu_ps(y + j + 16, a1);
    _mm512_storeu_ps(y + j + 32, a2);
    _mm512_storeu_ps(y + j + 48, a3);
  }
  for (; j < n; j += 16) {
    const int live = static_cast<int>(n - j < 16 ? n - j : 16);
    const __mmask16 mask = static_cast<__mmask16>(live == 16 ? 0xffff : (1u << live) - 1u);
    __m512 a0 = _mm512_setzero_ps();
    const float* p = m + j;
    for (int64_t k = 0; k < K; ++k, p += ldm)
      a0 = _mm512_fmadd_ps(_mm512_set1_ps(x[k]), _mm512_maskz_loadu_ps(mask, p), a0);
    _mm512_mask_storeu_ps(y + j, mask, a0);
  }
}

const SgemmUKernel kAvx512{kMR, kNR, ukernel_avx512, "avx512", gemv_rows_avx512, nullptr, gemv_dots_avx2};

}  // namespace

const SgemmUKernel* sgemm_ukernel_avx512() {
  if (platform::cpu_features().avx512f) return &kAvx512;
  return nullptr;
}

}  // namespace simd
}  // namespace pionnx

#else

namespace pionnx {
namespace simd {
const SgemmUKernel* sgemm_ukernel_avx512() { return nullptr; }
}  // namespace simd
}  // namespace pionnx

#endif
