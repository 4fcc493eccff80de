// The depthwise family: the inside run of a 3x3 stride-1 or stride-2 depthwise
// convolution (MobileNet, ShuffleNet, EfficientNet), the loop their time goes
// to. The driver (depthwise.cc) holds the portable kernel and the run-time
// choice (PIONNX_DEPTHWISE=generic|avx2|neon); depthwise_avx2.cc the AVX2+FMA one,
// depthwise_neon.cc the NEON one.
#pragma once
#include <cstdint>

namespace pionnx {
namespace simd {

// y[i] = bias + sum over kh, kw of w[kh * 3 + kw] * r_kh[i + kw * d], for i in
// [0, n): r0, r1, r2 the three input rows of the window (already offset to
// the first output's window), d the horizontal dilation.
void depthwise3x3_row(const float* r0, const float* r1, const float* r2, int64_t d, const float* w, float bias,
                      float* y, int64_t n);

// The same with stride 2 and no dilation: y[i] = bias + sum w[kh * 3 + kw] *
// r_kh[2 i + kw]; reads r_kh[0 .. 2 n].
void depthwise3x3s2_row(const float* r0, const float* r1, const float* r2, const float* w, float bias, float* y,
                        int64_t n);

using Depthwise3x3Row = void (*)(const float* r0, const float* r1, const float* r2, int64_t d, const float* w,
                                 float bias, float* y, int64_t n);
using Depthwise3x3S2Row = void (*)(const float* r0, const float* r1, const float* r2, const float* w, float bias,
                                   float* y, int64_t n);
// nullptr when not compiled in or the CPU lacks AVX2 and FMA.
Depthwise3x3Row depthwise3x3_row_avx2();
Depthwise3x3S2Row depthwise3x3s2_row_avx2();
// nullptr when not compiled in or the CPU reports no NEON (depthwise_neon.cc).
Depthwise3x3Row depthwise3x3_row_neon();
Depthwise3x3S2Row depthwise3x3s2_row_neon();

}  // namespace simd
}  // namespace pionnx
