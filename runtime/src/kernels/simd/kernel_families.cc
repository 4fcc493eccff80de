// pionnx/simd.h: the run-time kernel choice of every family, in one list.
#include <tuple>

#include "kernels/simd/conv_nchwc.h"
#include "kernels/simd/dispatch.h"
#include "kernels/simd/sgemm.h"
#include "pionnx/simd.h"
#include "platform/cpu_features.h"

namespace pionnx {

std::vector<KernelFamily> kernel_families() {
  std::vector<KernelFamily> out;
  for (auto [name, env, choice] : {std::make_tuple("sgemm", "PIONNX_SGEMM", &simd::sgemm_paths()),
                                   std::make_tuple("qgemm", "PIONNX_QGEMM", &simd::qgemm_paths()),
                                   std::make_tuple("fastmath", "PIONNX_FASTMATH", &simd::fastmath_paths()),
                                   std::make_tuple("depthwise", "PIONNX_DEPTHWISE", &simd::depthwise_paths()),
                                   std::make_tuple("nchwc", "PIONNX_NCHWC", &simd::nchwc_paths())})
    out.push_back(KernelFamily{name, env, choice->active, choice->available});
  return out;
}

bool cpu_has_neon() { return platform::cpu_features().neon; }

}  // namespace pionnx
