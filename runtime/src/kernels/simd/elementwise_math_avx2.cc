// The fastmath family's AVX2+FMA table: elementwise_math_kernels.h's loops
// instantiated inside target("avx2,fma") functions, so the rest of the
// library stays baseline x86-64. Used only when the CPU reports AVX2 and FMA.
#define PIONNX_FASTMATH_WIDE 1  // 256-bit vectors (elementwise_math_kernels.h)
#include "kernels/simd/elementwise_math_kernels.h"
#include "platform/cpu_features.h"

#if defined(__x86_64__)
#include <immintrin.h>
#endif

namespace pionnx {
namespace fastmath {

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))

namespace {

PIONNX_FASTMATH_TABLE(avx2, Avx2, __attribute__((target("avx2,fma"))))

// quantize_u8 in intrinsics, 32 values per step: vcvtps2dq rounds half to
// even under the default MXCSR mode (std::nearbyint's rounding), the zero
// point is added in saturating int16 and the packs saturate to [0, 255], so
// the shuffles are three packs and one permute per 32 bytes where the
// vector-extension loop of the table needed three per 8 and the rounding
// adds. NaN lanes are zeroed before the conversion and get the zero point.
// x / scale is the correctly rounded quotient the reference rounds, made
// without the division (which bounded the loop) as elementwise_math.h says.
__attribute__((target("avx2,fma"))) void quantize_u8_packed(const float* x, int64_t n, float scale, int32_t zp,
                                                            uint8_t* y) {
  const __m256 s = _mm256_set1_ps(scale), inv = _mm256_set1_ps(1.0f / scale);
  const __m256i z = _mm256_set1_epi16(static_cast<int16_t>(zp));
  const __m256i order = _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7);
  int64_t i = 0;
  for (; i + 32 <= n; i += 32) {
    __m256i q[4];
    for (int j = 0; j < 4; ++j) {
      const __m256 xv = _mm256_loadu_ps(x + i + 8 * j);
      const __m256 q0 = _mm256_mul_ps(xv, inv);
      const __m256 v = _mm256_fmadd_ps(_mm256_fnmadd_ps(q0, s, xv), inv, q0);
      q[j] = _mm256_cvtps_epi32(_mm256_and_ps(v, _mm256_cmp_ps(v, v, _CMP_ORD_Q)));
    }
    // packs work per 128-bit lane: bytes come out as q0 q1 q2 q3 (low
    // halves), then the high halves; the permute puts them in order.
    const __m256i a = _mm256_adds_epi16(_mm256_packs_epi32(q[0], q[1]), z);
    const __m256i b = _mm256_adds_epi16(_mm256_packs_epi32(q[2], q[3]), z);
    const __m256i bytes = _mm256_permutevar8x32_epi32(_mm256_packus_epi16(a, b), order);
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(y + i), bytes);
  }
  if (i < n) quantize_u8_avx2(x + i, n - i, scale, zp, y + i);
}

// float <-> half by F16C, 8 values a step; the tail through an 8-value buffer, so every value takes the same
// instruction (the same NaN bits wherever it sits). vcvtps2ph rounds to nearest even (imm 0), keeps subnormals
// (MXCSR's DAZ and FTZ do not apply to it) and quiets a NaN keeping its payload's top bits.
__attribute__((target("avx2,f16c"))) void half_from_float_f16c(const float* x, uint16_t* y, int64_t n) {
  int64_t i = 0;
  for (; i + 8 <= n; i += 8)
    _mm_storeu_si128(reinterpret_cast<__m128i*>(y + i),
                     _mm256_cvtps_ph(_mm256_loadu_ps(x + i), _MM_FROUND_TO_NEAREST_INT));
  if (i < n) {
    float in[8] = {};
    uint16_t out[8];
    std::memcpy(in, x + i, static_cast<size_t>(n - i) * sizeof(float));
    _mm_storeu_si128(reinterpret_cast<__m128i*>(out), _mm256_cvtps_ph(_mm256_loadu_ps(in), _MM_FROUND_TO_NEAREST_INT));
    std::memcpy(y + i, out, static_cast<size_t>(n - i) * sizeof(uint16_t));
  }
}

__attribute__((target("avx2,f16c"))) void float_from_half_f16c(const uint16_t* x, float* y, int64_t n) {
  int64_t i = 0;
  for (; i + 8 <= n; i += 8)
    _mm256_storeu_ps(y + i, _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(x + i))));
  if (i < n) {
    uint16_t in[8] = {};
    float out[8];
    std::memcpy(in, x + i, static_cast<size_t>(n - i) * sizeof(uint16_t));
    _mm256_storeu_ps(out, _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(in))));
    std::memcpy(y + i, out, static_cast<size_t>(n - i) * sizeof(float));
  }
}

// float_from_q8 and int32_from_float (elementwise_math_kernels.h) 8 values a step, a row's last ones in one more
// step: the table's loops left up to 7 values a row to a scalar tail, all of a 7-wide row (a quantized
// MobileNetV2's depthwise planes, 7 to 112 wide, are converted a row at a time into a padded grid and read back from
// one: together 10 % of its time on Zen 3). A tail's vector reads past the row where the data goes on (bytes of the
// next rows; the grid's gap), and writes a whole vector where what follows is this call's own: the rest of the row's
// stride read and kept (float_from_q8's gap, which the caller may hold zeros in), the next row's first values, which
// it writes after. Only where the data ends within the vector are masks used (AMD's masked stores are slow: with one
// on every row the two loops took two fifths longer than the scalar tails).
__attribute__((target("avx2"))) inline __m256 float_of_bytes(__m128i b, bool is_signed, __m256 off) {
  return _mm256_sub_ps(_mm256_cvtepi32_ps(is_signed ? _mm256_cvtepi8_epi32(b) : _mm256_cvtepu8_epi32(b)), off);
}

__attribute__((target("avx2"))) inline __m256i first_lanes(int64_t k) {
  return _mm256_cmpgt_epi32(_mm256_set1_epi32(static_cast<int32_t>(k)), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}

__attribute__((target("avx2"))) void float_from_q8_ymm(const uint8_t* x, int64_t rows, int64_t cols, bool is_signed,
                                                       float offset, float* y, int64_t y_stride) {
  if (y_stride == cols) cols *= rows, rows = 1;
  const __m256 off = _mm256_set1_ps(offset);
  for (int64_t r = 0; r < rows; ++r, x += cols, y += y_stride) {
    int64_t i = 0;
    for (; i + 8 <= cols; i += 8)
      _mm256_storeu_ps(y + i, float_of_bytes(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(x + i)), is_signed, off));
    if (i == cols) continue;
    __m128i b;
    if ((rows - r) * cols - i >= 8) {  // x's bytes go on for a whole step
      b = _mm_loadl_epi64(reinterpret_cast<const __m128i*>(x + i));
    } else {
      uint8_t tail[8] = {};
      std::memcpy(tail, x + i, static_cast<size_t>(cols - i));
      b = _mm_loadl_epi64(reinterpret_cast<const __m128i*>(tail));
    }
    const __m256 v = float_of_bytes(b, is_signed, off);
    const __m256i m = first_lanes(cols - i);
    if ((rows - 1 - r) * y_stride + cols - i >= 8)  // y goes on: the lanes past the row keep what is there
      _mm256_storeu_ps(y + i, _mm256_blendv_ps(_mm256_loadu_ps(y + i), v, _mm256_castsi256_ps(m)));
    else _mm256_maskstore_ps(y + i, m, v);
  }
}

__attribute__((target("avx2"))) void int32_from_float_ymm(const float* x, int64_t rows, int64_t cols, int64_t x_stride,
                                                          int32_t* y) {
  if (x_stride == cols) cols *= rows, rows = 1;
  for (int64_t r = 0; r < rows; ++r, x += x_stride, y += cols) {
    int64_t i = 0;
    for (; i + 8 <= cols; i += 8)
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(y + i), _mm256_cvttps_epi32(_mm256_loadu_ps(x + i)));
    if (i == cols) continue;
    const __m256i m = first_lanes(cols - i);
    const bool x_on = (rows - 1 - r) * x_stride + cols - i >= 8;
    const __m256i v = _mm256_cvttps_epi32(x_on ? _mm256_loadu_ps(x + i) : _mm256_maskload_ps(x + i, m));
    if ((rows - 1 - r) * cols + cols - i >= 8)  // the lanes past the row: the next row's, written after this
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(y + i), v);
    else _mm256_maskstore_epi32(y + i, m, v);
  }
}

// requantize (elementwise_math_kernels.h) 8 sums a step: in float where requantize_in_float allows and no lane is
// near a tie (rounded by vroundps, half to even), else in two 4-double vectors with the zero point added, rounded
// half to even by vroundpd (explicit, not MXCSR's); converted, the range applied in int32, narrowed by saturating
// packs (the values are in range already); the tail through an 8-value buffer.
struct RequantizeConstants {
  __m256d b, m, vlo, vhi, zd;
  __m256i bi, max_sum;
  __m256 mf, zf, flo, fhi, margin;
  __m128i ilo, ihi;
  bool in_float, is_signed;
};

__attribute__((target("avx2,fma"))) RequantizeConstants requantize_constants(double bias, double mul, int32_t zp,
                                                                             bool is_signed) {
  const double lo = is_signed ? -128.0 : 0.0, hi = is_signed ? 127.0 : 255.0, z = zp;
  RequantizeConstants c;
  c.in_float = requantize_in_float(bias, mul);
  c.is_signed = is_signed;
  c.b = _mm256_set1_pd(bias), c.m = _mm256_set1_pd(mul);
  c.vlo = _mm256_set1_pd(lo - z - 1), c.vhi = _mm256_set1_pd(hi - z + 1), c.zd = _mm256_set1_pd(z);
  c.bi = _mm256_set1_epi32(c.in_float ? static_cast<int32_t>(bias) : 0);
  c.max_sum = _mm256_set1_epi32(kRequantizeMaxSum);
  c.mf = _mm256_set1_ps(static_cast<float>(mul)), c.zf = _mm256_set1_ps(static_cast<float>(zp));
  c.flo = _mm256_set1_ps(static_cast<float>(lo - z - 1)), c.fhi = _mm256_set1_ps(static_cast<float>(hi - z + 1));
  c.margin = _mm256_set1_ps(kRequantizeTieMargin);
  c.ilo = _mm_set1_epi32(static_cast<int32_t>(lo)), c.ihi = _mm_set1_epi32(static_cast<int32_t>(hi));
  return c;
}

template <bool Sub>
__attribute__((target("avx2,fma"), always_inline)) inline void requantize_eight(const int32_t* src, const int32_t* sub,
                                                                                __m256i row_sub,
                                                                                const RequantizeConstants& c,
                                                                                uint8_t* dst) {
  __m256i a = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(src));
  if (Sub)
    a = _mm256_sub_epi32(_mm256_sub_epi32(a, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(sub))), row_sub);
  __m128i q[2];
  bool redo = !c.in_float;
  if (!redo) {
    const __m256 v = _mm256_add_ps(
        _mm256_min_ps(_mm256_max_ps(_mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_add_epi32(a, c.bi)), c.mf), c.flo), c.fhi),
        c.zf);
    const __m256 r = _mm256_round_ps(v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    const __m256 dist = _mm256_andnot_ps(_mm256_set1_ps(-0.0f), _mm256_sub_ps(v, r));
    // |a| > 2^23 - 1 as unsigned (|INT32_MIN| stays negative as signed): max(|a|, max_sum) != max_sum.
    const __m256i abs_a = _mm256_abs_epi32(a);
    const __m256i big =
        _mm256_xor_si256(_mm256_cmpeq_epi32(_mm256_max_epu32(abs_a, c.max_sum), c.max_sum), _mm256_set1_epi32(-1));
    redo = !_mm256_testz_si256(big, big) || _mm256_movemask_ps(_mm256_cmp_ps(dist, c.margin, _CMP_GT_OQ)) != 0;
    const __m256i qi = _mm256_cvtps_epi32(r);
    q[0] = _mm256_castsi256_si128(qi), q[1] = _mm256_extracti128_si256(qi, 1);
  }
  if (redo)
    for (int h = 0; h < 2; ++h) {
      __m256d v = _mm256_cvtepi32_pd(h == 0 ? _mm256_castsi256_si128(a) : _mm256_extracti128_si256(a, 1));
      v = _mm256_add_pd(_mm256_min_pd(_mm256_max_pd(_mm256_mul_pd(_mm256_add_pd(v, c.b), c.m), c.vlo), c.vhi), c.zd);
      q[h] = _mm256_cvttpd_epi32(_mm256_round_pd(v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
    }
  for (auto& h : q) h = _mm_min_epi32(_mm_max_epi32(h, c.ilo), c.ihi);
  const __m128i w16 = _mm_packs_epi32(q[0], q[1]);
  _mm_storel_epi64(reinterpret_cast<__m128i*>(dst),
                   c.is_signed ? _mm_packs_epi16(w16, w16) : _mm_packus_epi16(w16, w16));
}

// requantize_ymm_row: 32 values a step in float (four vectors: one test for all of them, the largest |sum| and the
// largest distance from a rounded value; narrowed by saturating packs and one permute, one 32-byte store), a step
// that fails the test, and the last values, through requantize_eight. In float the value is fl(fl(acc + bias) *
// mul + zp), one fused rounding (within 2^-14 of the exact value as requantize_in_float has it, like AVX-512's),
// clamped to one past the range. Fast: the caller vouches that every sum is within kRequantizeMaxSum in size and
// |(sum + bias) * mul + zp| under 2^30 (no conversion overflows): the steps then test no sum's size and clamp
// nothing before the saturating packs (values past the range saturate whichever way they round). The loop of 8
// values a step it replaces cost 0.7-1 ns a value in a quantized MobileNetV2 on Zen 3 (a fifth of its time).
template <bool Sub, bool Fast>
__attribute__((target("avx2,fma"), always_inline)) inline void requantize_ymm_row(const int32_t* acc,
                                                                                  const int32_t* sub, int32_t row_sub,
                                                                                  int64_t n,
                                                                                  const RequantizeConstants& c,
                                                                                  uint8_t* y, bool spill) {
  const __m256i rs = _mm256_set1_epi32(row_sub);
  // The integer bias less the row's term, added to acc - sub in one step (modulo 2^32, as the sums are taken).
  const __m256i bias_less_row = _mm256_sub_epi32(c.bi, rs);
  const __m256 abs_mask = _mm256_castsi256_ps(_mm256_set1_epi32(0x7FFFFFFF));
  const __m256 flo = _mm256_add_ps(c.flo, c.zf), fhi = _mm256_add_ps(c.fhi, c.zf);  // lo - 1, hi + 1
  const __m256i order = _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7);
  int64_t i = 0;
  if (c.in_float)
    while (i + 32 <= n) {
      __m256i q[4], big = _mm256_setzero_si256();
      __m256 dist = _mm256_setzero_ps();
#pragma GCC unroll 4
      for (int u = 0; u < 4; ++u) {
        __m256i a = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(acc + i + 8 * u));
        if (Sub) a = _mm256_sub_epi32(a, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(sub + i + 8 * u)));
        __m256 v;
        if (Fast) {
          v = _mm256_fmadd_ps(_mm256_cvtepi32_ps(_mm256_add_epi32(a, Sub ? bias_less_row : c.bi)), c.mf, c.zf);
        } else {
          if (Sub) a = _mm256_sub_epi32(a, rs);
          big = _mm256_max_epu32(big, _mm256_abs_epi32(a));  // (|INT32_MIN| stays 2^31 as unsigned)
          v = _mm256_min_ps(
              _mm256_max_ps(_mm256_fmadd_ps(_mm256_cvtepi32_ps(_mm256_add_epi32(a, c.bi)), c.mf, c.zf), flo), fhi);
        }
        const __m256 r = _mm256_round_ps(v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
        dist = _mm256_max_ps(dist, _mm256_and_ps(_mm256_sub_ps(v, r), abs_mask));
        q[u] = _mm256_cvtps_epi32(r);  // (r holds an integer: exact under any MXCSR rounding)
      }
      // Some |sum| past max_sum: max(big, max_sum) != max_sum in some lane.
      const bool too_big = !Fast && !_mm256_testc_si256(_mm256_cmpeq_epi32(_mm256_max_epu32(big, c.max_sum), c.max_sum),
                                                        _mm256_set1_epi32(-1));
      if (too_big || _mm256_movemask_ps(_mm256_cmp_ps(dist, c.margin, _CMP_GT_OQ)) != 0) {
        for (int u = 0; u < 4; ++u)
          requantize_eight<Sub>(acc + i + 8 * u, sub + (Sub ? i + 8 * u : 0), rs, c, y + i + 8 * u);
        i += 32;
        continue;
      }
      const __m256i w01 = _mm256_packs_epi32(q[0], q[1]), w23 = _mm256_packs_epi32(q[2], q[3]);
      const __m256i bytes = _mm256_permutevar8x32_epi32(
          c.is_signed ? _mm256_packs_epi16(w01, w23) : _mm256_packus_epi16(w01, w23), order);
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(y + i), bytes);
      i += 32;
    }
  for (; i + 8 <= n; i += 8) requantize_eight<Sub>(acc + i, sub + (Sub ? i : 0), rs, c, y + i);
  if (i < n && spill) {  // the caller's: 8 sums readable and 8 bytes writable from i (see requantize_rows_ymm)
    requantize_eight<Sub>(acc + i, sub + (Sub ? i : 0), rs, c, y + i);
  } else if (i < n) {
    int32_t in[8] = {}, in_sub[8] = {};
    uint8_t out[8];
    std::memcpy(in, acc + i, static_cast<size_t>(n - i) * sizeof(int32_t));
    if (Sub) std::memcpy(in_sub, sub + i, static_cast<size_t>(n - i) * sizeof(int32_t));
    requantize_eight<Sub>(in, in_sub, rs, c, out);
    std::memcpy(y + i, out, static_cast<size_t>(n - i));
  }
}

// One row: the constants, then the loop for its form (Fast as requantize_ymm_row has it).
__attribute__((target("avx2,fma"), always_inline)) inline void requantize_ymm_one(
    const int32_t* acc, const int32_t* sub, int32_t row_sub, int64_t n, double bias, double mul, int32_t zp,
    bool is_signed, uint8_t* y, bool bounded, bool spill) {
  const RequantizeConstants c = requantize_constants(bias, mul, zp, is_signed);
  const bool fast =
      bounded && c.in_float && (kRequantizeMaxSum + std::fabs(bias)) * std::fabs(mul) + std::abs(zp) < 1073741824.0;
  if (sub) {
    if (fast) requantize_ymm_row<true, true>(acc, sub, row_sub, n, c, y, spill);
    else requantize_ymm_row<true, false>(acc, sub, row_sub, n, c, y, spill);
  } else {
    if (fast) requantize_ymm_row<false, true>(acc, nullptr, 0, n, c, y, spill);
    else requantize_ymm_row<false, false>(acc, nullptr, 0, n, c, y, spill);
  }
}

__attribute__((target("avx2,fma"))) void requantize_ymm(const int32_t* acc, const int32_t* sub, int32_t row_sub,
                                                        int64_t n, double bias, double mul, int32_t zp, bool is_signed,
                                                        uint8_t* y, bool bounded) {
  requantize_ymm_one(acc, sub, row_sub, n, bias, mul, zp, is_signed, y, bounded, false);
}

// requantize_rows (elementwise_math_kernels.h): the rows in one call, the row loop inlined (no call through the
// table per row). Where the rows lie end to end (ldy == n: a convolution's whole planes) and no sub is read, a row's
// last values past a multiple of 8 take one more 8-value step, not the buffered tail: its reads go on into the next
// rows' sums (ld_acc >= n) and its writes into the next rows' bytes, which they write after; where fewer than 8
// values follow (the last row) the buffer stays. A 7x7 plane's row of 49 had a 1-value tail costing more than its 48
// values (two memcpy calls).
__attribute__((target("avx2,fma"))) void requantize_rows_ymm(const int32_t* acc, int64_t ld_acc, int64_t rows,
                                                             int64_t n, const int32_t* bias, const double* mul,
                                                             const char* bounded, int32_t zp, bool is_signed,
                                                             uint8_t* y, int64_t ldy, const int32_t* sub,
                                                             const int32_t* row_sub) {
  const bool spill = ldy == n && ld_acc >= n && sub == nullptr;
  for (int64_t r = 0; r < rows; ++r)
    requantize_ymm_one(acc + r * ld_acc, sub, sub ? row_sub[r] : 0, n, bias[r], mul[r], zp, is_signed, y + r * ldy,
                       bounded[r] != 0, spill && (rows - 1 - r) * n + n % 8 >= 8);
}

}  // namespace

const Kernels* kernels_avx2() {
  // A function-local copy of the (constant-initialized) table with the
  // intrinsics quantize: made on first use, so no static initializer of
  // another file can see it unmade.
  static const Kernels packed = [] {
    Kernels k = kAvx2;
    k.quantize_u8 = quantize_u8_packed;
    k.requantize = requantize_ymm;
    k.requantize_rows = requantize_rows_ymm;
    k.float_from_q8 = float_from_q8_ymm;
    k.int32_from_float = int32_from_float_ymm;
    if (platform::cpu_features().f16c) {
      k.half_from_float = half_from_float_f16c;
      k.float_from_half = float_from_half_f16c;
    }
    return k;
  }();
  const platform::CpuFeatures& cpu = platform::cpu_features();
  return cpu.avx2 && cpu.fma ? &packed : nullptr;
}

#else

const Kernels* kernels_avx2() { return nullptr; }

#endif

}  // namespace fastmath
}  // namespace pionnx
