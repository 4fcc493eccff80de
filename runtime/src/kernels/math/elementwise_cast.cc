// Cast and CastLike between every supported dtype, strings included.
// Numbers print the way numpy's astype(str) prints them (shortest round-trip
// digits, "1.0", "1e-05", "nan", "True"), since that is the reference.
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <string>
#include <type_traits>

#include "core/int_arith.h"
#include "kernels/base/cast.h"
#include "kernels/base/kernel.h"
#include "kernels/math/elementwise_loops.h"
#include "kernels/simd/elementwise_math.h"

namespace pionnx {
namespace {

using namespace ew;

template <typename T>
constexpr bool is_int_v = std::is_integral<T>::value && !std::is_same<T, bool>::value;

// Shortest "%.{p}e" that reads back as the same value of type R, laid out
// like numpy: positional for 1e-4 <= |v| < 1e16, else d.ddde+XX.
template <typename R>
std::string format_float(double v, int max_digits) {
  if (std::isnan(v)) return "nan";
  if (std::isinf(v)) return v > 0 ? "inf" : "-inf";
  if (v == 0) return std::signbit(v) ? "-0.0" : "0.0";
  char buf[64];
  for (int p = 0; p < max_digits; ++p) {
    std::snprintf(buf, sizeof buf, "%.*e", p, v);
    const double back = std::strtod(buf, nullptr);
    if (static_cast<float>(static_cast<R>(back)) == static_cast<float>(static_cast<R>(v)) &&
        (!std::is_same<R, double>::value || back == v)) {
      break;
    }
  }
  // buf = [-]d[.ddd]e±XX
  std::string s(buf);
  const bool neg = s[0] == '-';
  if (neg) s.erase(0, 1);
  const size_t epos = s.find('e');
  const int exp10 = std::atoi(s.c_str() + epos + 1);
  std::string digits;
  for (size_t i = 0; i < epos; ++i)
    if (s[i] != '.') digits += s[i];
  while (digits.size() > 1 && digits.back() == '0') digits.pop_back();
  std::string out;
  if (exp10 >= -4 && exp10 < 16) {
    if (exp10 < 0) {
      out = "0." + std::string(static_cast<size_t>(-exp10 - 1), '0') + digits;
    } else if (static_cast<int>(digits.size()) <= exp10 + 1) {
      out = digits + std::string(static_cast<size_t>(exp10 + 1 - static_cast<int>(digits.size())), '0') + ".0";
    } else {
      out = digits.substr(0, static_cast<size_t>(exp10 + 1)) + "." + digits.substr(static_cast<size_t>(exp10 + 1));
    }
  } else {
    out = digits.substr(0, 1);
    if (digits.size() > 1) out += "." + digits.substr(1);
    char e[16];
    std::snprintf(e, sizeof e, "e%c%02d", exp10 < 0 ? '-' : '+', std::abs(exp10));
    out += e;
  }
  return neg ? "-" + out : out;
}

template <typename F>
std::string to_string_value(const F& x) {
  if constexpr (std::is_same<F, std::string>::value) {
    return x;
  } else if constexpr (std::is_same<F, bool>::value) {
    return x ? "True" : "False";
  } else if constexpr (std::is_same<F, float16_t>::value) {
    return format_float<float16_t>(static_cast<float>(x), 6);
  } else if constexpr (std::is_same<F, bfloat16_t>::value) {
    return format_float<bfloat16_t>(static_cast<float>(x), 4);
  } else if constexpr (std::is_same<F, float>::value) {
    return format_float<float>(x, 10);
  } else if constexpr (std::is_same<F, double>::value) {
    return format_float<double>(x, 18);
  } else {
    return std::to_string(x);
  }
}

template <typename T>
T from_string_value(const std::string& s) {
  const char* p = s.c_str();
  char* end = nullptr;
  if constexpr (std::is_same<T, bool>::value) {
    const double d = std::strtod(p, &end);
    if (end != p) return d != 0;
    return !s.empty();
  } else if constexpr (is_int_v<T>) {
    if constexpr (std::is_signed<T>::value) {
      const long long v = std::strtoll(p, &end, 10);
      if (end != p && *end == '\0') return static_cast<T>(v);
    } else {
      const unsigned long long v = std::strtoull(p, &end, 10);
      if (end != p && *end == '\0') return static_cast<T>(v);
    }
    // "1.5", "1e3": go through double.
    const double d = std::strtod(p, &end);
    return std::isfinite(d) ? static_cast<T>(static_cast<int64_t>(d)) : T(0);
  } else {
    return static_cast<T>(std::strtod(p, &end));  // handles inf, -INF, nan
  }
}

// One element F -> T.
template <typename T, typename F>
T convert(const F& x) {
  if constexpr (std::is_same<T, std::string>::value) {
    return to_string_value(x);
  } else if constexpr (std::is_same<F, std::string>::value) {
    return from_string_value<T>(x);
  } else if constexpr (std::is_same<T, bool>::value) {
    return widen(x) != 0;
  } else if constexpr (is_int_v<T> && !is_int_v<F> && !std::is_same<F, bool>::value) {
    // float -> int: NaN/inf give 0 instead of UB; out-of-range wraps through
    // a 64-bit integer like numpy does on x86 for the narrow types.
    const auto v = widen(x);
    if (!std::isfinite(v)) return T(0);
    return float_to_int<T>(v);
  } else if constexpr (std::is_same<T, float16_t>::value || std::is_same<T, bfloat16_t>::value) {
    return T(static_cast<float>(widen(x)));
  } else {
    return static_cast<T>(widen(x));
  }
}

constexpr unsigned kCastTypes = kAll;

// The plain dtypes: every pair through convert<T, F>, split across the pool.
void cast_plain(ThreadPool& pool, const Tensor& x, Tensor& y, const std::string& what) {
  // float32 <-> float16 by the fastmath family's vector conversions (F16C, AVX-512, aarch64 NEON): the same bits as
  // convert<> below but a NaN's payload, 20-30x faster than it.
  if (x.dtype() == DType::Float && y.dtype() == DType::Float16) {
    const float* src = x.data<float>();
    uint16_t* dst = static_cast<uint16_t*>(y.raw());
    pool.parallel_for(x.numel(), kGrain,
                      [&](int64_t b, int64_t e) { fastmath::half_from_float_block(src + b, dst + b, e - b); });
    return;
  }
  if (x.dtype() == DType::Float16 && y.dtype() == DType::Float) {
    const uint16_t* src = static_cast<const uint16_t*>(x.raw());
    float* dst = y.data<float>();
    pool.parallel_for(x.numel(), kGrain,
                      [&](int64_t b, int64_t e) { fastmath::float_from_half_block(src + b, dst + b, e - b); });
    return;
  }
  dispatch_types<kCastTypes>(x.dtype(), what, [&](auto ft) {
    using F = typename decltype(ft)::type;
    dispatch_types<kCastTypes>(y.dtype(), what + " target", [&](auto tt) {
      using T = typename decltype(tt)::type;
      const F* src = ptr<F>(x);
      T* dst = ptr<T>(y);
      pool.parallel_for(x.numel(), kGrain, [&](int64_t b, int64_t e) {
        for (int64_t i = b; i < e; ++i) dst[i] = convert<T, F>(src[i]);
      });
    });
  });
}

struct CastOptions {
  bool saturate = true;
  E8M0Round round = E8M0Round::Up;
};

// Casts x into ctx's output 0; same dtype passes the input through. Small
// types (float8, float4, int4) go through cast_tensor, strings via float32
// (int8/uint8 for the narrow ints, so they print as integers).
void cast_into(KernelContext& ctx, const Tensor& x, DType to, const std::string& what, const CastOptions& opt) {
  if (x.dtype() == to) {
    ctx.set_output(0, x);
    return;
  }
  const bool small_from = dtype_is_small(x.dtype()), small_to = dtype_is_small(to);
  if (small_from || small_to) {
    if (to == DType::String) {
      const DType mid = !dtype_is_narrow_int(x.dtype())     ? DType::Float
                        : dtype_is_signed_narrow(x.dtype()) ? DType::Int8
                                                            : DType::UInt8;
      return cast_into(ctx, cast_tensor(x, mid), to, what, opt);
    }
    if (x.dtype() == DType::String) {
      Tensor f(DType::Float, x.shape());
      cast_plain(ctx.pool(), x, f, what);
      ctx.set_output(0, cast_tensor(f, to, opt.saturate, opt.round));
      return;
    }
    ctx.set_output(0, cast_tensor(x, to, opt.saturate, opt.round));
    return;
  }
  Tensor& y = ctx.output(0, to, x.shape());
  cast_plain(ctx.pool(), x, y, what);
}

// Opset 1-5 spelled `to` as a string ("FLOAT", "INT64", ...).
DType dtype_from_name(const std::string& s, const std::string& what) {
  static const std::pair<const char*, DType> names[] = {{"FLOAT", DType::Float},
                                                        {"UINT8", DType::UInt8},
                                                        {"INT8", DType::Int8},
                                                        {"UINT16", DType::UInt16},
                                                        {"INT16", DType::Int16},
                                                        {"INT32", DType::Int32},
                                                        {"INT64", DType::Int64},
                                                        {"STRING", DType::String},
                                                        {"BOOL", DType::Bool},
                                                        {"FLOAT16", DType::Float16},
                                                        {"DOUBLE", DType::Double},
                                                        {"UINT32", DType::UInt32},
                                                        {"UINT64", DType::UInt64},
                                                        {"BFLOAT16", DType::BFloat16},
                                                        {"FLOAT8E4M3FN", DType::Float8E4M3FN},
                                                        {"FLOAT8E4M3FNUZ", DType::Float8E4M3FNUZ},
                                                        {"FLOAT8E5M2", DType::Float8E5M2},
                                                        {"FLOAT8E5M2FNUZ", DType::Float8E5M2FNUZ},
                                                        {"UINT4", DType::UInt4},
                                                        {"INT4", DType::Int4},
                                                        {"FLOAT4E2M1", DType::Float4E2M1},
                                                        {"FLOAT8E8M0", DType::Float8E8M0}};
  for (const auto& n : names)
    if (s == n.first) return n.second;
  throw NotImplemented(str_cat(what, ": cast to '", s, "' is not supported"));
}

// Cast-19 `saturate` and Cast-24 `round_mode` (absent before: ONNX defaults).
CastOptions options_of(const Node& node, const std::string& what) {
  CastOptions o;
  o.saturate = node.attr_i("saturate", 1) != 0;
  o.round = e8m0_round_from_name(node.attr_s("round_mode", "up").c_str(), what.c_str());
  return o;
}

class CastKernel : public Kernel {
 public:
  explicit CastKernel(const KernelInfo& info) : what_(info.node.describe()) {
    const Attribute& to = info.node.require("to");
    if (to.type == Attribute::Type::String) {
      to_ = dtype_from_name(to.s, what_);
    } else {
      PIONNX_ENFORCE(dtype_is_valid(static_cast<int32_t>(to.i)), NotImplemented, what_, ": cast to dtype code ", to.i,
                     " is not supported");
      to_ = static_cast<DType>(to.i);
    }
    opt_ = options_of(info.node, what_);
  }
  void compute(KernelContext& ctx) const override { cast_into(ctx, ctx.input(0), to_, what_, opt_); }

 private:
  std::string what_;
  DType to_ = DType::Undefined;
  CastOptions opt_;
};

class CastLikeKernel : public Kernel {
 public:
  explicit CastLikeKernel(const KernelInfo& info) : what_(info.node.describe()), opt_(options_of(info.node, what_)) {}
  void compute(KernelContext& ctx) const override { cast_into(ctx, ctx.input(0), ctx.input(1).dtype(), what_, opt_); }

 private:
  std::string what_;
  CastOptions opt_;
};

// BitCast (opset 26): the same bits read as another type of the same width.
// Fixed-size types share their bytes (little-endian, as the spec asks and as
// every target pionnx builds for is); the packed types, one element per byte
// in memory, keep their low 4 (2) bits and re-sign-extend for int4/int2.
int bit_width(DType t) {
  const int packed = dtype_packed_bits(t);
  return packed != 0 ? packed : static_cast<int>(dtype_size(t) * 8);
}

class BitCastKernel : public Kernel {
 public:
  explicit BitCastKernel(const KernelInfo& info) : what_(info.node.describe()) {
    const int64_t to = info.node.require("to").i;
    PIONNX_ENFORCE(dtype_is_valid(static_cast<int32_t>(to)) && to != static_cast<int64_t>(DType::String),
                   NotImplemented, what_, ": bit-cast to dtype code ", to, " is not supported");
    to_ = static_cast<DType>(to);
  }
  void compute(KernelContext& ctx) const override {
    const Tensor& x = ctx.input(0);
    PIONNX_ENFORCE(x.dtype() != DType::String, InvalidArgument, what_, ": a string tensor has no fixed bit pattern");
    PIONNX_ENFORCE(bit_width(x.dtype()) == bit_width(to_), InvalidArgument, what_, ": ", dtype_name(x.dtype()), " (",
                   bit_width(x.dtype()), " bits) cannot be bit-cast to ", dtype_name(to_), " (", bit_width(to_),
                   " bits): the widths must match");
    if (x.dtype() == to_) {
      ctx.set_output(0, x);
      return;
    }
    Tensor& y = ctx.output(0, to_, x.shape());
    if (x.nbytes() == 0) return;
    if (!dtype_is_packed(to_)) {
      std::memcpy(y.raw(), x.raw(), x.nbytes());
      return;
    }
    const uint8_t mask = static_cast<uint8_t>((1u << dtype_packed_bits(to_)) - 1);
    const uint8_t* in = static_cast<const uint8_t*>(x.raw());
    uint8_t* out = static_cast<uint8_t*>(y.raw());
    for (int64_t i = 0; i < x.numel(); ++i) {
      const uint8_t code = in[i] & mask;
      out[i] = dtype_is_narrow_int(to_) ? int_to_narrow(to_, code) : code;
    }
  }

 private:
  std::string what_;
  DType to_ = DType::Undefined;
};

}  // namespace

void register_elementwise_cast(KernelRegistry& r) {
  r.add<CastKernel>("", "Cast");
  r.add<CastLikeKernel>("", "CastLike");
  r.add<BitCastKernel>("", "BitCast");
}

}  // namespace pionnx
