// One rule for every kernel family's run-time choice (SGEMM, integer GEMM,
// vector math): the family lists its paths from portable to fastest, says
// which of them this CPU can run, and an environment variable may cap the
// choice by naming a path (PIONNX_SGEMM=avx2, PIONNX_QGEMM=generic, ...), so
// any machine can run, test and time every path below its best.
#pragma once
#include <string>
#include <vector>

namespace pionnx {
namespace simd {

struct PathChoice {
  std::vector<std::string> available;  // paths this CPU can run, portable first
  std::string active;                  // the one in use
};

// `ladder`: every path the family knows, portable first; `runs[i]`: whether this
// CPU can run ladder[i] (ladder[0], the portable one, always can). Picks the
// fastest runnable path, or with `env_var` set, the fastest runnable one not
// above the path it names. An unknown name is reported on stderr once and
// ignored.
PathChoice choose_path(const char* family, const char* env_var, const std::vector<std::string>& ladder,
                       const std::vector<bool>& runs);

// Each family's choice, made once, on first use.
const PathChoice& sgemm_paths();
const PathChoice& qgemm_paths();
const PathChoice& fastmath_paths();

}  // namespace simd
}  // namespace pionnx
