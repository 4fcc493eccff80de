// See depthwise.h. The driver of the depthwise family: the portable kernel
// (plain loops the compiler vectorizes at the baseline) and the run-time
// choice among the instruction-set ones.
#include "kernels/simd/depthwise.h"

#include <string>

#include "kernels/simd/dispatch.h"

namespace pionnx {
namespace simd {
namespace {

void row_generic(const float* r0, const float* r1, const float* r2, int64_t d, const float* w, float bias, float* y,
                 int64_t n) {
  const float w0 = w[0], w1 = w[1], w2 = w[2], w3 = w[3], w4 = w[4], w5 = w[5], w6 = w[6], w7 = w[7], w8 = w[8];
  const int64_t d2 = 2 * d;
  for (int64_t i = 0; i < n; ++i)
    y[i] = bias + w0 * r0[i] + w1 * r0[i + d] + w2 * r0[i + d2] + w3 * r1[i] + w4 * r1[i + d] + w5 * r1[i + d2] +
           w6 * r2[i] + w7 * r2[i + d] + w8 * r2[i + d2];
}

void row_s2_generic(const float* r0, const float* r1, const float* r2, const float* w, float bias, float* y,
                    int64_t n) {
  const float w0 = w[0], w1 = w[1], w2 = w[2], w3 = w[3], w4 = w[4], w5 = w[5], w6 = w[6], w7 = w[7], w8 = w[8];
  for (int64_t i = 0; i < n; ++i) {
    const int64_t j = 2 * i;
    y[i] = bias + w0 * r0[j] + w1 * r0[j + 1] + w2 * r0[j + 2] + w3 * r1[j] + w4 * r1[j + 1] + w5 * r1[j + 2] +
           w6 * r2[j] + w7 * r2[j + 1] + w8 * r2[j + 2];
  }
}

Depthwise3x3Row active() {
  static const Depthwise3x3Row k = [] {
    const std::string& name = depthwise_paths().active;
    return name == "avx512" ? depthwise3x3_row_avx512()
           : name == "avx2" ? depthwise3x3_row_avx2()
           : name == "neon" ? depthwise3x3_row_neon()
                            : row_generic;
  }();
  return k;
}

Depthwise3x3S2Row active_s2() {
  static const Depthwise3x3S2Row k = [] {
    const std::string& name = depthwise_paths().active;
    return name == "avx512" ? depthwise3x3s2_row_avx512()
           : name == "avx2" ? depthwise3x3s2_row_avx2()
           : name == "neon" ? depthwise3x3s2_row_neon()
                            : row_s2_generic;
  }();
  return k;
}

}  // namespace

void depthwise3x3_row(const float* r0, const float* r1, const float* r2, int64_t d, const float* w, float bias,
                      float* y, int64_t n) {
  active()(r0, r1, r2, d, w, bias, y, n);
}

void depthwise3x3s2_row(const float* r0, const float* r1, const float* r2, const float* w, float bias, float* y,
                        int64_t n) {
  active_s2()(r0, r1, r2, w, bias, y, n);
}

Depthwise3x3C8 depthwise3x3_c8() {
  static const Depthwise3x3C8 k = [] {
    const std::string& name = depthwise_paths().active;
    return name == "avx512" ? depthwise3x3_c8_avx512() : name == "avx2" ? depthwise3x3_c8_avx2() : nullptr;
  }();
  return k;
}

// PIONNX_DEPTHWISE=generic|avx2|avx512|neon caps the choice (tests, benchmarks).
const PathChoice& depthwise_paths() {
  static const PathChoice choice =
      platform::choose_path("depthwise convolution", "PIONNX_DEPTHWISE", {"generic", "avx2", "avx512", "neon"},
                            {true, depthwise3x3_row_avx2() != nullptr, depthwise3x3_row_avx512() != nullptr,
                             depthwise3x3_row_neon() != nullptr});
  return choice;
}

}  // namespace simd
}  // namespace pionnx
