// Standalone check of the depthwise family's row kernels (3x3 stride 1 with
// dilation 1 and 2, 3x3 stride 2) against a double-precision sum, over output
// widths around the vector blocks, for cross builds run under qemu
// (ci/checks/arm_kernels.sh) as well as the host. The path is the one this
// process picked (PIONNX_DEPTHWISE caps it). Exit status is non-zero on any
// value out of tolerance. Past what a row's window covers, each row holds
// NaN: a tap taken from the wrong place shows as a NaN output.
#include <cmath>
#include <cstdio>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "kernels/simd/depthwise.h"
#include "kernels/simd/dispatch.h"

namespace {

int failures = 0;

void check(const char* what, int64_t n, const std::vector<float>& got, const std::vector<double>& want) {
  for (int64_t i = 0; i < n; ++i) {
    const double err = std::fabs(static_cast<double>(got[i]) - want[i]);
    if (!(err <= 1e-5 * (1 + std::fabs(want[i]))) && ++failures <= 20)
      std::printf("  MISMATCH %s n=%lld at %lld: %.9g, want %.9g\n", what, static_cast<long long>(n),
                  static_cast<long long>(i), static_cast<double>(got[i]), want[i]);
  }
}

}  // namespace

int main() {
  const auto& paths = pionnx::simd::depthwise_paths();
  std::string avail;
  for (const auto& p : paths.available) avail += (avail.empty() ? "" : ", ") + p;
  std::printf("depthwise: paths %s; running %s\n", avail.c_str(), paths.active.c_str());
  std::mt19937 rng(7);
  std::normal_distribution<float> dist;
  const float nan = std::numeric_limits<float>::quiet_NaN();
  float w[9];
  for (float& v : w) v = dist(rng);
  const float bias = 0.25f;
  int rows_checked = 0;
  for (int64_t n = 1; n <= 41; ++n) {
    for (int64_t d : {1, 2}) {  // stride 1: reads r[0 .. n - 1 + 2d]
      const int64_t len = n + 2 * d;
      std::vector<std::vector<float>> r(3, std::vector<float>(static_cast<size_t>(len + 8), nan));
      for (auto& row : r)
        for (int64_t i = 0; i < len; ++i) row[static_cast<size_t>(i)] = dist(rng);
      std::vector<float> y(static_cast<size_t>(n));
      pionnx::simd::depthwise3x3_row(r[0].data(), r[1].data(), r[2].data(), d, w, bias, y.data(), n);
      std::vector<double> want(static_cast<size_t>(n));
      for (int64_t i = 0; i < n; ++i) {
        double s = bias;
        for (int kh = 0; kh < 3; ++kh)
          for (int kw = 0; kw < 3; ++kw) s += static_cast<double>(w[kh * 3 + kw]) * r[kh][i + kw * d];
        want[static_cast<size_t>(i)] = s;
      }
      check(d == 1 ? "3x3 stride 1" : "3x3 stride 1 dilation 2", n, y, want);
      ++rows_checked;
    }
    {  // stride 2: reads r[0 .. 2n]
      const int64_t len = 2 * n + 1;
      std::vector<std::vector<float>> r(3, std::vector<float>(static_cast<size_t>(len + 8), nan));
      for (auto& row : r)
        for (int64_t i = 0; i < len; ++i) row[static_cast<size_t>(i)] = dist(rng);
      std::vector<float> y(static_cast<size_t>(n));
      pionnx::simd::depthwise3x3s2_row(r[0].data(), r[1].data(), r[2].data(), w, bias, y.data(), n);
      std::vector<double> want(static_cast<size_t>(n));
      for (int64_t i = 0; i < n; ++i) {
        double s = bias;
        for (int kh = 0; kh < 3; ++kh)
          for (int kw = 0; kw < 3; ++kw) s += static_cast<double>(w[kh * 3 + kw]) * r[kh][2 * i + kw];
        want[static_cast<size_t>(i)] = s;
      }
      check("3x3 stride 2", n, y, want);
      ++rows_checked;
    }
  }
  std::printf("%s: %d rows, %d values out of tolerance\n", paths.active.c_str(), rows_checked, failures);
  return failures == 0 ? 0 : 1;
}
