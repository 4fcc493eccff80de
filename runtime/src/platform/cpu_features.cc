// See cpu_features.h. Compiled at the baseline of every target (no -mavx2,
// no -mfpu=neon), so it is safe to call on any CPU the wheel installs on.
#include "platform/cpu_features.h"

#include <cstdio>
#include <cstdlib>

#if defined(__arm__) && defined(__linux__)
#include <sys/auxv.h>
#endif

namespace pionnx {
namespace platform {

namespace {

CpuFeatures detect() {
  CpuFeatures f;
#if defined(__x86_64__) || defined(__i386__)
  __builtin_cpu_init();
  f.sse2 = __builtin_cpu_supports("sse2");
  f.avx2 = __builtin_cpu_supports("avx2");
  f.fma = __builtin_cpu_supports("fma");
  f.avx512f = __builtin_cpu_supports("avx512f");
  f.avx512bw = __builtin_cpu_supports("avx512bw");
  f.avx512vl = __builtin_cpu_supports("avx512vl");
  f.avx512vnni = __builtin_cpu_supports("avx512vnni");
#elif defined(__aarch64__)
  f.neon = true;  // Advanced SIMD is mandatory in ARMv8-A
#elif defined(__arm__) && defined(__linux__)
  constexpr unsigned long kHwcapNeon = 1ul << 12;  // HWCAP_NEON, <asm/hwcap.h>
  f.neon = (getauxval(AT_HWCAP) & kHwcapNeon) != 0;
#endif
  return f;
}

}  // namespace

const CpuFeatures& cpu_features() {
  static const CpuFeatures features = detect();
  return features;
}

PathChoice choose_path(const char* family, const char* env_var, const std::vector<std::string>& ladder,
                       const std::vector<bool>& runs) {
  PathChoice out;
  size_t cap = ladder.size() - 1;
  const char* env = std::getenv(env_var);
  if (env && *env) {
    size_t i = 0;
    while (i < ladder.size() && ladder[i] != env) ++i;
    if (i < ladder.size()) {
      cap = i;
    } else {
      std::string known;
      for (const std::string& name : ladder) known += (known.empty() ? "" : ", ") + name;
      std::fprintf(stderr, "pionnx: %s=%s names no %s path (%s); using the fastest this CPU runs\n", env_var, env,
                   family, known.c_str());
    }
  }
  size_t pick = 0;
  for (size_t i = 0; i < ladder.size(); ++i) {
    if (!runs[i] && i != 0) continue;
    out.available.push_back(ladder[i]);
    if (i <= cap) pick = i;
  }
  out.active = ladder[pick];
  return out;
}

}  // namespace platform
}  // namespace pionnx
