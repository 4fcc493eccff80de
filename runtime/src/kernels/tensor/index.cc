// Indexing: Gather*, Scatter*, Compress, NonZero. Negative indices count
// from the end of their axis wherever the spec allows them; anything else out
// of range is an InvalidArgument naming the node.
#include <algorithm>

#include "kernels/base/dtype_dispatch.h"
#include "kernels/base/kernel.h"
#include "kernels/base/shapes.h"
#include "kernels/tensor/strided.h"
#include "platform/thread_pool.h"

namespace pionnx {
namespace {

// Index tensor -> int64 values in [0, n), wrapping negatives.
std::vector<int64_t> checked_indices(const Tensor& ind, int64_t n, const std::string& what, const char* name) {
  PIONNX_ENFORCE(ind.dtype() == DType::Int64 || ind.dtype() == DType::Int32, InvalidArgument, what, ": ", name,
                 " must be int32 or int64, got ", dtype_name(ind.dtype()));
  std::vector<int64_t> idx = tensor_to_int64s(ind);
  for (int64_t& i : idx) {
    PIONNX_ENFORCE(i >= -n && i < n, InvalidArgument, what, ": index ", i, " in ", name,
                   " is out of range for an axis of size ", n);
    if (i < 0) i += n;
  }
  return idx;
}

// Calls fn(tag) with TypeTag<int32_t> or TypeTag<int64_t> for an index tensor.
template <typename Fn>
void dispatch_index(const Tensor& ind, const std::string& what, Fn&& fn) {
  if (ind.dtype() == DType::Int64) return fn(TypeTag<int64_t>{});
  if (ind.dtype() == DType::Int32) return fn(TypeTag<int32_t>{});
  throw InvalidArgument(str_cat(what, ": indices must be int32 or int64, got ", dtype_name(ind.dtype())));
}

// For GatherElements/ScatterElements: calls fn(i, offset) for every element i
// in rows [rb, re) of the indices (rows = runs along the last dim), offset
// being the data element it addresses. Indices are read as Idx, checked
// against the axis size and wrapped when negative.
template <typename Idx, typename Fn>
void walk_element_offsets(const Tensor& ind, const Shape& data_shape, int64_t axis, int64_t rb, int64_t re,
                          const std::string& what, Fn&& fn) {
  const int64_t r = static_cast<int64_t>(ind.rank());
  const std::vector<int64_t> ds = strides_of(data_shape);
  const int64_t n = data_shape[axis], axis_stride = ds[axis];
  const int64_t last = ind.shape()[r - 1], last_stride = axis == r - 1 ? 0 : ds[r - 1];
  const Shape lead(ind.shape().begin(), ind.shape().end() - 1);
  std::vector<int64_t> lead_strides(ds.begin(), ds.end() - 1);
  if (axis < r - 1) lead_strides[axis] = 0;
  const Idx* ip = static_cast<const Idx*>(ind.raw());
  shape_detail::OffsetWalker w(lead, lead_strides, rb);
  for (int64_t row = rb; row < re; ++row, w.next())
    for (int64_t j = 0; j < last; ++j) {
      const int64_t i = row * last + j;
      int64_t k = static_cast<int64_t>(ip[i]);
      if (k < 0) k += n;
      PIONNX_ENFORCE(k >= 0 && k < n, InvalidArgument, what, ": index ", ip[i], " in indices is out of range for axis ",
                     axis, " of size ", n);
      fn(i, w.offset + j * last_stride + k * axis_stride);
    }
}

// ---------------------------------------------------------------- Gather

class Gather final : public NamedKernel {
 public:
  explicit Gather(const KernelInfo& info) : NamedKernel(info), axis_(info.node.attr_i("axis", 0)) {}
  void compute(KernelContext& ctx) const override {
    const Tensor& data = ctx.input(0);
    const Tensor& ind = ctx.input(1);
    const std::string& what = what_;
    const int64_t r = static_cast<int64_t>(data.rank());
    PIONNX_ENFORCE(r >= 1, InvalidArgument, what, ": data must have rank >= 1");
    const int64_t axis = normalize_axis(axis_, r, what);
    const int64_t n = data.shape()[axis];
    const std::vector<int64_t> idx = checked_indices(ind, n, what, "indices");
    Shape out_shape(data.shape().begin(), data.shape().begin() + axis);
    out_shape.insert(out_shape.end(), ind.shape().begin(), ind.shape().end());
    out_shape.insert(out_shape.end(), data.shape().begin() + axis + 1, data.shape().end());
    int64_t outer = 1, inner = 1;
    for (int64_t d = 0; d < r; ++d) (d < axis ? outer : inner) *= d == axis ? 1 : data.shape()[d];
    const int64_t k = static_cast<int64_t>(idx.size());
    // Consecutive indices under a unit outer extent pick one contiguous block
    // (e.g. one row of a leading axis): alias the data.
    bool run = outer == 1 && k > 0 && shape_numel(out_shape) > 0;
    for (int64_t j = 1; run && j < k; ++j) run = idx[j] == idx[0] + j;
    if (run) {
      const int64_t esize = static_cast<int64_t>(dtype_size(data.dtype()));
      const char* src = static_cast<const char*>(data.raw()) + idx[0] * inner * esize;
      ctx.set_output(0, view_of(data, src, out_shape));
      return;
    }
    Tensor& y = ctx.output(0, data.dtype(), out_shape);
    if (y.numel() == 0) return;
    dispatch_movable(data.dtype(), what, [&](auto tag) {
      using T = typename decltype(tag)::type;
      const T* in = static_cast<const T*>(data.raw());
      T* out = static_cast<T*>(y.raw());
      ctx.pool().parallel_for(outer * k, grain_size(4096, inner), [&](int64_t b, int64_t e) {
        // w = o * k + j, advanced without dividing per element.
        int64_t o = b / k, j = b % k;
        for (int64_t w = b; w < e; ++w) {
          const T* src = in + (o * n + idx[j]) * inner;
          if (inner == 1) out[w] = *src;
          else shape_detail::copy_run(src, out + w * inner, inner);
          if (++j == k) j = 0, ++o;
        }
      });
    });
  }

 private:
  int64_t axis_;
};

// ---------------------------------------------------------------- GatherElements

class GatherElements final : public NamedKernel {
 public:
  explicit GatherElements(const KernelInfo& info) : NamedKernel(info), axis_(info.node.attr_i("axis", 0)) {}
  void compute(KernelContext& ctx) const override {
    const Tensor& data = ctx.input(0);
    const Tensor& ind = ctx.input(1);
    const std::string& what = what_;
    const int64_t r = static_cast<int64_t>(data.rank());
    PIONNX_ENFORCE(static_cast<int64_t>(ind.rank()) == r && r >= 1, InvalidArgument, what, ": indices ",
                   shape_str(ind.shape()), " must have the rank of data ", shape_str(data.shape()));
    const int64_t axis = normalize_axis(axis_, r, what);
    for (int64_t d = 0; d < r; ++d)
      PIONNX_ENFORCE(d == axis || ind.shape()[d] <= data.shape()[d], InvalidArgument, what, ": indices ",
                     shape_str(ind.shape()), " exceed data ", shape_str(data.shape()), " on axis ", d);
    Tensor& y = ctx.output(0, data.dtype(), ind.shape());
    if (y.numel() == 0) return;
    const int64_t last = ind.shape()[r - 1], rows = y.numel() / last;
    dispatch_index(ind, what, [&](auto itag) {
      using Idx = typename decltype(itag)::type;
      dispatch_movable(data.dtype(), what, [&](auto tag) {
        using T = typename decltype(tag)::type;
        const T* in = static_cast<const T*>(data.raw());
        T* out = static_cast<T*>(y.raw());
        ctx.pool().parallel_for(rows, grain_size(16384, last), [&](int64_t b, int64_t e) {
          walk_element_offsets<Idx>(ind, data.shape(), axis, b, e, what,
                                    [&](int64_t i, int64_t off) { out[i] = in[off]; });
        });
      });
    });
  }

 private:
  int64_t axis_;
};

// ---------------------------------------------------------------- GatherND

class GatherND final : public NamedKernel {
 public:
  explicit GatherND(const KernelInfo& info) : NamedKernel(info), batch_dims_(info.node.attr_i("batch_dims", 0)) {}
  void compute(KernelContext& ctx) const override {
    const Tensor& data = ctx.input(0);
    const Tensor& ind = ctx.input(1);
    const std::string& what = what_;
    const int64_t r = static_cast<int64_t>(data.rank()), q = static_cast<int64_t>(ind.rank()), b = batch_dims_;
    PIONNX_ENFORCE(q >= 1 && b >= 0 && b < std::min(r, q), InvalidArgument, what, ": batch_dims ", b,
                   " invalid for data ", shape_str(data.shape()), " and indices ", shape_str(ind.shape()));
    const int64_t k = ind.shape()[q - 1];
    PIONNX_ENFORCE(k >= 1 && k <= r - b, InvalidArgument, what, ": indices last dim ", k,
                   " must be in [1, rank(data) - batch_dims = ", r - b, "]");
    for (int64_t d = 0; d < b; ++d)
      PIONNX_ENFORCE(data.shape()[d] == ind.shape()[d], InvalidArgument, what, ": batch dim ", d, " differs: data ",
                     shape_str(data.shape()), ", indices ", shape_str(ind.shape()));
    PIONNX_ENFORCE(ind.dtype() == DType::Int64 || ind.dtype() == DType::Int32, InvalidArgument, what,
                   ": indices must be int64, got ", dtype_name(ind.dtype()));
    std::vector<int64_t> idx = tensor_to_int64s(ind);

    Shape out_shape(ind.shape().begin(), ind.shape().end() - 1);
    out_shape.insert(out_shape.end(), data.shape().begin() + b + k, data.shape().end());
    const std::vector<int64_t> ds = strides_of(data.shape());
    int64_t batches = 1, slice = 1;
    for (int64_t d = 0; d < b; ++d) batches *= data.shape()[d];
    for (int64_t d = b + k; d < r; ++d) slice *= data.shape()[d];
    const int64_t batch_size = b > 0 ? ds[b - 1] : data.numel();
    const int64_t tuples = static_cast<int64_t>(idx.size()) / k;
    const int64_t per_batch = batches > 0 ? tuples / batches : 0;
    // Resolve each index tuple to a data offset up front (checks bounds once).
    std::vector<int64_t> offsets(tuples);
    for (int64_t t = 0; t < tuples; ++t) {
      int64_t off = (per_batch > 0 ? t / per_batch : 0) * batch_size;
      for (int64_t j = 0; j < k; ++j) {
        int64_t i = idx[t * k + j];
        const int64_t n = data.shape()[b + j];
        PIONNX_ENFORCE(i >= -n && i < n, InvalidArgument, what, ": index ", i, " out of range for axis ", b + j,
                       " of size ", n);
        off += (i < 0 ? i + n : i) * ds[b + j];
      }
      offsets[t] = off;
    }
    Tensor& y = ctx.output(0, data.dtype(), out_shape);
    if (y.numel() == 0) return;
    dispatch_movable(data.dtype(), what, [&](auto tag) {
      using T = typename decltype(tag)::type;
      const T* in = static_cast<const T*>(data.raw());
      T* out = static_cast<T*>(y.raw());
      ctx.pool().parallel_for(tuples, grain_size(4096, slice), [&](int64_t b0, int64_t e0) {
        for (int64_t t = b0; t < e0; ++t) shape_detail::copy_run(in + offsets[t], out + t * slice, slice);
      });
    });
  }

 private:
  int64_t batch_dims_;
};

// ---------------------------------------------------------------- Scatter family

enum class Reduction { None, Add, Mul, Max, Min };

Reduction parse_reduction(const std::string& s, const std::string& what) {
  if (s == "none") return Reduction::None;
  if (s == "add") return Reduction::Add;
  if (s == "mul") return Reduction::Mul;
  if (s == "max") return Reduction::Max;
  if (s == "min") return Reduction::Min;
  throw InvalidArgument(str_cat(what, ": unknown reduction '", s, "'"));
}

template <typename T>
T combine(const T& a, const T& b, Reduction r) {
  using K = KeyOf<T>;
  const K x = static_cast<K>(a), y = static_cast<K>(b);
  K z = y;
  switch (r) {
    case Reduction::None: z = y; break;
    case Reduction::Add: z = static_cast<K>(x + y); break;
    case Reduction::Mul: z = static_cast<K>(x * y); break;
    case Reduction::Max: z = std::max(x, y); break;
    case Reduction::Min: z = std::min(x, y); break;
  }
  return static_cast<T>(z);
}

// Copies data to output 0, then calls scatter(out, upd, apply) where
// apply(dst, src) writes or combines one element.
template <typename Scatter>
void scatter_into(KernelContext& ctx, const Tensor& data, const Tensor& updates, Reduction red, const std::string& what,
                  Scatter&& scatter) {
  PIONNX_ENFORCE(updates.dtype() == data.dtype(), InvalidArgument, what, ": updates have dtype ",
                 dtype_name(updates.dtype()), ", data ", dtype_name(data.dtype()));
  Tensor& y = ctx.output(0, data.dtype(), data.shape());
  strided_copy_any(data.dtype(), data.raw(), strides_of(data.shape()), data.shape(), y.raw(), ctx.pool(), what);
  if (red == Reduction::None) {
    dispatch_movable(data.dtype(), what, [&](auto tag) {
      using T = typename decltype(tag)::type;
      scatter(static_cast<T*>(y.raw()), static_cast<const T*>(updates.raw()), [](T& d, const T& s) { d = s; });
    });
  } else {
    dispatch_arith(data.dtype(), what, [&](auto tag) {
      using T = typename decltype(tag)::type;
      scatter(static_cast<T*>(y.raw()), static_cast<const T*>(updates.raw()),
              [red](T& d, const T& s) { d = combine(d, s, red); });
    });
  }
}

class ScatterND final : public NamedKernel {
 public:
  explicit ScatterND(const KernelInfo& info)
      : NamedKernel(info), red_(parse_reduction(info.node.attr_s("reduction", "none"), info.node.describe())) {}
  void compute(KernelContext& ctx) const override {
    const Tensor& data = ctx.input(0);
    const Tensor& ind = ctx.input(1);
    const Tensor& upd = ctx.input(2);
    const std::string& what = what_;
    const int64_t r = static_cast<int64_t>(data.rank()), q = static_cast<int64_t>(ind.rank());
    PIONNX_ENFORCE(q >= 1, InvalidArgument, what, ": indices must have rank >= 1");
    const int64_t k = ind.shape()[q - 1];
    PIONNX_ENFORCE(k <= r, InvalidArgument, what, ": indices last dim ", k, " exceeds data rank ", r);
    Shape want(ind.shape().begin(), ind.shape().end() - 1);
    want.insert(want.end(), data.shape().begin() + k, data.shape().end());
    PIONNX_ENFORCE(upd.shape() == want, InvalidArgument, what, ": updates have shape ", shape_str(upd.shape()),
                   ", expected ", shape_str(want));
    const std::vector<int64_t> idx = tensor_to_int64s(ind);
    const std::vector<int64_t> ds = strides_of(data.shape());
    int64_t slice = 1;
    for (int64_t d = k; d < r; ++d) slice *= data.shape()[d];
    // k == 0 (indices [..., 0]): each tuple addresses the whole data tensor.
    const int64_t tuples =
        k > 0 ? static_cast<int64_t>(idx.size()) / k : shape_numel(want) / std::max<int64_t>(slice, 1);
    std::vector<int64_t> offsets(tuples, 0);
    for (int64_t t = 0; t < tuples; ++t)
      for (int64_t j = 0; j < k; ++j) {
        const int64_t i = idx[t * k + j], n = data.shape()[j];
        PIONNX_ENFORCE(i >= -n && i < n, InvalidArgument, what, ": index ", i, " out of range for axis ", j,
                       " of size ", n);
        offsets[t] += (i < 0 ? i + n : i) * ds[j];
      }
    // In order, so duplicate indices combine (or the last write wins).
    scatter_into(ctx, data, upd, red_, what, [&](auto* out, const auto* u, auto apply) {
      for (int64_t t = 0; t < tuples; ++t)
        for (int64_t e = 0; e < slice; ++e) apply(out[offsets[t] + e], u[t * slice + e]);
    });
  }

 private:
  Reduction red_;
};

// ScatterElements (and the opset 9-10 Scatter, which has no reduction).
class ScatterElements final : public NamedKernel {
 public:
  explicit ScatterElements(const KernelInfo& info)
      : NamedKernel(info),
        axis_(info.node.attr_i("axis", 0)),
        red_(parse_reduction(info.node.attr_s("reduction", "none"), info.node.describe())) {}
  void compute(KernelContext& ctx) const override {
    const Tensor& data = ctx.input(0);
    const Tensor& ind = ctx.input(1);
    const Tensor& upd = ctx.input(2);
    const std::string& what = what_;
    const int64_t r = static_cast<int64_t>(data.rank());
    PIONNX_ENFORCE(static_cast<int64_t>(ind.rank()) == r && r >= 1, InvalidArgument, what, ": indices ",
                   shape_str(ind.shape()), " must have the rank of data ", shape_str(data.shape()));
    PIONNX_ENFORCE(upd.shape() == ind.shape(), InvalidArgument, what, ": updates ", shape_str(upd.shape()),
                   " must have the shape of indices ", shape_str(ind.shape()));
    const int64_t axis = normalize_axis(axis_, r, what);
    for (int64_t d = 0; d < r; ++d)
      PIONNX_ENFORCE(d == axis || ind.shape()[d] <= data.shape()[d], InvalidArgument, what, ": indices ",
                     shape_str(ind.shape()), " exceed data ", shape_str(data.shape()), " on axis ", d);
    // Sequential, so duplicate indices combine in order (or the last wins).
    scatter_into(ctx, data, upd, red_, what, [&](auto* out, const auto* u, auto apply) {
      if (ind.numel() == 0) return;
      const int64_t rows = ind.numel() / ind.shape()[r - 1];
      dispatch_index(ind, what, [&](auto itag) {
        using Idx = typename decltype(itag)::type;
        walk_element_offsets<Idx>(ind, data.shape(), axis, 0, rows, what,
                                  [&](int64_t i, int64_t off) { apply(out[off], u[i]); });
      });
    });
  }

 private:
  int64_t axis_;
  Reduction red_;
};

// TensorScatter (opset 24): writes `update` into a copy of a KV cache at
// per-batch positions along the sequence axis.
class TensorScatter final : public NamedKernel {
 public:
  explicit TensorScatter(const KernelInfo& info)
      : NamedKernel(info),
        axis_(info.node.attr_i("axis", -2)),
        circular_(info.node.attr_s("mode", "linear") == "circular") {
    const std::string mode = info.node.attr_s("mode", "linear");
    PIONNX_ENFORCE(mode == "linear" || mode == "circular", InvalidGraph, info.node.describe(), ": unknown mode '", mode,
                   "'");
  }
  void compute(KernelContext& ctx) const override {
    const Tensor& past = ctx.input(0);
    const Tensor& upd = ctx.input(1);
    const std::string& what = what_;
    const int64_t r = static_cast<int64_t>(past.rank());
    const int64_t axis = normalize_axis(axis_, r, what);
    PIONNX_ENFORCE(axis >= 1, InvalidArgument, what, ": axis must not be the batch axis");
    bool ok = upd.rank() == past.rank() && upd.dtype() == past.dtype();
    for (int64_t d = 0; ok && d < r; ++d)
      ok = d == axis ? upd.shape()[d] <= past.shape()[d] : upd.shape()[d] == past.shape()[d];
    PIONNX_ENFORCE(ok, InvalidArgument, what, ": update ", dtype_name(upd.dtype()), " ", shape_str(upd.shape()),
                   " does not fit cache ", dtype_name(past.dtype()), " ", shape_str(past.shape()), " on axis ", axis);
    const int64_t batch = past.shape()[0], max_seq = past.shape()[axis], seq = upd.shape()[axis];
    std::vector<int64_t> wi(batch, 0);
    if (const Tensor* w = ctx.optional_input(2)) wi = tensor_to_int64s(*w);
    PIONNX_ENFORCE(static_cast<int64_t>(wi.size()) == batch, InvalidArgument, what, ": write_indices has ", wi.size(),
                   " values for batch ", batch);
    int64_t outer = 1, inner = 1;
    for (int64_t d = 0; d < r; ++d) (d < axis ? outer : inner) *= d == axis ? 1 : past.shape()[d];
    const int64_t per_batch = batch > 0 ? outer / batch : 0;

    Tensor& y = ctx.output(0, past.dtype(), past.shape());
    strided_copy_any(past.dtype(), past.raw(), strides_of(past.shape()), past.shape(), y.raw(), ctx.pool(), what);
    dispatch_movable(past.dtype(), what, [&](auto tag) {
      using T = typename decltype(tag)::type;
      const T* u = static_cast<const T*>(upd.raw());
      T* out = static_cast<T*>(y.raw());
      for (int64_t o = 0; o < outer; ++o)
        for (int64_t s = 0; s < seq; ++s) {
          int64_t pos = wi[o / per_batch] + s;
          if (circular_) pos = ((pos % max_seq) + max_seq) % max_seq;
          PIONNX_ENFORCE(pos >= 0 && pos < max_seq, InvalidArgument, what, ": write index ", pos,
                         " is outside the cache's ", max_seq, " positions");
          shape_detail::copy_run(u + (o * seq + s) * inner, out + (o * max_seq + pos) * inner, inner);
        }
    });
  }

 private:
  int64_t axis_;
  bool circular_;
};

// ---------------------------------------------------------------- Compress / NonZero

class Compress final : public NamedKernel {
 public:
  explicit Compress(const KernelInfo& info)
      : NamedKernel(info), has_axis_(info.node.has("axis")), axis_(info.node.attr_i("axis", 0)) {}
  void compute(KernelContext& ctx) const override {
    const Tensor& x = ctx.input(0);
    const Tensor& cond = ctx.input(1);
    const std::string& what = what_;
    PIONNX_ENFORCE(cond.dtype() == DType::Bool && cond.rank() == 1, InvalidArgument, what,
                   ": condition must be a 1-D bool tensor, got ", dtype_name(cond.dtype()), " ",
                   shape_str(cond.shape()));
    // Without an axis the input is flattened.
    const Shape shape = has_axis_ ? x.shape() : Shape{x.numel()};
    const int64_t axis = has_axis_ ? normalize_axis(axis_, static_cast<int64_t>(x.rank()), what) : 0;
    const int64_t n = shape[axis];
    const bool* c = cond.data<bool>();
    std::vector<int64_t> keep;
    for (int64_t i = 0; i < cond.numel(); ++i) {
      if (!c[i]) continue;
      PIONNX_ENFORCE(i < n, InvalidArgument, what, ": condition selects index ", i, " beyond axis size ", n);
      keep.push_back(i);
    }
    int64_t outer = 1, inner = 1;
    for (size_t d = 0; d < shape.size(); ++d)
      if (static_cast<int64_t>(d) != axis) (static_cast<int64_t>(d) < axis ? outer : inner) *= shape[d];
    Shape out_shape = shape;
    out_shape[axis] = static_cast<int64_t>(keep.size());
    Tensor& y = ctx.output(0, x.dtype(), out_shape);
    if (y.numel() == 0) return;
    const int64_t m = static_cast<int64_t>(keep.size());
    dispatch_movable(x.dtype(), what, [&](auto tag) {
      using T = typename decltype(tag)::type;
      const T* in = static_cast<const T*>(x.raw());
      T* out = static_cast<T*>(y.raw());
      for (int64_t o = 0; o < outer; ++o)
        for (int64_t j = 0; j < m; ++j)
          shape_detail::copy_run(in + (o * n + keep[j]) * inner, out + (o * m + j) * inner, inner);
    });
  }

 private:
  bool has_axis_;
  int64_t axis_;
};

// Flags each element of x that is not zero (-0.0 counts as zero).
std::vector<uint8_t> nonzero_flags(const Tensor& x, const std::string& what) {
  std::vector<uint8_t> f(static_cast<size_t>(x.numel()));
  const int64_t n = x.numel();
  switch (x.dtype()) {
    case DType::Float:
      for (int64_t i = 0; i < n; ++i) f[i] = x.data<float>()[i] != 0.f;
      return f;
    case DType::Double:
      for (int64_t i = 0; i < n; ++i) f[i] = x.data<double>()[i] != 0.0;
      return f;
    case DType::Float16:
    case DType::BFloat16: {
      const uint16_t* p = static_cast<const uint16_t*>(x.raw());
      for (int64_t i = 0; i < n; ++i) f[i] = (p[i] & 0x7fff) != 0;
      return f;
    }
    case DType::String:
      for (int64_t i = 0; i < n; ++i) f[i] = !x.data<std::string>()[i].empty();
      return f;
    default: break;
  }
  dispatch_by_size(x.dtype(), what, [&](auto tag) {
    using T = typename decltype(tag)::type;
    const T* p = static_cast<const T*>(x.raw());
    for (int64_t i = 0; i < n; ++i) f[i] = p[i] != 0;
  });
  return f;
}

class NonZero final : public NamedKernel {
 public:
  using NamedKernel::NamedKernel;
  void compute(KernelContext& ctx) const override;
};

void NonZero::compute(KernelContext& ctx) const {
  const Tensor& x = ctx.input(0);
  const std::vector<uint8_t> f = nonzero_flags(x, what_);
  int64_t nnz = 0;
  for (uint8_t v : f) nnz += v;
  // A scalar reads as a 1-element vector (numpy's behaviour).
  const Shape shape = x.rank() == 0 ? Shape{1} : x.shape();
  const int64_t r = static_cast<int64_t>(shape.size());
  int64_t* out = ctx.output(0, DType::Int64, {r, nnz}).data<int64_t>();
  std::vector<int64_t> idx(r, 0);
  int64_t col = 0;
  for (size_t i = 0; i < f.size(); ++i) {
    if (f[i]) {
      for (int64_t d = 0; d < r; ++d) out[d * nnz + col] = idx[d];
      ++col;
    }
    for (int64_t d = r - 1; d >= 0; --d) {
      if (++idx[d] < shape[d]) break;
      idx[d] = 0;
    }
  }
}

}  // namespace

void register_index(KernelRegistry& r) {
  r.add_all("",
            {impl<Gather>("Gather"), impl<GatherElements>("GatherElements"), impl<GatherND>("GatherND"),
             impl<ScatterND>("ScatterND"), impl<ScatterElements>("ScatterElements"), impl<ScatterElements>("Scatter"),
             impl<TensorScatter>("TensorScatter"), impl<Compress>("Compress"), impl<NonZero>("NonZero")});
}

}  // namespace pionnx
