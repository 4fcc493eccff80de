// AVX2+FMA kernels of the depthwise family (depthwise.h): eight outputs per
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

// Stride 2: for eight outputs the taps of one row are the evens of r[2i ..),
// the odds (the evens of r[2i + 1 ..)) and the evens of r[2i + 2 ..). One
// in-lane shuffle of two loads gives them in the order 0 1 4 5 | 2 3 6 7;
// every tap and the bias share that order, so the sums are put right by one
// lane-crossing permute per eight outputs, not one per tap. A block reads r[2i .. 2i + 17], so it runs while a ninth
// output follows (whose window reaches 2i + 18) and the tail goes one output
// at a time.
__attribute__((target("avx2,fma"), always_inline)) inline __m256 row_taps_s2(const float* p, __m256 wa, __m256 wb,
                                                                             __m256 wc, __m256 acc) {
  const __m256 a = _mm256_loadu_ps(p), b = _mm256_loadu_ps(p + 8);
  const __m256 c = _mm256_loadu_ps(p + 2), d = _mm256_loadu_ps(p + 10);
  acc = _mm256_fmadd_ps(wa, _mm256_shuffle_ps(a, b, 0x88), acc);   // p[0], p[2], ..
  acc = _mm256_fmadd_ps(wb, _mm256_shuffle_ps(a, b, 0xDD), acc);   // p[1], p[3], ..
  return _mm256_fmadd_ps(wc, _mm256_shuffle_ps(c, d, 0x88), acc);  // p[2], p[4], ..
}

__attribute__((target("avx2,fma"))) void row_s2_avx2(const float* r0, const float* r1, const float* r2, const float* w,
                                                     float bias, float* y, int64_t n) {
  const __m256 w0 = _mm256_set1_ps(w[0]), w1 = _mm256_set1_ps(w[1]), w2 = _mm256_set1_ps(w[2]);
  const __m256 w3 = _mm256_set1_ps(w[3]), w4 = _mm256_set1_ps(w[4]), w5 = _mm256_set1_ps(w[5]);
  const __m256 w6 = _mm256_set1_ps(w[6]), w7 = _mm256_set1_ps(w[7]), w8 = _mm256_set1_ps(w[8]);
  const __m256 vb = _mm256_set1_ps(bias);
  int64_t i = 0;
  for (; i + 9 <= n; i += 8) {
    const int64_t j = 2 * i;
    __m256 acc = row_taps_s2(r0 + j, w0, w1, w2, vb);
    acc = row_taps_s2(r1 + j, w3, w4, w5, acc);
    acc = row_taps_s2(r2 + j, w6, w7, w8, acc);
    _mm256_storeu_ps(y + i, _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(acc), 0xD8)));
  }
  for (; i < n; ++i) {
    const int64_t j = 2 * i;
    y[i] = bias + w[0] * r0[j] + w[1] * r0[j + 1] + w[2] * r0[j + 2] + w[3] * r1[j] + w[4] * r1[j + 1] +
           w[5] * r1[j + 2] + w[6] * r2[j] + w[7] * r2[j + 1] + w[8] * r2[j + 2];
  }
}

}  // namespace

Depthwise3x3S2Row depthwise3x3s2_row_avx2() {
  const platform::CpuFeatures& cpu = platform::cpu_features();
  return cpu.avx2 && cpu.fma ? row_s2_avx2 : nullptr;
}

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
Depthwise3x3S2Row depthwise3x3s2_row_avx2() { return nullptr; }
}  // namespace simd
}  // namespace pionnx

#endif
