// The com.microsoft quantized element-wise, concat and pooling operators that
// onnxruntime's quantize_static (QOperator format) emits around QLinearConv
// and QLinearMatMul: QLinearAdd/Mul, QLinearSigmoid/LeakyRelu, QLinearSoftmax,
// QLinearConcat, QLinearGlobalAveragePool and QLinearAveragePool.
// Values are uint8 or int8; arithmetic happens on dequantized floats and the
// result is requantized with round-half-to-even and saturation.
#include <algorithm>
#include <array>
#include <cmath>
#include <cstring>
#include <type_traits>

#include "kernels/nn/window.h"
#include "kernels/quant/qparams.h"
#include "kernels/simd/elementwise_math.h"
#include "platform/thread_pool.h"

namespace pionnx {
namespace {

// Per-tensor (scale, zero point) of one quantized operand.
struct QParams {
  float scale = 1.f;
  int32_t zp = 0;
};

QParams qparams(KernelContext& ctx, size_t scale_idx, size_t zp_idx, const std::string& what) {
  QParams q;
  q.scale = scalar_scale(ctx.input(scale_idx), str_cat(what, " input ", scale_idx));
  q.zp = scalar_zero_point(ctx.optional_input(zp_idx), str_cat(what, " input ", zp_idx));
  return q;
}

// Output dtype: the output zero point's, else the input's.
DType out_dtype(KernelContext& ctx, size_t zp_idx, DType fallback) {
  const Tensor* zp = ctx.optional_input(zp_idx);
  return zp ? zp->dtype() : fallback;
}

// ---- QLinearAdd / QLinearMul: A, A_scale, A_zp, B, B_scale, B_zp, C_scale, C_zp

template <bool kMul>
void qlinear_binary(KernelContext& ctx) {
  const std::string what = ctx.node().describe();
  const Tensor& A = ctx.input(0);
  const Tensor& B = ctx.input(3);
  PIONNX_ENFORCE(A.dtype() == B.dtype(), InvalidArgument, what, ": A and B dtypes differ (", dtype_name(A.dtype()),
                 " vs ", dtype_name(B.dtype()), ")");
  const QParams qa = qparams(ctx, 1, 2, what), qb = qparams(ctx, 4, 5, what), qc = qparams(ctx, 6, 7, what);
  const Shape out_shape = broadcast_shapes(A.shape(), B.shape(), what);
  const DType out_t = out_dtype(ctx, 7, A.dtype());
  PIONNX_ENFORCE(out_t == A.dtype(), InvalidArgument, what, ": C_zero_point dtype differs from A's");
  Tensor& Y = ctx.output(0, out_t, out_shape);
  const int64_t n = shape_numel(out_shape);
  if (n == 0) return;
  // Add: sa/sc*(a-za) + sb/sc*(b-zb); Mul: sa*sb/sc*(a-za)*(b-zb).
  const float ra = qa.scale / qc.scale, rb = qb.scale / qc.scale;
  const float rm = qa.scale * qb.scale / qc.scale;
  dispatch_q8(A.dtype(), what, [&](auto tag) {
    using Q = typename decltype(tag)::type;
    const Q* a = A.data<Q>();
    const Q* b = B.data<Q>();
    Q* y = Y.data<Q>();
    auto op = [&](Q av, Q bv) -> Q {
      const float da = static_cast<float>(static_cast<int32_t>(av) - qa.zp);
      const float db = static_cast<float>(static_cast<int32_t>(bv) - qb.zp);
      return saturate_round<Q>(kMul ? rm * da * db : ra * da + rb * db, qc.zp);
    };
    if (A.shape() == out_shape && B.shape() == out_shape && std::isfinite(kMul ? rm : ra) &&
        std::isfinite(kMul ? rm : rb)) {
      // Same shapes (a residual's Add): one contiguous run, and with finite multipliers no value is NaN, so
      // saturate_round's steps go branch-free (fastmath::qlinear_binary_block: the value clamped to one past the
      // range the zero point leaves, rounded by the 1.5 * 2^23 addition, the zero point added, the range applied),
      // in the vector-math family's loop (AVX-512, AVX2, NEON): compiled here, for baseline x86, it was 4 values a
      // step and a quantized MobileNetV2's QLinearAdds twice onnxruntime's time.
      fastmath::QBinary p;
      p.za = static_cast<float>(qa.zp), p.zb = static_cast<float>(qb.zp), p.zc = static_cast<float>(qc.zp);
      p.ra = kMul ? rm : ra, p.rb = rb, p.mul = kMul, p.is_signed = std::is_signed<Q>::value;
      const auto* pa = reinterpret_cast<const uint8_t*>(a);
      const auto* pb = reinterpret_cast<const uint8_t*>(b);
      auto* py = reinterpret_cast<uint8_t*>(y);
      ctx.pool().parallel_for(n, 16384, [&](int64_t i0, int64_t i1) {
        fastmath::qlinear_binary_block(pa + i0, pb + i0, py + i0, i1 - i0, p);
      });
      return;
    }
    // The output viewed as rows of its last dimension; each operand walks a
    // row with its own (possibly zero) stride.
    const int64_t inner = out_shape.empty() ? 1 : out_shape.back();
    const int64_t rows = n / std::max<int64_t>(1, inner);
    const Shape row_shape(out_shape.begin(), out_shape.empty() ? out_shape.end() : out_shape.end() - 1);
    const auto sa = broadcast_strides(A.shape(), out_shape), sb = broadcast_strides(B.shape(), out_shape);
    const int64_t ia = sa.empty() ? 0 : sa.back(), ib = sb.empty() ? 0 : sb.back();
    const auto row_strides = strides_of(row_shape);
    ctx.pool().parallel_for(rows, std::max<int64_t>(1, 16384 / std::max<int64_t>(1, inner)),
                            [&](int64_t r0, int64_t r1) {
                              for (int64_t r = r0; r < r1; ++r) {
                                int64_t oa = 0, ob = 0, rem = r;
                                for (size_t d = 0; d < row_shape.size(); ++d) {
                                  const int64_t idx = rem / row_strides[d];
                                  rem %= row_strides[d];
                                  oa += idx * sa[d];
                                  ob += idx * sb[d];
                                }
                                Q* yr = y + r * inner;
                                for (int64_t j = 0; j < inner; ++j) yr[j] = op(a[oa + j * ia], b[ob + j * ib]);
                              }
                            });
  });
}

// ---- Unary ops through a 256-entry table: X, X_scale, X_zp, Y_scale, Y_zp

template <typename Q, typename Fn>
std::array<Q, 256> build_table(const QParams& qx, const QParams& qy, Fn&& f) {
  std::array<Q, 256> t{};
  for (int v = 0; v < 256; ++v) {
    const Q q = static_cast<Q>(std::is_signed<Q>::value ? v - 128 : v);
    const float x = static_cast<float>(static_cast<int32_t>(q) - qx.zp) * qx.scale;
    t[static_cast<uint8_t>(q)] = saturate_round<Q>(f(x) / qy.scale, qy.zp);
  }
  return t;
}

template <typename Fn>
void qlinear_lookup(KernelContext& ctx, Fn&& f) {
  const std::string what = ctx.node().describe();
  const Tensor& X = ctx.input(0);
  const QParams qx = qparams(ctx, 1, 2, what), qy = qparams(ctx, 3, 4, what);
  PIONNX_ENFORCE(out_dtype(ctx, 4, X.dtype()) == X.dtype(), InvalidArgument, what,
                 ": Y_zero_point dtype differs from X's");
  Tensor& Y = ctx.output(0, X.dtype(), X.shape());
  dispatch_q8(X.dtype(), what, [&](auto tag) {
    using Q = typename decltype(tag)::type;
    const auto table = build_table<Q>(qx, qy, f);
    const uint8_t* x = static_cast<const uint8_t*>(X.raw());
    Q* y = Y.data<Q>();
    ctx.pool().parallel_for(X.numel(), 65536, [&](int64_t i0, int64_t i1) {
      for (int64_t i = i0; i < i1; ++i) y[i] = table[x[i]];
    });
  });
}

void qlinear_sigmoid(KernelContext& ctx) {
  qlinear_lookup(ctx, [](float x) { return 1.0f / (1.0f + std::exp(-x)); });
}

class QLinearLeakyRelu final : public Kernel {
 public:
  explicit QLinearLeakyRelu(const KernelInfo& info) : alpha_(info.node.attr_f("alpha", 0.01f)) {}
  void compute(KernelContext& ctx) const override {
    const float alpha = alpha_;
    qlinear_lookup(ctx, [alpha](float x) { return x >= 0 ? x : alpha * x; });
  }

 private:
  float alpha_;
};

// ---- QLinearSoftmax: X, X_scale, X_zp, Y_scale, Y_zp; attrs axis, opset.
// opset < 13 softmaxes the flattened [prod(dims[:axis]), prod(dims[axis:])];
// from 13 along `axis` alone.
class QLinearSoftmax final : public Kernel {
 public:
  explicit QLinearSoftmax(const KernelInfo& info)
      : opset_(info.node.attr_i("opset", 13)), axis_(info.node.attr_i("axis", opset_ < 13 ? 1 : -1)) {}

  void compute(KernelContext& ctx) const override {
    const std::string what = ctx.node().describe();
    const Tensor& X = ctx.input(0);
    const QParams qx = qparams(ctx, 1, 2, what), qy = qparams(ctx, 3, 4, what);
    Tensor& Y = ctx.output(0, out_dtype(ctx, 4, X.dtype()), X.shape());
    if (X.numel() == 0) return;
    const int64_t rank = static_cast<int64_t>(X.rank());
    const int64_t axis = normalize_axis(axis_, std::max<int64_t>(rank, 1), what);
    int64_t outer = 1, D = 1, inner = 1;
    for (int64_t d = 0; d < rank; ++d) {
      if (d < axis) outer *= X.dim(d);
      else if (d == axis || opset_ < 13) D *= X.dim(d);
      else inner *= X.dim(d);
    }
    dispatch_q8(X.dtype(), what, [&](auto tag) {
      using Q = typename decltype(tag)::type;
      PIONNX_ENFORCE(Y.dtype() == X.dtype(), InvalidArgument, what, ": y_zero_point dtype differs from x's");
      const Q* x = X.data<Q>();
      Q* y = Y.data<Q>();
      // exp of every representable input relative to the largest one.
      ctx.pool().parallel_for(outer * inner, grain_size(4096, D), [&](int64_t r0, int64_t r1) {
        std::vector<float> e(static_cast<size_t>(D));
        for (int64_t r = r0; r < r1; ++r) {
          const int64_t base = (r / inner) * D * inner + r % inner;
          int32_t mx = std::numeric_limits<int32_t>::min();
          for (int64_t k = 0; k < D; ++k) mx = std::max<int32_t>(mx, x[base + k * inner]);
          float sum = 0.f;
          for (int64_t k = 0; k < D; ++k) {
            e[k] = std::exp(static_cast<float>(static_cast<int32_t>(x[base + k * inner]) - mx) * qx.scale);
            sum += e[k];
          }
          const float inv = 1.0f / (sum * qy.scale);
          for (int64_t k = 0; k < D; ++k) y[base + k * inner] = saturate_round<Q>(e[k] * inv, qy.zp);
        }
      });
    });
  }

 private:
  int64_t opset_, axis_;
};

// ---- QLinearConcat: Y_scale, Y_zp, then (X_i, X_i_scale, X_i_zp) triples.
class QLinearConcat final : public Kernel {
 public:
  explicit QLinearConcat(const KernelInfo& info) : axis_(info.node.require("axis").i) {}

  void compute(KernelContext& ctx) const override {
    const std::string what = ctx.node().describe();
    const size_t n_in = (ctx.num_inputs() - 2) / 3;
    PIONNX_ENFORCE(n_in >= 1 && ctx.num_inputs() == 2 + 3 * n_in, InvalidArgument, what,
                   ": expected Y_scale, Y_zero_point and (X, scale, zero point) triples, got ", ctx.num_inputs(),
                   " inputs");
    const QParams qy = qparams(ctx, 0, 1, what);
    const Tensor& X0 = ctx.input(2);
    const DType dt = out_dtype(ctx, 1, X0.dtype());
    const int64_t rank = static_cast<int64_t>(X0.rank());
    const int64_t axis = normalize_axis(axis_, rank, what);
    Shape out_shape = X0.shape();
    out_shape[axis] = 0;
    for (size_t i = 0; i < n_in; ++i) {
      const Tensor& Xi = ctx.input(2 + 3 * i);
      PIONNX_ENFORCE(Xi.dtype() == dt && Xi.rank() == X0.rank(), InvalidArgument, what, ": input ", i, " has dtype ",
                     dtype_name(Xi.dtype()), " and shape ", shape_str(Xi.shape()));
      for (int64_t d = 0; d < rank; ++d)
        PIONNX_ENFORCE(d == axis || Xi.dim(d) == X0.dim(d), InvalidArgument, what, ": input ", i, " shape ",
                       shape_str(Xi.shape()), " does not match ", shape_str(X0.shape()), " off axis ", axis);
      out_shape[axis] += Xi.dim(axis);
    }
    Tensor& Y = ctx.output(0, dt, out_shape);
    int64_t outer = 1, inner = 1;
    for (int64_t d = 0; d < axis; ++d) outer *= out_shape[d];
    for (int64_t d = axis + 1; d < rank; ++d) inner *= out_shape[d];
    const int64_t out_row = out_shape[axis] * inner;
    dispatch_q8(dt, what, [&](auto tag) {
      using Q = typename decltype(tag)::type;
      Q* y = Y.data<Q>();
      int64_t offset = 0;
      for (size_t i = 0; i < n_in; ++i) {
        const Tensor& Xi = ctx.input(2 + 3 * i);
        const QParams qx = qparams(ctx, 3 + 3 * i, 4 + 3 * i, what);
        const int64_t row = Xi.dim(axis) * inner;
        const Q* x = Xi.data<Q>();
        const bool same = qx.scale == qy.scale && qx.zp == qy.zp;
        const auto table = build_table<Q>(qx, qy, [](float v) { return v; });
        for (int64_t o = 0; o < outer; ++o) {
          const Q* src = x + o * row;
          Q* dst = y + o * out_row + offset;
          if (same) {
            std::memcpy(dst, src, static_cast<size_t>(row) * sizeof(Q));
          } else {
            for (int64_t j = 0; j < row; ++j) dst[j] = table[static_cast<uint8_t>(src[j])];
          }
        }
        offset += row;
      }
    });
  }

 private:
  int64_t axis_;
};

// ---- QLinearGlobalAveragePool: X, x_scale, x_zp, y_scale, y_zp; channels_last.
class QLinearGlobalAveragePool final : public Kernel {
 public:
  explicit QLinearGlobalAveragePool(const KernelInfo& info)
      : channels_last_(info.node.attr_i("channels_last", 0) != 0) {}

  void compute(KernelContext& ctx) const override {
    const std::string what = ctx.node().describe();
    const Tensor& X = ctx.input(0);
    PIONNX_ENFORCE(X.rank() >= 3, InvalidArgument, what, ": X must have rank >= 3, got ", shape_str(X.shape()));
    const QParams qx = qparams(ctx, 1, 2, what), qy = qparams(ctx, 3, 4, what);
    const int64_t N = X.dim(0), C = channels_last_ ? X.dim(-1) : X.dim(1);
    const int64_t S = X.numel() / std::max<int64_t>(1, N * C);
    Shape out_shape = X.shape();
    for (size_t d = 1; d < out_shape.size(); ++d)
      if (channels_last_ ? d + 1 < out_shape.size() : d >= 2) out_shape[d] = 1;
    Tensor& Y = ctx.output(0, out_dtype(ctx, 4, X.dtype()), out_shape);
    PIONNX_ENFORCE(Y.dtype() == X.dtype(), InvalidArgument, what, ": y_zero_point dtype differs from X's");
    const double mult = static_cast<double>(qx.scale) / (static_cast<double>(qy.scale) * std::max<int64_t>(1, S));
    dispatch_q8(X.dtype(), what, [&](auto tag) {
      using Q = typename decltype(tag)::type;
      const Q* x = X.data<Q>();
      Q* y = Y.data<Q>();
      ctx.pool().parallel_for(N * C, std::max<int64_t>(1, 16384 / std::max<int64_t>(1, S)),
                              [&](int64_t r0, int64_t r1) {
                                for (int64_t r = r0; r < r1; ++r) {
                                  const int64_t n = r / C, c = r % C;
                                  int64_t sum = 0;
                                  if (channels_last_) {
                                    for (int64_t s = 0; s < S; ++s) sum += x[(n * S + s) * C + c];
                                  } else {
                                    for (int64_t s = 0; s < S; ++s) sum += x[r * S + s];
                                  }
                                  y[r] = saturate_round<Q>(static_cast<double>(sum - int64_t{qx.zp} * S) * mult, qy.zp);
                                }
                              });
    });
  }

 private:
  bool channels_last_;
};

// ---- QLinearAveragePool: X, x_scale, x_zp, y_scale, y_zp; pool attributes.
class QLinearAveragePool final : public Kernel {
 public:
  explicit QLinearAveragePool(const KernelInfo& info)
      : window_(WindowAttrs::from_node(info.node)),
        kernel_(info.node.require("kernel_shape").ints),
        include_pad_(info.node.attr_i("count_include_pad", 0) != 0),
        channels_last_(info.node.attr_i("channels_last", 0) != 0) {}

  void compute(KernelContext& ctx) const override {
    const std::string what = ctx.node().describe();
    const Tensor& X = ctx.input(0);
    const int nd = static_cast<int>(X.rank()) - 2;
    PIONNX_ENFORCE(nd >= 1 && nd <= 3 && static_cast<int>(kernel_.size()) == nd, InvalidArgument, what,
                   ": kernel_shape ", kernel_.size(), "-D does not fit X ", shape_str(X.shape()));
    PIONNX_ENFORCE(!channels_last_, NotImplemented, what, ": channels_last=1 is not supported");
    const QParams qx = qparams(ctx, 1, 2, what), qy = qparams(ctx, 3, 4, what);
    // Everything as 3 spatial dims, unused leading ones of size 1.
    int64_t in[3] = {1, 1, 1}, out[3] = {1, 1, 1}, k[3] = {1, 1, 1}, s[3] = {1, 1, 1};
    int64_t pb[3] = {0, 0, 0}, pe[3] = {0, 0, 0};
    Shape out_shape = {X.dim(0), X.dim(1)};
    // The checked window arithmetic every Conv and pool shares (strides > 0, pads >= 0, the
    // ceil_mode rule, no size that wraps int64).
    std::vector<int64_t> in_dims(nd);
    for (int d = 0; d < nd; ++d) in_dims[d] = X.dim(2 + d);
    const WindowGeometry wg = resolve_window(window_, in_dims, kernel_, what);
    wg.kernel_size();  // the window's element count must fit int64 too (it divides the sums)
    for (int d = 0; d < nd; ++d) {
      const int e = 3 - nd + d;
      in[e] = in_dims[d];
      k[e] = kernel_[d];
      s[e] = wg.strides[d];
      pb[e] = wg.pad_begin[d];
      pe[e] = wg.pad_end[d];
      out[e] = wg.out[d];
      PIONNX_ENFORCE(out[e] > 0, InvalidArgument, what, ": kernel larger than padded input");
      out_shape.push_back(out[e]);
    }
    Tensor& Y = ctx.output(0, out_dtype(ctx, 4, X.dtype()), out_shape);
    PIONNX_ENFORCE(Y.dtype() == X.dtype(), InvalidArgument, what, ": y_zero_point dtype differs from X's");
    const int64_t isz = in[0] * in[1] * in[2], osz = out[0] * out[1] * out[2];
    const float ratio = qx.scale / qy.scale;
    dispatch_q8(X.dtype(), what, [&](auto tag) {
      using Q = typename decltype(tag)::type;
      const Q* x = X.data<Q>();
      Q* y = Y.data<Q>();
      ctx.pool().parallel_for(X.dim(0) * X.dim(1), 1, [&](int64_t r0, int64_t r1) {
        for (int64_t r = r0; r < r1; ++r) {
          const Q* xc = x + r * isz;
          Q* yc = y + r * osz;
          for (int64_t od = 0; od < out[0]; ++od)
            for (int64_t oh = 0; oh < out[1]; ++oh)
              for (int64_t ow = 0; ow < out[2]; ++ow) {
                int64_t lo[3], hi[3], padded = 1, valid = 1;
                const int64_t o[3] = {od, oh, ow};
                for (int e = 0; e < 3; ++e) {
                  lo[e] = o[e] * s[e] - pb[e];
                  hi[e] = std::min(lo[e] + k[e], in[e] + pe[e]);
                  padded *= hi[e] - lo[e];
                  lo[e] = std::max<int64_t>(lo[e], 0);
                  hi[e] = std::min(hi[e], in[e]);
                  valid *= std::max<int64_t>(0, hi[e] - lo[e]);
                }
                int64_t sum = 0;
                for (int64_t id = lo[0]; id < hi[0]; ++id)
                  for (int64_t ih = lo[1]; ih < hi[1]; ++ih)
                    for (int64_t iw = lo[2]; iw < hi[2]; ++iw) sum += xc[(id * in[1] + ih) * in[2] + iw];
                const int64_t count = include_pad_ ? padded : valid;
                const float avg = count > 0 ? static_cast<float>(sum - int64_t{qx.zp} * valid) / count : 0.f;
                yc[(od * out[1] + oh) * out[2] + ow] = saturate_round<Q>(avg * ratio, qy.zp);
              }
        }
      });
    });
  }

 private:
  WindowAttrs window_;
  std::vector<int64_t> kernel_;
  bool include_pad_, channels_last_;
};

}  // namespace

void register_quant_microsoft(KernelRegistry& r) {
  r.add_fn(kMsDomain, "QLinearAdd", qlinear_binary<false>);
  r.add_fn(kMsDomain, "QLinearMul", qlinear_binary<true>);
  r.add_all(kMsDomain, {impl_fn("QLinearSigmoid", qlinear_sigmoid), impl<QLinearLeakyRelu>("QLinearLeakyRelu"),
                        impl<QLinearSoftmax>("QLinearSoftmax"), impl<QLinearConcat>("QLinearConcat"),
                        impl<QLinearGlobalAveragePool>("QLinearGlobalAveragePool"),
                        impl<QLinearAveragePool>("QLinearAveragePool")});
}

}  // namespace pionnx
