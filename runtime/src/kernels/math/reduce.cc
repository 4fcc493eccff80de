// Reduce* operators. Every reduction is a (map, combine) pair applied over the
// reduced axes followed by a finishing step (mean: /n, L2: sqrt, ...). The
// shape is first coalesced into alternating kept/reduced runs so the hot loop
// is either a contiguous run reduction (innermost axis reduced) or a row-wise
// accumulation into the output (innermost axis kept); both vectorize.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <type_traits>

#include "core/int_arith.h"
#include "kernels/base/cast.h"
#include "kernels/base/dtype_dispatch.h"
#include "kernels/base/kernel.h"
#include "kernels/base/shapes.h"
#include "platform/thread_pool.h"

namespace pionnx {
namespace {

// A floating result (sqrt, log) as the output type: an integer output goes
// through float_to_int, since log of a negative sum is NaN, which no integer
// holds.
template <typename T>
T reduced_value(double v) {
  if constexpr (std::is_integral<T>::value) return float_to_int<T>(v);
  else return static_cast<T>(v);
}

enum class ReduceOp { Sum, Mean, Max, Min, Prod, L1, L2, LogSum, LogSumExp, SumSquare };
enum class MapKind { Identity, Abs, Square, ExpMinusBias };
enum class CombineKind { Sum, Max, Min, Prod };

template <CombineKind C, typename A>
inline A combine(A a, A b) {
  // Integer sums and products wrap as numpy's do (signed overflow is undefined in C++);
  // floating types pass straight through wrapping_*.
  if constexpr (C == CombineKind::Sum) return wrapping_add<A>(a, b);
  if constexpr (C == CombineKind::Prod) return wrapping_mul<A>(a, b);
  if constexpr (C == CombineKind::Max) return a < b ? b : a;
  if constexpr (C == CombineKind::Min) return b < a ? b : a;
}

template <CombineKind C, typename A>
inline A identity_of() {
  if constexpr (C == CombineKind::Sum) return A(0);
  if constexpr (C == CombineKind::Prod) return A(1);
  if constexpr (C == CombineKind::Max)
    return std::numeric_limits<A>::has_infinity ? -std::numeric_limits<A>::infinity()
                                                : std::numeric_limits<A>::lowest();
  if constexpr (C == CombineKind::Min)
    return std::numeric_limits<A>::has_infinity ? std::numeric_limits<A>::infinity() : std::numeric_limits<A>::max();
}

template <MapKind M, typename A, typename T>
inline A map_value(T x, A bias) {
  A v = static_cast<A>(x);
  if constexpr (M == MapKind::Identity) return v;
  if constexpr (M == MapKind::Abs) {
    if constexpr (std::is_signed<A>::value) return v < 0 ? wrapping_neg<A>(v) : v;
    else return v;
  }
  if constexpr (M == MapKind::Square) return wrapping_mul<A>(v, v);
  if constexpr (M == MapKind::ExpMinusBias) return static_cast<A>(std::exp(v - bias));
}

// 16-byte vectors (SSE2 on x86-64, NEON on ARM, scalar code elsewhere) for
// the float hot loops: the compilers leave a scalar max/min chain alone.
template <typename A>
struct Vec16 {
  static constexpr bool ok = false;
};
template <>
struct Vec16<float> {
  static constexpr bool ok = true;
  typedef float type __attribute__((vector_size(16)));
};
template <>
struct Vec16<double> {
  static constexpr bool ok = true;
  typedef double type __attribute__((vector_size(16)));
};

template <CombineKind C, typename V>
inline V vcombine(V a, V b) {
  if constexpr (C == CombineKind::Sum) return a + b;
  if constexpr (C == CombineKind::Prod) return a * b;
  if constexpr (C == CombineKind::Max) return a < b ? b : a;
  if constexpr (C == CombineKind::Min) return b < a ? b : a;
}

template <MapKind M, typename V>
inline V vmap(V v) {
  if constexpr (M == MapKind::Identity) return v;
  if constexpr (M == MapKind::Abs) return v < V{} ? -v : v;
  if constexpr (M == MapKind::Square) return v * v;
}

// Reduces a contiguous run with independent accumulators, so the loop
// pipelines and float sums stay a little more accurate than one chain.
template <MapKind M, CombineKind C, typename A, typename T>
A reduce_run(const T* x, int64_t n, A bias) {
  A r = identity_of<C, A>();
  int64_t i = 0;
  if constexpr (std::is_same<A, T>::value && Vec16<A>::ok && M != MapKind::ExpMinusBias) {
    using V = typename Vec16<A>::type;
    constexpr int L = static_cast<int>(16 / sizeof(A));
    V acc[4];
    for (auto& v : acc)
      for (int j = 0; j < L; ++j) v[j] = identity_of<C, A>();
    for (; i + 4 * L <= n; i += 4 * L)
      for (int u = 0; u < 4; ++u) {
        V v;
        std::memcpy(&v, x + i + u * L, sizeof(V));
        acc[u] = vcombine<C>(acc[u], vmap<M>(v));
      }
    for (; i + L <= n; i += L) {
      V v;
      std::memcpy(&v, x + i, sizeof(V));
      acc[0] = vcombine<C>(acc[0], vmap<M>(v));
    }
    const V v = vcombine<C>(vcombine<C>(acc[0], acc[1]), vcombine<C>(acc[2], acc[3]));
    for (int j = 0; j < L; ++j) r = combine<C, A>(r, v[j]);
  } else {
    A acc[8];
    for (auto& a : acc) a = identity_of<C, A>();
    for (; i + 8 <= n; i += 8)
      for (int j = 0; j < 8; ++j) acc[j] = combine<C, A>(acc[j], map_value<M, A>(x[i + j], bias));
    for (int j = 0; j < 8; ++j) r = combine<C, A>(r, acc[j]);
  }
  for (; i < n; ++i) r = combine<C, A>(r, map_value<M, A>(x[i], bias));
  return r;
}

// The input shape coalesced into runs of kept / reduced axes (size-1 axes
// dropped), with the input strides of each run.
struct Layout {
  std::vector<int64_t> kept_dims, kept_strides;  // outer to inner
  std::vector<int64_t> red_dims, red_strides;
  bool inner_reduced = true;  // is the innermost run a reduced one?
  int64_t inner = 1;          // size of the innermost run
  int64_t n_out = 1, n_red = 1;
};

Layout make_layout(const Shape& shape, const std::vector<bool>& reduced) {
  std::vector<int64_t> dims;
  std::vector<bool> flags;
  for (size_t d = 0; d < shape.size(); ++d) {
    if (shape[d] == 1) continue;
    if (!dims.empty() && flags.back() == reduced[d]) {
      dims.back() *= shape[d];
    } else {
      dims.push_back(shape[d]);
      flags.push_back(reduced[d]);
    }
  }
  if (dims.empty()) {
    dims.push_back(1);
    flags.push_back(true);
  }
  Layout l;
  std::vector<int64_t> strides = strides_of(dims);
  for (size_t d = 0; d < dims.size(); ++d) {
    if (flags[d]) {
      l.red_dims.push_back(dims[d]);
      l.red_strides.push_back(strides[d]);
      l.n_red *= dims[d];
    } else {
      l.kept_dims.push_back(dims[d]);
      l.kept_strides.push_back(strides[d]);
      l.n_out *= dims[d];
    }
  }
  l.inner_reduced = flags.back();
  l.inner = dims.back();
  return l;
}

// Input offsets of every index combination over (dims, strides).
std::vector<int64_t> all_offsets(const std::vector<int64_t>& dims, const std::vector<int64_t>& strides) {
  int64_t n = 1;
  for (int64_t d : dims) n *= d;
  std::vector<int64_t> offs(static_cast<size_t>(n), 0);
  int64_t block = 1;
  // Fill innermost-first: offs[i] = sum over dims of idx_d * stride_d.
  for (int64_t d = static_cast<int64_t>(dims.size()) - 1; d >= 0; --d) {
    for (int64_t i = 0; i < n; ++i) offs[i] += ((i / block) % dims[d]) * strides[d];
    block *= dims[d];
  }
  return offs;
}

// acc[o] = combine over the reduced positions of map(x); bias is indexed like
// acc (may be null when the map ignores it).
template <MapKind M, CombineKind C, typename A, typename T>
void reduce_core(const T* x, A* acc, const A* bias, const Layout& l, ThreadPool& pool) {
  if (l.inner_reduced) {
    // Innermost run reduced: every output is a combination of contiguous runs.
    const int64_t run = l.inner;
    std::vector<int64_t> outer_red(l.red_dims.begin(), l.red_dims.end() - 1);
    std::vector<int64_t> outer_str(l.red_strides.begin(), l.red_strides.end() - 1);
    const std::vector<int64_t> red_offs = all_offsets(outer_red, outer_str);
    const std::vector<int64_t> out_offs = all_offsets(l.kept_dims, l.kept_strides);
    if (l.n_out < pool.size() && red_offs.size() == 1 && run >= (1 << 16)) {
      // Few outputs, each one long run (e.g. reduce everything): split the
      // runs themselves and combine the pieces.
      const int64_t piece = 1 << 14, pieces = (run + piece - 1) / piece;
      std::vector<A> part(static_cast<size_t>(l.n_out * pieces));
      pool.parallel_for(l.n_out * pieces, 1, [&](int64_t b, int64_t e) {
        for (int64_t u = b; u < e; ++u) {
          const int64_t o = u / pieces, p0 = (u % pieces) * piece;
          part[u] =
              reduce_run<M, C, A>(x + out_offs[o] + red_offs[0] + p0, std::min(piece, run - p0), bias ? bias[o] : A(0));
        }
      });
      for (int64_t o = 0; o < l.n_out; ++o) {
        A a = identity_of<C, A>();
        for (int64_t p = 0; p < pieces; ++p) a = combine<C, A>(a, part[o * pieces + p]);
        acc[o] = a;
      }
      return;
    }
    const int64_t grain = std::max<int64_t>(1, 32768 / std::max<int64_t>(1, l.n_red));
    pool.parallel_for(l.n_out, grain, [&](int64_t b, int64_t e) {
      for (int64_t o = b; o < e; ++o) {
        const T* base = x + out_offs[o];
        const A bo = bias ? bias[o] : A(0);
        A a = identity_of<C, A>();
        for (int64_t r : red_offs) a = combine<C, A>(a, reduce_run<M, C, A>(base + r, run, bo));
        acc[o] = a;
      }
    });
    return;
  }
  // Innermost run kept: accumulate whole rows of K outputs at a time, in
  // blocks of K so that a single output row still splits across threads.
  const int64_t K = l.inner;
  std::vector<int64_t> outer_kept(l.kept_dims.begin(), l.kept_dims.end() - 1);
  std::vector<int64_t> outer_str(l.kept_strides.begin(), l.kept_strides.end() - 1);
  const std::vector<int64_t> row_offs = all_offsets(outer_kept, outer_str);
  const std::vector<int64_t> red_offs = all_offsets(l.red_dims, l.red_strides);
  const int64_t kb = 512;
  const int64_t nkb = (K + kb - 1) / kb;
  const int64_t units = static_cast<int64_t>(row_offs.size()) * nkb;
  const int64_t grain = std::max<int64_t>(1, 32768 / std::max<int64_t>(1, l.n_red * std::min(K, kb)));
  pool.parallel_for(units, grain, [&](int64_t b, int64_t e) {
    for (int64_t u = b; u < e; ++u) {
      const int64_t row = u / nkb, k0 = (u % nkb) * kb, k1 = std::min(K, k0 + kb);
      A* out = acc + row * K;
      const A* bi = bias ? bias + row * K : nullptr;
      for (int64_t k = k0; k < k1; ++k) out[k] = identity_of<C, A>();
      for (int64_t r : red_offs) {
        const T* src = x + row_offs[row] + r;
        if (bi) {
          for (int64_t k = k0; k < k1; ++k) out[k] = combine<C, A>(out[k], map_value<M, A>(src[k], bi[k]));
        } else {
          for (int64_t k = k0; k < k1; ++k) out[k] = combine<C, A>(out[k], map_value<M, A>(src[k], A(0)));
        }
      }
    }
  });
}

// Accumulator type: the element type itself, except float sums of exp for
// integer inputs of LogSumExp.
template <ReduceOp op, typename T>
using AccOf =
    typename std::conditional<op == ReduceOp::LogSumExp && !std::is_floating_point<T>::value, double, T>::type;

template <ReduceOp op, typename T>
void reduce_typed(const Tensor& in, Tensor& out, const Layout& l, ThreadPool& pool) {
  using A = AccOf<op, T>;
  const T* x = static_cast<const T*>(in.raw());
  T* y = static_cast<T*>(out.raw());
  const int64_t n_out = out.numel();
  std::vector<A> acc(static_cast<size_t>(n_out));
  const int64_t n = l.n_red;
  if (in.numel() == 0) {
    // Empty reduction: the identity of the combine, then the usual finish.
    A id = op == ReduceOp::Max    ? identity_of<CombineKind::Max, A>()
           : op == ReduceOp::Min  ? identity_of<CombineKind::Min, A>()
           : op == ReduceOp::Prod ? A(1)
                                  : A(0);
    std::fill(acc.begin(), acc.end(), id);
  } else if constexpr (op == ReduceOp::Sum || op == ReduceOp::Mean || op == ReduceOp::LogSum) {
    reduce_core<MapKind::Identity, CombineKind::Sum, A>(x, acc.data(), nullptr, l, pool);
  } else if constexpr (op == ReduceOp::Max) {
    reduce_core<MapKind::Identity, CombineKind::Max, A>(x, acc.data(), nullptr, l, pool);
  } else if constexpr (op == ReduceOp::Min) {
    reduce_core<MapKind::Identity, CombineKind::Min, A>(x, acc.data(), nullptr, l, pool);
  } else if constexpr (op == ReduceOp::Prod) {
    reduce_core<MapKind::Identity, CombineKind::Prod, A>(x, acc.data(), nullptr, l, pool);
  } else if constexpr (op == ReduceOp::L1) {
    reduce_core<MapKind::Abs, CombineKind::Sum, A>(x, acc.data(), nullptr, l, pool);
  } else if constexpr (op == ReduceOp::L2 || op == ReduceOp::SumSquare) {
    reduce_core<MapKind::Square, CombineKind::Sum, A>(x, acc.data(), nullptr, l, pool);
  } else if constexpr (op == ReduceOp::LogSumExp) {
    // Subtract the per-output max before exp so large inputs do not overflow;
    // an infinite max is left out of the shift (inf - inf would be nan).
    std::vector<A> mx(acc.size());
    reduce_core<MapKind::Identity, CombineKind::Max, A>(x, mx.data(), nullptr, l, pool);
    for (auto& m : mx)
      if (!std::isfinite(static_cast<double>(m))) m = A(0);
    reduce_core<MapKind::ExpMinusBias, CombineKind::Sum, A>(x, acc.data(), mx.data(), l, pool);
    for (int64_t o = 0; o < n_out; ++o) y[o] = reduced_value<T>(std::log(static_cast<double>(acc[o])) + mx[o]);
    return;
  }
  for (int64_t o = 0; o < n_out; ++o) {
    const A a = acc[o];
    if constexpr (op == ReduceOp::Mean) {
      if constexpr (std::is_floating_point<A>::value) y[o] = a / static_cast<A>(n);
      else y[o] = n == 0 ? T(0) : static_cast<T>(a / static_cast<A>(n));
    } else if constexpr (op == ReduceOp::L2) {
      y[o] = reduced_value<T>(std::sqrt(static_cast<double>(a)));
    } else if constexpr (op == ReduceOp::LogSum) {
      y[o] = reduced_value<T>(std::log(static_cast<double>(a)));
    } else if constexpr (op == ReduceOp::LogSumExp) {
      y[o] = reduced_value<T>(std::log(static_cast<double>(a)));  // empty input: log(0) = -inf
    } else {
      y[o] = static_cast<T>(a);
    }
  }
}

template <ReduceOp op>
class ReduceKernel : public Kernel {
 public:
  // axes_input_since: the opset from which axes is an input, not an attribute.
  ReduceKernel(const KernelInfo& info, int axes_input_since) : node_(info.node) {
    axes_from_input_ = info.opset >= axes_input_since;
    keepdims_ = info.node.attr_i("keepdims", 1) != 0;
    noop_with_empty_axes_ = info.node.attr_i("noop_with_empty_axes", 0) != 0;
    if (!axes_from_input_) axes_ = info.node.attr_ints("axes");
  }

  void compute(KernelContext& ctx) const override {
    const Tensor& in = ctx.input(0);
    std::vector<int64_t> axes = axes_;
    if (axes_from_input_) {
      const Tensor* a = ctx.optional_input(1);
      axes = a ? tensor_to_int64s(*a) : std::vector<int64_t>{};
    }
    // noop_with_empty_axes reduces over no axis: plain copies for the
    // selection-like ops, map + finish per element for the others (ReduceL2
    // gives |x|, as the ONNX function bodies define).
    const bool noop = axes_from_input_ && axes.empty() && noop_with_empty_axes_;
    if (noop && (op == ReduceOp::Sum || op == ReduceOp::Mean || op == ReduceOp::Max || op == ReduceOp::Min ||
                 op == ReduceOp::Prod)) {
      ctx.set_output(0, in);
      return;
    }
    const int64_t rank = static_cast<int64_t>(in.rank());
    std::vector<bool> reduced(static_cast<size_t>(rank), axes.empty() && !noop);
    for (int64_t a : axes) reduced[normalize_axis(a, rank, node_.describe())] = true;

    Shape out_shape;
    for (int64_t d = 0; d < rank; ++d) {
      if (!reduced[d]) out_shape.push_back(in.shape()[d]);
      else if (keepdims_) out_shape.push_back(1);
    }
    const Layout l = make_layout(in.shape(), reduced);
    const DType dt = in.dtype();

    if (dt == DType::Float16 || dt == DType::BFloat16) {
      Tensor f = to_float32(in);
      Tensor tmp(DType::Float, out_shape);
      reduce_typed<op, float>(f, tmp, l, ctx.pool());
      ctx.set_output(0, cast_tensor(tmp, dt));
      return;
    }
    Tensor& out = ctx.output(0, dt, out_shape);
    if (dt == DType::Bool && (op == ReduceOp::Max || op == ReduceOp::Min)) {
      // Bytes holding 0/1: max is "any", min is "all".
      reduce_typed<op, uint8_t>(in, out, l, ctx.pool());
      return;
    }
    dispatch_numeric(dt, node_.describe(), [&](auto tag) {
      using T = typename decltype(tag)::type;
      reduce_typed<op, T>(in, out, l, ctx.pool());
    });
  }

 private:
  const Node& node_;
  bool axes_from_input_ = false;
  bool keepdims_ = true;
  bool noop_with_empty_axes_ = false;
  std::vector<int64_t> axes_;
};

template <ReduceOp op, int AxesInputSince>
struct ReduceAt : ReduceKernel<op> {
  explicit ReduceAt(const KernelInfo& info) : ReduceKernel<op>(info, AxesInputSince) {}
};

}  // namespace

void register_reduce(KernelRegistry& r) {
  r.add_all("", {impl<ReduceAt<ReduceOp::Sum, 13>>("ReduceSum"), impl<ReduceAt<ReduceOp::Mean, 18>>("ReduceMean"),
                 impl<ReduceAt<ReduceOp::Max, 18>>("ReduceMax"), impl<ReduceAt<ReduceOp::Min, 18>>("ReduceMin"),
                 impl<ReduceAt<ReduceOp::Prod, 18>>("ReduceProd"), impl<ReduceAt<ReduceOp::L1, 18>>("ReduceL1"),
                 impl<ReduceAt<ReduceOp::L2, 18>>("ReduceL2"), impl<ReduceAt<ReduceOp::LogSum, 18>>("ReduceLogSum"),
                 impl<ReduceAt<ReduceOp::LogSumExp, 18>>("ReduceLogSumExp"),
                 impl<ReduceAt<ReduceOp::SumSquare, 18>>("ReduceSumSquare")});
}

}  // namespace pionnx
