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

void kernel_sse2(const int16_t* a, int64_t lda, int64_t kcp, const int16_t* b, int64_t ncp, int32_t (*acc)[kQNc]) {
  for (int64_t j0 = 0; j0 < ncp; j0 += 8) {
    __m128i c[kQRows][2];
    for (auto& row : c) row[0] = row[1] = _mm_setzero_si128();
    for (int64_t kp = 0; kp < kcp / 2; ++kp) {
      const int16_t* bp = b + (kp * ncp + j0) * 2;
      const __m128i b0 = _mm_loadu_si128(reinterpret_cast<const __m128i*>(bp));
      const __m128i b1 = _mm_loadu_si128(reinterpret_cast<const __m128i*>(bp + 8));
      for (int r = 0; r < kQRows; ++r) {
        const __m128i av = _mm_set1_epi32(load_pair(a + r * lda + 2 * kp));
        c[r][0] = _mm_add_epi32(c[r][0], _mm_madd_epi16(av, b0));
        c[r][1] = _mm_add_epi32(c[r][1], _mm_madd_epi16(av, b1));
      }
    }
    for (int r = 0; r < kQRows; ++r) {
      _mm_storeu_si128(reinterpret_cast<__m128i*>(acc[r] + j0), c[r][0]);
      _mm_storeu_si128(reinterpret_cast<__m128i*>(acc[r] + j0 + 4), c[r][1]);
    }
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
