// Each kernel family's run-time path (SGEMM, integer GEMM, vector math): the
// family lists its paths from portable to fastest, asks the platform layer
// which of them this CPU runs, and platform::choose_path applies the family's
// PIONNX_* cap (platform/cpu_features.h).
#pragma once
#include "platform/cpu_features.h"

namespace pionnx {
namespace simd {

using platform::PathChoice;

// Each family's choice, made once, on first use.
const PathChoice& sgemm_paths();      // sgemm.cc: generic, neon, avx2, avx512
const PathChoice& qgemm_paths();      // qgemm.cc: generic, neon, sse2, avx2, vnni, vnni512, amx
const PathChoice& fastmath_paths();   // elementwise_math.cc: generic, avx2, avx512, neon
const PathChoice& depthwise_paths();  // depthwise.cc: generic, avx2, avx512, neon

}  // namespace simd
}  // namespace pionnx
