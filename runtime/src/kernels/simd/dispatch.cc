// See dispatch.h.
#include "kernels/simd/dispatch.h"

#include <cstdio>
#include <cstdlib>

namespace pionnx {
namespace simd {

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
      std::fprintf(stderr, "pionnx: %s=%s names no %s path (%s); using the fastest this CPU runs\n",
                   env_var, env, family, known.c_str());
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

}  // namespace simd
}  // namespace pionnx
