// The NCHWc family's AVX-512 path (conv_nchwc.h): blocks of 16 channels, a
// tile of 4 output blocks by 6 positions (24 of the 32 zmm registers
// accumulate, 4 hold the filter, the input values are broadcast from
// memory). Compiled with a target attribute; used only when the CPU reports
// AVX-512 F and FMA.
#include "kernels/simd/conv_nchwc.h"
#include "platform/cpu_features.h"

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>

#define PIONNX_NCHWC_TARGET __attribute__((target("avx512f,avx2,fma")))
#include "kernels/simd/conv_nchwc_kernels.h"
#include "kernels/simd/transpose_avx512.h"

namespace pionnx {
namespace simd {
namespace {

struct V512 {
  using vec = __m512;
  static constexpr int kLanes = 16, kBlocks = 4, kPositions = 6, kMaxPositions = 12, kDepthwisePositions = 8;
  static constexpr bool kSumsInL2 = true;
  static constexpr bool kLaneMadd = false;  // broadcasts from memory: x86 has no multiply by lane
  PIONNX_NCHWC_TARGET static vec load(const float* p) { return _mm512_loadu_ps(p); }
  PIONNX_NCHWC_TARGET static void store(float* p, vec v) { _mm512_storeu_ps(p, v); }
  PIONNX_NCHWC_TARGET static vec broadcast(const float* p) { return _mm512_set1_ps(*p); }
  PIONNX_NCHWC_TARGET static vec set1(float v) { return _mm512_set1_ps(v); }
  PIONNX_NCHWC_TARGET static vec fmadd(vec a, vec b, vec c) { return _mm512_fmadd_ps(a, b, c); }
  PIONNX_NCHWC_TARGET static vec add(vec a, vec b) { return _mm512_add_ps(a, b); }
  PIONNX_NCHWC_TARGET static vec mul(vec a, vec b) { return _mm512_mul_ps(a, b); }
  PIONNX_NCHWC_TARGET static vec zero() { return _mm512_setzero_ps(); }
  PIONNX_NCHWC_TARGET static vec max(vec a, vec b) { return _mm512_max_ps(a, b); }
  PIONNX_NCHWC_TARGET static vec min(vec a, vec b) { return _mm512_min_ps(a, b); }
  PIONNX_NCHWC_TARGET static void transpose(vec* r) { transpose16(r); }
};

}  // namespace

NchwcKernel nchwc_kernel_avx512() {
  const platform::CpuFeatures& cpu = platform::cpu_features();
  if (!(cpu.avx512f && cpu.fma)) return {};
  return nchwc_detail::table<V512>();
}

}  // namespace simd
}  // namespace pionnx

#else

namespace pionnx {
namespace simd {
NchwcKernel nchwc_kernel_avx512() { return {}; }
}  // namespace simd
}  // namespace pionnx

#endif
