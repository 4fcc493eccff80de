// AVX-512F micro-kernel: 8x32 tile, 16 zmm accumulators plus two B vectors
// and one broadcast A value (19 of 32 registers). Compiled with a target
// attribute; used only when the CPU reports AVX-512F.
#include "kernels/simd/sgemm_ukernel.h"

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>

namespace pionnx {
namespace simd {
namespace {

constexpr int kMR = 8, kNR = 32;

__attribute__((target("avx512f"))) void ukernel_avx512(int64_t kc, const float* a,
                                                        const float* b, float* c, int64_t ldc,
                                                        int m, int n, bool accumulate) {
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

const SgemmUKernel kAvx512{kMR, kNR, ukernel_avx512, "avx512"};

}  // namespace

const SgemmUKernel* sgemm_ukernel_avx512() {
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx512f")) return &kAvx512;
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
