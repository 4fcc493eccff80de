// Softmax, LogSoftmax and Hardmax.
//
// Opset < 13 coerces the input to 2-D at `axis` (default 1) and normalizes
// each row of the flattened [prod(dims[axis:])] tail; opset 13+ normalizes
// along the single dimension `axis` (default -1). Both are an
// [outer, n, inner] view: the old one with inner = 1.
#include <algorithm>
#include <cmath>
#include <limits>
#include <type_traits>
#include <vector>

#include "kernels/base/kernel.h"
#include "kernels/base/shapes.h"
#include "kernels/math/elementwise_loops.h"
#include "kernels/simd/elementwise_math.h"

namespace pionnx {
namespace {

using namespace ew;

enum class Mode { Softmax, LogSoftmax, Hardmax };

// One [n, inner] slab: reduce along n for each of the inner positions,
// walking memory in order (inner contiguous) so strided axes stay cache-friendly.
template <typename T>
void normalize_slab(const T* x, T* y, int64_t n, int64_t inner, Mode mode, std::vector<Compute<T>>& acc,
                    std::vector<Compute<T>>& tmp) {
  using C = Compute<T>;
  acc.assign(static_cast<size_t>(inner), -std::numeric_limits<C>::infinity());
  if constexpr (std::is_same<T, float>::value) {
    if (mode == Mode::Softmax) {
      // float32 in three passes over the slab, not five, y its own scratch: the column maxima; then row by row
      // x - max, its exp while the row is in L1 and the column sums; then the scale. The same operations in the
      // same order as the general form below (the bits alike).
      for (int64_t k = 0; k < n; ++k)
        for (int64_t j = 0; j < inner; ++j) acc[j] = std::max(acc[j], x[k * inner + j]);
      tmp.assign(static_cast<size_t>(inner), 0.0f);  // the column sums
      for (int64_t k = 0; k < n; ++k) {
        const float* xr = x + k * inner;
        float* yr = y + k * inner;
        for (int64_t j = 0; j < inner; ++j) yr[j] = xr[j] - acc[j];
        fastmath::exp_block(yr, yr, inner);
        for (int64_t j = 0; j < inner; ++j) tmp[j] += yr[j];
      }
      for (int64_t j = 0; j < inner; ++j) tmp[j] = 1.0f / tmp[j];
      for (int64_t k = 0; k < n; ++k)
        for (int64_t j = 0; j < inner; ++j) y[k * inner + j] *= tmp[j];
      return;
    }
  }
  tmp.resize(static_cast<size_t>(n * inner));
  for (int64_t k = 0; k < n; ++k)
    for (int64_t j = 0; j < inner; ++j) {
      const C v = static_cast<C>(widen(x[k * inner + j]));
      tmp[k * inner + j] = v;
      acc[j] = std::max(acc[j], v);
    }
  if (mode == Mode::Hardmax) {
    // First index of the maximum gets 1 (np.argmax semantics).
    std::vector<bool> done(static_cast<size_t>(inner), false);
    for (int64_t k = 0; k < n; ++k)
      for (int64_t j = 0; j < inner; ++j) {
        const bool hit = !done[j] && tmp[k * inner + j] == acc[j];
        if (hit) done[j] = true;
        y[k * inner + j] = static_cast<T>(hit ? C(1) : C(0));
      }
    return;
  }
  std::vector<C> sum(static_cast<size_t>(inner), C(0));
  if constexpr (std::is_same<C, float>::value) {
    if (mode == Mode::Softmax) {
      for (int64_t k = 0; k < n; ++k)
        for (int64_t j = 0; j < inner; ++j) tmp[k * inner + j] -= acc[j];
      fastmath::exp_block(tmp.data(), tmp.data(), n * inner);
      for (int64_t k = 0; k < n; ++k)
        for (int64_t j = 0; j < inner; ++j) sum[j] += tmp[k * inner + j];
      for (int64_t j = 0; j < inner; ++j) sum[j] = 1.0f / sum[j];
      for (int64_t k = 0; k < n; ++k)
        for (int64_t j = 0; j < inner; ++j) y[k * inner + j] = static_cast<T>(tmp[k * inner + j] * sum[j]);
      return;
    }
  }
  for (int64_t k = 0; k < n; ++k)
    for (int64_t j = 0; j < inner; ++j) {
      const C e = std::exp(tmp[k * inner + j] - acc[j]);
      tmp[k * inner + j] = mode == Mode::Softmax ? e : tmp[k * inner + j] - acc[j];
      sum[j] += e;
    }
  if (mode == Mode::Softmax) {
    for (int64_t j = 0; j < inner; ++j) sum[j] = C(1) / sum[j];
    for (int64_t k = 0; k < n; ++k)
      for (int64_t j = 0; j < inner; ++j) y[k * inner + j] = static_cast<T>(tmp[k * inner + j] * sum[j]);
  } else {
    for (int64_t j = 0; j < inner; ++j) sum[j] = std::log(sum[j]);
    for (int64_t k = 0; k < n; ++k)
      for (int64_t j = 0; j < inner; ++j) y[k * inner + j] = static_cast<T>(tmp[k * inner + j] - sum[j]);
  }
}

// Contiguous rows (inner == 1, the common last-axis case), in float32 or
// double without a scratch copy.
template <typename T>
void normalize_row(const T* x, T* y, int64_t n, Mode mode) {
  using C = Compute<T>;
  if constexpr (std::is_same<T, float>::value) {
    if (mode == Mode::Softmax) {
      fastmath::softmax_block(x, y, n);
      return;
    }
    if (mode == Mode::LogSoftmax) {
      const float m = fastmath::max_block(x, n);
      // (x - m) first: exact for x near m, however large m is.
      const float lse = std::log(fastmath::exp_shift_sum_block(x, y, n, m));
      for (int64_t k = 0; k < n; ++k) y[k] = (x[k] - m) - lse;
      return;
    }
  }
  C mx = -std::numeric_limits<C>::infinity();
  for (int64_t k = 0; k < n; ++k) mx = std::max(mx, static_cast<C>(widen(x[k])));
  if (mode == Mode::Hardmax) {
    bool done = false;
    for (int64_t k = 0; k < n; ++k) {
      const bool hit = !done && static_cast<C>(widen(x[k])) == mx;
      done = done || hit;
      y[k] = static_cast<T>(hit ? C(1) : C(0));
    }
    return;
  }
  C sum = 0;
  if (mode == Mode::Softmax) {
    for (int64_t k = 0; k < n; ++k) {
      const C e = std::exp(static_cast<C>(widen(x[k])) - mx);
      y[k] = static_cast<T>(e);
      sum += e;
    }
    if constexpr (std::is_same<C, T>::value) {
      const C inv = C(1) / sum;
      for (int64_t k = 0; k < n; ++k) y[k] = y[k] * inv;
    } else {
      // 16-bit outputs: recompute rather than re-read the rounded exp.
      const C inv = C(1) / sum;
      for (int64_t k = 0; k < n; ++k) y[k] = static_cast<T>(std::exp(static_cast<C>(widen(x[k])) - mx) * inv);
    }
  } else {
    for (int64_t k = 0; k < n; ++k) sum += std::exp(static_cast<C>(widen(x[k])) - mx);
    const C lse = std::log(sum);
    for (int64_t k = 0; k < n; ++k) y[k] = static_cast<T>(static_cast<C>(widen(x[k])) - mx - lse);
  }
}

class SoftmaxKernel : public Kernel {
 public:
  SoftmaxKernel(const KernelInfo& info, Mode mode)
      : mode_(mode), coerce_2d_(info.opset < 13), axis_(info.node.attr_i("axis", info.opset < 13 ? 1 : -1)) {}

  void compute(KernelContext& ctx) const override {
    const std::string what = ctx.node().describe();
    const Tensor& x = ctx.input(0);
    const Shape& s = x.shape();
    const int64_t rank = static_cast<int64_t>(s.size());
    // A scalar behaves as a single element (axis -1/0 of a 1-element view).
    const int64_t axis = rank == 0 ? 0 : normalize_axis(axis_, rank, what);
    int64_t outer = 1, n = 1, inner = 1;
    for (int64_t d = 0; d < axis; ++d) outer *= s[d];
    if (coerce_2d_) {
      for (int64_t d = axis; d < rank; ++d) n *= s[d];
    } else {
      if (rank > 0) n = s[axis];
      for (int64_t d = axis + 1; d < rank; ++d) inner *= s[d];
    }
    const Mode mode = mode_;
    dispatch_types<kFloats>(x.dtype(), what, [&](auto tag) {
      using T = typename decltype(tag)::type;
      Tensor& y = ctx.output(0, x.dtype(), s);
      if (y.numel() == 0) return;
      const T* px = ptr<T>(x);
      T* py = ptr<T>(y);
      const int64_t slab = n * inner;
      const int64_t grain = std::max<int64_t>(1, kGrain / std::max<int64_t>(1, slab));
      ctx.pool().parallel_for(outer, grain, [&](int64_t b, int64_t e) {
        std::vector<Compute<T>> acc, tmp;
        for (int64_t o = b; o < e; ++o) {
          if (inner == 1) {
            normalize_row(px + o * slab, py + o * slab, n, mode);
          } else {
            normalize_slab(px + o * slab, py + o * slab, n, inner, mode, acc, tmp);
          }
        }
      });
    });
  }

 private:
  Mode mode_;
  bool coerce_2d_;
  int64_t axis_;
};

void add_softmax(KernelRegistry& r, const char* op, Mode mode) {
  r.add("", op, [mode](const KernelInfo& info) -> std::unique_ptr<Kernel> {
    return std::make_unique<SoftmaxKernel>(info, mode);
  });
}

}  // namespace

void register_softmax(KernelRegistry& r) {
  add_softmax(r, "Softmax", Mode::Softmax);
  add_softmax(r, "LogSoftmax", Mode::LogSoftmax);
  add_softmax(r, "Hardmax", Mode::Hardmax);
}

}  // namespace pionnx
