// Max/Average/Lp pools over 1-3 spatial dims, their Global forms and
// MaxRoiPool. Windows are clipped to the input per dim, so padding never
// materialises. float16/bfloat16 compute in float32.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <type_traits>
#include <vector>

#include "core/checked.h"
#include "core/int_arith.h"
#include "kernels/base/cast.h"
#include "kernels/base/dtype_dispatch.h"
#include "kernels/base/kernel.h"
#include "kernels/base/shapes.h"
#include "kernels/nn/window.h"
#include "kernels/simd/conv_nchwc.h"
#include "kernels/simd/vec4.h"
#include "platform/thread_pool.h"

namespace pionnx {
namespace {

enum class PoolKind { Max, Avg, Lp };

bool is_half(DType t) { return t == DType::Float16 || t == DType::BFloat16; }

// Per spatial dim and output index: the tap range [klo, khi) landing inside
// the input, the first input index, and how many taps land inside the
// explicitly padded input (for count_include_pad).
struct DimTaps {
  std::vector<int64_t> start, klo, khi, npad;
  int64_t dilation = 1;
};

std::vector<DimTaps> make_taps(const WindowGeometry& g) {
  std::vector<DimTaps> taps(g.dims());
  for (size_t d = 0; d < g.dims(); ++d) {
    DimTaps& t = taps[d];
    const int64_t K = g.kernel[d], D = g.dilations[d], in = g.in[d];
    t.dilation = D;
    for (int64_t o = 0; o < g.out[d]; ++o) {
      const int64_t s = o * g.strides[d] - g.pad_begin[d];
      auto taps_below = [&](int64_t limit) {  // #k in [0, K) with s + k * D < limit
        return limit <= s ? 0 : std::min<int64_t>(K, ceil_div_nonneg(limit - s, D));
      };
      const int64_t lo = s >= 0 ? 0 : std::min<int64_t>(K, ceil_div_nonneg(-s, D));
      t.start.push_back(s);
      t.klo.push_back(lo);
      t.khi.push_back(std::max(lo, taps_below(in)));
      t.npad.push_back(taps_below(in + g.pad_end[d]));
    }
  }
  return taps;
}

// Pools one dtype. The geometry is promoted to 3 spatial dims (leading unit
// dims) so one loop nest serves 1-D, 2-D and 3-D.
template <typename T, typename Acc>
void pool_forward(ThreadPool& pool, PoolKind kind, const T* X, T* Y, int64_t* indices, int64_t planes,
                  const WindowGeometry& geo, bool count_include_pad, double p, bool col_major_indices) {
  WindowGeometry g = geo;
  while (g.dims() < 3) {
    for (auto* v : {&g.in, &g.kernel, &g.strides, &g.dilations, &g.out}) v->insert(v->begin(), 1);
    g.pad_begin.insert(g.pad_begin.begin(), 0);
    g.pad_end.insert(g.pad_end.begin(), 0);
  }
  const std::vector<DimTaps> t = make_taps(g);
  const int64_t ID = g.in[0], IH = g.in[1], IW = g.in[2];
  const int64_t OD = g.out[0], OH = g.out[1], OW = g.out[2];
  const int64_t in_size = ID * IH * IW, out_size = OD * OH * OW;
  const int64_t nd = static_cast<int64_t>(geo.dims());
  pool.parallel_for(planes, std::max<int64_t>(1, 16384 / std::max<int64_t>(1, out_size * g.kernel_size())),
                    [&](int64_t b, int64_t e) {
                      for (int64_t c = b; c < e; ++c) {
                        const T* x = X + c * in_size;
                        T* y = Y + c * out_size;
                        for (int64_t od = 0; od < OD; ++od)
                          for (int64_t oh = 0; oh < OH; ++oh)
                            for (int64_t ow = 0; ow < OW; ++ow) {
                              const int64_t o = (od * OH + oh) * OW + ow;
                              Acc acc = kind == PoolKind::Max ? std::numeric_limits<Acc>::lowest() : Acc(0);
                              int64_t best = -1;
                              for (int64_t kd = t[0].klo[od]; kd < t[0].khi[od]; ++kd) {
                                const int64_t id = t[0].start[od] + kd * t[0].dilation;
                                for (int64_t kh = t[1].klo[oh]; kh < t[1].khi[oh]; ++kh) {
                                  const int64_t ih = t[1].start[oh] + kh * t[1].dilation;
                                  const T* row = x + (id * IH + ih) * IW;
                                  for (int64_t kw = t[2].klo[ow]; kw < t[2].khi[ow]; ++kw) {
                                    const int64_t iw = t[2].start[ow] + kw * t[2].dilation;
                                    const Acc v = static_cast<Acc>(row[iw]);
                                    if (kind == PoolKind::Max) {
                                      if (best < 0 || v > acc) {
                                        acc = v;
                                        best = (id * IH + ih) * IW + iw;
                                      }
                                    } else if (kind == PoolKind::Avg) {
                                      acc += v;
                                    } else {
                                      acc += static_cast<Acc>(std::pow(std::abs(static_cast<double>(v)), p));
                                    }
                                  }
                                }
                              }
                              if (kind == PoolKind::Max) {
                                // A window all in padding keeps the accumulator's lowest value: for an integer
                                // output that is the type's own lowest (the float one does not fit it).
                                if constexpr (std::is_integral_v<T>)
                                  y[o] = best < 0 ? std::numeric_limits<T>::lowest() : static_cast<T>(acc);
                                else y[o] = static_cast<T>(acc);
                                if (indices) {
                                  int64_t idx = best;
                                  if (col_major_indices && best >= 0) {
                                    // Spatial coordinates of `best`, re-flattened first-dim-fastest.
                                    const int64_t pos[3] = {best / (IH * IW), best / IW % IH, best % IW};
                                    const int64_t dims[3] = {ID, IH, IW};
                                    idx = 0;
                                    for (int64_t d = 2; d >= 3 - nd; --d) idx = idx * dims[d] + pos[d];
                                  }
                                  indices[c * out_size + o] = best < 0 ? -1 : c * in_size + idx;
                                }
                              } else if (kind == PoolKind::Avg) {
                                const int64_t n = count_include_pad
                                                      ? t[0].npad[od] * t[1].npad[oh] * t[2].npad[ow]
                                                      : (t[0].khi[od] - t[0].klo[od]) * (t[1].khi[oh] - t[1].klo[oh]) *
                                                            (t[2].khi[ow] - t[2].klo[ow]);
                                y[o] = n > 0 ? static_cast<T>(acc / static_cast<Acc>(n)) : T(0);
                              } else {
                                y[o] = static_cast<T>(std::pow(static_cast<double>(acc), 1.0 / p));
                              }
                            }
                      }
                    });
}

using simd::load4;
using simd::shuffle4;
using simd::store4;
using simd::v4f;
using simd::v4i;
// (a < b) ? b : a lanewise: std::max(a, b), NaN rule included.
inline v4f max4(v4f a, v4f b) {
  const v4i m = a < b;
  return reinterpret_cast<v4f>((m & reinterpret_cast<v4i>(b)) | (~m & reinterpret_cast<v4i>(a)));
}

// The 2-D fast path's element: one value (T) or, for pool2d_planes4, four
// planes' values at one position (v4f); Scalar is what a divisor is.
template <typename T>
inline T pool_max(T a, T b) {
  return std::max(a, b);
}
inline v4f pool_max(v4f a, v4f b) { return max4(a, b); }
template <typename T>
struct PoolScalar {
  using type = T;
};
template <>
struct PoolScalar<v4f> {
  using type = float;
};

// pool_row_windows for 3-wide float windows at stride 1 or 2, four outputs
// per step (the windows' columns de-interleaved by shuffles at stride 2; a
// step reads v up to one float past its last window). The same operations
// in the same order as the scalar loop. Returns the outputs done.
template <bool IsMax, int SW>
int64_t row_windows3(const float* v, float* y, int64_t n, float inv) {
  int64_t o = 0;
  for (; o + 4 <= n; o += 4) {
    const float* p = v + o * SW;
    v4f a, b, c;
    if (SW == 1) {
      a = load4(p), b = load4(p + 1), c = load4(p + 2);
    } else {
      const v4f lo = load4(p), hi = load4(p + 4), lo2 = load4(p + 2), hi2 = load4(p + 6);
      a = shuffle4<0, 2, 4, 6>(lo, hi);
      b = shuffle4<1, 3, 5, 7>(lo, hi);
      c = shuffle4<0, 2, 4, 6>(lo2, hi2);
    }
    store4(y + o, IsMax ? max4(max4(a, b), c) : (a + b + c) * inv);
  }
  return o;
}

// Reduces the kw columns of each inside window from `v`, the window rows
// already reduced column by column: y[o] = op(v[o * SW], ..., v[o * SW + kw - 1]).
// SW is the stride when it is 1 or 2 (so the loop vectorizes), else 0 and sw
// is read.
template <typename T, bool IsMax, int KW, int SW>
void pool_row_windows(const T* v, T* y, int64_t n, int64_t kw_rt, int64_t sw_rt, typename PoolScalar<T>::type inv) {
  const int64_t kw = KW ? KW : kw_rt, sw = SW ? SW : sw_rt;
  int64_t start = 0;
  if constexpr (std::is_same<T, float>::value && KW == 3 && (SW == 1 || SW == 2))
    start = row_windows3<IsMax, SW>(v, y, n, inv);
  for (int64_t o = start; o < n; ++o) {
    const T* win = v + o * sw;
    T acc = win[0];
    for (int64_t j = 1; j < kw; ++j) acc = IsMax ? pool_max(acc, win[j]) : acc + win[j];
    y[o] = IsMax ? acc : acc * inv;
  }
}

// Fast path for the CNN case: 1-D/2-D Max (without Indices) or Average
// pooling, no dilation. Each output row takes two passes: the window's input
// rows (clipped to the input) reduced column by column over the columns the
// row's windows touch (contiguous: it vectorizes), then each window's kw
// columns of that (unrolled for the common 2x2 and 3x3 kernels and strides 1
// and 2). Windows clipped at the left or right reduce only their columns
// inside the input; averages count taps as pool_forward does. `v` is scratch
// for one input row.
template <typename T, bool IsMax, int KH, int KW>
void pool2d_plane(const T* x, T* y, const WindowGeometry& g, bool count_include_pad, T* v) {
  using S = typename PoolScalar<T>::type;
  const int64_t H = g.in[0], W = g.in[1], OH = g.out[0], OW = g.out[1];
  const int64_t kh = KH ? KH : g.kernel[0], kw = KW ? KW : g.kernel[1];
  const int64_t sh = g.strides[0], sw = g.strides[1], ph = g.pad_begin[0], pw = g.pad_begin[1];
  int64_t ow_lo, ow_hi;  // output columns whose window is inside the input's width
  valid_range(-pw, sw, W - kw + 1, OW, &ow_lo, &ow_hi);
  for (int64_t oh = 0; oh < OH; ++oh) {
    T* yr = y + oh * OW;
    const int64_t h0 = oh * sh - ph;
    const int64_t hs = std::max<int64_t>(h0, 0), he = std::min(h0 + kh, H);
    // The columns [0, c1) some window of the row touches.
    const int64_t c1 = std::min(W, (OW - 1) * sw - pw + kw);
    if (hs >= he || c1 <= 0) {  // every window of the row lies in padding
      std::fill(yr, yr + OW, T{});
      continue;
    }
    // v[c]: the window rows [hs, he) of column c, reduced (three rows in one pass).
    if (he - hs == 3) {
      const T *r0 = x + hs * W, *r1 = r0 + W, *r2 = r1 + W;
      for (int64_t c = 0; c < c1; ++c) v[c] = IsMax ? pool_max(pool_max(r0[c], r1[c]), r2[c]) : (r0[c] + r1[c]) + r2[c];
    } else {
      std::copy(x + hs * W, x + hs * W + c1, v);
      for (int64_t h = hs + 1; h < he; ++h) {
        const T* r = x + h * W;
        for (int64_t c = 0; c < c1; ++c) v[c] = IsMax ? pool_max(v[c], r[c]) : v[c] + r[c];
      }
    }
    // Rows an average counts: those inside, or with count_include_pad those inside the padded input.
    const int64_t rows = count_include_pad ? std::min(h0 + kh, H + g.pad_end[0]) - h0 : he - hs;
    auto edge = [&](int64_t ow) {  // a window clipped at the left or right
      const int64_t w0 = ow * sw - pw;
      const int64_t ws = std::max<int64_t>(w0, 0), we = std::min(w0 + kw, W);
      if (ws >= we) return T{};
      T acc = v[ws];
      for (int64_t c = ws + 1; c < we; ++c) acc = IsMax ? pool_max(acc, v[c]) : acc + v[c];
      if (IsMax) return acc;
      const int64_t cols = count_include_pad ? std::min(w0 + kw, W + g.pad_end[1]) - w0 : we - ws;
      return acc / static_cast<S>(rows * cols);
    };
    for (int64_t ow = 0; ow < ow_lo; ++ow) yr[ow] = edge(ow);
    if (ow_lo < ow_hi) {
      const T* vr = v + (ow_lo * sw - pw);  // the first inside window (>= 0)
      const S inv = S(1) / static_cast<S>(rows * kw);
      const int64_t n = ow_hi - ow_lo;
      if (sw == 1) pool_row_windows<T, IsMax, KW, 1>(vr, yr + ow_lo, n, kw, sw, inv);
      else if (sw == 2) pool_row_windows<T, IsMax, KW, 2>(vr, yr + ow_lo, n, kw, sw, inv);
      else pool_row_windows<T, IsMax, KW, 0>(vr, yr + ow_lo, n, kw, sw, inv);
    }
    for (int64_t ow = std::max(ow_lo, ow_hi); ow < OW; ++ow) yr[ow] = edge(ow);
  }
}

// Four planes at once, for maps whose rows are too short for pool2d_plane's
// vector loops to pay (7x7, 14x14: a row's set-up and its clipped edge
// windows cost more than its inside windows). The planes are interleaved,
// one vector of four channels per position, pooled by pool2d_plane itself
// on those vectors (so the results are the same bits, the sign of a NaN
// aside, as the compilers may swap an add's operands), and split again.
// t: in_size vectors, v: W, yt: out_size.
template <bool IsMax, int KH, int KW>
void pool2d_planes4(const float* x, float* y, const WindowGeometry& g, bool count_include_pad, v4f* t, v4f* v,
                    v4f* yt) {
  const int64_t in_size = g.in_size(), out_size = g.out_size();
  int64_t p = 0;
  for (; p + 4 <= in_size; p += 4) {
    v4f a = load4(x + p), b = load4(x + in_size + p), c = load4(x + 2 * in_size + p), d = load4(x + 3 * in_size + p);
    simd::transpose4(a, b, c, d);
    t[p] = a, t[p + 1] = b, t[p + 2] = c, t[p + 3] = d;
  }
  for (; p < in_size; ++p) t[p] = v4f{x[p], x[in_size + p], x[2 * in_size + p], x[3 * in_size + p]};
  pool2d_plane<v4f, IsMax, KH, KW>(t, yt, g, count_include_pad, v);
  int64_t q = 0;
  for (; q + 4 <= out_size; q += 4) {
    v4f a = yt[q], b = yt[q + 1], c = yt[q + 2], d = yt[q + 3];
    simd::transpose4(a, b, c, d);
    store4(y + q, a), store4(y + out_size + q, b), store4(y + 2 * out_size + q, c), store4(y + 3 * out_size + q, d);
  }
  for (; q < out_size; ++q)
    for (int l = 0; l < 4; ++l) y[l * out_size + q] = yt[q][l];
}

// Maps at most this wide take the four-plane path (wider rows keep
// pool2d_plane's vector loops busy enough). 1 thread, the Xeon: MaxPool
// 1024 x 7x7 (3x3, stride 1) 135 -> 51 us, AveragePool 576 x 14x14 130 -> 74,
// MaxPool 832 x 14x14 (stride 2) 105 -> 63; there 28-wide maps were 10-15 %
// slower interleaved, and the bound was 16. On the EPYC Zen 4 of
// docs/measurements.md's twenty-fifth stop they are faster: AveragePool
// 192 x 28x28 (3x3, stride 1) 117 -> 80 us (1.55 -> 1.06x onnxruntime),
// inception_v1's MaxPools 1.32 -> 1.08 ms; the bound is 32 since.
constexpr int64_t kPlanes4MaxWidth = 32;

// One kernel size's instantiations: the four-plane path for narrow float
// maps (the planes left over one at a time), else plane by plane.
template <typename T, bool IsMax, int KH, int KW>
void pool2d_fast_k(ThreadPool& pool, const T* X, T* Y, int64_t planes, const WindowGeometry& g,
                   bool count_include_pad) {
  const int64_t in_size = g.in_size(), out_size = g.out_size();
  const int64_t grain = std::max<int64_t>(1, 16384 / std::max<int64_t>(1, out_size * g.kernel_size()));
  int64_t first = 0;  // the planes before it are done
  if constexpr (std::is_same<T, float>::value) {
    if (g.in[1] <= kPlanes4MaxWidth && planes >= 4) {
      const int64_t groups = planes / 4;
      pool.parallel_for(groups, std::max<int64_t>(1, grain / 4), [&](int64_t b, int64_t e) {
        std::vector<v4f> scratch(static_cast<size_t>(in_size + g.in[1] + out_size));
        for (int64_t q = b; q < e; ++q)
          pool2d_planes4<IsMax, KH, KW>(X + 4 * q * in_size, Y + 4 * q * out_size, g, count_include_pad, scratch.data(),
                                        scratch.data() + in_size, scratch.data() + in_size + g.in[1]);
      });
      first = groups * 4;
    }
  }
  pool.parallel_for(planes - first, grain, [&](int64_t b, int64_t e) {
    std::vector<T> row(static_cast<size_t>(g.in[1] + 8));  // + the vector steps' over-read
    for (int64_t c = first + b; c < first + e; ++c)
      pool2d_plane<T, IsMax, KH, KW>(X + c * in_size, Y + c * out_size, g, count_include_pad, row.data());
  });
}

template <typename T, bool IsMax>
void pool2d_fast(ThreadPool& pool, const T* X, T* Y, int64_t planes, const WindowGeometry& g, bool count_include_pad) {
  if (g.kernel[0] == 3 && g.kernel[1] == 3)
    return pool2d_fast_k<T, IsMax, 3, 3>(pool, X, Y, planes, g, count_include_pad);
  if (g.kernel[0] == 2 && g.kernel[1] == 2)
    return pool2d_fast_k<T, IsMax, 2, 2>(pool, X, Y, planes, g, count_include_pad);
  pool2d_fast_k<T, IsMax, 0, 0>(pool, X, Y, planes, g, count_include_pad);
}

// Global pools: one reduction per (n, c) plane. Sums and maxima run in
// kLanes independent partial results (the compiler makes vectors of them; a
// single running float sum is a chain of dependent adds, 3-4 cycles each:
// 1000 planes of 13x13 took 134 us, ResNet-50's 2048 of 7x7 the same), then
// combined in lane order. The max keeps the serial loop's NaN rule: a NaN
// counts only in the first element (there it wins, elsewhere "x > m" is
// false), and a lane's first element is where a lane starts.
constexpr int64_t kLanes = 16;

template <typename T>
T plane_sum(const T* x, int64_t size) {
  T acc[kLanes] = {};
  int64_t i = 0;
  for (; i + kLanes <= size; i += kLanes)
    for (int64_t l = 0; l < kLanes; ++l) acc[l] += x[i + l];
  T s = 0;
  for (int64_t l = 0; l < kLanes; ++l) s += acc[l];
  for (; i < size; ++i) s += x[i];
  return s;
}

template <typename T>
T plane_max(const T* x, int64_t size) {
  if (size < 2 * kLanes) {
    T m = size > 0 ? x[0] : T(0);
    for (int64_t i = 1; i < size; ++i) m = x[i] > m ? x[i] : m;
    return m;
  }
  T acc[kLanes];
  for (int64_t l = 0; l < kLanes; ++l) acc[l] = x[l];
  int64_t i = kLanes;
  for (; i + kLanes <= size; i += kLanes)
    for (int64_t l = 0; l < kLanes; ++l) acc[l] = x[i + l] > acc[l] ? x[i + l] : acc[l];
  T m = acc[0];
  for (int64_t l = 1; l < kLanes; ++l) m = acc[l] > m ? acc[l] : m;
  for (; i < size; ++i) m = x[i] > m ? x[i] : m;
  return m;
}

template <typename T>
void global_pool(ThreadPool& pool, PoolKind kind, const T* X, T* Y, int64_t planes, int64_t size, double p) {
  pool.parallel_for(planes, std::max<int64_t>(1, 16384 / std::max<int64_t>(1, size)), [&](int64_t b, int64_t e) {
    for (int64_t c = b; c < e; ++c) {
      const T* x = X + c * size;
      if (kind == PoolKind::Max) {
        Y[c] = plane_max(x, size);
      } else if (kind == PoolKind::Avg) {
        Y[c] = size > 0 ? plane_sum(x, size) / static_cast<T>(size) : T(0);
      } else {
        double s = 0;
        for (int64_t i = 0; i < size; ++i) s += std::pow(std::abs(static_cast<double>(x[i])), p);
        Y[c] = static_cast<T>(std::pow(s, 1.0 / p));
      }
    }
  });
}

// A window over the whole input, no pads, no dilation (ResNet-50's 7x7
// AveragePool on 7x7 maps): one output per plane, a global pool.
bool whole_input_window(const WindowGeometry& g) {
  for (size_t d = 0; d < g.dims(); ++d)
    if (g.kernel[d] != g.in[d] || g.out[d] != 1 || g.pad_begin[d] != 0 || g.pad_end[d] != 0 || g.dilations[d] != 1)
      return false;
  return true;
}

class PoolKernel : public Kernel {
 public:
  PoolKernel(const KernelInfo& info, PoolKind kind) : kind_(kind), attrs_(WindowAttrs::from_node(info.node)) {
    const Node& n = info.node;
    PIONNX_ENFORCE(!attrs_.kernel_shape.empty(), InvalidGraph, n.describe(), ": kernel_shape is required");
    count_include_pad_ = n.attr_i("count_include_pad", 0) != 0;
    col_major_ = n.attr_i("storage_order", 0) == 1;
    // LpPool-1 has a float p, later versions an int one.
    const Attribute* pa = n.find("p");
    p_ = !pa ? 2.0 : pa->type == Attribute::Type::Float ? pa->f : static_cast<double>(pa->i);
  }

  void compute(KernelContext& ctx) const override {
    const std::string what = ctx.node().describe();
    const Tensor& x = ctx.input(0);
    PIONNX_ENFORCE(x.rank() >= 3 && x.rank() <= 5, InvalidArgument, what, ": X must be [N, C, d1 (, d2 (, d3))], got ",
                   shape_str(x.shape()));
    const std::vector<int64_t> in(x.shape().begin() + 2, x.shape().end());
    const WindowGeometry g = resolve_window(attrs_, in, attrs_.kernel_shape, what);
    Shape out{x.dim(0), x.dim(1)};
    out.insert(out.end(), g.out.begin(), g.out.end());
    int64_t* indices = nullptr;
    if (kind_ == PoolKind::Max && ctx.wants_output(1)) indices = ctx.output(1, DType::Int64, out).data<int64_t>();
    const int64_t planes = x.dim(0) * x.dim(1);

    if (is_half(x.dtype())) {
      const Tensor x32 = to_float32(x);
      Tensor y(DType::Float, out);
      pool_forward<float, float>(ctx.pool(), kind_, x32.data<float>(), y.data<float>(), indices, planes, g,
                                 count_include_pad_, p_, col_major_);
      ctx.set_output(0, cast_tensor(y, x.dtype()));
      return;
    }
    Tensor& y = ctx.output(0, x.dtype(), out);
    const WindowGeometry g2 = promote_1d(g);
    const bool fast = g2.dims() == 2 && g2.dilations[0] == 1 && g2.dilations[1] == 1 &&
                      (kind_ == PoolKind::Avg || (kind_ == PoolKind::Max && !indices));
    const bool whole = whole_input_window(g) && (kind_ == PoolKind::Avg || (kind_ == PoolKind::Max && !indices));
    auto run = [&](auto tag) {
      using T = typename decltype(tag)::type;
      using Acc = typename std::conditional<std::is_same<T, double>::value, double, float>::type;
      if constexpr (std::is_floating_point<T>::value) {
        if (whole) return global_pool<T>(ctx.pool(), kind_, x.data<T>(), y.data<T>(), planes, g.in_size(), p_);
        if (fast && kind_ == PoolKind::Max)
          return pool2d_fast<T, true>(ctx.pool(), x.data<T>(), y.data<T>(), planes, g2, false);
        if (fast) return pool2d_fast<T, false>(ctx.pool(), x.data<T>(), y.data<T>(), planes, g2, count_include_pad_);
      }
      pool_forward<T, Acc>(ctx.pool(), kind_, x.data<T>(), y.data<T>(), indices, planes, g, count_include_pad_, p_,
                           col_major_);
    };
    switch (x.dtype()) {
      case DType::Float: return run(TypeTag<float>{});
      case DType::Double: return run(TypeTag<double>{});
      case DType::Int8:
        if (kind_ == PoolKind::Max) return run(TypeTag<int8_t>{});
        break;
      case DType::UInt8:
        if (kind_ == PoolKind::Max) return run(TypeTag<uint8_t>{});
        break;
      default: break;
    }
    throw NotImplemented(str_cat(what, ": dtype ", dtype_name(x.dtype()), " is not supported"));
  }

 private:
  PoolKind kind_;
  WindowAttrs attrs_;
  bool count_include_pad_ = false, col_major_ = false;
  double p_ = 2.0;
};

class GlobalPoolKernel : public Kernel {
 public:
  GlobalPoolKernel(const KernelInfo& info, PoolKind kind) : kind_(kind) {
    const Attribute* pa = info.node.find("p");
    p_ = !pa ? 2.0 : pa->type == Attribute::Type::Float ? pa->f : static_cast<double>(pa->i);
  }

  void compute(KernelContext& ctx) const override {
    const std::string what = ctx.node().describe();
    const Tensor& x = ctx.input(0);
    PIONNX_ENFORCE(x.rank() >= 2, InvalidArgument, what, ": X must be [N, C, ...], got ", shape_str(x.shape()));
    Shape out(x.rank(), 1);
    out[0] = x.dim(0);
    out[1] = x.dim(1);
    const int64_t planes = x.dim(0) * x.dim(1);
    const int64_t size = planes == 0 ? 0 : x.numel() / planes;
    if (is_half(x.dtype())) {
      const Tensor x32 = to_float32(x);
      Tensor y(DType::Float, out);
      global_pool<float>(ctx.pool(), kind_, x32.data<float>(), y.data<float>(), planes, size, p_);
      ctx.set_output(0, cast_tensor(y, x.dtype()));
      return;
    }
    Tensor& y = ctx.output(0, x.dtype(), out);
    dispatch_float(x.dtype(), what, [&](auto tag) {
      using T = typename decltype(tag)::type;
      global_pool<T>(ctx.pool(), kind_, x.data<T>(), y.data<T>(), planes, size, p_);
    });
  }

 private:
  PoolKind kind_;
  double p_ = 2.0;
};

// com.microsoft.nchwc MaxPool, AveragePool, GlobalMaxPool and GlobalAveragePool, which the layout pass
// (optimize/nchwc_layout.cc) writes for the 2-D pools between blocked convolutions: X and Y hold their channels
// in blocks (simd/conv_nchwc.h). Attributes as the ONNX pools' (no dilations, no Indices output).
class NchwcPoolKernel : public Kernel {
 public:
  NchwcPoolKernel(const KernelInfo& info, bool is_max, bool global)
      : is_max_(is_max), global_(global), attrs_(WindowAttrs::from_node(info.node)) {
    count_include_pad_ = info.node.attr_i("count_include_pad", 0) != 0;
    PIONNX_ENFORCE(global || attrs_.kernel_shape.size() == 2, InvalidGraph, info.node.describe(),
                   ": kernel_shape must have 2 values");
  }

  void compute(KernelContext& ctx) const override {
    const std::string what = ctx.node().describe();
    const Tensor& x = ctx.input(0);
    const int64_t blk = simd::nchwc_block();
    PIONNX_ENFORCE(x.dtype() == DType::Float && x.rank() == 4 && blk > 0 && x.dim(1) % blk == 0, InvalidArgument, what,
                   ": the NCHWc pool takes float32 [N, C, H, W] with C a multiple of ", blk, ", got ",
                   dtype_name(x.dtype()), " ", shape_str(x.shape()));
    if (global_) {
      Tensor& y = ctx.output(0, DType::Float, {x.dim(0), x.dim(1), 1, 1});
      simd::nchwc_global_pool(ctx.pool(), is_max_, x.dim(0), x.dim(1), x.dim(2) * x.dim(3), x.data<float>(),
                              y.data<float>());
      return;
    }
    const WindowGeometry g = resolve_window(attrs_, {x.dim(2), x.dim(3)}, attrs_.kernel_shape, what);
    PIONNX_ENFORCE(g.dilations[0] == 1 && g.dilations[1] == 1, InvalidArgument, what,
                   ": the NCHWc pool takes no dilations");
    Tensor& y = ctx.output(0, DType::Float, {x.dim(0), x.dim(1), g.out[0], g.out[1]});
    if (y.numel() == 0) return;
    simd::NchwcPoolArgs a{};
    a.H = x.dim(2);
    a.W = x.dim(3);
    a.OH = g.out[0];
    a.OW = g.out[1];
    a.KH = g.kernel[0];
    a.KW = g.kernel[1];
    a.SH = g.strides[0];
    a.SW = g.strides[1];
    a.pad_top = g.pad_begin[0];
    a.pad_left = g.pad_begin[1];
    a.pad_bottom = g.pad_end[0];
    a.pad_right = g.pad_end[1];
    a.count_include_pad = count_include_pad_;
    simd::nchwc_pool(ctx.pool(), is_max_, a, x.dim(0), x.dim(1), x.data<float>(), y.data<float>());
  }

 private:
  bool is_max_, global_;
  WindowAttrs attrs_;
  bool count_include_pad_ = false;
};

// MaxRoiPool (Caffe semantics): each region of interest [batch, x1, y1, x2,
// y2] (scaled, rounded) is split into pooled_shape bins, each max-pooled.
class MaxRoiPoolKernel : public Kernel {
 public:
  explicit MaxRoiPoolKernel(const KernelInfo& info)
      : pooled_(info.node.attr_ints("pooled_shape")), scale_(info.node.attr_f("spatial_scale", 1.f)) {
    PIONNX_ENFORCE(pooled_.size() == 2 && pooled_[0] > 0 && pooled_[1] > 0, InvalidGraph, info.node.describe(),
                   ": pooled_shape must be 2 positive values");
  }

  void compute(KernelContext& ctx) const override {
    const std::string what = ctx.node().describe();
    const Tensor& x = ctx.input(0);
    const Tensor& rois = ctx.input(1);
    PIONNX_ENFORCE(x.rank() == 4, InvalidArgument, what, ": X must be [N, C, H, W], got ", shape_str(x.shape()));
    PIONNX_ENFORCE(rois.rank() == 2 && rois.dim(1) == 5 && rois.dtype() == x.dtype(), InvalidArgument, what,
                   ": rois must be [num_rois, 5] of X's dtype, got ", shape_str(rois.shape()));
    const Tensor x32 = x.dtype() == DType::Float ? x : cast_tensor(x, DType::Float);
    const Tensor r32 = rois.dtype() == DType::Float ? rois : cast_tensor(rois, DType::Float);
    const int64_t C = x.dim(1), H = x.dim(2), W = x.dim(3), PH = pooled_[0], PW = pooled_[1];
    const int64_t R = rois.dim(0);
    Tensor y(DType::Float, {R, C, PH, PW});
    const float* X = x32.data<float>();
    const float* roi = r32.data<float>();
    float* Y = y.data<float>();
    for (int64_t r = 0; r < R; ++r) {
      const float* b = roi + r * 5;
      const int64_t n = clamp_to_int<int64_t>(b[0]);
      PIONNX_ENFORCE(n >= 0 && n < x.dim(0), InvalidArgument, what, ": roi ", r, " names batch ", n, " of ", x.dim(0));
      const int64_t x1 = clamp_to_int<int32_t>(std::round(b[1] * scale_)),
                    y1 = clamp_to_int<int32_t>(std::round(b[2] * scale_));
      const int64_t x2 = clamp_to_int<int32_t>(std::round(b[3] * scale_)),
                    y2 = clamp_to_int<int32_t>(std::round(b[4] * scale_));
      const float bin_h = static_cast<float>(std::max<int64_t>(y2 - y1 + 1, 1)) / PH;
      const float bin_w = static_cast<float>(std::max<int64_t>(x2 - x1 + 1, 1)) / PW;
      for (int64_t c = 0; c < C; ++c) {
        const float* plane = X + (n * C + c) * H * W;
        for (int64_t ph = 0; ph < PH; ++ph) {
          const int64_t h0 = std::clamp<int64_t>(clamp_to_int<int32_t>(std::floor(ph * bin_h)) + y1, 0, H);
          const int64_t h1 = std::clamp<int64_t>(clamp_to_int<int32_t>(std::ceil((ph + 1) * bin_h)) + y1, 0, H);
          for (int64_t pw = 0; pw < PW; ++pw) {
            const int64_t w0 = std::clamp<int64_t>(clamp_to_int<int32_t>(std::floor(pw * bin_w)) + x1, 0, W);
            const int64_t w1 = std::clamp<int64_t>(clamp_to_int<int32_t>(std::ceil((pw + 1) * bin_w)) + x1, 0, W);
            float m = -std::numeric_limits<float>::max();
            bool empty = true;
            for (int64_t h = h0; h < h1; ++h)
              for (int64_t w = w0; w < w1; ++w) {
                m = std::max(m, plane[h * W + w]);
                empty = false;
              }
            Y[((r * C + c) * PH + ph) * PW + pw] = empty ? 0.f : m;
          }
        }
      }
    }
    ctx.set_output(0, x.dtype() == DType::Float ? y : cast_tensor(y, x.dtype()));
  }

 private:
  std::vector<int64_t> pooled_;
  float scale_;
};

// MaxUnpool: scatters X into a zero tensor at the flat positions MaxPool's
// Indices gave. The output shape is the given output_shape, or what a
// MaxPool with these attributes would have pooled from.
class MaxUnpoolKernel : public Kernel {
 public:
  explicit MaxUnpoolKernel(const KernelInfo& info) : attrs_(WindowAttrs::from_node(info.node)) {
    PIONNX_ENFORCE(!attrs_.kernel_shape.empty(), InvalidGraph, info.node.describe(), ": kernel_shape is required");
  }

  void compute(KernelContext& ctx) const override {
    const std::string what = ctx.node().describe();
    const Tensor& x = ctx.input(0);
    const Tensor& ind = ctx.input(1);
    PIONNX_ENFORCE(x.rank() >= 3 && ind.shape() == x.shape(), InvalidArgument, what,
                   ": X must be [N, C, spatial...] and I the same shape, got ", shape_str(x.shape()), " and ",
                   shape_str(ind.shape()));
    const size_t nd = x.rank() - 2;
    PIONNX_ENFORCE(attrs_.kernel_shape.size() == nd && (attrs_.strides.empty() || attrs_.strides.size() == nd) &&
                       (attrs_.pads.empty() || attrs_.pads.size() == 2 * nd),
                   InvalidArgument, what, ": kernel_shape and strides must have ", nd, " values and pads ", 2 * nd,
                   " for an input with ", nd, " spatial dims");
    // Indices address the shape MaxPool would have pooled from; a larger
    // output_shape holds that block in its leading corner.
    Shape inferred{x.dim(0), x.dim(1)};
    for (size_t i = 0; i < nd; ++i) {
      const int64_t s = attrs_.strides.empty() ? 1 : attrs_.strides[i];
      const int64_t pads = attrs_.pads.empty() ? 0 : checked_add(attrs_.pads[i], attrs_.pads[i + nd], "MaxUnpool pads");
      const int64_t dim = checked_sub(
          checked_add(checked_mul(x.dim(2 + i) - 1, s, "MaxUnpool output"), attrs_.kernel_shape[i], "MaxUnpool output"),
          pads, "MaxUnpool output");
      PIONNX_ENFORCE(s > 0 && attrs_.kernel_shape[i] > 0 && dim >= 0, InvalidArgument, what,
                     ": strides and kernel_shape must be positive and the unpooled size not negative (dim ", i, ": ",
                     dim, ")");
      inferred.push_back(dim);
    }
    Shape out = inferred;
    if (const Tensor* os = ctx.optional_input(2)) {
      out = tensor_to_int64s(*os);
      PIONNX_ENFORCE(out.size() == x.rank(), InvalidArgument, what, ": output_shape must have ", x.rank(), " values");
      for (size_t d = 0; d < out.size(); ++d)
        PIONNX_ENFORCE(out[d] >= inferred[d], InvalidArgument, what, ": output_shape ", shape_str(out),
                       " is smaller than the unpooled shape ", shape_str(inferred));
    }
    const std::vector<int64_t> idx = tensor_to_int64s(ind);
    const std::vector<int64_t> in_str = strides_of(inferred), out_str = strides_of(out);
    const int64_t total = shape_numel(inferred);
    Tensor y = Tensor::zeros(x.dtype(), out);
    dispatch_by_size(x.dtype(), what, [&](auto tag) {
      using T = typename decltype(tag)::type;
      const T* X = static_cast<const T*>(x.raw());
      T* Y = static_cast<T*>(y.raw());
      for (size_t i = 0; i < idx.size(); ++i) {
        PIONNX_ENFORCE(idx[i] >= 0 && idx[i] < total, InvalidArgument, what, ": index ", idx[i],
                       " is outside the unpooled shape ", shape_str(inferred));
        int64_t flat = 0;
        for (size_t d = 0; d < inferred.size(); ++d) flat += idx[i] / in_str[d] % inferred[d] * out_str[d];
        Y[flat] = X[i];
      }
    });
    ctx.set_output(0, y);
  }

 private:
  WindowAttrs attrs_;
};

template <PoolKind K>
KernelFactory pool_factory() {
  return [](const KernelInfo& info) -> std::unique_ptr<Kernel> { return std::make_unique<PoolKernel>(info, K); };
}
template <PoolKind K>
KernelFactory global_factory() {
  return [](const KernelInfo& info) -> std::unique_ptr<Kernel> { return std::make_unique<GlobalPoolKernel>(info, K); };
}

}  // namespace

void register_pool(KernelRegistry& r) {
  r.add("", "MaxPool", pool_factory<PoolKind::Max>());
  r.add("", "AveragePool", pool_factory<PoolKind::Avg>());
  r.add("", "LpPool", pool_factory<PoolKind::Lp>());
  r.add("", "GlobalMaxPool", global_factory<PoolKind::Max>());
  r.add("", "GlobalAveragePool", global_factory<PoolKind::Avg>());
  r.add("", "GlobalLpPool", global_factory<PoolKind::Lp>());
  r.add<MaxRoiPoolKernel>("", "MaxRoiPool");
  r.add<MaxUnpoolKernel>("", "MaxUnpool");
  struct Blocked {
    const char* op;
    bool is_max, global;
  };
  for (const Blocked b : {Blocked{"MaxPool", true, false}, Blocked{"AveragePool", false, false},
                          Blocked{"GlobalMaxPool", true, true}, Blocked{"GlobalAveragePool", false, true}})
    r.add("com.microsoft.nchwc", b.op,
          [b](const KernelInfo& info) { return std::make_unique<NchwcPoolKernel>(info, b.is_max, b.global); });
}

}  // namespace pionnx
