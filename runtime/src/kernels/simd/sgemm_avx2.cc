// AVX2+FMA micro-kernel: 6x16 tile, 12 ymm accumulators plus two B vectors
// and one broadcast A value (15 of 16 registers). Compiled with a target
// attribute so the rest of the library stays baseline x86-64; used only when
// the CPU reports AVX2 and FMA.
#include "kernels/simd/sgemm.h"
#include "kernels/simd/sgemm_ukernel.h"
#include "platform/cpu_features.h"

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>

#include <algorithm>

#include "kernels/simd/transpose_avx2.h"

namespace pionnx {
namespace simd {
namespace {

constexpr int kMR = 6, kNR = 16;

#define PIONNX_AVX2 __attribute__((target("avx2,fma"), always_inline)) inline

// Bias, residual and activation of a row's vectors (SgemmBiasAct), in the
// order the driver's finish_tile uses: + bias, + residual, then Relu as
// max(v, 0) (NaN and -0 give +0, as v > 0 ? v : 0 does) or Clip as
// min(hi, max(lo, v)) (NaN kept, as std::min(std::max(v, lo), hi) keeps it).
struct Finish {
  bool bias;
  int act;
  __m256 lo, hi;
};

PIONNX_AVX2 __m256 activate(__m256 v, const Finish& f) {
  if (f.act == SgemmBiasAct::Relu) v = _mm256_max_ps(v, _mm256_setzero_ps());
  else if (f.act == SgemmBiasAct::Clip) v = _mm256_min_ps(f.hi, _mm256_max_ps(f.lo, v));
  return v;
}

// One row of the tile into C: all 16 columns, or the first n through masks;
// with kFinish, bias[row], the residual row res + row * ldr (when res is not
// null) and the activation applied on the way.
template <bool kFinish>
PIONNX_AVX2 void store_row(float* ci, __m256 v0, __m256 v1, bool full, __m256i k0, __m256i k1, bool accumulate,
                           const Finish& f, const float* bias, const float* res, int64_t ldr, int row) {
  if (accumulate) {
    v0 = _mm256_add_ps(v0, full ? _mm256_loadu_ps(ci) : _mm256_maskload_ps(ci, k0));
    v1 = _mm256_add_ps(v1, full ? _mm256_loadu_ps(ci + 8) : _mm256_maskload_ps(ci + 8, k1));
  }
  if (kFinish) {
    if (f.bias) {
      const __m256 b = _mm256_broadcast_ss(bias + row);
      v0 = _mm256_add_ps(v0, b);
      v1 = _mm256_add_ps(v1, b);
    }
    if (res) {
      const float* r = res + row * ldr;
      v0 = _mm256_add_ps(v0, full ? _mm256_loadu_ps(r) : _mm256_maskload_ps(r, k0));
      v1 = _mm256_add_ps(v1, full ? _mm256_loadu_ps(r + 8) : _mm256_maskload_ps(r + 8, k1));
    }
    v0 = activate(v0, f);
    v1 = activate(v1, f);
  }
  if (full) {
    _mm256_storeu_ps(ci, v0);
    _mm256_storeu_ps(ci + 8, v1);
    return;
  }
  _mm256_maskstore_ps(ci, k0, v0);
  _mm256_maskstore_ps(ci + 8, k1, v1);
}

// The twelve accumulators are named variables, and the rows are stored with
// constant indices: with an accumulator array indexed by the live row count,
// GCC kept the whole array in memory inside the k loop (12 stores per step,
// a third of the FMA rate).
//
// kShifted: B is read in place, not from a packed panel: row k of the tile's
// B is the 16 floats at b + shift[k] (SgemmShiftedKernel).
template <bool kFinish, bool kShifted = false>
PIONNX_AVX2 void tile_avx2(int64_t kc, const float* a, const float* b, float* c, int64_t ldc, int m, int n,
                           bool accumulate, const float* bias, const float* res, int64_t ldr, const Finish& f,
                           const int64_t* shift = nullptr) {
  __m256 c00 = _mm256_setzero_ps(), c01 = c00, c10 = c00, c11 = c00, c20 = c00, c21 = c00;
  __m256 c30 = c00, c31 = c00, c40 = c00, c41 = c00, c50 = c00, c51 = c00;
  for (int64_t k = 0; k < kc; ++k, a += kMR) {
    const float* bk = kShifted ? b + shift[k] : b + k * kNR;
    const __m256 b0 = _mm256_loadu_ps(bk), b1 = _mm256_loadu_ps(bk + 8);
    __m256 ai = _mm256_broadcast_ss(a);
    c00 = _mm256_fmadd_ps(ai, b0, c00);
    c01 = _mm256_fmadd_ps(ai, b1, c01);
    ai = _mm256_broadcast_ss(a + 1);
    c10 = _mm256_fmadd_ps(ai, b0, c10);
    c11 = _mm256_fmadd_ps(ai, b1, c11);
    ai = _mm256_broadcast_ss(a + 2);
    c20 = _mm256_fmadd_ps(ai, b0, c20);
    c21 = _mm256_fmadd_ps(ai, b1, c21);
    ai = _mm256_broadcast_ss(a + 3);
    c30 = _mm256_fmadd_ps(ai, b0, c30);
    c31 = _mm256_fmadd_ps(ai, b1, c31);
    ai = _mm256_broadcast_ss(a + 4);
    c40 = _mm256_fmadd_ps(ai, b0, c40);
    c41 = _mm256_fmadd_ps(ai, b1, c41);
    ai = _mm256_broadcast_ss(a + 5);
    c50 = _mm256_fmadd_ps(ai, b0, c50);
    c51 = _mm256_fmadd_ps(ai, b1, c51);
  }
  const bool full = n == kNR;
  const __m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
  const __m256i k0 = _mm256_cmpgt_epi32(_mm256_set1_epi32(n), lane);
  const __m256i k1 = _mm256_cmpgt_epi32(_mm256_set1_epi32(n - 8), lane);
  store_row<kFinish>(c, c00, c01, full, k0, k1, accumulate, f, bias, res, ldr, 0);
  if (m > 1) store_row<kFinish>(c + ldc, c10, c11, full, k0, k1, accumulate, f, bias, res, ldr, 1);
  if (m > 2) store_row<kFinish>(c + 2 * ldc, c20, c21, full, k0, k1, accumulate, f, bias, res, ldr, 2);
  if (m > 3) store_row<kFinish>(c + 3 * ldc, c30, c31, full, k0, k1, accumulate, f, bias, res, ldr, 3);
  if (m > 4) store_row<kFinish>(c + 4 * ldc, c40, c41, full, k0, k1, accumulate, f, bias, res, ldr, 4);
  if (m > 5) store_row<kFinish>(c + 5 * ldc, c50, c51, full, k0, k1, accumulate, f, bias, res, ldr, 5);
}

// A last row tile of one to three rows (a 7x7 map's 49 positions are eight
// tiles and one row): only those rows multiplied, the panel's first kRows.
// One chain of multiply-adds per vector, in k order, as tile_avx2's: a row
// gets the same bits whichever tile computes it, so products split by rows
// over 1, 2 or 3 threads agree to the bit (tests/test_transformers.py). The
// one-row tile therefore runs at the FMA's latency (about two thirds of a
// full tile's time on Zen 3); summing alternate k steps in separate chains
// made 7x7 convolutions about 5 % faster and broke that agreement.
template <bool kFinish, int kRows>
PIONNX_AVX2 void tile_few(int64_t kc, const float* a, const float* b, float* c, int64_t ldc, int m, int n,
                          bool accumulate, const float* bias, const float* res, int64_t ldr, const Finish& f) {
  __m256 acc[kRows][2];
#pragma GCC unroll 4
  for (int i = 0; i < kRows; ++i) acc[i][0] = acc[i][1] = _mm256_setzero_ps();
  for (int64_t k = 0; k < kc; ++k, a += kMR) {
    const __m256 b0 = _mm256_loadu_ps(b + k * kNR), b1 = _mm256_loadu_ps(b + k * kNR + 8);
#pragma GCC unroll 4
    for (int i = 0; i < kRows; ++i) {
      const __m256 ai = _mm256_broadcast_ss(a + i);
      acc[i][0] = _mm256_fmadd_ps(ai, b0, acc[i][0]);
      acc[i][1] = _mm256_fmadd_ps(ai, b1, acc[i][1]);
    }
  }
  const bool full = n == kNR;
  const __m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
  const __m256i k0 = _mm256_cmpgt_epi32(_mm256_set1_epi32(n), lane);
  const __m256i k1 = _mm256_cmpgt_epi32(_mm256_set1_epi32(n - 8), lane);
#pragma GCC unroll 4
  for (int i = 0; i < kRows; ++i)
    if (i < m) store_row<kFinish>(c + i * ldc, acc[i][0], acc[i][1], full, k0, k1, accumulate, f, bias, res, ldr, i);
}

template <bool kFinish>
PIONNX_AVX2 void tile_rows(int64_t kc, const float* a, const float* b, float* c, int64_t ldc, int m, int n,
                           bool accumulate, const float* bias, const float* res, int64_t ldr, const Finish& f) {
  if (m > 3) tile_avx2<kFinish>(kc, a, b, c, ldc, m, n, accumulate, bias, res, ldr, f);
  else if (m > 1) tile_few<kFinish, 3>(kc, a, b, c, ldc, m, n, accumulate, bias, res, ldr, f);
  else tile_few<kFinish, 1>(kc, a, b, c, ldc, m, n, accumulate, bias, res, ldr, f);
}

__attribute__((target("avx2,fma"))) void ukernel_avx2(int64_t kc, const float* a, const float* b, float* c, int64_t ldc,
                                                      int m, int n, bool accumulate) {
  tile_rows<false>(kc, a, b, c, ldc, m, n, accumulate, nullptr, nullptr, 0, Finish{});
}

__attribute__((target("avx2,fma"))) void ukernel_avx2_bias_act(int64_t kc, const float* a, const float* b, float* c,
                                                               int64_t ldc, int m, int n, bool accumulate,
                                                               const float* bias, const float* res,
                                                               const SgemmBiasAct& ba) {
  const Finish f{bias != nullptr, ba.act, _mm256_set1_ps(ba.lo), _mm256_set1_ps(ba.hi)};
  tile_rows<true>(kc, a, b, c, ldc, m, n, accumulate, bias, res, ba.ldr, f);
}

// Tiles of one row band read from B in place (SgemmShiftedKernel): 16
// columns at a time across w.
__attribute__((target("avx2,fma"))) void shifted_avx2(int64_t kc, const float* a, const float* b, const int64_t* shift,
                                                      int64_t w, float* c, int64_t ldc, int m, const float* bias,
                                                      const float* res, const SgemmBiasAct& ba) {
  const Finish f{bias != nullptr, ba.act, _mm256_set1_ps(ba.lo), _mm256_set1_ps(ba.hi)};
  for (int64_t t = 0; t < w; t += kNR) {
    int n = static_cast<int>(std::min<int64_t>(kNR, w - t));
    // A partial last tile of a band at least a tile wide is the band's last
    // 16 columns instead, its first ones stored again with the same values:
    // masked stores are microcoded on Zen 3 (3x slower).
    if (n < kNR && w >= kNR) {
      t = w - kNR;
      n = kNR;
    }
    tile_avx2<true, true>(kc, a, b + t, c + t, ldc, m, n, false, bias, res ? res + t : nullptr, ba.ldr, f, shift);
  }
}

// V vectors (8V columns) of y = x^T m, one pass down the K rows.
template <int V>
PIONNX_AVX2 void gemv_rows_pass(int64_t K, const float* x, const float* p, int64_t ldm, float* y) {
  __m256 a[V];
  for (int i = 0; i < V; ++i) a[i] = _mm256_setzero_ps();
  for (int64_t k = 0; k < K; ++k, p += ldm) {
    const __m256 xk = _mm256_broadcast_ss(x + k);
    for (int i = 0; i < V; ++i) a[i] = _mm256_fmadd_ps(xk, _mm256_loadu_ps(p + 8 * i), a[i]);
  }
  for (int i = 0; i < V; ++i) _mm256_storeu_ps(y + 8 * i, a[i]);
}

// 64 columns (8 ymm accumulators) per pass down the rows: each row's 256
// bytes read in one contiguous run (an RNN's 64-gate panels stream through
// from L3 at every step), then 32, 8, and the tail.
__attribute__((target("avx2,fma"))) void gemv_rows_avx2(int64_t K, int64_t n, const float* x, const float* m,
                                                        int64_t ldm, float* y) {
  int64_t j = 0;
  for (; j + 64 <= n; j += 64) gemv_rows_pass<8>(K, x, m + j, ldm, y + j);
  for (; j + 32 <= n; j += 32) gemv_rows_pass<4>(K, x, m + j, ldm, y + j);
  for (; j + 8 <= n; j += 8) gemv_rows_pass<1>(K, x, m + j, ldm, y + j);
  for (; j < n; ++j) {
    float s = 0.f;
    for (int64_t k = 0; k < K; ++k) s += x[k] * m[k * ldm + j];
    y[j] = s;
  }
}

PIONNX_AVX2 float hsum(__m256 v) {
  const __m128 q = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  const __m128 h = _mm_add_ps(q, _mm_movehl_ps(q, q));
  return _mm_cvtss_f32(_mm_add_ss(h, _mm_movehdup_ps(h)));
}

}  // namespace

// Four rows per pass, so each x vector is loaded once for four weight
// streams; two accumulators per row (16 k per step) to cover the FMA latency.
// The AVX-512 kernel uses it too: the loop is bound by memory, not width.
__attribute__((target("avx2,fma"))) void gemv_dots_avx2(int64_t K, int64_t n, const float* x, const float* m,
                                                        int64_t ldm, float* y) {
  int64_t j = 0;
  for (; j + 4 <= n; j += 4) {
    const float* r[4] = {m + j * ldm, m + (j + 1) * ldm, m + (j + 2) * ldm, m + (j + 3) * ldm};
    __m256 a[4], b[4];
    for (int i = 0; i < 4; ++i) a[i] = b[i] = _mm256_setzero_ps();
    int64_t k = 0;
    for (; k + 16 <= K; k += 16) {
      const __m256 x0 = _mm256_loadu_ps(x + k), x1 = _mm256_loadu_ps(x + k + 8);
      for (int i = 0; i < 4; ++i) {
        a[i] = _mm256_fmadd_ps(x0, _mm256_loadu_ps(r[i] + k), a[i]);
        b[i] = _mm256_fmadd_ps(x1, _mm256_loadu_ps(r[i] + k + 8), b[i]);
      }
    }
    if (k + 8 <= K) {
      const __m256 x0 = _mm256_loadu_ps(x + k);
      for (int i = 0; i < 4; ++i) a[i] = _mm256_fmadd_ps(x0, _mm256_loadu_ps(r[i] + k), a[i]);
      k += 8;
    }
    for (int i = 0; i < 4; ++i) {
      float s = hsum(_mm256_add_ps(a[i], b[i]));
      for (int64_t t = k; t < K; ++t) s += x[t] * r[i][t];
      y[j + i] = s;
    }
  }
  for (; j < n; ++j) {
    const float* r = m + j * ldm;
    __m256 a = _mm256_setzero_ps();
    int64_t k = 0;
    for (; k + 8 <= K; k += 8) a = _mm256_fmadd_ps(_mm256_loadu_ps(x + k), _mm256_loadu_ps(r + k), a);
    float s = hsum(a);
    for (; k < K; ++k) s += x[k] * r[k];
    y[j] = s;
  }
}

namespace {

// sgemm_finish_transposed: 8 x 8 blocks of Yt transposed in registers, each
// of Y's rows then finished as store_row does (bias, residual, activation,
// in that order); masked loads at the edges, and masked stores only for a
// block's last positions of a row (microcoded on AMD cores).
__attribute__((target("avx2,fma"))) void finish_transposed_avx2(const float* yt, int64_t ldt, int64_t P, int64_t m0,
                                                                int64_t m1, const SgemmBiasAct& ba, float* y,
                                                                int64_t ldy) {
  const Finish f{ba.bias != nullptr, ba.act, _mm256_set1_ps(ba.lo), _mm256_set1_ps(ba.hi)};
  const __m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
  for (int64_t mb = m0; mb < m1; mb += 8) {
    const int64_t mn = std::min<int64_t>(8, m1 - mb);
    const __m256i mk = _mm256_cmpgt_epi32(_mm256_set1_epi32(static_cast<int>(mn)), lane);
    for (int64_t p0 = 0; p0 < P; p0 += 8) {
      const int64_t pn = std::min<int64_t>(8, P - p0);
      const __m256i pk = _mm256_cmpgt_epi32(_mm256_set1_epi32(static_cast<int>(pn)), lane);
      __m256 r[8];
#pragma GCC unroll 8
      for (int q = 0; q < 8; ++q)
        r[q] = q < pn ? (mn == 8 ? _mm256_loadu_ps(yt + (p0 + q) * ldt + mb)
                                 : _mm256_maskload_ps(yt + (p0 + q) * ldt + mb, mk))
                      : _mm256_setzero_ps();
      transpose8(r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7]);
#pragma GCC unroll 8
      for (int j = 0; j < 8; ++j) {
        if (j >= mn) break;
        const int64_t m = mb + j;
        __m256 v = r[j];
        if (ba.bias) v = _mm256_add_ps(v, _mm256_broadcast_ss(ba.bias + m));
        const float* z = ba.residual ? ba.residual + m * ba.ldr + p0 : nullptr;
        float* out = y + m * ldy + p0;
        if (pn == 8) {
          if (z) v = _mm256_add_ps(v, _mm256_loadu_ps(z));
          _mm256_storeu_ps(out, activate(v, f));
        } else {
          if (z) v = _mm256_add_ps(v, _mm256_maskload_ps(z, pk));
          _mm256_maskstore_ps(out, pk, activate(v, f));
        }
      }
    }
  }
}

const SgemmUKernel kAvx2{kMR,
                         kNR,
                         ukernel_avx2,
                         "avx2",
                         gemv_rows_avx2,
                         ukernel_avx2_bias_act,
                         gemv_dots_avx2,
                         shifted_avx2,
                         finish_transposed_avx2};
#undef PIONNX_AVX2

}  // namespace

const SgemmUKernel* sgemm_ukernel_avx2() {
  const platform::CpuFeatures& cpu = platform::cpu_features();
  if (cpu.avx2 && cpu.fma) return &kAvx2;
  return nullptr;
}

}  // namespace simd
}  // namespace pionnx

#else

namespace pionnx {
namespace simd {
const SgemmUKernel* sgemm_ukernel_avx2() { return nullptr; }
}  // namespace simd
}  // namespace pionnx

#endif
