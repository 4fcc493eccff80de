// NegativeLogLikelihoodLoss (12+) and SoftmaxCrossEntropyLoss (12+).
//
// Both view the input as [N, C, D] (D = product of the trailing dims) and the
// target as [N, D]. Per position the loss is -weight[t] * logp[n, t, d], with
// weight 0 where t == ignore_index; "mean" divides the sum by the sum of the
// weights used.
#include <algorithm>
#include <cmath>

#include "kernels/base/cast.h"
#include "kernels/base/dtype_dispatch.h"
#include "kernels/base/kernel.h"
#include "platform/thread_pool.h"

namespace pionnx {
namespace {

enum class Reduction { None, Sum, Mean };

Reduction parse_reduction(const Node& node) {
  const std::string r = node.attr_s("reduction", "mean");
  if (r == "none") return Reduction::None;
  if (r == "sum") return Reduction::Sum;
  if (r == "mean") return Reduction::Mean;
  throw InvalidArgument(str_cat(node.describe(), ": unknown reduction '", r, "'"));
}

struct LossSpec {
  Reduction reduction = Reduction::Mean;
  bool has_ignore = false;
  int64_t ignore_index = 0;
};

// logp is [N, C, D] contiguous (float or double); writes the loss output.
template <typename T>
void nll_from_logp(const T* logp, const Shape& in_shape, const Tensor& target, const Tensor* weight,
                   const LossSpec& spec, KernelContext& ctx, DType out_dtype) {
  const std::string what = ctx.node().describe();
  const int64_t N = in_shape[0], C = in_shape[1];
  int64_t D = 1;
  for (size_t i = 2; i < in_shape.size(); ++i) D *= in_shape[i];
  Shape want_target = {N};
  want_target.insert(want_target.end(), in_shape.begin() + 2, in_shape.end());
  PIONNX_ENFORCE(target.shape() == want_target, InvalidArgument, what, ": target shape ", shape_str(target.shape()),
                 " does not match input shape ", shape_str(in_shape), " (expected ", shape_str(want_target), ")");
  const std::vector<int64_t> t = tensor_to_int64s(target);
  std::vector<T> w;
  if (weight) {
    PIONNX_ENFORCE(weight->rank() == 1 && weight->shape()[0] == C, InvalidArgument, what, ": weight shape ",
                   shape_str(weight->shape()), ", expected [", C, "]");
    Tensor wc = cast_tensor(*weight, DTypeOf<T>::value);
    w.assign(wc.data<T>(), wc.data<T>() + C);
  }

  std::vector<T> loss(static_cast<size_t>(N * D));
  double loss_sum = 0, weight_sum = 0;
  for (int64_t n = 0; n < N; ++n)
    for (int64_t d = 0; d < D; ++d) {
      const int64_t c = t[n * D + d];
      T& l = loss[n * D + d];
      if (spec.has_ignore && c == spec.ignore_index) {
        l = 0;
        continue;
      }
      PIONNX_ENFORCE(c >= 0 && c < C, InvalidArgument, what, ": target value ", c, " is outside [0, ", C, ")");
      const T wt = weight ? w[c] : T(1);
      l = -wt * logp[(n * C + c) * D + d];
      loss_sum += static_cast<double>(l);
      weight_sum += static_cast<double>(wt);
    }

  if (spec.reduction == Reduction::None) {
    Tensor out(DTypeOf<T>::value, want_target);
    std::copy(loss.begin(), loss.end(), out.data<T>());
    ctx.set_output(0, out_dtype == out.dtype() ? out : cast_tensor(out, out_dtype));
    return;
  }
  const double v = spec.reduction == Reduction::Sum ? loss_sum : loss_sum / weight_sum;
  Tensor out = Tensor::scalar<T>(static_cast<T>(v));
  ctx.set_output(0, out_dtype == out.dtype() ? out : cast_tensor(out, out_dtype));
}

LossSpec loss_spec(const Node& node) {
  LossSpec s;
  s.reduction = parse_reduction(node);
  s.has_ignore = node.has("ignore_index");
  s.ignore_index = node.attr_i("ignore_index", 0);
  return s;
}

// Calls fn(TypeTag<T>{}, input as T) computing in float for 16-bit floats.
template <typename Fn>
void with_float_input(const Tensor& x, const std::string& what, Fn&& fn) {
  if (x.dtype() == DType::Float16 || x.dtype() == DType::BFloat16) {
    fn(TypeTag<float>{}, to_float32(x));
    return;
  }
  dispatch_float(x.dtype(), what, [&](auto tag) { fn(tag, x); });
}

class NegativeLogLikelihoodLoss : public Kernel {
 public:
  explicit NegativeLogLikelihoodLoss(const KernelInfo& info) : spec_(loss_spec(info.node)) {}

  void compute(KernelContext& ctx) const override {
    const Tensor& x = ctx.input(0);
    PIONNX_ENFORCE(x.rank() >= 2, InvalidArgument, ctx.node().describe(), ": input must have rank >= 2, got ",
                   shape_str(x.shape()));
    with_float_input(x, ctx.node().describe(), [&](auto tag, const Tensor& xt) {
      using T = typename decltype(tag)::type;
      nll_from_logp<T>(xt.data<T>(), x.shape(), ctx.input(1), ctx.optional_input(2), spec_, ctx, x.dtype());
    });
  }

 private:
  LossSpec spec_;
};

class SoftmaxCrossEntropyLoss : public Kernel {
 public:
  explicit SoftmaxCrossEntropyLoss(const KernelInfo& info) : spec_(loss_spec(info.node)) {}

  void compute(KernelContext& ctx) const override {
    const Tensor& x = ctx.input(0);
    PIONNX_ENFORCE(x.rank() >= 2, InvalidArgument, ctx.node().describe(), ": scores must have rank >= 2, got ",
                   shape_str(x.shape()));
    with_float_input(x, ctx.node().describe(), [&](auto tag, const Tensor& xt) {
      using T = typename decltype(tag)::type;
      // log_softmax over axis 1 of [N, C, D].
      const int64_t N = x.shape()[0], C = x.shape()[1], D = x.numel() / std::max<int64_t>(1, N * C);
      Tensor logp(DTypeOf<T>::value, x.shape());
      const T* s = xt.data<T>();
      T* lp = logp.data<T>();
      for (int64_t n = 0; n < N; ++n)
        for (int64_t d = 0; d < D; ++d) {
          const T* col = s + n * C * D + d;
          T mx = col[0];
          for (int64_t c = 1; c < C; ++c) mx = std::max(mx, col[c * D]);
          double sum = 0;
          for (int64_t c = 0; c < C; ++c) sum += std::exp(static_cast<double>(col[c * D] - mx));
          const T lse = static_cast<T>(std::log(sum)) + mx;
          for (int64_t c = 0; c < C; ++c) lp[n * C * D + c * D + d] = col[c * D] - lse;
        }
      nll_from_logp<T>(lp, x.shape(), ctx.input(1), ctx.optional_input(2), spec_, ctx, x.dtype());
      if (ctx.wants_output(1)) ctx.set_output(1, logp.dtype() == x.dtype() ? logp : cast_tensor(logp, x.dtype()));
    });
  }

 private:
  LossSpec spec_;
};

}  // namespace

void register_losses(KernelRegistry& r) {
  r.add<NegativeLogLikelihoodLoss>("", "NegativeLogLikelihoodLoss");
  r.add<SoftmaxCrossEntropyLoss>("", "SoftmaxCrossEntropyLoss");
}

}  // namespace pionnx
