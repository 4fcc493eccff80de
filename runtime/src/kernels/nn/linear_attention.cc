// LinearAttention (ai.onnx opset 27): the recurrent form of linear attention
// used by Gated DeltaNet / GLA / RetNet layers. Per (batch, kv head) a state
// S [d_k, d_v] is carried over the tokens:
//   linear:      S = S + k v^T
//   gated:       S = exp(g) * S + k v^T
//   delta:       S = S + k (beta * (v - S^T k))^T
//   gated_delta: S = exp(g) * S + k (beta * (v - (exp(g) * S)^T k))^T
// and each query head of the kv head's group reads o = scale * q^T S. The
// tokens are run in order (chunk_size is a hint for chunk-parallel GPU
// kernels and does not change the result). Everything is float32; 16-bit
// inputs are cast, the output back to the query's type and the present state
// to past_state's type (the query's without a past_state).
#include <cmath>
#include <string>

#include "kernels/base/cast.h"
#include "kernels/base/kernel.h"
#include "kernels/base/shapes.h"
#include "kernels/simd/sgemm.h"
#include "platform/thread_pool.h"

namespace pionnx {
namespace {

class LinearAttention : public Kernel {
 public:
  explicit LinearAttention(const KernelInfo& info) : node_(info.node) {
    const std::string what = node_.describe();
    q_heads_ = info.node.require("q_num_heads").i;
    kv_heads_ = info.node.require("kv_num_heads").i;
    scale_ = info.node.attr_f("scale", 0.f);
    const std::string rule = info.node.attr_s("update_rule", "gated_delta");
    PIONNX_ENFORCE(rule == "linear" || rule == "gated" || rule == "delta" || rule == "gated_delta", InvalidArgument,
                   what, ": update_rule must be 'linear', 'gated', 'delta' or 'gated_delta', got '", rule, "'");
    gated_ = rule == "gated" || rule == "gated_delta";
    delta_ = rule == "delta" || rule == "gated_delta";
    PIONNX_ENFORCE(q_heads_ > 0 && kv_heads_ > 0 && q_heads_ % kv_heads_ == 0, InvalidArgument, what, ": q_num_heads (",
                   q_heads_, ") must be a positive multiple of kv_num_heads (", kv_heads_, ")");
  }

  void compute(KernelContext& ctx) const override {
    const std::string what = node_.describe();
    const Tensor& q_in = ctx.input(0);
    const Tensor& k_in = ctx.input(1);
    const Tensor& v_in = ctx.input(2);
    const Tensor* past_in = ctx.optional_input(3);
    const Tensor* decay_in = ctx.optional_input(4);
    const Tensor* beta_in = ctx.optional_input(5);
    PIONNX_ENFORCE(!gated_ || decay_in, InvalidArgument, what, ": the gated update rules need the decay input");
    PIONNX_ENFORCE(gated_ || !decay_in, InvalidArgument, what, ": decay is only for the gated update rules");
    PIONNX_ENFORCE(!delta_ || beta_in, InvalidArgument, what, ": the delta update rules need the beta input");
    PIONNX_ENFORCE(delta_ || !beta_in, InvalidArgument, what, ": beta is only for the delta update rules");
    for (const Tensor* t : {&q_in, &k_in, &v_in})
      PIONNX_ENFORCE(t->rank() == 3, InvalidArgument, what, ": query, key and value must be 3-D [B, T, H * D], got ",
                     shape_str(q_in.shape()), ", ", shape_str(k_in.shape()), ", ", shape_str(v_in.shape()));
    const int64_t B = q_in.dim(0), T = q_in.dim(1), Hq = q_heads_, Hkv = kv_heads_, G = Hq / Hkv;
    PIONNX_ENFORCE(q_in.dim(2) % Hq == 0, InvalidArgument, what, ": query hidden size ", q_in.dim(2),
                   " is not divisible by q_num_heads ", Hq);
    PIONNX_ENFORCE(v_in.dim(2) % Hkv == 0, InvalidArgument, what, ": value hidden size ", v_in.dim(2),
                   " is not divisible by kv_num_heads ", Hkv);
    const int64_t Dk = q_in.dim(2) / Hq, Dv = v_in.dim(2) / Hkv;
    PIONNX_ENFORCE(
        k_in.dim(0) == B && k_in.dim(1) == T && k_in.dim(2) == Hkv * Dk && v_in.dim(0) == B && v_in.dim(1) == T,
        InvalidArgument, what, ": key ", shape_str(k_in.shape()), " / value ", shape_str(v_in.shape()),
        " do not match query ", shape_str(q_in.shape()), " (key must be [", B, ", ", T, ", ", Hkv * Dk, "])");
    // decay: per head [B, T, Hkv] or per key dimension [B, T, Hkv * Dk];
    // beta: per head [B, T, Hkv] or shared [B, T, 1].
    int64_t decay_width = 0, beta_width = 0;
    if (decay_in) {
      PIONNX_ENFORCE(decay_in->rank() == 3 && decay_in->dim(0) == B && decay_in->dim(1) == T &&
                         (decay_in->dim(2) == Hkv || decay_in->dim(2) == Hkv * Dk),
                     InvalidArgument, what, ": decay must be [", B, ", ", T, ", ", Hkv, "] or [", B, ", ", T, ", ",
                     Hkv * Dk, "], got ", shape_str(decay_in->shape()));
      decay_width = decay_in->dim(2);
    }
    if (beta_in) {
      PIONNX_ENFORCE(beta_in->rank() == 3 && beta_in->dim(0) == B && beta_in->dim(1) == T &&
                         (beta_in->dim(2) == Hkv || beta_in->dim(2) == 1),
                     InvalidArgument, what, ": beta must be [", B, ", ", T, ", ", Hkv, "] or [", B, ", ", T,
                     ", 1], got ", shape_str(beta_in->shape()));
      beta_width = beta_in->dim(2);
    }
    if (past_in)
      PIONNX_ENFORCE(past_in->shape() == Shape({B, Hkv, Dk, Dv}), InvalidArgument, what, ": past_state must be [", B,
                     ", ", Hkv, ", ", Dk, ", ", Dv, "], got ", shape_str(past_in->shape()));

    const Tensor q = to_float32(q_in), k = to_float32(k_in), v = to_float32(v_in);
    Tensor decay, beta;
    if (decay_in) decay = to_float32(*decay_in);
    if (beta_in) beta = to_float32(*beta_in);
    Tensor state(DType::Float, {B, Hkv, Dk, Dv});
    if (past_in) {
      const Tensor past = to_float32(*past_in);
      std::copy(past.data<float>(), past.data<float>() + past.numel(), state.data<float>());
    } else {
      std::fill(state.data<float>(), state.data<float>() + state.numel(), 0.f);
    }
    Tensor y(DType::Float, {B, T, Hq * Dv});
    const float scale = scale_ != 0.f ? scale_ : 1.f / std::sqrt(static_cast<float>(Dk));
    const float *qd = q.data<float>(), *kd = k.data<float>(), *vd = v.data<float>();
    const float* gd = decay_in ? decay.data<float>() : nullptr;
    const float* bd = beta_in ? beta.data<float>() : nullptr;
    float* sd = state.data<float>();
    float* yd = y.data<float>();

    // One task per (batch, kv head): its state runs through the T tokens.
    ctx.pool().parallel_for(B * Hkv, 1, [&](int64_t begin, int64_t end) {
      std::vector<float> upd(static_cast<size_t>(Dv)), gate(static_cast<size_t>(Dk));
      for (int64_t bh = begin; bh < end; ++bh) {
        const int64_t b = bh / Hkv, h = bh % Hkv;
        float* s = sd + bh * Dk * Dv;
        for (int64_t t = 0; t < T; ++t) {
          const int64_t bt = b * T + t;
          const float* kt = kd + bt * Hkv * Dk + h * Dk;
          const float* vt = vd + bt * Hkv * Dv + h * Dv;
          if (gd) {  // S = exp(g) * S, row d scaled by exp(g[d]) (or one g per head)
            const float* g = gd + bt * decay_width + (decay_width == Hkv ? h : h * Dk);
            for (int64_t d = 0; d < Dk; ++d) gate[d] = std::exp(decay_width == Hkv ? g[0] : g[d]);
            for (int64_t d = 0; d < Dk; ++d)
              for (int64_t m = 0; m < Dv; ++m) s[d * Dv + m] *= gate[d];
          }
          if (bd) {  // upd = beta * (v - S^T k)
            simd::sgemm(false, false, 1, Dv, Dk, -1.f, kt, Dk, s, Dv, 0.f, upd.data(), Dv);
            const float bt_h = bd[bt * beta_width + (beta_width == 1 ? 0 : h)];
            for (int64_t m = 0; m < Dv; ++m) upd[m] = bt_h * (vt[m] + upd[m]);
          } else {
            std::copy(vt, vt + Dv, upd.data());
          }
          // S += k upd^T, then the group's G query heads read scale * q^T S.
          simd::sgemm(false, false, Dk, Dv, 1, 1.f, kt, 1, upd.data(), Dv, 1.f, s, Dv);
          simd::sgemm(false, false, G, Dv, Dk, scale, qd + bt * Hq * Dk + h * G * Dk, Dk, s, Dv, 0.f,
                      yd + bt * Hq * Dv + h * G * Dv, Dv);
        }
      }
    });

    ctx.set_output(0, cast_tensor(y, q_in.dtype()));
    if (ctx.wants_output(1)) ctx.set_output(1, cast_tensor(state, past_in ? past_in->dtype() : q_in.dtype()));
  }

 private:
  const Node& node_;
  int64_t q_heads_ = 0, kv_heads_ = 0;
  float scale_ = 0.f;
  bool gated_ = false, delta_ = false;
};

}  // namespace

void register_linear_attention(KernelRegistry& r) { r.add<LinearAttention>("", "LinearAttention"); }

}  // namespace pionnx
