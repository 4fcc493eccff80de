// Pointwise activations (Relu ... Gelu, Mish), PRelu, Clip and Shrink. Each
// activation is a small functor built from the node's attributes; one kernel
// template runs it over the tensor. Softmax and friends are in
// activation_softmax.cc.
#include <cmath>
#include <limits>
#include <type_traits>

#include "core/int_arith.h"
#include "kernels/base/cast.h"
#include "kernels/base/kernel.h"
#include "kernels/base/shapes.h"
#include "kernels/math/elementwise_loops.h"
#include "kernels/simd/elementwise_math.h"

namespace pionnx {
namespace {

using namespace ew;

// Functors with a block(x, y, n) member have a vectorized float32 path.
template <typename F, typename = void>
struct HasBlock : std::false_type {};
template <typename F>
struct HasBlock<F, std::void_t<decltype(std::declval<const F&>().block(nullptr, nullptr, int64_t{0}))>>
    : std::true_type {};

template <typename F, unsigned Mask = kFloats>
class ActivationKernel : public Kernel {
 public:
  explicit ActivationKernel(const KernelInfo& info) : f_(info.node) {}
  bool computes_in_place() const override { return true; }
  void compute(KernelContext& ctx) const override {
    const Tensor& x = ctx.input(0);
    dispatch_types<Mask>(x.dtype(), ctx.node(), [&](auto tag) {
      using T = typename decltype(tag)::type;
      apply<T>(ctx, x, ctx.output(0, x.dtype(), x.shape()));
    });
  }

 private:
  // A member template, so the branch not taken is never instantiated (an
  // F without block() would not compile in it).
  template <typename T>
  void apply(KernelContext& ctx, const Tensor& x, Tensor& y) const {
    if constexpr (HasBlock<F>::value && std::is_same<T, float>::value) {
      const F& f = f_;
      float_block_apply(ctx.pool(), x, y, [&f](const float* a, float* b, int64_t n) { f.block(a, b, n); });
    } else {
      unary_apply<T, T>(ctx.pool(), x, y, f_);
    }
  }

  F f_;
};

// NaN passes through, as with numpy's maximum(x, 0).
struct ReluF {
  explicit ReluF(const Node&) {}
  template <typename T>
  T operator()(T v) const {
    return v < T(0) ? T(0) : v;
  }
};

struct LeakyReluF {
  float alpha;
  explicit LeakyReluF(const Node& n) : alpha(n.attr_f("alpha", 0.01f)) {}
  template <typename T>
  T operator()(T v) const {
    return v < T(0) ? T(alpha) * v : v;
  }
};

// exp(-v) overflowing to inf still gives the right limit 0.
struct SigmoidF {
  explicit SigmoidF(const Node&) {}
  template <typename T>
  T operator()(T v) const {
    return T(1) / (T(1) + std::exp(-v));
  }
  void block(const float* x, float* y, int64_t n) const { fastmath::sigmoid_block(x, y, n); }
};

struct TanhF {
  explicit TanhF(const Node&) {}
  template <typename T>
  T operator()(T v) const {
    return std::tanh(v);
  }
  void block(const float* x, float* y, int64_t n) const { fastmath::tanh_block(x, y, n); }
};

struct HardSigmoidF {
  float alpha, beta;
  explicit HardSigmoidF(const Node& n) : alpha(n.attr_f("alpha", 0.2f)), beta(n.attr_f("beta", 0.5f)) {}
  template <typename T>
  T operator()(T v) const {
    return std::min(T(1), std::max(T(0), T(alpha) * v + T(beta)));
  }
};

struct HardSwishF {
  explicit HardSwishF(const Node&) {}
  template <typename T>
  T operator()(T v) const {
    return v * std::min(T(1), std::max(T(0), v / T(6) + T(0.5)));
  }
};

struct EluF {
  float alpha;
  explicit EluF(const Node& n) : alpha(n.attr_f("alpha", 1.0f)) {}
  template <typename T>
  T operator()(T v) const {
    return v < T(0) ? T(alpha) * (std::exp(v) - T(1)) : v;
  }
};

struct SeluF {
  float alpha, gamma;
  explicit SeluF(const Node& n)
      : alpha(n.attr_f("alpha", 1.67326319217681884765625f)), gamma(n.attr_f("gamma", 1.05070102214813232421875f)) {}
  template <typename T>
  T operator()(T v) const {
    return v <= T(0) ? T(gamma) * (T(alpha) * std::exp(v) - T(alpha)) : T(gamma) * v;
  }
};

struct CeluF {
  float alpha;
  explicit CeluF(const Node& n) : alpha(n.attr_f("alpha", 1.0f)) {}
  template <typename T>
  T operator()(T v) const {
    return std::max(T(0), v) + std::min(T(0), T(alpha) * (std::exp(v / T(alpha)) - T(1)));
  }
};

// log(1 + e^v) without overflowing for large v.
template <typename T>
T softplus(T v) {
  return v > T(0) ? v + std::log1p(std::exp(-v)) : std::log1p(std::exp(v));
}

struct SoftplusF {
  explicit SoftplusF(const Node&) {}
  template <typename T>
  T operator()(T v) const {
    return softplus(v);
  }
};

struct SoftsignF {
  explicit SoftsignF(const Node&) {}
  template <typename T>
  T operator()(T v) const {
    return v / (T(1) + std::fabs(v));
  }
};

struct ThresholdedReluF {
  float alpha;
  explicit ThresholdedReluF(const Node& n) : alpha(n.attr_f("alpha", 1.0f)) {}
  template <typename T>
  T operator()(T v) const {
    return v > T(alpha) ? v : T(0);
  }
};

struct GeluF {
  bool tanh_approx;
  explicit GeluF(const Node& n) : tanh_approx(n.attr_s("approximate", "none") == "tanh") {
    const std::string a = n.attr_s("approximate", "none");
    PIONNX_ENFORCE(a == "none" || a == "tanh", InvalidGraph, n.describe(),
                   ": attribute approximate must be 'none' or 'tanh', got '", a, "'");
  }
  template <typename T>
  T operator()(T v) const {
    if (tanh_approx) {
      const T k = T(0.7978845608028654);  // sqrt(2 / pi)
      return T(0.5) * v * (T(1) + std::tanh(k * (v + T(0.044715) * v * v * v)));
    }
    return T(0.5) * v * (T(1) + std::erf(v * T(0.7071067811865476)));
  }
  void block(const float* x, float* y, int64_t n) const { fastmath::gelu_block(x, y, n, tanh_approx); }
};

struct SwishF {
  float alpha;
  explicit SwishF(const Node& n) : alpha(n.attr_f("alpha", 1.0f)) {}
  template <typename T>
  T operator()(T v) const {
    return v / (T(1) + std::exp(-T(alpha) * v));
  }
};

struct MishF {
  explicit MishF(const Node&) {}
  template <typename T>
  T operator()(T v) const {
    return v * std::tanh(softplus(v));
  }
};

// Integers go through double, like the reference's float bias/lambd.
struct ShrinkF {
  float bias, lambd;
  explicit ShrinkF(const Node& n) : bias(n.attr_f("bias", 0.0f)), lambd(n.attr_f("lambd", 0.5f)) {}
  template <typename T>
  T operator()(T v) const {
    using C = std::conditional_t<std::is_floating_point<T>::value, T, double>;
    const C x = static_cast<C>(v);
    const C r = x < -C(lambd) ? x + C(bias) : (x > C(lambd) ? x - C(bias) : C(0));
    return static_cast<T>(r);
  }
};

// PRelu's slope broadcasts to X; like the reference, a 1-D slope that does not
// broadcast numpy-style applies along the one axis of X with its length.
void prelu_kernel(KernelContext& ctx) {
  const std::string what = ctx.node().describe();
  const Tensor& x = ctx.input(0);
  Tensor slope = ctx.input(1);
  PIONNX_ENFORCE(x.dtype() == slope.dtype(), InvalidArgument, what, ": X and slope must have the same dtype, got ",
                 dtype_name(x.dtype()), " and ", dtype_name(slope.dtype()));
  const Shape& xs = x.shape();
  bool numpy_ok = slope.rank() <= x.rank();
  for (size_t j = 0; numpy_ok && j < slope.rank(); ++j) {
    const int64_t sd = slope.shape()[slope.rank() - 1 - j], xd = xs[xs.size() - 1 - j];
    numpy_ok = sd == 1 || sd == xd;
  }
  if (!numpy_ok && slope.rank() == 1) {
    int matches = 0;
    Shape s(xs.size(), 1);
    for (size_t d = 0; d < xs.size(); ++d) {
      if (xs[d] == slope.shape()[0]) {
        s[d] = xs[d];
        ++matches;
      }
    }
    if (matches == 1) slope = slope.reshaped(s);
  }
  const Shape shape = broadcast_shapes(xs, slope.shape(), what);
  dispatch_types<kFloats | kInts>(x.dtype(), what, [&](auto tag) {
    using T = typename decltype(tag)::type;
    Tensor& y = ctx.output(0, x.dtype(), shape);
    binary_apply<T, T, T>(ctx.pool(), x, slope, y, [](auto v, auto a) { return v < 0 ? a * v : v; });
  });
}

// Clip: bounds are attributes before opset 11, optional scalar inputs from 11.
// An absent bound does not clip (floats keep +-inf).
class ClipKernel : public Kernel {
 public:
  explicit ClipKernel(const KernelInfo& info) : from_inputs_(info.opset >= 11) {
    if (!from_inputs_) {
      lo_ = info.node.attr_f("min", -std::numeric_limits<float>::infinity());
      hi_ = info.node.attr_f("max", std::numeric_limits<float>::infinity());
    }
  }
  bool computes_in_place() const override { return true; }  // bounds are read first
  void compute(KernelContext& ctx) const override {
    const std::string what = ctx.node().describe();
    const Tensor& x = ctx.input(0);
    dispatch_types<kNumeric>(x.dtype(), what, [&](auto tag) {
      using T = typename decltype(tag)::type;
      using C = Compute<T>;
      C lo =
          std::numeric_limits<C>::has_infinity ? -std::numeric_limits<C>::infinity() : std::numeric_limits<C>::lowest();
      C hi = std::numeric_limits<C>::has_infinity ? std::numeric_limits<C>::infinity() : std::numeric_limits<C>::max();
      if (from_inputs_) {
        bound(ctx, 1, "min", x.dtype(), what, lo);
        bound(ctx, 2, "max", x.dtype(), what, hi);
      } else {
        if constexpr (std::is_integral<C>::value) {
          lo = clamp_to_int<C>(lo_);
          hi = clamp_to_int<C>(hi_);
        } else {
          lo = static_cast<C>(lo_);
          hi = static_cast<C>(hi_);
        }
      }
      Tensor& y = ctx.output(0, x.dtype(), x.shape());
      unary_apply<T, T>(ctx.pool(), x, y, [lo, hi](C v) { return std::min(std::max(v, lo), hi); });
    });
  }

 private:
  template <typename C>
  static void bound(KernelContext& ctx, size_t i, const char* name, DType dt, const std::string& what, C& out) {
    const Tensor* t = ctx.optional_input(i);
    if (t == nullptr || t->numel() == 0) return;
    PIONNX_ENFORCE(t->dtype() == dt, InvalidArgument, what, ": input '", name, "' has dtype ", dtype_name(t->dtype()),
                   ", expected ", dtype_name(dt));
    PIONNX_ENFORCE(t->numel() == 1, InvalidArgument, what, ": input '", name, "' must be a scalar, got shape ",
                   shape_str(t->shape()));
    dispatch_types<kNumeric>(dt, what, [&](auto tag) {
      using T = typename decltype(tag)::type;
      out = static_cast<C>(widen(ptr<T>(*t)[0]));
    });
  }

  bool from_inputs_;
  float lo_ = 0, hi_ = 0;
};

// com.microsoft BiasGelu: Gelu(A + B) with B a [H] bias over A's last axis
// (what pionnx's and onnxruntime's bias-GELU fusion writes after a
// projection's MatMul). One pass per row: the add, then fastmath's GELU in
// place while the row is in cache. float16/bfloat16 compute in float32.
class BiasGeluKernel : public Kernel {
 public:
  explicit BiasGeluKernel(const KernelInfo& info) : gelu_(info.node) {}
  void compute(KernelContext& ctx) const override {
    const std::string what = ctx.node().describe();
    const Tensor& a_in = ctx.input(0);
    const Tensor& b_in = ctx.input(1);
    // The bias runs along the last axis; an input whose last dimension is 1
    // broadcasts to the bias' length (as the Add the fusion replaced did).
    PIONNX_ENFORCE(a_in.rank() >= 1 && b_in.rank() == 1 && (b_in.dim(0) == a_in.dim(-1) || a_in.dim(-1) == 1),
                   InvalidArgument, what, ": bias must be 1-D with the input's last dimension (",
                   a_in.rank() ? a_in.dim(-1) : 0, "), got ", shape_str(b_in.shape()), " against ",
                   shape_str(a_in.shape()));
    PIONNX_ENFORCE(a_in.dtype() == b_in.dtype(), InvalidArgument, what, ": input is ", dtype_name(a_in.dtype()),
                   " but bias is ", dtype_name(b_in.dtype()));
    PIONNX_ENFORCE(dtype_is_float(a_in.dtype()), NotImplemented, what, ": dtype ", dtype_name(a_in.dtype()),
                   " is not supported");
    const bool dbl = a_in.dtype() == DType::Double;
    const Tensor a = dbl ? a_in : to_float32(a_in), b = dbl ? b_in : to_float32(b_in);
    Shape shape = a.shape();
    const int64_t H = b.dim(0), rows = a.numel() / std::max<int64_t>(a.dim(-1), 1);
    const int64_t sa = a.dim(-1) == H ? 1 : 0;  // 0: one input value per row
    shape.back() = H;
    Tensor y(a.dtype(), shape);
    ctx.pool().parallel_for(rows, std::max<int64_t>(1, 16384 / std::max<int64_t>(H, 1)), [&](int64_t r0, int64_t r1) {
      const int64_t la = sa ? H : 1;
      if (dbl) {
        const double *A = a.data<double>(), *B = b.data<double>();
        double* Y = y.data<double>();
        for (int64_t r = r0; r < r1; ++r)
          for (int64_t j = 0; j < H; ++j) Y[r * H + j] = gelu_(A[r * la + j * sa] + B[j]);
        return;
      }
      const float *A = a.data<float>(), *B = b.data<float>();
      float* Y = y.data<float>();
      for (int64_t r = r0; r < r1; ++r) {
        for (int64_t j = 0; j < H; ++j) Y[r * H + j] = A[r * la + j * sa] + B[j];
        gelu_.block(Y + r * H, Y + r * H, H);
      }
    });
    ctx.set_output(0, dbl || a_in.dtype() == DType::Float ? y : cast_tensor(y, a_in.dtype()));
  }

 private:
  GeluF gelu_;
};

// SwiGLU (opset 28): Y = A * sigmoid(alpha * A) * B, A and B of one shape (no
// broadcasting). float16/bfloat16 compute in float32; float32 runs the
// fastmath sigmoid on blocks that stay in cache.
class SwiGluKernel : public Kernel {
 public:
  explicit SwiGluKernel(const KernelInfo& info) : alpha_(info.node.attr_f("alpha", 1.0f)) {}
  void compute(KernelContext& ctx) const override {
    const std::string what = ctx.node().describe();
    const Tensor& a_in = ctx.input(0);
    const Tensor& b_in = ctx.input(1);
    PIONNX_ENFORCE(a_in.shape() == b_in.shape(), InvalidArgument, what,
                   ": A and B must have the same shape (SwiGLU does not broadcast), got ", shape_str(a_in.shape()),
                   " and ", shape_str(b_in.shape()));
    PIONNX_ENFORCE(a_in.dtype() == b_in.dtype(), InvalidArgument, what, ": A is ", dtype_name(a_in.dtype()),
                   " but B is ", dtype_name(b_in.dtype()));
    PIONNX_ENFORCE(dtype_is_float(a_in.dtype()), NotImplemented, what, ": dtype ", dtype_name(a_in.dtype()),
                   " is not supported");
    const bool dbl = a_in.dtype() == DType::Double;
    const Tensor a = dbl ? a_in : to_float32(a_in), b = dbl ? b_in : to_float32(b_in);
    Tensor y(a.dtype(), a.shape());
    constexpr int64_t kBlock = 1024;
    const int64_t n = a.numel(), blocks = (n + kBlock - 1) / kBlock;
    ctx.pool().parallel_for(blocks, 16, [&](int64_t b0, int64_t b1) {
      for (int64_t blk = b0; blk < b1; ++blk) {
        const int64_t lo = blk * kBlock, len = std::min(kBlock, n - lo);
        if (dbl) {
          const double *A = a.data<double>() + lo, *B = b.data<double>() + lo;
          double* Y = y.data<double>() + lo;
          for (int64_t i = 0; i < len; ++i) Y[i] = A[i] / (1.0 + std::exp(-double(alpha_) * A[i])) * B[i];
          continue;
        }
        const float *A = a.data<float>() + lo, *B = b.data<float>() + lo;
        float* Y = y.data<float>() + lo;
        for (int64_t i = 0; i < len; ++i) Y[i] = alpha_ * A[i];
        fastmath::sigmoid_block(Y, Y, len);
        for (int64_t i = 0; i < len; ++i) Y[i] *= A[i] * B[i];
      }
    });
    ctx.set_output(0, dbl || a_in.dtype() == DType::Float ? y : cast_tensor(y, a_in.dtype()));
  }

 private:
  float alpha_;
};

}  // namespace

void register_activation(KernelRegistry& r) {
  r.add_all("",
            {impl<ActivationKernel<ReluF, kFloats | kSInt>>("Relu"), impl<ActivationKernel<LeakyReluF>>("LeakyRelu"),
             impl<ActivationKernel<SigmoidF>>("Sigmoid"), impl<ActivationKernel<TanhF>>("Tanh"),
             impl<ActivationKernel<HardSigmoidF>>("HardSigmoid"), impl<ActivationKernel<HardSwishF>>("HardSwish"),
             impl<ActivationKernel<EluF>>("Elu"), impl<ActivationKernel<SeluF>>("Selu"),
             impl<ActivationKernel<CeluF>>("Celu"), impl<ActivationKernel<SoftplusF>>("Softplus"),
             impl<ActivationKernel<SoftsignF>>("Softsign"), impl<ActivationKernel<ThresholdedReluF>>("ThresholdedRelu"),
             impl<ActivationKernel<GeluF>>("Gelu"), impl<ActivationKernel<MishF>>("Mish"),
             impl<ActivationKernel<SwishF>>("Swish"), impl<ActivationKernel<ShrinkF, kNumeric>>("Shrink"),
             impl<SwiGluKernel>("SwiGLU"), impl_fn("PRelu", prelu_kernel), impl<ClipKernel>("Clip")});
  // What onnxruntime's (and pionnx's, optimize/gelu_fusion.cc) GELU fusion writes.
  r.add_all("com.microsoft", {impl<ActivationKernel<GeluF>>("Gelu"), impl<BiasGeluKernel>("BiasGelu")});
}

}  // namespace pionnx
