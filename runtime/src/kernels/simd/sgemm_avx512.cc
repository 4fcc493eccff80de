// AVX-512F micro-kernel: 8x32 tile, 16 zmm accumulators plus two B vectors
// and one broadcast A value (19 of 32 registers). Compiled with a target
// attribute; used only when the CPU reports AVX-512F. Like the AVX2 kernel it
// finishes tiles in registers (bias, residual, Relu/Clip: SgemmBiasAct) and
// reads B in place for direct convolutions (SgemmShiftedKernel); partial
// tiles use AVX-512's masked loads and stores.
#include "kernels/simd/sgemm.h"
#include "kernels/simd/sgemm_ukernel.h"
#include "platform/cpu_features.h"

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>

#include <algorithm>

#include "kernels/simd/transpose_avx512.h"

namespace pionnx {
namespace simd {
namespace {

constexpr int kMR = 8, kNR = 32;

#define PIONNX_AVX512 __attribute__((target("avx512f"), always_inline)) inline

// As sgemm_avx2.cc's Finish: + bias, + residual, then Relu as max(v, 0) or
// Clip as min(hi, max(lo, v)), the order and NaN behaviour of the driver's
// finish_tile.
struct Finish {
  bool bias;
  int act;
  __m512 lo, hi;
};

// The masked forms with every lane set: GCC 12's plain _mm512_max_ps and
// _mm512_min_ps pass an undefined vector that -Wmaybe-uninitialized flags.
PIONNX_AVX512 __m512 activate(__m512 v, const Finish& f) {
  constexpr __mmask16 kAll = 0xffff;
  if (f.act == SgemmBiasAct::Relu) {
    v = _mm512_mask_max_ps(v, kAll, v, _mm512_setzero_ps());
  } else if (f.act == SgemmBiasAct::Clip) {
    v = _mm512_mask_max_ps(v, kAll, f.lo, v);
    v = _mm512_mask_min_ps(v, kAll, f.hi, v);
  }
  return v;
}

// One row of the tile into C: columns under masks k0 (0-15) and k1 (16-31),
// full vectors when `full`; with kFinish, bias[row], the residual row
// res + row * ldr (res not null) and the activation on the way.
template <bool kFinish>
PIONNX_AVX512 void store_row(float* ci, __m512 v0, __m512 v1, bool full, __mmask16 k0, __mmask16 k1, bool accumulate,
                             const Finish& f, const float* bias, const float* res, int64_t ldr, int row) {
  if (accumulate) {
    v0 = _mm512_add_ps(v0, full ? _mm512_loadu_ps(ci) : _mm512_maskz_loadu_ps(k0, ci));
    v1 = _mm512_add_ps(v1, full ? _mm512_loadu_ps(ci + 16) : _mm512_maskz_loadu_ps(k1, ci + 16));
  }
  if (kFinish) {
    if (f.bias) {
      const __m512 b = _mm512_set1_ps(bias[row]);
      v0 = _mm512_add_ps(v0, b);
      v1 = _mm512_add_ps(v1, b);
    }
    if (res) {
      const float* r = res + row * ldr;
      v0 = _mm512_add_ps(v0, full ? _mm512_loadu_ps(r) : _mm512_maskz_loadu_ps(k0, r));
      v1 = _mm512_add_ps(v1, full ? _mm512_loadu_ps(r + 16) : _mm512_maskz_loadu_ps(k1, r + 16));
    }
    v0 = activate(v0, f);
    v1 = activate(v1, f);
  }
  if (full) {
    _mm512_storeu_ps(ci, v0);
    _mm512_storeu_ps(ci + 16, v1);
    return;
  }
  _mm512_mask_storeu_ps(ci, k0, v0);
  _mm512_mask_storeu_ps(ci + 16, k1, v1);
}

// kShifted: B is read in place, not from a packed panel: row k of the
// tile's B is the 32 floats at b + shift[k] (SgemmShiftedKernel); with
// kMaskB only its first n (a band narrower than a tile, so nothing past it
// is read). The rows are stored with constant indices (the loop below is
// unrolled), so the accumulators stay in registers (see sgemm_avx2.cc).
// kRows: the rows multiplied (the panel's first kRows of its kMR; m <=
// kRows): a last row tile of 1, 2 or 4 rows (a 7x7 map's 49 positions are six
// tiles and one row) does not pay for eight.
template <bool kFinish, bool kShifted = false, bool kMaskB = false, int kRows = kMR>
PIONNX_AVX512 void tile_avx512(int64_t kc, const float* a, const float* b, float* c, int64_t ldc, int m, int n,
                               bool accumulate, const float* bias, const float* res, int64_t ldr, const Finish& f,
                               const int64_t* shift = nullptr) {
  __m512 acc[kRows][2];
#pragma GCC unroll 8
  for (int i = 0; i < kRows; ++i) acc[i][0] = acc[i][1] = _mm512_setzero_ps();
  const uint32_t cols = n >= kNR ? 0xffffffffu : ((1u << n) - 1u);
  const __mmask16 k0 = static_cast<__mmask16>(cols & 0xffff), k1 = static_cast<__mmask16>(cols >> 16);
  for (int64_t k = 0; k < kc; ++k, a += kMR) {
    const float* bk = kShifted ? b + shift[k] : b + k * kNR;
    const __m512 b0 = kMaskB ? _mm512_maskz_loadu_ps(k0, bk) : _mm512_loadu_ps(bk);
    const __m512 b1 = kMaskB ? _mm512_maskz_loadu_ps(k1, bk + 16) : _mm512_loadu_ps(bk + 16);
#pragma GCC unroll 8
    for (int i = 0; i < kRows; ++i) {
      const __m512 ai = _mm512_set1_ps(a[i]);
      acc[i][0] = _mm512_fmadd_ps(ai, b0, acc[i][0]);
      acc[i][1] = _mm512_fmadd_ps(ai, b1, acc[i][1]);
    }
  }
  const bool full = n == kNR;
#pragma GCC unroll 8
  for (int i = 0; i < kRows; ++i)
    if (i < m) store_row<kFinish>(c + i * ldc, acc[i][0], acc[i][1], full, k0, k1, accumulate, f, bias, res, ldr, i);
}

// A packed tile of m rows with the fewest rows multiplied that hold them.
template <bool kFinish>
PIONNX_AVX512 void tile_rows(int64_t kc, const float* a, const float* b, float* c, int64_t ldc, int m, int n,
                             bool accumulate, const float* bias, const float* res, int64_t ldr, const Finish& f) {
  if (m > 4) tile_avx512<kFinish>(kc, a, b, c, ldc, m, n, accumulate, bias, res, ldr, f);
  else if (m > 2) tile_avx512<kFinish, false, false, 4>(kc, a, b, c, ldc, m, n, accumulate, bias, res, ldr, f);
  else if (m > 1) tile_avx512<kFinish, false, false, 2>(kc, a, b, c, ldc, m, n, accumulate, bias, res, ldr, f);
  else tile_avx512<kFinish, false, false, 1>(kc, a, b, c, ldc, m, n, accumulate, bias, res, ldr, f);
}

__attribute__((target("avx512f"))) void ukernel_avx512(int64_t kc, const float* a, const float* b, float* c,
                                                       int64_t ldc, int m, int n, bool accumulate) {
  tile_rows<false>(kc, a, b, c, ldc, m, n, accumulate, nullptr, nullptr, 0, Finish{});
}

__attribute__((target("avx512f"))) void ukernel_avx512_bias_act(int64_t kc, const float* a, const float* b, float* c,
                                                                int64_t ldc, int m, int n, bool accumulate,
                                                                const float* bias, const float* res,
                                                                const SgemmBiasAct& ba) {
  const Finish f{bias != nullptr, ba.act, _mm512_set1_ps(ba.lo), _mm512_set1_ps(ba.hi)};
  tile_rows<true>(kc, a, b, c, ldc, m, n, accumulate, bias, res, ba.ldr, f);
}

// Tiles of one row band read from B in place (SgemmShiftedKernel): 32
// columns at a time across w. A partial last tile of a band at least a tile
// wide is the band's last 32 columns instead (its first ones stored again
// with the same values), and a band narrower than a tile loads B under a
// mask: nothing past b[shift[k] + w - 1] is read, which a 1x1 convolution
// reading its input planes in place relies on (the last plane ends its
// tensor).
__attribute__((target("avx512f"))) void shifted_avx512(int64_t kc, const float* a, const float* b, const int64_t* shift,
                                                       int64_t w, float* c, int64_t ldc, int m, const float* bias,
                                                       const float* res, const SgemmBiasAct& ba) {
  const Finish f{bias != nullptr, ba.act, _mm512_set1_ps(ba.lo), _mm512_set1_ps(ba.hi)};
  if (w < kNR) {
    tile_avx512<true, true, true>(kc, a, b, c, ldc, m, static_cast<int>(w), false, bias, res, ba.ldr, f, shift);
    return;
  }
  for (int64_t t = 0; t < w; t += kNR) {
    if (t + kNR > w) t = w - kNR;
    tile_avx512<true, true>(kc, a, b + t, c + t, ldc, m, kNR, false, bias, res ? res + t : nullptr, ba.ldr, f, shift);
  }
}

// 64 columns (4 zmm accumulators) per pass down the rows, then 16, then a
// masked tail.
__attribute__((target("avx512f"))) void gemv_rows_avx512(int64_t K, int64_t n, const float* x, const float* m,
                                                         int64_t ldm, float* y) {
  int64_t j = 0;
  for (; j + 64 <= n; j += 64) {
    __m512 a0 = _mm512_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
    const float* p = m + j;
    for (int64_t k = 0; k < K; ++k, p += ldm) {
      const __m512 xk = _mm512_set1_ps(x[k]);
      a0 = _mm512_fmadd_ps(xk, _mm512_loadu_ps(p), a0);
      a1 = _mm512_fmadd_ps(xk, _mm512_loadu_ps(p + 16), a1);
      a2 = _mm512_fmadd_ps(xk, _mm512_loadu_ps(p + 32), a2);
      a3 = _mm512_fmadd_ps(xk, _mm512_loadu_ps(p + 48), a3);
    }
    _mm512_storeu_ps(y + j, a0);
    _mm512_storeu_ps(y + j + 16, a1);
    _mm512_storeu_ps(y + j + 32, a2);
    _mm512_storeu_ps(y + j + 48, a3);
  }
  for (; j < n; j += 16) {
    const int live = static_cast<int>(n - j < 16 ? n - j : 16);
    const __mmask16 mask = static_cast<__mmask16>(live == 16 ? 0xffff : (1u << live) - 1u);
    __m512 a0 = _mm512_setzero_ps();
    const float* p = m + j;
    for (int64_t k = 0; k < K; ++k, p += ldm)
      a0 = _mm512_fmadd_ps(_mm512_set1_ps(x[k]), _mm512_maskz_loadu_ps(mask, p), a0);
    _mm512_mask_storeu_ps(y + j, mask, a0);
  }
}

// sgemm_finish_transposed: 16 x 16 blocks of Yt transposed in registers, each
// of Y's rows then finished as store_row does (bias, residual, activation,
// in that order); masked loads and stores at the edges.
__attribute__((target("avx512f"))) void finish_transposed_avx512(const float* yt, int64_t ldt, int64_t P, int64_t m0,
                                                                 int64_t m1, const SgemmBiasAct& ba, float* y,
                                                                 int64_t ldy) {
  const Finish f{ba.bias != nullptr, ba.act, _mm512_set1_ps(ba.lo), _mm512_set1_ps(ba.hi)};
  auto lanes = [](int64_t n) { return static_cast<__mmask16>(n >= 16 ? 0xffffu : n <= 0 ? 0u : (1u << n) - 1u); };
  for (int64_t mb = m0; mb < m1; mb += 16) {
    const int64_t mn = std::min<int64_t>(16, m1 - mb);
    const __mmask16 mk = lanes(mn);
    for (int64_t p0 = 0; p0 < P; p0 += 16) {
      const int64_t pn = std::min<int64_t>(16, P - p0);
      const __mmask16 pk = lanes(pn);
      __m512 r[16];
#pragma GCC unroll 16
      for (int q = 0; q < 16; ++q)
        r[q] = q < pn ? _mm512_maskz_loadu_ps(mk, yt + (p0 + q) * ldt + mb) : _mm512_setzero_ps();
      transpose16(r);
#pragma GCC unroll 16
      for (int j = 0; j < 16; ++j) {
        if (j >= mn) break;
        const int64_t m = mb + j;
        __m512 v = r[j];
        if (ba.bias) v = _mm512_add_ps(v, _mm512_set1_ps(ba.bias[m]));
        if (ba.residual) v = _mm512_add_ps(v, _mm512_maskz_loadu_ps(pk, ba.residual + m * ba.ldr + p0));
        _mm512_mask_storeu_ps(y + m * ldy + p0, pk, activate(v, f));
      }
    }
  }
}

const SgemmUKernel kAvx512{kMR,
                           kNR,
                           ukernel_avx512,
                           "avx512",
                           gemv_rows_avx512,
                           ukernel_avx512_bias_act,
                           gemv_dots_avx2,
                           shifted_avx512,
                           finish_transposed_avx512};
#undef PIONNX_AVX512

}  // namespace

const SgemmUKernel* sgemm_ukernel_avx512() {
  if (platform::cpu_features().avx512f) return &kAvx512;
  return nullptr;
}

}  // namespace simd
}  // namespace pionnx

#else

namespace pionnx {
namespace simd {
const SgemmUKernel* sgemm_ukernel_avx512() { return nullptr; }
}  // namespace simd
}  // namespace pionnx

#endif
