// The fastmath family's AVX2+FMA table: elementwise_math_kernels.h's loops
// instantiated inside target("avx2,fma") functions, so the rest of the
// library stays baseline x86-64. Used only when the CPU reports AVX2 and FMA.
#define PIONNX_FASTMATH_WIDE 1  // 256-bit vectors (elementwise_math_kernels.h)
#include "kernels/simd/elementwise_math_kernels.h"
#include "platform/cpu_features.h"

namespace pionnx {
namespace fastmath {

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))

namespace {

PIONNX_FASTMATH_TABLE(avx2, Avx2, __attribute__((target("avx2,fma"))))

}  // namespace

const Kernels* kernels_avx2() {
  const platform::CpuFeatures& cpu = platform::cpu_features();
  return cpu.avx2 && cpu.fma ? &kAvx2 : nullptr;
}

#else

const Kernels* kernels_avx2() { return nullptr; }

#endif

}  // namespace fastmath
}  // namespace pionnx
