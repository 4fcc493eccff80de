// Helpers shared by kernel families: dtype dispatch, broadcasting, axes.
#pragma once
#include <algorithm>
#include <cstdint>
#include <climits>
#include <limits>
#include <mutex>
#include <string>
#include <type_traits>
#include <vector>

#include "core/small_floats.h"
#include "kernels/base/kernel.h"
#include "pionnx/dtype.h"
#include "pionnx/status.h"
#include "pionnx/tensor.h"

namespace pionnx {

template <typename T>
struct TypeTag {
  using type = T;
};

// Calls fn(TypeTag<T>{}) for the C++ type of dt among the listed families;
// throws NotImplemented naming `what` for anything else.
template <typename Fn>
void dispatch_float(DType dt, const std::string& what, Fn&& fn) {
  switch (dt) {
    case DType::Float: return fn(TypeTag<float>{});
    case DType::Double: return fn(TypeTag<double>{});
    default: throw NotImplemented(str_cat(what, ": dtype ", dtype_name(dt), " is not supported"));
  }
}

template <typename Fn>
void dispatch_int(DType dt, const std::string& what, Fn&& fn) {
  switch (dt) {
    case DType::Int8: return fn(TypeTag<int8_t>{});
    case DType::Int16: return fn(TypeTag<int16_t>{});
    case DType::Int32: return fn(TypeTag<int32_t>{});
    case DType::Int64: return fn(TypeTag<int64_t>{});
    case DType::UInt8: return fn(TypeTag<uint8_t>{});
    case DType::UInt16: return fn(TypeTag<uint16_t>{});
    case DType::UInt32: return fn(TypeTag<uint32_t>{});
    case DType::UInt64: return fn(TypeTag<uint64_t>{});
    default: throw NotImplemented(str_cat(what, ": dtype ", dtype_name(dt), " is not supported"));
  }
}

// float, double and every integer type (not bool, not 16-bit floats).
template <typename Fn>
void dispatch_numeric(DType dt, const std::string& what, Fn&& fn) {
  if (dt == DType::Float || dt == DType::Double) return dispatch_float(dt, what, fn);
  return dispatch_int(dt, what, fn);
}

// Every fixed-size type incl. bool and 16-bit floats: for ops that only move
// elements (Gather, Transpose, Concat, ...). Dispatches on element size.
template <typename Fn>
void dispatch_by_size(DType dt, const std::string& what, Fn&& fn) {
  switch (dtype_size(dt)) {
    case 1: return fn(TypeTag<uint8_t>{});
    case 2: return fn(TypeTag<uint16_t>{});
    case 4: return fn(TypeTag<uint32_t>{});
    case 8: return fn(TypeTag<uint64_t>{});
    default: break;
  }
  throw NotImplemented(str_cat(what, ": dtype ", dtype_name(dt), " is not supported"));
}

// Like dispatch_by_size but also handles String (as std::string).
template <typename Fn>
void dispatch_movable(DType dt, const std::string& what, Fn&& fn) {
  if (dt == DType::String) return fn(TypeTag<std::string>{});
  return dispatch_by_size(dt, what, fn);
}

// Numpy-style broadcast of two shapes; throws InvalidArgument naming `what`.
Shape broadcast_shapes(const Shape& a, const Shape& b, const std::string& what);
Shape broadcast_shapes(const std::vector<Shape>& shapes, const std::string& what);

// Row-major strides of `shape` (elements).
std::vector<int64_t> strides_of(const Shape& shape);
// Strides to read `in` as if broadcast to `out` (0 on broadcast dims). `in`
// is right-aligned against `out`.
std::vector<int64_t> broadcast_strides(const Shape& in, const Shape& out);

// Items per parallel task so that a task holds about `target` units of work
// when each item is `per_item` units; an empty dimension (per_item 0) is no
// division by zero.
inline int64_t grain_size(int64_t target, int64_t per_item) {
  return per_item > 0 ? std::max<int64_t>(1, target / per_item) : target;
}

// A floating value to the integer type I without undefined behaviour: NaN
// is 0, and anything past int64's range stops at its end before narrowing
// (a narrower I then wraps like numpy's conversion through 64 bits on x86).
// static_cast alone is UB for a value I cannot hold, and a model's data or
// a feed can hold any value.
template <typename I, typename F>
I float_to_int(F v) {
  static_assert(std::is_integral<I>::value, "float_to_int makes an integer");
  const double d = static_cast<double>(v);
  if (!(d == d)) return I(0);
  if (d >= 0) return d >= 18446744073709551616.0 ? static_cast<I>(~uint64_t(0)) : static_cast<I>(static_cast<uint64_t>(d));
  return d < -9223372036854775808.0 ? static_cast<I>(INT64_MIN) : static_cast<I>(static_cast<int64_t>(d));
}

// A floating value to the integer type I, saturated: NaN is 0, anything
// past I's range is I's lowest or highest value. For sizes, indices and
// bounds computed in floating point from a model's data (Range's count, a
// box corner, Clip's limits), which are then checked or clamped.
template <typename I>
I clamp_to_int(double d) {
  static_assert(std::is_integral<I>::value, "clamp_to_int makes an integer");
  if (!(d == d)) return I(0);
  if (d <= static_cast<double>(std::numeric_limits<I>::lowest())) return std::numeric_limits<I>::lowest();
  if (d >= static_cast<double>(std::numeric_limits<I>::max())) return std::numeric_limits<I>::max();
  return static_cast<I>(d);
}

// Integer arithmetic that wraps (two's complement, as numpy and onnxruntime
// compute it) instead of overflowing: signed overflow is undefined
// behaviour, and feeds and weights can hold any value. Done in an unsigned
// type at least as wide as int, so small types' promotion cannot overflow
// either (uint16 x uint16 does, in int). Floating types pass through.
template <typename T>
using wrapping_unsigned_t =
    std::make_unsigned_t<std::conditional_t<(sizeof(T) < sizeof(int)), int, T>>;
template <typename T>
T wrapping_add(T a, T b) {
  if constexpr (std::is_integral<T>::value && !std::is_same<T, bool>::value) {
    using U = wrapping_unsigned_t<T>;
    return static_cast<T>(static_cast<U>(static_cast<U>(a) + static_cast<U>(b)));
  } else {
    return a + b;
  }
}
template <typename T>
T wrapping_sub(T a, T b) {
  if constexpr (std::is_integral<T>::value && !std::is_same<T, bool>::value) {
    using U = wrapping_unsigned_t<T>;
    return static_cast<T>(static_cast<U>(static_cast<U>(a) - static_cast<U>(b)));
  } else {
    return a - b;
  }
}
template <typename T>
T wrapping_mul(T a, T b) {
  if constexpr (std::is_integral<T>::value && !std::is_same<T, bool>::value) {
    using U = wrapping_unsigned_t<T>;
    return static_cast<T>(static_cast<U>(static_cast<U>(a) * static_cast<U>(b)));
  } else {
    return a * b;
  }
}
template <typename T>
T wrapping_neg(T a) {
  return wrapping_sub(T(0), a);
}

// axis in [-rank, rank) -> [0, rank); throws InvalidArgument naming `what`.
int64_t normalize_axis(int64_t axis, int64_t rank, const std::string& what);

// Widens 16-bit floats to float32 and back, for kernels that compute in
// float32 only.
Tensor to_float32(const Tensor& t);
// Any non-string dtype to any other, small types (float8, float4, int4)
// included. `saturate` and `round` only matter for float8/float4 targets
// (Cast-19/24 attributes); the defaults are ONNX's.
Tensor cast_tensor(const Tensor& t, DType to, bool saturate = true, E8M0Round round = E8M0Round::Up);

// Iterates a multi-index over `shape` in row-major order.
struct IndexIter {
  explicit IndexIter(const Shape& shape) : shape(shape), idx(shape.size(), 0) {}
  // Advances; false when done.
  bool next() {
    for (int64_t d = static_cast<int64_t>(shape.size()) - 1; d >= 0; --d) {
      if (++idx[d] < shape[d]) return true;
      idx[d] = 0;
    }
    return false;
  }
  const Shape& shape;
  std::vector<int64_t> idx;
};

// Something derived from a constant weight (packed panels, a transpose),
// made on first use and kept for the session. Only for an input that
// KernelInfo::constant_input names: a fed or computed weight can change from
// run to run, so get() returns nullptr for it and the kernel works from the
// tensor itself.
template <typename T>
class ConstantWeightCache {
 public:
  explicit ConstantWeightCache(const Tensor* constant) : constant_(constant) {}

  template <typename Make>
  const T* get(const Tensor& input, Make&& make) const {
    if (!constant_ || constant_->raw() != input.raw() || constant_->shape() != input.shape()) return nullptr;
    std::call_once(once_, [&] { value_ = make(input); });
    return &value_;
  }

 private:
  const Tensor* constant_;
  // Made once, by whichever run gets there first; runs of one session may be concurrent.
  mutable std::once_flag once_;
  mutable T value_{};
};

}  // namespace pionnx
