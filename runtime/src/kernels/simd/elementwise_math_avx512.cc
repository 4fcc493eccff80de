// The fastmath family's AVX-512 table: elementwise_math_kernels.h's loops
// over 16-lane vectors, instantiated inside target("avx512f,...") functions,
// so the rest of the library stays baseline x86-64. Used only when the CPU
// reports AVX-512 F, DQ, BW and VL and FMA; PIONNX_FASTMATH=avx2 keeps the
// 8-lane table. The quantize is its own intrinsics loop (64 values a
// step, narrowed by saturating packs).
#define PIONNX_FASTMATH_WIDE 2  // 512-bit vectors (elementwise_math_kernels.h)
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define PIONNX_AVX512_TARGET __attribute__((target("avx512f,avx512dq,avx512bw,avx512vl,avx2,fma")))
#define PIONNX_FASTMATH_HELPER_TARGET PIONNX_AVX512_TARGET
#endif
#include <cstdlib>
#include <type_traits>
#include "kernels/simd/elementwise_math_kernels.h"
#include "platform/cpu_features.h"

#if defined(__x86_64__)
#include <immintrin.h>
#endif

namespace pionnx {
namespace fastmath {

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))

namespace {

PIONNX_FASTMATH_TABLE(avx512, Avx512, PIONNX_AVX512_TARGET)

// round_half_even(x / scale) as int32 lanes, x / scale as elementwise_math.h
// says (one product, two FMAs), rounded by the conversion's own rounding
// mode (not MXCSR's); NaN lanes convert as 0 (and so get the zero point).
PIONNX_AVX512_TARGET PIONNX_INLINE __m512i quotient_lanes(__m512 xv, __m512 s, __m512 inv) {
  const __m512 q0 = _mm512_mul_ps(xv, inv);
  const __m512 q = _mm512_fmadd_ps(_mm512_fnmadd_ps(q0, s, xv), inv, q0);
  return _mm512_maskz_cvt_roundps_epi32(_mm512_cmp_ps_mask(q, q, _CMP_ORD_Q), q,
                                        _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
}

// 64 values a step: the quotients (within +-255) narrowed by saturating packs,
// the zero point added in saturating int16, the bytes saturated to [0, 255];
// the packs work per 128-bit lane, so one dword permute puts the bytes in
// order. (One vpmovusdb a vector, two port-5 operations, and an add and a
// max in int32 before it, held the loop to 4.5 cycles a vector.) The tail
// clamps in int32 and narrows with vpmovusdb under a mask.
PIONNX_AVX512_TARGET void quantize_u8_zmm(const float* x, int64_t n, float scale, int32_t zp, uint8_t* y) {
  const __m512 s = _mm512_set1_ps(scale), inv = _mm512_set1_ps(1.0f / scale);
  const __m512i z16 = _mm512_set1_epi16(static_cast<int16_t>(zp));
  const __m512i order = _mm512_setr_epi32(0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15);
  int64_t i = 0;
  for (; i + 64 <= n; i += 64) {
    const __m512i q0 = quotient_lanes(_mm512_loadu_ps(x + i), s, inv);
    const __m512i q1 = quotient_lanes(_mm512_loadu_ps(x + i + 16), s, inv);
    const __m512i q2 = quotient_lanes(_mm512_loadu_ps(x + i + 32), s, inv);
    const __m512i q3 = quotient_lanes(_mm512_loadu_ps(x + i + 48), s, inv);
    const __m512i a = _mm512_adds_epi16(_mm512_packs_epi32(q0, q1), z16);
    const __m512i b = _mm512_adds_epi16(_mm512_packs_epi32(q2, q3), z16);
    _mm512_storeu_si512(y + i, _mm512_permutexvar_epi32(order, _mm512_packus_epi16(a, b)));
  }
  const __m512i z = _mm512_set1_epi32(zp), zero = _mm512_setzero_si512();
  for (; i < n; i += 16) {
    const __mmask16 m = n - i >= 16 ? __mmask16{0xFFFF} : static_cast<__mmask16>((1u << (n - i)) - 1);
    const __m512i q = quotient_lanes(_mm512_maskz_loadu_ps(m, x + i), s, inv);
    _mm512_mask_cvtusepi32_storeu_epi8(y + i, m, _mm512_max_epi32(_mm512_add_epi32(q, z), zero));
  }
}

// float <-> half by AVX-512F's conversions, 16 values a step, the tail under a mask (rounding and NaNs as F16C's:
// elementwise_math_avx2.cc).
PIONNX_AVX512_TARGET void half_from_float_zmm(const float* x, uint16_t* y, int64_t n) {
  for (int64_t i = 0; i < n; i += 16) {
    const __mmask16 m = n - i >= 16 ? __mmask16{0xFFFF} : static_cast<__mmask16>((1u << (n - i)) - 1);
    _mm256_mask_storeu_epi16(y + i, m, _mm512_cvtps_ph(_mm512_maskz_loadu_ps(m, x + i), _MM_FROUND_TO_NEAREST_INT));
  }
}

PIONNX_AVX512_TARGET void float_from_half_zmm(const uint16_t* x, float* y, int64_t n) {
  for (int64_t i = 0; i < n; i += 16) {
    const __mmask16 m = n - i >= 16 ? __mmask16{0xFFFF} : static_cast<__mmask16>((1u << (n - i)) - 1);
    _mm512_mask_storeu_ps(y + i, m, _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(m, x + i)));
  }
}

// float_from_q8 and int32_from_float (elementwise_math_kernels.h) 16 values a step, each row's last ones under a
// mask.
PIONNX_AVX512_TARGET void float_from_q8_zmm(const uint8_t* x, int64_t rows, int64_t cols, bool is_signed, float offset,
                                            float* y, int64_t y_stride) {
  if (y_stride == cols) cols *= rows, rows = 1;
  const __m512 off = _mm512_set1_ps(offset);
  for (int64_t r = 0; r < rows; ++r, x += cols, y += y_stride)
    for (int64_t i = 0; i < cols; i += 16) {
      const __mmask16 m = cols - i >= 16 ? __mmask16{0xFFFF} : static_cast<__mmask16>((1u << (cols - i)) - 1);
      const __m128i b = _mm_maskz_loadu_epi8(m, x + i);
      const __m512i v = is_signed ? _mm512_cvtepi8_epi32(b) : _mm512_cvtepu8_epi32(b);
      _mm512_mask_storeu_ps(y + i, m, _mm512_sub_ps(_mm512_cvtepi32_ps(v), off));
    }
}

PIONNX_AVX512_TARGET void int32_from_float_zmm(const float* x, int64_t rows, int64_t cols, int64_t x_stride,
                                               int32_t* y) {
  if (x_stride == cols) cols *= rows, rows = 1;
  for (int64_t r = 0; r < rows; ++r, x += x_stride, y += cols)
    for (int64_t i = 0; i < cols; i += 16) {
      const __mmask16 m = cols - i >= 16 ? __mmask16{0xFFFF} : static_cast<__mmask16>((1u << (cols - i)) - 1);
      _mm512_mask_storeu_epi32(y + i, m, _mm512_cvttps_epi32(_mm512_maskz_loadu_ps(m, x + i)));
    }
}

// vreduceps's immediate: no fraction bits kept, rounding to nearest (half to even) by the immediate, no precision
// exception: x - round(x).
constexpr int kReduceToNearest = 0x08;

// requantize (elementwise_math_kernels.h) 16 values a step: in float where requantize_in_float allows and no
// lane is near a tie (its distance from the nearest integer by vreduceps; rounded half to even by the conversion's
// embedded rounding), else in two 8-double vectors; the range applied in int32 and narrowed in a register (vpmovdb
// to memory is slow on Zen 4), the tail under a mask.
// Fast: the caller vouches that every sum is within kRequantizeMaxSum in size and the value (sum + bias) * mul + zp
// within 2^30 (so no lane's int32 conversion overflows): the 64-value steps then test no sum's size and clamp
// nothing before the saturating packs (values past the range saturate whichever way they round), 9 operations
// for 16 values where the checked form has 13.
template <bool Sub, bool Fast>
PIONNX_AVX512_TARGET __attribute__((always_inline)) inline void requantize_zmm_loop(const int32_t* acc,
                                                                                    const int32_t* sub, int32_t row_sub,
                                                                                    int64_t n, double bias, double mul,
                                                                                    int32_t zp, bool is_signed,
                                                                                    uint8_t* y) {
  const double lo = is_signed ? -128.0 : 0.0, hi = is_signed ? 127.0 : 255.0, z = zp;
  const bool in_float = requantize_in_float(bias, mul);
  const __m512d b = _mm512_set1_pd(bias), m = _mm512_set1_pd(mul);
  const __m512d vlo = _mm512_set1_pd(lo - z - 1), vhi = _mm512_set1_pd(hi - z + 1);
  const __m512d zd = _mm512_set1_pd(z);
  const int32_t bias_i = in_float ? static_cast<int32_t>(bias) : 0;
  const __m512i bi = _mm512_set1_epi32(bias_i);
  const __m512i max_sum = _mm512_set1_epi32(kRequantizeMaxSum);
  const __m512i rs = _mm512_set1_epi32(row_sub);
  // The integer bias less the row's term, added to acc - sub in one step (modulo 2^32, as the sums are taken).
  const __m512i bias_less_row = _mm512_set1_epi32(wrapping_sub(bias_i, row_sub));
  const __mmask16 all_double = in_float ? 0 : 0xFFFF;
  const __m512 mf = _mm512_set1_ps(static_cast<float>(mul)), zf = _mm512_set1_ps(static_cast<float>(zp));
  const __m512 flo = _mm512_set1_ps(static_cast<float>(lo - 1)), fhi = _mm512_set1_ps(static_cast<float>(hi + 1));
  const __m512 margin = _mm512_set1_ps(kRequantizeTieMargin);
  // The sums of 16 lanes (acc - sub - row_sub with Sub), under mask k.
  const auto sums = [&](int64_t at, __mmask16 k) PIONNX_AVX512_TARGET {
    const __m512i a = _mm512_maskz_loadu_epi32(k, acc + at);
    return Sub ? _mm512_sub_epi32(_mm512_sub_epi32(a, _mm512_maskz_loadu_epi32(k, sub + at)), rs) : a;
  };
  // The float form of 16 sums plus the integer bias: fl((acc + bias) * mul + zp) in one rounding (the double
  // form's value within 2^-15 still, as requantize_in_float has it), clamped to one past the range.
  const auto float_lanes = [&](__m512i with_bias) PIONNX_AVX512_TARGET {
    return _mm512_min_ps(_mm512_max_ps(_mm512_fmadd_ps(_mm512_cvtepi32_ps(with_bias), mf, zf), flo), fhi);
  };
  const __m512i ilo = _mm512_set1_epi32(static_cast<int32_t>(lo)), ihi = _mm512_set1_epi32(static_cast<int32_t>(hi));
  int64_t i = 0;
  // 64 values a step in float (the last step under masks): one test for the four vectors (the largest |sum| and the
  // largest distance from a rounded value, by vrangeps's absolute maximum), narrowed by saturating packs (the values
  // are within one of the range after the clamp); a step that fails the test goes to the loop below, vector by vector,
  // and the 64-value steps resume after it. A quarter fewer instructions than that loop's per 64 values.
  const __m512i order = _mm512_setr_epi32(0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15);
  // The last step may be short: its lanes past n read nothing (zero sums, whose values are tested like any) and
  // store nothing.
  const auto lanes = [](int64_t left) PIONNX_AVX512_TARGET {
    return left >= 16 ? __mmask16{0xFFFF} : left <= 0 ? __mmask16{0} : static_cast<__mmask16>((1u << left) - 1);
  };
  // The step at `at` with `left` values there (Full: 64, loaded and stored without masks, which the whole steps
  // take: their masks cost a tenth of the loop); false, and nothing stored, when it fails the test.
  const auto step = [&](int64_t at, int64_t left, auto full) PIONNX_AVX512_TARGET {
    constexpr bool kFull = decltype(full)::value;
    __m512i q[4], big = _mm512_setzero_si512();
    __m512 frac[4];
#pragma GCC unroll 4
    for (int u = 0; u < 4; ++u) {
      const __mmask16 k = kFull ? __mmask16{0xFFFF} : lanes(left - 16 * u);
      const int32_t* p = acc + at + 16 * u;
      __m512 v;
      if (Fast) {
        const __m512i a = kFull ? _mm512_loadu_si512(p) : _mm512_maskz_loadu_epi32(k, p);
        const int32_t* ps = Sub ? sub + at + 16 * u : nullptr;
        const __m512i t =
            Sub ? _mm512_sub_epi32(a, kFull ? _mm512_loadu_si512(ps) : _mm512_maskz_loadu_epi32(k, ps)) : a;
        v = _mm512_fmadd_ps(_mm512_cvtepi32_ps(_mm512_add_epi32(t, Sub ? bias_less_row : bi)), mf, zf);
      } else {
        const __m512i a = sums(at + 16 * u, k);
        big = _mm512_max_epu32(big, _mm512_abs_epi32(a));
        v = float_lanes(_mm512_add_epi32(a, bi));
      }
      // v less its nearest integer (half to even) by one vreduceps, the same bits as v - vrndscaleps(v) (exact:
      // the two are within one); the integer by the conversion's own rounding, half to even.
      frac[u] = _mm512_reduce_ps(v, kReduceToNearest);
      q[u] = _mm512_cvt_roundps_epi32(v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    }
    // The largest |v - round(v)| of the four, by vrangeps's absolute maximum in a tree.
    const __m512 dist =
        _mm512_range_ps(_mm512_range_ps(frac[0], frac[1], 0x0B), _mm512_range_ps(frac[2], frac[3], 0x0B), 0x0B);
    if ((_mm512_cmpgt_epu32_mask(big, max_sum) | _mm512_cmp_ps_mask(dist, margin, _CMP_GT_OQ)) != 0) return false;
    const __m512i w01 = _mm512_packs_epi32(q[0], q[1]), w23 = _mm512_packs_epi32(q[2], q[3]);
    const __m512i bytes =
        _mm512_permutexvar_epi32(order, is_signed ? _mm512_packs_epi16(w01, w23) : _mm512_packus_epi16(w01, w23));
    if (kFull) _mm512_storeu_si512(y + at, bytes);
    else _mm512_mask_storeu_epi8(y + at, (__mmask64{1} << left) - 1, bytes);
    return true;
  };
  while (i < n) {
    if (in_float) {
      while (i + 64 <= n && step(i, 64, std::true_type{})) i += 64;
      if (i < n && i + 64 > n && step(i, n - i, std::false_type{})) i = n;
    }
    const int64_t stop = in_float && i + 64 <= n ? i + 64 : n;  // a failed step's 64 values, or the rest
    for (; i < stop; i += 16) {
      const __mmask16 k = n - i >= 16 ? __mmask16{0xFFFF} : static_cast<__mmask16>((1u << (n - i)) - 1);
      const __m512i a = sums(i, k);
      const __m512 v = float_lanes(_mm512_add_epi32(a, bi));
      const __mmask16 redo =
          all_double | _mm512_cmpgt_epu32_mask(_mm512_abs_epi32(a), max_sum) |  // (|INT32_MIN|)
          _mm512_cmp_ps_mask(_mm512_abs_ps(_mm512_reduce_ps(v, kReduceToNearest)), margin, _CMP_GT_OQ);
      __m512i q = _mm512_cvt_roundps_epi32(v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
      if (redo != 0) {
        __m512d v0 = _mm512_mul_pd(_mm512_add_pd(_mm512_cvtepi32_pd(_mm512_castsi512_si256(a)), b), m);
        __m512d v1 = _mm512_mul_pd(_mm512_add_pd(_mm512_cvtepi32_pd(_mm512_extracti64x4_epi64(a, 1)), b), m);
        v0 = _mm512_add_pd(_mm512_min_pd(_mm512_max_pd(v0, vlo), vhi), zd);
        v1 = _mm512_add_pd(_mm512_min_pd(_mm512_max_pd(v1, vlo), vhi), zd);
        const __m256i q0 = _mm512_cvt_roundpd_epi32(v0, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
        const __m256i q1 = _mm512_cvt_roundpd_epi32(v1, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
        q = _mm512_inserti64x4(_mm512_castsi256_si512(q0), q1, 1);
      }
      const __m512i t = _mm512_min_epi32(_mm512_max_epi32(q, ilo), ihi);
      _mm_mask_storeu_epi8(y + i, k, _mm512_cvtepi32_epi8(t));
    }
  }
}

PIONNX_AVX512_TARGET __attribute__((always_inline)) inline void requantize_zmm_row(const int32_t* acc,
                                                                                   const int32_t* sub, int32_t row_sub,
                                                                                   int64_t n, double bias, double mul,
                                                                                   int32_t zp, bool is_signed,
                                                                                   uint8_t* y, bool bounded) {
  // Fast needs the float form and no conversion overflow: |(sum + bias) * mul + zp| under 2^30.
  const bool fast = bounded && requantize_in_float(bias, mul) &&
                    (kRequantizeMaxSum + std::fabs(bias)) * std::fabs(mul) + std::abs(zp) < 1073741824.0;
  if (sub) {
    if (fast) requantize_zmm_loop<true, true>(acc, sub, row_sub, n, bias, mul, zp, is_signed, y);
    else requantize_zmm_loop<true, false>(acc, sub, row_sub, n, bias, mul, zp, is_signed, y);
  } else {
    if (fast) requantize_zmm_loop<false, true>(acc, nullptr, 0, n, bias, mul, zp, is_signed, y);
    else requantize_zmm_loop<false, false>(acc, nullptr, 0, n, bias, mul, zp, is_signed, y);
  }
}

PIONNX_AVX512_TARGET void requantize_zmm(const int32_t* acc, const int32_t* sub, int32_t row_sub, int64_t n,
                                         double bias, double mul, int32_t zp, bool is_signed, uint8_t* y,
                                         bool bounded) {
  requantize_zmm_row(acc, sub, row_sub, n, bias, mul, zp, is_signed, y, bounded);
}

// requantize_rows (elementwise_math_kernels.h): the rows in one call, the loops inlined into it (no call through
// the table per row): a call per row cost 13 ns, a 7x7 plane's row of 49 sums 19 ns in all.
PIONNX_AVX512_TARGET void requantize_rows_zmm(const int32_t* acc, int64_t ld_acc, int64_t rows, int64_t n,
                                              const int32_t* bias, const double* mul, const char* bounded, int32_t zp,
                                              bool is_signed, uint8_t* y, int64_t ldy, const int32_t* sub,
                                              const int32_t* row_sub) {
  for (int64_t r = 0; r < rows; ++r)
    requantize_zmm_row(acc + r * ld_acc, sub, sub ? row_sub[r] : 0, n, bias[r], mul[r], zp, is_signed, y + r * ldy,
                       bounded[r] != 0);
}

}  // namespace

const Kernels* kernels_avx512() {
  const platform::CpuFeatures& cpu = platform::cpu_features();
  if (!(cpu.avx512f && cpu.avx512dq && cpu.avx512bw && cpu.avx512vl && cpu.fma)) return nullptr;
  // Made on first use (no static initializer of another file can see it unmade).
  static const Kernels table = [] {
    Kernels k = kAvx512;
    k.quantize_u8 = quantize_u8_zmm;
    k.half_from_float = half_from_float_zmm;
    k.float_from_half = float_from_half_zmm;
    k.requantize = requantize_zmm;
    k.requantize_rows = requantize_rows_zmm;
    k.float_from_q8 = float_from_q8_zmm;
    k.int32_from_float = int32_from_float_zmm;
    return k;
  }();
  return &table;
}

#else

const Kernels* kernels_avx512() { return nullptr; }

#endif

}  // namespace fastmath
}  // namespace pionnx
