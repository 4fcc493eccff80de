// The NCHWc row kernel (conv_nchwc.h), written once over a vector traits
// type V and instantiated by each instruction set's file inside its target
// attribute (`PIONNX_NCHWC_TARGET`, defined before this header is included).
// V provides: `vec`, kLanes (= the block b), kBlocks (output blocks a tile
// holds), kPositions (positions a tile of kBlocks holds), kMaxPositions (the most a tile of fewer blocks
// holds), and inline load, store,
// broadcast, set1, fmadd (a * b + c), add, mul, zero, max, min, and transpose (kLanes rows
// of kLanes floats, in registers).
//
// A tile holds nb x np accumulators (nb output blocks by np positions of a
// row): for every tap and input channel, nb filter vectors are loaded once
// and np input values broadcast, nb x np fused multiply-adds. The first call
// of a sum starts from the bias, later ones from the partial sums in y; the
// last one adds the residual and applies Relu or Clip before storing.
#pragma once
#include <cstddef>
#include <cstdint>

#include "kernels/simd/conv_nchwc.h"

namespace pionnx {
namespace simd {
namespace nchwc_detail {

// A finished output vector: + the residual z (when given), then Relu or Clip.
template <class V>
PIONNX_NCHWC_TARGET inline typename V::vec finish(const NchwcAct& act, typename V::vec v, const float* z) {
  if (z) v = V::add(v, V::load(z));
  if (act.kind == NchwcAct::Relu) v = V::max(v, V::zero());
  else if (act.kind == NchwcAct::Clip) v = V::min(V::max(v, V::set1(act.lo)), V::set1(act.hi));
  return v;
}

// The tile's sums to y: partial, or (the last call) finished.
template <class V, int NB, int NP>
PIONNX_NCHWC_TARGET inline void store_tile(const NchwcRowArgs& a, const typename V::vec (*acc)[NP], float* y,
                                           const float* z) {
  constexpr int L = V::kLanes;
  _Pragma("GCC unroll 8") for (int j = 0; j < NB; ++j) {
    _Pragma("GCC unroll 16") for (int p = 0; p < NP; ++p) {
      const typename V::vec v = acc[j][p];
      V::store(y + j * a.y_ob + p * L, a.last ? finish<V>(a.act, v, z ? z + j * a.y_ob + p * L : nullptr) : v);
    }
  }
}

// Lane form (V::kLaneMadd, NEON): a blocked input's L channels at a position are one vector load, and input
// channel `Lane` multiplies by that vector's lane (fmla by element): NP loads for L x NB x NP multiply-adds
// instead of one replicated load per position and channel. The filter vectors of channels Lane.. in turn.
template <class V, int NB, int NP, int Lane>
PIONNX_NCHWC_TARGET inline void lane_madds(const float* wt, const typename V::vec* xv, typename V::vec (*acc)[NP]) {
  using vec = typename V::vec;
  constexpr int L = V::kLanes;
  vec wv[NB];
  _Pragma("GCC unroll 8") for (int j = 0; j < NB; ++j) wv[j] = V::load(wt + (Lane * NB + j) * L);
  _Pragma("GCC unroll 16") for (int p = 0; p < NP; ++p) {
    _Pragma("GCC unroll 8") for (int j = 0; j < NB; ++j) {
      acc[j][p] = V::template fmadd_lane<Lane>(wv[j], xv[p], acc[j][p]);
    }
  }
  if constexpr (Lane + 1 < L) lane_madds<V, NB, NP, Lane + 1>(wt, xv, acc);
}

// Strided: the tile's NP windows are x_pos apart (one output row), xs[0] the first; else xs lists the NP
// windows (a tile across a row end). The strided form keeps its pointer arithmetic in registers: the listed one
// alone cost 1x1 convolutions 5 % (64 -> 256 on 56x56, 1024 -> 256 on 14x14, AMD EPYC Zen 4, 1 thread).
template <class V, int NB, int NP, bool Strided>
PIONNX_NCHWC_TARGET inline void tile(const NchwcRowArgs& a, const float* const* xs, float* y, const float* z) {
  using vec = typename V::vec;
  constexpr int L = V::kLanes;
  // Every loop over the tile fully unrolled, so the accumulators are registers (GCC 12 for aarch64 left the
  // final loop rolled and kept acc in memory, storing all of it on every multiply-add step).
  vec acc[NB][NP];
  _Pragma("GCC unroll 8") for (int j = 0; j < NB; ++j) {
    const vec init = !a.first ? V::zero() : a.bias ? V::load(a.bias + j * L) : V::zero();
    _Pragma("GCC unroll 16") for (int p = 0; p < NP; ++p) acc[j][p] = a.first ? init : V::load(y + j * a.y_ob + p * L);
  }
  const float* w = a.w;
  // The inner loop steps through a block's input channels, or, for an NCHW input (one channel a "block": a
  // first layer), through the kernel's columns, whose filter vectors are as far apart: a loop of one step per
  // tap set up its six input pointers for every tap (ResNet-50's 7x7 first layer, 1842 against onnxruntime's
  // 1308 us).
  const bool columns = a.icb == 1;
  // The innermost loop's counts and strides as pointer-sized integers (the same as int64_t on 64-bit targets;
  // on armv7, int64_t counters cost two instructions a step).
  const ptrdiff_t steps = columns ? a.kw : a.icb, x_step = columns ? a.x_kw : 1;
  const int64_t kws = columns ? 1 : a.kw;
  const float* x[NP];
  for (int p = 0; p < NP; ++p) x[p] = Strided ? xs[0] : xs[p];
  if constexpr (V::kLaneMadd) {
    // Taps outside, input blocks inside: the innermost loop steps two pointers (the filter, the input) and
    // holds NP input vectors and NB filter vectors beside the accumulators.
    if (!columns) {  // icb == L
      for (int64_t kh = 0; kh < a.kh; ++kh)
        for (int64_t kw = 0; kw < a.kw; ++kw) {
          const float* xt[NP];
          for (int p = 0; p < NP; ++p)
            xt[p] = x[Strided ? 0 : p] + kh * a.x_kh + kw * a.x_kw + (Strided ? p * a.x_pos : 0);
          const float* wt = w + (kh * a.kw + kw) * L * NB * L;
          const ptrdiff_t x_cb = a.x_cb, w_cb = a.w_cb, ncb = a.ncb;
          _Pragma("GCC unroll 1") for (ptrdiff_t cb = 0; cb < ncb; ++cb) {
            vec xv[NP];
            _Pragma("GCC unroll 16") for (int p = 0; p < NP; ++p) xv[p] = V::load(xt[p] + cb * x_cb);
            lane_madds<V, NB, NP, 0>(wt + cb * w_cb, xv, acc);
          }
        }
      return store_tile<V, NB, NP>(a, acc, y, z);
    }
  }
  for (int64_t cb = 0; cb < a.ncb; ++cb, w += a.w_cb) {
    for (int64_t kh = 0; kh < a.kh; ++kh) {
      for (int64_t kw = 0; kw < kws; ++kw) {
        const float* xt[NP];
        for (int p = 0; p < NP; ++p)
          xt[p] = x[Strided ? 0 : p] + kh * a.x_kh + kw * a.x_kw + (Strided ? p * a.x_pos : 0);
        const float* wt = w + (kh * a.kw + kw) * a.icb * NB * L;
        // Not unrolled: GCC interleaved the AVX2 path's unrolled iterations past its 16 registers
        // (filter vectors re-read by every multiply-add, register moves), 73-79 GFLOPS on 1x1s against 87-90.
        _Pragma("GCC unroll 1") for (ptrdiff_t ic = 0; ic < steps; ++ic) {
          vec wv[NB];
          _Pragma("GCC unroll 8") for (int j = 0; j < NB; ++j) wv[j] = V::load(wt + (ic * NB + j) * L);
          _Pragma("GCC unroll 16") for (int p = 0; p < NP; ++p) {
            const vec xv = V::broadcast(xt[p] + ic * x_step);
            _Pragma("GCC unroll 8") for (int j = 0; j < NB; ++j) acc[j][p] = V::fmadd(wv[j], xv, acc[j][p]);
          }
        }
      }
    }
    for (int p = 0; p < (Strided ? 1 : NP); ++p) x[p] += a.x_cb;
  }
  store_tile<V, NB, NP>(a, acc, y, z);
}

// The windows of a run's outputs in turn, across row ends.
struct Windows {
  const float* row;  // the window of the current output row's column 0
  int64_t col;
  const float* at(const NchwcRowArgs& a) const { return row + col * a.x_pos; }
  // n outputs on, at most to the end of the current row.
  void advance(const NchwcRowArgs& a, int64_t n) {
    col += n;
    if (col == a.ow_n) {
      col = 0;
      row += a.x_row;
    }
  }
  const float* next(const NchwcRowArgs& a) {
    const float* p = at(a);
    advance(a, 1);
    return p;
  }
};

// Positions a tile of NB output blocks holds: kPositions at kBlocks, more where fewer blocks leave
// accumulators free (as many as kBlocks x kPositions, at most kMaxPositions): a 32-channel output at blocks of
// 16 (MobileNetV2's projections, SqueezeNet's squeezes) was a tile of 2 x 6, 2 filter loads and 6 broadcasts
// for 12 multiply-adds, where 2 x 12 does 24.
template <class V, int NB>
constexpr int positions() {
  return V::kBlocks * V::kPositions / NB < V::kMaxPositions ? V::kBlocks * V::kPositions / NB : V::kMaxPositions;
}

// The run for a fixed number of output blocks: full tiles of positions<V, NB>(),
// then one tile of the rest.
template <class V, int NB, int NP>
PIONNX_NCHWC_TARGET inline void tail(const NchwcRowArgs& a, Windows& win, int64_t i, int64_t rest) {
  constexpr int L = V::kLanes;
  if constexpr (NP > 1) {
    if (rest < NP) return tail<V, NB, NP - 1>(a, win, i, rest);
  }
  const float* xs[NP];
  for (int p = 0; p < NP; ++p) xs[p] = win.next(a);
  tile<V, NB, NP, false>(a, xs, a.y + i * L, a.z ? a.z + i * L : nullptr);
}

template <class V, int NB>
PIONNX_NCHWC_TARGET inline void row_blocks(const NchwcRowArgs& a) {
  constexpr int L = V::kLanes, NP = positions<V, NB>();
  Windows win{a.x, a.ow0};
  int64_t i = 0;
  for (; i + NP <= a.count; i += NP) {
    float* y = a.y + i * L;
    const float* z = a.z ? a.z + i * L : nullptr;
    const float* xs[NP];
    if (win.col + NP <= a.ow_n) {
      xs[0] = win.at(a);
      win.advance(a, NP);
      tile<V, NB, NP, true>(a, xs, y, z);
    } else {
      for (int p = 0; p < NP; ++p) xs[p] = win.next(a);
      tile<V, NB, NP, false>(a, xs, y, z);
    }
  }
  if (i < a.count) tail<V, NB, NP - 1>(a, win, i, a.count - i);
}

template <class V, int NB>
PIONNX_NCHWC_TARGET inline void row_dispatch(const NchwcRowArgs& a) {
  if constexpr (NB > 1) {
    if (a.nob < NB) return row_dispatch<V, NB - 1>(a);
  }
  row_blocks<V, NB>(a);
}

template <class V>
PIONNX_NCHWC_TARGET void row(const NchwcRowArgs& a) {
  row_dispatch<V, V::kBlocks>(a);
}

// Depthwise: NP positions of one block's row whose windows lie inside the input's columns, in NP accumulators;
// per tap one filter vector and NP input vectors, NP vector multiply-adds. `x` is at the first position's
// window's left column.
template <class V, int NP>
PIONNX_NCHWC_TARGET inline void dw_tile(const NchwcDepthwiseArgs& a, const float* x, float* y, const float* z) {
  using vec = typename V::vec;
  constexpr int L = V::kLanes;
  const int64_t pos = a.SW * L, col = a.DW * L;
  vec acc[NP];
  const vec init = a.bias ? V::load(a.bias) : V::zero();
  for (int p = 0; p < NP; ++p) acc[p] = init;
  for (int64_t kh = 0; kh < a.kh; ++kh) {
    const float* xr = x + kh * a.x_kh;
    const float* wr = a.w + kh * a.kw * L;
    for (int64_t kw = 0; kw < a.kw; ++kw) {
      const vec wv = V::load(wr + kw * L);
      const float* xt = xr + kw * col;
      _Pragma("GCC unroll 16") for (int p = 0; p < NP; ++p) acc[p] = V::fmadd(wv, V::load(xt + p * pos), acc[p]);
    }
  }
  for (int p = 0; p < NP; ++p) V::store(y + p * L, finish<V>(a.act, acc[p], z ? z + p * L : nullptr));
}

template <class V, int NP>
PIONNX_NCHWC_TARGET inline void dw_tail(const NchwcDepthwiseArgs& a, const float* x, float* y, const float* z,
                                        int64_t rest) {
  if constexpr (NP > 1) {
    if (rest < NP) return dw_tail<V, NP - 1>(a, x, y, z, rest);
  }
  dw_tile<V, NP>(a, x, y, z);
}

// One position whose window crosses the input's left or right edge: the taps inside only.
template <class V>
PIONNX_NCHWC_TARGET inline void dw_edge(const NchwcDepthwiseArgs& a, int64_t ow) {
  using vec = typename V::vec;
  constexpr int L = V::kLanes;
  vec acc = a.bias ? V::load(a.bias) : V::zero();
  const int64_t c0 = ow * a.SW - a.pad_left;
  for (int64_t kh = 0; kh < a.kh; ++kh)
    for (int64_t kw = 0; kw < a.kw; ++kw) {
      const int64_t c = c0 + kw * a.DW;
      if (c >= 0 && c < a.W)
        acc = V::fmadd(V::load(a.w + (kh * a.kw + kw) * L), V::load(a.x + kh * a.x_kh + c * L), acc);
    }
  V::store(a.y + ow * L, finish<V>(a.act, acc, a.z ? a.z + ow * L : nullptr));
}

template <class V>
PIONNX_NCHWC_TARGET void depthwise_row(const NchwcDepthwiseArgs& a) {
  constexpr int L = V::kLanes, NP = V::kDepthwisePositions;
  // Positions [lo, hi) have every kernel column inside the input.
  const int64_t span = (a.kw - 1) * a.DW;
  int64_t lo = (a.pad_left + a.SW - 1) / a.SW,
          hi = a.W - span + a.pad_left <= 0 ? 0 : (a.W - 1 - span + a.pad_left) / a.SW + 1;
  lo = lo < a.count ? lo : a.count;
  hi = hi < lo ? lo : hi < a.count ? hi : a.count;
  for (int64_t ow = 0; ow < lo; ++ow) dw_edge<V>(a, ow);
  int64_t i = lo;
  auto at = [&](int64_t ow) { return a.x + (ow * a.SW - a.pad_left) * L; };
  for (; i + NP <= hi; i += NP) dw_tile<V, NP>(a, at(i), a.y + i * L, a.z ? a.z + i * L : nullptr);
  if (i < hi) dw_tail<V, NP - 1>(a, at(i), a.y + i * L, a.z ? a.z + i * L : nullptr, hi - i);
  for (int64_t ow = hi; ow < a.count; ++ow) dw_edge<V>(a, ow);
}

// One block's b planes of HW floats ([b][HW]) into [HW][b] (In), or back: b positions at a time through the
// register transpose, the rest one by one.
template <class V, bool In>
PIONNX_NCHWC_TARGET void reorder(const float* src, int64_t HW, float* dst) {
  using vec = typename V::vec;
  constexpr int L = V::kLanes;
  auto planes = [HW](int64_t c, int64_t p) { return c * HW + p; };  // [b][HW]
  auto blocked = [](int64_t c, int64_t p) { return p * L + c; };    // [HW][b]
  int64_t p = 0;
  for (; p + L <= HW; p += L) {
    vec r[L];
    for (int i = 0; i < L; ++i) r[i] = V::load(src + (In ? planes(i, p) : blocked(0, p + i)));
    V::transpose(r);
    for (int i = 0; i < L; ++i) V::store(dst + (In ? blocked(0, p + i) : planes(i, p)), r[i]);
  }
  for (; p < HW; ++p)
    for (int c = 0; c < L; ++c) dst[In ? blocked(c, p) : planes(c, p)] = src[In ? planes(c, p) : blocked(c, p)];
}

// One pooled position, its window clipped to the input's columns (the edges, and the inner positions short of
// a group of four): input rows [hs, he) of output row oh, `rows` of them counted by an average.
template <class V, bool IsMax>
PIONNX_NCHWC_TARGET inline void pool_one(const NchwcPoolArgs& a, int64_t oh, int64_t ow, int64_t hs, int64_t he,
                                         int64_t rows) {
  using vec = typename V::vec;
  constexpr int L = V::kLanes;
  const int64_t w0 = ow * a.SW - a.pad_left;
  const int64_t ws = w0 < 0 ? 0 : w0, we = w0 + a.KW < a.W ? w0 + a.KW : a.W;
  vec acc = IsMax ? V::set1(-__builtin_inff()) : V::zero();
  for (int64_t h = hs; h < he; ++h) {
    const float* xr = a.x + (h * a.W + ws) * L;
    for (int64_t w = ws; w < we; ++w, xr += L) acc = IsMax ? V::max(acc, V::load(xr)) : V::add(acc, V::load(xr));
  }
  if (!IsMax) {
    const int64_t cols =
        a.count_include_pad ? (w0 + a.KW < a.W + a.pad_right ? w0 + a.KW : a.W + a.pad_right) - w0 : we - ws;
    const int64_t n = rows * cols;
    acc = n > 0 ? V::mul(acc, V::set1(1.f / static_cast<float>(n))) : V::zero();
  }
  V::store(a.y + (oh * a.OW + ow) * L, acc);
}

// Pools: one vector per position's block of channels; the window clipped to the input. Positions whose
// window lies inside the row's columns go four at a time, in four accumulators: one position's window is a
// chain of dependent max or add instructions (9 for 3x3), which one position alone leaves waiting on their
// latency (SqueezeNet's and Inception's pools ran at about half onnxruntime's speed).
template <class V, bool IsMax>
PIONNX_NCHWC_TARGET void pool(const NchwcPoolArgs& a) {
  using vec = typename V::vec;
  constexpr int L = V::kLanes, kQ = 4;
  // Outputs [lo, hi) have every window column inside the input.
  int64_t lo = (a.pad_left + a.SW - 1) / a.SW,
          hi = a.W - a.KW + a.pad_left < 0 ? 0 : (a.W - a.KW + a.pad_left) / a.SW + 1;
  lo = lo < a.OW ? lo : a.OW;
  hi = hi < lo ? lo : hi < a.OW ? hi : a.OW;
  for (int64_t oh = 0; oh < a.OH; ++oh) {
    const int64_t h0 = oh * a.SH - a.pad_top;
    const int64_t hs = h0 < 0 ? 0 : h0, he = h0 + a.KH < a.H ? h0 + a.KH : a.H;
    const int64_t rows =
        a.count_include_pad ? (h0 + a.KH < a.H + a.pad_bottom ? h0 + a.KH : a.H + a.pad_bottom) - h0 : he - hs;
    const vec scale = V::set1(rows * a.KW > 0 ? 1.f / static_cast<float>(rows * a.KW) : 0.f);
    for (int64_t ow = lo; ow + kQ <= hi; ow += kQ) {
      vec acc[kQ];
      for (int q = 0; q < kQ; ++q) acc[q] = IsMax ? V::set1(-__builtin_inff()) : V::zero();
      const float* x0 = a.x + (ow * a.SW - a.pad_left) * L;
      for (int64_t h = hs; h < he; ++h) {
        const float* xr = x0 + h * a.W * L;
        for (int64_t w = 0; w < a.KW; ++w, xr += L)
          for (int q = 0; q < kQ; ++q) {
            const vec v = V::load(xr + q * a.SW * L);
            acc[q] = IsMax ? V::max(acc[q], v) : V::add(acc[q], v);
          }
      }
      for (int q = 0; q < kQ; ++q) {
        vec r = acc[q];
        if (!IsMax) r = rows > 0 ? V::mul(r, scale) : V::zero();
        V::store(a.y + (oh * a.OW + ow + q) * L, r);
      }
    }
    for (int64_t ow = 0; ow < lo; ++ow) pool_one<V, IsMax>(a, oh, ow, hs, he, rows);
    for (int64_t ow = lo + (hi - lo) / kQ * kQ; ow < a.OW; ++ow) pool_one<V, IsMax>(a, oh, ow, hs, he, rows);
  }
}

template <class V, bool IsMax>
PIONNX_NCHWC_TARGET void global_pool(const float* x, int64_t HW, float* y) {
  using vec = typename V::vec;
  constexpr int L = V::kLanes;
  vec acc[4];
  for (int i = 0; i < 4; ++i) acc[i] = IsMax ? V::set1(-__builtin_inff()) : V::zero();
  int64_t p = 0;
  for (; p + 4 <= HW; p += 4)
    for (int i = 0; i < 4; ++i) {
      const vec v = V::load(x + (p + i) * L);
      acc[i] = IsMax ? V::max(acc[i], v) : V::add(acc[i], v);
    }
  for (; p < HW; ++p) acc[0] = IsMax ? V::max(acc[0], V::load(x + p * L)) : V::add(acc[0], V::load(x + p * L));
  vec r = IsMax ? V::max(V::max(acc[0], acc[1]), V::max(acc[2], acc[3]))
                : V::add(V::add(acc[0], acc[1]), V::add(acc[2], acc[3]));
  if (!IsMax) r = HW > 0 ? V::mul(r, V::set1(1.f / static_cast<float>(HW))) : V::zero();
  V::store(y, r);
}

// The family's table for the vector type V (each instruction set's file, after its CPU check).
template <class V>
NchwcKernel table() {
  NchwcKernel k;
  k.row = row<V>;
  k.depthwise = depthwise_row<V>;
  k.reorder_in = reorder<V, true>;
  k.reorder_out = reorder<V, false>;
  k.max_pool = pool<V, true>;
  k.avg_pool = pool<V, false>;
  k.global_max = global_pool<V, true>;
  k.global_avg = global_pool<V, false>;
  k.block = V::kLanes;
  k.max_blocks = V::kBlocks;
  k.sums_in_l2 = V::kSumsInL2;
  return k;
}

}  // namespace nchwc_detail
}  // namespace simd
}  // namespace pionnx
