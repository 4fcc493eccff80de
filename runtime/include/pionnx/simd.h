// Which SIMD kernels this process runs, for the Python API (pionnx.simd_info),
// benchmarks and tests.
#pragma once
#include <string>
#include <vector>

namespace pionnx {

struct KernelFamily {
  std::string name;                    // "sgemm", "qgemm", "fastmath"
  std::string env_var;                 // the variable that caps its choice, e.g. "PIONNX_SGEMM"
  std::string active;                  // the path in use, e.g. "avx2"
  std::vector<std::string> available;  // every path this CPU can run, portable first
};

// Every kernel family with a run-time choice, each chosen once from what the
// CPU reports and the PIONNX_* variable that may cap it.
std::vector<KernelFamily> kernel_families();

// True when the CPU has NEON (armv7: AT_HWCAP; aarch64: always).
bool cpu_has_neon();

}  // namespace pionnx
