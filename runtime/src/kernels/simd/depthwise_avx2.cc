// AVX2+FMA kernels of the depthwise family (depthwise.h): eight outputs per
// step, the nine taps as shifted unaligned loads of the three input rows,
// fused multiply-adds in the portable kernel's order. Compiled with a target
// attribute; used only when the CPU reports AVX2 and FMA.
#include "kernels/simd/depthwise.h"
#include "platform/cpu_features.h"

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>

#include <algorithm>

#include "kernels/simd/transpose_avx2.h"

namespace pionnx {
namespace simd {
namespace {

__attribute__((target("avx2,fma"))) void row_avx2(const float* r0, const float* r1, const float* r2, int64_t d,
                                                  const float* w, float bias, float* y, int64_t n) {
  const __m256 w0 = _mm256_set1_ps(w[0]), w1 = _mm256_set1_ps(w[1]), w2 = _mm256_set1_ps(w[2]);
  const __m256 w3 = _mm256_set1_ps(w[3]), w4 = _mm256_set1_ps(w[4]), w5 = _mm256_set1_ps(w[5]);
  const __m256 w6 = _mm256_set1_ps(w[6]), w7 = _mm256_set1_ps(w[7]), w8 = _mm256_set1_ps(w[8]);
  const __m256 vb = _mm256_set1_ps(bias);
  const int64_t d2 = 2 * d;
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    __m256 acc = _mm256_fmadd_ps(w0, _mm256_loadu_ps(r0 + i), vb);
    acc = _mm256_fmadd_ps(w1, _mm256_loadu_ps(r0 + i + d), acc);
    acc = _mm256_fmadd_ps(w2, _mm256_loadu_ps(r0 + i + d2), acc);
    acc = _mm256_fmadd_ps(w3, _mm256_loadu_ps(r1 + i), acc);
    acc = _mm256_fmadd_ps(w4, _mm256_loadu_ps(r1 + i + d), acc);
    acc = _mm256_fmadd_ps(w5, _mm256_loadu_ps(r1 + i + d2), acc);
    acc = _mm256_fmadd_ps(w6, _mm256_loadu_ps(r2 + i), acc);
    acc = _mm256_fmadd_ps(w7, _mm256_loadu_ps(r2 + i + d), acc);
    acc = _mm256_fmadd_ps(w8, _mm256_loadu_ps(r2 + i + d2), acc);
    _mm256_storeu_ps(y + i, acc);
  }
  for (; i < n; ++i)
    y[i] = bias + w[0] * r0[i] + w[1] * r0[i + d] + w[2] * r0[i + d2] + w[3] * r1[i] + w[4] * r1[i + d] +
           w[5] * r1[i + d2] + w[6] * r2[i] + w[7] * r2[i + d] + w[8] * r2[i + d2];
}

// Stride 2: for eight outputs the taps of one row are the evens of r[2i ..),
// the odds (the evens of r[2i + 1 ..)) and the evens of r[2i + 2 ..). One
// in-lane shuffle of two loads gives them in the order 0 1 4 5 | 2 3 6 7;
// every tap and the bias share that order, so the sums are put right by one
// lane-crossing permute per eight outputs, not one per tap. A block reads r[2i .. 2i + 17], so it runs while a ninth
// output follows (whose window reaches 2i + 18) and the tail goes one output
// at a time.
__attribute__((target("avx2,fma"), always_inline)) inline __m256 row_taps_s2(const float* p, __m256 wa, __m256 wb,
                                                                             __m256 wc, __m256 acc) {
  const __m256 a = _mm256_loadu_ps(p), b = _mm256_loadu_ps(p + 8);
  const __m256 c = _mm256_loadu_ps(p + 2), d = _mm256_loadu_ps(p + 10);
  acc = _mm256_fmadd_ps(wa, _mm256_shuffle_ps(a, b, 0x88), acc);   // p[0], p[2], ..
  acc = _mm256_fmadd_ps(wb, _mm256_shuffle_ps(a, b, 0xDD), acc);   // p[1], p[3], ..
  return _mm256_fmadd_ps(wc, _mm256_shuffle_ps(c, d, 0x88), acc);  // p[2], p[4], ..
}

__attribute__((target("avx2,fma"))) void row_s2_avx2(const float* r0, const float* r1, const float* r2, const float* w,
                                                     float bias, float* y, int64_t n) {
  const __m256 w0 = _mm256_set1_ps(w[0]), w1 = _mm256_set1_ps(w[1]), w2 = _mm256_set1_ps(w[2]);
  const __m256 w3 = _mm256_set1_ps(w[3]), w4 = _mm256_set1_ps(w[4]), w5 = _mm256_set1_ps(w[5]);
  const __m256 w6 = _mm256_set1_ps(w[6]), w7 = _mm256_set1_ps(w[7]), w8 = _mm256_set1_ps(w[8]);
  const __m256 vb = _mm256_set1_ps(bias);
  int64_t i = 0;
  for (; i + 9 <= n; i += 8) {
    const int64_t j = 2 * i;
    __m256 acc = row_taps_s2(r0 + j, w0, w1, w2, vb);
    acc = row_taps_s2(r1 + j, w3, w4, w5, acc);
    acc = row_taps_s2(r2 + j, w6, w7, w8, acc);
    _mm256_storeu_ps(y + i, _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(acc), 0xD8)));
  }
  for (; i < n; ++i) {
    const int64_t j = 2 * i;
    y[i] = bias + w[0] * r0[j] + w[1] * r0[j + 1] + w[2] * r0[j + 2] + w[3] * r1[j] + w[4] * r1[j + 1] +
           w[5] * r1[j + 2] + w[6] * r2[j] + w[7] * r2[j + 1] + w[8] * r2[j + 2];
  }
}

// B outputs of one row (positions ow .. ow + B - 1), eight channels each:
// acc[b] = bias + sum over taps of w[t] * p[(kh * wp + (ow + b) * sw + kw) * 8],
// p at the row's first padded input row. B independent chains of nine
// multiply-adds hide the FMA latency.
template <int B, int Act>
__attribute__((target("avx2,fma"), always_inline)) inline void c8_outputs(const float* p, int64_t wp, int64_t sw,
                                                                          int64_t ow, const __m256* wv, __m256 vb,
                                                                          __m256 lo, __m256 hi, float* out) {
  __m256 acc[B];
  for (int b = 0; b < B; ++b) acc[b] = vb;
  for (int kh = 0; kh < 3; ++kh)
    for (int kw = 0; kw < 3; ++kw) {
      const float* q = p + (kh * wp + ow * sw + kw) * 8;
      const __m256 wt = wv[kh * 3 + kw];
      for (int b = 0; b < B; ++b) acc[b] = _mm256_fmadd_ps(wt, _mm256_loadu_ps(q + b * sw * 8), acc[b]);
    }
  for (int b = 0; b < B; ++b) {
    if (Act == DepthwiseAct::Relu) acc[b] = _mm256_max_ps(acc[b], lo);
    if (Act == DepthwiseAct::Clip) acc[b] = _mm256_min_ps(hi, _mm256_max_ps(lo, acc[b]));
    _mm256_storeu_ps(out + (ow + b) * 8, acc[b]);
  }
}

// One output row (all OW positions, eight channels each) into `row`.
template <int Act>
__attribute__((target("avx2,fma"))) void c8_row(const float* p, int64_t wp, int64_t sw, int64_t OW, const __m256* wv,
                                                __m256 vb, __m256 lo, __m256 hi, float* row) {
  int64_t ow = 0;
  for (; ow + 8 <= OW; ow += 8) c8_outputs<8, Act>(p, wp, sw, ow, wv, vb, lo, hi, row);
  for (; ow + 4 <= OW; ow += 4) c8_outputs<4, Act>(p, wp, sw, ow, wv, vb, lo, hi, row);
  for (; ow < OW; ++ow) c8_outputs<1, Act>(p, wp, sw, ow, wv, vb, lo, hi, row);
}

__attribute__((target("avx2,fma"))) void c8_avx2(const float* x, int64_t in_stride, int64_t H, int64_t W, int64_t ph,
                                                 int64_t pw, int64_t sh, int64_t sw, const float* w, const float* bias,
                                                 const DepthwiseAct& act, float* y, int64_t out_stride, int64_t OH,
                                                 int64_t OW, float* scratch) {
  const int64_t hp = (OH - 1) * sh + 3, wp = (OW - 1) * sw + 3;
  float* pad = scratch;                // [hp][wp][8]: only the input's part is written
  float* row = scratch + hp * wp * 8;  // one output row, [OW + 8][8]
  // Interleave: eight columns of the eight planes at a time, transposed in registers.
  const int64_t c_lo = std::max<int64_t>(0, -pw), c_hi = std::min(W, wp - pw);  // input columns inside
  for (int64_t ih = std::max<int64_t>(0, -ph); ih < std::min(H, hp - ph); ++ih) {
    float* dst = pad + ((ih + ph) * wp + pw) * 8;
    const float* src = x + ih * W;
    int64_t iw = c_lo;
    for (; iw + 8 <= c_hi; iw += 8) {
      __m256 r0 = _mm256_loadu_ps(src + iw), r1 = _mm256_loadu_ps(src + in_stride + iw);
      __m256 r2 = _mm256_loadu_ps(src + 2 * in_stride + iw), r3 = _mm256_loadu_ps(src + 3 * in_stride + iw);
      __m256 r4 = _mm256_loadu_ps(src + 4 * in_stride + iw), r5 = _mm256_loadu_ps(src + 5 * in_stride + iw);
      __m256 r6 = _mm256_loadu_ps(src + 6 * in_stride + iw), r7 = _mm256_loadu_ps(src + 7 * in_stride + iw);
      transpose8(r0, r1, r2, r3, r4, r5, r6, r7);
      float* d = dst + iw * 8;
      _mm256_storeu_ps(d, r0);
      _mm256_storeu_ps(d + 8, r1);
      _mm256_storeu_ps(d + 16, r2);
      _mm256_storeu_ps(d + 24, r3);
      _mm256_storeu_ps(d + 32, r4);
      _mm256_storeu_ps(d + 40, r5);
      _mm256_storeu_ps(d + 48, r6);
      _mm256_storeu_ps(d + 56, r7);
    }
    if (iw < c_hi) {  // the last n < 8 columns, n positions stored
      const int n = static_cast<int>(c_hi - iw);
      __m256 r[8];
      if (ih * W + iw + 8 <= H * W) {  // whole vectors: the extra columns are the plane's next rows
        for (int k = 0; k < 8; ++k) r[k] = _mm256_loadu_ps(src + k * in_stride + iw);
      } else {  // near the plane's end: past it may lie the end of the tensor
        const __m256i mask = _mm256_cmpgt_epi32(_mm256_set1_epi32(n), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
        for (int k = 0; k < 8; ++k) r[k] = _mm256_maskload_ps(src + k * in_stride + iw, mask);
      }
      transpose8(r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7]);
      for (int j = 0; j < n; ++j) _mm256_storeu_ps(dst + (iw + j) * 8, r[j]);
    }
  }
  __m256 wv[9];
  for (int t = 0; t < 9; ++t)
    wv[t] = _mm256_setr_ps(w[t], w[9 + t], w[18 + t], w[27 + t], w[36 + t], w[45 + t], w[54 + t], w[63 + t]);
  const __m256 vb = bias ? _mm256_loadu_ps(bias) : _mm256_setzero_ps();
  const __m256 lo = _mm256_set1_ps(act.kind == DepthwiseAct::Relu ? 0.f : act.lo), hi = _mm256_set1_ps(act.hi);
  auto* const compute_row = act.kind == DepthwiseAct::Relu   ? &c8_row<DepthwiseAct::Relu>
                            : act.kind == DepthwiseAct::Clip ? &c8_row<DepthwiseAct::Clip>
                                                             : &c8_row<DepthwiseAct::None>;
  for (int64_t oh = 0; oh < OH; ++oh) {
    compute_row(pad + oh * sh * wp * 8, wp, sw, OW, wv, vb, lo, hi, row);
    // Back to the eight planes: eight outputs at a time, transposed in registers.
    float* yr = y + oh * OW;
    int64_t ow = 0;
    for (; ow + 8 <= OW; ow += 8) {
      const float* q = row + ow * 8;
      __m256 r0 = _mm256_loadu_ps(q), r1 = _mm256_loadu_ps(q + 8), r2 = _mm256_loadu_ps(q + 16);
      __m256 r3 = _mm256_loadu_ps(q + 24), r4 = _mm256_loadu_ps(q + 32), r5 = _mm256_loadu_ps(q + 40);
      __m256 r6 = _mm256_loadu_ps(q + 48), r7 = _mm256_loadu_ps(q + 56);
      transpose8(r0, r1, r2, r3, r4, r5, r6, r7);
      _mm256_storeu_ps(yr + ow, r0);
      _mm256_storeu_ps(yr + out_stride + ow, r1);
      _mm256_storeu_ps(yr + 2 * out_stride + ow, r2);
      _mm256_storeu_ps(yr + 3 * out_stride + ow, r3);
      _mm256_storeu_ps(yr + 4 * out_stride + ow, r4);
      _mm256_storeu_ps(yr + 5 * out_stride + ow, r5);
      _mm256_storeu_ps(yr + 6 * out_stride + ow, r6);
      _mm256_storeu_ps(yr + 7 * out_stride + ow, r7);
    }
    if (ow < OW) {  // the last n < 8 positions (the row buffer has 8 more)
      const int n = static_cast<int>(OW - ow);
      __m256 r[8];
      for (int j = 0; j < 8; ++j) r[j] = _mm256_loadu_ps(row + (ow + j) * 8);
      transpose8(r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7]);
      if (oh * OW + ow + 8 <= OH * OW) {
        // Whole vectors: the extra values land on the plane's next rows, written
        // after this one (a masked store is microcoded on AMD cores: 3x slower).
        for (int k = 0; k < 8; ++k) _mm256_storeu_ps(yr + k * out_stride + ow, r[k]);
      } else {  // near the plane's end: past it lies the next plane
        alignas(32) float v[8];
        for (int k = 0; k < 8; ++k) {
          _mm256_store_ps(v, r[k]);
          for (int j = 0; j < n; ++j) yr[k * out_stride + ow + j] = v[j];
        }
      }
    }
  }
}

}  // namespace

Depthwise3x3C8 depthwise3x3_c8_avx2() {
  const platform::CpuFeatures& cpu = platform::cpu_features();
  return cpu.avx2 && cpu.fma ? c8_avx2 : nullptr;
}

Depthwise3x3S2Row depthwise3x3s2_row_avx2() {
  const platform::CpuFeatures& cpu = platform::cpu_features();
  return cpu.avx2 && cpu.fma ? row_s2_avx2 : nullptr;
}

Depthwise3x3Row depthwise3x3_row_avx2() {
  const platform::CpuFeatures& cpu = platform::cpu_features();
  return cpu.avx2 && cpu.fma ? row_avx2 : nullptr;
}

}  // namespace simd
}  // namespace pionnx

#else

namespace pionnx {
namespace simd {
Depthwise3x3Row depthwise3x3_row_avx2() { return nullptr; }
Depthwise3x3S2Row depthwise3x3s2_row_avx2() { return nullptr; }
Depthwise3x3C8 depthwise3x3_c8_avx2() { return nullptr; }
}  // namespace simd
}  // namespace pionnx

#endif
