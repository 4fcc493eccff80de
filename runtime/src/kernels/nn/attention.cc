// Attention (ai.onnx opset 23): scaled dot-product attention with optional
// mask, causal masking, KV cache (past/present), grouped-query heads, softcap
// and the qk_matmul_output debug output.
//
// Everything is computed in float32 (16-bit floats and double are cast). Q, K
// and V may be 3-D [B, S, H * D] (heads interleaved in the last axis) or 4-D
// [B, H, S, D]; both are read in place through (batch, head, seq) strides, so
// no transpose copies are made. Per (batch, q head): scores = scale * Q K^T
// (sgemm), + bias (mask / causal / padding), softcap, row softmax, then
// Y = P V (sgemm, written straight into the output layout).
#include <algorithm>
#include <cmath>
#include <limits>

#include "kernels/base/cast.h"
#include "kernels/base/kernel.h"
#include "kernels/base/shapes.h"
#include "kernels/simd/sgemm.h"
#include "platform/thread_pool.h"

namespace pionnx {
namespace {

// Strides of a [B, H, S, D] view of a 3-D [B, S, H * D] or 4-D tensor.
struct HeadView {
  int64_t batch, heads, seq, dim;  // sizes
  int64_t s_batch, s_head, s_seq;  // element strides (dim is contiguous)
};

HeadView head_view(const Shape& s, int64_t heads, const std::string& what, const char* name) {
  HeadView v{};
  if (s.size() == 4) {
    v = {s[0], s[1], s[2], s[3], s[1] * s[2] * s[3], s[2] * s[3], s[3]};
  } else {
    PIONNX_ENFORCE(s.size() == 3, InvalidArgument, what, ": ", name, " must be 3-D or 4-D, got ", shape_str(s));
    PIONNX_ENFORCE(heads > 0 && s[2] % heads == 0, InvalidArgument, what, ": ", name, " hidden size ", s[2],
                   " is not divisible by its head count ", heads);
    const int64_t d = s[2] / heads;
    v = {s[0], heads, s[1], d, s[1] * s[2], d, s[2]};
  }
  return v;
}

// Concatenates past [B, H, P, D] and the new keys/values (a HeadView into
// `cur`) into a contiguous [B, H, P + S, D] float32 tensor.
Tensor concat_cache(const Tensor* past, const float* cur, const HeadView& v, const std::string& what,
                    const char* name) {
  int64_t p = 0;
  if (past) {
    PIONNX_ENFORCE(past->rank() == 4 && past->dim(0) == v.batch && past->dim(1) == v.heads && past->dim(3) == v.dim,
                   InvalidArgument, what, ": ", name, " shape ", shape_str(past->shape()), " expected [", v.batch, ", ",
                   v.heads, ", P, ", v.dim, "]");
    p = past->dim(2);
  }
  const int64_t total = p + v.seq;
  Tensor out(DType::Float, {v.batch, v.heads, total, v.dim});
  float* o = out.data<float>();
  const float* pd = past ? past->data<float>() : nullptr;
  for (int64_t b = 0; b < v.batch; ++b) {
    for (int64_t h = 0; h < v.heads; ++h) {
      float* dst = o + (b * v.heads + h) * total * v.dim;
      if (p > 0) std::copy(pd + (b * v.heads + h) * p * v.dim, pd + (b * v.heads + h + 1) * p * v.dim, dst);
      for (int64_t s = 0; s < v.seq; ++s) {
        const float* src = cur + b * v.s_batch + h * v.s_head + s * v.s_seq;
        std::copy(src, src + v.dim, dst + (p + s) * v.dim);
      }
    }
  }
  return out;
}

class Attention : public Kernel {
 public:
  explicit Attention(const KernelInfo& info) : node_(info.node) {
    is_causal_ = info.node.attr_i("is_causal", 0) != 0;
    q_heads_ = info.node.attr_i("q_num_heads", 0);
    kv_heads_ = info.node.attr_i("kv_num_heads", 0);
    has_scale_ = info.node.has("scale");
    scale_ = info.node.attr_f("scale", 0.f);
    softcap_ = info.node.attr_f("softcap", 0.f);
    qk_mode_ = info.node.attr_i("qk_matmul_output_mode", 0);
    PIONNX_ENFORCE(qk_mode_ >= 0 && qk_mode_ <= 3, InvalidArgument, node_.describe(),
                   ": qk_matmul_output_mode must be 0..3, got ", qk_mode_);
  }

  void compute(KernelContext& ctx) const override {
    const std::string what = node_.describe();
    const Tensor& q_in = ctx.input(0);
    const Tensor& k_in = ctx.input(1);
    const Tensor& v_in = ctx.input(2);
    const Tensor* mask_in = ctx.optional_input(3);
    const Tensor* past_k_in = ctx.optional_input(4);
    const Tensor* past_v_in = ctx.optional_input(5);
    const Tensor* nonpad_in = ctx.optional_input(6);
    PIONNX_ENFORCE(q_in.rank() == k_in.rank() && q_in.rank() == v_in.rank(), InvalidArgument, what,
                   ": Q, K, V must have the same rank, got ", shape_str(q_in.shape()), ", ", shape_str(k_in.shape()),
                   ", ", shape_str(v_in.shape()));
    const bool three_d = q_in.rank() == 3;
    PIONNX_ENFORCE(!three_d || (q_heads_ > 0 && kv_heads_ > 0), InvalidArgument, what,
                   ": 3-D inputs need q_num_heads and kv_num_heads");

    const Tensor q = to_float32(q_in), k = to_float32(k_in), v = to_float32(v_in);
    const HeadView qv = head_view(q.shape(), q_heads_, what, "Q");
    const HeadView kv = head_view(k.shape(), kv_heads_, what, "K");
    const HeadView vv = head_view(v.shape(), kv_heads_, what, "V");
    const int64_t B = qv.batch, Hq = qv.heads, Sq = qv.seq, Dk = qv.dim, Hkv = kv.heads, Dv = vv.dim;
    PIONNX_ENFORCE(kv.batch == B && vv.batch == B && kv.dim == Dk && vv.heads == Hkv && vv.seq == kv.seq,
                   InvalidArgument, what, ": K ", shape_str(k.shape()), " / V ", shape_str(v.shape()),
                   " do not match Q ", shape_str(q.shape()));
    PIONNX_ENFORCE(Hq % Hkv == 0, InvalidArgument, what, ": q heads ", Hq, " must be a multiple of kv heads ", Hkv);
    const int64_t reps = Hq / Hkv;

    // KV cache: present = concat(past, new) along the sequence axis.
    Tensor past_k, past_v;
    if (past_k_in) past_k = to_float32(*past_k_in);
    if (past_v_in) past_v = to_float32(*past_v_in);
    const Tensor pk = concat_cache(past_k_in ? &past_k : nullptr, k.data<float>(), kv, what, "past_key");
    const Tensor pv = concat_cache(past_v_in ? &past_v : nullptr, v.data<float>(), vv, what, "past_value");
    const int64_t T = pk.dim(2);  // total kv length
    PIONNX_ENFORCE(pv.dim(2) == T, InvalidArgument, what, ": past_key and past_value lengths differ");
    const int64_t past_len = past_k_in ? past_k_in->dim(2) : 0;
    if (ctx.wants_output(1)) ctx.set_output(1, cast_tensor(pk, k_in.dtype()));
    if (ctx.wants_output(2)) ctx.set_output(2, cast_tensor(pv, v_in.dtype()));

    // Mask, read broadcast against [B, Hq, Sq, M]; columns >= M are masked.
    Tensor mask;
    std::vector<int64_t> ms;
    int64_t M = T;
    const bool bool_mask = mask_in && mask_in->dtype() == DType::Bool;
    if (mask_in) {
      PIONNX_ENFORCE(mask_in->rank() >= 1 && mask_in->rank() <= 4, InvalidArgument, what,
                     ": attn_mask must have rank 1..4, got ", shape_str(mask_in->shape()));
      M = mask_in->dim(-1);
      PIONNX_ENFORCE(M <= T, InvalidArgument, what, ": attn_mask last dim ", M, " exceeds the total kv length ", T);
      mask = bool_mask ? *mask_in : to_float32(*mask_in);
      ms = broadcast_strides(mask.shape(), {B, Hq, Sq, M});
    }
    std::vector<int64_t> nonpad;
    if (nonpad_in) {
      nonpad = tensor_to_int64s(*nonpad_in);
      PIONNX_ENFORCE(static_cast<int64_t>(nonpad.size()) == B, InvalidArgument, what, ": nonpad_kv_seqlen must have ",
                     B, " entries, got ", nonpad.size());
    }

    Shape y_shape = three_d ? Shape{B, Sq, Hq * Dv} : Shape{B, Hq, Sq, Dv};
    Tensor y(DType::Float, y_shape);
    const int64_t y_sb = three_d ? Sq * Hq * Dv : Hq * Sq * Dv;
    const int64_t y_sh = three_d ? Dv : Sq * Dv;
    const int64_t y_ss = three_d ? Hq * Dv : Dv;
    const bool want_qk = ctx.wants_output(3);
    Tensor qk_out;
    if (want_qk) qk_out = Tensor(DType::Float, {B, Hq, Sq, T});

    const float scale = has_scale_ ? scale_ : 1.f / std::sqrt(static_cast<float>(Dk));
    const float ninf = -std::numeric_limits<float>::infinity();
    const float* qd = q.data<float>();
    const float* kd = pk.data<float>();
    const float* vd = pv.data<float>();
    float* yd = y.data<float>();
    float* qkd = want_qk ? qk_out.data<float>() : nullptr;

    auto run = [&](int64_t begin, int64_t end) {
      std::vector<float> scores(static_cast<size_t>(Sq * T));
      for (int64_t bh = begin; bh < end; ++bh) {
        const int64_t b = bh / Hq, h = bh % Hq, hk = h / reps;
        const float* qp = qd + b * qv.s_batch + h * qv.s_head;
        const float* kp = kd + (b * Hkv + hk) * T * Dk;
        const float* vp = vd + (b * Hkv + hk) * T * Dv;
        float* s = scores.data();
        simd::sgemm(false, true, Sq, T, Dk, scale, qp, qv.s_seq, kp, Dk, 0.f, s, T);
        float* qk = want_qk ? qkd + bh * Sq * T : nullptr;
        if (qk && qk_mode_ == 0) std::copy(s, s + Sq * T, qk);
        for (int64_t i = 0; i < Sq; ++i) {
          float* row = s + i * T;
          // Bias: attn_mask (padded with -inf past its last column), causal
          // (upper-left aligned after the past), and per-batch kv padding.
          if (mask_in) {
            const int64_t base = b * ms[0] + h * ms[1] + i * ms[2];
            if (bool_mask) {
              const bool* md = mask.data<bool>();
              for (int64_t j = 0; j < M; ++j)
                if (!md[base + j * ms[3]]) row[j] += ninf;
            } else {
              const float* md = mask.data<float>();
              for (int64_t j = 0; j < M; ++j) row[j] += md[base + j * ms[3]];
            }
            for (int64_t j = M; j < T; ++j) row[j] += ninf;
          }
          if (is_causal_)
            for (int64_t j = std::max<int64_t>(i + past_len + 1, 0); j < T; ++j) row[j] += ninf;
          if (nonpad_in)
            for (int64_t j = std::max<int64_t>(nonpad[b], 0); j < T; ++j) row[j] += ninf;
          if (qk && qk_mode_ == 1) std::copy(row, row + T, qk + i * T);
          if (softcap_ > 0)
            for (int64_t j = 0; j < T; ++j) row[j] = softcap_ * std::tanh(row[j] / softcap_);
          if (qk && qk_mode_ == 2) std::copy(row, row + T, qk + i * T);
          float mx = ninf;
          for (int64_t j = 0; j < T; ++j) mx = std::max(mx, row[j]);
          float sum = 0.f;
          for (int64_t j = 0; j < T; ++j) {
            row[j] = std::exp(row[j] - mx);
            sum += row[j];
          }
          const float inv = 1.f / sum;
          for (int64_t j = 0; j < T; ++j) row[j] *= inv;
          if (qk && qk_mode_ == 3) std::copy(row, row + T, qk + i * T);
        }
        simd::sgemm(false, false, Sq, Dv, T, 1.f, s, T, vp, Dv, 0.f, yd + b * y_sb + h * y_sh, y_ss);
      }
    };
    ctx.pool().parallel_for(B * Hq, 1, run);

    ctx.set_output(0, cast_tensor(y, q_in.dtype()));
    if (want_qk) ctx.set_output(3, cast_tensor(qk_out, q_in.dtype()));
  }

 private:
  const Node& node_;
  bool is_causal_ = false, has_scale_ = false;
  int64_t q_heads_ = 0, kv_heads_ = 0, qk_mode_ = 0;
  float scale_ = 0.f, softcap_ = 0.f;
};

}  // namespace

void register_attention(KernelRegistry& r) { r.add<Attention>("", "Attention"); }

}  // namespace pionnx
