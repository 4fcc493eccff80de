// See cast.h.
#include "kernels/base/cast.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <type_traits>

#include "core/checked.h"
#include "core/int_arith.h"
#include "kernels/base/dtype_dispatch.h"
#include "kernels/simd/elementwise_math.h"

namespace pionnx {

namespace {

// Reads element i of any non-string tensor as T.
template <typename To>
void convert_all(const Tensor& src, To* dst) {
  int64_t n = src.numel();
  const void* p = src.raw();
  switch (src.dtype()) {
#define PIONNX_CASE(DT, T)                                          \
  case DType::DT: {                                                 \
    const T* s = static_cast<const T*>(p);                          \
    for (int64_t i = 0; i < n; ++i) dst[i] = static_cast<To>(s[i]); \
    return;                                                         \
  }
    PIONNX_CASE(Float, float)
    PIONNX_CASE(Double, double)
    PIONNX_CASE(Int8, int8_t)
    PIONNX_CASE(Int16, int16_t)
    PIONNX_CASE(Int32, int32_t)
    PIONNX_CASE(Int64, int64_t)
    PIONNX_CASE(UInt8, uint8_t)
    PIONNX_CASE(UInt16, uint16_t)
    PIONNX_CASE(UInt32, uint32_t)
    PIONNX_CASE(UInt64, uint64_t)
    PIONNX_CASE(Bool, bool)
#undef PIONNX_CASE
    case DType::Float16: {
      const uint16_t* s = static_cast<const uint16_t*>(p);
      if constexpr (std::is_same<To, float>::value) fastmath::float_from_half_block(s, dst, n);
      else
        for (int64_t i = 0; i < n; ++i) dst[i] = static_cast<To>(half_to_float(s[i]));
      return;
    }
    case DType::BFloat16: {
      const uint16_t* s = static_cast<const uint16_t*>(p);
      for (int64_t i = 0; i < n; ++i) dst[i] = static_cast<To>(bfloat16_to_float(s[i]));
      return;
    }
    default: throw NotImplemented(str_cat("cast from ", dtype_name(src.dtype()), " is not supported"));
  }
}

// Float -> integer casts of NaN/inf are undefined in C++; clamp them so the
// result is deterministic (matches numpy on x86 closely enough for ONNX).
template <typename To>
void convert_float_to_int(const double* s, To* d, int64_t n) {
  for (int64_t i = 0; i < n; ++i) {
    double v = s[i];
    if (std::isnan(v)) d[i] = To(0);
    else if (v >= static_cast<double>(std::numeric_limits<To>::max())) d[i] = std::numeric_limits<To>::max();
    else if (v <= static_cast<double>(std::numeric_limits<To>::lowest())) d[i] = std::numeric_limits<To>::lowest();
    else d[i] = static_cast<To>(v);
  }
}

}  // namespace

Tensor cast_tensor(const Tensor& t, DType to, bool saturate, E8M0Round round) {
  if (t.dtype() == to) return t;
  int64_t n = t.numel();
  if (dtype_is_small(t.dtype())) {
    // Every small value is exactly a float32: widen, then cast on from there.
    Tensor f(DType::Float, t.shape());
    const uint8_t* s = static_cast<const uint8_t*>(t.raw());
    float* d = f.data<float>();
    for (int64_t i = 0; i < n; ++i) d[i] = small_to_float(t.dtype(), s[i]);
    return cast_tensor(f, to, saturate, round);
  }
  if (dtype_is_small(to)) {
    Tensor out(to, t.shape());
    uint8_t* d = static_cast<uint8_t*>(out.raw());
    if (dtype_is_narrow_int(to) && !dtype_is_float(t.dtype())) {
      std::vector<int64_t> tmp(static_cast<size_t>(n));
      convert_all(t, tmp.data());
      for (int64_t i = 0; i < n; ++i) d[i] = int_to_narrow(to, tmp[i]);
    } else {
      std::vector<double> tmp(static_cast<size_t>(n));
      convert_all(t, tmp.data());
      for (int64_t i = 0; i < n; ++i) d[i] = float_to_small(to, tmp[i], saturate, round);
    }
    return out;
  }
  Tensor out(to, t.shape());
  bool src_float = dtype_is_float(t.dtype());
  switch (to) {
    case DType::Float: convert_all(t, out.data<float>()); break;
    case DType::Double: convert_all(t, out.data<double>()); break;
    case DType::Bool: {
      std::vector<double> tmp(static_cast<size_t>(n));
      convert_all(t, tmp.data());
      bool* d = out.data<bool>();
      for (int64_t i = 0; i < n; ++i) d[i] = tmp[i] != 0.0;
      break;
    }
    case DType::Float16:
      if (t.dtype() == DType::Float) {
        fastmath::half_from_float_block(t.data<float>(), static_cast<uint16_t*>(out.raw()), n);
        break;
      }
      [[fallthrough]];
    case DType::BFloat16: {
      std::vector<float> tmp(static_cast<size_t>(n));
      convert_all(t, tmp.data());
      uint16_t* d = static_cast<uint16_t*>(out.raw());
      for (int64_t i = 0; i < n; ++i) d[i] = to == DType::Float16 ? float_to_half(tmp[i]) : float_to_bfloat16(tmp[i]);
      break;
    }
    default: {
      PIONNX_ENFORCE(dtype_is_integer(to), NotImplemented, "cast to ", dtype_name(to), " is not supported");
      dispatch_int(to, "Cast", [&](auto tag) {
        using T = typename decltype(tag)::type;
        if (src_float) {
          std::vector<double> tmp(static_cast<size_t>(n));
          convert_all(t, tmp.data());
          convert_float_to_int<T>(tmp.data(), out.data<T>(), n);
        } else {
          convert_all(t, out.data<T>());
        }
      });
    }
  }
  return out;
}

Tensor to_float32(const Tensor& t) { return cast_tensor(t, DType::Float); }

}  // namespace pionnx
