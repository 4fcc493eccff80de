// MatMul (numpy semantics) and Gemm. float32 runs on the packed SGEMM;
// float16/bfloat16 widen to float32; double and integers use a plain
// row-streaming loop.
#include <algorithm>
#include <cstring>
#include <type_traits>
#include <vector>

#include "kernels/base/cast.h"
#include "kernels/base/dtype_dispatch.h"
#include "kernels/base/kernel.h"
#include "kernels/base/shapes.h"
#include "kernels/base/weight_cache.h"
#include "kernels/math/gemm_ref.h"
#include "kernels/simd/sgemm.h"
#include "platform/thread_pool.h"

namespace pionnx {
namespace {

bool is_half(DType t) { return t == DType::Float16 || t == DType::BFloat16; }

// ---------------------------------------------------------------- MatMul

// Rows of A (all batches) from which a constant float B is packed once per
// session and read in place (below it, packing costs less than it saves
// nothing: vector-matrix products never pack B).
constexpr int64_t kPackedBRows = 16;

template <typename T>
void matmul_typed(KernelContext& ctx, const Tensor& a, const Tensor& b, Tensor& y,
                  const simd::SgemmPackedB* packed_b = nullptr) {
  const Shape& as = a.shape();
  const Shape& bs = b.shape();
  const int64_t M = as.size() == 1 ? 1 : as[as.size() - 2];
  const int64_t K = as.back();
  const int64_t N = bs.size() == 1 ? 1 : bs.back();
  // Batch dims (rank-1 operands have none).
  const Shape abatch(as.begin(), as.end() - std::min<size_t>(as.size(), 2));
  const Shape bbatch(bs.begin(), bs.end() - std::min<size_t>(bs.size(), 2));
  const Shape obatch = broadcast_shapes(abatch, bbatch, ctx.node().describe());
  const int64_t batches = shape_numel(obatch);
  const T* A = a.data<T>();
  const T* B = b.data<T>();
  T* Y = y.data<T>();
  if (y.numel() == 0) return;

  // B shared by every batch and A not broadcast: one tall GEMM.
  if (shape_numel(bbatch) == 1 && shape_numel(abatch) == batches) {
    if constexpr (std::is_same<T, float>::value) {
      if (packed_b) {
        simd::sgemm_packed_b(false, batches * M, 1.f, A, K, *packed_b, 0.f, Y, N, &ctx.pool());
        return;
      }
    }
    gemm_any<T>(false, false, batches * M, N, K, 1.0, A, K, B, N, 0.0, Y, N, &ctx.pool());
    return;
  }
  const std::vector<int64_t> astr = broadcast_strides(abatch, obatch);
  const std::vector<int64_t> bstr = broadcast_strides(bbatch, obatch);
  const std::vector<int64_t> ostr = strides_of(obatch);
  auto run = [&](int64_t bi, ThreadPool* pool) {
    int64_t ao = 0, bo = 0;
    for (size_t d = 0; d < obatch.size(); ++d) {
      const int64_t idx = (bi / ostr[d]) % obatch[d];
      ao += idx * astr[d];
      bo += idx * bstr[d];
    }
    gemm_any<T>(false, false, M, N, K, 1.0, A + ao * M * K, K, B + bo * K * N, N, 0.0, Y + bi * M * N, N, pool);
  };
  // Many small products: one per worker. Few big ones: split each.
  if (static_cast<double>(M) * N * K < (1 << 20)) {
    ctx.pool().parallel_for(batches, 1, [&](int64_t b0, int64_t b1) {
      for (int64_t bi = b0; bi < b1; ++bi) run(bi, nullptr);
    });
  } else {
    for (int64_t bi = 0; bi < batches; ++bi) run(bi, &ctx.pool());
  }
}

Shape matmul_output_shape(const Node& node, const Shape& as, const Shape& bs) {
  PIONNX_ENFORCE(!as.empty() && !bs.empty(), InvalidArgument, node.describe(), ": inputs must have rank >= 1, got A ",
                 shape_str(as), " and B ", shape_str(bs));
  const int64_t K = as.back();
  const int64_t KB = bs.size() == 1 ? bs[0] : bs[bs.size() - 2];
  PIONNX_ENFORCE(K == KB, InvalidArgument, node.describe(), ": inner dimensions differ: A ", shape_str(as),
                 " has K=", K, ", B ", shape_str(bs), " has K=", KB);
  const Shape abatch(as.begin(), as.end() - std::min<size_t>(as.size(), 2));
  const Shape bbatch(bs.begin(), bs.end() - std::min<size_t>(bs.size(), 2));
  Shape out = broadcast_shapes(abatch, bbatch, node.describe());
  if (as.size() >= 2) out.push_back(as[as.size() - 2]);
  if (bs.size() >= 2) out.push_back(bs.back());
  return out;
}

class MatMulKernel : public Kernel {
 public:
  explicit MatMulKernel(const KernelInfo& info) : packed_b_(info.constant_input(1)) {}

  void compute(KernelContext& ctx) const override {
    const Tensor& a = ctx.input(0);
    const Tensor& b = ctx.input(1);
    PIONNX_ENFORCE(a.dtype() == b.dtype(), InvalidArgument, ctx.node().describe(),
                   ": A and B must have the same dtype, got ", dtype_name(a.dtype()), " and ", dtype_name(b.dtype()));
    const Shape out = matmul_output_shape(ctx.node(), a.shape(), b.shape());
    if (is_half(a.dtype())) {
      Tensor y(DType::Float, out);
      matmul_typed<float>(ctx, to_float32(a), to_float32(b), y);
      ctx.set_output(0, cast_tensor(y, a.dtype()));
      return;
    }
    Tensor& y = ctx.output(0, a.dtype(), out);
    if (a.dtype() == DType::Float && b.rank() >= 2 && a.rank() >= 2 && a.numel() / a.shape().back() >= kPackedBRows &&
        b.numel() == b.shape()[b.rank() - 2] * b.shape().back()) {
      // A constant B (weights) with many rows of A: packed once per session.
      const simd::SgemmPackedB* packed = packed_b_.get(b, [](const Tensor& w) {
        const int64_t K = w.shape()[w.rank() - 2], N = w.shape().back();
        return simd::sgemm_pack_b(false, K, N, w.data<float>(), N);
      });
      matmul_typed<float>(ctx, a, b, y, packed);
      return;
    }
    dispatch_numeric(a.dtype(), ctx.node().describe(),
                     [&](auto tag) { matmul_typed<typename decltype(tag)::type>(ctx, a, b, y); });
  }

 private:
  ConstantWeightCache<simd::SgemmPackedB> packed_b_;
};

// ---------------------------------------------------------------- Gemm

class GemmKernel : public Kernel {
 public:
  explicit GemmKernel(const KernelInfo& info)
      : alpha_(info.node.attr_f("alpha", 1.f)),
        beta_(info.node.attr_f("beta", 1.f)),
        trans_a_(info.node.attr_i("transA", 0) != 0),
        trans_b_(info.node.attr_i("transB", 0) != 0) {}

  void compute(KernelContext& ctx) const override {
    const Node& node = ctx.node();
    const Tensor& a = ctx.input(0);
    const Tensor& b = ctx.input(1);
    const Tensor* c = ctx.optional_input(2);
    PIONNX_ENFORCE(a.rank() == 2 && b.rank() == 2, InvalidArgument, node.describe(), ": A and B must be 2-D, got ",
                   shape_str(a.shape()), " and ", shape_str(b.shape()));
    PIONNX_ENFORCE(a.dtype() == b.dtype() && (!c || c->dtype() == a.dtype()), InvalidArgument, node.describe(),
                   ": A, B and C must share one dtype");
    const int64_t M = trans_a_ ? a.dim(1) : a.dim(0);
    const int64_t K = trans_a_ ? a.dim(0) : a.dim(1);
    const int64_t KB = trans_b_ ? b.dim(1) : b.dim(0);
    const int64_t N = trans_b_ ? b.dim(0) : b.dim(1);
    PIONNX_ENFORCE(K == KB, InvalidArgument, node.describe(), ": inner dimensions differ: op(A) is ", M, "x", K,
                   ", op(B) is ", KB, "x", N);
    if (c) check_c_shape(node, c->shape(), M, N);

    if (is_half(a.dtype())) {
      Tensor y(DType::Float, {M, N});
      const Tensor c32 = c ? to_float32(*c) : Tensor();
      run<float>(ctx, to_float32(a), to_float32(b), c ? &c32 : nullptr, y, M, N, K);
      ctx.set_output(0, cast_tensor(y, a.dtype()));
      return;
    }
    Tensor& y = ctx.output(0, a.dtype(), {M, N});
    dispatch_numeric(a.dtype(), node.describe(),
                     [&](auto tag) { run<typename decltype(tag)::type>(ctx, a, b, c, y, M, N, K); });
  }

 private:
  // C broadcasts one way to (M, N).
  static void check_c_shape(const Node& node, const Shape& cs, int64_t M, int64_t N) {
    bool ok = cs.size() <= 2;
    if (ok && !cs.empty()) ok = cs.back() == 1 || cs.back() == N;
    if (ok && cs.size() == 2) ok = cs[0] == 1 || cs[0] == M;
    PIONNX_ENFORCE(ok, InvalidArgument, node.describe(), ": C of shape ", shape_str(cs), " does not broadcast to [", M,
                   ", ", N, "]");
  }

  template <typename T>
  void run(KernelContext& ctx, const Tensor& a, const Tensor& b, const Tensor* c, Tensor& y, int64_t M, int64_t N,
           int64_t K) const {
    if (y.numel() == 0) return;
    T* Y = y.data<T>();
    // Seed Y with C (broadcast), then let the GEMM scale it by beta.
    double beta = 0.0;
    if (c && beta_ != 0.f && c->numel() > 0) {
      const T* C = c->data<T>();
      const Shape& cs = c->shape();
      const int64_t sn = (!cs.empty() && cs.back() == N && N != 1) ? 1 : 0;
      const int64_t sm = (cs.size() == 2 && cs[0] == M && M != 1) ? cs[1] : 0;
      for (int64_t i = 0; i < M; ++i)
        for (int64_t j = 0; j < N; ++j) Y[i * N + j] = C[i * sm + j * sn];
      beta = beta_;
    }
    gemm_any<T>(trans_a_, trans_b_, M, N, K, alpha_, a.data<T>(), a.dim(1), b.data<T>(), b.dim(1), beta, Y, N,
                &ctx.pool());
  }

  float alpha_, beta_;
  bool trans_a_, trans_b_;
};

}  // namespace

void register_gemm(KernelRegistry& r) {
  r.add<MatMulKernel>("", "MatMul");
  r.add<GemmKernel>("", "Gemm");
}

}  // namespace pionnx
