// QuantizeLinear, DequantizeLinear (ai.onnx and com.microsoft) and
// DynamicQuantizeLinear.
//
// Scales and zero points come per tensor (one value), per axis (1-D along
// `axis`) or, from opset 21, per block (`block_size` consecutive elements
// along `axis` share one value; the parameter has x's rank with that axis
// shortened to ceil(dim / block_size)).
#include <algorithm>
#include <atomic>
#include <cmath>

#include "core/checked.h"
#include "kernels/quant/qparams.h"
#include "kernels/simd/elementwise_math.h"
#include "platform/thread_pool.h"

namespace pionnx {
namespace {

// x viewed as [outer, D, inner] around the quantization axis, and where
// element (o, a, i) finds its parameter.
struct QuantLayout {
  enum Mode { PerTensor, PerAxis, Blocked } mode = PerTensor;
  int64_t outer = 1, D = 1, inner = 1, block = 0, nblocks = 1;

  int64_t param_row(int64_t o, int64_t a) const {  // blocked: + i
    switch (mode) {
      case PerTensor: return 0;
      case PerAxis: return a;
      case Blocked: return (o * nblocks + a / block) * inner;
    }
    return 0;
  }
};

QuantLayout quant_layout(const Node& node, const Shape& x, const Tensor& scale, const Tensor* zp, int64_t axis_attr,
                         int64_t block_size) {
  QuantLayout L;
  const std::string what = node.describe();
  if (zp != nullptr)
    PIONNX_ENFORCE(zp->numel() == scale.numel(), InvalidArgument, what, ": zero point shape ", shape_str(zp->shape()),
                   " differs from scale shape ", shape_str(scale.shape()));
  if (scale.numel() == 1) {  // per tensor, also when blocked: every element is a row
    L.D = shape_numel(x);
    return L;
  }
  const int64_t rank = static_cast<int64_t>(x.size());
  PIONNX_ENFORCE(rank > 0, InvalidArgument, what, ": per-axis scale needs x of rank >= 1");
  const int64_t axis = normalize_axis(axis_attr, rank, what);
  for (int64_t d = 0; d < axis; ++d) L.outer *= x[d];
  L.D = x[axis];
  for (int64_t d = axis + 1; d < rank; ++d) L.inner *= x[d];
  if (block_size <= 0) {
    PIONNX_ENFORCE(scale.rank() == 1 && scale.numel() == L.D, InvalidArgument, what,
                   ": per-axis scale must be 1-D of length ", L.D, " (axis ", axis, "), got ",
                   shape_str(scale.shape()));
    L.mode = QuantLayout::PerAxis;
    return L;
  }
  L.mode = QuantLayout::Blocked;
  L.block = block_size;
  L.nblocks = ceil_div_nonneg(L.D, block_size);
  Shape want = x;
  want[axis] = L.nblocks;
  PIONNX_ENFORCE(scale.shape() == want, InvalidArgument, what, ": blocked scale must have shape ", shape_str(want),
                 " for block_size ", block_size, ", got ", shape_str(scale.shape()));
  return L;
}

// Runs fn(base, len, param_index_of_base, per_element) over the elements in
// parallel: per tensor, in runs of 16384 elements with parameter 0; else one
// call per [outer, D] row (base = row * inner, len = inner); per_element says
// the parameter advances with the element (blocked).
template <typename Fn>
void for_each_row(KernelContext& ctx, const QuantLayout& L, Fn&& fn) {
  if (L.mode == QuantLayout::PerTensor) {
    constexpr int64_t kRun = 16384;
    const int64_t n = L.outer * L.D * L.inner;
    ctx.pool().parallel_for((n + kRun - 1) / kRun, 1, [&](int64_t b0, int64_t b1) {
      for (int64_t b = b0; b < b1; ++b) fn(b * kRun, std::min(kRun, n - b * kRun), int64_t{0}, false);
    });
    return;
  }
  const int64_t rows = L.outer * L.D;
  const int64_t grain = std::max<int64_t>(1, 16384 / std::max<int64_t>(1, L.inner));
  ctx.pool().parallel_for(rows, grain, [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) {
      const int64_t o = r / L.D, a = r % L.D;
      fn(r * L.inner, L.inner, L.param_row(o, a), L.mode == QuantLayout::Blocked);
    }
  });
}

DType quant_output_dtype(const Node& node, const Tensor* zp, int64_t output_dtype) {
  DType t = DType::UInt8;
  if (output_dtype != 0) {
    PIONNX_ENFORCE(dtype_is_valid(static_cast<int32_t>(output_dtype)), NotImplemented, node.describe(),
                   ": output_dtype ", output_dtype, " is not supported");
    t = static_cast<DType>(output_dtype);
  }
  if (zp != nullptr) {
    PIONNX_ENFORCE(output_dtype == 0 || zp->dtype() == t, InvalidArgument, node.describe(), ": output_dtype ",
                   dtype_name(t), " differs from the zero point's ", dtype_name(zp->dtype()));
    t = zp->dtype();
  }
  return t;
}

// QuantizeLinear and DequantizeLinear: the attributes both read (axis,
// block_size, output_dtype) and their inputs x, scale, optional zero point.
class QuantLinearKernel : public Kernel {
 public:
  explicit QuantLinearKernel(const KernelInfo& info)
      : node_(info.node),
        axis_(info.node.attr_i("axis", 1)),
        block_size_(info.node.attr_i("block_size", 0)),
        output_dtype_(info.node.attr_i("output_dtype", 0)),
        saturate_(info.node.attr_i("saturate", 1) != 0) {}

  void compute(KernelContext& ctx) const final { run(ctx, ctx.input(0), ctx.input(1), ctx.optional_input(2)); }

 protected:
  virtual void run(KernelContext& ctx, const Tensor& x, const Tensor& scale_t, const Tensor* zp_t) const = 0;
  const Node& node_;
  int64_t axis_, block_size_, output_dtype_;
  bool saturate_;  // float8 outputs (opset 19)
};

// The float8/float4 formats' zero points (which the spec fixes at 0, but
// stores in the format) as float values; nullptr reads as 0.
std::vector<float> float_zero_points(const Tensor* zp, size_t n) {
  std::vector<float> v(n, 0.f);
  if (zp == nullptr) return v;
  const uint8_t* bits = static_cast<const uint8_t*>(zp->raw());
  for (size_t i = 0; i < n; ++i) v[i] = small_to_float(zp->dtype(), bits[i]);
  return v;
}

// The formats whose zero point is a float value, not an integer.
bool is_float_format(DType t) { return dtype_is_float8(t) || t == DType::Float4E2M1; }

// x / scale in the type opset 23's `precision` names, or, without it, the
// type numpy's promotion of x's and scale's types gives (what the reference
// computes): float16/bfloat16 round x, scale and the quotient to that type;
// double divides in double. The common case, float x and scale, keeps the
// float32 division (bit for bit the spec's).
DType division_type(const Tensor& x, const Tensor& scale, int64_t precision) {
  if (precision != 0) return static_cast<DType>(precision);
  const DType a = x.dtype(), b = scale.dtype();
  if (a == b) return a;
  if (a == DType::Double || b == DType::Double || !dtype_is_float(a) || !dtype_is_float(b)) return DType::Double;
  return DType::Float;  // float with a 16-bit float, or float16 with bfloat16
}

double round_to(DType t, double v) {
  if (t == DType::Float16) return half_to_float(float_to_half(static_cast<float>(v)));
  if (t == DType::BFloat16) return bfloat16_to_float(float_to_bfloat16(static_cast<float>(v)));
  return static_cast<float>(v);
}

class QuantizeLinear final : public QuantLinearKernel {
 public:
  explicit QuantizeLinear(const KernelInfo& info)
      : QuantLinearKernel(info), precision_(info.node.attr_i("precision", 0)) {
    PIONNX_ENFORCE(precision_ == 0 || precision_ == static_cast<int64_t>(DType::Float) ||
                       precision_ == static_cast<int64_t>(DType::Double) ||
                       precision_ == static_cast<int64_t>(DType::Float16) ||
                       precision_ == static_cast<int64_t>(DType::BFloat16),
                   InvalidGraph, info.node.describe(),
                   ": precision must be float, double, float16 or bfloat16 (1, 11, 10, 16), got ", precision_);
  }

  void run(KernelContext& ctx, const Tensor& x_in, const Tensor& scale_t, const Tensor* zp_t) const override {
    const DType div_t = division_type(x_in, scale_t, precision_);
    if (div_t == DType::Float) {
      const Tensor x = x_in.dtype() == DType::Float ? x_in : cast_tensor(to_float32(x_in), DType::Float);
      const float* xp = x.data<float>();
      const std::vector<float> scale = float_values(scale_t);
      return quantize(
          ctx, x_in, scale_t, zp_t, [xp, &scale](int64_t i, int64_t q) { return xp[i] / scale[q]; }, xp, scale.data());
    }
    const Tensor xd = cast_tensor(x_in, DType::Double), sd = cast_tensor(scale_t, DType::Double);
    const double *xp = xd.data<double>(), *sp = sd.data<double>();
    if (div_t == DType::Double)
      return quantize(ctx, x_in, scale_t, zp_t, [xp, sp](int64_t i, int64_t q) { return xp[i] / sp[q]; });
    return quantize(ctx, x_in, scale_t, zp_t, [xp, sp, div_t](int64_t i, int64_t q) {
      return round_to(div_t, round_to(div_t, xp[i]) / round_to(div_t, sp[q]));
    });
  }

 private:
  // div(i, q): element i of x divided by parameter q, in the division type. xf and sf: x and the scales as floats
  // where the division is in float (8-bit outputs then take quantize_bytes' row loops), else nullptr.
  template <typename Div>
  void quantize(KernelContext& ctx, const Tensor& x_in, const Tensor& scale_t, const Tensor* zp_t, Div div,
                const float* xf = nullptr, const float* sf = nullptr) const {
    const DType out_t = quant_output_dtype(node_, zp_t, output_dtype_);
    const QuantLayout L = quant_layout(node_, x_in.shape(), scale_t, zp_t, axis_, block_size_);
    const size_t nparams = static_cast<size_t>(scale_t.numel());
    Tensor& y = ctx.output(0, out_t, x_in.shape());
    if (x_in.numel() == 0) return;
    if (is_float_format(out_t)) {  // y = convert(x / scale + zp), rounded to nearest even, saturated or not
      const std::vector<float> zpf = float_zero_points(zp_t, nparams);
      uint8_t* yp = static_cast<uint8_t*>(y.raw());
      for_each_row(ctx, L, [&](int64_t base, int64_t len, int64_t p, bool per_element) {
        for (int64_t i = 0; i < len; ++i) {
          const int64_t q = per_element ? p + i : p;
          yp[base + i] = float_to_small(out_t, static_cast<double>(div(base + i, q)) + zpf[q], saturate_);
        }
      });
      return;
    }
    const std::vector<int32_t> zp = zp_t ? int32_values(zp_t) : std::vector<int32_t>(nparams, 0);
    if (dtype_is_narrow_int(out_t)) {  // one byte per element, sign-extended for int4/int2
      const NarrowRange range = narrow_int_range(out_t);
      const double lo = range.lo, hi = range.hi;
      uint8_t* yp = static_cast<uint8_t*>(y.raw());
      for_each_row(ctx, L, [&](int64_t base, int64_t len, int64_t p, bool per_element) {
        for (int64_t i = 0; i < len; ++i) {
          const int64_t q = per_element ? p + i : p;
          const double r = saturate_round_to(static_cast<double>(div(base + i, q)), zp[q], lo, hi);
          yp[base + i] = int_to_narrow(out_t, static_cast<int64_t>(r));
        }
      });
      return;
    }
    auto run = [&](auto tag) {
      using Q = typename decltype(tag)::type;
      Q* yp = y.data<Q>();
      for_each_row(ctx, L, [&](int64_t base, int64_t len, int64_t p, bool per_element) {
        if constexpr (sizeof(Q) == 1) {
          if (xf != nullptr && !per_element) return quantize_bytes(xf + base, len, sf[p], zp[p], yp + base);
        }
        for (int64_t i = 0; i < len; ++i) {
          const int64_t q = per_element ? p + i : p;
          // Division, not multiplication by 1/scale: matches the spec bit for bit.
          yp[base + i] = saturate_round<Q>(div(base + i, q), zp[q]);
        }
      });
    };
    switch (out_t) {
      case DType::UInt8: return run(TypeTag<uint8_t>{});
      case DType::Int8: return run(TypeTag<int8_t>{});
      case DType::UInt16: return run(TypeTag<uint16_t>{});
      case DType::Int16: return run(TypeTag<int16_t>{});
      default:
        throw NotImplemented(str_cat(node_.describe(), ": quantizing to ", dtype_name(out_t), " is not supported"));
    }
  }

  // A run of n 8-bit outputs of a float division with one scale and zero point (per tensor or per axis, the common
  // case): uint8 with every |x / scale| within kQuantizeMaxQuotient (the run's range says so) takes fastmath's
  // division-free quantize (AVX-512 / AVX2, the correctly rounded quotient, elementwise_math.h), which
  // DynamicQuantizeLinear uses; the rest quantize_row's vector division loop (the scalar one before: a division and
  // a nearbyint call per value, 58 of MobileNetV2 QDQ's 70 ms).
  template <typename Q>
  static void quantize_bytes(const float* x, int64_t n, float scale, int32_t zp, Q* y) {
    if constexpr (std::is_same<Q, uint8_t>::value) {
      if (scale >= fastmath::kQuantizeMinScale && std::isfinite(scale) && zp >= 0 && zp <= 255) {
        float lo = std::numeric_limits<float>::infinity(), hi = -lo;
        fastmath::range_block(x, n, &lo, &hi);
        if (std::isfinite(lo) && std::isfinite(hi) && std::max(-lo, hi) / scale <= fastmath::kQuantizeMaxQuotient)
          return fastmath::quantize_u8_block(x, n, scale, zp, y);
      }
    }
    quantize_row(x, n, scale, zp, y);
  }

  int64_t precision_;
};

class DequantizeLinear final : public QuantLinearKernel {
 public:
  using QuantLinearKernel::QuantLinearKernel;

  void run(KernelContext& ctx, const Tensor& x, const Tensor& scale_t, const Tensor* zp_t) const override {
    if (zp_t != nullptr)
      PIONNX_ENFORCE(zp_t->dtype() == x.dtype(), InvalidArgument, node_.describe(), ": zero point dtype ",
                     dtype_name(zp_t->dtype()), " differs from x dtype ", dtype_name(x.dtype()));
    const DType out_t = output_dtype_ != 0 ? static_cast<DType>(output_dtype_) : scale_t.dtype();
    PIONNX_ENFORCE(dtype_is_float(out_t), NotImplemented, node_.describe(), ": output dtype ", dtype_name(out_t),
                   " is not supported");
    const QuantLayout L = quant_layout(node_, x.shape(), scale_t, zp_t, axis_, block_size_);
    const std::vector<float> scale = float_values(scale_t);
    Tensor yf = out_t == DType::Float ? ctx.output(0, DType::Float, x.shape()) : Tensor(DType::Float, x.shape());
    if (x.numel() > 0 && is_float_format(x.dtype())) {  // y = (x - zp) * scale, x's value exact in float
      const std::vector<float> zpf = float_zero_points(zp_t, scale.size());
      const uint8_t* xp = static_cast<const uint8_t*>(x.raw());
      float* yp = yf.data<float>();
      for_each_row(ctx, L, [&](int64_t base, int64_t len, int64_t p, bool per_element) {
        for (int64_t i = 0; i < len; ++i) {
          const int64_t q = per_element ? p + i : p;
          yp[base + i] = (small_to_float(x.dtype(), xp[base + i]) - zpf[q]) * scale[q];
        }
      });
    } else if (x.numel() > 0) {
      const std::vector<int32_t> zp = zp_t ? int32_values(zp_t) : std::vector<int32_t>(scale.size(), 0);
      float* yp = yf.data<float>();
      auto run = [&](auto tag) {
        using Q = typename decltype(tag)::type;
        const Q* xp = static_cast<const Q*>(x.raw());  // the narrow ints read as their bytes
        for_each_row(ctx, L, [&](int64_t base, int64_t len, int64_t p, bool per_element) {
          if (!per_element) {  // one scale and zero point for the run: a loop that vectorizes
            const float s = scale[p];
            const int32_t z = zp[p];
            for (int64_t i = 0; i < len; ++i)
              yp[base + i] = static_cast<float>(static_cast<int32_t>(xp[base + i]) - z) * s;
            return;
          }
          for (int64_t i = 0; i < len; ++i)  // blocked: the parameter advances with the element
            yp[base + i] = static_cast<float>(static_cast<int32_t>(xp[base + i]) - zp[p + i]) * scale[p + i];
        });
      };
      switch (x.dtype()) {
        case DType::UInt8: run(TypeTag<uint8_t>{}); break;
        case DType::Int8: run(TypeTag<int8_t>{}); break;
        case DType::UInt16: run(TypeTag<uint16_t>{}); break;
        case DType::Int16: run(TypeTag<int16_t>{}); break;
        case DType::Int32: run(TypeTag<int32_t>{}); break;
        case DType::Int4:
        case DType::Int2: run(TypeTag<int8_t>{}); break;  // sign-extended bytes
        case DType::UInt4:
        case DType::UInt2: run(TypeTag<uint8_t>{}); break;
        default:
          throw NotImplemented(
              str_cat(node_.describe(), ": dequantizing ", dtype_name(x.dtype()), " is not supported"));
      }
    }
    if (out_t != DType::Float) ctx.set_output(0, cast_tensor(yf, out_t));
  }
};

void dynamic_quantize_linear(KernelContext& ctx) {
  const Tensor& x_in = ctx.input(0);
  const Tensor x = x_in.dtype() == DType::Float ? x_in : cast_tensor(to_float32(x_in), DType::Float);
  Tensor& y = ctx.output(0, DType::UInt8, x_in.shape());
  float scale;
  int32_t zp;
  dynamic_quantize_u8(ctx.pool(), x.data<float>(), x.numel(), y.data<uint8_t>(), &scale, &zp);
  *ctx.output(1, DType::Float, {}).data<float>() = scale;
  *ctx.output(2, DType::UInt8, {}).data<uint8_t>() = static_cast<uint8_t>(zp);
}

}  // namespace

void dynamic_quantize_u8(ThreadPool& pool, const float* xp, int64_t n, uint8_t* yp, float* scale_out, int32_t* zp_out) {
  // The range always holds 0; each chunk's extends it by compare-and-swap.
  // (Under a mutex, two threads ending their chunks together made one sleep
  // in the kernel: 3-4 us on a 4 us region, 16 times per run of an int8
  // encoder.) Neither bound is ever NaN: range_block skips NaN. Both passes
  // in one region, each thread quantizing the chunks it measured (two
  // regions cost a 128 x 256 activation at 2 threads about as much as the
  // work); chunks of at least 16384 values, so that one is a chunk a thread.
  std::atomic<float> lo_a{0.f}, hi_a{0.f};
  struct Params {
    float scale;
    int32_t zp;
    bool fast;
  };
  auto params = [&] {
    const float lo = lo_a.load(std::memory_order_relaxed), hi = hi_a.load(std::memory_order_relaxed);
    const float scale = (hi == lo ? 1.0f : (hi - lo)) / 255.0f;
    const float zp_f = std::min(255.0f, std::max(0.0f, 0.0f - lo / scale));
    // Finite range and a scale quantize_u8_block takes: |x / scale| <= 255
    // everywhere, so the vector rounding holds.
    const bool fast =
        std::isfinite(lo) && std::isfinite(hi) && std::isfinite(scale) && scale >= fastmath::kQuantizeMinScale;
    return Params{scale, static_cast<int32_t>(std::nearbyint(zp_f)), fast};
  };
  pool.parallel_for_two_passes(
      n, 16384,
      [&](int64_t i0, int64_t i1) {
        float l = 0.f, h = 0.f;
        fastmath::range_block(xp + i0, i1 - i0, &l, &h);
        for (float cur = lo_a.load(std::memory_order_relaxed); l < cur && !lo_a.compare_exchange_weak(cur, l);) {
        }
        for (float cur = hi_a.load(std::memory_order_relaxed); h > cur && !hi_a.compare_exchange_weak(cur, h);) {
        }
      },
      [&](int64_t i0, int64_t i1) {
        const Params p = params();
        if (p.fast) return fastmath::quantize_u8_block(xp + i0, i1 - i0, p.scale, p.zp, yp + i0);
        for (int64_t i = i0; i < i1; ++i) yp[i] = saturate_round<uint8_t>(xp[i] / p.scale, p.zp);
      });
  const Params p = params();
  *scale_out = p.scale;
  *zp_out = p.zp;
}

void register_quant_linear(KernelRegistry& r) {
  r.add<QuantizeLinear>("", "QuantizeLinear");
  r.add<DequantizeLinear>("", "DequantizeLinear");
  r.add<QuantizeLinear>(kMsDomain, "QuantizeLinear");
  r.add<DequantizeLinear>(kMsDomain, "DequantizeLinear");
  r.add_fn("", "DynamicQuantizeLinear", dynamic_quantize_linear);
}

}  // namespace pionnx
