// Sliding-window and sampling-grid ops: Col2Im (opset 18), AffineGrid (20),
// DeformConv (19, 2-D).
#include <algorithm>
#include <cmath>

#include "core/checked.h"
#include "kernels/base/cast.h"
#include "kernels/base/kernel.h"
#include "kernels/base/shapes.h"
#include "kernels/nn/window.h"
#include "kernels/simd/sgemm.h"
#include "platform/thread_pool.h"

namespace pionnx {
namespace {

// ---------------------------------------------------------------- Col2Im

// input [N, C * prod(block), L] -> [N, C, image...]: every column l (a block
// position, row-major over the block grid) scatters its C x block values
// back into the image, summing overlaps.
class Col2Im : public Kernel {
 public:
  explicit Col2Im(const KernelInfo& info) : node_(info.node) {
    dilations_ = info.node.attr_ints("dilations");
    pads_ = info.node.attr_ints("pads");
    strides_ = info.node.attr_ints("strides");
  }

  void compute(KernelContext& ctx) const override {
    const std::string what = node_.describe();
    const Tensor& x_in = ctx.input(0);
    const Shape img = tensor_to_int64s(ctx.input(1));
    const Shape blk = tensor_to_int64s(ctx.input(2));
    const size_t r = img.size();
    PIONNX_ENFORCE(r >= 1 && blk.size() == r && x_in.rank() == 3, InvalidArgument, what,
                   ": expected input [N, C*prod(block), L] with image_shape and block_shape of equal length, got ",
                   shape_str(x_in.shape()), ", ", shape_str(img), ", ", shape_str(blk));
    const Shape dil = dilations_.empty() ? Shape(r, 1) : dilations_;
    const Shape str = strides_.empty() ? Shape(r, 1) : strides_;
    const Shape pad = pads_.empty() ? Shape(2 * r, 0) : pads_;
    PIONNX_ENFORCE(dil.size() == r && str.size() == r && pad.size() == 2 * r, InvalidArgument, what,
                   ": dilations/strides/pads lengths do not match image rank ", r);
    for (size_t d = 0; d < r; ++d)
      PIONNX_ENFORCE(img[d] >= 0, InvalidArgument, what, ": image_shape must be >= 0, got ", shape_str(img));
    // Block positions per axis: the checked window arithmetic of Conv and the pools (block,
    // strides and dilations > 0, pads >= 0, no size that wraps int64).
    WindowAttrs a;
    a.auto_pad = "NOTSET";
    a.strides = str;
    a.dilations = dil;
    a.pads = pad;
    const Shape grid = resolve_window(a, img, blk, what).out;
    const int64_t K = shape_numel(blk);
    const int64_t N = x_in.dim(0), C = x_in.dim(1) / std::max<int64_t>(K, 1);
    PIONNX_ENFORCE(C * K == x_in.dim(1), InvalidArgument, what, ": input dim 1 (", x_in.dim(1),
                   ") is not a multiple of prod(block_shape) = ", K);
    const int64_t L = shape_numel(grid);
    PIONNX_ENFORCE(x_in.dim(2) == L, InvalidArgument, what, ": input has ", x_in.dim(2), " columns, the block grid ",
                   shape_str(grid), " needs ", L);

    const Tensor x = to_float32(x_in);
    Shape out_shape{N, C};
    out_shape.insert(out_shape.end(), img.begin(), img.end());
    Tensor y = Tensor::zeros(DType::Float, out_shape);
    const int64_t img_n = shape_numel(img);
    const std::vector<int64_t> img_strides = strides_of(img);
    const float* xd = x.data<float>();
    float* yd = y.data<float>();
    ctx.pool().parallel_for(N * C, 1, [&](int64_t begin, int64_t end) {
      std::vector<int64_t> ki(r), li(r);
      for (int64_t nc = begin; nc < end; ++nc) {
        float* out = yd + nc * img_n;
        std::fill(ki.begin(), ki.end(), 0);
        for (int64_t k = 0; k < K; ++k) {
          const float* col = xd + (nc * K + k) * L;
          std::fill(li.begin(), li.end(), 0);
          for (int64_t l = 0; l < L; ++l) {
            int64_t off = 0;
            bool inside = true;
            for (size_t d = 0; d < r && inside; ++d) {
              const int64_t p = li[d] * str[d] - pad[d] + ki[d] * dil[d];
              inside = p >= 0 && p < img[d];
              off += p * img_strides[d];
            }
            if (inside) out[off] += col[l];
            for (int64_t d = static_cast<int64_t>(r) - 1; d >= 0 && ++li[d] == grid[d]; --d) li[d] = 0;
          }
          for (int64_t d = static_cast<int64_t>(r) - 1; d >= 0 && ++ki[d] == blk[d]; --d) ki[d] = 0;
        }
      }
    });
    ctx.set_output(0, cast_tensor(y, x_in.dtype()));
  }

 private:
  const Node& node_;
  std::vector<int64_t> dilations_, pads_, strides_;
};

// ---------------------------------------------------------------- AffineGrid

// theta [N, 2, 3] / [N, 3, 4], size [N, C, (D,) H, W] -> grid [N, (D,) H, W,
// 2 or 3] = theta * (x, y, (z,) 1) over normalized base coordinates.
class AffineGrid : public Kernel {
 public:
  explicit AffineGrid(const KernelInfo& info) : node_(info.node) {
    align_corners_ = info.node.attr_i("align_corners", 0) != 0;
  }

  void compute(KernelContext& ctx) const override {
    const std::string what = node_.describe();
    const Tensor& th_in = ctx.input(0);
    const Shape size = tensor_to_int64s(ctx.input(1));
    PIONNX_ENFORCE(size.size() == 4 || size.size() == 5, InvalidArgument, what, ": size must have 4 or 5 entries, got ",
                   shape_str(size));
    const int64_t nd = static_cast<int64_t>(size.size()) - 2;  // 2 or 3 spatial dims
    const int64_t N = size[0];
    PIONNX_ENFORCE(th_in.rank() == 3 && th_in.dim(0) == N && th_in.dim(1) == nd && th_in.dim(2) == nd + 1,
                   InvalidArgument, what, ": theta ", shape_str(th_in.shape()), " expected [", N, ", ", nd, ", ",
                   nd + 1, "]");
    const Tensor th = to_float32(th_in);
    // Spatial sizes, outermost first: (D,) H, W.
    const Shape sp(size.begin() + 2, size.end());
    // Base coordinate along an axis of n points.
    auto base = [&](int64_t i, int64_t n) -> float {
      if (align_corners_) return n > 1 ? -1.f + 2.f * i / (n - 1) : -1.f;
      return (2.f * i + 1.f) / n - 1.f;
    };
    Shape out_shape{N};
    out_shape.insert(out_shape.end(), sp.begin(), sp.end());
    out_shape.push_back(nd);
    Tensor y(DType::Float, out_shape);
    const int64_t pts = shape_numel(sp);
    const float* t = th.data<float>();
    float* o = y.data<float>();
    for (int64_t n = 0; n < N; ++n) {
      const float* tn = t + n * nd * (nd + 1);
      for (int64_t p = 0; p < pts; ++p) {
        // Homogeneous point (x, y, (z,) 1): x is the innermost axis.
        float h[4];
        int64_t rem = p;
        for (int64_t d = nd - 1; d >= 0; --d) {
          h[nd - 1 - d] = base(rem % sp[d], sp[d]);
          rem /= sp[d];
        }
        h[nd] = 1.f;
        for (int64_t i = 0; i < nd; ++i) {
          float acc = 0.f;
          for (int64_t j = 0; j <= nd; ++j) acc += tn[i * (nd + 1) + j] * h[j];
          o[(n * pts + p) * nd + i] = acc;
        }
      }
    }
    ctx.set_output(0, cast_tensor(y, th_in.dtype()));
  }

 private:
  const Node& node_;
  bool align_corners_ = false;
};

// ---------------------------------------------------------------- DeformConv

// 2-D deformable convolution: an im2col whose sample points are shifted by
// per-position offsets (bilinear, zero outside the image) and scaled by the
// optional mask, followed by one SGEMM per group.
class DeformConv : public Kernel {
 public:
  explicit DeformConv(const KernelInfo& info) : node_(info.node) {
    dilations_ = info.node.attr_ints("dilations");
    pads_ = info.node.attr_ints("pads");
    strides_ = info.node.attr_ints("strides");
    kernel_shape_ = info.node.attr_ints("kernel_shape");
    group_ = info.node.attr_i("group", 1);
    offset_group_ = info.node.attr_i("offset_group", 1);
    const std::string what = node_.describe();
    auto check = [&](const std::vector<int64_t>& v, size_t n, int64_t low, const char* name) {
      PIONNX_ENFORCE(v.empty() || v.size() == n, InvalidGraph, what, ": ", name, " must have ", n,
                     " values for 2-D DeformConv, got ", v.size());
      for (int64_t e : v)
        PIONNX_ENFORCE(e >= low, InvalidGraph, what, ": ", name, " must be >= ", low, ", got ", shape_str(v));
    };
    check(kernel_shape_, 2, 1, "kernel_shape");
    check(dilations_, 2, 1, "dilations");
    check(strides_, 2, 1, "strides");
    check(pads_, 4, 0, "pads");
    PIONNX_ENFORCE(group_ >= 1 && offset_group_ >= 1, InvalidGraph, what, ": group and offset_group must be >= 1");
  }

  void compute(KernelContext& ctx) const override {
    const std::string what = node_.describe();
    const Tensor& x_in = ctx.input(0);
    PIONNX_ENFORCE(x_in.rank() == 4, NotImplemented, what, ": only 2-D DeformConv is supported, X is ",
                   shape_str(x_in.shape()));
    const Tensor x = to_float32(x_in), w = to_float32(ctx.input(1)), off = to_float32(ctx.input(2));
    Tensor bias, mask;
    if (ctx.has_input(3)) bias = to_float32(ctx.input(3));
    if (ctx.has_input(4)) mask = to_float32(ctx.input(4));
    const int64_t N = x.dim(0), C = x.dim(1), H = x.dim(2), W = x.dim(3), OC = w.dim(0);
    const int64_t kh = kernel_shape_.empty() ? w.dim(2) : kernel_shape_[0];
    const int64_t kw = kernel_shape_.empty() ? w.dim(3) : kernel_shape_[1];
    const int64_t dh = dilations_.empty() ? 1 : dilations_[0], dw = dilations_.empty() ? 1 : dilations_[1];
    const int64_t sh = strides_.empty() ? 1 : strides_[0], sw = strides_.empty() ? 1 : strides_[1];
    const int64_t ph = pads_.empty() ? 0 : pads_[0], pw = pads_.empty() ? 0 : pads_[1];
    const int64_t G = group_, OG = offset_group_, K = checked_mul(kh, kw, "DeformConv kernel size");
    checked_mul(checked_mul(OG, 2, "DeformConv offsets"), K, "DeformConv offsets");
    PIONNX_ENFORCE(w.rank() == 4 && C == w.dim(1) * G && OC % G == 0 && C % OG == 0, InvalidArgument, what, ": X ",
                   shape_str(x.shape()), " and W ", shape_str(w.shape()), " do not match group ", G, " / offset_group ",
                   OG);
    PIONNX_ENFORCE(off.rank() == 4 && off.dim(0) == N && off.dim(1) == OG * 2 * K, InvalidArgument, what, ": offset ",
                   shape_str(off.shape()), " expected [", N, ", ", OG * 2 * K, ", oH, oW]");
    const int64_t OH = off.dim(2), OW = off.dim(3), L = OH * OW;
    PIONNX_ENFORCE(kh == w.dim(2) && kw == w.dim(3), InvalidArgument, what, ": kernel_shape ", kh, "x", kw,
                   " does not match W ", shape_str(w.shape()));
    const int64_t span_h = checked_sub(
        checked_add(H, pads_total(0), "DeformConv output"),
        checked_add(checked_mul(kh - 1, dh, "DeformConv output"), 1, "DeformConv output"), "DeformConv output");
    const int64_t span_w = checked_sub(
        checked_add(W, pads_total(1), "DeformConv output"),
        checked_add(checked_mul(kw - 1, dw, "DeformConv output"), 1, "DeformConv output"), "DeformConv output");
    PIONNX_ENFORCE(span_h >= 0 && span_w >= 0 && OH == span_h / sh + 1 && OW == span_w / sw + 1, InvalidArgument, what,
                   ": offset spatial shape ", OH, "x", OW, " does not match the convolution output");
    PIONNX_ENFORCE(!mask.defined() || mask.numel() == N * OG * K * L, InvalidArgument, what, ": mask ",
                   shape_str(mask.shape()), " expected [", N, ", ", OG * K, ", ", OH, ", ", OW, "]");

    Tensor y(DType::Float, {N, OC, OH, OW});
    const float* xd = x.data<float>();
    const float* od = off.data<float>();
    const float* md = mask.defined() ? mask.data<float>() : nullptr;
    float* yd = y.data<float>();
    const int64_t cpg = C / G, ocg = OC / G, cpog = C / OG;
    std::vector<float> cols(static_cast<size_t>(C * K * L));
    for (int64_t n = 0; n < N; ++n) {
      // cols[(c * K + k) * L + l]: the deformed sample of channel c under
      // kernel tap k at output position l.
      ctx.pool().parallel_for(C, 1, [&](int64_t c0, int64_t c1) {
        for (int64_t c = c0; c < c1; ++c) {
          const int64_t g = c / cpog;
          const float* img = xd + (n * C + c) * H * W;
          for (int64_t k = 0; k < K; ++k) {
            const int64_t ki = k / kw, kj = k % kw;
            const float* dy = od + ((n * OG + g) * 2 * K + 2 * k) * L;
            const float* dx = dy + L;
            const float* mk = md ? md + ((n * OG + g) * K + k) * L : nullptr;
            float* col = cols.data() + (c * K + k) * L;
            for (int64_t l = 0; l < L; ++l) {
              const int64_t oi = l / OW, oj = l % OW;
              const float yy = static_cast<float>(oi * sh - ph + ki * dh) + dy[l];
              const float xx = static_cast<float>(oj * sw - pw + kj * dw) + dx[l];
              float v = bilinear(img, H, W, yy, xx);
              if (mk) v *= mk[l];
              col[l] = v;
            }
          }
        }
      });
      for (int64_t g = 0; g < G; ++g) {
        float* out = yd + (n * OC + g * ocg) * L;
        simd::sgemm(false, false, ocg, L, cpg * K, 1.f, w.data<float>() + g * ocg * cpg * K, cpg * K,
                    cols.data() + g * cpg * K * L, L, 0.f, out, L, &ctx.pool());
      }
      if (bias.defined()) {
        const float* b = bias.data<float>();
        for (int64_t o = 0; o < OC; ++o) {
          float* out = yd + (n * OC + o) * L;
          for (int64_t l = 0; l < L; ++l) out[l] += b[o];
        }
      }
    }
    ctx.set_output(0, cast_tensor(y, x_in.dtype()));
  }

 private:
  int64_t pads_total(size_t axis) const {
    return pads_.empty() ? 0 : checked_add(pads_[axis], pads_[axis + 2], "DeformConv pads");
  }

  // Bilinear sample at pixel coordinates; taps outside the image read 0.
  static float bilinear(const float* img, int64_t H, int64_t W, float y, float x) {
    // A sample point outside the image by more than a pixel (or NaN, from
    // an offset of any value) reads only zeros; past here the coordinates
    // fit int64 comfortably.
    if (!(y > -2.f && y < static_cast<float>(H) + 1.f && x > -2.f && x < static_cast<float>(W) + 1.f)) return 0.f;
    const float fy = std::floor(y), fx = std::floor(x);
    const int64_t y0 = static_cast<int64_t>(fy), x0 = static_cast<int64_t>(fx);
    const float ly = y - fy, lx = x - fx;
    auto at = [&](int64_t i, int64_t j) { return i >= 0 && i < H && j >= 0 && j < W ? img[i * W + j] : 0.f; };
    return (1 - ly) * ((1 - lx) * at(y0, x0) + lx * at(y0, x0 + 1)) +
           ly * ((1 - lx) * at(y0 + 1, x0) + lx * at(y0 + 1, x0 + 1));
  }

  const Node& node_;
  std::vector<int64_t> dilations_, pads_, strides_, kernel_shape_;
  int64_t group_ = 1, offset_group_ = 1;
};

}  // namespace

void register_geometry(KernelRegistry& r) {
  r.add_all("", {impl<Col2Im>("Col2Im"), impl<AffineGrid>("AffineGrid"), impl<DeformConv>("DeformConv")});
}

}  // namespace pionnx
