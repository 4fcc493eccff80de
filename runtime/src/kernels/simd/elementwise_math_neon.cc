// The fastmath family's NEON table: elementwise_math_kernels.h's loops
// compiled with NEON. On armv7 the library's baseline has no NEON, so the
// portable table runs on VFP scalar code; this file alone (with the other
// *_neon.cc files) gets -mfpu=neon (runtime/CMakeLists.txt) and the driver
// takes it only when AT_HWCAP reports NEON. On aarch64, where NEON is the
// baseline, it is the same code as the portable table under its own name.
//
// armv7 NEON flushes denormal results to zero; the loops clamp their inputs
// so that no result they return is a denormal but exp's far tail (below
// 1.2e-38), where it returns 0 instead.
#include "kernels/simd/elementwise_math_kernels.h"
#include "platform/cpu_features.h"

namespace pionnx {
namespace fastmath {

#if defined(__ARM_NEON) || defined(__ARM_NEON__)

namespace {

using namespace vec;

void exp_neon(const float* x, float* y, int64_t n) { apply(x, y, n, Exp{}); }
void tanh_neon(const float* x, float* y, int64_t n) { apply(x, y, n, Tanh{}); }
void erf_neon(const float* x, float* y, int64_t n) { apply(x, y, n, Erf{}); }
void sigmoid_neon(const float* x, float* y, int64_t n) { apply(x, y, n, Sigmoid{}); }
void gelu_erf_neon(const float* x, float* y, int64_t n) { apply(x, y, n, GeluErf{}); }
void gelu_tanh_neon(const float* x, float* y, int64_t n) { apply(x, y, n, GeluTanh{}); }
float exp_shift_sum_neon(const float* x, float* y, int64_t n, float s) { return exp_shift_sum(x, y, n, s); }
float max_neon(const float* x, int64_t n) { return max_of(x, n); }

const Kernels kNeon{exp_neon,      tanh_neon,      erf_neon,           sigmoid_neon,
                    gelu_erf_neon, gelu_tanh_neon, exp_shift_sum_neon, max_neon};

}  // namespace

const Kernels* kernels_neon() { return platform::cpu_features().neon ? &kNeon : nullptr; }

#else

const Kernels* kernels_neon() { return nullptr; }

#endif

}  // namespace fastmath
}  // namespace pionnx
