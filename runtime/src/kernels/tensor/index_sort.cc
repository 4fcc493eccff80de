// Ops that order or accumulate along an axis: TopK, ArgMax/ArgMin, CumSum,
// CumProd, Unique. Each views its input as [outer, n, inner] around the axis.
#include <algorithm>
#include <numeric>

#include "core/int_arith.h"
#include "kernels/base/dtype_dispatch.h"
#include "kernels/base/kernel.h"
#include "kernels/base/shapes.h"
#include "kernels/tensor/strided.h"
#include "platform/thread_pool.h"

namespace pionnx {
namespace {

struct AxisView {
  int64_t outer = 1, n = 1, inner = 1;
};

AxisView view_around(const Shape& s, int64_t axis) {
  AxisView v;
  for (int64_t d = 0; d < static_cast<int64_t>(s.size()); ++d) {
    if (d < axis) v.outer *= s[d];
    else if (d == axis) v.n = s[d];
    else v.inner *= s[d];
  }
  return v;
}

// Ordering on the comparable value (float for the 16-bit floats).
template <typename T>
bool key_less(const T& a, const T& b) {
  if constexpr (IsHalf<T>::value) return static_cast<float>(a) < static_cast<float>(b);
  else return a < b;
}

// ---------------------------------------------------------------- TopK

class TopK final : public NamedKernel {
 public:
  explicit TopK(const KernelInfo& info)
      : NamedKernel(info),
        opset_(info.opset),
        axis_(info.node.attr_i("axis", -1)),
        k_attr_(info.node.attr_i("k", -1)),
        largest_(info.node.attr_i("largest", 1) != 0) {}
  void compute(KernelContext& ctx) const override {
    const Tensor& x = ctx.input(0);
    const std::string& what = what_;
    const int64_t axis = normalize_axis(axis_, static_cast<int64_t>(x.rank()), what);
    int64_t k = k_attr_;
    if (opset_ >= 10) {
      const std::vector<int64_t> kv = tensor_to_int64s(ctx.input(1));
      PIONNX_ENFORCE(kv.size() == 1, InvalidArgument, what, ": K must hold one value, has ", kv.size());
      k = kv[0];
    }
    const AxisView v = view_around(x.shape(), axis);
    PIONNX_ENFORCE(k >= 0 && k <= v.n, InvalidArgument, what, ": k = ", k, " outside [0, ", v.n, "] for axis ", axis,
                   " of ", shape_str(x.shape()));
    Shape out_shape = x.shape();
    out_shape[axis] = k;
    Tensor& values = ctx.output(0, x.dtype(), out_shape);
    int64_t* indices = ctx.output(1, DType::Int64, out_shape).data<int64_t>();
    if (values.numel() == 0) return;
    const bool largest = largest_;
    dispatch_arith(x.dtype(), what, [&](auto tag) {
      using T = typename decltype(tag)::type;
      using K = KeyOf<T>;
      const T* in = static_cast<const T*>(x.raw());
      T* out = static_cast<T*>(values.raw());
      // Ties go to the lower index; results are always sorted.
      // NaN sorts above everything (numpy's order).
      auto less = [](K a, K b) {
        if constexpr (std::is_floating_point_v<K>) {
          if (a != a) return false;
          if (b != b) return true;
        }
        return a < b;
      };
      auto before = [largest, less](const std::pair<K, int64_t>& a, const std::pair<K, int64_t>& b) {
        if (less(a.first, b.first)) return !largest;
        if (less(b.first, a.first)) return largest;
        return a.second < b.second;
      };
      const int64_t lines = v.outer * v.inner;
      using Item = std::pair<K, int64_t>;
      ctx.pool().parallel_for(lines, grain_size(4096, v.n), [&](int64_t b, int64_t e) {
        // A small k keeps only its k best (a whole line's buffer, zeroed, cost more than the scan: k = 10 of
        // 100000, 1.6 MB a call).
        std::vector<Item> line(static_cast<size_t>(k <= 32 ? k : v.n));
        for (int64_t l = b; l < e; ++l) {
          const int64_t o = l / v.inner, i = l % v.inner;
          const T* src = in + o * v.n * v.inner + i;
          Item* top = line.data();
          if (k <= 32) {
            // Small k: keep the best k in a sorted buffer; most elements fail
            // the one comparison against the current k-th.
            auto insert = [&](const Item& it, int64_t p) {
              for (; p > 0 && before(it, top[p - 1]); --p) top[p] = top[p - 1];
              top[p] = it;
            };
            for (int64_t j = 0; j < k; ++j) insert({static_cast<K>(src[j * v.inner]), j}, j);
            K thr = k > 0 ? top[k - 1].first : K();
            for (int64_t j = k; j < v.n; ++j) {
              const K val = static_cast<K>(src[j * v.inner]);
              // Cheap reject first; the full comparison settles ties and NaN.
              if (largest ? val < thr : thr < val) continue;
              const Item it{val, j};
              if (!before(it, top[k - 1])) continue;
              insert(it, k - 1);
              thr = top[k - 1].first;
            }
          } else {
            for (int64_t j = 0; j < v.n; ++j) line[j] = {static_cast<K>(src[j * v.inner]), j};
            if (k < v.n) std::nth_element(line.begin(), line.begin() + k, line.end(), before);
            std::sort(line.begin(), line.begin() + k, before);
          }
          T* dv = out + o * k * v.inner + i;
          int64_t* di = indices + o * k * v.inner + i;
          for (int64_t j = 0; j < k; ++j) {
            dv[j * v.inner] = src[top[j].second * v.inner];
            di[j * v.inner] = top[j].second;
          }
        }
      });
    });
  }

 private:
  int64_t opset_, axis_, k_attr_;
  bool largest_;
};

// ---------------------------------------------------------------- ArgMax / ArgMin

// The index of the first (last: the last) largest (kMax) or smallest value of src[0, n), n >= 1, read as K.
template <typename K, bool kMax, typename T>
int64_t arg_extreme_row(const T* src, int64_t n, bool last) {
  auto better = [](K a, K b) { return kMax ? a > b : a < b; };
  K best = static_cast<K>(src[0]);
  int64_t at = 0;
  constexpr int64_t kBlock = 256, kLanes = 8;
  for (int64_t j0 = 1; j0 < n; j0 += kBlock) {
    const int64_t j1 = std::min(n, j0 + kBlock);
    K lane[kLanes];
    for (int64_t l = 0; l < kLanes; ++l) lane[l] = best;
    int64_t j = j0;
    for (; j + kLanes <= j1; j += kLanes)
      for (int64_t l = 0; l < kLanes; ++l) {
        const K val = static_cast<K>(src[j + l]);
        lane[l] = better(val, lane[l]) ? val : lane[l];
      }
    for (; j < j1; ++j) {
      const K val = static_cast<K>(src[j]);
      lane[0] = better(val, lane[0]) ? val : lane[0];
    }
    K m = lane[0];
    for (int64_t l = 1; l < kLanes; ++l) m = better(lane[l], m) ? lane[l] : m;
    if (better(m, best)) {
      best = m;
      if (last) {
        for (j = j1 - 1; static_cast<K>(src[j]) != m; --j) {
        }
      } else {
        for (j = j0; static_cast<K>(src[j]) != m; ++j) {
        }
      }
      at = j;
    } else if (last && m == best) {
      // Ties with the best so far move the index to the block's last copy, if the block has one.
      for (j = j1 - 1; j >= j0; --j)
        if (static_cast<K>(src[j]) == m) {
          at = j;
          break;
        }
    }
  }
  return at;
}

template <bool kMax>
class ArgExtreme final : public NamedKernel {
 public:
  explicit ArgExtreme(const KernelInfo& info)
      : NamedKernel(info),
        axis_(info.node.attr_i("axis", 0)),
        keepdims_(info.node.attr_i("keepdims", 1) != 0),
        last_(info.node.attr_i("select_last_index", 0) != 0) {}
  void compute(KernelContext& ctx) const override {
    const Tensor& x = ctx.input(0);
    const std::string& what = what_;
    const int64_t axis = normalize_axis(axis_, static_cast<int64_t>(x.rank()), what);
    const AxisView v = view_around(x.shape(), axis);
    PIONNX_ENFORCE(v.n > 0, InvalidArgument, what, ": cannot take an arg-extreme over empty axis ", axis, " of ",
                   shape_str(x.shape()));
    Shape out_shape = x.shape();
    if (keepdims_) out_shape[axis] = 1;
    else out_shape.erase(out_shape.begin() + axis);
    Tensor& y = ctx.output(0, DType::Int64, out_shape);
    if (y.numel() == 0) return;
    int64_t* out = y.data<int64_t>();
    const bool last = last_;
    dispatch_arith(x.dtype(), what, [&](auto tag) {
      using T = typename decltype(tag)::type;
      using K = KeyOf<T>;
      const T* in = static_cast<const T*>(x.raw());
      if (v.inner == 1) {
        // Contiguous rows (the last axis: a classifier's or a language model's logits): blocks of 256 values
        // reduced in 8 independent lanes (no branch, no store a value), and only a block whose extreme beats
        // the best so far is searched for its index: the first place of that value (the last with
        // select_last_index), as the sequential scan below ends on. A NaN never wins, as there.
        ctx.pool().parallel_for(v.outer, grain_size(16384, v.n), [&](int64_t b, int64_t e) {
          for (int64_t o = b; o < e; ++o) out[o] = arg_extreme_row<K, kMax>(in + o * v.n, v.n, last);
        });
        return;
      }
      // Row by row along the axis so reads stay contiguous over `inner`.
      ctx.pool().parallel_for(v.outer, grain_size(16384, v.n * v.inner), [&](int64_t b, int64_t e) {
        std::vector<K> best(v.inner);
        for (int64_t o = b; o < e; ++o) {
          const T* src = in + o * v.n * v.inner;
          int64_t* dst = out + o * v.inner;
          for (int64_t i = 0; i < v.inner; ++i) best[i] = static_cast<K>(src[i]), dst[i] = 0;
          for (int64_t j = 1; j < v.n; ++j)
            for (int64_t i = 0; i < v.inner; ++i) {
              const K val = static_cast<K>(src[j * v.inner + i]);
              const bool better = kMax ? val > best[i] : val < best[i];
              if (better || (last && val == best[i])) best[i] = val, dst[i] = j;
            }
        }
      });
    });
  }

 private:
  int64_t axis_;
  bool keepdims_, last_;
};

// ---------------------------------------------------------------- CumSum, CumProd

// The running sum (CumSum) or product (CumProd, opset 26) along an axis;
// `exclusive` starts from the identity, `reverse` runs from the end.
template <bool Product>
class CumScan final : public NamedKernel {
 public:
  explicit CumScan(const KernelInfo& info)
      : NamedKernel(info),
        exclusive_(info.node.attr_i("exclusive", 0) != 0),
        reverse_(info.node.attr_i("reverse", 0) != 0) {}
  void compute(KernelContext& ctx) const override {
    const Tensor& x = ctx.input(0);
    const std::string& what = what_;
    const std::vector<int64_t> av = tensor_to_int64s(ctx.input(1));
    PIONNX_ENFORCE(av.size() == 1, InvalidArgument, what, ": axis must be a scalar, has ", av.size(), " values");
    const int64_t axis = normalize_axis(av[0], static_cast<int64_t>(x.rank()), what);
    const AxisView v = view_around(x.rank() == 0 ? Shape{1} : x.shape(), axis);
    Tensor& y = ctx.output(0, x.dtype(), x.shape());
    if (y.numel() == 0) return;
    dispatch_arith(x.dtype(), what, [&](auto tag) {
      using T = typename decltype(tag)::type;
      using K = KeyOf<T>;
      const T* in = static_cast<const T*>(x.raw());
      T* out = static_cast<T*>(y.raw());
      ctx.pool().parallel_for(v.outer, grain_size(16384, v.n * v.inner), [&](int64_t b, int64_t e) {
        std::vector<K> acc(v.inner);
        for (int64_t o = b; o < e; ++o) {
          std::fill(acc.begin(), acc.end(), K(Product ? 1 : 0));
          for (int64_t s = 0; s < v.n; ++s) {
            const int64_t j = reverse_ ? v.n - 1 - s : s;
            const T* src = in + (o * v.n + j) * v.inner;
            T* dst = out + (o * v.n + j) * v.inner;
            for (int64_t i = 0; i < v.inner; ++i) {
              const K before = acc[i];
              const K x = static_cast<K>(src[i]);  // integers wrap, as numpy's do
              acc[i] = Product ? wrapping_mul(acc[i], x) : wrapping_add(acc[i], x);
              dst[i] = static_cast<T>(exclusive_ ? before : acc[i]);
            }
          }
        }
      });
    });
  }

 private:
  bool exclusive_, reverse_;
};

// ---------------------------------------------------------------- Unique

class Unique final : public NamedKernel {
 public:
  explicit Unique(const KernelInfo& info)
      : NamedKernel(info),
        sorted_(info.node.attr_i("sorted", 1) != 0),
        has_axis_(info.node.has("axis")),
        axis_(info.node.attr_i("axis", 0)) {}
  void compute(KernelContext& ctx) const override {
    const Tensor& x = ctx.input(0);
    const std::string& what = what_;
    // Without an axis the items are the elements of the flattened input;
    // with one, the slices along it.
    const Shape shape = has_axis_ ? x.shape() : Shape{x.numel()};
    const int64_t axis = has_axis_ ? normalize_axis(axis_, static_cast<int64_t>(x.rank()), what) : 0;
    const AxisView v = view_around(shape, axis);
    const int64_t n = v.n;

    std::vector<int64_t> order(n), group_of(n), first, counts;
    std::iota(order.begin(), order.end(), 0);
    dispatch_ordered(x.dtype(), what, [&](auto tag) {
      using T = typename decltype(tag)::type;
      const T* in = static_cast<const T*>(x.raw());
      // -1, 0, 1: slice a against slice b, lexicographic in row-major order.
      auto cmp = [&](int64_t a, int64_t b) {
        for (int64_t o = 0; o < v.outer; ++o)
          for (int64_t i = 0; i < v.inner; ++i) {
            const T& p = in[(o * n + a) * v.inner + i];
            const T& q = in[(o * n + b) * v.inner + i];
            if (key_less(p, q)) return -1;
            if (key_less(q, p)) return 1;
          }
        return 0;
      };
      // Stable, so each group starts with its first occurrence.
      if (v.outer == 1 && v.inner == 1)  // single elements: compare directly
        std::stable_sort(order.begin(), order.end(), [&](int64_t a, int64_t b) { return key_less(in[a], in[b]); });
      else std::stable_sort(order.begin(), order.end(), [&](int64_t a, int64_t b) { return cmp(a, b) < 0; });
      for (int64_t p = 0; p < n; ++p) {
        if (p == 0 || cmp(order[p - 1], order[p]) != 0) {
          first.push_back(order[p]);
          counts.push_back(0);
        }
        group_of[order[p]] = static_cast<int64_t>(first.size()) - 1;
        ++counts.back();
      }
    });
    const int64_t u = static_cast<int64_t>(first.size());
    if (!sorted_) {
      // Groups in order of first occurrence.
      std::vector<int64_t> perm(u), rank(u);
      std::iota(perm.begin(), perm.end(), 0);
      std::sort(perm.begin(), perm.end(), [&](int64_t a, int64_t b) { return first[a] < first[b]; });
      std::vector<int64_t> f2(u), c2(u);
      for (int64_t g = 0; g < u; ++g) f2[g] = first[perm[g]], c2[g] = counts[perm[g]], rank[perm[g]] = g;
      for (int64_t& g : group_of) g = rank[g];
      first.swap(f2);
      counts.swap(c2);
    }

    Shape out_shape = shape;
    out_shape[axis] = u;
    Tensor& y = ctx.output(0, x.dtype(), out_shape);
    dispatch_movable(x.dtype(), what, [&](auto tag) {
      using T = typename decltype(tag)::type;
      const T* in = static_cast<const T*>(x.raw());
      T* out = static_cast<T*>(y.raw());
      for (int64_t o = 0; o < v.outer; ++o)
        for (int64_t g = 0; g < u; ++g)
          shape_detail::copy_run(in + (o * n + first[g]) * v.inner, out + (o * u + g) * v.inner, v.inner);
    });
    auto put = [&](size_t i, const std::vector<int64_t>& vals) {
      if (!ctx.wants_output(i)) return;
      Tensor& t = ctx.output(i, DType::Int64, {static_cast<int64_t>(vals.size())});
      std::copy(vals.begin(), vals.end(), t.data<int64_t>());
    };
    put(1, first);
    put(2, group_of);
    put(3, counts);
  }

 private:
  bool sorted_, has_axis_;
  int64_t axis_;
};

}  // namespace

void register_index_sort(KernelRegistry& r) {
  r.add_all("", {impl<TopK>("TopK"), impl<ArgExtreme<true>>("ArgMax"), impl<ArgExtreme<false>>("ArgMin"),
                 impl<CumScan<false>>("CumSum"), impl<CumScan<true>>("CumProd"), impl<Unique>("Unique")});
}

}  // namespace pionnx
