// The NCHWc family's AVX2 path (conv_nchwc.h): blocks of 8 channels, a
// tile of 3 output blocks by 4 positions (12 of the 16 ymm registers
// accumulate, 3 hold the filter, the input values are broadcast from
// memory). Compiled with a target attribute; used only when the CPU reports
// AVX2 and FMA.
#include "kernels/simd/conv_nchwc.h"
#include "platform/cpu_features.h"

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>

#define PIONNX_NCHWC_TARGET __attribute__((target("avx2,fma")))
#include "kernels/simd/conv_nchwc_kernels.h"
#include "kernels/simd/transpose_avx2.h"

namespace pionnx {
namespace simd {
namespace {

struct V256 {
  using vec = __m256;
  static constexpr int kLanes = 8, kBlocks = 3, kPositions = 4, kMaxPositions = 8, kDepthwisePositions = 8;
  static constexpr bool kSumsInL2 = false;
  static constexpr bool kLaneMadd = false;  // broadcasts from memory: x86 has no multiply by lane
  PIONNX_NCHWC_TARGET static vec load(const float* p) { return _mm256_loadu_ps(p); }
  PIONNX_NCHWC_TARGET static void store(float* p, vec v) { _mm256_storeu_ps(p, v); }
  PIONNX_NCHWC_TARGET static vec broadcast(const float* p) { return _mm256_set1_ps(*p); }
  PIONNX_NCHWC_TARGET static vec set1(float v) { return _mm256_set1_ps(v); }
  PIONNX_NCHWC_TARGET static vec fmadd(vec a, vec b, vec c) { return _mm256_fmadd_ps(a, b, c); }
  PIONNX_NCHWC_TARGET static vec add(vec a, vec b) { return _mm256_add_ps(a, b); }
  PIONNX_NCHWC_TARGET static vec mul(vec a, vec b) { return _mm256_mul_ps(a, b); }
  PIONNX_NCHWC_TARGET static vec zero() { return _mm256_setzero_ps(); }
  PIONNX_NCHWC_TARGET static vec max(vec a, vec b) { return _mm256_max_ps(a, b); }
  PIONNX_NCHWC_TARGET static vec min(vec a, vec b) { return _mm256_min_ps(a, b); }
  PIONNX_NCHWC_TARGET static void transpose(vec* r) { transpose8(r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7]); }
};

}  // namespace

NchwcKernel nchwc_kernel_avx2() {
  const platform::CpuFeatures& cpu = platform::cpu_features();
  if (!(cpu.avx2 && cpu.fma)) return {};
  return nchwc_detail::table<V256>();
}

}  // namespace simd
}  // namespace pionnx

#else

namespace pionnx {
namespace simd {
NchwcKernel nchwc_kernel_avx2() { return {}; }
}  // namespace simd
}  // namespace pionnx

#endif
