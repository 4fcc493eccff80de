// Internal to the integer GEMM: the micro-kernel shape shared by qgemm.cc and
// the per-instruction-set files (qgemm_neon.cc).
#pragma once
#include <cstdint>

namespace pionnx {
namespace simd {

constexpr int64_t kQNc = 256;  // panel width (columns of B per panel)
constexpr int kQRows = 4;      // rows of A per micro-kernel call

// acc[r][0 .. ncp) = sum_k a[r * kcp + k] * B(k, j) for kQRows rows; B in the
// int16-pair panel layout described in qgemm.cc, ncp a multiple of 8.
void qgemm_kernel_neon(const int16_t* a, int64_t kcp, const int16_t* b, int64_t ncp, int32_t (*acc)[kQNc]);
// False where the NEON kernel is not compiled in (x86, or armv7 without the
// per-file -mfpu=neon). The CPU check is the caller's (platform::cpu_features().neon).
bool qgemm_has_neon_kernel();

}  // namespace simd
}  // namespace pionnx
