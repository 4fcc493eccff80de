// The fastmath family's AVX2+FMA table: elementwise_math_kernels.h's loops
// instantiated inside target("avx2,fma") functions, so the rest of the
// library stays baseline x86-64. Used only when the CPU reports AVX2 and FMA.
#include "kernels/simd/elementwise_math_kernels.h"
#include "platform/cpu_features.h"

namespace pionnx {
namespace fastmath {

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))

namespace {

using namespace vec;

#define PIONNX_TARGET_AVX2 __attribute__((target("avx2,fma")))
PIONNX_TARGET_AVX2 void exp_avx2(const float* x, float* y, int64_t n) { apply(x, y, n, Exp{}); }
PIONNX_TARGET_AVX2 void tanh_avx2(const float* x, float* y, int64_t n) { apply(x, y, n, Tanh{}); }
PIONNX_TARGET_AVX2 void erf_avx2(const float* x, float* y, int64_t n) { apply(x, y, n, Erf{}); }
PIONNX_TARGET_AVX2 void sigmoid_avx2(const float* x, float* y, int64_t n) { apply(x, y, n, Sigmoid{}); }
PIONNX_TARGET_AVX2 void gelu_erf_avx2(const float* x, float* y, int64_t n) { apply(x, y, n, GeluErf{}); }
PIONNX_TARGET_AVX2 void gelu_tanh_avx2(const float* x, float* y, int64_t n) { apply(x, y, n, GeluTanh{}); }
PIONNX_TARGET_AVX2 float exp_shift_sum_avx2(const float* x, float* y, int64_t n, float s) {
  return exp_shift_sum(x, y, n, s);
}
PIONNX_TARGET_AVX2 float max_avx2(const float* x, int64_t n) { return max_of(x, n); }
#undef PIONNX_TARGET_AVX2

const Kernels kAvx2{exp_avx2,      tanh_avx2,      erf_avx2,           sigmoid_avx2,
                    gelu_erf_avx2, gelu_tanh_avx2, exp_shift_sum_avx2, max_avx2};

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
