// ConvTranspose: per (image, group) a GEMM W_g^T x X_g gives every kernel
// tap's contribution at every input position (col), and col2im adds those
// into the output. float16/bfloat16 compute in float32.
#include <algorithm>
#include <vector>

#include "kernels/base/cast.h"
#include "kernels/base/dtype_dispatch.h"
#include "kernels/base/kernel.h"
#include "kernels/math/gemm_ref.h"
#include "kernels/nn/window.h"
#include "platform/thread_pool.h"

namespace pionnx {
namespace {

// Output geometry per the ONNX spec: `in` here is ConvTranspose's input, `out`
// the (larger) result. With output_shape or SAME_* the pads are derived from
// total = stride * (in - 1) + output_padding + dilated kernel - out.
WindowGeometry transpose_geometry(const Node& node, const std::vector<int64_t>& in, const std::vector<int64_t>& kernel,
                                  const std::string& what) {
  const size_t nd = in.size();
  WindowAttrs a = WindowAttrs::from_node(node);
  std::vector<int64_t> out_pad = node.attr_ints("output_padding");
  std::vector<int64_t> out_shape = node.attr_ints("output_shape");
  if (out_pad.empty()) out_pad.assign(nd, 0);
  if (out_shape.size() == nd + 2) out_shape.erase(out_shape.begin(), out_shape.begin() + 2);
  PIONNX_ENFORCE(out_pad.size() == nd && (out_shape.empty() || out_shape.size() == nd), InvalidArgument, what,
                 ": output_padding/output_shape must have ", nd, " values");

  WindowGeometry g = window_start(a, in, kernel, what);
  // Every size here comes from attributes or feeds: checked, never wrapped.
  for (size_t i = 0; i < nd; ++i) {
    PIONNX_ENFORCE(g.strides[i] > 0 && g.dilations[i] > 0 && kernel[i] > 0 && out_pad[i] >= 0, InvalidArgument, what,
                   ": kernel_shape, strides and dilations must be positive and output_padding >= 0");
    PIONNX_ENFORCE(out_shape.empty() || out_shape[i] >= 0, InvalidArgument, what, ": output_shape must be >= 0, got ",
                   shape_str(out_shape));
  }
  const bool same = a.auto_pad == "SAME_UPPER" || a.auto_pad == "SAME_LOWER";
  if (same && out_shape.empty())
    for (size_t i = 0; i < nd; ++i) out_shape.push_back(checked_mul(in[i], g.strides[i], "ConvTranspose output size"));
  g.pad_begin.assign(nd, 0);
  g.pad_end.assign(nd, 0);
  g.out.assign(nd, 0);
  for (size_t i = 0; i < nd; ++i) {
    const char* size = "ConvTranspose output size";
    const int64_t full = checked_add(checked_add(checked_mul(g.strides[i], in[i] - 1, size), out_pad[i], size),
                                     checked_add(checked_mul(kernel[i] - 1, g.dilations[i], size), 1, size), size);
    if (!out_shape.empty()) {
      const int64_t total = checked_sub(full, out_shape[i], size);
      // Floor division, as the spec's formula means for a negative total.
      const int64_t small = total / 2 - (total < 0 && total % 2 != 0 ? 1 : 0), big = total - small;
      g.pad_begin[i] = a.auto_pad == "SAME_UPPER" ? small : big;
      g.pad_end[i] = a.auto_pad == "SAME_UPPER" ? big : small;
      g.out[i] = out_shape[i];
    } else {
      if (!a.pads.empty() && a.auto_pad == "NOTSET") {
        g.pad_begin[i] = a.pads[i];
        g.pad_end[i] = a.pads[i + nd];
        PIONNX_ENFORCE(g.pad_begin[i] >= 0 && g.pad_end[i] >= 0, InvalidArgument, what, ": pads must be >= 0, got ",
                       shape_str(a.pads));
      }
      g.out[i] = checked_sub(checked_sub(full, g.pad_begin[i], size), g.pad_end[i], size);
    }
    PIONNX_ENFORCE(g.out[i] >= 0, InvalidArgument, what, ": negative output size along dim ", i);
  }
  return g;
}

// Adds col rows (m, kernel tap) over input positions into Y (Mg channels).
template <typename T>
void col2im_2d(const T* col, int64_t Mg, const WindowGeometry& g, T* Y) {
  const int64_t H = g.in[0], W = g.in[1], KH = g.kernel[0], KW = g.kernel[1];
  const int64_t SH = g.strides[0], SW = g.strides[1], DH = g.dilations[0], DW = g.dilations[1];
  const int64_t PH = g.pad_begin[0], PW = g.pad_begin[1], OH = g.out[0], OW = g.out[1];
  for (int64_t m = 0; m < Mg; ++m) {
    T* y = Y + m * OH * OW;
    for (int64_t kh = 0; kh < KH; ++kh) {
      for (int64_t kw = 0; kw < KW; ++kw, col += H * W) {
        for (int64_t ih = 0; ih < H; ++ih) {
          const int64_t oh = ih * SH - PH + kh * DH;
          if (oh < 0 || oh >= OH) continue;
          const T* src = col + ih * W;
          T* dst = y + oh * OW;
          for (int64_t iw = 0; iw < W; ++iw) {
            const int64_t ow = iw * SW - PW + kw * DW;
            if (ow >= 0 && ow < OW) dst[ow] += src[iw];
          }
        }
      }
    }
  }
}

template <typename T>
void col2im_nd(const T* col, int64_t Mg, const WindowGeometry& g, T* Y) {
  const size_t nd = g.dims();
  const int64_t ksize = g.kernel_size(), in_size = g.in_size(), out_size = g.out_size();
  std::vector<int64_t> kpos(nd), ipos(nd);
  for (int64_t row = 0; row < Mg * ksize; ++row) {
    const int64_t m = row / ksize;
    unravel(row % ksize, g.kernel, kpos);
    std::fill(ipos.begin(), ipos.end(), 0);
    const T* src = col + row * in_size;
    for (int64_t p = 0; p < in_size; ++p, next_position(ipos, g.in)) {
      int64_t flat;
      if (window_tap(g, ipos, kpos, g.out, &flat)) Y[m * out_size + flat] += src[p];
    }
  }
}

template <typename T>
void conv_transpose_forward(ThreadPool& pool, const T* X, const T* Wt, const T* B, T* Y, int64_t N, int64_t C,
                            int64_t M, int64_t group, const WindowGeometry& geo) {
  const WindowGeometry g = promote_1d(geo);
  const int64_t Cg = C / group, Mg = M / group;
  const int64_t in_size = g.in_size(), out_size = g.out_size(), ksize = g.kernel_size();
  const int64_t rows = Mg * ksize;
  std::vector<T> col(static_cast<size_t>(rows * in_size));
  for (int64_t n = 0; n < N; ++n) {
    for (int64_t grp = 0; grp < group; ++grp) {
      const T* Xg = X + (n * C + grp * Cg) * in_size;
      const T* Wg = Wt + grp * Cg * rows;
      T* Yg = Y + (n * M + grp * Mg) * out_size;
      // W_g is [Cg, Mg * ksize]: col = W_g^T X_g.
      gemm_any<T>(true, false, rows, in_size, Cg, 1.0, Wg, rows, Xg, in_size, 0.0, col.data(), in_size, &pool);
      for (int64_t m = 0; m < Mg; ++m)
        std::fill(Yg + m * out_size, Yg + (m + 1) * out_size, B ? B[grp * Mg + m] : T(0));
      if (g.dims() == 2) col2im_2d(col.data(), Mg, g, Yg);
      else col2im_nd(col.data(), Mg, g, Yg);
    }
  }
}

class ConvTransposeKernel : public Kernel {
 public:
  explicit ConvTransposeKernel(const KernelInfo& info)
      : attrs_(WindowAttrs::from_node(info.node)), group_(info.node.attr_i("group", 1)) {}

  void compute(KernelContext& ctx) const override {
    const Node& node = ctx.node();
    const std::string what = node.describe();
    const Tensor& x = ctx.input(0);
    const Tensor& w = ctx.input(1);
    const Tensor* b = ctx.optional_input(2);
    const ConvSpatial sp = check_conv_operands(x, w, b, attrs_, what);
    const int64_t N = x.dim(0), C = x.dim(1);
    PIONNX_ENFORCE(group_ > 0 && C % group_ == 0 && w.dim(0) == C, InvalidArgument, what, ": X has ", C,
                   " channels and W is ", shape_str(w.shape()), ", which does not fit group=", group_);
    const int64_t M = w.dim(1) * group_;
    check_conv_bias(b, M, what);
    const WindowGeometry g = transpose_geometry(node, sp.in, sp.kernel, what);
    Shape out{N, M};
    out.insert(out.end(), g.out.begin(), g.out.end());

    if (x.dtype() == DType::Float16 || x.dtype() == DType::BFloat16) {
      conv_in_float32(ctx, x, w, b, out, [&](const float* x32, const float* w32, const float* b32, float* y32) {
        conv_transpose_forward<float>(ctx.pool(), x32, w32, b32, y32, N, C, M, group_, g);
      });
      return;
    }
    Tensor& y = ctx.output(0, x.dtype(), out);
    dispatch_float(x.dtype(), what, [&](auto tag) {
      using T = typename decltype(tag)::type;
      conv_transpose_forward<T>(ctx.pool(), x.data<T>(), w.data<T>(), b ? b->data<T>() : nullptr, y.data<T>(), N, C, M,
                                group_, g);
    });
  }

 private:
  WindowAttrs attrs_;
  int64_t group_;
};

}  // namespace

void register_conv_transpose(KernelRegistry& r) { r.add<ConvTransposeKernel>("", "ConvTranspose"); }

}  // namespace pionnx
