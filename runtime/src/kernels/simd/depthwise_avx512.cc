// AVX-512 kernels of the depthwise family (depthwise.h). The stride-1 row
// kernel takes 32 outputs per step without dilation (each row's shifted taps
// by valignd), else sixteen, the nine taps in the portable kernel's order as
// fused multiply-adds, and finishes a row with masked loads and stores (no
// scalar tail); the stride-2 one sixteen outputs a step, each input row's
// evens and odds by two-source permutes, also with a masked last step. The
// eight-channel kernel moves the planes in and out with a transpose of two
// permute levels, and its stride-1 rows hold two positions' eight channels
// per vector (in the [rows][cols][8] buffer two neighbouring positions are
// sixteen contiguous floats). Compiled with a target attribute; used only
// when the CPU reports AVX-512 F/VL and FMA.
#include "kernels/simd/depthwise.h"
#include "platform/cpu_features.h"

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>

#include <algorithm>

namespace pionnx {
namespace simd {
namespace {

#define PIONNX_DW512 __attribute__((target("avx512f,avx512vl,avx2,fma")))

// Eight floats in both halves (AVX-512 F's 64x4 broadcast; the 32x8 one is DQ).
PIONNX_DW512 inline __m512 twice(const float* p) {
  return _mm512_castpd_ps(_mm512_broadcast_f64x4(_mm256_castps_pd(_mm256_loadu_ps(p))));
}

// The first n lanes (n clamped to [0, 16]).
PIONNX_DW512 inline __mmask16 lanes(int64_t n) {
  return n >= 16 ? static_cast<__mmask16>(0xFFFF) : n <= 0 ? 0 : static_cast<__mmask16>((1u << n) - 1);
}

// Sixteen stride-1 outputs from the three rows at i (lanes of m only).
PIONNX_DW512 inline __m512 row16(const float* r0, const float* r1, const float* r2, int64_t d, const __m512* wv,
                                 __m512 vb, __mmask16 m) {
  const int64_t d2 = 2 * d;
  __m512 acc = _mm512_fmadd_ps(wv[0], _mm512_maskz_loadu_ps(m, r0), vb);
  acc = _mm512_fmadd_ps(wv[1], _mm512_maskz_loadu_ps(m, r0 + d), acc);
  acc = _mm512_fmadd_ps(wv[2], _mm512_maskz_loadu_ps(m, r0 + d2), acc);
  acc = _mm512_fmadd_ps(wv[3], _mm512_maskz_loadu_ps(m, r1), acc);
  acc = _mm512_fmadd_ps(wv[4], _mm512_maskz_loadu_ps(m, r1 + d), acc);
  acc = _mm512_fmadd_ps(wv[5], _mm512_maskz_loadu_ps(m, r1 + d2), acc);
  acc = _mm512_fmadd_ps(wv[6], _mm512_maskz_loadu_ps(m, r2), acc);
  acc = _mm512_fmadd_ps(wv[7], _mm512_maskz_loadu_ps(m, r2 + d), acc);
  return _mm512_fmadd_ps(wv[8], _mm512_maskz_loadu_ps(m, r2 + d2), acc);
}

// Thirty-two stride-1 outputs without dilation from the three rows at i: each row's three taps from two loads and
// the two values after them, shifted by valignd (a third of row16's loads, most of which split a cache line),
// in two independent chains; each chain's taps in row16's order (the same bits).
PIONNX_DW512 inline void row32_d1(const float* r0, const float* r1, const float* r2, const __m512* wv, __m512 vb,
                                  float* y) {
  __m512 acc0 = vb, acc1 = vb;
  const float* rows[3] = {r0, r1, r2};
  for (int kh = 0; kh < 3; ++kh) {
    const __m512 a = _mm512_loadu_ps(rows[kh]), b = _mm512_loadu_ps(rows[kh] + 16);
    const __m512 c = _mm512_maskz_loadu_ps(0x3, rows[kh] + 32);
    const __m512i ai = _mm512_castps_si512(a), bi = _mm512_castps_si512(b), ci = _mm512_castps_si512(c);
    acc0 = _mm512_fmadd_ps(wv[kh * 3], a, acc0);
    acc1 = _mm512_fmadd_ps(wv[kh * 3], b, acc1);
    acc0 = _mm512_fmadd_ps(wv[kh * 3 + 1], _mm512_castsi512_ps(_mm512_alignr_epi32(bi, ai, 1)), acc0);
    acc1 = _mm512_fmadd_ps(wv[kh * 3 + 1], _mm512_castsi512_ps(_mm512_alignr_epi32(ci, bi, 1)), acc1);
    acc0 = _mm512_fmadd_ps(wv[kh * 3 + 2], _mm512_castsi512_ps(_mm512_alignr_epi32(bi, ai, 2)), acc0);
    acc1 = _mm512_fmadd_ps(wv[kh * 3 + 2], _mm512_castsi512_ps(_mm512_alignr_epi32(ci, bi, 2)), acc1);
  }
  _mm512_storeu_ps(y, acc0);
  _mm512_storeu_ps(y + 16, acc1);
}

PIONNX_DW512 void row_avx512(const float* r0, const float* r1, const float* r2, int64_t d, const float* w, float bias,
                             float* y, int64_t n) {
  __m512 wv[9];
  for (int t = 0; t < 9; ++t) wv[t] = _mm512_set1_ps(w[t]);
  const __m512 vb = _mm512_set1_ps(bias);
  int64_t i = 0;
  if (d == 1)  // (reads r_kh[i .. i + 33] for outputs up to i + 31: within the contract's r_kh[n + 1])
    for (; i + 32 <= n; i += 32) row32_d1(r0 + i, r1 + i, r2 + i, wv, vb, y + i);
  for (; i + 16 <= n; i += 16) _mm512_storeu_ps(y + i, row16(r0 + i, r1 + i, r2 + i, d, wv, vb, lanes(16)));
  if (i < n) {
    const __mmask16 m = lanes(n - i);
    _mm512_mask_storeu_ps(y + i, m, row16(r0 + i, r1 + i, r2 + i, d, wv, vb, m));
  }
}

// Sixteen stride-2 outputs from the three rows at 2i, the first `count` (1 to 16) of them valid: each row's taps
// are the evens, the odds and the evens shifted by one of r[2i .. 2i + 32], from two two-source permutes of two
// loads and a valignd with the one value after them; the loads past the outputs' windows are masked off. The
// taps in the portable kernel's order (the AVX2 kernel's bits).
PIONNX_DW512 inline __m512 row16_s2(const float* const* rows, const __m512* wv, __m512 vb, int64_t count) {
  const __m512i even = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
  const __m512i odd = _mm512_setr_epi32(1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31);
  const int64_t reach = 2 * count + 1;  // values read: r[0 .. 2 count]
  const __mmask16 ma = lanes(reach), mb = lanes(reach - 16), mc = lanes(reach - 32);
  __m512 acc = vb;
  for (int kh = 0; kh < 3; ++kh) {
    const float* r = rows[kh];
    const __m512 a = _mm512_maskz_loadu_ps(ma, r), b = _mm512_maskz_loadu_ps(mb, r + 16);
    const __m512 c = _mm512_maskz_loadu_ps(mc, r + 32);
    const __m512 e = _mm512_permutex2var_ps(a, even, b);
    const __m512 e1 = _mm512_castsi512_ps(_mm512_alignr_epi32(_mm512_castps_si512(c), _mm512_castps_si512(e), 1));
    acc = _mm512_fmadd_ps(wv[kh * 3], e, acc);
    acc = _mm512_fmadd_ps(wv[kh * 3 + 1], _mm512_permutex2var_ps(a, odd, b), acc);
    acc = _mm512_fmadd_ps(wv[kh * 3 + 2], e1, acc);
  }
  return acc;
}

PIONNX_DW512 void row_s2_avx512(const float* r0, const float* r1, const float* r2, const float* w, float bias, float* y,
                                int64_t n) {
  __m512 wv[9];
  for (int t = 0; t < 9; ++t) wv[t] = _mm512_set1_ps(w[t]);
  const __m512 vb = _mm512_set1_ps(bias);
  for (int64_t i = 0; i < n; i += 16) {
    const float* rows[3] = {r0 + 2 * i, r1 + 2 * i, r2 + 2 * i};
    const int64_t count = std::min<int64_t>(16, n - i);
    _mm512_mask_storeu_ps(y + i, lanes(count), row16_s2(rows, wv, vb, count));
  }
}

// Eight rows of eight floats, two rows per register (a[p] = rows 2p, 2p + 1),
// into its transpose, two rows per register: eight two-source permutes (the
// AVX2 kernel's in-register transpose takes 24 shuffles for the same 64
// floats, and both ends of the eight-channel kernel are one).
PIONNX_DW512 inline void transpose8x8(__m512* a) {
  // First the 4 x 4 blocks: rows 0-3 (a[0], a[1]) and 4-7 (a[2], a[3]), columns 0-3 and 4-7, each
  // column's four rows together; then each output register takes two columns of both row halves.
  const __m512i c0 = _mm512_setr_epi32(0, 8, 16, 24, 1, 9, 17, 25, 2, 10, 18, 26, 3, 11, 19, 27);
  const __m512i c4 = _mm512_setr_epi32(4, 12, 20, 28, 5, 13, 21, 29, 6, 14, 22, 30, 7, 15, 23, 31);
  const __m512i m0 = _mm512_setr_epi32(0, 1, 2, 3, 16, 17, 18, 19, 4, 5, 6, 7, 20, 21, 22, 23);
  const __m512i m1 = _mm512_setr_epi32(8, 9, 10, 11, 24, 25, 26, 27, 12, 13, 14, 15, 28, 29, 30, 31);
  const __m512 lo0 = _mm512_permutex2var_ps(a[0], c0, a[1]), hi0 = _mm512_permutex2var_ps(a[2], c0, a[3]);
  const __m512 lo4 = _mm512_permutex2var_ps(a[0], c4, a[1]), hi4 = _mm512_permutex2var_ps(a[2], c4, a[3]);
  a[0] = _mm512_permutex2var_ps(lo0, m0, hi0);
  a[1] = _mm512_permutex2var_ps(lo0, m1, hi0);
  a[2] = _mm512_permutex2var_ps(lo4, m0, hi4);
  a[3] = _mm512_permutex2var_ps(lo4, m1, hi4);
}

// Two 8-float halves in one register.
PIONNX_DW512 inline __m512 halves(__m256 lo, __m256 hi) {
  return _mm512_castpd_ps(_mm512_insertf64x4(_mm512_castpd256_pd512(_mm256_castps_pd(lo)), _mm256_castps_pd(hi), 1));
}

// B vectors of two positions each, positions ow .. ow + 2B - 1 of one
// stride-1 output row, eight channels each (the last vector only in the lanes
// of m): acc[b] = bias + sum over taps of w[t] * p[(kh * wp + ow + 2b + kw) * 8 ..],
// p at the row's first padded input row; a vector's two positions are
// sixteen contiguous floats of the buffer.
template <int B, int Act>
PIONNX_DW512 inline void c8_pairs(const float* p, int64_t wp, int64_t ow, const __m512* wv, __m512 vb, __m512 lo,
                                  __m512 hi, __mmask16 m, float* row) {
  __m512 acc[B];
  for (int b = 0; b < B; ++b) acc[b] = vb;
  for (int kh = 0; kh < 3; ++kh)
    for (int kw = 0; kw < 3; ++kw) {
      const float* q = p + (kh * wp + ow + kw) * 8;
      const __m512 wt = wv[kh * 3 + kw];
      for (int b = 0; b < B; ++b)
        acc[b] = _mm512_fmadd_ps(wt, _mm512_maskz_loadu_ps(b == B - 1 ? m : lanes(16), q + b * 16), acc[b]);
    }
  for (int b = 0; b < B; ++b) {
    if (Act == DepthwiseAct::Relu) acc[b] = _mm512_max_ps(acc[b], lo);
    if (Act == DepthwiseAct::Clip) acc[b] = _mm512_min_ps(hi, _mm512_max_ps(lo, acc[b]));
    _mm512_mask_storeu_ps(row + (ow + 2 * b) * 8, b == B - 1 ? m : lanes(16), acc[b]);
  }
}

// Stride 2 and more (sw): a position per 8-lane vector (two positions 16 floats apart would
// cost an insert per tap, on the ports the multiply-adds use).
template <int B, int Act>
PIONNX_DW512 inline void c8_s2(const float* p, int64_t wp, int64_t sw, int64_t ow, const __m512* wv, __m512 vb,
                               __m512 lo, __m512 hi, float* row) {
  __m256 acc[B];
  for (int b = 0; b < B; ++b) acc[b] = _mm512_castps512_ps256(vb);
  for (int kh = 0; kh < 3; ++kh)
    for (int kw = 0; kw < 3; ++kw) {
      const float* q = p + (kh * wp + ow * sw + kw) * 8;
      const __m256 wt = _mm512_castps512_ps256(wv[kh * 3 + kw]);
      for (int b = 0; b < B; ++b) acc[b] = _mm256_fmadd_ps(wt, _mm256_loadu_ps(q + b * sw * 8), acc[b]);
    }
  for (int b = 0; b < B; ++b) {
    if (Act == DepthwiseAct::Relu) acc[b] = _mm256_max_ps(acc[b], _mm512_castps512_ps256(lo));
    if (Act == DepthwiseAct::Clip)
      acc[b] = _mm256_min_ps(_mm512_castps512_ps256(hi), _mm256_max_ps(_mm512_castps512_ps256(lo), acc[b]));
    _mm256_storeu_ps(row + (ow + b) * 8, acc[b]);
  }
}

// One output row (all OW positions, eight channels each) into `row`; SW 2: any stride sw of 2 and more (a
// stride of 3 ran as 2 while this path took 2 for granted).
template <int SW, int Act>
PIONNX_DW512 void c8_row(const float* p, int64_t wp, int64_t sw, int64_t OW, const __m512* wv, __m512 vb, __m512 lo,
                         __m512 hi, float* row) {
  int64_t ow = 0;
  if (SW == 2) {
    for (; ow + 8 <= OW; ow += 8) c8_s2<8, Act>(p, wp, sw, ow, wv, vb, lo, hi, row);
    for (; ow + 4 <= OW; ow += 4) c8_s2<4, Act>(p, wp, sw, ow, wv, vb, lo, hi, row);
    for (; ow < OW; ++ow) c8_s2<1, Act>(p, wp, sw, ow, wv, vb, lo, hi, row);
    return;
  }
  const __mmask16 all = lanes(16);
  for (; ow + 16 <= OW; ow += 16) c8_pairs<8, Act>(p, wp, ow, wv, vb, lo, hi, all, row);
  for (; ow + 8 <= OW; ow += 8) c8_pairs<4, Act>(p, wp, ow, wv, vb, lo, hi, all, row);
  const int64_t rest = OW - ow;  // 0 .. 7 positions: (rest + 1) / 2 vectors, the last half full when rest is odd
  const __mmask16 last = lanes(rest % 2 ? 8 : 16);
  switch ((rest + 1) / 2) {
    case 4: c8_pairs<4, Act>(p, wp, ow, wv, vb, lo, hi, last, row); break;
    case 3: c8_pairs<3, Act>(p, wp, ow, wv, vb, lo, hi, last, row); break;
    case 2: c8_pairs<2, Act>(p, wp, ow, wv, vb, lo, hi, last, row); break;
    case 1: c8_pairs<1, Act>(p, wp, ow, wv, vb, lo, hi, last, row); break;
    default: break;
  }
}

template <int SW>
using C8Row = void (*)(const float*, int64_t, int64_t, int64_t, const __m512*, __m512, __m512, __m512, float*);

template <int SW>
C8Row<SW> c8_row_for(DepthwiseAct::Kind kind) {
  return kind == DepthwiseAct::Relu   ? &c8_row<SW, DepthwiseAct::Relu>
         : kind == DepthwiseAct::Clip ? &c8_row<SW, DepthwiseAct::Clip>
                                      : &c8_row<SW, DepthwiseAct::None>;
}

// The eight-channel kernel (depthwise.h): the planes interleaved into the
// padded [hp][wp][8] buffer eight columns at a time, the rows computed two
// positions per vector, and each row transposed back onto the eight planes.
// Masked loads and stores take the last columns and positions: nothing is
// read past a plane or written past a row.
PIONNX_DW512 void c8_avx512(const float* x, int64_t in_stride, int64_t H, int64_t W, int64_t ph, int64_t pw, int64_t sh,
                            int64_t sw, const float* w, const float* bias, const DepthwiseAct& act, float* y,
                            int64_t out_stride, int64_t OH, int64_t OW, float* scratch) {
  const int64_t hp = (OH - 1) * sh + 3, wp = (OW - 1) * sw + 3;
  float* pad = scratch;                // [hp][wp][8]: only the input's part is written
  float* row = scratch + hp * wp * 8;  // one output row, [OW + 8][8]
  const int64_t c_lo = std::max<int64_t>(0, -pw), c_hi = std::min(W, wp - pw);  // input columns inside
  for (int64_t ih = std::max<int64_t>(0, -ph); ih < std::min(H, hp - ph); ++ih) {
    float* dst = pad + ((ih + ph) * wp + pw) * 8;
    const float* src = x + ih * W;
    for (int64_t iw = c_lo; iw < c_hi; iw += 8) {
      const int64_t n = std::min<int64_t>(8, c_hi - iw);
      const __mmask8 mn = static_cast<__mmask8>(lanes(n));
      __m512 v[4];
      for (int k = 0; k < 4; ++k)
        v[k] = halves(_mm256_maskz_loadu_ps(mn, src + 2 * k * in_stride + iw),
                      _mm256_maskz_loadu_ps(mn, src + (2 * k + 1) * in_stride + iw));
      transpose8x8(v);
      for (int k = 0; k < 4; ++k) _mm512_mask_storeu_ps(dst + (iw + 2 * k) * 8, lanes(8 * (n - 2 * k)), v[k]);
    }
  }
  __m512 wv[9];
  for (int t = 0; t < 9; ++t) {
    alignas(32) float tap[8];
    for (int k = 0; k < 8; ++k) tap[k] = w[k * 9 + t];
    wv[t] = twice(tap);
  }
  alignas(32) const float zero[8] = {};
  const __m512 vb = twice(bias ? bias : zero);
  const __m512 lo = _mm512_set1_ps(act.kind == DepthwiseAct::Relu ? 0.f : act.lo), hi = _mm512_set1_ps(act.hi);
  const C8Row<1> row_s1 = c8_row_for<1>(act.kind);
  const C8Row<2> row_s2 = c8_row_for<2>(act.kind);
  for (int64_t oh = 0; oh < OH; ++oh) {
    const float* p = pad + oh * sh * wp * 8;
    if (sw == 1) row_s1(p, wp, 1, OW, wv, vb, lo, hi, row);
    else row_s2(p, wp, sw, OW, wv, vb, lo, hi, row);
    float* yr = y + oh * OW;
    for (int64_t ow = 0; ow < OW; ow += 8) {  // back to the planes, eight positions at a time
      const __mmask8 mn = static_cast<__mmask8>(lanes(OW - ow));
      __m512 v[4];
      for (int k = 0; k < 4; ++k) v[k] = _mm512_loadu_ps(row + (ow + 2 * k) * 8);  // the buffer has 8 spare
      transpose8x8(v);
      for (int k = 0; k < 4; ++k) {
        _mm256_mask_storeu_ps(yr + 2 * k * out_stride + ow, mn, _mm512_castps512_ps256(v[k]));
        _mm256_mask_storeu_ps(yr + (2 * k + 1) * out_stride + ow, mn,
                              _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(v[k]), 1)));
      }
    }
  }
}

bool has_avx512() {
  const platform::CpuFeatures& cpu = platform::cpu_features();
  return cpu.avx512f && cpu.avx512vl && cpu.avx2 && cpu.fma;
}

}  // namespace

Depthwise3x3Row depthwise3x3_row_avx512() { return has_avx512() ? row_avx512 : nullptr; }
// Stride 2: two loads, two permutes and a valignd per input row (four loads
// and three permutes measured slower than the AVX2 kernel on a Xeon, 96
// channels 112 -> 56: 320 -> 330 us; this form on Zen 4, quantized 96 x
// 112x112: 1.56 -> 1.30x onnxruntime, and no scalar tail).
Depthwise3x3S2Row depthwise3x3s2_row_avx512() { return has_avx512() ? row_s2_avx512 : nullptr; }
Depthwise3x3C8 depthwise3x3_c8_avx512() { return has_avx512() ? c8_avx512 : nullptr; }

}  // namespace simd
}  // namespace pionnx

#else

namespace pionnx {
namespace simd {
Depthwise3x3Row depthwise3x3_row_avx512() { return nullptr; }
Depthwise3x3S2Row depthwise3x3s2_row_avx512() { return nullptr; }
Depthwise3x3C8 depthwise3x3_c8_avx512() { return nullptr; }
}  // namespace simd
}  // namespace pionnx

#endif
