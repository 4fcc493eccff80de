// Integer matrix products: MatMulInteger, QLinearMatMul and the
// com.microsoft QGemm, MatMulIntegerToFloat and DynamicQuantizeMatMul.
// All run the int32 product through simd::qgemm and differ only in how the
// int32 accumulators are turned into outputs.
#include <algorithm>
#include <cmath>
#include <cstring>

#include "kernels/base/weight_cache.h"
#include "kernels/quant/qparams.h"
#include "kernels/simd/qgemm.h"
#include "platform/thread_pool.h"

namespace pionnx {
namespace {

// Copies a (rows x cols) 8-bit matrix transposed.
Tensor transpose8(const Tensor& t) {
  const int64_t rows = t.dim(0), cols = t.dim(1);
  Tensor out(t.dtype(), {cols, rows});
  const auto* src = static_cast<const uint8_t*>(t.raw());
  auto* dst = static_cast<uint8_t*>(out.raw());
  for (int64_t i = 0; i < rows; ++i)
    for (int64_t j = 0; j < cols; ++j) dst[j * rows + i] = src[i * cols + j];
  return out;
}

// A constant 2-D B (with a constant or absent zero point) packed once per
// session for the integer GEMM; a fed B, or one whose zero point is fed, is
// packed on every run.
class PackedIntB {
 public:
  PackedIntB(const KernelInfo& info, size_t b, size_t b_zp) : cache_(constant_weight(info, b, b_zp)) {}
  // args: the product's B description (K, N, ldb, signedness, zero points
  // already checked against B's columns); its B pointer is set here.
  // transposed: B is the product's B^T (QGemm's transB), transposed once here before the packing.
  const simd::QGemmPackedB* get(const Tensor& B, const simd::QGemmArgs& args, bool transposed = false) const {
    if (B.rank() != 2) return nullptr;
    return cache_.get(B, [&](const Tensor& w) {
      simd::QGemmArgs g = args;
      const Tensor src = transposed ? transpose8(w) : w;
      g.B = src.raw();
      return simd::qgemm_pack_b(g);
    });
  }

 private:
  ConstantWeightCache<simd::QGemmPackedB> cache_;
};

// acc (int32, d.out's shape) = (A - a_zp) x (B - b_zp) for every batch.
// a_zp holds 1 or M values (per row), b_zp 1 or N values (per column).
// With `to_float` (its Cf, scale, scale_per_col and bias; Cf the float output
// of d.out's shape), the sums are written as floats there instead and acc may
// be nullptr (qgemm then allocates what scratch its path needs).
void int_matmul(KernelContext& ctx, const Tensor& A, const Tensor& B, const std::vector<int32_t>& a_zp,
                const std::vector<int32_t>& b_zp, const MatMulDims& d, int32_t* acc, const PackedIntB* packed = nullptr,
                const simd::QGemmArgs* to_float = nullptr) {
  const NodeWhat what{ctx.node()};
  PIONNX_ENFORCE(is_q8(A.dtype()) && is_q8(B.dtype()), NotImplemented, what, ": inputs of dtype ",
                 dtype_name(A.dtype()), " x ", dtype_name(B.dtype()), " are not supported (uint8/int8 only)");
  PIONNX_ENFORCE(a_zp.size() == 1 || static_cast<int64_t>(a_zp.size()) == d.M, InvalidArgument, what,
                 ": A's zero point must be a scalar or have M=", d.M, " values, got ", a_zp.size());
  PIONNX_ENFORCE(b_zp.size() == 1 || static_cast<int64_t>(b_zp.size()) == d.N, InvalidArgument, what,
                 ": B's zero point must be a scalar or have N=", d.N, " values, got ", b_zp.size());
  simd::QGemmArgs g;
  g.M = d.M, g.N = d.N, g.K = d.K;
  g.lda = d.K, g.a_signed = A.dtype() == DType::Int8;
  g.a_zp = a_zp.data(), g.a_zp_per_row = a_zp.size() > 1;
  g.ldb = d.N, g.b_signed = B.dtype() == DType::Int8;
  g.b_zp = b_zp.data(), g.b_zp_per_col = b_zp.size() > 1;
  g.ldc = d.N;
  g.packed_b = packed ? packed->get(B, g) : nullptr;
  if (to_float) {
    g.Cf = to_float->Cf, g.ldcf = d.N;
    g.scale = to_float->scale, g.scale_per_col = to_float->scale_per_col, g.bias = to_float->bias;
    // Heads split the columns when the attention splits its tasks by heads
    // within a sequence: fewer sequences (A's rows over its last-but-one dim)
    // than threads. With more, its threads take whole sequences, the rows.
    const int64_t seq = A.rank() >= 2 ? A.dim(A.rank() - 2) : 1;
    g.split_columns = to_float->split_columns && d.offsets_a.size() == 1 && seq > 0 && d.M / seq < ctx.pool().size();
  }
  const auto* a = static_cast<const uint8_t*>(A.raw());
  const auto* b = static_cast<const uint8_t*>(B.raw());
  const int64_t nbatch = static_cast<int64_t>(d.offsets_a.size());
  auto one = [&](int64_t n, ThreadPool* pool) {
    simd::QGemmArgs gb = g;
    gb.A = a + d.offsets_a[n];
    gb.B = b + d.offsets_b[n];
    gb.C = acc ? acc + n * d.M * d.N : nullptr;
    if (gb.Cf) gb.Cf += n * d.M * d.N;
    simd::qgemm(gb, pool);
  };
  // Many small products (attention heads): one batch per task.
  if (nbatch > 1 && d.M * d.N * d.K < (int64_t{1} << 20)) {
    ctx.pool().parallel_for(nbatch, 1, [&](int64_t n0, int64_t n1) {
      for (int64_t n = n0; n < n1; ++n) one(n, nullptr);
    });
  } else {
    for (int64_t n = 0; n < nbatch; ++n) one(n, &ctx.pool());
  }
}

class MatMulInteger final : public Kernel {
 public:
  explicit MatMulInteger(const KernelInfo& info) : packed_(info, 1, 3) {}
  void compute(KernelContext& ctx) const override {
    const Tensor& A = ctx.input(0);
    const Tensor& B = ctx.input(1);
    const MatMulDims d = matmul_dims(A.shape(), B.shape(), NodeWhat{ctx.node()});
    Tensor& y = ctx.output(0, DType::Int32, d.out);
    int_matmul(ctx, A, B, int32_values(ctx.optional_input(2)), int32_values(ctx.optional_input(3)), d,
               y.data<int32_t>(), &packed_);
  }

 private:
  PackedIntB packed_;
};

// Rounds f to the precision of dtype t, so multipliers computed from
// float16 scales match a float16 computation.
float round_to(DType t, float f) {
  if (t == DType::Float16) return half_to_float(float_to_half(f));
  if (t == DType::BFloat16) return bfloat16_to_float(float_to_bfloat16(f));
  return f;
}

// Writes y (Q) from int32 accumulators [batch, M, N] with the multiplier of
// row i and column j = mult[(i % mrows) * ncols + (j % ncols)].
template <typename Q>
void requantize(KernelContext& ctx, const int32_t* acc, int64_t rows, int64_t M, int64_t N,
                const std::vector<float>& mult, bool per_row, bool per_col, int32_t y_zp, Q* y) {
  const bool finite = std::all_of(mult.begin(), mult.end(), [](float m) { return std::isfinite(m); });
  const Requantizer<Q, double, true> q(y_zp);
  ctx.pool().parallel_for(rows, std::max<int64_t>(1, 16384 / std::max<int64_t>(1, N)), [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) {
      const int64_t mrow = per_row ? (r % M) * (per_col ? N : 1) : 0;
      if (!per_col) {
        requantize_row(acc + r * N, N, 0, mult[mrow], y_zp, y + r * N);
      } else if (finite) {
        for (int64_t j = 0; j < N; ++j) y[r * N + j] = q(acc[r * N + j] * static_cast<double>(mult[mrow + j]));
      } else {
        for (int64_t j = 0; j < N; ++j) y[r * N + j] = saturate_round<Q>(acc[r * N + j] * double{mult[mrow + j]}, y_zp);
      }
    }
  });
}

// QLinearMatMul(a, a_scale, a_zp, b, b_scale, b_zp, y_scale, y_zp): a constant B (a model's weights) packed once
// per session, as MatMulInteger's.
void qlinear_matmul(KernelContext& ctx, const PackedIntB* packed) {
  const std::string what = ctx.node().describe();
  const Tensor& A = ctx.input(0);
  const Tensor& B = ctx.input(3);
  const Tensor& a_scale = ctx.input(1);
  const Tensor& b_scale = ctx.input(4);
  const Tensor& y_scale = ctx.input(6);
  const Tensor* y_zp_t = ctx.optional_input(7);
  const MatMulDims d = matmul_dims(A.shape(), B.shape(), what);
  const std::vector<int32_t> a_zp = int32_values(ctx.optional_input(2));
  const std::vector<int32_t> b_zp = int32_values(ctx.optional_input(5));
  Tensor acc(DType::Int32, d.out);
  int_matmul(ctx, A, B, a_zp, b_zp, d, acc.data<int32_t>(), packed);

  const std::vector<float> sa = float_values(a_scale), sb = float_values(b_scale);
  const float sy = scalar_scale(y_scale, what + " y_scale");
  const bool per_row = sa.size() > 1, per_col = sb.size() > 1;
  // An empty scale is neither (it left the multiplier table empty: the fuzzer's find).
  PIONNX_ENFORCE(sa.size() == 1 || static_cast<int64_t>(sa.size()) == d.M, InvalidArgument, what,
                 ": a_scale must be a scalar or have M=", d.M, " values, got ", sa.size());
  PIONNX_ENFORCE(sb.size() == 1 || static_cast<int64_t>(sb.size()) == d.N, InvalidArgument, what,
                 ": b_scale must be a scalar or have N=", d.N, " values, got ", sb.size());
  const DType st = a_scale.dtype();
  std::vector<float> mult(sa.size() * sb.size());
  for (size_t i = 0; i < sa.size(); ++i)
    for (size_t j = 0; j < sb.size(); ++j) mult[i * sb.size() + j] = round_to(st, round_to(st, sa[i] * sb[j]) / sy);

  const DType out_t = y_zp_t ? y_zp_t->dtype() : A.dtype();
  const int32_t y_zp = scalar_zero_point(y_zp_t, what + " y_zero_point");
  Tensor& y = ctx.output(0, out_t, d.out);
  const int64_t rows = shape_numel(d.out) / std::max<int64_t>(1, d.N);
  dispatch_q8(out_t, what, [&](auto tag) {
    using Q = typename decltype(tag)::type;
    requantize<Q>(ctx, acc.data<int32_t>(), rows, d.M, d.N, mult, per_row, per_col, y_zp, y.data<Q>());
  });
}

class QLinearMatMul final : public Kernel {
 public:
  explicit QLinearMatMul(const KernelInfo& info) : packed_(info, 3, 5) {}
  void compute(KernelContext& ctx) const override { qlinear_matmul(ctx, &packed_); }

 private:
  PackedIntB packed_;
};

// out = acc * a_scale * b_scale[j] + bias[j], as float.
void scale_to_float(KernelContext& ctx, const int32_t* acc, int64_t rows, int64_t N, float a_scale,
                    const std::vector<float>& b_scale, const Tensor* bias, float* out) {
  const std::string what = ctx.node().describe();
  std::vector<float> mult(b_scale.size());
  for (size_t j = 0; j < b_scale.size(); ++j) mult[j] = a_scale * b_scale[j];
  PIONNX_ENFORCE(mult.size() == 1 || static_cast<int64_t>(mult.size()) == N, InvalidArgument, what,
                 ": b_scale must be a scalar or have N=", N, " values, got ", mult.size());
  std::vector<float> bias_v;
  if (bias != nullptr) {
    bias_v = float_values(*bias);
    PIONNX_ENFORCE(static_cast<int64_t>(bias_v.size()) == N, InvalidArgument, what, ": bias must have N=", N,
                   " values, got shape ", shape_str(bias->shape()));
  }
  const bool per_col = mult.size() > 1;
  ctx.pool().parallel_for(rows, std::max<int64_t>(1, 16384 / std::max<int64_t>(1, N)), [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r)
      for (int64_t j = 0; j < N; ++j) {
        float v = static_cast<float>(acc[r * N + j]) * mult[per_col ? j : 0];
        out[r * N + j] = bias_v.empty() ? v : v + bias_v[j];
      }
  });
}

// Y (float) = (A - a_zp) x (B - b_zp) * a_scale * b_scale[j] (+ bias[j]):
// the two com.microsoft operators below.
// heads: KernelInfo::heads_reading_output(0).
void int_matmul_to_float(KernelContext& ctx, const Tensor& A, const Tensor& B, const std::vector<int32_t>& a_zp,
                         const std::vector<int32_t>& b_zp, float a_scale, const Tensor& b_scale, const Tensor* bias,
                         const PackedIntB& packed, int64_t heads) {
  const NodeWhat what{ctx.node()};
  const MatMulDims d = matmul_dims(A.shape(), B.shape(), what);
  // Float scales and bias are read where they lie (a transformer's 1024-float
  // bias was copied on every call); a per-tensor multiplier needs no vector.
  std::vector<float> sb_store, mult_v, bias_store;
  const int64_t nsb = b_scale.numel();
  PIONNX_ENFORCE(nsb == 1 || nsb == d.N, InvalidArgument, what, ": b_scale must be a scalar or have N=", d.N,
                 " values, got ", nsb);
  const float* sb = float_view(b_scale, sb_store);
  float mult1 = nsb > 0 ? a_scale * sb[0] : 0.0f;
  const float* mult = &mult1;
  if (nsb > 1) {
    mult_v.resize(static_cast<size_t>(nsb));
    for (int64_t j = 0; j < nsb; ++j) mult_v[static_cast<size_t>(j)] = a_scale * sb[j];
    mult = mult_v.data();
  }
  const float* bias_p = nullptr;
  if (bias != nullptr) {
    PIONNX_ENFORCE(bias->numel() == d.N, InvalidArgument, what, ": bias must have N=", d.N, " values, got shape ",
                   shape_str(bias->shape()));
    bias_p = float_view(*bias, bias_store);
  }
  Tensor& y = ctx.output(0, DType::Float, d.out);
  // The scale and bias applied as each block of sums leaves the integer GEMM, in cache: no pass over an int32
  // tensor afterwards.
  simd::QGemmArgs to_float;
  to_float.Cf = y.data<float>();
  to_float.scale = mult;
  to_float.scale_per_col = nsb > 1;
  to_float.bias = bias_p;
  to_float.split_columns = heads > 0;
  int_matmul(ctx, A, B, a_zp, b_zp, d, nullptr, &packed, &to_float);
}

// com.microsoft MatMulIntegerToFloat(A, B, a_scale, b_scale, a_zp?, b_zp?, bias?).
class MatMulIntegerToFloat final : public Kernel {
 public:
  explicit MatMulIntegerToFloat(const KernelInfo& info) : packed_(info, 1, 5), heads_(info.heads_reading_output(0)) {}
  void compute(KernelContext& ctx) const override {
    int_matmul_to_float(ctx, ctx.input(0), ctx.input(1), int32_values(ctx.optional_input(4)),
                        int32_values(ctx.optional_input(5)),
                        scalar_scale(ctx.input(2), NodeWhat{ctx.node(), " a_scale"}), ctx.input(3),
                        ctx.optional_input(6), packed_, heads_);
  }

 private:
  PackedIntB packed_;
  int64_t heads_;
};

// com.microsoft DynamicQuantizeMatMul(A float, B, b_scale, b_zp?, bias?):
// A is quantized to uint8 over its own range, as DynamicQuantizeLinear does.
class DynamicQuantizeMatMul final : public Kernel {
 public:
  explicit DynamicQuantizeMatMul(const KernelInfo& info) : packed_(info, 1, 3), heads_(info.heads_reading_output(0)) {}
  void compute(KernelContext& ctx) const override {
    const Tensor& A_in = ctx.input(0);
    const Tensor Af = A_in.dtype() == DType::Float ? A_in : cast_tensor(to_float32(A_in), DType::Float);
    Tensor Aq(DType::UInt8, Af.shape());
    float a_scale;
    int32_t a_zp;
    dynamic_quantize_u8(ctx.pool(), Af.data<float>(), Af.numel(), Aq.data<uint8_t>(), &a_scale, &a_zp);
    int_matmul_to_float(ctx, Aq, ctx.input(1), {a_zp}, int32_values(ctx.optional_input(3)), a_scale, ctx.input(2),
                        ctx.optional_input(4), packed_, heads_);
  }

 private:
  PackedIntB packed_;
  int64_t heads_;
};

// com.microsoft QGemm(A, a_scale, a_zp, B, b_scale, b_zp, C?, y_scale?, y_zp?):
// Y = alpha * a_scale * b_scale * ((A - a_zp) x (B - b_zp) + C), quantized
// with y_scale/y_zp when given, else float.
class QGemm final : public Kernel {
 public:
  explicit QGemm(const KernelInfo& info)
      : alpha_(info.node.attr_f("alpha", 1.0f)),
        trans_a_(info.node.attr_i("transA", 0) != 0),
        trans_b_(info.node.attr_i("transB", 0) != 0),
        packed_(info, 3, 5) {}

  void compute(KernelContext& ctx) const override {
    const std::string what = ctx.node().describe();
    const Tensor& A_in = ctx.input(0);
    const Tensor& B_in = ctx.input(3);
    PIONNX_ENFORCE(A_in.rank() == 2 && B_in.rank() == 2, InvalidArgument, what, ": A and B must be 2-D, got ",
                   shape_str(A_in.shape()), " and ", shape_str(B_in.shape()));
    const Tensor A = trans_a_ ? transpose8(A_in) : A_in;
    // A constant B (a layer's weights) is transposed and packed once per session, not on every run.
    const Shape b_shape = trans_b_ ? Shape{B_in.dim(1), B_in.dim(0)} : B_in.shape();
    const MatMulDims d = matmul_dims(A.shape(), b_shape, what);
    const int64_t M = d.M, N = d.N;

    Tensor acc(DType::Int32, {M, N});
    int32_t* accp = acc.data<int32_t>();
    const Tensor* C = ctx.optional_input(6);
    if (C != nullptr) {
      PIONNX_ENFORCE(C->dtype() == DType::Int32, InvalidArgument, what, ": C must be int32, got ",
                     dtype_name(C->dtype()));
      const Shape mn{M, N};
      PIONNX_ENFORCE(broadcast_shapes(C->shape(), mn, what) == mn, InvalidArgument, what, ": C of shape ",
                     shape_str(C->shape()), " does not broadcast to ", shape_str(mn));
      const auto st = broadcast_strides(C->shape(), mn);
      const int32_t* cp = C->data<int32_t>();
      for (int64_t i = 0; i < M; ++i)
        for (int64_t j = 0; j < N; ++j) accp[i * N + j] = cp[i * st[0] + j * st[1]];
    }
    simd::QGemmArgs g;
    g.M = M, g.N = N, g.K = d.K;
    g.A = A.raw(), g.lda = d.K, g.a_signed = A.dtype() == DType::Int8;
    const std::vector<int32_t> a_zp{scalar_zero_point(ctx.optional_input(2), what + " a_zero_point")};
    const std::vector<int32_t> b_zp = int32_values(ctx.optional_input(5));
    PIONNX_ENFORCE(b_zp.size() == 1 || static_cast<int64_t>(b_zp.size()) == N, InvalidArgument, what,
                   ": b_zero_point must be a scalar or have N=", N, " values");
    g.a_zp = a_zp.data();
    g.ldb = N, g.b_signed = B_in.dtype() == DType::Int8;
    g.b_zp = b_zp.data(), g.b_zp_per_col = b_zp.size() > 1;
    g.C = accp, g.ldc = N, g.accumulate = C != nullptr;
    PIONNX_ENFORCE(is_q8(A.dtype()) && is_q8(B_in.dtype()), NotImplemented, what, ": uint8/int8 inputs only");
    g.packed_b = packed_.get(B_in, g, trans_b_);
    Tensor B;
    if (g.packed_b == nullptr) B = trans_b_ ? transpose8(B_in) : B_in;
    g.B = g.packed_b ? B_in.raw() : B.raw();
    simd::qgemm(g, &ctx.pool());

    const float sa = scalar_scale(ctx.input(1), what + " a_scale");
    std::vector<float> sb = float_values(ctx.input(4));
    for (float& s : sb) s *= alpha_ * sa;
    const Tensor* y_scale = ctx.optional_input(7);
    if (y_scale == nullptr) {
      Tensor& y = ctx.output(0, DType::Float, {M, N});
      scale_to_float(ctx, accp, M, N, 1.0f, sb, nullptr, y.data<float>());
      return;
    }
    const float sy = scalar_scale(*y_scale, what + " y_scale");
    for (float& s : sb) s /= sy;
    const Tensor* y_zp_t = ctx.optional_input(8);
    const DType out_t = y_zp_t ? y_zp_t->dtype() : A.dtype();
    const int32_t y_zp = scalar_zero_point(y_zp_t, what + " y_zero_point");
    Tensor& y = ctx.output(0, out_t, {M, N});
    dispatch_q8(out_t, what, [&](auto tag) {
      using Q = typename decltype(tag)::type;
      requantize<Q>(ctx, accp, M, M, N, sb, false, sb.size() > 1, y_zp, y.data<Q>());
    });
  }

 private:
  float alpha_;
  bool trans_a_, trans_b_;
  PackedIntB packed_;
};

}  // namespace

void register_quant_matmul(KernelRegistry& r) {
  r.add<MatMulInteger>("", "MatMulInteger");
  r.add<QLinearMatMul>("", "QLinearMatMul");
  r.add_all(kMsDomain, {impl<MatMulIntegerToFloat>("MatMulIntegerToFloat"),
                        impl<DynamicQuantizeMatMul>("DynamicQuantizeMatMul"), impl<QGemm>("QGemm")});
}

}  // namespace pionnx
