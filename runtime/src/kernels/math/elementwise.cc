// Broadcasting binary math, comparisons, logic and bitwise ops, the variadic
// Sum/Mean/Max/Min, Pow, Mod, BitShift, Where and Identity. Unary math lives
// in elementwise_unary.cc, Cast in elementwise_cast.cc.
#include <cmath>
#include <limits>
#include <optional>
#include <type_traits>

#include "core/int_arith.h"
#include "kernels/base/cast.h"
#include "kernels/base/dtype_dispatch.h"
#include "kernels/base/kernel.h"
#include "kernels/base/shapes.h"
#include "kernels/math/elementwise_loops.h"

namespace pionnx {
namespace {

using namespace ew;

template <typename T>
constexpr bool is_int_v = std::is_integral<T>::value && !std::is_same<T, bool>::value;

// Opset < 7 Add/Sub/Mul/Div/Pow/logic with broadcast=1 and `axis`: B's dims
// line up with A's starting at `axis` rather than at the end.
Tensor align_legacy(const Tensor& a, const Tensor& b, int64_t axis, const std::string& what) {
  const int64_t ra = static_cast<int64_t>(a.rank()), rb = static_cast<int64_t>(b.rank());
  if (axis < 0) axis += ra;
  PIONNX_ENFORCE(axis >= 0 && axis + rb <= ra, InvalidArgument, what, ": legacy broadcast axis ", axis,
                 " does not fit B of shape ", shape_str(b.shape()), " into A of shape ", shape_str(a.shape()));
  Shape s = b.shape();
  s.resize(static_cast<size_t>(ra - axis), 1);
  return b.reshaped(s);
}

std::optional<int64_t> legacy_axis_of(const KernelInfo& info) {
  if (info.opset >= 7 || info.node.attr_i("broadcast", 0) == 0 || !info.node.has("axis")) return std::nullopt;
  return info.node.attr_i("axis", 0);
}

// A binary op over types Mask; output is the input type, or bool when ToBool.
template <unsigned Mask, bool ToBool, typename F>
class BinaryKernel : public Kernel {
 public:
  BinaryKernel(const KernelInfo& info, F f) : f_(f), legacy_axis_(legacy_axis_of(info)), what_(info.node.describe()) {}
  // binary_apply reads both operands of element i before writing it.
  bool computes_in_place() const override { return true; }

  void compute(KernelContext& ctx) const override {
    const std::string& what = what_;
    const Tensor& a = ctx.input(0);
    Tensor b = ctx.input(1);
    PIONNX_ENFORCE(a.dtype() == b.dtype(), InvalidArgument, what, ": inputs A and B must have the same dtype, got ",
                   dtype_name(a.dtype()), " and ", dtype_name(b.dtype()));
    if (legacy_axis_) b = align_legacy(a, b, *legacy_axis_, what);
    const Shape shape = broadcast_shapes(a.shape(), b.shape(), what);
    dispatch_types<Mask>(a.dtype(), what, [&](auto tag) {
      using T = typename decltype(tag)::type;
      using O = std::conditional_t<ToBool, bool, T>;
      Tensor& out = ctx.output(0, ToBool ? DType::Bool : a.dtype(), shape);
      binary_apply<T, T, O>(ctx.pool(), a, b, out, f_);
    });
  }

 private:
  F f_;
  std::optional<int64_t> legacy_axis_;
  std::string what_;
};

template <unsigned Mask, bool ToBool = false, typename F>
void add_binary(KernelRegistry& r, const char* op, F f) {
  r.add("", op, [f](const KernelInfo& info) -> std::unique_ptr<Kernel> {
    return std::make_unique<BinaryKernel<Mask, ToBool, F>>(info, f);
  });
}

// Integer division truncates toward zero (C semantics, as ONNX's reference
// casts numpy's true division back to the integer type).
struct DivF {
  template <typename T>
  auto operator()(T a, T b) const {
    if constexpr (is_int_v<T>) {
      PIONNX_ENFORCE(b != 0, InvalidArgument, "Div: integer division by zero");
      if constexpr (std::is_signed<T>::value) {
        if (b == T(-1)) return wrapping_neg(a);  // INT_MIN / -1 stays INT_MIN
      }
      return static_cast<T>(a / b);
    } else {
      return a / b;
    }
  }
};

// Max/Min propagate NaN like numpy's maximum/minimum.
struct MaxF {
  template <typename T>
  T operator()(T a, T b) const {
    return (a > b || a != a) ? a : b;
  }
};
struct MinF {
  template <typename T>
  T operator()(T a, T b) const {
    return (a < b || a != a) ? a : b;
  }
};

// Sum/Mean/Max/Min over any number of broadcasting inputs: the output (with
// the shape of all inputs broadcast) gets f(input 0, input 1), then each
// further input is folded in place.
template <unsigned Mask, typename F>
void variadic(KernelContext& ctx, F f, bool mean) {
  const std::string what = ctx.node().describe();
  std::vector<Shape> shapes;
  for (size_t i = 0; i < ctx.num_inputs(); ++i) {
    const Tensor& t = ctx.input(i);
    PIONNX_ENFORCE(t.dtype() == ctx.input(0).dtype(), InvalidArgument, what, ": input ", i, " has dtype ",
                   dtype_name(t.dtype()), ", expected ", dtype_name(ctx.input(0).dtype()));
    shapes.push_back(t.shape());
  }
  PIONNX_ENFORCE(!shapes.empty(), InvalidArgument, what, ": needs at least one input");
  const Shape shape = broadcast_shapes(shapes, what);
  const Tensor& first = ctx.input(0);
  if (ctx.num_inputs() == 1) {
    ctx.set_output(0, first);
    return;
  }
  dispatch_types<Mask>(first.dtype(), what, [&](auto tag) {
    using T = typename decltype(tag)::type;
    Tensor& out = ctx.output(0, first.dtype(), shape);
    binary_apply<T, T, T>(ctx.pool(), first, ctx.input(1), out, f);
    for (size_t i = 2; i < ctx.num_inputs(); ++i) binary_apply<T, T, T>(ctx.pool(), out, ctx.input(i), out, f);
    if (mean) {
      const auto n = static_cast<Compute<T>>(ctx.num_inputs());
      unary_apply<T, T>(ctx.pool(), out, out, [n](auto x) { return x / n; });
    }
  });
}

// Pow's exponent may have a different type than the base (opset 12+); the
// result has the base's type, computed in double unless both are float32 or
// both are integers.
template <typename B, typename E>
void pow_typed(ThreadPool& pool, const Tensor& base, const Tensor& expo, Tensor& out) {
  using CB = Compute<B>;
  using CE = Compute<E>;
  if constexpr (std::is_floating_point<CB>::value) {
    // x^2 and x^0.5 are the common ones (norm decompositions): no pow call.
    if (expo.numel() == 1) {
      const double e = static_cast<double>(widen(ptr<E>(expo)[0]));
      if (e == 2.0) return binary_apply<B, E, B>(pool, base, expo, out, [](CB x, CE) { return x * x; });
      if (e == 1.0) return binary_apply<B, E, B>(pool, base, expo, out, [](CB x, CE) { return x; });
      if (e == 0.5) return binary_apply<B, E, B>(pool, base, expo, out, [](CB x, CE) { return std::sqrt(x); });
    }
  }
  if constexpr (is_int_v<CB> && is_int_v<CE>) {
    binary_apply<B, E, B>(pool, base, expo, out, [](CB x, CE e) -> CB {
      if (e < 0) {
        // Truncation of 1 / x^|e|: only |x| == 1 survives.
        if (x == 1) return 1;
        if constexpr (std::is_signed<CB>::value) {
          if (x == -1) return (e % 2 == 0) ? 1 : -1;
        }
        return 0;
      }
      // Unsigned arithmetic wraps as the result must; at least unsigned int wide, since a
      // 16-bit unsigned operand promotes to (signed) int, where 65535 * 65535 overflows.
      using U = std::conditional_t<(sizeof(CB) < sizeof(unsigned)), unsigned, std::make_unsigned_t<CB>>;
      U result = 1, b = static_cast<U>(static_cast<std::make_unsigned_t<CB>>(x));
      for (auto k = static_cast<std::make_unsigned_t<CE>>(e); k != 0; k >>= 1) {
        if (k & 1) result *= b;
        b *= b;
      }
      return static_cast<CB>(result);
    });
  } else if constexpr (std::is_same<CB, float>::value && std::is_same<CE, float>::value) {
    binary_apply<B, E, B>(pool, base, expo, out, [](float x, float e) { return std::pow(x, e); });
  } else {
    binary_apply<B, E, B>(pool, base, expo, out, [](CB x, CE e) {
      const double r = std::pow(static_cast<double>(x), static_cast<double>(e));
      if constexpr (is_int_v<CB>) {
        // Out-of-range or NaN -> int is UB; numpy gives garbage, we give 0.
        if (!(std::fabs(r) < 9.2e18)) return CB(0);
        return static_cast<CB>(static_cast<int64_t>(r));
      } else {
        return static_cast<CB>(r);
      }
    });
  }
}

class PowKernel : public Kernel {
 public:
  explicit PowKernel(const KernelInfo& info) : legacy_axis_(legacy_axis_of(info)) {}
  void compute(KernelContext& ctx) const override {
    const std::string what = ctx.node().describe();
    const Tensor& a = ctx.input(0);
    Tensor b = ctx.input(1);
    if (legacy_axis_) b = align_legacy(a, b, *legacy_axis_, what);
    const Shape shape = broadcast_shapes(a.shape(), b.shape(), what);
    dispatch_types<kNumeric>(a.dtype(), what, [&](auto bt) {
      using B = typename decltype(bt)::type;
      // The exponent is read in the type pow_typed computes with (exact: a wider integer of the
      // same signedness, float32 for 16-bit floats, double where the loop converts to double
      // anyway), so one base type needs four loops instead of eleven.
      DType wide = DType::Double;
      dispatch_types<kNumeric>(b.dtype(), what + " exponent", [&](auto et) {
        using CE = Compute<typename decltype(et)::type>;
        if constexpr (is_int_v<CE>) {
          if constexpr (is_int_v<Compute<B>>) wide = std::is_signed<CE>::value ? DType::Int64 : DType::UInt64;
        } else if constexpr (std::is_same<CE, float>::value && std::is_same<Compute<B>, float>::value) {
          wide = DType::Float;
        }
      });
      const Tensor e = b.dtype() == wide ? b : cast_tensor(b, wide);
      Tensor& out = ctx.output(0, a.dtype(), shape);
      switch (wide) {
        case DType::Int64:
          if constexpr (is_int_v<Compute<B>>) pow_typed<B, int64_t>(ctx.pool(), a, e, out);
          break;
        case DType::UInt64:
          if constexpr (is_int_v<Compute<B>>) pow_typed<B, uint64_t>(ctx.pool(), a, e, out);
          break;
        case DType::Float:
          if constexpr (std::is_same<Compute<B>, float>::value) pow_typed<B, float>(ctx.pool(), a, e, out);
          break;
        default: pow_typed<B, double>(ctx.pool(), a, e, out);
      }
    });
  }

 private:
  std::optional<int64_t> legacy_axis_;
};

// fmod=1: C fmod (sign of the dividend); fmod=0: Python/numpy mod (sign of the
// divisor) for integers. Floats with fmod=0: from opset 28, Python's float mod
// too (A - floor(A / B) * B: a zero takes B's sign, an infinite B returns A
// when the signs agree and B otherwise, a zero B or infinite A gives NaN);
// opsets 10-27 allowed only integers there and the reference ran fmod, which
// the first row keeps (a NaN becomes 0, as it always has here).
class ModKernel : public Kernel {
 public:
  explicit ModKernel(const KernelInfo& info)
      : fmod_(info.node.attr_i("fmod", 0) != 0), python_floats_(info.opset >= 28) {}
  void compute(KernelContext& ctx) const override {
    const std::string what = ctx.node().describe();
    const Tensor& a = ctx.input(0);
    const Tensor& b = ctx.input(1);
    PIONNX_ENFORCE(a.dtype() == b.dtype(), InvalidArgument, what, ": inputs A and B must have the same dtype, got ",
                   dtype_name(a.dtype()), " and ", dtype_name(b.dtype()));
    const Shape shape = broadcast_shapes(a.shape(), b.shape(), what);
    const bool fm = fmod_, py = python_floats_;
    dispatch_types<kNumeric>(a.dtype(), what, [&](auto tag) {
      using T = typename decltype(tag)::type;
      Tensor& out = ctx.output(0, a.dtype(), shape);
      binary_apply<T, T, T>(ctx.pool(), a, b, out, [fm, py, &what](auto x, auto y) {
        using C = decltype(x);
        if constexpr (std::is_floating_point<C>::value) {
          C r = std::fmod(x, y);
          if (fm) return r;
          if (!py) return std::isnan(r) ? C(0) : r;
          if (r != C(0) && ((r < C(0)) != (y < C(0)))) r += y;  // fmod(x, inf) = x: then x + y = y
          return r == C(0) ? std::copysign(C(0), y) : r;
        } else {
          PIONNX_ENFORCE(y != 0, InvalidArgument, what, ": integer modulo by zero");
          if constexpr (std::is_signed<C>::value) {
            if (y == C(-1)) return C(0);  // avoids INT_MIN % -1 trapping
          }
          C r = static_cast<C>(x % y);
          if constexpr (std::is_signed<C>::value) {
            if (!fm && r != 0 && ((r < 0) != (y < 0))) r = static_cast<C>(r + y);
          }
          return r;
        }
      });
    });
  }

 private:
  bool fmod_, python_floats_;
};

class BitShiftKernel : public Kernel {
 public:
  explicit BitShiftKernel(const KernelInfo& info) {
    const std::string dir = info.node.attr_s("direction", "");
    PIONNX_ENFORCE(dir == "LEFT" || dir == "RIGHT", InvalidGraph, info.node.describe(),
                   ": attribute direction must be LEFT or RIGHT, got '", dir, "'");
    left_ = dir == "LEFT";
  }
  void compute(KernelContext& ctx) const override {
    const std::string what = ctx.node().describe();
    const Tensor& a = ctx.input(0);
    const Tensor& b = ctx.input(1);
    PIONNX_ENFORCE(a.dtype() == b.dtype(), InvalidArgument, what, ": inputs X and Y must have the same dtype, got ",
                   dtype_name(a.dtype()), " and ", dtype_name(b.dtype()));
    const Shape shape = broadcast_shapes(a.shape(), b.shape(), what);
    const bool left = left_;
    // Signed types since opset 28: the right shift is arithmetic, the left
    // shift drops bits past the sign bit, and a shift that is negative or
    // not below the width gives what the sign fill alone gives (-1 for a
    // right shift of a negative X, else 0). Shifting by the width or more is
    // UB in C++, hence the range test; the left shift runs unsigned.
    dispatch_types<kInts>(a.dtype(), what, [&](auto tag) {
      using T = typename decltype(tag)::type;
      using U = std::make_unsigned_t<T>;
      constexpr int bits = static_cast<int>(sizeof(T) * 8);
      Tensor& out = ctx.output(0, a.dtype(), shape);
      binary_apply<T, T, T>(ctx.pool(), a, b, out, [left](T x, T s) -> T {
        const bool negative = std::is_signed<T>::value && x < T(0);
        if (static_cast<U>(s) >= static_cast<U>(bits)) return (!left && negative) ? static_cast<T>(-1) : T(0);
        if (left) return static_cast<T>(static_cast<U>(static_cast<U>(x) << s));
        return static_cast<T>(x >> s);  // arithmetic for signed T (C++20, and every compiler before it)
      });
    });
  }

 private:
  bool left_ = true;
};

// Where(cond, X, Y): a three-way broadcast that only moves elements.
void where_kernel(KernelContext& ctx) {
  const std::string what = ctx.node().describe();
  const Tensor& c = ctx.input(0);
  const Tensor& x = ctx.input(1);
  const Tensor& y = ctx.input(2);
  PIONNX_ENFORCE(c.dtype() == DType::Bool, InvalidArgument, what, ": condition must be bool, got ",
                 dtype_name(c.dtype()));
  PIONNX_ENFORCE(x.dtype() == y.dtype(), InvalidArgument, what, ": X and Y must have the same dtype, got ",
                 dtype_name(x.dtype()), " and ", dtype_name(y.dtype()));
  const Shape shape = broadcast_shapes({c.shape(), x.shape(), y.shape()}, what);
  dispatch_movable(x.dtype(), what, [&](auto tag) {
    using T = typename decltype(tag)::type;
    Tensor& out = ctx.output(0, x.dtype(), shape);
    BroadcastPlan<3> plan({&c.shape(), &x.shape(), &y.shape()}, shape);
    const bool* pc = ptr<bool>(c);
    const T* px = ptr<T>(x);
    const T* py = ptr<T>(y);
    T* po = ptr<T>(out);
    const auto s = plan.strides.back();
    plan.for_each_run(ctx.pool(), out.numel(), [&](int64_t oo, const std::array<int64_t, 3>& io, int64_t n) {
      const bool* cc = pc + io[0];
      const T* xx = px + io[1];
      const T* yy = py + io[2];
      T* z = po + oo;
      if (s[0] == 1 && s[1] == 1 && s[2] == 1) {
        for (int64_t i = 0; i < n; ++i) z[i] = cc[i] ? xx[i] : yy[i];
      } else {
        for (int64_t i = 0; i < n; ++i) z[i] = cc[i * s[0]] ? xx[i * s[1]] : yy[i * s[2]];
      }
    });
  });
}

// Identity passes any value through (tensor, sequence, optional) unchanged.
void identity_kernel(KernelContext& ctx) {
  const Value* v = ctx.input_value(0);
  PIONNX_ENFORCE(v != nullptr, InvalidArgument, ctx.node().describe(), ": input 0 is missing");
  if (v->is_tensor()) {
    ctx.set_output(0, v->tensor);
  } else {
    ctx.set_output_value(0, *v);
  }
}

}  // namespace

void register_elementwise(KernelRegistry& r) {
  constexpr unsigned kMath = kNumeric;
  add_binary<kMath>(r, "Add", [](auto a, auto b) { return wrapping_add(a, b); });
  add_binary<kMath>(r, "Sub", [](auto a, auto b) { return wrapping_sub(a, b); });
  add_binary<kMath>(r, "Mul", [](auto a, auto b) { return wrapping_mul(a, b); });
  add_binary<kMath>(r, "Div", DivF{});

  constexpr unsigned kCmp = kNumeric | kBool;
  add_binary<kCmp | kStr, true>(r, "Equal", [](const auto& a, const auto& b) { return a == b; });
  add_binary<kCmp, true>(r, "Less", [](auto a, auto b) { return a < b; });
  add_binary<kCmp, true>(r, "Greater", [](auto a, auto b) { return a > b; });
  add_binary<kCmp, true>(r, "LessOrEqual", [](auto a, auto b) { return a <= b; });
  add_binary<kCmp, true>(r, "GreaterOrEqual", [](auto a, auto b) { return a >= b; });

  add_binary<kBool>(r, "And", [](bool a, bool b) { return a && b; });
  add_binary<kBool>(r, "Or", [](bool a, bool b) { return a || b; });
  add_binary<kBool>(r, "Xor", [](bool a, bool b) { return a != b; });
  add_binary<kInts>(r, "BitwiseAnd", [](auto a, auto b) { return a & b; });
  add_binary<kInts>(r, "BitwiseOr", [](auto a, auto b) { return a | b; });
  add_binary<kInts>(r, "BitwiseXor", [](auto a, auto b) { return a ^ b; });

  r.add_all("", {impl<PowKernel>("Pow"), impl<BitShiftKernel>("BitShift")});
  r.add("", "Mod", kernel<ModKernel>(), 10);
  r.add("", "Mod", kernel<ModKernel>(), 28);

  r.add_fn("", "Sum", [](KernelContext& ctx) {
    variadic<kNumeric>(ctx, [](auto a, auto b) { return wrapping_add(a, b); }, false);
  });
  r.add_fn("", "Mean", [](KernelContext& ctx) { variadic<kFloats>(ctx, [](auto a, auto b) { return a + b; }, true); });
  r.add_fn("", "Max", [](KernelContext& ctx) { variadic<kNumeric>(ctx, MaxF{}, false); });
  r.add_fn("", "Min", [](KernelContext& ctx) { variadic<kNumeric>(ctx, MinF{}, false); });

  r.add_fn("", "Where", where_kernel);
  r.add_fn("", "Identity", identity_kernel);
}

}  // namespace pionnx
