// The loops every elementwise kernel runs: a dtype dispatcher over type
// families, contiguous unary loops, and numpy-broadcasting binary/ternary
// loops that collapse the shapes into rows with inner stride 0 or 1, so the
// equal-shape, scalar and per-channel ([N,C,H,W] + [C,1,1]) cases all become
// plain contiguous loops the compiler can vectorize.
#pragma once
#include <algorithm>
#include <array>
#include <cstdint>
#include <string>
#include <type_traits>
#include <vector>

#include "kernels/base/dtype_dispatch.h"
#include "kernels/base/kernel.h"
#include "platform/thread_pool.h"

namespace pionnx {
namespace ew {

// Elements per parallel chunk: big enough to amortize a task hand-off.
constexpr int64_t kGrain = 1 << 14;

// Type families for dispatch_types, as a compile-time mask so each op only
// instantiates its loop for the types it accepts.
enum : unsigned {
  kF32 = 1u << 0,
  kF64 = 1u << 1,
  kF16 = 1u << 2,
  kBF16 = 1u << 3,
  kSInt = 1u << 4,
  kUInt = 1u << 5,
  kBool = 1u << 6,
  kStr = 1u << 7,
  kFloats = kF32 | kF64 | kF16 | kBF16,
  kInts = kSInt | kUInt,
  kNumeric = kFloats | kInts,
  kAll = kNumeric | kBool | kStr,
};

// Error-message subject: a string, or a node described only when it throws.
inline const std::string& what_str(const std::string& s) { return s; }
inline std::string what_str(const Node& n) { return n.describe(); }

template <unsigned Mask, typename What, typename Fn>
void dispatch_types(DType dt, const What& what, Fn&& fn) {
  switch (dt) {
    case DType::Float:
      if constexpr ((Mask & kF32) != 0) return fn(TypeTag<float>{});
      break;
    case DType::Double:
      if constexpr ((Mask & kF64) != 0) return fn(TypeTag<double>{});
      break;
    case DType::Float16:
      if constexpr ((Mask & kF16) != 0) return fn(TypeTag<float16_t>{});
      break;
    case DType::BFloat16:
      if constexpr ((Mask & kBF16) != 0) return fn(TypeTag<bfloat16_t>{});
      break;
    case DType::Int8:
      if constexpr ((Mask & kSInt) != 0) return fn(TypeTag<int8_t>{});
      break;
    case DType::Int16:
      if constexpr ((Mask & kSInt) != 0) return fn(TypeTag<int16_t>{});
      break;
    case DType::Int32:
      if constexpr ((Mask & kSInt) != 0) return fn(TypeTag<int32_t>{});
      break;
    case DType::Int64:
      if constexpr ((Mask & kSInt) != 0) return fn(TypeTag<int64_t>{});
      break;
    case DType::UInt8:
      if constexpr ((Mask & kUInt) != 0) return fn(TypeTag<uint8_t>{});
      break;
    case DType::UInt16:
      if constexpr ((Mask & kUInt) != 0) return fn(TypeTag<uint16_t>{});
      break;
    case DType::UInt32:
      if constexpr ((Mask & kUInt) != 0) return fn(TypeTag<uint32_t>{});
      break;
    case DType::UInt64:
      if constexpr ((Mask & kUInt) != 0) return fn(TypeTag<uint64_t>{});
      break;
    case DType::Bool:
      if constexpr ((Mask & kBool) != 0) return fn(TypeTag<bool>{});
      break;
    case DType::String:
      if constexpr ((Mask & kStr) != 0) return fn(TypeTag<std::string>{});
      break;
    default: break;
  }
  throw NotImplemented(str_cat(what_str(what), ": input dtype ", dtype_name(dt), " is not supported"));
}

// 16-bit floats compute in float32; everything else in its own type.
template <typename T>
inline const T& widen(const T& x) {
  return x;
}
inline float widen(float16_t x) { return static_cast<float>(x); }
inline float widen(bfloat16_t x) { return static_cast<float>(x); }

template <typename T>
using Compute = std::conditional_t<std::is_same<T, float16_t>::value || std::is_same<T, bfloat16_t>::value, float, T>;

template <typename T>
inline const T* ptr(const Tensor& t) {
  return static_cast<const T*>(t.raw());
}
template <typename T>
inline T* ptr(Tensor& t) {
  return static_cast<T*>(t.raw());
}

// out[i] = f(in[i]) over equal-sized contiguous tensors.
template <typename I, typename O, typename F>
void unary_apply(ThreadPool& pool, const Tensor& in, Tensor& out, F f) {
  const I* x = ptr<I>(in);
  O* y = ptr<O>(out);
  pool.parallel_for(in.numel(), kGrain, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) y[i] = static_cast<O>(f(widen(x[i])));
  });
}

// float32 in -> float32 out through a block function fn(x, y, n) from
// simd/elementwise_math.h, split across the pool.
template <typename Fn>
void float_block_apply(ThreadPool& pool, const Tensor& in, Tensor& out, Fn fn) {
  const float* x = ptr<float>(in);
  float* y = ptr<float>(out);
  pool.parallel_for(in.numel(), kGrain, [&](int64_t b, int64_t e) { fn(x + b, y + b, e - b); });
}

// N input shapes broadcast to `out`, collapsed: adjacent dims merge while every
// input stays linear across them, and size-1 output dims vanish. The innermost
// dim then has stride 0 (broadcast) or 1 (contiguous) for every input.
template <size_t N>
struct BroadcastPlan {
  std::vector<int64_t> dims;                    // outermost first, never empty
  std::vector<std::array<int64_t, N>> strides;  // per dim, per input

  BroadcastPlan(const std::array<const Shape*, N>& in, const Shape& out) {
    const size_t rank = out.size();
    std::array<std::vector<int64_t>, N> st;
    for (size_t k = 0; k < N; ++k) {
      const Shape& s = *in[k];
      st[k].assign(rank, 0);
      int64_t acc = 1;
      for (size_t j = 0; j < s.size(); ++j) {
        const size_t sd = s.size() - 1 - j, od = rank - 1 - j;
        st[k][od] = s[sd] == 1 ? 0 : acc;
        acc *= s[sd];
      }
    }
    for (size_t d = 0; d < rank; ++d) {
      if (out[d] == 1) continue;
      std::array<int64_t, N> s;
      for (size_t k = 0; k < N; ++k) s[k] = st[k][d];
      if (!dims.empty()) {
        // Merge into the previous (outer) dim when it is linear with this one.
        bool linear = true;
        for (size_t k = 0; k < N; ++k) linear = linear && strides.back()[k] == s[k] * out[d];
        if (linear) {
          dims.back() *= out[d];
          strides.back() = s;
          continue;
        }
      }
      dims.push_back(out[d]);
      strides.push_back(s);
    }
    if (dims.empty()) {
      dims.push_back(1);
      strides.push_back({});
      strides.back().fill(0);
    }
  }

  // Calls body(out_offset, in_offsets, n) for contiguous runs of the output
  // covering [0, numel), split across the pool. Within a run, input k
  // advances by strides.back()[k] (0 or 1) per element.
  template <typename Body>
  void for_each_run(ThreadPool& pool, int64_t numel, const Body& body) const {
    if (numel == 0) return;
    const int64_t inner = dims.back();
    const int64_t outer_rank = static_cast<int64_t>(dims.size()) - 1;
    pool.parallel_for(numel, kGrain, [&](int64_t b, int64_t e) {
      std::vector<int64_t> idx(static_cast<size_t>(outer_rank));
      int64_t row = b / inner, col = b % inner;
      std::array<int64_t, N> off{};
      for (int64_t d = outer_rank - 1; d >= 0; --d) {
        idx[d] = row % dims[d];
        row /= dims[d];
        for (size_t k = 0; k < N; ++k) off[k] += idx[d] * strides[d][k];
      }
      int64_t pos = b;
      while (pos < e) {
        const int64_t n = std::min(inner - col, e - pos);
        std::array<int64_t, N> o = off;
        for (size_t k = 0; k < N; ++k) o[k] += col * strides.back()[k];
        body(pos, o, n);
        pos += n;
        col = 0;
        for (int64_t d = outer_rank - 1; d >= 0; --d) {
          for (size_t k = 0; k < N; ++k) off[k] += strides[d][k];
          if (++idx[d] < dims[d]) break;
          for (size_t k = 0; k < N; ++k) off[k] -= strides[d][k] * dims[d];
          idx[d] = 0;
        }
      }
    });
  }
};

// out = f(a, b) with numpy broadcasting; `out` is already allocated with the
// broadcast shape and may be the same buffer as `a` (in-place accumulation).
template <typename A, typename B, typename O, typename F>
void binary_apply(ThreadPool& pool, const Tensor& a, const Tensor& b, Tensor& out, F f) {
  BroadcastPlan<2> plan({&a.shape(), &b.shape()}, out.shape());
  const A* pa = ptr<A>(a);
  const B* pb = ptr<B>(b);
  O* po = ptr<O>(out);
  const int64_t sa = plan.strides.back()[0], sb = plan.strides.back()[1];
  plan.for_each_run(pool, out.numel(), [&](int64_t oo, const std::array<int64_t, 2>& io, int64_t n) {
    const A* x = pa + io[0];
    const B* y = pb + io[1];
    O* z = po + oo;
    if (sa == 1 && sb == 1) {
      for (int64_t i = 0; i < n; ++i) z[i] = static_cast<O>(f(widen(x[i]), widen(y[i])));
    } else if (sa == 1) {
      const auto yv = widen(y[0]);
      for (int64_t i = 0; i < n; ++i) z[i] = static_cast<O>(f(widen(x[i]), yv));
    } else if (sb == 1) {
      const auto xv = widen(x[0]);
      for (int64_t i = 0; i < n; ++i) z[i] = static_cast<O>(f(xv, widen(y[i])));
    } else {
      const O v = static_cast<O>(f(widen(x[0]), widen(y[0])));
      for (int64_t i = 0; i < n; ++i) z[i] = v;
    }
  });
}

}  // namespace ew

// Registered from register_elementwise / register_activation: the family is
// split over several files.

}  // namespace pionnx
