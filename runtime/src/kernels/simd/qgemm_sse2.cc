// SSE2 micro-kernel for the integer GEMM (qgemm.cc): the int16-pair panel
// layout (qgemm_ukernel.h), 4 rows x 8 columns per step, 8 accumulators of 4
// int32 from pmaddwd. Baseline on x86-64; on 32-bit x86 only where the
// compiler targets SSE2.
#include "kernels/simd/qgemm_ukernel.h"

#if defined(__SSE2__)
#include <emmintrin.h>

#include <cstring>

#include "platform/cpu_features.h"

namespace pionnx {
namespace simd {
namespace {

inline int32_t load_pair(const int16_t* p) {
  int32_t v;
  std::memcpy(&v, p, sizeof v);
  return v;
}

// Named accumulators (see kernel_avx2: an array indexed by row stayed in
// memory).
static_assert(kQRows == 4, "kernel_sse2 is written for 4 rows");

void kernel_sse2(const int16_t* a, int64_t lda, int64_t kcp, const int16_t* b, int64_t ncp, int32_t (*acc)[kQNc]) {
  const int16_t *a0 = a, *a1 = a + lda, *a2 = a + 2 * lda, *a3 = a + 3 * lda;
  for (int64_t j0 = 0; j0 < ncp; j0 += 8) {
    __m128i c00 = _mm_setzero_si128(), c01 = c00, c10 = c00, c11 = c00, c20 = c00, c21 = c00, c30 = c00, c31 = c00;
    const int16_t* bp = b + pair_index(kcp, 0, j0);
    for (int64_t kp = 0; kp < kcp / 2; ++kp, bp += 2 * kQStrip) {
      const __m128i b0 = _mm_loadu_si128(reinterpret_cast<const __m128i*>(bp));
      const __m128i b1 = _mm_loadu_si128(reinterpret_cast<const __m128i*>(bp + 8));
      __m128i av = _mm_set1_epi32(load_pair(a0 + 2 * kp));
      c00 = _mm_add_epi32(c00, _mm_madd_epi16(av, b0));
      c01 = _mm_add_epi32(c01, _mm_madd_epi16(av, b1));
      av = _mm_set1_epi32(load_pair(a1 + 2 * kp));
      c10 = _mm_add_epi32(c10, _mm_madd_epi16(av, b0));
      c11 = _mm_add_epi32(c11, _mm_madd_epi16(av, b1));
      av = _mm_set1_epi32(load_pair(a2 + 2 * kp));
      c20 = _mm_add_epi32(c20, _mm_madd_epi16(av, b0));
      c21 = _mm_add_epi32(c21, _mm_madd_epi16(av, b1));
      av = _mm_set1_epi32(load_pair(a3 + 2 * kp));
      c30 = _mm_add_epi32(c30, _mm_madd_epi16(av, b0));
      c31 = _mm_add_epi32(c31, _mm_madd_epi16(av, b1));
    }
    __m128i* out[kQRows] = {reinterpret_cast<__m128i*>(acc[0] + j0), reinterpret_cast<__m128i*>(acc[1] + j0),
                            reinterpret_cast<__m128i*>(acc[2] + j0), reinterpret_cast<__m128i*>(acc[3] + j0)};
    _mm_storeu_si128(out[0], c00);
    _mm_storeu_si128(out[0] + 1, c01);
    _mm_storeu_si128(out[1], c10);
    _mm_storeu_si128(out[1] + 1, c11);
    _mm_storeu_si128(out[2], c20);
    _mm_storeu_si128(out[2] + 1, c21);
    _mm_storeu_si128(out[3], c30);
    _mm_storeu_si128(out[3] + 1, c31);
  }
}

}  // namespace

QPairKernel qgemm_kernel_sse2() { return platform::cpu_features().sse2 ? kernel_sse2 : nullptr; }

}  // namespace simd
}  // namespace pionnx

#else

namespace pionnx {
namespace simd {
QPairKernel qgemm_kernel_sse2() { return nullptr; }
}  // namespace simd
}  // namespace pionnx

#endif
