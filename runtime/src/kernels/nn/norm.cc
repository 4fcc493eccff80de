// Normalizations: BatchNormalization, InstanceNormalization,
// LayerNormalization, GroupNormalization, RMSNormalization, LRN,
// MeanVarianceNormalization, LpNormalization. Statistics accumulate in
// double; float16/bfloat16 compute in float32.
#include <algorithm>
#include <cmath>
#include <type_traits>
#include <vector>

#include "kernels/base/cast.h"
#include "kernels/base/dtype_dispatch.h"
#include "kernels/base/kernel.h"
#include "kernels/base/shapes.h"
#include "kernels/simd/elementwise_math.h"
#include "kernels/tensor/strided.h"
#include "platform/thread_pool.h"

namespace pionnx {
namespace {

bool is_half(DType t) { return t == DType::Float16 || t == DType::BFloat16; }

// Any float tensor's values as doubles (per-channel parameters).
std::vector<double> as_doubles(const Tensor& t) {
  const Tensor d = cast_tensor(t, DType::Double);
  const double* p = d.data<double>();
  return std::vector<double>(p, p + d.numel());
}

// Input 0 in its compute dtype (float32 for 16-bit floats) and outputs
// allocated to match: by the context directly, or as float32 scratch cast
// back by finish() for 16-bit inputs.
class FloatIO {
 public:
  FloatIO(KernelContext& ctx, const Tensor& x)
      : ctx_(ctx), orig_(x.dtype()), half_(is_half(x.dtype())), x_(half_ ? to_float32(x) : x) {
    PIONNX_ENFORCE(half_ || x.dtype() == DType::Float || x.dtype() == DType::Double, NotImplemented,
                   ctx.node().describe(), ": dtype ", dtype_name(x.dtype()), " is not supported");
  }
  const Tensor& x() const { return x_; }
  DType dtype() const { return x_.dtype(); }
  Tensor out(size_t i, Shape shape) {
    Tensor t = half_ ? Tensor(DType::Float, shape) : ctx_.output(i, x_.dtype(), shape);
    if (half_) pending_.emplace_back(i, t);
    return t;
  }
  void finish() {
    for (auto& [i, t] : pending_) ctx_.set_output(i, cast_tensor(t, orig_));
  }

 private:
  KernelContext& ctx_;
  DType orig_;
  bool half_;
  Tensor x_;
  std::vector<std::pair<size_t, Tensor>> pending_;
};

// Mean and population variance of n values, two passes for accuracy.
template <typename T>
void mean_var(const T* x, int64_t n, double* mean, double* var) {
  if constexpr (std::is_same_v<T, float>) {
    // Vector lanes (fastmath's row sums: AVX2 / AVX-512 / NEON where the CPU has them), added in double; the sums
    // are of x - x[0] and of (x - mean)^2, so values far from 0 (a plane around 300 with a spread of 0.01) keep
    // their digits in the float lanes.
    if (n <= 0) {
      *mean = *var = 0.0;
      return;
    }
    const double m = x[0] + fastmath::row_sum_block(x, n, x[0], false) / n;
    *mean = m;
    *var = fastmath::row_sum_block(x, n, static_cast<float>(m), true) / n;
    return;
  }
  double s = 0;
  for (int64_t i = 0; i < n; ++i) s += x[i];
  const double m = n > 0 ? s / n : 0.0;
  double v = 0;
  for (int64_t i = 0; i < n; ++i) v += (x[i] - m) * (x[i] - m);
  *mean = m;
  *var = n > 0 ? v / n : 0.0;
}

// ------------------------------------------------------ BatchNormalization

class BatchNormKernel : public Kernel {
 public:
  explicit BatchNormKernel(const KernelInfo& info)
      : eps_(info.node.attr_f("epsilon", 1e-5f)), momentum_(info.node.attr_f("momentum", 0.9f)) {
    // Before opset 14 the extra outputs belonged to training graphs; an
    // inference runtime reads such models in inference mode.
    training_ = info.opset >= 14 && info.node.attr_i("training_mode", 0) != 0;
    legacy_outputs_ = info.opset < 14;
  }

  void compute(KernelContext& ctx) const override {
    const std::string what = ctx.node().describe();
    FloatIO io(ctx, ctx.input(0));
    const Tensor& x = io.x();
    PIONNX_ENFORCE(x.rank() >= 2, InvalidArgument, what, ": X must be [N, C, ...], got ", shape_str(x.shape()));
    const int64_t N = x.dim(0), C = x.dim(1), S = N * C == 0 ? 0 : x.numel() / (N * C);
    std::vector<double> scale = as_doubles(ctx.input(1)), bias = as_doubles(ctx.input(2));
    std::vector<double> mean = as_doubles(ctx.input(3)), var = as_doubles(ctx.input(4));
    for (const auto* v : {&scale, &bias, &mean, &var})
      PIONNX_ENFORCE(static_cast<int64_t>(v->size()) == C, InvalidArgument, what,
                     ": scale, B, mean and var must have C=", C, " values, got ", v->size());
    Tensor y = io.out(0, x.shape());
    dispatch_float(io.dtype(), what, [&](auto tag) {
      using T = typename decltype(tag)::type;
      const T* X = x.data<T>();
      std::vector<double> cur_mean = mean, cur_var = var;
      if (training_) batch_stats(X, N, C, S, &cur_mean, &cur_var);
      std::vector<T> a(C), b(C);
      for (int64_t c = 0; c < C; ++c) {
        const double inv = 1.0 / std::sqrt(cur_var[c] + eps_);
        a[c] = static_cast<T>(scale[c] * inv);
        b[c] = static_cast<T>(bias[c] - cur_mean[c] * scale[c] * inv);
      }
      T* Y = y.data<T>();
      ctx.pool().parallel_for(N * C, std::max<int64_t>(1, 32768 / std::max<int64_t>(1, S)),
                              [&](int64_t p0, int64_t p1) {
                                for (int64_t p = p0; p < p1; ++p) {
                                  const T ac = a[p % C], bc = b[p % C];
                                  const T* xp = X + p * S;
                                  T* yp = Y + p * S;
                                  for (int64_t i = 0; i < S; ++i) yp[i] = xp[i] * ac + bc;
                                }
                              });
      if (training_ || ctx.wants_output(1) || ctx.wants_output(2))
        write_running(ctx, io, cur_mean, cur_var, mean, var, C, tag);
    });
    io.finish();
  }

 private:
  template <typename T>
  static void batch_stats(const T* X, int64_t N, int64_t C, int64_t S, std::vector<double>* mean,
                          std::vector<double>* var) {
    for (int64_t c = 0; c < C; ++c) {
      double s = 0, s2 = 0;
      for (int64_t n = 0; n < N; ++n)
        for (int64_t i = 0; i < S; ++i) s += X[(n * C + c) * S + i];
      const double m = N * S > 0 ? s / (N * S) : 0.0;
      for (int64_t n = 0; n < N; ++n)
        for (int64_t i = 0; i < S; ++i) {
          const double d = X[(n * C + c) * S + i] - m;
          s2 += d * d;
        }
      (*mean)[c] = m;
      (*var)[c] = N * S > 0 ? s2 / (N * S) : 0.0;
    }
  }

  // Training outputs: running_mean, running_var (and for opset < 14 the
  // saved batch mean and variance).
  template <typename Tag>
  void write_running(KernelContext& ctx, FloatIO& io, const std::vector<double>& cur_mean,
                     const std::vector<double>& cur_var, const std::vector<double>& mean,
                     const std::vector<double>& var, int64_t C, Tag) const {
    using T = typename Tag::type;
    auto put = [&](size_t i, auto value) {
      if (!ctx.wants_output(i)) return;
      Tensor t = io.out(i, {C});
      T* d = t.data<T>();
      for (int64_t c = 0; c < C; ++c) d[c] = static_cast<T>(value(c));
    };
    const double m = training_ ? momentum_ : 1.0;
    put(1, [&](int64_t c) { return mean[c] * m + cur_mean[c] * (1 - m); });
    put(2, [&](int64_t c) { return var[c] * m + cur_var[c] * (1 - m); });
    if (legacy_outputs_) {
      put(3, [&](int64_t c) { return cur_mean[c]; });
      put(4, [&](int64_t c) { return cur_var[c]; });
    }
  }

  float eps_, momentum_;
  bool training_ = false, legacy_outputs_ = false;
};

// ------------------------------------------------- InstanceNormalization

// Normalizes X [N, C, ...] over groups of C / groups channels each (all the
// positions of a group's channels), then scales and shifts per channel:
// GroupNormalization (scale and bias per group below opset 21, per channel
// from it) and InstanceNormalization (one group per channel: groups == 0).
void normalize_groups(KernelContext& ctx, int64_t groups, bool per_group_params, double eps) {
  const std::string what = ctx.node().describe();
  FloatIO io(ctx, ctx.input(0));
  const Tensor& x = io.x();
  PIONNX_ENFORCE(x.rank() >= 2, InvalidArgument, what, ": X must be [N, C, ...], got ", shape_str(x.shape()));
  const int64_t N = x.dim(0), C = x.dim(1), S = N * C == 0 ? 0 : x.numel() / (N * C);
  if (groups == 0) groups = std::max<int64_t>(C, 1);
  PIONNX_ENFORCE(groups > 0 && C % groups == 0, InvalidArgument, what, ": num_groups=", groups,
                 " does not divide C=", C);
  const std::vector<double> scale = as_doubles(ctx.input(1)), bias = as_doubles(ctx.input(2));
  const int64_t want = per_group_params ? groups : C;
  PIONNX_ENFORCE(static_cast<int64_t>(scale.size()) == want && static_cast<int64_t>(bias.size()) == want,
                 InvalidArgument, what, ": scale and bias must have ", want, " values, got ", scale.size(), " and ",
                 bias.size());
  const int64_t Cg = C / groups;
  Tensor y = io.out(0, x.shape());
  dispatch_float(io.dtype(), what, [&](auto tag) {
    using T = typename decltype(tag)::type;
    const T* X = x.data<T>();
    T* Y = y.data<T>();
    ctx.pool().parallel_for(N * groups, 1, [&](int64_t g0, int64_t g1) {
      for (int64_t ng = g0; ng < g1; ++ng) {
        const int64_t g = ng % groups;
        double m, v;
        mean_var(X + ng * Cg * S, Cg * S, &m, &v);
        const double inv = 1.0 / std::sqrt(v + eps);
        for (int64_t ci = 0; ci < Cg; ++ci) {
          const int64_t c = g * Cg + ci, k = per_group_params ? g : c;
          const double a = scale[k] * inv, b = bias[k] - m * a;
          const T* xc = X + (ng * Cg + ci) * S;
          T* yc = Y + (ng * Cg + ci) * S;
          if constexpr (std::is_same_v<T, float>) {
            // In float, so the loop vectorizes (in double every value was widened and narrowed back): the mean as
            // a float and the rest of it (x - mh is exact near the mean), then scale and bias, not x * a + b,
            // whose two terms cancel where the values sit far from 0.
            const float mh = static_cast<float>(m), ml = static_cast<float>(m - mh);
            const float af = static_cast<float>(scale[k] * inv), bf = static_cast<float>(bias[k]);
            for (int64_t i = 0; i < S; ++i) yc[i] = ((xc[i] - mh) - ml) * af + bf;
          } else {
            for (int64_t i = 0; i < S; ++i) yc[i] = static_cast<T>(xc[i] * a + b);
          }
        }
      }
    });
  });
  io.finish();
}

void instance_norm(KernelContext& ctx) { normalize_groups(ctx, 0, false, ctx.node().attr_f("epsilon", 1e-5f)); }

// ------------------------------------ LayerNormalization, RMSNormalization

// Scale/bias broadcast (one way) to X, as a per-element table over the
// normalized block when they vary only inside it, else over all of X.
template <typename T>
std::vector<T> broadcast_param(const Tensor* p, const Shape& xs, int64_t inner, const std::string& what,
                               bool* per_row) {
  *per_row = false;
  if (!p) return {};
  const std::vector<double> v = as_doubles(*p);
  if (static_cast<int64_t>(v.size()) == inner || v.size() == 1) {
    std::vector<T> out(static_cast<size_t>(inner));
    for (int64_t j = 0; j < inner; ++j) out[j] = static_cast<T>(v.size() == 1 ? v[0] : v[j]);
    return out;
  }
  const Shape full = broadcast_shapes(p->shape(), xs, what);
  PIONNX_ENFORCE(full == xs, InvalidArgument, what, ": parameter of shape ", shape_str(p->shape()),
                 " does not broadcast to X ", shape_str(xs));
  const std::vector<int64_t> st = broadcast_strides(p->shape(), xs);
  std::vector<T> out(static_cast<size_t>(shape_numel(xs)));
  IndexIter it(xs);
  size_t k = 0;
  if (!out.empty()) do {
      int64_t off = 0;
      for (size_t d = 0; d < xs.size(); ++d) off += it.idx[d] * st[d];
      out[k++] = static_cast<T>(v[off]);
    } while (it.next());
  *per_row = true;
  return out;
}

// Statistics of one normalized row: mean (0 for RMS) and 1 / sqrt(var + eps)
// (var: the mean square for RMS). Two passes for accuracy.
template <typename T>
void row_stats(const T* x, int64_t n, bool rms, float eps, double* mean, double* inv) {
  double m = 0, v;
  if constexpr (std::is_same_v<T, float>) {
    // Vector lanes (AVX2 / NEON where the CPU has them), added in double.
    if (!rms) m = n > 0 ? fastmath::row_sum_block(x, n, 0.f, false) / n : 0.0;
    v = n > 0 ? fastmath::row_sum_block(x, n, static_cast<float>(m), true) / n : 0.0;
  } else if (rms) {
    double s2 = 0;
    for (int64_t j = 0; j < n; ++j) s2 += static_cast<double>(x[j]) * x[j];
    v = n > 0 ? s2 / n : 0.0;
  } else {
    mean_var(x, n, &m, &v);
  }
  *mean = m;
  *inv = 1.0 / std::sqrt(v + eps);
}

// y = (x - mean) * inv * scale (+ bias) over one row.
template <typename T>
void normalize_row(const T* x, T* y, int64_t n, double mean, double inv, const T* sc, const T* bi) {
  const T tm = static_cast<T>(mean), ti = static_cast<T>(inv);
  if constexpr (std::is_same_v<T, float>) return fastmath::normalize_row_block(x, y, n, tm, ti, sc, bi);
  if (bi) {
    for (int64_t j = 0; j < n; ++j) y[j] = (x[j] - tm) * ti * sc[j] + bi[j];
  } else {
    for (int64_t j = 0; j < n; ++j) y[j] = (x[j] - tm) * ti * sc[j];
  }
}

class LayerNormKernel : public Kernel {
 public:
  LayerNormKernel(const KernelInfo& info, bool rms)
      : rms_(rms), axis_(info.node.attr_i("axis", -1)), eps_(info.node.attr_f("epsilon", 1e-5f)) {}

  void compute(KernelContext& ctx) const override {
    const std::string what = ctx.node().describe();
    FloatIO io(ctx, ctx.input(0));
    const Tensor& x = io.x();
    const int64_t rank = static_cast<int64_t>(x.rank());
    const int64_t axis = normalize_axis(axis_, rank, what);
    int64_t outer = 1, inner = 1;
    for (int64_t d = 0; d < rank; ++d) (d < axis ? outer : inner) *= x.dim(d);
    Shape stat_shape = x.shape();
    for (int64_t d = axis; d < rank; ++d) stat_shape[d] = 1;

    Tensor y = io.out(0, x.shape());
    Tensor mean_t, inv_t;
    if (!rms_ && ctx.wants_output(1)) mean_t = io.out(1, stat_shape);
    if (!rms_ && ctx.wants_output(2)) inv_t = io.out(2, stat_shape);
    dispatch_float(io.dtype(), what, [&](auto tag) {
      using T = typename decltype(tag)::type;
      bool scale_full, bias_full;
      const std::vector<T> scale = broadcast_param<T>(&ctx.input(1), x.shape(), inner, what, &scale_full);
      const std::vector<T> bias =
          broadcast_param<T>(rms_ ? nullptr : ctx.optional_input(2), x.shape(), inner, what, &bias_full);
      const T* X = x.data<T>();
      T* Y = y.data<T>();
      T* M = mean_t.defined() ? mean_t.data<T>() : nullptr;
      T* I = inv_t.defined() ? inv_t.data<T>() : nullptr;
      ctx.pool().parallel_for(outer, std::max<int64_t>(1, 8192 / std::max<int64_t>(1, inner)),
                              [&](int64_t r0, int64_t r1) {
                                for (int64_t r = r0; r < r1; ++r) {
                                  double m, inv;
                                  row_stats(X + r * inner, inner, rms_, eps_, &m, &inv);
                                  if (M) M[r] = static_cast<T>(m);
                                  if (I) I[r] = static_cast<T>(inv);
                                  const T* sc = scale.data() + (scale_full ? r * inner : 0);
                                  const T* bi = bias.empty() ? nullptr : bias.data() + (bias_full ? r * inner : 0);
                                  normalize_row(X + r * inner, Y + r * inner, inner, m, inv, sc, bi);
                                }
                              });
    });
    io.finish();
  }

 private:
  bool rms_;
  int64_t axis_;
  float eps_;
};

// com.microsoft SkipLayerNormalization (onnxruntime's contrib op, what its
// optimizer and pionnx's fuse_layer_norm write for BERT's residual
// blocks): s = input + skip (+ bias), y = LayerNorm(s) over the last axis
// with gamma (and beta). Outputs: y, mean and inv_std_var (shape [..., 1]),
// and s itself (input_skip_bias_sum) when asked for. skip may broadcast to
// input (onnxruntime: [1, S, H] or [S, H] against [B, S, H]) and input to
// skip; any other broadcast is computed through a full-size sum.
class SkipLayerNormKernel : public Kernel {
 public:
  explicit SkipLayerNormKernel(const KernelInfo& info) : eps_(info.node.attr_f("epsilon", 1e-12f)) {}

  void compute(KernelContext& ctx) const override {
    const std::string what = ctx.node().describe();
    const Tensor& in = ctx.input(0);
    const Tensor& skip = ctx.input(1);
    PIONNX_ENFORCE(in.dtype() == skip.dtype(), InvalidArgument, what, ": input is ", dtype_name(in.dtype()),
                   " but skip is ", dtype_name(skip.dtype()));
    const Shape shape = broadcast_shapes(in.shape(), skip.shape(), what);
    PIONNX_ENFORCE(!shape.empty(), InvalidArgument, what, ": input and skip are both scalars");
    const int64_t H = shape.back(), rows = shape_numel(shape) / std::max<int64_t>(H, 1);
    FloatIO io(ctx, in);
    const Tensor a = io.x();
    const Tensor b = is_half(skip.dtype()) ? to_float32(skip) : skip;
    auto param = [&](size_t i, const char* name) -> Tensor {
      const Tensor* p = ctx.optional_input(i);
      if (!p) return Tensor();
      PIONNX_ENFORCE(p->numel() == H && p->dim(-1) == H, InvalidArgument, what, ": ", name, " must hold ", H,
                     " values (the hidden size), got ", shape_str(p->shape()));
      return cast_tensor(*p, io.dtype());
    };
    const Tensor gamma = param(2, "gamma"), beta = param(3, "beta"), bias = param(4, "bias");
    PIONNX_ENFORCE(gamma.defined(), InvalidArgument, what, ": gamma is required");
    Shape stat_shape = shape;
    stat_shape.back() = 1;
    Tensor y = io.out(0, shape);
    Tensor mean_t = ctx.wants_output(1) ? io.out(1, stat_shape) : Tensor();
    Tensor inv_t = ctx.wants_output(2) ? io.out(2, stat_shape) : Tensor();
    Tensor sum_t = ctx.wants_output(3) ? io.out(3, shape) : Tensor();
    // Row r of each addend: rows repeat when it broadcasts over the leading
    // dimensions only; otherwise it is expanded once to the full shape.
    auto rows_of = [&](const Tensor& t) -> Tensor {
      if (t.rank() > 0) {
        size_t lead = 0;
        while (lead + 1 < t.rank() && t.shape()[lead] == 1) ++lead;
        const size_t k = t.rank() - lead;
        if (k <= shape.size() && std::equal(t.shape().begin() + lead, t.shape().end(), shape.end() - k)) return t;
      }
      Tensor full(t.dtype(), shape);
      strided_copy_any(t.dtype(), t.raw(), broadcast_strides(t.shape(), shape), shape, full.raw(), ctx.pool(), what);
      return full;
    };
    const Tensor A = rows_of(a), Bt = rows_of(b);
    const int64_t a_rows = A.numel() / std::max<int64_t>(H, 1), b_rows = Bt.numel() / std::max<int64_t>(H, 1);
    dispatch_float(io.dtype(), what, [&](auto tag) {
      using T = typename decltype(tag)::type;
      const T *X = A.data<T>(), *S = Bt.data<T>(), *G = gamma.data<T>();
      const T* Be = beta.defined() ? beta.data<T>() : nullptr;
      const T* Bi = bias.defined() ? bias.data<T>() : nullptr;
      T* Y = y.data<T>();
      T* M = mean_t.defined() ? mean_t.data<T>() : nullptr;
      T* I = inv_t.defined() ? inv_t.data<T>() : nullptr;
      T* Sum = sum_t.defined() ? sum_t.data<T>() : nullptr;
      ctx.pool().parallel_for(rows, std::max<int64_t>(1, 8192 / std::max<int64_t>(1, H)), [&](int64_t r0, int64_t r1) {
        std::vector<T> scratch(Sum ? 0 : static_cast<size_t>(H));
        for (int64_t r = r0; r < r1; ++r) {
          const T* xr = X + (r % a_rows) * H;
          const T* sr = S + (r % b_rows) * H;
          T* s = Sum ? Sum + r * H : scratch.data();
          if (Bi) {
            for (int64_t j = 0; j < H; ++j) s[j] = xr[j] + sr[j] + Bi[j];
          } else {
            for (int64_t j = 0; j < H; ++j) s[j] = xr[j] + sr[j];
          }
          double m, inv;
          row_stats(s, H, false, eps_, &m, &inv);
          if (M) M[r] = static_cast<T>(m);
          if (I) I[r] = static_cast<T>(inv);
          normalize_row(s, Y + r * H, H, m, inv, G, Be);
        }
      });
    });
    io.finish();
  }

 private:
  float eps_;
};

// ---------------------------------------------------- GroupNormalization

class GroupNormKernel : public Kernel {
 public:
  explicit GroupNormKernel(const KernelInfo& info)
      : groups_(info.node.require("num_groups").i),
        eps_(info.node.attr_f("epsilon", 1e-5f)),
        per_group_params_(info.opset < 21) {}

  void compute(KernelContext& ctx) const override {
    // Opset 18 has one scale/bias per group, opset 21 one per channel.
    normalize_groups(ctx, groups_, per_group_params_, eps_);
  }

 private:
  int64_t groups_;
  float eps_;
  bool per_group_params_;
};

// ------------------------------------------------------------------- LRN

class LrnKernel : public Kernel {
 public:
  explicit LrnKernel(const KernelInfo& info)
      : alpha_(info.node.attr_f("alpha", 1e-4f)),
        beta_(info.node.attr_f("beta", 0.75f)),
        bias_(info.node.attr_f("bias", 1.f)),
        size_(info.node.require("size").i) {
    PIONNX_ENFORCE(size_ > 0, InvalidGraph, info.node.describe(), ": size must be positive");
  }

  void compute(KernelContext& ctx) const override {
    const std::string what = ctx.node().describe();
    FloatIO io(ctx, ctx.input(0));
    const Tensor& x = io.x();
    PIONNX_ENFORCE(x.rank() >= 3, InvalidArgument, what, ": X must be [N, C, d1, ...], got ", shape_str(x.shape()));
    const int64_t N = x.dim(0), C = x.dim(1), S = N * C == 0 ? 0 : x.numel() / (N * C);
    const int64_t lo = (size_ - 1) / 2, hi = size_ / 2;  // floor and ceil of (size-1)/2
    Tensor y = io.out(0, x.shape());
    dispatch_float(io.dtype(), what, [&](auto tag) {
      using T = typename decltype(tag)::type;
      const T* X = x.data<T>();
      T* Y = y.data<T>();
      const T k = static_cast<T>(alpha_ / size_), b = static_cast<T>(bias_);
      const bool three_quarters = beta_ == 0.75f;
      ctx.pool().parallel_for(N * C, 1, [&](int64_t p0, int64_t p1) {
        std::vector<T> sum(static_cast<size_t>(S));
        for (int64_t p = p0; p < p1; ++p) {
          const int64_t n = p / C, c = p % C;
          std::fill(sum.begin(), sum.end(), T(0));
          for (int64_t i = std::max<int64_t>(0, c - lo); i <= std::min(C - 1, c + hi); ++i) {
            const T* xi = X + (n * C + i) * S;
            for (int64_t s = 0; s < S; ++s) sum[s] += xi[s] * xi[s];
          }
          const T* xc = X + p * S;
          T* yc = Y + p * S;
          for (int64_t s = 0; s < S; ++s) {
            const T d = b + k * sum[s];
            // d^-0.75 = 1 / (sqrt(d) * sqrt(sqrt(d))): AlexNet's beta, without pow.
            yc[s] = three_quarters ? xc[s] / (std::sqrt(d) * std::sqrt(std::sqrt(d)))
                                   : xc[s] / static_cast<T>(std::pow(d, static_cast<T>(beta_)));
          }
        }
      });
    });
    io.finish();
  }

 private:
  float alpha_, beta_, bias_;
  int64_t size_;
};

// --------------------------------------------- MeanVarianceNormalization

// Y = (X - mean) / (sqrt(var) + 1e-9), statistics over `axes`.
class MvnKernel : public Kernel {
 public:
  explicit MvnKernel(const KernelInfo& info) : axes_(info.node.attr_ints("axes", {0, 2, 3})) {}

  void compute(KernelContext& ctx) const override {
    const std::string what = ctx.node().describe();
    FloatIO io(ctx, ctx.input(0));
    const Tensor& x = io.x();
    const int64_t rank = static_cast<int64_t>(x.rank());
    Shape kept = x.shape();
    for (int64_t a : axes_) kept[normalize_axis(a, rank, what)] = 1;
    const std::vector<int64_t> kst = broadcast_strides(kept, x.shape());
    const int64_t groups = shape_numel(kept), n = groups == 0 ? 0 : x.numel() / groups;
    Tensor y = io.out(0, x.shape());
    dispatch_float(io.dtype(), what, [&](auto tag) {
      using T = typename decltype(tag)::type;
      const T* X = x.data<T>();
      T* Y = y.data<T>();
      // Statistics slot of every element, then sums per slot.
      std::vector<int64_t> slot(static_cast<size_t>(x.numel()));
      if (x.numel() > 0) {
        IndexIter it(x.shape());
        size_t k = 0;
        do {
          int64_t off = 0;
          for (int64_t d = 0; d < rank; ++d) off += it.idx[d] * kst[d];
          slot[k++] = off;
        } while (it.next());
      }
      std::vector<double> s(groups, 0.0), s2(groups, 0.0);
      for (int64_t i = 0; i < x.numel(); ++i) s[slot[i]] += X[i];
      for (auto& v : s) v /= std::max<int64_t>(1, n);
      for (int64_t i = 0; i < x.numel(); ++i) {
        const double d = X[i] - s[slot[i]];
        s2[slot[i]] += d * d;
      }
      for (auto& v : s2) v = std::sqrt(v / std::max<int64_t>(1, n)) + 1e-9;
      for (int64_t i = 0; i < x.numel(); ++i) Y[i] = static_cast<T>((X[i] - s[slot[i]]) / s2[slot[i]]);
    });
    io.finish();
  }

 private:
  std::vector<int64_t> axes_;
};

// ------------------------------------------------------- LpNormalization

class LpNormKernel : public Kernel {
 public:
  explicit LpNormKernel(const KernelInfo& info) : axis_(info.node.attr_i("axis", -1)), p_(info.node.attr_i("p", 2)) {
    PIONNX_ENFORCE(p_ == 1 || p_ == 2, InvalidGraph, info.node.describe(), ": p must be 1 or 2, got ", p_);
  }

  void compute(KernelContext& ctx) const override {
    const std::string what = ctx.node().describe();
    FloatIO io(ctx, ctx.input(0));
    const Tensor& x = io.x();
    const int64_t rank = static_cast<int64_t>(x.rank());
    const int64_t axis = normalize_axis(axis_, rank, what);
    int64_t outer = 1, inner = 1;
    for (int64_t d = 0; d < axis; ++d) outer *= x.dim(d);
    for (int64_t d = axis + 1; d < rank; ++d) inner *= x.dim(d);
    const int64_t len = x.dim(axis);
    Tensor y = io.out(0, x.shape());
    dispatch_float(io.dtype(), what, [&](auto tag) {
      using T = typename decltype(tag)::type;
      const T* X = x.data<T>();
      T* Y = y.data<T>();
      auto norm_rows = [&](int64_t o0, int64_t o1) {
        for (int64_t o = o0; o < o1; ++o) {
          if constexpr (std::is_same_v<T, float>) {
            if (inner == 1 && p_ == 2) {
              // A contiguous row: the squares summed in vector lanes (added in double), then one vector division.
              const float* xv = X + o * len;
              float* yv = Y + o * len;
              const double norm = std::sqrt(fastmath::row_sum_block(xv, len, 0.f, true));
              const float nf = static_cast<float>(norm);
              for (int64_t k = 0; k < len; ++k) yv[k] = norm == 0 ? 0.f : xv[k] / nf;
              continue;
            }
          }
          for (int64_t i = 0; i < inner; ++i) {
            const T* xv = X + o * len * inner + i;
            T* yv = Y + o * len * inner + i;
            double norm = 0;
            for (int64_t k = 0; k < len; ++k)
              norm += p_ == 1 ? std::abs(static_cast<double>(xv[k * inner]))
                              : static_cast<double>(xv[k * inner]) * xv[k * inner];
            if (p_ == 2) norm = std::sqrt(norm);
            // A zero vector stays zero (onnx's reference and onnxruntime), not 0 / 0.
            for (int64_t k = 0; k < len; ++k) yv[k * inner] = norm == 0 ? T(0) : static_cast<T>(xv[k * inner] / norm);
          }
        }
      };
      // Split by the vectors before the axis (a few thousand values a task at least).
      ctx.pool().parallel_for(outer, std::max<int64_t>(1, 16384 / std::max<int64_t>(1, len * inner)), norm_rows);
    });
    io.finish();
  }

 private:
  int64_t axis_, p_;
};

}  // namespace

void register_norm(KernelRegistry& r) {
  r.add<BatchNormKernel>("", "BatchNormalization");
  r.add_fn("", "InstanceNormalization", instance_norm);
  r.add("", "LayerNormalization", [](const KernelInfo& info) -> std::unique_ptr<Kernel> {
    return std::make_unique<LayerNormKernel>(info, false);
  });
  r.add("", "RMSNormalization", [](const KernelInfo& info) -> std::unique_ptr<Kernel> {
    return std::make_unique<LayerNormKernel>(info, true);
  });
  r.add<SkipLayerNormKernel>("com.microsoft", "SkipLayerNormalization");
  r.add_all("", {impl<GroupNormKernel>("GroupNormalization"), impl<LrnKernel>("LRN"),
                 impl<MvnKernel>("MeanVarianceNormalization"), impl<LpNormKernel>("LpNormalization")});
}

}  // namespace pionnx
