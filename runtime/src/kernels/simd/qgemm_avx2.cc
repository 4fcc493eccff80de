// AVX2 micro-kernel for the integer GEMM (qgemm.cc): the int16-pair panel
// layout (qgemm_ukernel.h), 4 rows x 16 columns per step, 8 accumulators of
// 8 int32 from vpmaddwd. Compiled with a target attribute so the rest of the
// library stays baseline x86; used only when the CPU reports AVX2 (the VNNI
// paths keep it for the int16-pair work they do not take).
#include "kernels/simd/qgemm_ukernel.h"

#if (defined(__x86_64__) || (defined(__i386__) && defined(__SSE2__))) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>

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

__attribute__((target("avx2"))) void kernel_avx2(const int16_t* a, int64_t lda, int64_t kcp, const int16_t* b,
                                                 int64_t ncp, int32_t (*acc)[kQNc]) {
  for (int64_t j0 = 0; j0 < ncp; j0 += 16) {
    __m256i c[kQRows][2];
    for (auto& row : c) row[0] = row[1] = _mm256_setzero_si256();
    for (int64_t kp = 0; kp < kcp / 2; ++kp) {
      const int16_t* bp = b + (kp * ncp + j0) * 2;
      const __m256i b0 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(bp));
      const __m256i b1 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(bp + 16));
      for (int r = 0; r < kQRows; ++r) {
        const __m256i av = _mm256_set1_epi32(load_pair(a + r * lda + 2 * kp));
        c[r][0] = _mm256_add_epi32(c[r][0], _mm256_madd_epi16(av, b0));
        c[r][1] = _mm256_add_epi32(c[r][1], _mm256_madd_epi16(av, b1));
      }
    }
    for (int r = 0; r < kQRows; ++r) {
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(acc[r] + j0), c[r][0]);
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(acc[r] + j0 + 8), c[r][1]);
    }
  }
}

}  // namespace

QPairKernel qgemm_kernel_avx2() { return platform::cpu_features().avx2 ? kernel_avx2 : nullptr; }

}  // namespace simd
}  // namespace pionnx

#else

namespace pionnx {
namespace simd {
QPairKernel qgemm_kernel_avx2() { return nullptr; }
}  // namespace simd
}  // namespace pionnx

#endif
