// CausalConvWithState (ai.onnx opset 27): a causal depthwise 1-D convolution
// that carries its last k - 1 inputs between calls (Mamba / Gated DeltaNet
// short convolutions). input [B, C, L], weight [C, 1, k], bias [C],
// past_state [B, C, k - 1] (zeros when absent). Over the sequence
// x' = concat(past_state, input) of length L + k - 1:
//   output[b, c, t] = bias[c] + sum_i weight[c, 0, i] * x'[b, c, t + i]
// then SiLU (x * sigmoid(x), "silu" or "swish") when asked; present_state is
// the last k - 1 positions of x'. Computed in float32, one pool task per
// (batch, channel) row.
#include <string>

#include "kernels/base/cast.h"
#include "kernels/base/kernel.h"
#include "kernels/base/shapes.h"
#include "kernels/simd/elementwise_math.h"
#include "platform/thread_pool.h"

namespace pionnx {
namespace {

class CausalConvWithState : public Kernel {
 public:
  explicit CausalConvWithState(const KernelInfo& info) : node_(info.node) {
    const std::string act = info.node.attr_s("activation", "none");
    PIONNX_ENFORCE(act == "none" || act == "silu" || act == "swish", InvalidArgument, node_.describe(),
                   ": activation must be 'none', 'silu' or 'swish', got '", act, "'");
    silu_ = act != "none";
  }

  void compute(KernelContext& ctx) const override {
    const std::string what = node_.describe();
    const Tensor& x_in = ctx.input(0);
    const Tensor& w_in = ctx.input(1);
    const Tensor* bias_in = ctx.optional_input(2);
    const Tensor* past_in = ctx.optional_input(3);
    PIONNX_ENFORCE(x_in.rank() == 3, InvalidArgument, what, ": input must be 3-D [batch, channels, length], got ",
                   shape_str(x_in.shape()));
    const int64_t B = x_in.dim(0), C = x_in.dim(1), L = x_in.dim(2);
    PIONNX_ENFORCE(w_in.rank() == 3 && w_in.dim(0) == C && w_in.dim(1) == 1 && w_in.dim(2) >= 1, InvalidArgument, what,
                   ": weight must be [", C, ", 1, k] with k >= 1, got ", shape_str(w_in.shape()));
    const int64_t K = w_in.dim(2), P = K - 1;
    if (bias_in)
      PIONNX_ENFORCE(bias_in->shape() == Shape({C}), InvalidArgument, what, ": bias must be [", C, "], got ",
                     shape_str(bias_in->shape()));
    if (past_in)
      PIONNX_ENFORCE(past_in->shape() == Shape({B, C, P}), InvalidArgument, what, ": past_state must be [", B, ", ", C,
                     ", ", P, "] (k - 1 = ", P, " positions), got ", shape_str(past_in->shape()));

    const Tensor x = to_float32(x_in), w = to_float32(w_in);
    Tensor bias, past;
    if (bias_in) bias = to_float32(*bias_in);
    if (past_in) past = to_float32(*past_in);
    Tensor y(DType::Float, {B, C, L}), present(DType::Float, {B, C, P});
    const float *xd = x.data<float>(), *wd = w.data<float>();
    const float* bd = bias_in ? bias.data<float>() : nullptr;
    const float* pd = past_in ? past.data<float>() : nullptr;
    float *yd = y.data<float>(), *sd = present.data<float>();
    ctx.pool().parallel_for(B * C, 1, [&](int64_t begin, int64_t end) {
      std::vector<float> seq(static_cast<size_t>(P + L)), sig(silu_ ? static_cast<size_t>(L) : 0);
      for (int64_t r = begin; r < end; ++r) {
        const int64_t c = r % C;
        // x' = past (or zeros), then this call's input.
        if (pd) std::copy(pd + r * P, pd + (r + 1) * P, seq.begin());
        else std::fill(seq.begin(), seq.begin() + P, 0.f);
        std::copy(xd + r * L, xd + (r + 1) * L, seq.begin() + P);
        const float* wc = wd + c * K;
        float* yr = yd + r * L;
        const float b0 = bd ? bd[c] : 0.f;
        for (int64_t t = 0; t < L; ++t) {
          float acc = b0;
          for (int64_t i = 0; i < K; ++i) acc += wc[i] * seq[t + i];
          yr[t] = acc;
        }
        if (silu_) {
          fastmath::sigmoid_block(yr, sig.data(), L);
          for (int64_t t = 0; t < L; ++t) yr[t] *= sig[t];
        }
        std::copy(seq.end() - P, seq.end(), sd + r * P);
      }
    });
    ctx.set_output(0, cast_tensor(y, x_in.dtype()));
    if (ctx.wants_output(1)) ctx.set_output(1, cast_tensor(present, x_in.dtype()));
  }

 private:
  const Node& node_;
  bool silu_ = false;
};

}  // namespace

void register_causal_conv_state(KernelRegistry& r) { r.add<CausalConvWithState>("", "CausalConvWithState"); }

}  // namespace pionnx
