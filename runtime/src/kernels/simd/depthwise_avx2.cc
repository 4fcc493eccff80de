// AVX2+FMA kernel of the depthwise family (depthwise.h): eight outputs per
// step, the nine taps as shifted unaligned loads of the three input rows,
// fused multiply-adds in the portable kernel's order. Compiled with a target
// attribute; used only when the CPU reports AVX2 and FMA.
#include "kernels/simd/depthwise.h"
#include "platform/cpu_features.h"

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>

namespace pionnx {
namespace simd {
namespace {

__attribute__((target("avx2,fma"))) void row_avx2(const float* r0, const float* r1, const float* r2, int64_t d,
                                                  const float* w, float bias, float* y, int64_t n) {
  const __m256 w0 = _mm256_set1_ps(w[0]), w1 = _mm256_set1_ps(w[1]), w2 = _mm256_set1_ps(w[2]);
  const __m256 w3 = _mm256_set1_ps(w[3]), w4 = _mm256_set1_ps(w[4]), w5 = _mm256_set1_ps(w[5]);
  const __m256 w6 = _mm256_set1_ps(w[6]), w7 = _mm256_set1_ps(w[7]), w8 = _mm256_set1_ps(w[8]);
  const __m256 vb = _mm256_set1_ps(bias);
  const int64_t d2 = 2 * d;
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    __m256 acc = _mm256_fmadd_ps(w0, _mm256_loadu_ps(r0 + i), vb);
    acc = _mm256_fmadd_ps(w1, _mm256_loadu_ps(r0 + i + d), acc);
    acc = _mm256_fmadd_ps(w2, _mm256_loadu_ps(r0 + i + d2), acc);
    acc = _mm256_fmadd_ps(w3, _mm256_loadu_ps(r1 + i), acc);
    acc = _mm256_fmadd_ps(w4, _mm256_loadu_ps(r1 + i + d), acc);
    acc = _mm256_fmadd_ps(w5, _mm256_loadu_ps(r1 + i + d2), acc);
    acc = _mm256_fmadd_ps(w6, _mm256_loadu_ps(r2 + i), acc);
    acc = _mm256_fmadd_ps(w7, _mm256_loadu_ps(r2 + i + d), acc);
    acc = _mm256_fmadd_ps(w8, _mm256_loadu_ps(r2 + i + d2), acc);
    _mm256_storeu_ps(y + i, acc);
  }
  for (; i < n; ++i)
    y[i] = bias + w[0] * r0[i] + w[1] * r0[i + d] + w[2] * r0[i + d2] + w[3] * r1[i] + w[4] * r1[i + d] +
           w[5] * r1[i + d2] + w[6] * r2[i] + w[7] * r2[i + d] + w[8] * r2[i + d2];
}

}  // namespace

Depthwise3x3Row depthwise3x3_row_avx2() {
  const platform::CpuFeatures& cpu = platform::cpu_features();
  return cpu.avx2 && cpu.fma ? row_avx2 : nullptr;
}

}  // namespace simd
}  // namespace pionnx

#else

namespace pionnx {
namespace simd {
Depthwise3x3Row depthwise3x3_row_avx2() { return nullptr; }
}  // namespace simd
}  // namespace pionnx

#endif
