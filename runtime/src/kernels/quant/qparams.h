// Helpers shared by the quantized kernels (quant_*.cc): reading scales and
// zero points, rounding and saturating, matmul batch shapes.
#pragma once
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <string>
#include <type_traits>
#include <vector>

#include "core/int_arith.h"
#include "kernels/base/cast.h"
#include "kernels/base/dtype_dispatch.h"
#include "kernels/base/kernel.h"
#include "kernels/base/shapes.h"
#include "kernels/simd/elementwise_math.h"

namespace pionnx {

const char* const kMsDomain = "com.microsoft";

// "<node description><suffix>" in an error message, built only when one is
// thrown: Node::describe() allocates, and the integer matmuls (a few
// microseconds of work each in an int8 transformer) built it three times
// per call. Any message helper below takes it where it takes a string.
struct NodeWhat {
  const Node& node;
  const char* suffix = "";
};
inline void append(std::string& out, const NodeWhat& w) {
  out += w.node.describe();
  out += w.suffix;
}

// Scale-like input (float, float16, bfloat16, double) as float values.
inline std::vector<float> float_values(const Tensor& t) {
  Tensor f = (t.dtype() == DType::Float) ? t : cast_tensor(to_float32(t), DType::Float);
  const float* p = f.data<float>();
  return std::vector<float>(p, p + f.numel());
}

// The same values in place when t is float already, else converted into
// `store`.
inline const float* float_view(const Tensor& t, std::vector<float>& store) {
  if (t.dtype() == DType::Float) return t.data<float>();
  store = float_values(t);
  return store.data();
}

// Zero-point-like input (any integer up to 32 bits) as int32 values; an
// absent input reads as {0}.
inline std::vector<int32_t> int32_values(const Tensor* t) {
  if (t == nullptr) return {0};
  std::vector<int32_t> v(static_cast<size_t>(t->numel()));
  switch (t->dtype()) {
    case DType::UInt8: std::copy(t->data<uint8_t>(), t->data<uint8_t>() + t->numel(), v.begin()); break;
    case DType::Int8: std::copy(t->data<int8_t>(), t->data<int8_t>() + t->numel(), v.begin()); break;
    case DType::UInt16: std::copy(t->data<uint16_t>(), t->data<uint16_t>() + t->numel(), v.begin()); break;
    case DType::Int16: std::copy(t->data<int16_t>(), t->data<int16_t>() + t->numel(), v.begin()); break;
    case DType::Int32: std::copy(t->data<int32_t>(), t->data<int32_t>() + t->numel(), v.begin()); break;
    // One byte per element in memory, int4/int2 sign-extended.
    case DType::Int4:
    case DType::Int2: {
      const int8_t* p = static_cast<const int8_t*>(t->raw());
      std::copy(p, p + t->numel(), v.begin());
      break;
    }
    case DType::UInt4:
    case DType::UInt2: {
      const uint8_t* p = static_cast<const uint8_t*>(t->raw());
      std::copy(p, p + t->numel(), v.begin());
      break;
    }
    default: throw NotImplemented(str_cat("zero point of dtype ", dtype_name(t->dtype()), " is not supported"));
  }
  return v;
}

// A per-tensor parameter: a scalar or a 1-element tensor.
template <typename What>
float scalar_scale(const Tensor& t, const What& what) {
  PIONNX_ENFORCE(t.numel() == 1, InvalidArgument, what, ": expected a scalar, got shape ", shape_str(t.shape()));
  return float_values(t)[0];
}
inline int32_t scalar_zero_point(const Tensor* t, const std::string& what) {
  if (t == nullptr) return 0;
  PIONNX_ENFORCE(t->numel() == 1, InvalidArgument, what, ": expected a scalar, got shape ", shape_str(t->shape()));
  return int32_values(t)[0];
}

template <typename Q>
struct QRange {
  static constexpr float lo = static_cast<float>(std::numeric_limits<Q>::lowest());
  static constexpr float hi = static_cast<float>(std::numeric_limits<Q>::max());
};

// round-half-to-even(v) under the default FP rounding mode, as std::nearbyint gives it, in two adds: below 2^51
// (float: 2^22) adding and subtracting 1.5 * 2^52 (1.5 * 2^23) leaves v rounded to an integer; larger values are
// integers already, and NaN stays NaN. No libm call, so the requantizing loops vectorize (baseline x86-64 has no
// rounding instruction: nearbyint was a call per value).
template <typename V>
inline V round_half_even(V v) {
  constexpr bool is_double = sizeof(V) == 8;
  const V magic = is_double ? static_cast<V>(6755399441055744.0) : static_cast<V>(12582912.0f);
  const V limit = is_double ? static_cast<V>(2251799813685248.0) : static_cast<V>(4194304.0f);
  const V r = (v + magic) - magic;
  return std::fabs(v) < limit ? r : v;
}

// round-half-to-even(v) + zp, saturated to [lo, hi].
template <typename V>
inline V saturate_round_to(V v, int32_t zp, V lo, V hi) {
  V r = round_half_even(v) + static_cast<V>(zp);
  if (!(r == r)) r = static_cast<V>(zp);  // NaN (from the data or a scale): the zero point, never a UB cast
  return std::min(std::max(r, lo), hi);
}
// The same, saturated to Q's range.
template <typename Q, typename V>
inline Q saturate_round(V v, int32_t zp) {
  return static_cast<Q>(saturate_round_to(v, zp, static_cast<V>(QRange<Q>::lo), static_cast<V>(QRange<Q>::hi)));
}

// saturate(round_half_even(v) + zp) (kZeroPointFirst false: saturate_round's order, QuantizeLinear's reference)
// or saturate(round_half_even(v + zp)) (true: onnx.reference's QLinearConv and QLinearMatMul add the zero point
// before they round; with an odd zero point a tie goes the other way), for a v that is not NaN, in V (float or
// double): clamped first to one past the range the zero point leaves (rounding is monotonic, so the result is the
// same), rounded by the 1.5 * 2^23 (float) or 1.5 * 2^52 (double) addition, which then needs no range check; min
// and max, not branches, so loops over it vectorize. A lambda that stores bytes through it should capture it by
// value (by reference, its fields are reloaded after every byte store, which may alias them).
template <typename Q, typename V, bool kZeroPointFirst>
struct Requantizer {
  V z, vlo, vhi;
  explicit Requantizer(int32_t zp)
      : z(static_cast<V>(zp)), vlo(static_cast<V>(QRange<Q>::lo) - z - 1), vhi(static_cast<V>(QRange<Q>::hi) - z + 1) {}
  Q operator()(V v) const {
    const V magic = sizeof(V) == 8 ? static_cast<V>(6755399441055744.0) : static_cast<V>(12582912.0f);
    const V lo = static_cast<V>(QRange<Q>::lo), hi = static_cast<V>(QRange<Q>::hi);
    const V c = std::min(std::max(v, vlo), vhi);
    const V r = kZeroPointFirst ? ((c + z) + magic) - magic : ((c + magic) - magic) + z;
    return static_cast<Q>(static_cast<int32_t>(std::min(std::max(r, lo), hi)));
  }
};

// y[i] = saturate(round_half_even((acc[i] + bias) * mul + zp)) over a row of int32 sums, in double (onnx's
// reference multiplies the int32 sums by the float scale in float64 too, and adds the zero point before it
// rounds). With a finite multiplier no value is NaN: the byte outputs take fastmath::requantize_block (AVX-512,
// AVX2 or a vectorizing loop), the others Requantizer; otherwise each value takes saturate_round's NaN rule.
// With sub, the sums are acc[i] - sub[i] - row_sub (QGemmArgs::row_out's raw sums and zero-point terms).
// bounded: every sum within fastmath::kRequantizeBoundedSum in size (requantize_block's).
template <typename Q>
void requantize_row(const int32_t* acc, int64_t n, int32_t bias, double mul, int32_t zp, Q* y,
                    const int32_t* sub = nullptr, int32_t row_sub = 0, bool bounded = false);

// requantize_row over rows r < rows: acc + r * ld_acc to y + r * ldy with bias[r], mul[r], bounded[r] and, with
// sub, row_sub[r]; the byte outputs with finite multipliers in one call of fastmath's rows loop.
template <typename Q>
void requantize_rows(const int32_t* acc, int64_t ld_acc, int64_t rows, int64_t n, const int32_t* bias,
                     const double* mul, const char* bounded, int32_t zp, Q* y, int64_t ldy, const int32_t* sub,
                     const int32_t* row_sub) {
  if constexpr (sizeof(Q) == 1) {
    if (std::all_of(mul, mul + rows, [](double m) { return std::isfinite(m); })) {
      fastmath::requantize_rows_block(acc, ld_acc, rows, n, bias, mul, bounded, zp, std::is_signed<Q>::value,
                                      reinterpret_cast<uint8_t*>(y), ldy, sub, row_sub);
      return;
    }
  }
  for (int64_t r = 0; r < rows; ++r)
    requantize_row(acc + r * ld_acc, n, bias[r], mul[r], zp, y + r * ldy, sub, sub ? row_sub[r] : 0, bounded[r] != 0);
}

template <typename Q>
void requantize_row(const int32_t* acc, int64_t n, int32_t bias, double mul, int32_t zp, Q* y, const int32_t* sub,
                    int32_t row_sub, bool bounded) {
  auto sum = [&](int64_t i) {  // (modulo 2^32, as fastmath's loops take it: the sum itself, which fits)
    return static_cast<double>(sub ? wrapping_sub(wrapping_sub(acc[i], sub[i]), row_sub) : acc[i]);
  };
  if (!std::isfinite(mul)) {
    for (int64_t i = 0; i < n; ++i) y[i] = saturate_round<Q>((sum(i) + bias) * mul, zp);
    return;
  }
  if constexpr (sizeof(Q) == 1) {
    fastmath::requantize_block(acc, n, bias, mul, zp, std::is_signed<Q>::value, reinterpret_cast<uint8_t*>(y), sub,
                               row_sub, bounded);
  } else {
    const Requantizer<Q, double, true> q(zp);
    const double b = bias;
    for (int64_t i = 0; i < n; ++i) y[i] = q((sum(i) + b) * mul);
  }
}

// y[i] = saturate(round_half_even(x[i] / scale) + zp) over a row of floats, the quotient by a float division as
// QuantizeLinear's spec has it (and saturate_round's NaN rule: a NaN gives the zero point), in a loop that
// vectorizes (Requantizer's form).
template <typename Q>
void quantize_row(const float* x, int64_t n, float scale, int32_t zp, Q* y) {
  const Requantizer<Q, float, false> q(zp);
  for (int64_t i = 0; i < n; ++i) {
    const float v = x[i] / scale;
    y[i] = q(v == v ? v : 0.0f);
  }
}

// Input `w` of the node when it is constant and its zero point, input `w_zp`, is constant or absent: a weight an
// integer kernel may pack or prepare once per session. nullptr otherwise (a fed weight or zero point can change
// from run to run).
inline const Tensor* constant_weight(const KernelInfo& info, size_t w, size_t w_zp) {
  const bool zp_fed = w_zp < info.node.inputs.size() && !info.node.inputs[w_zp].empty() && !info.constant_input(w_zp);
  return zp_fed ? nullptr : info.constant_input(w);
}

// Quantized 8-bit dtypes that the integer paths accept.
inline bool is_q8(DType t) { return t == DType::UInt8 || t == DType::Int8; }

template <typename Fn>
void dispatch_q8(DType dt, const std::string& what, Fn&& fn) {
  switch (dt) {
    case DType::UInt8: return fn(TypeTag<uint8_t>{});
    case DType::Int8: return fn(TypeTag<int8_t>{});
    default: throw NotImplemented(str_cat(what, ": dtype ", dtype_name(dt), " is not supported (uint8/int8 only)"));
  }
}

// Shapes of a numpy-style matmul: batch dims broadcast, 1-D operands
// promoted. offsets_a/b give the start of each batch's matrix (elements).
struct MatMulDims {
  int64_t M = 1, K = 1, N = 1;
  Shape out;
  std::vector<int64_t> offsets_a, offsets_b;
};

template <typename What>
MatMulDims matmul_dims(const Shape& a_in, const Shape& b_in, const What& what) {
  PIONNX_ENFORCE(!a_in.empty() && !b_in.empty(), InvalidArgument, what, ": matmul inputs must have rank >= 1");
  Shape a = a_in, b = b_in;
  const bool a_vec = a.size() == 1, b_vec = b.size() == 1;
  if (a_vec) a.insert(a.begin(), 1);
  if (b_vec) b.push_back(1);
  MatMulDims d;
  d.M = a[a.size() - 2];
  d.K = a.back();
  d.N = b.back();
  PIONNX_ENFORCE(b[b.size() - 2] == d.K, InvalidArgument, what, ": inner dimensions differ, A ", shape_str(a_in),
                 " x B ", shape_str(b_in));
  const Shape ba(a.begin(), a.end() - 2), bb(b.begin(), b.end() - 2);
  if (bb.empty()) {  // a 2-D B (the usual weight) under every matrix of A: no broadcast to work out
    const int64_t nbatch = shape_numel(ba);
    d.offsets_a.resize(static_cast<size_t>(nbatch));
    d.offsets_b.assign(static_cast<size_t>(nbatch), 0);
    for (int64_t n = 0; n < nbatch; ++n) d.offsets_a[static_cast<size_t>(n)] = n * d.M * d.K;
    d.out = ba;
  } else {
    const Shape batch = ba.empty() ? bb : broadcast_shapes(ba, bb, str_cat(what));
    const auto sa = broadcast_strides(ba, batch), sb = broadcast_strides(bb, batch);
    const int64_t nbatch = shape_numel(batch);
    d.offsets_a.resize(static_cast<size_t>(nbatch));
    d.offsets_b.resize(static_cast<size_t>(nbatch));
    IndexIter it(batch);
    for (int64_t n = 0; n < nbatch; ++n) {
      int64_t oa = 0, ob = 0;
      for (size_t i = 0; i < batch.size(); ++i) {
        oa += it.idx[i] * sa[i];
        ob += it.idx[i] * sb[i];
      }
      d.offsets_a[static_cast<size_t>(n)] = oa * d.M * d.K;
      d.offsets_b[static_cast<size_t>(n)] = ob * d.K * d.N;
      it.next();
    }
    d.out = batch;
  }
  if (!a_vec) d.out.push_back(d.M);
  if (!b_vec) d.out.push_back(d.N);
  return d;
}

// DynamicQuantizeLinear's uint8 quantization of n floats: scale and zero
// point from the values' range widened to include 0 (so 0 is exact), then
// y = saturate(round(x / scale) + zp). In quant/linear.cc; also used by
// com.microsoft DynamicQuantizeMatMul.
void dynamic_quantize_u8(ThreadPool& pool, const float* x, int64_t n, uint8_t* y, float* scale, int32_t* zp);

}  // namespace pionnx
