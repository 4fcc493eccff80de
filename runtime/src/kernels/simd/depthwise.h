// The depthwise family: the inside run of a 3x3 stride-1 or stride-2 depthwise
// convolution (MobileNet, ShuffleNet, EfficientNet), the loop their time goes
// to. The driver (depthwise.cc) holds the portable kernel and the run-time
// choice (PIONNX_DEPTHWISE=generic|avx2|avx512|neon); depthwise_avx2.cc the
// AVX2+FMA one, depthwise_avx512.cc the AVX-512 one, depthwise_neon.cc the NEON
// one.
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
// Eight channels of a 3x3 depthwise convolution (no dilation) at once, for
// small maps: the planes are interleaved into a zero-padded [rows][cols][8]
// buffer (one vector holds one position's eight channels), each output is
// nine multiply-adds of whole vectors, and the results are transposed back.
// Channel k: input plane x + k * in_stride (H x W), output y + k * out_stride
// (OH x OW), taps w[k * 9 + t], bias[k] (bias may be null). ph, pw: the top
// and left pads (whatever else a window covers outside the input reads
// zeros); sh, sw: the strides. scratch holds depthwise3x3_c8_scratch(OH, OW,
// sh, sw) floats, zero before the first of a series of calls with the same
// geometry: the kernel writes only the input's part of its padded buffer, so
// the border stays zero for the next call. `act` is applied to each output
// vector before it is stored (Relu and Clip as in the SGEMM's epilogue: Relu
// takes NaN to 0, Clip keeps it).
struct DepthwiseAct {
  enum Kind : int { None, Relu, Clip } kind = None;
  float lo = 0.f, hi = 0.f;
};
using Depthwise3x3C8 = void (*)(const float* x, int64_t in_stride, int64_t H, int64_t W, int64_t ph, int64_t pw,
                                int64_t sh, int64_t sw, const float* w, const float* bias, const DepthwiseAct& act,
                                float* y, int64_t out_stride, int64_t OH, int64_t OW, float* scratch);
inline int64_t depthwise3x3_c8_scratch(int64_t OH, int64_t OW, int64_t sh, int64_t sw) {
  return ((OH - 1) * sh + 3) * ((OW - 1) * sw + 3) * 8 + (OW + 8) * 8;
}
// The active path's eight-channel kernel, or nullptr (only the AVX2 and
// AVX-512 paths have one; the others run the row kernels).
Depthwise3x3C8 depthwise3x3_c8();
// nullptr when not compiled in or the CPU lacks AVX2 and FMA.
Depthwise3x3C8 depthwise3x3_c8_avx2();
// The AVX-512 path (depthwise_avx512.cc): sixteen outputs per step in the row
// kernels, two positions per vector in the eight-channel one. nullptr when
// not compiled in or the CPU lacks AVX-512 F/VL or FMA.
Depthwise3x3Row depthwise3x3_row_avx512();
Depthwise3x3S2Row depthwise3x3s2_row_avx512();
Depthwise3x3C8 depthwise3x3_c8_avx512();
// nullptr when not compiled in or the CPU reports no NEON (depthwise_neon.cc).
Depthwise3x3Row depthwise3x3_row_neon();
Depthwise3x3S2Row depthwise3x3s2_row_neon();

}  // namespace simd
}  // namespace pionnx
