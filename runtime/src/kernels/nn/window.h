// Sliding-window geometry shared by Conv, ConvTranspose and the pools:
// reading kernel_shape/strides/dilations/pads/auto_pad and resolving them
// against an input's spatial shape; the operand checks and the half-precision
// route Conv and ConvTranspose share.
#pragma once
#include <algorithm>
#include <cstdint>
#include <string>
#include <vector>

#include "core/checked.h"
#include "ir/graph.h"
#include "kernels/base/cast.h"
#include "kernels/base/kernel.h"
#include "pionnx/status.h"
#include "pionnx/tensor.h"
#include "platform/thread_pool.h"

namespace pionnx {

struct WindowAttrs {
  std::string auto_pad;  // NOTSET, SAME_UPPER, SAME_LOWER, VALID
  std::vector<int64_t> kernel_shape, strides, dilations, pads;
  bool ceil_mode = false;

  static WindowAttrs from_node(const Node& n) {
    WindowAttrs a;
    a.auto_pad = n.attr_s("auto_pad", "NOTSET");
    a.kernel_shape = n.attr_ints("kernel_shape");
    a.strides = n.attr_ints("strides");
    a.dilations = n.attr_ints("dilations");
    a.pads = n.attr_ints("pads");
    a.ceil_mode = n.attr_i("ceil_mode", 0) != 0;
    PIONNX_ENFORCE(
        a.auto_pad == "NOTSET" || a.auto_pad == "SAME_UPPER" || a.auto_pad == "SAME_LOWER" || a.auto_pad == "VALID",
        InvalidArgument, n.describe(), ": unknown auto_pad '", a.auto_pad, "'");
    return a;
  }
};

// Per spatial dim: input size, kernel, stride, dilation, pads and output size.
struct WindowGeometry {
  std::vector<int64_t> in, kernel, strides, dilations, pad_begin, pad_end, out;
  size_t dims() const { return in.size(); }
  int64_t in_size() const { return prod(in); }
  int64_t out_size() const { return prod(out); }
  int64_t kernel_size() const { return prod(kernel); }
  static int64_t prod(const std::vector<int64_t>& v) { return checked_product(v, "window size"); }
};

// A window's input, kernel, strides and dilations (1 where unset), their
// counts checked against the spatial rank, and the pads' count; the pads and
// the output are left for the caller (a Conv or pool, or ConvTranspose).
inline WindowGeometry window_start(const WindowAttrs& a, const std::vector<int64_t>& in,
                                   const std::vector<int64_t>& kernel, const std::string& what) {
  const size_t nd = in.size();
  WindowGeometry g;
  g.in = in;
  g.kernel = kernel;
  g.strides = a.strides.empty() ? std::vector<int64_t>(nd, 1) : a.strides;
  g.dilations = a.dilations.empty() ? std::vector<int64_t>(nd, 1) : a.dilations;
  PIONNX_ENFORCE(kernel.size() == nd && g.strides.size() == nd && g.dilations.size() == nd, InvalidArgument, what,
                 ": kernel_shape/strides/dilations must have ", nd, " values for an input with ", nd, " spatial dims");
  PIONNX_ENFORCE(a.pads.empty() || a.pads.size() == 2 * nd, InvalidArgument, what, ": pads has ", a.pads.size(),
                 " values, expected ", 2 * nd);
  return g;
}

// Resolves the window of a Conv or a pool over `in` (spatial dims only) with
// `kernel` (from the attribute or the weights). The output size follows the
// ONNX formulas: floor (or ceil with ceil_mode, the last window starting
// inside the padded input) of (in + pads - dilated kernel) / stride + 1, and
// ceil(in / stride) for SAME_*.
inline WindowGeometry resolve_window(const WindowAttrs& a, const std::vector<int64_t>& in,
                                     const std::vector<int64_t>& kernel, const std::string& what) {
  const size_t nd = in.size();
  WindowGeometry g = window_start(a, in, kernel, what);
  g.pad_begin.assign(nd, 0);
  g.pad_end.assign(nd, 0);
  g.out.assign(nd, 0);
  for (size_t i = 0; i < nd; ++i) {
    PIONNX_ENFORCE(g.strides[i] > 0 && g.dilations[i] > 0 && kernel[i] > 0, InvalidArgument, what,
                   ": kernel_shape, strides and dilations must be positive");
    // Every size below comes from attributes or feeds: checked, never wrapped.
    const int64_t eff = checked_add(checked_mul(kernel[i] - 1, g.dilations[i], "dilated kernel"), 1, "dilated kernel");
    if (a.auto_pad == "SAME_UPPER" || a.auto_pad == "SAME_LOWER") {
      g.out[i] = ceil_div_nonneg(in[i], g.strides[i]);
      const int64_t total = std::max<int64_t>(
          0, checked_sub(checked_add(checked_mul(g.out[i] - 1, g.strides[i], "window padding"), eff, "window padding"),
                         in[i], "window padding"));
      const int64_t small = total / 2, big = total - total / 2;
      g.pad_begin[i] = a.auto_pad == "SAME_UPPER" ? small : big;
      g.pad_end[i] = a.auto_pad == "SAME_UPPER" ? big : small;
      continue;
    }
    if (a.auto_pad == "NOTSET" && !a.pads.empty()) {
      g.pad_begin[i] = a.pads[i];
      g.pad_end[i] = a.pads[i + nd];
      PIONNX_ENFORCE(g.pad_begin[i] >= 0 && g.pad_end[i] >= 0, InvalidArgument, what, ": pads must be >= 0, got ",
                     shape_str(a.pads));
    }
    const int64_t span =
        checked_sub(checked_add(checked_add(in[i], g.pad_begin[i], "padded input"), g.pad_end[i], "padded input"), eff,
                    "padded input");
    if (span < 0) {
      g.out[i] = 0;
    } else if (a.ceil_mode) {
      // The last window must start inside the input or its begin padding:
      // (out - 1) * stride < in + pad_begin, written without a product
      // that could wrap (in + pad_begin is within the checked span above).
      g.out[i] = ceil_div_nonneg(span, g.strides[i]) + 1;
      if (g.out[i] - 1 >= ceil_div_nonneg(in[i] + g.pad_begin[i], g.strides[i])) --g.out[i];
    } else {
      g.out[i] = span / g.strides[i] + 1;
    }
  }
  // Kernels keep a few int64 tables per output position of each dim before
  // they allocate the output (which may be empty through another dim): the
  // same size guard as a tensor.
  for (size_t i = 0; i < nd; ++i) checked_tensor_bytes(DType::Int64, checked_mul(g.out[i], 4, "window tables"));
  return g;
}

// A 1-D window as a 2-D one with a unit leading dim, so 1-D and 2-D share
// the fast 2-D loops.
inline WindowGeometry promote_1d(WindowGeometry g) {
  if (g.dims() != 1) return g;
  for (auto* v : {&g.in, &g.kernel, &g.strides, &g.dilations, &g.out}) v->insert(v->begin(), 1);
  g.pad_begin.insert(g.pad_begin.begin(), 0);
  g.pad_end.insert(g.pad_end.begin(), 0);
  return g;
}

// The range [lo, hi) of output positions o (0 <= o < out) whose input
// position o * stride + offset lies in [0, in).
inline void valid_range(int64_t offset, int64_t stride, int64_t in, int64_t out, int64_t* lo, int64_t* hi) {
  // offset >= -pad_begin and in + pad_begin fit in int64 (resolve_window checked the padded
  // size), so -offset and in - offset do too; the ceilings must not add stride - 1.
  *lo = offset >= 0 ? 0 : ceil_div_nonneg(-offset, stride);
  *hi = in - offset <= 0 ? 0 : ceil_div_nonneg(in - offset, stride);
  *lo = std::min(*lo, out);
  *hi = std::max(*lo, std::min(*hi, out));
}

// N-D windows walked position by position (im2col and col2im of any rank).
// pos = the row-major multi-index of flat index r over dims.
inline void unravel(int64_t r, const std::vector<int64_t>& dims, std::vector<int64_t>& pos) {
  for (int64_t d = static_cast<int64_t>(dims.size()) - 1; d >= 0; --d) {
    pos[d] = r % dims[d];
    r /= dims[d];
  }
}

// pos = the next row-major multi-index over dims.
inline void next_position(std::vector<int64_t>& pos, const std::vector<int64_t>& dims) {
  for (int64_t d = static_cast<int64_t>(dims.size()) - 1; d >= 0; --d) {
    if (++pos[d] < dims[d]) break;
    pos[d] = 0;
  }
}

// Tap `k` of the window at position `at`: per dim at * stride - pad_begin +
// k * dilation, flattened row-major over `space`. False when it falls in the
// padding (then *flat is meaningless).
inline bool window_tap(const WindowGeometry& g, const std::vector<int64_t>& at, const std::vector<int64_t>& k,
                       const std::vector<int64_t>& space, int64_t* flat) {
  int64_t f = 0;
  bool inside = true;
  for (size_t d = 0; d < space.size(); ++d) {
    const int64_t i = at[d] * g.strides[d] - g.pad_begin[d] + k[d] * g.dilations[d];
    inside = inside && i >= 0 && i < space[d];
    f = f * space[d] + i;
  }
  *flat = f;
  return inside;
}

// Conv and ConvTranspose operands: X [N, C, spatial...], W of X's rank, B
// optional, one dtype for all; W's spatial dims (its kernel) must match
// kernel_shape where that attribute is set. Returns X's and W's spatial dims.
struct ConvSpatial {
  std::vector<int64_t> in, kernel;
};
inline ConvSpatial check_conv_operands(const Tensor& x, const Tensor& w, const Tensor* b, const WindowAttrs& a,
                                       const std::string& what) {
  PIONNX_ENFORCE(x.rank() >= 3, InvalidArgument, what, ": X must be [N, C, spatial...], got ", shape_str(x.shape()));
  PIONNX_ENFORCE(w.rank() == x.rank(), InvalidArgument, what, ": W ", shape_str(w.shape()), " must have the rank of X ",
                 shape_str(x.shape()));
  PIONNX_ENFORCE(w.dtype() == x.dtype() && (!b || b->dtype() == x.dtype()), InvalidArgument, what,
                 ": X, W and B must share one dtype");
  ConvSpatial s{std::vector<int64_t>(x.shape().begin() + 2, x.shape().end()),
                std::vector<int64_t>(w.shape().begin() + 2, w.shape().end())};
  PIONNX_ENFORCE(a.kernel_shape.empty() || a.kernel_shape == s.kernel, InvalidArgument, what,
                 ": kernel_shape attribute does not match W ", shape_str(w.shape()));
  return s;
}

inline void check_conv_bias(const Tensor* b, int64_t M, const std::string& what) {
  PIONNX_ENFORCE(!b || b->numel() == M, InvalidArgument, what, ": B must have ", M, " values, got ",
                 shape_str(b->shape()));
}

// Float16 and BFloat16 convolutions run in float32: f(x, w, b or nullptr, y)
// on float32 copies, the result cast back to X's dtype as output 0.
template <class F>
void conv_in_float32(KernelContext& ctx, const Tensor& x, const Tensor& w, const Tensor* b, const Shape& out, F&& f) {
  Tensor y(DType::Float, out);
  const Tensor x32 = to_float32(x), w32 = to_float32(w);
  const Tensor b32 = b ? to_float32(*b) : Tensor();
  f(x32.data<float>(), w32.data<float>(), b ? b32.data<float>() : nullptr, y.data<float>());
  ctx.set_output(0, cast_tensor(y, x.dtype()));
}

// im2col for 1 to 3 spatial dims (1-D and 2-D as 3-D with leading unit dims): row (c, kd, kh, kw), column an
// output position in [p0, p1); taps outside the input read `pad` (0, or an integer convolution's zero point). The
// rows split across the pool; each row's positions walk output rows of the last dim, and each such run is a fill,
// a copy (stride 1) or a strided gather over the columns inside the input, and a fill, the in-range columns found
// once per kernel column (a test per tap of every position had float 3-D convolutions at 5.8x onnxruntime and
// QLinearConv's im2col a test per byte). The float convolutions of 1 and 3 dims and the integer ones use it.
template <typename T>
void im2col_3d(ThreadPool& pool, const T* X, int64_t C, const WindowGeometry& g, int64_t p0, int64_t p1, T* col,
               T pad_value = T(0)) {
  const size_t nd = g.dims();
  int64_t in[3] = {1, 1, 1}, out[3] = {1, 1, 1}, k[3] = {1, 1, 1}, st[3] = {1, 1, 1}, dl[3] = {1, 1, 1},
          pad[3] = {0, 0, 0};
  for (size_t d = 0; d < nd; ++d) {
    const size_t e = 3 - nd + d;
    in[e] = g.in[d], out[e] = g.out[d], k[e] = g.kernel[d];
    st[e] = g.strides[d], dl[e] = g.dilations[d], pad[e] = g.pad_begin[d];
  }
  const int64_t ks = k[0] * k[1] * k[2], in_size = in[0] * in[1] * in[2], pc = p1 - p0;
  // A whole 2-D plane at stride 1 whose output rows are as wide as the input's ("same" padding, 3x3 pad 1): row
  // (c, kh, kw) is the input plane moved by whole rows and `off` columns, so it is one copy of the rows in range
  // with the |off| columns each row took from its neighbour (or from outside the plane) set to the pad value, not
  // a copy per output row (short rows: 56, 28, 14 bytes, each a libc call; ResNet-50's QLinearConvs spent a
  // seventh of their time here).
  const bool shifted_plane = k[0] == 1 && in[0] == 1 && st[1] == 1 && st[2] == 1 && out[2] == in[2] && p0 == 0 &&
                             p1 == out[0] * out[1] * out[2];
  pool.parallel_for(C * ks, std::max<int64_t>(1, 16384 / std::max<int64_t>(1, pc)), [&](int64_t r0, int64_t r1) {
    for (int64_t row = r0; row < r1; ++row) {
      const int64_t c = row / ks, kd = row % ks / (k[1] * k[2]), kh = row % (k[1] * k[2]) / k[2], kw = row % k[2];
      const int64_t off = kw * dl[2] - pad[2];
      T* dst = col + row * pc;
      if (shifted_plane) {
        const int64_t W = in[2], OH = out[1], dh = kh * dl[1] - pad[1];
        const T* src = X + c * in_size;
        // Output rows oh whose input row oh + dh is inside: [a, b).
        const int64_t a = std::clamp<int64_t>(-dh, 0, OH), b = std::clamp<int64_t>(in[1] - dh, a, OH);
        std::fill(dst, dst + a * W, pad_value);
        const int64_t s = (a + dh) * W + off, e = (b + dh) * W + off;  // source span, maybe a little outside
        const int64_t s_in = std::max<int64_t>(s, 0), e_in = std::min(e, in_size);
        if (s_in < e_in) std::copy(src + s_in, src + e_in, dst + a * W + (s_in - s));
        for (int64_t oh = a; oh < b; ++oh) {  // the columns whose source is outside the row
          T* r = dst + oh * W;
          if (off < 0) std::fill(r, r + std::min(-off, W), pad_value);
          else if (off > 0) std::fill(r + std::max<int64_t>(W - off, 0), r + W, pad_value);
        }
        std::fill(dst + b * W, dst + OH * W, pad_value);
        continue;
      }
      const int64_t ow0 = std::min(out[2], off >= 0 ? int64_t{0} : (-off + st[2] - 1) / st[2]);
      const int64_t ow1 = std::clamp<int64_t>(in[2] - off <= 0 ? 0 : (in[2] - off + st[2] - 1) / st[2], ow0, out[2]);
      int64_t od = p0 / (out[1] * out[2]), oh = p0 / out[2] % out[1], ow = p0 % out[2];
      for (int64_t p = p0; p < p1;) {
        const int64_t seg = std::min(out[2] - ow, p1 - p), end = ow + seg;
        const int64_t id = od * st[0] - pad[0] + kd * dl[0], ih = oh * st[1] - pad[1] + kh * dl[1];
        if (id < 0 || id >= in[0] || ih < 0 || ih >= in[1]) {
          std::fill(dst, dst + seg, pad_value);
        } else {
          const T* src = X + c * in_size + (id * in[1] + ih) * in[2] + off;
          const int64_t a = std::clamp(ow0, ow, end), b = std::clamp(ow1, a, end);
          std::fill(dst, dst + (a - ow), pad_value);
          if (st[2] == 1) std::copy(src + a, src + b, dst + (a - ow));
          else
            for (int64_t q = a; q < b; ++q) dst[q - ow] = src[q * st[2]];
          std::fill(dst + (b - ow), dst + seg, pad_value);
        }
        dst += seg;
        p += seg;
        ow = 0;
        if (++oh == out[1]) oh = 0, ++od;
      }
    }
  });
}

}  // namespace pionnx
