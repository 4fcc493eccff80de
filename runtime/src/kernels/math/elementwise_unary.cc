// Unary math: Abs, Neg, Sign, Exp, Log, Sqrt, Reciprocal, Floor, Ceil,
// Round, trigonometric and hyperbolic functions, Erf, IsNaN, IsInf, Not and
// BitwiseNot. 16-bit floats compute in float32.
#include <cmath>
#include <type_traits>

#include "core/int_arith.h"
#include "kernels/base/kernel.h"
#include "kernels/math/elementwise_loops.h"
#include "kernels/simd/elementwise_math.h"

namespace pionnx {
namespace {

using namespace ew;

// y = f(x) for the types in Mask, y with x's dtype.
template <unsigned Mask, typename F>
void unary_same(KernelContext& ctx, F f) {
  const Tensor& x = ctx.input(0);
  dispatch_types<Mask>(x.dtype(), ctx.node(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    Tensor& y = ctx.output(0, x.dtype(), x.shape());
    unary_apply<T, T>(ctx.pool(), x, y, f);
  });
}

// y = f(x) -> bool for floating-point x.
template <typename F>
void unary_float_to_bool(KernelContext& ctx, F f) {
  const Tensor& x = ctx.input(0);
  dispatch_types<kFloats>(x.dtype(), ctx.node(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    Tensor& y = ctx.output(0, DType::Bool, x.shape());
    unary_apply<T, bool>(ctx.pool(), x, y, f);
  });
}

template <unsigned Mask = kFloats, typename F>
void add_unary(KernelRegistry& r, const char* op, F f) {
  r.add_fn("", op, [f](KernelContext& ctx) { unary_same<Mask>(ctx, f); }, /*in_place=*/true);
}

// Like add_unary, with a vectorized block function for float32.
template <unsigned Mask = kFloats, typename F>
void add_unary_block(KernelRegistry& r, const char* op, F f, void (*block)(const float*, float*, int64_t)) {
  r.add_fn(
      "", op,
      [f, block](KernelContext& ctx) {
        const Tensor& x = ctx.input(0);
        if (x.dtype() != DType::Float) return unary_same<Mask>(ctx, f);
        Tensor& y = ctx.output(0, x.dtype(), x.shape());
        float_block_apply(ctx.pool(), x, y, block);
      },
      /*in_place=*/true);
}

class IsInfKernel : public Kernel {
 public:
  explicit IsInfKernel(const KernelInfo& info)
      : neg_(info.node.attr_i("detect_negative", 1) != 0), pos_(info.node.attr_i("detect_positive", 1) != 0) {}
  void compute(KernelContext& ctx) const override {
    const bool neg = neg_, pos = pos_;
    unary_float_to_bool(ctx, [neg, pos](auto v) { return std::isinf(v) && (v > 0 ? pos : neg); });
  }

 private:
  bool neg_, pos_;
};

}  // namespace

void register_elementwise_unary(KernelRegistry& r) {
  add_unary<kNumeric>(r, "Abs", [](auto v) {
    using T = decltype(v);
    if constexpr (std::is_unsigned<T>::value) {
      return v;
    } else if constexpr (std::is_floating_point<T>::value) {
      return std::fabs(v);
    } else {
      return v < 0 ? wrapping_neg(v) : v;  // abs(INT_MIN) stays INT_MIN, as in numpy
    }
  });
  add_unary<kFloats | kSInt>(r, "Neg", [](auto v) { return wrapping_neg(v); });
  add_unary<kNumeric>(r, "Sign", [](auto v) {
    using T = decltype(v);
    return static_cast<T>((T(0) < v) - (v < T(0)));
  });

  add_unary_block(r, "Exp", [](auto v) { return std::exp(v); }, fastmath::exp_block);
  add_unary(r, "Log", [](auto v) { return std::log(v); });
  add_unary(r, "Sqrt", [](auto v) { return std::sqrt(v); });
  add_unary(r, "Reciprocal", [](auto v) { return decltype(v)(1) / v; });
  add_unary(r, "Floor", [](auto v) { return std::floor(v); });
  add_unary(r, "Ceil", [](auto v) { return std::ceil(v); });
  // nearbyint in the default rounding mode rounds half to even, as ONNX asks.
  add_unary(r, "Round", [](auto v) { return std::nearbyint(v); });
  add_unary(r, "Sin", [](auto v) { return std::sin(v); });
  add_unary(r, "Cos", [](auto v) { return std::cos(v); });
  add_unary(r, "Tan", [](auto v) { return std::tan(v); });
  add_unary(r, "Asin", [](auto v) { return std::asin(v); });
  add_unary(r, "Acos", [](auto v) { return std::acos(v); });
  add_unary(r, "Atan", [](auto v) { return std::atan(v); });
  add_unary(r, "Sinh", [](auto v) { return std::sinh(v); });
  add_unary(r, "Cosh", [](auto v) { return std::cosh(v); });
  add_unary(r, "Asinh", [](auto v) { return std::asinh(v); });
  add_unary(r, "Acosh", [](auto v) { return std::acosh(v); });
  add_unary(r, "Atanh", [](auto v) { return std::atanh(v); });
  // Erf also accepts integers; they go through double.
  add_unary_block<kNumeric>(
      r, "Erf",
      [](auto v) {
        using T = decltype(v);
        if constexpr (std::is_floating_point<T>::value) {
          return std::erf(v);
        } else {
          return static_cast<T>(std::erf(static_cast<double>(v)));
        }
      },
      fastmath::erf_block);

  r.add_fn("", "IsNaN", [](KernelContext& ctx) { unary_float_to_bool(ctx, [](auto v) { return std::isnan(v); }); });
  r.add<IsInfKernel>("", "IsInf");

  add_unary<kBool>(r, "Not", [](bool v) { return !v; });
  add_unary<kInts>(r, "BitwiseNot", [](auto v) { return static_cast<decltype(v)>(~v); });
}

}  // namespace pionnx
