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

PIONNX_FASTMATH_TABLE(neon, Neon, )

}  // namespace

const Kernels* kernels_neon() { return platform::cpu_features().neon ? &kNeon : nullptr; }

#else

const Kernels* kernels_neon() { return nullptr; }

#endif

}  // namespace fastmath
}  // namespace pionnx
