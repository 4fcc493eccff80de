// Ops that make tensors from shapes or attributes: Shape, Size, Constant,
// ConstantOfShape, Range, EyeLike, Trilu, OneHot.
#include <algorithm>
#include <cmath>

#include "core/int_arith.h"
#include "kernels/base/dtype_dispatch.h"
#include "kernels/base/kernel.h"
#include "kernels/base/shapes.h"
#include "kernels/tensor/strided.h"

namespace pionnx {
namespace {

// ---------------------------------------------------------------- Shape / Size

class ShapeOp final : public NamedKernel {
 public:
  explicit ShapeOp(const KernelInfo& info)
      : NamedKernel(info),
        start_(info.node.attr_i("start", 0)),
        has_end_(info.node.has("end")),
        end_(info.node.attr_i("end", 0)) {}
  void compute(KernelContext& ctx) const override {
    const Shape& s = ctx.input(0).shape();
    const int64_t r = static_cast<int64_t>(s.size());
    // Out-of-range start/end clamp rather than fail (opset 15).
    auto clamp = [r](int64_t v) { return std::max<int64_t>(0, std::min(r, v < 0 ? v + r : v)); };
    const int64_t b = clamp(start_), e = has_end_ ? clamp(end_) : r;
    Tensor& y = ctx.output(0, DType::Int64, {std::max<int64_t>(0, e - b)});
    for (int64_t i = b; i < e; ++i) y.data<int64_t>()[i - b] = s[i];
  }

 private:
  int64_t start_;
  bool has_end_;
  int64_t end_;
};

void size_op(KernelContext& ctx) { ctx.output(0, DType::Int64, {}).data<int64_t>()[0] = ctx.input(0).numel(); }

// ---------------------------------------------------------------- Constant

class Constant final : public NamedKernel {
 public:
  explicit Constant(const KernelInfo& info) : NamedKernel(info) {
    const Node& n = info.node;
    const std::string what = n.describe();
    PIONNX_ENFORCE(!n.has("sparse_value"), NotImplemented, what, ": sparse_value is not supported");
    if (const Tensor* t = n.attr_t("value")) value_ = *t;
    else if (n.has("value_float")) value_ = Tensor::scalar<float>(n.attr_f("value_float", 0));
    else if (n.has("value_floats")) {
      auto v = n.attr_floats("value_floats");
      value_ = Tensor::from_vector(v, {static_cast<int64_t>(v.size())});
    } else if (n.has("value_int")) value_ = Tensor::scalar<int64_t>(n.attr_i("value_int", 0));
    else if (n.has("value_ints")) {
      auto v = n.attr_ints("value_ints");
      value_ = Tensor::from_vector(v, {static_cast<int64_t>(v.size())});
    } else if (n.has("value_string")) value_ = Tensor::scalar<std::string>(n.attr_s("value_string", ""));
    else if (n.has("value_strings")) {
      auto v = n.attr_strings("value_strings");
      value_ = Tensor::from_vector(v, {static_cast<int64_t>(v.size())});
    } else {
      throw InvalidGraph(str_cat(what, ": needs one of the value* attributes"));
    }
  }
  // Kernels never write into inputs, so handing out the shared tensor is safe.
  void compute(KernelContext& ctx) const override { ctx.set_output(0, value_); }

 private:
  Tensor value_;
};

class ConstantOfShape final : public NamedKernel {
 public:
  explicit ConstantOfShape(const KernelInfo& info) : NamedKernel(info) {
    const Tensor* v = info.node.attr_t("value");
    value_ = v ? *v : Tensor::scalar<float>(0.f);
    PIONNX_ENFORCE(value_.numel() == 1, InvalidGraph, info.node.describe(), ": value must have one element, has ",
                   value_.numel());
  }
  void compute(KernelContext& ctx) const override {
    const std::string& what = what_;
    const Shape shape = tensor_to_int64s(ctx.input(0));
    for (int64_t d : shape) PIONNX_ENFORCE(d >= 0, InvalidArgument, what, ": negative dim in shape ", shape_str(shape));
    Tensor& y = ctx.output(0, value_.dtype(), shape);
    dispatch_movable(value_.dtype(), what, [&](auto tag) {
      using T = typename decltype(tag)::type;
      const T v = *static_cast<const T*>(value_.raw());
      T* out = static_cast<T*>(y.raw());
      std::fill(out, out + y.numel(), v);
    });
  }

 private:
  Tensor value_;
};

// ---------------------------------------------------------------- Range

// float16/bfloat16 (opset 27) count and step in the `stash_type` type
// (float by default, or double) and round each value to T, as numpy's
// arange in that type followed by a cast.
class Range final : public NamedKernel {
 public:
  explicit Range(const KernelInfo& info) : NamedKernel(info), stash_(info.node.attr_i("stash_type", 1)) {
    PIONNX_ENFORCE(stash_ == static_cast<int64_t>(DType::Float) || stash_ == static_cast<int64_t>(DType::Double),
                   InvalidGraph, info.node.describe(), ": stash_type must be 1 (float) or 11 (double), got ", stash_);
  }
  void compute(KernelContext& ctx) const override {
    const std::string& what = what_;
    const Tensor &start = ctx.input(0), &limit = ctx.input(1), &delta = ctx.input(2);
    PIONNX_ENFORCE(start.numel() == 1 && limit.numel() == 1 && delta.numel() == 1, InvalidArgument, what,
                   ": start, limit and delta must be scalars");
    PIONNX_ENFORCE(limit.dtype() == start.dtype() && delta.dtype() == start.dtype(), InvalidArgument, what,
                   ": start, limit and delta must share one dtype");
    if (start.dtype() == DType::Float16 || start.dtype() == DType::BFloat16) {
      dispatch_arith(start.dtype(), what, [&](auto tag) {
        using T = typename decltype(tag)::type;
        if constexpr (IsHalf<T>::value) {
          if (stash_ == static_cast<int64_t>(DType::Double)) fill<double, T>(ctx, start, limit, delta);
          else fill<float, T>(ctx, start, limit, delta);
        }
      });
      return;
    }
    dispatch_numeric(start.dtype(), what, [&](auto tag) {
      using T = typename decltype(tag)::type;
      fill<T, T>(ctx, start, limit, delta);
    });
  }

 private:
  // Values computed in C, stored as T.
  template <typename C, typename T>
  void fill(KernelContext& ctx, const Tensor& start, const Tensor& limit, const Tensor& delta) const {
    const C s = static_cast<C>(*start.data<T>()), l = static_cast<C>(*limit.data<T>()),
            d = static_cast<C>(*delta.data<T>());
    PIONNX_ENFORCE(d != C(0), InvalidArgument, what_, ": delta is 0");
    int64_t n = 0;
    if constexpr (std::is_integral_v<C>) {
      // Exact ceil((l - s) / d) in unsigned 64-bit, so l - s cannot overflow.
      const uint64_t us = static_cast<uint64_t>(s), ul = static_cast<uint64_t>(l), ud = static_cast<uint64_t>(d);
      if (d > C(0) && l > s) n = static_cast<int64_t>((ul - us - 1) / ud + 1);
      if (d < C(0) && s > l) n = static_cast<int64_t>((us - ul - 1) / (uint64_t(0) - ud) + 1);
    } else {
      n = clamp_to_int<int64_t>(std::ceil((static_cast<double>(l) - s) / d));
    }
    n = std::max<int64_t>(0, n);
    T* y = ctx.output(0, start.dtype(), {n}).template data<T>();
    for (int64_t i = 0; i < n; ++i) y[i] = static_cast<T>(static_cast<C>(s + static_cast<C>(i) * d));
  }

  int64_t stash_;
};

// ---------------------------------------------------------------- EyeLike / Trilu

class EyeLike final : public NamedKernel {
 public:
  explicit EyeLike(const KernelInfo& info)
      : NamedKernel(info), dtype_(static_cast<DType>(info.node.attr_i("dtype", 0))), k_(info.node.attr_i("k", 0)) {}
  void compute(KernelContext& ctx) const override {
    const Tensor& x = ctx.input(0);
    const std::string& what = what_;
    PIONNX_ENFORCE(x.rank() == 2, InvalidArgument, what, ": expected a 2-D input, got ", shape_str(x.shape()));
    const DType dt = dtype_ == DType::Undefined ? x.dtype() : dtype_;
    const Tensor one = scalar_of(dt, 1.0, what);
    Tensor& y = ctx.output(0, dt, x.shape());
    const int64_t rows = x.shape()[0], cols = x.shape()[1];
    dispatch_by_size(dt, what, [&](auto tag) {
      using T = typename decltype(tag)::type;
      T* out = static_cast<T*>(y.raw());
      std::fill(out, out + y.numel(), T(0));
      const T v = *static_cast<const T*>(one.raw());
      for (int64_t i = std::max<int64_t>(0, -k_); i < rows && i + k_ < cols; ++i) out[i * cols + i + k_] = v;
    });
  }

 private:
  DType dtype_;
  int64_t k_;
};

class Trilu final : public NamedKernel {
 public:
  explicit Trilu(const KernelInfo& info) : NamedKernel(info), upper_(info.node.attr_i("upper", 1) != 0) {}
  void compute(KernelContext& ctx) const override {
    const Tensor& x = ctx.input(0);
    const std::string& what = what_;
    PIONNX_ENFORCE(x.rank() >= 2, InvalidArgument, what, ": expected rank >= 2, got ", shape_str(x.shape()));
    const Tensor* kt = ctx.optional_input(1);
    const std::vector<int64_t> kv = kt ? tensor_to_int64s(*kt) : std::vector<int64_t>{0};
    PIONNX_ENFORCE(kv.size() == 1, InvalidArgument, what, ": k must hold one value, has ", kv.size());
    Tensor& y = ctx.output(0, x.dtype(), x.shape());
    if (y.numel() == 0) return;
    const int64_t N = x.dim(-2), M = x.dim(-1);
    // Past +-(N + M) every k keeps all or nothing; clamped, i + k cannot overflow.
    const int64_t k = std::max(-(N + M), std::min(N + M, kv[0]));
    const int64_t rows = x.numel() / M;  // over all matrices
    dispatch_movable(x.dtype(), what, [&](auto tag) {
      using T = typename decltype(tag)::type;
      const T* in = static_cast<const T*>(x.raw());
      T* out = static_cast<T*>(y.raw());
      ctx.pool().parallel_for(rows, std::max<int64_t>(1, 4096 / std::max<int64_t>(M, 1)), [&](int64_t b, int64_t e) {
        for (int64_t row = b; row < e; ++row) {
          const int64_t i = row % N;
          // Upper keeps columns j >= i + k, lower keeps j <= i + k.
          const int64_t cut = std::max<int64_t>(0, std::min(M, upper_ ? i + k : i + k + 1));
          const T* src = in + row * M;
          T* dst = out + row * M;
          if (upper_) {
            std::fill(dst, dst + cut, T{});
            std::copy(src + cut, src + M, dst + cut);
          } else {
            std::copy(src, src + cut, dst);
            std::fill(dst + cut, dst + M, T{});
          }
        }
      });
    });
  }

 private:
  bool upper_;
};

// ---------------------------------------------------------------- OneHot

class OneHot final : public NamedKernel {
 public:
  explicit OneHot(const KernelInfo& info) : NamedKernel(info), axis_(info.node.attr_i("axis", -1)) {}
  void compute(KernelContext& ctx) const override {
    const std::string& what = what_;
    const Tensor& ind = ctx.input(0);
    const Tensor& values = ctx.input(2);
    PIONNX_ENFORCE(values.numel() == 2, InvalidArgument, what, ": values must hold [off, on], has ", values.numel(),
                   " elements");
    const std::vector<int64_t> dv = numeric_to_int64s(ctx.input(1));
    PIONNX_ENFORCE(dv.size() == 1 && dv[0] > 0, InvalidArgument, what, ": depth must be a positive scalar");
    const int64_t depth = dv[0];
    const std::vector<int64_t> idx = numeric_to_int64s(ind);
    const int64_t r = static_cast<int64_t>(ind.rank());
    const int64_t axis = normalize_axis(axis_, r + 1, what);
    Shape out_shape = ind.shape();
    out_shape.insert(out_shape.begin() + axis, depth);
    int64_t inner = 1;
    for (int64_t d = axis; d < r; ++d) inner *= ind.shape()[d];
    const int64_t outer = inner == 0 ? 0 : ind.numel() / inner;
    Tensor& y = ctx.output(0, values.dtype(), out_shape);
    dispatch_movable(values.dtype(), what, [&](auto tag) {
      using T = typename decltype(tag)::type;
      const T* v = static_cast<const T*>(values.raw());
      T* out = static_cast<T*>(y.raw());
      std::fill(out, out + y.numel(), v[0]);
      for (int64_t o = 0; o < outer; ++o)
        for (int64_t i = 0; i < inner; ++i) {
          int64_t k = idx[o * inner + i];
          if (k < 0) k += depth;  // negative indices count from the end
          if (k >= 0 && k < depth) out[(o * depth + k) * inner + i] = v[1];
        }
    });
  }

 private:
  int64_t axis_;
};

}  // namespace

void register_shape_gen(KernelRegistry& r) {
  r.add_all("", {impl<ShapeOp>("Shape"), impl_fn("Size", size_op), impl<Constant>("Constant"),
                 impl<ConstantOfShape>("ConstantOfShape"), impl<Range>("Range"), impl<EyeLike>("EyeLike"),
                 impl<Trilu>("Trilu"), impl<OneHot>("OneHot")});
}

}  // namespace pionnx
