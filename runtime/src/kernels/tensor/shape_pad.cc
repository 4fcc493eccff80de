// Pad (constant/reflect/edge/wrap, negative pads crop), CenterCropPad (a Pad
// with centred pads) and ReverseSequence.
#include <algorithm>

#include "core/checked.h"
#include "kernels/base/dtype_dispatch.h"
#include "kernels/base/kernel.h"
#include "kernels/base/shapes.h"
#include "kernels/tensor/strided.h"
#include "platform/thread_pool.h"

namespace pionnx {
namespace {

enum class PadMode { Constant, Reflect, Edge, Wrap };

PadMode parse_mode(const std::string& m, const std::string& what) {
  if (m == "constant") return PadMode::Constant;
  if (m == "reflect") return PadMode::Reflect;
  if (m == "edge") return PadMode::Edge;
  if (m == "wrap") return PadMode::Wrap;
  throw InvalidArgument(str_cat(what, ": unknown pad mode '", m, "'"));
}

// For each output position of a dim of size n padded by (pb, pe): the input
// position it reads, or -1 for the constant value. Negative pads crop first
// and the positive ones then pad what is left (onnxruntime's order; it
// matters for wrap, which reads the far edge).
std::vector<int64_t> source_map(int64_t n, int64_t pb, int64_t pe, PadMode mode, const std::string& what) {
  const int64_t lo = std::max<int64_t>(0, -pb);
  const int64_t kept = n - lo - std::max<int64_t>(0, -pe);
  pb = std::max<int64_t>(0, pb);
  pe = std::max<int64_t>(0, pe);
  const int64_t out = kept + pb + pe;
  std::vector<int64_t> map(static_cast<size_t>(std::max<int64_t>(out, 0)));
  for (int64_t o = 0; o < out; ++o) {
    int64_t i = o - pb;
    if (i < 0 || i >= kept) {
      PIONNX_ENFORCE(mode == PadMode::Constant || kept > 0, InvalidArgument, what,
                     ": cannot pad an empty axis in a non-constant mode");
      switch (mode) {
        case PadMode::Constant: i = -1; break;
        case PadMode::Edge: i = std::min(std::max<int64_t>(i, 0), kept - 1); break;
        case PadMode::Wrap: i = ((i % kept) + kept) % kept; break;
        case PadMode::Reflect: {
          // Mirror without repeating the edge: period 2(kept-1).
          const int64_t period = 2 * (kept - 1);
          if (period == 0) {
            i = 0;
          } else {
            i = ((i % period) + period) % period;
            if (i >= kept) i = period - i;
          }
          break;
        }
      }
    }
    map[o] = i < 0 ? -1 : lo + i;
  }
  return map;
}

// Pads x by (begin[d], end[d]) per dim into output 0. `value` is a 0-d tensor
// of x's dtype, read in constant mode.
void pad_into(KernelContext& ctx, const Tensor& x, const std::vector<int64_t>& begin, const std::vector<int64_t>& end,
              PadMode mode, const Tensor& value, const std::string& what) {
  const int64_t r = static_cast<int64_t>(x.rank());
  Shape out_shape(r);
  std::vector<std::vector<int64_t>> maps(r);
  for (int64_t d = 0; d < r; ++d) {
    out_shape[d] = checked_add(checked_add(x.shape()[d], begin[d], "Pad output size"), end[d], "Pad output size");
    PIONNX_ENFORCE(out_shape[d] >= 0, InvalidArgument, what, ": pads (", begin[d], ", ", end[d], ") on axis ", d,
                   " of size ", x.shape()[d], " give a negative size");
  }
  // The output first: its allocation is checked against the size limit before
  // anything else is sized by the pads.
  Tensor& y = ctx.output(0, x.dtype(), out_shape);
  if (y.numel() == 0) return;
  for (int64_t d = 0; d < r; ++d) maps[d] = source_map(x.shape()[d], begin[d], end[d], mode, what);
  if (r == 0) {
    strided_copy_any(x.dtype(), x.raw(), {}, {}, y.raw(), ctx.pool(), what);
    return;
  }
  const std::vector<int64_t> in_strides = strides_of(x.shape());
  const int64_t last = out_shape[r - 1], rows = y.numel() / last;
  // The stretch of the last dim read straight from the input row.
  const int64_t lo = std::max<int64_t>(0, begin[r - 1]);
  const int64_t hi = std::min(last, begin[r - 1] + x.shape()[r - 1]);
  const std::vector<int64_t>& lmap = maps[r - 1];
  dispatch_movable(x.dtype(), what, [&](auto tag) {
    using T = typename decltype(tag)::type;
    const T* in = static_cast<const T*>(x.raw());
    T* out = static_cast<T*>(y.raw());
    const T pad = value.numel() > 0 ? *static_cast<const T*>(value.raw()) : T{};
    ctx.pool().parallel_for(rows, grain_size(4096, last), [&](int64_t b, int64_t e) {
      std::vector<int64_t> idx(r, 0);
      for (int64_t row = b; row < e; ++row) {
        // Source row offset, or -1 when the row lies in a constant pad.
        int64_t rem = row, src = 0;
        for (int64_t d = r - 2; d >= 0; --d) {
          const int64_t i = maps[d][rem % out_shape[d]];
          rem /= out_shape[d];
          if (i < 0 || src < 0) src = -1;
          else src += i * in_strides[d];
        }
        T* dst = out + row * last;
        if (src < 0) {
          std::fill(dst, dst + last, pad);
          continue;
        }
        const T* s = in + src;
        for (int64_t j = 0; j < lo; ++j) dst[j] = lmap[j] < 0 ? pad : s[lmap[j]];
        if (hi > lo) std::copy(s + (lo - begin[r - 1]), s + (hi - begin[r - 1]), dst + lo);
        for (int64_t j = std::max(lo, hi); j < last; ++j) dst[j] = lmap[j] < 0 ? pad : s[lmap[j]];
      }
    });
  });
}

// ---------------------------------------------------------------- Pad

class Pad final : public NamedKernel {
 public:
  explicit Pad(const KernelInfo& info) : NamedKernel(info), opset_(info.opset) {
    const std::string what = info.node.describe();
    mode_ = parse_mode(info.node.attr_s("mode", "constant"), what);
    PIONNX_ENFORCE(mode_ != PadMode::Wrap || opset_ >= 19, InvalidGraph, what, ": wrap mode needs opset 19");
    if (opset_ < 11) {
      pads_ = info.node.require(opset_ < 2 ? "paddings" : "pads").ints;
      value_ = info.node.attr_f("value", 0.f);
    }
  }
  void compute(KernelContext& ctx) const override {
    const Tensor& x = ctx.input(0);
    const std::string& what = what_;
    const int64_t r = static_cast<int64_t>(x.rank());
    std::vector<int64_t> pads = pads_, axes;
    Tensor value;
    if (opset_ >= 11) {
      pads = tensor_to_int64s(ctx.input(1));
      if (const Tensor* v = ctx.optional_input(2)) {
        PIONNX_ENFORCE(v->dtype() == x.dtype(), InvalidArgument, what, ": constant_value has dtype ",
                       dtype_name(v->dtype()), ", expected ", dtype_name(x.dtype()));
        value = *v;
      }
      if (const Tensor* a = ctx.optional_input(3)) axes = tensor_to_int64s(*a);
    } else if (x.dtype() != DType::String) {
      value = scalar_of(x.dtype(), value_, what);
    }
    if (axes.empty())
      for (int64_t d = 0; d < r; ++d) axes.push_back(d);
    const size_t n = axes.size();
    PIONNX_ENFORCE(pads.size() == 2 * n, InvalidArgument, what, ": pads has ", pads.size(), " values, expected ",
                   2 * n);
    std::vector<int64_t> begin(r, 0), end(r, 0);
    for (size_t i = 0; i < n; ++i) {
      const int64_t a = normalize_axis(axes[i], r, what);
      begin[a] = pads[i];
      end[a] = pads[i + n];
    }
    pad_into(ctx, x, begin, end, mode_, value, what);
  }

 private:
  int64_t opset_;
  PadMode mode_;
  std::vector<int64_t> pads_;
  float value_ = 0;
};

// ---------------------------------------------------------------- CenterCropPad

class CenterCropPad final : public NamedKernel {
 public:
  explicit CenterCropPad(const KernelInfo& info) : NamedKernel(info), axes_(info.node.attr_ints("axes")) {}
  void compute(KernelContext& ctx) const override {
    const Tensor& x = ctx.input(0);
    const std::string& what = what_;
    const int64_t r = static_cast<int64_t>(x.rank());
    const std::vector<int64_t> target = tensor_to_int64s(ctx.input(1));
    std::vector<int64_t> axes = axes_;
    if (axes.empty())
      for (int64_t d = 0; d < r; ++d) axes.push_back(d);
    PIONNX_ENFORCE(target.size() == axes.size(), InvalidArgument, what, ": shape has ", target.size(), " values for ",
                   axes.size(), " axes");
    std::vector<int64_t> begin(r, 0), end(r, 0);
    for (size_t i = 0; i < axes.size(); ++i) {
      const int64_t a = normalize_axis(axes[i], r, what);
      PIONNX_ENFORCE(target[i] >= 0, InvalidArgument, what, ": negative target size ", target[i]);
      // Crop (negative pads) or pad, the odd element going to the end.
      const int64_t diff = target[i] - x.shape()[a];
      const int64_t mag = diff < 0 ? -diff : diff, sign = diff < 0 ? -1 : 1;
      begin[a] = sign * (mag / 2);
      end[a] = sign * (mag - mag / 2);
    }
    pad_into(ctx, x, begin, end, PadMode::Constant, Tensor(), what);
  }

 private:
  std::vector<int64_t> axes_;
};

// ---------------------------------------------------------------- ReverseSequence

class ReverseSequence final : public NamedKernel {
 public:
  explicit ReverseSequence(const KernelInfo& info)
      : NamedKernel(info),
        batch_axis_(info.node.attr_i("batch_axis", 1)),
        time_axis_(info.node.attr_i("time_axis", 0)) {
    PIONNX_ENFORCE((batch_axis_ == 0 && time_axis_ == 1) || (batch_axis_ == 1 && time_axis_ == 0), InvalidGraph,
                   info.node.describe(), ": batch_axis and time_axis must be 0 and 1 in some order");
  }
  void compute(KernelContext& ctx) const override {
    const Tensor& x = ctx.input(0);
    const std::string& what = what_;
    PIONNX_ENFORCE(x.rank() >= 2, InvalidArgument, what, ": expected rank >= 2, got ", shape_str(x.shape()));
    const std::vector<int64_t> lens = tensor_to_int64s(ctx.input(1));
    const int64_t batch = x.shape()[batch_axis_], time = x.shape()[time_axis_];
    PIONNX_ENFORCE(static_cast<int64_t>(lens.size()) == batch, InvalidArgument, what, ": sequence_lens has ",
                   lens.size(), " values for batch size ", batch);
    for (int64_t l : lens)
      PIONNX_ENFORCE(l >= 0 && l <= time, InvalidArgument, what, ": sequence length ", l, " outside [0, ", time, "]");
    const std::vector<int64_t> st = strides_of(x.shape());
    const int64_t inner = st[1], sb = st[batch_axis_], stt = st[time_axis_];
    Tensor& y = ctx.output(0, x.dtype(), x.shape());
    dispatch_movable(x.dtype(), what, [&](auto tag) {
      using T = typename decltype(tag)::type;
      const T* in = static_cast<const T*>(x.raw());
      T* out = static_cast<T*>(y.raw());
      for (int64_t b = 0; b < batch; ++b)
        for (int64_t t = 0; t < time; ++t) {
          const int64_t from = t < lens[b] ? lens[b] - 1 - t : t;
          shape_detail::copy_run(in + b * sb + from * stt, out + b * sb + t * stt, inner);
        }
    });
  }

 private:
  int64_t batch_axis_, time_axis_;
};

}  // namespace

void register_shape_pad(KernelRegistry& r) {
  r.add_all("", {impl<Pad>("Pad"), impl<CenterCropPad>("CenterCropPad"), impl<ReverseSequence>("ReverseSequence")});
}

}  // namespace pionnx
