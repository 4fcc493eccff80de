// AVX2 micro-kernel for the integer GEMM (qgemm.cc): the int16-pair panel
// layout (qgemm_ukernel.h), 4 rows x 16 columns per step, 8 accumulators of
// 8 int32 from vpmaddwd. Compiled with a target attribute so the rest of the
// library stays baseline x86; used only when the CPU reports AVX2 (the VNNI
// paths keep it for the int16-pair work they do not take).
#include "kernels/simd/qgemm_ukernel.h"

#if (defined(__x86_64__) || (defined(__i386__) && defined(__SSE2__))) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>

#include <cstring>
#include <type_traits>

#include "platform/cpu_features.h"

namespace pionnx {
namespace simd {
namespace {

inline int32_t load_pair(const int16_t* p) {
  int32_t v;
  std::memcpy(&v, p, sizeof v);
  return v;
}

// The accumulators are named, not an array indexed by row: GCC 12 kept
// c[kQRows][2] in memory, a load and a store around every multiply-add
// (3x slower).
static_assert(kQRows == 4, "kernel_avx2 is written for 4 rows");

__attribute__((target("avx2"))) void kernel_avx2(const int16_t* a, int64_t lda, int64_t kcp, const int16_t* b,
                                                 int64_t ncp, int32_t (*acc)[kQNc]) {
  const int16_t *a0 = a, *a1 = a + lda, *a2 = a + 2 * lda, *a3 = a + 3 * lda;
  for (int64_t j0 = 0; j0 < ncp; j0 += 16) {
    __m256i c00 = _mm256_setzero_si256(), c01 = c00, c10 = c00, c11 = c00, c20 = c00, c21 = c00, c30 = c00, c31 = c00;
    const int16_t* bp = b + pair_index(kcp, 0, j0);
    for (int64_t kp = 0; kp < kcp / 2; ++kp, bp += 2 * kQStrip) {
      const __m256i b0 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(bp));
      const __m256i b1 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(bp + 16));
      __m256i av = _mm256_set1_epi32(load_pair(a0 + 2 * kp));
      c00 = _mm256_add_epi32(c00, _mm256_madd_epi16(av, b0));
      c01 = _mm256_add_epi32(c01, _mm256_madd_epi16(av, b1));
      av = _mm256_set1_epi32(load_pair(a1 + 2 * kp));
      c10 = _mm256_add_epi32(c10, _mm256_madd_epi16(av, b0));
      c11 = _mm256_add_epi32(c11, _mm256_madd_epi16(av, b1));
      av = _mm256_set1_epi32(load_pair(a2 + 2 * kp));
      c20 = _mm256_add_epi32(c20, _mm256_madd_epi16(av, b0));
      c21 = _mm256_add_epi32(c21, _mm256_madd_epi16(av, b1));
      av = _mm256_set1_epi32(load_pair(a3 + 2 * kp));
      c30 = _mm256_add_epi32(c30, _mm256_madd_epi16(av, b0));
      c31 = _mm256_add_epi32(c31, _mm256_madd_epi16(av, b1));
    }
    __m256i* out[kQRows] = {reinterpret_cast<__m256i*>(acc[0] + j0), reinterpret_cast<__m256i*>(acc[1] + j0),
                            reinterpret_cast<__m256i*>(acc[2] + j0), reinterpret_cast<__m256i*>(acc[3] + j0)};
    _mm256_storeu_si256(out[0], c00);
    _mm256_storeu_si256(out[0] + 1, c01);
    _mm256_storeu_si256(out[1], c10);
    _mm256_storeu_si256(out[1] + 1, c11);
    _mm256_storeu_si256(out[2], c20);
    _mm256_storeu_si256(out[2] + 1, c21);
    _mm256_storeu_si256(out[3], c30);
    _mm256_storeu_si256(out[3] + 1, c31);
  }
}

// QPairPackB: two depth rows at a time, 16 columns a step (one strip's depth pair): the rows' bytes interleaved
// (punpck), widened to int16 and the zero point taken off, two 32-byte stores. The last row of an odd kc and the
// columns of a last partial strip one value at a time; padding zero. The portable packer's loop, compiled for
// baseline x86, was a tenth of a quantized MobileNetV2's time on this path.
template <typename T>
__attribute__((target("avx2"))) void pack_b_rows(const T* B, int64_t ldb, int32_t zp, int64_t kc, int64_t nc,
                                                 int64_t ncp, int16_t* out) {
  const int64_t kcp = (kc + 1) / 2 * 2, full = nc / kQStrip * kQStrip;
  if (full != ncp || kc != kcp) std::memset(out, 0, sizeof(int16_t) * static_cast<size_t>(kcp * ncp));
  const __m256i z = _mm256_set1_epi16(static_cast<int16_t>(zp));
  int64_t k = 0;
  for (; k + 2 <= kc; k += 2) {
    const T* r0 = B + k * ldb;
    const T* r1 = r0 + ldb;
    int16_t* dst = out + pair_index(kcp, k / 2, 0);
    for (int64_t s = 0; s < full; s += kQStrip, dst += kcp * kQStrip) {
      const __m128i x0 = _mm_loadu_si128(reinterpret_cast<const __m128i*>(r0 + s));
      const __m128i x1 = _mm_loadu_si128(reinterpret_cast<const __m128i*>(r1 + s));
      const __m128i lo = _mm_unpacklo_epi8(x0, x1), hi = _mm_unpackhi_epi8(x0, x1);
      const __m256i wl = std::is_signed<T>::value ? _mm256_cvtepi8_epi16(lo) : _mm256_cvtepu8_epi16(lo);
      const __m256i wh = std::is_signed<T>::value ? _mm256_cvtepi8_epi16(hi) : _mm256_cvtepu8_epi16(hi);
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(dst), _mm256_sub_epi16(wl, z));
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(dst + kQStrip), _mm256_sub_epi16(wh, z));
    }
  }
  for (int64_t kk = 0; kk < kc; ++kk) {
    const T* src = B + kk * ldb;
    for (int64_t j = kk < k ? full : 0; j < nc; ++j)
      out[pair_index(kcp, kk / 2, j) + kk % 2] = static_cast<int16_t>(src[j] - zp);
  }
}

__attribute__((target("avx2"))) void pack_b_avx2(const void* B, int64_t ldb, bool b_signed, int32_t zp, int64_t kc,
                                                 int64_t nc, int64_t ncp, int16_t* out) {
  if (b_signed) pack_b_rows(static_cast<const int8_t*>(B), ldb, zp, kc, nc, ncp, out);
  else pack_b_rows(static_cast<const uint8_t*>(B), ldb, zp, kc, nc, ncp, out);
}

// QPairFinishFloat: 8 values a step, a row's last ones under a mask; no fused multiply-add (store_float's
// roundings). The driver's loops, compiled for baseline x86 (three passes of 4 values a step), were a tenth of an
// int8 transformer's time on this path.
__attribute__((target("avx2"))) void finish_float_avx2(const int32_t* acc, int64_t ldacc, int64_t rows, int64_t n,
                                                       const float* scale, bool scale_per_col, const float* bias,
                                                       float* out, int64_t ldout) {
  const __m256 s0 = _mm256_set1_ps(scale[0]);
  const int64_t whole = n / 8 * 8;
  const __m256i m =
      _mm256_cmpgt_epi32(_mm256_set1_epi32(static_cast<int32_t>(n - whole)), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
  for (int64_t r = 0; r < rows; ++r, acc += ldacc, out += ldout) {
    for (int64_t j = 0; j < whole; j += 8) {
      __m256 v = _mm256_cvtepi32_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(acc + j)));
      v = _mm256_mul_ps(v, scale_per_col ? _mm256_loadu_ps(scale + j) : s0);
      if (bias) v = _mm256_add_ps(v, _mm256_loadu_ps(bias + j));
      _mm256_storeu_ps(out + j, v);
    }
    if (whole == n) continue;
    __m256 v = _mm256_cvtepi32_ps(_mm256_maskload_epi32(acc + whole, m));
    v = _mm256_mul_ps(v, scale_per_col ? _mm256_maskload_ps(scale + whole, m) : s0);
    if (bias) v = _mm256_add_ps(v, _mm256_maskload_ps(bias + whole, m));
    _mm256_maskstore_ps(out + whole, m, v);
  }
}

}  // namespace

QPairKernel qgemm_kernel_avx2() { return platform::cpu_features().avx2 ? kernel_avx2 : nullptr; }
QPairPackB qgemm_pack_b_avx2() { return platform::cpu_features().avx2 ? pack_b_avx2 : nullptr; }
QPairFinishFloat qgemm_finish_float_avx2() { return platform::cpu_features().avx2 ? finish_float_avx2 : nullptr; }

}  // namespace simd
}  // namespace pionnx

#else

namespace pionnx {
namespace simd {
QPairKernel qgemm_kernel_avx2() { return nullptr; }
QPairPackB qgemm_pack_b_avx2() { return nullptr; }
QPairFinishFloat qgemm_finish_float_avx2() { return nullptr; }
}  // namespace simd
}  // namespace pionnx

#endif
