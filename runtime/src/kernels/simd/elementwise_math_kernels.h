// The vector math of the fastmath family (elementwise_math.h), written once
// over 8-lane GCC/Clang vector extensions and included by each ISA's file:
// elementwise_math.cc instantiates it for the baseline (SSE2 pairs, NEON
// pairs, or scalar code), elementwise_math_avx2.cc inside target("avx2,fma")
// functions. Everything here is internal and always inlined.
#pragma once
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <type_traits>

#include "core/int_arith.h"  // wrapping_sub
#include "kernels/simd/elementwise_math.h"
#include "pionnx/dtype.h"

// An ISA's file may name the target its table's functions are compiled for (the AVX-512 one does), so that these
// helpers, only ever inlined into those functions, can use its intrinsics.
#ifndef PIONNX_FASTMATH_HELPER_TARGET
#define PIONNX_FASTMATH_HELPER_TARGET
#endif
#define PIONNX_INLINE inline __attribute__((always_inline)) PIONNX_FASTMATH_HELPER_TARGET
// The AVX-512 table's file (PIONNX_FASTMATH_WIDE 2) on x86-64; on other machines it instantiates nothing.
#if defined(PIONNX_FASTMATH_WIDE) && PIONNX_FASTMATH_WIDE == 2 && defined(__x86_64__)
#define PIONNX_FASTMATH_AVX512 1
#include <immintrin.h>  // vscalefps (pow2_scale)
#endif

// Always inlined: the vector-ABI note about 32-byte arguments does not apply.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wpsabi"
#endif

namespace pionnx {
namespace fastmath {
// Internal to each including file (its width may differ from another's).
namespace {
namespace vec {

// 8 lanes where the ISA file asks for 256-bit vectors (AVX2: it defines
// PIONNX_FASTMATH_WIDE before including), else 4, the native width of SSE2
// and NEON: GCC splits 256-bit arithmetic into halves there but lowers
// 256-bit comparisons and selects to one scalar operation per lane.
#if defined(PIONNX_FASTMATH_WIDE) && PIONNX_FASTMATH_WIDE == 2
constexpr int64_t kLanes = 16;  // AVX-512 (elementwise_math_avx512.cc)
#elif defined(PIONNX_FASTMATH_WIDE)
constexpr int64_t kLanes = 8;
#else
constexpr int64_t kLanes = 4;
#endif
typedef float vf __attribute__((vector_size(kLanes * 4)));
typedef int32_t vi __attribute__((vector_size(kLanes * 4)));
typedef uint32_t vu __attribute__((vector_size(kLanes * 4)));

PIONNX_INLINE vf splat(float x) { return vf{} + x; }
// Lanewise mask ? a : b, with the mask from a vector comparison.
PIONNX_INLINE vf select(vi mask, vf a, vf b) {
  return reinterpret_cast<vf>((mask & reinterpret_cast<vi>(a)) | (~mask & reinterpret_cast<vi>(b)));
}
PIONNX_INLINE vf vmin(vf a, vf b) { return select(a < b, a, b); }
// All-ones lanes where x is NaN, by its bits: GCC 12 turns the quiet x != x
// of a vector into one scalar compare per lane on aarch64.
PIONNX_INLINE vi is_nan(vf x) { return (reinterpret_cast<vi>(x) & 0x7fffffff) > 0x7f800000; }
PIONNX_INLINE vf vmax(vf a, vf b) { return select(a > b, a, b); }

// The lower bound of exp's clamp: exp underflows past it.
constexpr float kExpLo = -87.3365479f;

// exp(x) = 2^n e^r, n = round(x / ln2), |r| <= ln2 / 2, degree-6 polynomial
// for e^r (Cephes expf): returns e^r and sets n, for x clamped to the range
// exp is finite in. Shared by exp_v and exp_nonpos_v.
PIONNX_INLINE vf exp_reduced(vf xc, vf* n_out) {
  // Round to nearest with the 1.5 * 2^23 trick: plain adds, no floor.
  const vf magic = splat(12582912.0f);
  const vf n = (xc * 1.44269504088896341f + magic) - magic;
  vf r = xc - n * 0.693359375f;
  r = r - n * -2.12194440e-4f;
  // The polynomial by Estrin's scheme (three pairs, then two steps in r^2): a chain of 4 multiply-adds where
  // Horner's was 6, so more vectors of a row are in flight at once (exp's throughput was bound by the chain).
  const vf r2 = r * r;
  const vf p01 = r * 1.9875691500e-4f + 1.3981999507e-3f;
  const vf p23 = r * 8.3334519073e-3f + 4.1665795894e-2f;
  const vf p45 = r * 1.6666665459e-1f + 5.0000001201e-1f;
  const vf p = (p01 * r2 + p23) * r2 + p45;
  *n_out = n;
  return p * r2 + r + 1.0f;
}

// p * 2^n for whole n in [-126, 128] (n a float), exact where the product is a normal float and rounded once
// where it is subnormal. AVX-512: one vscalefps; elsewhere the exponent field built from n, in two factors so
// n = 128 fits (each product by a power of two exact, so the two give the one rounding of vscalefps).
PIONNX_INLINE vf pow2_scale(vf p, vf n) {
#if defined(PIONNX_FASTMATH_AVX512)
  // Seven instructions fewer a vector than the exponent-field form (exp of 4M values 1.47 -> 1.27x onnxruntime's time).
  // (The zero-masked form: GCC 12 warns that the plain one's undefined pass-through may be used uninitialized.)
  return reinterpret_cast<vf>(_mm512_maskz_scalef_ps(0xFFFF, reinterpret_cast<__m512>(p), reinterpret_cast<__m512>(n)));
#else
  const vi ni = __builtin_convertvector(n, vi);
  const vi n1 = ni >> 1, n2 = ni - n1;
  return p * reinterpret_cast<vf>((n1 + 127) << 23) * reinterpret_cast<vf>((n2 + 127) << 23);
#endif
}

PIONNX_INLINE vf exp_v(vf x) {
  const float hi = 88.7228394f;  // past this exp overflows
  // Lanes below the range reduce 0, not kExpLo: their result is replaced by
  // 0 below, and kExpLo's would be subnormal, which costs a microcode assist
  // per multiply on Intel cores (softmax rows with masked keys hit it on
  // every vector).
  vf n;
  const vf p = exp_reduced(select(x < splat(kExpLo), splat(0.0f), vmin(x, splat(hi))), &n);
  vf res = pow2_scale(p, n);
  res = select(x > splat(hi), splat(std::numeric_limits<float>::infinity()), res);
  res = select(x < splat(kExpLo), splat(0.0f), res);
  return select(is_nan(x), x, res);
}

// exp(x) for x <= 0 or NaN (softmax's x - max), equal to exp_v there: with no
// overflow to handle, 2^n is one factor (n >= -126 after the clamp), and a
// NaN is carried through the arithmetic, not selected: one comparison and
// two selects where exp_v has five (each an and/andnot/or triple).
PIONNX_INLINE vf exp_nonpos_v(vf x) {
  const vi under = x < splat(kExpLo);  // false for NaN
  vf n;
  const vf p = exp_reduced(select(under, splat(0.0f), x), &n);  // 0: as in exp_v
#if defined(PIONNX_FASTMATH_AVX512)
  const vf res = pow2_scale(p, n);
#else
  const vu e = (__builtin_convertvector(__builtin_convertvector(n, vi), vu) + 127u) << 23;
  const vf res = p * reinterpret_cast<vf>(e);
#endif
  return reinterpret_cast<vf>(~under & reinterpret_cast<vi>(res));
}

// Rational approximation on [-7.9, 7.9] (Eigen's fast tanh), which stays a
// few ulps below 1 past it; from |x| = 9 on tanh rounds to +-1 in float and is
// that exactly (so GELU's tanh form gives 0 and x far out, as the reference);
// below 4e-4 it is x.
PIONNX_INLINE vf tanh_v(vf x) {
  const float bound = 7.90531110763549805f;
  const vf xc = vmax(vmin(x, splat(bound)), splat(-bound));
  const vf x2 = xc * xc;
  vf p = splat(-2.76076847742355e-16f);
  p = p * x2 + 2.00018790482477e-13f;
  p = p * x2 + -8.60467152213735e-11f;
  p = p * x2 + 5.12229709037114e-08f;
  p = p * x2 + 1.48572235717979e-05f;
  p = p * x2 + 6.37261928875436e-04f;
  p = p * x2 + 4.89352455891786e-03f;
  p = p * xc;
  vf q = splat(1.19825839466702e-06f);
  q = q * x2 + 1.18534705686654e-04f;
  q = q * x2 + 2.26843463243900e-03f;
  q = q * x2 + 4.89352518554385e-03f;
  const vf ax = select(x < splat(0.0f), -x, x);
  const vf one = reinterpret_cast<vf>((reinterpret_cast<vi>(x) & INT32_MIN) | 0x3f800000);  // +-1, x's sign
#if defined(PIONNX_FASTMATH_WIDE) && PIONNX_FASTMATH_WIDE == 2
  // AVX-512: as vector conditionals. Through select()'s and/or of the mask
  // GCC 12 compared the 16 lanes one by one here (tanh 7x slower than with
  // AVX2); the conditional in the 8-lane table cost AVX2 a fifth.
  vf res = ax < splat(0.0004f) ? x : p / q;
  res = ax >= splat(9.0f) ? one : res;
#else
  vf res = select(ax < splat(0.0004f), x, p / q);
  res = select(ax >= splat(9.0f), one, res);
#endif
  return select(is_nan(x), x, res);
}

// Rational approximation on [-4, 4] (Eigen's fast erf); erf is +-1 in float
// beyond that.
PIONNX_INLINE vf erf_v(vf x) {
  const vf xc = vmax(vmin(x, splat(4.0f)), splat(-4.0f));
  const vf x2 = xc * xc;
  vf p = splat(-2.72614225801306e-10f);
  p = p * x2 + 2.77068142495902e-08f;
  p = p * x2 + -2.10102402082508e-06f;
  p = p * x2 + -5.69250639462346e-05f;
  p = p * x2 + -7.34990630326855e-04f;
  p = p * x2 + -2.95459980854025e-03f;
  p = p * x2 + -1.60960333262415e-02f;
  p = p * xc;
  vf q = splat(-1.45660718464996e-05f);
  q = q * x2 + -2.13374055278905e-04f;
  q = q * x2 + -1.68282697438203e-03f;
  q = q * x2 + -7.37332916720468e-03f;
  q = q * x2 + -1.42647390514189e-02f;
  return select(is_nan(x), x, p / q);
}

struct Exp {
  PIONNX_INLINE vf operator()(vf x) const { return exp_v(x); }
};
struct Tanh {
  PIONNX_INLINE vf operator()(vf x) const { return tanh_v(x); }
};
struct Erf {
  PIONNX_INLINE vf operator()(vf x) const { return erf_v(x); }
};
// From e = exp(-|x|), never above 1: sigmoid(|x|) = 1 / (1 + e), and for
// x < 0 e times that. The exp then needs no overflow handling (exp_nonpos_v:
// 2.5x faster than 1 / (1 + exp(-x)) with the general exp on AVX2); NaN
// stays NaN, -inf gives 0.
struct Sigmoid {
  PIONNX_INLINE vf operator()(vf x) const {
    const vf e = exp_nonpos_v(reinterpret_cast<vf>(reinterpret_cast<vi>(x) | (vi{} + INT32_MIN)));  // -|x|
    const vf r = 1.0f / (1.0f + e);
    return select(x < splat(0.0f), e * r, r);
  }
};
struct GeluErf {
  PIONNX_INLINE vf operator()(vf x) const { return 0.5f * x * (1.0f + erf_v(x * 0.7071067811865476f)); }
};
struct GeluTanh {
  PIONNX_INLINE vf operator()(vf x) const {
    return 0.5f * x * (1.0f + tanh_v(0.7978845608028654f * (x + 0.044715f * x * x * x)));
  }
};

PIONNX_INLINE vf load(const float* p, int64_t n) {
  vf v = splat(0.0f);
  std::memcpy(&v, p, sizeof(float) * static_cast<size_t>(n));
  return v;
}
PIONNX_INLINE void store(float* p, vf v, int64_t n) { std::memcpy(p, &v, sizeof(float) * static_cast<size_t>(n)); }

template <typename F>
PIONNX_INLINE void apply(const float* x, float* y, int64_t n, F f) {
  int64_t i = 0;
  for (; i + kLanes <= n; i += kLanes) store(y + i, f(load(x + i, kLanes)), kLanes);
  if (i < n) store(y + i, f(load(x + i, n - i)), n - i);
}

// A vector's lanes summed, and their largest (NaN lanes skipped, as `v > a ? v : a` does), by halving the vector
// (16 -> 8 -> 4 -> 2 -> 1 lanes): a chain of log2(kLanes) steps where a lane-by-lane loop was one of kLanes, which a
// softmax row of 128 waited on twice (a quarter of its time with AVX-512).
typedef float vf4 __attribute__((vector_size(16)));
typedef float vf8 __attribute__((vector_size(32)));
// The low and high halves of a vector, by memcpy (GCC before 12, which builds the wheels for manylinux, has no
// __builtin_shufflevector; the copies compile to the same extracts).
template <typename Half, typename Whole>
PIONNX_INLINE void halves(const Whole& v, Half* lo, Half* hi) {
  static_assert(2 * sizeof(Half) == sizeof(Whole), "halves");
  std::memcpy(lo, &v, sizeof(Half));
  std::memcpy(hi, reinterpret_cast<const char*>(&v) + sizeof(Half), sizeof(Half));
}
PIONNX_INLINE vf4 quarter_sum(vf v) {
#if defined(PIONNX_FASTMATH_WIDE) && PIONNX_FASTMATH_WIDE == 2
  vf8 lo8, hi8;
  halves(v, &lo8, &hi8);
  const vf8 h = lo8 + hi8;
  vf4 lo, hi;
  halves(h, &lo, &hi);
  return lo + hi;
#elif defined(PIONNX_FASTMATH_WIDE)
  vf4 lo, hi;
  halves(v, &lo, &hi);
  return lo + hi;
#else
  return v;
#endif
}
PIONNX_INLINE float hsum(vf v) {
  const vf4 q = quarter_sum(v);
  return (q[0] + q[2]) + (q[1] + q[3]);
}
PIONNX_INLINE float max2(float a, float b) { return b > a ? b : a; }
PIONNX_INLINE float hmax(vf v) {
#if defined(PIONNX_FASTMATH_WIDE) && PIONNX_FASTMATH_WIDE == 2
  vf8 lo8, hi8;
  halves(v, &lo8, &hi8);
  const vf8 h = hi8 > lo8 ? hi8 : lo8;
  vf4 lo, hi;
  halves(h, &lo, &hi);
  const vf4 q = hi > lo ? hi : lo;
#elif defined(PIONNX_FASTMATH_WIDE)
  vf4 lo, hi;
  halves(v, &lo, &hi);
  const vf4 q = hi > lo ? hi : lo;
#else
  const vf4 q = v;
#endif
  return max2(max2(q[0], q[2]), max2(q[1], q[3]));
}

// shift >= every x (the row's max), so x - shift <= 0 or NaN. Two vectors
// per step into one sum (acc + (e + e2)): with a second sum, AVX2's 16
// registers ran out and GCC kept that sum on the stack, a store and reload
// on every step's chain.
PIONNX_INLINE float exp_shift_sum(const float* x, float* y, int64_t n, float shift) {
  vf acc = splat(0.0f);
  const vf s = splat(shift);
  int64_t i = 0;
  for (; i + 2 * kLanes <= n; i += 2 * kLanes) {
    const vf e = exp_nonpos_v(load(x + i, kLanes) - s);
    const vf e2 = exp_nonpos_v(load(x + i + kLanes, kLanes) - s);
    store(y + i, e, kLanes);
    store(y + i + kLanes, e2, kLanes);
    acc += e + e2;
  }
  for (; i + kLanes <= n; i += kLanes) {
    const vf e = exp_nonpos_v(load(x + i, kLanes) - s);
    store(y + i, e, kLanes);
    acc += e;
  }
  float sum = hsum(acc);
  if (i < n) {
    const vf e = exp_nonpos_v(load(x + i, n - i) - s);
    store(y + i, e, n - i);
    for (int64_t k = 0; k < n - i; ++k) sum += e[k];
  }
  return sum;
}

// The largest of x's values, NaN skipped (-inf when there is none). Four
// accumulators, `v > a ? v : a` (one maxps on x86): a softmax row of 128 is
// 16 vectors, which one chain of compare-and-select ran at its latency.
PIONNX_INLINE float max_of(const float* x, int64_t n) {
  float m = -std::numeric_limits<float>::infinity();
  int64_t i = 0;
  if (n >= kLanes) {
    vf acc[4] = {splat(m), splat(m), splat(m), splat(m)};
    for (; i + 4 * kLanes <= n; i += 4 * kLanes)
#pragma GCC unroll 4
      for (int j = 0; j < 4; ++j) {
        const vf v = load(x + i + j * kLanes, kLanes);
        acc[j] = v > acc[j] ? v : acc[j];
      }
    for (; i + kLanes <= n; i += kLanes) {
      const vf v = load(x + i, kLanes);
      acc[0] = v > acc[0] ? v : acc[0];
    }
    acc[0] = acc[1] > acc[0] ? acc[1] : acc[0];
    acc[2] = acc[3] > acc[2] ? acc[3] : acc[2];
    acc[0] = acc[2] > acc[0] ? acc[2] : acc[0];
    m = hmax(acc[0]);
  }
  for (; i < n; ++i) m = x[i] > m ? x[i] : m;
  return m;
}

// x += b, then the largest of the sums as max_of finds it: a softmax row
// and its additive mask in one pass (a separate add loop's narrower stores
// also stalled max_of's wide loads on forwarding).
PIONNX_INLINE float add_max(float* x, const float* b, int64_t n) {
  vf acc = splat(-std::numeric_limits<float>::infinity()), acc2 = acc;
  int64_t i = 0;
  for (; i + 2 * kLanes <= n; i += 2 * kLanes) {
    const vf v = load(x + i, kLanes) + load(b + i, kLanes);
    const vf v2 = load(x + i + kLanes, kLanes) + load(b + i + kLanes, kLanes);
    store(x + i, v, kLanes);
    store(x + i + kLanes, v2, kLanes);
    acc = v > acc ? v : acc;
    acc2 = v2 > acc2 ? v2 : acc2;
  }
  acc = acc2 > acc ? acc2 : acc;
  if (i + kLanes <= n) {
    const vf v = load(x + i, kLanes) + load(b + i, kLanes);
    store(x + i, v, kLanes);
    acc = v > acc ? v : acc;
    i += kLanes;
  }
  float m = hmax(acc);
  if (i < n) {
    const vf v = load(x + i, n - i) + load(b + i, n - i);
    store(x + i, v, n - i);
    for (int64_t k = 0; k < n - i; ++k) m = v[k] > m ? v[k] : m;
  }
  return m;
}

// x *= s.
struct Scale {
  vf s;
  PIONNX_INLINE vf operator()(vf x) const { return x * s; }
};
PIONNX_INLINE void scale(float* x, int64_t n, float s) { apply(x, x, n, Scale{splat(s)}); }

// A softmax row in one call: the max, exp(x - max) and its sum, then the scale by 1 / sum (float, as
// softmax_block's parts give it). One call and one set of constants a row where three were, which short rows
// (an attention over few keys) paid more for than for the math.
PIONNX_INLINE void softmax_row(const float* x, float* y, int64_t n) {
  const float inv = 1.0f / exp_shift_sum(x, y, n, max_of(x, n));
  scale(y, n, inv);
}

// Sum of x - shift (squares false) or of (x - shift)^2 over a row, in four vector
// accumulators (one chain ran at the add's latency) added together, then
// their lanes and the tail in double: a layer normalization's row statistics.
PIONNX_INLINE double row_sum(const float* x, int64_t n, float shift, bool squares) {
  vf acc[4] = {splat(0.0f), splat(0.0f), splat(0.0f), splat(0.0f)};
  const vf s = splat(shift);
  int64_t i = 0;
  if (squares) {
    for (; i + 4 * kLanes <= n; i += 4 * kLanes)
#pragma GCC unroll 4
      for (int j = 0; j < 4; ++j) {
        const vf d = load(x + i + j * kLanes, kLanes) - s;
        acc[j] += d * d;
      }
    for (; i + kLanes <= n; i += kLanes) {
      const vf d = load(x + i, kLanes) - s;
      acc[0] += d * d;
    }
  } else {
    for (; i + 4 * kLanes <= n; i += 4 * kLanes)
#pragma GCC unroll 4
      for (int j = 0; j < 4; ++j) acc[j] += load(x + i + j * kLanes, kLanes) - s;
    for (; i + kLanes <= n; i += kLanes) acc[0] += load(x + i, kLanes) - s;
  }
  const vf all = (acc[0] + acc[1]) + (acc[2] + acc[3]);
  double sum = 0;
  for (int64_t k = 0; k < kLanes; ++k) sum += all[k];
  for (; i < n; ++i) sum += squares ? static_cast<double>(x[i] - shift) * (x[i] - shift) : x[i] - shift;
  return sum;
}

// y = (x - mean) * inv * scale (+ bias): a layer normalization's row.
PIONNX_INLINE void normalize_row(const float* x, float* y, int64_t n, float mean, float inv, const float* scale,
                                 const float* bias) {
  const vf m = splat(mean), v = splat(inv);
  int64_t i = 0;
  for (; i + kLanes <= n; i += kLanes) {
    vf r = (load(x + i, kLanes) - m) * v * load(scale + i, kLanes);
    if (bias) r += load(bias + i, kLanes);
    store(y + i, r, kLanes);
  }
  for (; i < n; ++i) y[i] = (x[i] - mean) * inv * scale[i] + (bias ? bias[i] : 0.0f);
}

// Extends [*lo, *hi] by x's values; NaN is skipped (v < l is false for it).
// Four vector accumulators of each: `v < l ? v : l` is one minps/fmin-free
// vector min (x86's minps keeps its second operand for NaN, exactly this),
// and four chains hide its latency. (An eight-scalar-lane form left to the
// SLP vectorizer came out as scalar vminss/vmaxss with GCC 12 for AVX2.)
PIONNX_INLINE void range_of(const float* x, int64_t n, float* lo, float* hi) {
  vf l[4], h[4];
#pragma GCC unroll 4
  for (int j = 0; j < 4; ++j) l[j] = splat(*lo), h[j] = splat(*hi);
  int64_t i = 0;
  for (; i + 4 * kLanes <= n; i += 4 * kLanes)
#pragma GCC unroll 4
    for (int j = 0; j < 4; ++j) {
      const vf v = load(x + i + j * kLanes, kLanes);
      l[j] = v < l[j] ? v : l[j];
      h[j] = v > h[j] ? v : h[j];
    }
  for (; i + kLanes <= n; i += kLanes) {
    const vf v = load(x + i, kLanes);
    l[0] = v < l[0] ? v : l[0];
    h[0] = v > h[0] ? v : h[0];
  }
  // Lanes and the tail as scalars (writing a lane of l[0] kept all eight
  // accumulators in memory: the loop ran at store-forwarding latency).
  float tl = *lo, th = *hi;
  for (; i < n; ++i) {
    tl = x[i] < tl ? x[i] : tl;
    th = x[i] > th ? x[i] : th;
  }
#pragma GCC unroll 4
  for (int j = 0; j < 4; ++j)
    for (int64_t k = 0; k < kLanes; ++k) {
      tl = l[j][k] < tl ? l[j][k] : tl;
      th = h[j][k] > th ? h[j][k] : th;
    }
  *lo = tl;
  *hi = th;
}

// y = saturate(round_half_even(x / scale) + zp) to uint8, NaN to zp, for
// DynamicQuantizeLinear's range where every |x / scale| is at most 255:
// adding and subtracting 1.5 * 2^23 rounds to the nearest integer, ties to
// even, exactly as std::nearbyint does there, in plain vector adds.
typedef uint8_t vb __attribute__((vector_size(kLanes)));
typedef int16_t vh __attribute__((vector_size(kLanes * 2)));
PIONNX_INLINE vb quantize_u8_v(vf v, vf s, vf z) {
  const vf magic = splat(12582912.0f);
  vf r = ((v / s + magic) - magic) + z;
  r = select(is_nan(r), z, r);
  r = vmax(vmin(r, splat(255.0f)), splat(0.0f));
  // Narrowed in two steps: straight from int32 to uint8 GCC moves the lanes
  // one by one.
  return __builtin_convertvector(__builtin_convertvector(__builtin_convertvector(r, vi), vh), vb);
}

PIONNX_INLINE void quantize_u8(const float* x, int64_t n, float scale, int32_t zp, uint8_t* y) {
  const vf s = splat(scale), z = splat(static_cast<float>(zp));
  int64_t i = 0;
  for (; i + kLanes <= n; i += kLanes) {
    const vb q = quantize_u8_v(load(x + i, kLanes), s, z);
    std::memcpy(y + i, &q, kLanes);
  }
  if (i < n) {
    const vb q = quantize_u8_v(load(x + i, n - i), s, z);
    std::memcpy(y + i, &q, static_cast<size_t>(n - i));
  }
}

// float32 <-> IEEE half, one element at a time through the exact scalar forms (pionnx/dtype.h: round to nearest
// even, subnormals kept, NaN quiet). The x86 tables replace them with the F16C and AVX-512 conversions and the aarch64
// NEON table with fcvtn/fcvtl, which give the same bits but a NaN's payload.
inline void half_from_float(const float* x, uint16_t* y, int64_t n) {
  for (int64_t i = 0; i < n; ++i) y[i] = float_to_half(x[i]);
}
// y = saturate(round_half_even((acc + bias) * mul + zp)) as uint8 (is_signed false) or int8 bytes, in double (the
// reference's float64; the zero point added before the rounding, as onnx.reference's QLinearConv and
// QLinearMatMul do: with an odd zero point a tie rounds the other way than round-then-add), for a finite mul: the
// value clamped to one past the range the zero point leaves, the zero point added, rounded by the 1.5 * 2^52
// addition, the range applied. The x86 tables replace it with intrinsics (the same rounding, half to even).
// With sub, the sums are acc[i] - sub[i] - row_sub (an integer GEMM's raw sums and its zero-point terms), taken
// modulo 2^32 as the vector loops' int32 lanes take them: the sum itself when it fits in int32.
template <bool Sub>
inline void requantize_loop(const int32_t* acc, const int32_t* sub, int32_t row_sub, int64_t n, double bias, double mul,
                            int32_t zp, bool is_signed, uint8_t* y) {
  const double lo = is_signed ? -128.0 : 0.0, hi = is_signed ? 127.0 : 255.0, z = zp;
  const double vlo = lo - z - 1, vhi = hi - z + 1, magic = 6755399441055744.0;
  for (int64_t i = 0; i < n; ++i) {
    const int32_t a = Sub ? wrapping_sub(wrapping_sub(acc[i], sub[i]), row_sub) : acc[i];
    double v = (static_cast<double>(a) + bias) * mul;
    v = v < vlo ? vlo : v;
    v = v > vhi ? vhi : v;
    double r = ((v + z) + magic) - magic;
    r = r < lo ? lo : r;
    r = r > hi ? hi : r;
    y[i] = static_cast<uint8_t>(static_cast<int32_t>(r));
  }
}
inline void requantize(const int32_t* acc, const int32_t* sub, int32_t row_sub, int64_t n, double bias, double mul,
                       int32_t zp, bool is_signed, uint8_t* y, bool /*bounded*/) {
  if (sub) requantize_loop<true>(acc, sub, row_sub, n, bias, mul, zp, is_signed, y);
  else requantize_loop<false>(acc, nullptr, 0, n, bias, mul, zp, is_signed, y);
}

inline void float_from_half(const uint16_t* x, float* y, int64_t n) {
  for (int64_t i = 0; i < n; ++i) y[i] = half_to_float(x[i]);
}

// y = x - offset in float over rows of 8-bit integers (uint8, or int8 when is_signed), x's rows cols apart and
// y's y_stride apart, and y = int32(x) over rows of floats that hold integers, x's rows x_stride apart and y's
// cols apart (the quantized depthwise convolution's planes in and sums out, exact): plain loops the compiler
// vectorizes for each table's instruction set (the signedness chosen outside the loop), rows end to end taken
// as one.
inline void float_from_q8(const uint8_t* x, int64_t rows, int64_t cols, bool is_signed, float offset, float* y,
                          int64_t y_stride) {
  if (y_stride == cols) cols *= rows, rows = 1;
  for (int64_t r = 0; r < rows; ++r, x += cols, y += y_stride) {
    if (is_signed) {
      const auto* s = reinterpret_cast<const int8_t*>(x);
      for (int64_t i = 0; i < cols; ++i) y[i] = static_cast<float>(s[i]) - offset;
    } else {
      for (int64_t i = 0; i < cols; ++i) y[i] = static_cast<float>(x[i]) - offset;
    }
  }
}
inline void int32_from_float(const float* x, int64_t rows, int64_t cols, int64_t x_stride, int32_t* y) {
  if (x_stride == cols) cols *= rows, rows = 1;
  for (int64_t r = 0; r < rows; ++r, x += x_stride, y += cols)
    for (int64_t i = 0; i < cols; ++i) y[i] = static_cast<int32_t>(x[i]);
}

// qlinear_binary_block (elementwise_math.h): the constants copied into locals (the byte stores could alias
// anything reached by reference, which kept the loop scalar), the signedness and the operation chosen outside it.
template <typename Q, bool Mul>
inline void qlinear_binary_loop(const Q* __restrict a, const Q* __restrict b, Q* __restrict y, int64_t n, QBinary p) {
  const float lo = std::is_signed<Q>::value ? -128.0f : 0.0f, hi = std::is_signed<Q>::value ? 127.0f : 255.0f;
  const float z = p.zc, vlo = lo - z - 1, vhi = hi - z + 1, magic = 12582912.0f;
  const float za = p.za, zb = p.zb, ra = p.ra, rb = p.rb;
  for (int64_t i = 0; i < n; ++i) {
    const float da = static_cast<float>(a[i]) - za, db = static_cast<float>(b[i]) - zb;
    const float v = std::min(std::max(Mul ? ra * da * db : ra * da + rb * db, vlo), vhi);
    y[i] = static_cast<Q>(static_cast<int32_t>(std::min(std::max(((v + magic) - magic) + z, lo), hi)));
  }
}
inline void qlinear_binary(const uint8_t* a, const uint8_t* b, uint8_t* y, int64_t n, const QBinary& p) {
  if (p.is_signed) {
    const auto* sa = reinterpret_cast<const int8_t*>(a);
    const auto* sb = reinterpret_cast<const int8_t*>(b);
    auto* sy = reinterpret_cast<int8_t*>(y);
    if (p.mul) qlinear_binary_loop<int8_t, true>(sa, sb, sy, n, p);
    else qlinear_binary_loop<int8_t, false>(sa, sb, sy, n, p);
  } else {
    if (p.mul) qlinear_binary_loop<uint8_t, true>(a, b, y, n, p);
    else qlinear_binary_loop<uint8_t, false>(a, b, y, n, p);
  }
}

}  // namespace vec

// Whether requantize's x86 loops may take their float form, with the double one only for the values near a tie.
// It gives the double form's bytes: with a bias that is an integer under 2^23 in size, a multiplier a float holds
// exactly and a sum under 2^23 in size (each loop checks its lanes), acc + bias is exact in int32 and in float,
// and the float value v' = fl(fl(acc + bias) * mul) + zp (AVX2; AVX-512 takes fl(fl(acc + bias) * mul + zp) in one
// fused multiply-add, closer still) is within 2^-14 of the exact (acc + bias) * mul + zp wherever the range can
// be reached (|v| under 2^9; further out both forms clamp the same); the double form's is
// within 2^-40 of it. So where v' is more than 2^-12 from a half-integer both round alike, and a vector with any
// lane closer (or a sum too large) is made in double instead. In float 16 values cost what 8 did in double.
inline bool requantize_in_float(double bias, double mul) {
  if (!(bias > -8388608.0 && bias < 8388608.0) || bias != std::trunc(bias)) return false;  // (NaN: false)
  return static_cast<double>(static_cast<float>(mul)) == mul;
}
constexpr float kRequantizeTieMargin = 0.5f - 1.0f / 4096;    // |v' - round(v')| above this: near a tie
constexpr int32_t kRequantizeMaxSum = kRequantizeBoundedSum;  // elementwise_math.h
}  // namespace

// One ISA's loops, filled in by its file: the driver (elementwise_math.cc)
// picks a table once and calls through it.
struct Kernels {
  void (*exp)(const float*, float*, int64_t);
  void (*tanh)(const float*, float*, int64_t);
  void (*erf)(const float*, float*, int64_t);
  void (*sigmoid)(const float*, float*, int64_t);
  void (*gelu_erf)(const float*, float*, int64_t);
  void (*gelu_tanh)(const float*, float*, int64_t);
  float (*exp_shift_sum)(const float*, float*, int64_t, float);
  float (*max)(const float*, int64_t);
  float (*add_max)(float*, const float*, int64_t);
  void (*scale)(float*, int64_t, float);
  void (*range)(const float*, int64_t, float*, float*);
  double (*row_sum)(const float*, int64_t, float, bool);
  void (*normalize_row)(const float*, float*, int64_t, float, float, const float*, const float*);
  void (*quantize_u8)(const float*, int64_t, float, int32_t, uint8_t*);
  void (*half_from_float)(const float*, uint16_t*, int64_t);
  void (*float_from_half)(const uint16_t*, float*, int64_t);
  void (*softmax)(const float*, float*, int64_t);
  void (*requantize)(const int32_t*, const int32_t*, int32_t, int64_t, double, double, int32_t, bool, uint8_t*, bool);
  void (*float_from_q8)(const uint8_t*, int64_t, int64_t, bool, float, float*, int64_t);
  void (*int32_from_float)(const float*, int64_t, int64_t, int64_t, int32_t*);
  void (*qlinear_binary)(const uint8_t*, const uint8_t*, uint8_t*, int64_t, const QBinary&);
  // requantize_rows_block's rows in one call (elementwise_math.h's arguments), or nullptr: a requantize call a row.
  void (*requantize_rows)(const int32_t*, int64_t, int64_t, int64_t, const int32_t*, const double*, const char*,
                          int32_t, bool, uint8_t*, int64_t, const int32_t*, const int32_t*);
};

// Defines one ISA's loops (exp_<isa> ... max_<isa>, each ATTR, e.g. a target
// attribute, or nothing) and the table k<Name> over them, inside the ISA
// file's anonymous namespace: the same loops, compiled for that ISA.
#define PIONNX_FASTMATH_TABLE(isa, Name, ATTR)                                                                        \
  ATTR void exp_##isa(const float* x, float* y, int64_t n) { vec::apply(x, y, n, vec::Exp{}); }                       \
  ATTR void tanh_##isa(const float* x, float* y, int64_t n) { vec::apply(x, y, n, vec::Tanh{}); }                     \
  ATTR void erf_##isa(const float* x, float* y, int64_t n) { vec::apply(x, y, n, vec::Erf{}); }                       \
  ATTR void sigmoid_##isa(const float* x, float* y, int64_t n) { vec::apply(x, y, n, vec::Sigmoid{}); }               \
  ATTR void gelu_erf_##isa(const float* x, float* y, int64_t n) { vec::apply(x, y, n, vec::GeluErf{}); }              \
  ATTR void gelu_tanh_##isa(const float* x, float* y, int64_t n) { vec::apply(x, y, n, vec::GeluTanh{}); }            \
  ATTR float exp_shift_sum_##isa(const float* x, float* y, int64_t n, float s) {                                      \
    return vec::exp_shift_sum(x, y, n, s);                                                                            \
  }                                                                                                                   \
  ATTR float max_##isa(const float* x, int64_t n) { return vec::max_of(x, n); }                                       \
  ATTR float add_max_##isa(float* x, const float* b, int64_t n) { return vec::add_max(x, b, n); }                     \
  ATTR void scale_##isa(float* x, int64_t n, float s) { vec::scale(x, n, s); }                                        \
  ATTR void range_##isa(const float* x, int64_t n, float* lo, float* hi) { vec::range_of(x, n, lo, hi); }             \
  ATTR double row_sum_##isa(const float* x, int64_t n, float shift, bool squares) {                                   \
    return vec::row_sum(x, n, shift, squares);                                                                        \
  }                                                                                                                   \
  ATTR void normalize_row_##isa(const float* x, float* y, int64_t n, float m, float v, const float* sc,               \
                                const float* bi) {                                                                    \
    vec::normalize_row(x, y, n, m, v, sc, bi);                                                                        \
  }                                                                                                                   \
  ATTR void quantize_u8_##isa(const float* x, int64_t n, float scale, int32_t zp, uint8_t* y) {                       \
    vec::quantize_u8(x, n, scale, zp, y);                                                                             \
  }                                                                                                                   \
  ATTR void softmax_##isa(const float* x, float* y, int64_t n) { vec::softmax_row(x, y, n); }                         \
  ATTR void float_from_q8_##isa(const uint8_t* x, int64_t rows, int64_t cols, bool is_signed, float offset, float* y, \
                                int64_t y_stride) {                                                                   \
    vec::float_from_q8(x, rows, cols, is_signed, offset, y, y_stride);                                                \
  }                                                                                                                   \
  ATTR void int32_from_float_##isa(const float* x, int64_t rows, int64_t cols, int64_t x_stride, int32_t* y) {        \
    vec::int32_from_float(x, rows, cols, x_stride, y);                                                                \
  }                                                                                                                   \
  ATTR void qlinear_binary_##isa(const uint8_t* a, const uint8_t* b, uint8_t* y, int64_t n, const QBinary& p) {       \
    vec::qlinear_binary(a, b, y, n, p);                                                                               \
  }                                                                                                                   \
  const Kernels k##Name{exp_##isa,                                                                                    \
                        tanh_##isa,                                                                                   \
                        erf_##isa,                                                                                    \
                        sigmoid_##isa,                                                                                \
                        gelu_erf_##isa,                                                                               \
                        gelu_tanh_##isa,                                                                              \
                        exp_shift_sum_##isa,                                                                          \
                        max_##isa,                                                                                    \
                        add_max_##isa,                                                                                \
                        scale_##isa,                                                                                  \
                        range_##isa,                                                                                  \
                        row_sum_##isa,                                                                                \
                        normalize_row_##isa,                                                                          \
                        quantize_u8_##isa,                                                                            \
                        vec::half_from_float,                                                                         \
                        vec::float_from_half,                                                                         \
                        softmax_##isa,                                                                                \
                        vec::requantize,                                                                              \
                        float_from_q8_##isa,                                                                          \
                        int32_from_float_##isa,                                                                       \
                        qlinear_binary_##isa,                                                                         \
                        nullptr};

// The AVX2+FMA table (elementwise_math_avx2.cc), or nullptr where it is not
// compiled in or the CPU lacks AVX2 or FMA.
const Kernels* kernels_avx2();
// The NEON table (elementwise_math_neon.cc), or nullptr where it is not compiled
// in or the CPU reports no NEON.
const Kernels* kernels_neon();
// The AVX-512 table (elementwise_math_avx512.cc), or nullptr where it is not
// compiled in or the CPU lacks AVX-512 F/DQ/BW/VL or FMA.
const Kernels* kernels_avx512();

}  // namespace fastmath
}  // namespace pionnx
