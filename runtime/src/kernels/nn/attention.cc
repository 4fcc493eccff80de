// Attention (ai.onnx opsets 23-25), com.microsoft MultiHeadAttention and
// ai.onnx.preview FlexAttention (at the end of the file):
// scaled dot-product attention with optional masks, causal masking, local
// windows, KV cache (past/present, or an external cache with
// nonpad_kv_seqlen), grouped-query heads (ai.onnx), softcap and the
// qk_matmul_output debug output (ai.onnx). MultiHeadAttention is also what
// the optimizer's attention fusion writes (optimize/attention_fusion.cc).
//
// Everything is computed in float32 (16-bit floats and double are cast);
// for 16-bit Attention inputs the intermediate results are rounded to the
// input type (or softmax_precision) where the function body computes in it.
// Q, K and V may be 3-D [B, S, H * D] (heads interleaved in the last axis) or
// 4-D [B, H, S, D]; both are read in place through (batch, head, seq)
// strides, so no transpose copies are made. Per (batch, q head), one pool
// task: scores = scale * Q K^T (sgemm), softcap, + bias (masks, causal,
// window, padding), row softmax (fastmath), then Y = P V (sgemm, written
// straight into the output layout).
#include <algorithm>
#include <cmath>
#include <limits>

#include "kernels/base/cast.h"
#include "kernels/base/kernel.h"
#include "kernels/base/shapes.h"
#include "kernels/simd/elementwise_math.h"
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

// Rounding of intermediate results to the precision the op computes in.
// ai.onnx Attention's function body runs its MatMul / Add / Softmax in the
// input type T1 (or softmax_precision): for float16 and bfloat16 inputs each
// step is rounded to that type, as the reference does, so that 16-bit
// results match it to the last bit. float32 and double compute in float32
// without rounding (Precision::Float).
enum class Precision { Float, Half, BFloat16 };

inline float round_to(float x, Precision p) {
  switch (p) {
    case Precision::Half: return half_to_float(float_to_half(x));
    case Precision::BFloat16: return bfloat16_to_float(float_to_bfloat16(x));
    default: return x;
  }
}

void round_block(float* x, int64_t n, Precision p) {
  if (p == Precision::Float) return;
  for (int64_t j = 0; j < n; ++j) x[j] = round_to(x[j], p);
}

Precision precision_of(DType dt) {
  if (dt == DType::Float16) return Precision::Half;
  if (dt == DType::BFloat16) return Precision::BFloat16;
  return Precision::Float;
}

// The additive bias of one row of scores (b, h, i): the attention mask or
// attention bias, key padding, causal masking and a local window. Masked
// entries get -inf from attn_mask (float columns past its end, or false
// booleans) and from the window, and `fill` from the key masks and causal
// masking (ai.onnx: -inf; com.microsoft: mask_filter_value).
struct ScoreBias {
  const float* add = nullptr;  // additive, broadcast to [B, H, S, cols] by add_s
  const bool* keep = nullptr;  // boolean, broadcast to [B, H, S, cols] by add_s
  std::vector<int64_t> add_s;
  int64_t cols = 0;                   // columns the mask covers; later ones get -inf
  const int32_t* key_mask = nullptr;  // [B, T]: 0 masks the key
  std::vector<int64_t> lengths;       // per batch: keys j >= lengths[b] masked
  bool causal = false;
  int64_t left = -1, right = -1;  // window: keys p - left <= j <= p + right (-1: unbounded)
  // Query row i sits at absolute position p = i + offset: the past length,
  // or with an external cache (offset_from_lengths) lengths[b] - S.
  int64_t past_len = 0;
  bool offset_from_lengths = false;
  float fill = -std::numeric_limits<float>::infinity();

  bool active() const { return add || keep || key_mask || !lengths.empty() || causal || left >= 0 || right >= 0; }

  // True when row() gives the same row for every query row of a (b, h):
  // only key masks and lengths (per batch), and a mask or bias broadcast
  // over the query axis (the attention fusion's [B, 1, 1, T] padding bias).
  bool same_for_every_row() const { return !causal && left < 0 && right < 0 && (!(add || keep) || add_s[2] == 0); }

  // Writes row (b, h, i) of the bias to out[0, T) (S = query rows); returns
  // true when every entry is -inf, i.e. no key is attended.
  bool row(float* out, int64_t T, int64_t S, int64_t b, int64_t h, int64_t i) const {
    const float ninf = -std::numeric_limits<float>::infinity();
    std::fill(out, out + T, 0.f);
    if (add || keep) {
      const int64_t base = b * add_s[0] + h * add_s[1] + i * add_s[2], sj = add_s[3];
      if (keep) {
        for (int64_t j = 0; j < cols; ++j)
          if (!keep[base + j * sj]) out[j] = ninf;
      } else {
        for (int64_t j = 0; j < cols; ++j) out[j] = add[base + j * sj];
      }
      std::fill(out + cols, out + T, ninf);
    }
    if (key_mask) {
      const int32_t* m = key_mask + b * T;
      for (int64_t j = 0; j < T; ++j)
        if (m[j] == 0) out[j] += fill;
    }
    if (!lengths.empty())
      for (int64_t j = std::clamp<int64_t>(lengths[b], 0, T); j < T; ++j) out[j] += fill;
    const int64_t p = i + (offset_from_lengths ? lengths[b] - S : past_len);
    if (causal)
      for (int64_t j = std::clamp<int64_t>(p + 1, 0, T); j < T; ++j) out[j] += fill;
    if (left >= 0)
      for (int64_t j = 0, e = std::clamp<int64_t>(p - left, 0, T); j < e; ++j) out[j] = ninf;
    if (right >= 0)
      for (int64_t j = std::clamp<int64_t>(p + right + 1, 0, T); j < T; ++j) out[j] = ninf;
    for (int64_t j = 0; j < T; ++j)
      if (out[j] != ninf) return false;
    return true;
  }
};

// One attention call over views of Q, K, V (K and V hold all T keys).
struct AttendArgs {
  const float* q;
  HeadView qv;
  const float* k;
  HeadView kv;
  const float* v;
  HeadView vv;
  float scale = 1.f, softcap = 0.f;
  ScoreBias bias;
  // Rounding of the scores and probabilities (T1), and of the softmax
  // (softmax_precision); Float for float32 work throughout.
  Precision round = Precision::Float, softmax_round = Precision::Float;
  float* y;
  int64_t y_sb, y_sh, y_ss;  // output strides per batch, head, query row
  float* qk = nullptr;       // [B, H, S, T] copy of the scores at stage qk_mode
  int64_t qk_mode = 0;
};

// softmax over one row of n scores computed in type p: the subtraction, exp
// and division are rounded to p. The sum follows the reference's numpy: a
// float16 sum accumulates in float32 and is rounded once, a bfloat16 sum
// (ml_dtypes) rounds every partial sum.
void softmax_rounded(float* x, int64_t n, Precision p) {
  const float mx = *std::max_element(x, x + n);
  const Precision partial = p == Precision::BFloat16 ? p : Precision::Float;
  float sum = 0.f;
  for (int64_t j = 0; j < n; ++j) {
    x[j] = round_to(std::exp(round_to(x[j] - mx, p)), p);
    sum = round_to(sum + x[j], partial);
  }
  sum = round_to(sum, p);
  for (int64_t j = 0; j < n; ++j) x[j] = round_to(x[j] / sum, p);
}

// Rows of the output, per (query row block, batch, q head) task on the
// pool. Per row: the scores, softcap, + bias, softmax; a row whose bias
// masks every key gets zero probabilities (and a zero output row), not NaN.
// Heads are split over the threads whole when they divide evenly (4 heads on
// 2 threads: bert_int8 2T 1.45-1.49 -> 1.44-1.46 ms, MultiHeadAttention
// 133 -> 124 us); otherwise, with 128 or more query rows, each head's rows
// in two blocks, block-major, so the calling thread's tasks (the front ones,
// see ThreadPool) write the front rows of every head. Each block packs the
// head's keys and values again (a 128 x 64 head: 32 KiB each against its
// 2 MFLOP of products), so the split stays at halves.
// In float32 work (no rounding, no probabilities copied out) the softmax is
// left unnormalised and each output row scaled by 1 / sum after P V: Dv
// multiplies a row instead of T. A bias that is the same for every query row
// (key padding) is built once per task.
void attend(ThreadPool& pool, const AttendArgs& a) {
  const int64_t B = a.qv.batch, Hq = a.qv.heads, Sq = a.qv.seq, Dk = a.qv.dim, T = a.kv.seq, Dv = a.vv.dim;
  const int64_t reps = Hq / a.kv.heads;
  const bool biased = a.bias.active(), rounded = a.round != Precision::Float;
  const bool bias_once = biased && a.bias.same_for_every_row();
  const bool defer_norm = !rounded && a.softmax_round == Precision::Float && !(a.qk && a.qk_mode == 3);
  const float ninf = -std::numeric_limits<float>::infinity();
  const int64_t threads = pool.size();
  const int64_t blocks = threads > 1 && Sq >= 128 && (B * Hq) % threads != 0 ? 2 : 1;
  const int64_t block_rows = (Sq + blocks - 1) / blocks;
  auto run = [&](int64_t begin, int64_t end) {
    // The block's scores, one bias row and the rows' 1 / sum, in a buffer each
    // thread keeps (not zeroed: every element is written before it is read);
    // a fresh zeroed 64 KiB on every call cost a 128-key head 2 us a thread.
    thread_local std::vector<float> scratch;
    const size_t need = static_cast<size_t>(block_rows * T + T + block_rows);
    if (scratch.size() < need) scratch.resize(need);
    float* const scores = scratch.data();
    float* const bias_row = scores + block_rows * T;
    float* const inv_sum = bias_row + T;
    for (int64_t task = begin; task < end; ++task) {
      const int64_t bh = task % (B * Hq), i0 = task / (B * Hq) * block_rows, i1 = std::min(Sq, i0 + block_rows);
      const int64_t b = bh / Hq, h = bh % Hq, hk = h / reps;
      const float* qp = a.q + b * a.qv.s_batch + h * a.qv.s_head + i0 * a.qv.s_seq;
      const float* kp = a.k + b * a.kv.s_batch + hk * a.kv.s_head;
      const float* vp = a.v + b * a.vv.s_batch + hk * a.vv.s_head;
      float* s = scores;  // the block's scores: row i at s + (i - i0) * T
      simd::sgemm(false, true, i1 - i0, T, Dk, a.scale, qp, a.qv.s_seq, kp, a.kv.s_seq, 0.f, s, T);
      float* qk = a.qk ? a.qk + bh * Sq * T : nullptr;
      const bool all_masked = bias_once && a.bias.row(bias_row, T, Sq, b, h, i0);
      for (int64_t i = i0; i < i1; ++i) {
        float* row = s + (i - i0) * T;
        round_block(row, T, a.round);
        if (qk && a.qk_mode == 0) std::copy(row, row + T, qk + i * T);
        if (a.softcap > 0) {
          const float c = a.softcap;
          if (rounded) {
            for (int64_t j = 0; j < T; ++j)
              row[j] = round_to(c * round_to(std::tanh(round_to(row[j] / c, a.round)), a.round), a.round);
          } else {
            for (int64_t j = 0; j < T; ++j) row[j] = c * fastmath::tanh(row[j] / c);
          }
        }
        if (qk && a.qk_mode == 1) std::copy(row, row + T, qk + i * T);
        bool masked = false, have_max = false;
        float mx = ninf;
        if (biased) {
          masked = bias_once ? all_masked : a.bias.row(bias_row, T, Sq, b, h, i);
          if (rounded) {
            for (int64_t j = 0; j < T; ++j) row[j] += bias_row[j];
            round_block(row, T, a.round);
          } else {
            mx = fastmath::add_max_block(row, bias_row, T);
            have_max = true;
          }
        }
        if (qk && a.qk_mode == 2) std::copy(row, row + T, qk + i * T);
        // Without a bias only infinite inputs can make a row all -inf; the
        // unmasked fast path skips that check. The float softmax reuses the
        // max it checks.
        if (!masked && !have_max) mx = fastmath::max_block(row, T);
        if (masked || (biased && mx == ninf)) {
          std::fill(row, row + T, 0.f);
          if (defer_norm) inv_sum[i - i0] = 0.f;
        } else if (defer_norm) {
          // No keys (T = 0) sum to 0: a zero output row, as the normalised softmax gave.
          const float sum = fastmath::exp_shift_sum_block(row, row, T, mx);
          inv_sum[i - i0] = sum > 0.f ? 1.f / sum : 0.f;
        } else if (a.softmax_round != Precision::Float) {
          round_block(row, T, a.softmax_round);
          softmax_rounded(row, T, a.softmax_round);
        } else {
          fastmath::softmax_block(row, row, T, mx);
        }
        if (qk && a.qk_mode == 3) std::copy(row, row + T, qk + i * T);
        if (a.softmax_round != a.round) round_block(row, T, a.round);
      }
      float* yp = a.y + b * a.y_sb + h * a.y_sh + i0 * a.y_ss;
      simd::sgemm(false, false, i1 - i0, Dv, T, 1.f, s, T, vp, a.vv.s_seq, 0.f, yp, a.y_ss);
      if (defer_norm)
        for (int64_t i = 0; i < i1 - i0; ++i) fastmath::scale_block(yp + i * a.y_ss, Dv, inv_sum[i]);
    }
  };
  pool.parallel_for(blocks * B * Hq, 1, run);
}

// A contiguous [B, H, T, D] view (a cache from concat_cache).
HeadView cache_view(const Tensor& t) {
  return {t.dim(0), t.dim(1), t.dim(2), t.dim(3), t.dim(1) * t.dim(2) * t.dim(3), t.dim(2) * t.dim(3), t.dim(3)};
}

// Keys or values as attend() reads them: with a past (or when the present is
// an output), the [B, H, P + S, D] concatenation, else `cur` in place.
struct KvSource {
  Tensor cache;
  const float* data;
  HeadView view;
};

KvSource kv_source(const Tensor* past_in, const float* cur, const HeadView& v, bool want_present,
                   const std::string& what, const char* name) {
  KvSource s{};
  if (!past_in && !want_present) {
    s.data = cur;
    s.view = v;
    return s;
  }
  Tensor past;
  if (past_in) past = to_float32(*past_in);
  s.cache = concat_cache(past_in ? &past : nullptr, cur, v, what, name);
  s.data = s.cache.data<float>();
  s.view = cache_view(s.cache);
  return s;
}

// Points a at Q and at the keys and values attend() reads.
void set_inputs(AttendArgs& a, const float* q, const HeadView& qv, const KvSource& ks, const KvSource& vs) {
  a.q = q;
  a.qv = qv;
  a.k = ks.data;
  a.kv = ks.view;
  a.v = vs.data;
  a.vv = vs.view;
}

// Q or keys scaled by `s` and rounded to p, as a contiguous [B, H, S, D]
// tensor (the 16-bit path scales Q and K by sqrt(scale) before the product,
// as the function body does).
Tensor scaled_copy(const float* data, const HeadView& v, float s, Precision p) {
  Tensor out(DType::Float, {v.batch, v.heads, v.seq, v.dim});
  float* o = out.data<float>();
  for (int64_t b = 0; b < v.batch; ++b)
    for (int64_t h = 0; h < v.heads; ++h)
      for (int64_t t = 0; t < v.seq; ++t) {
        const float* src = data + b * v.s_batch + h * v.s_head + t * v.s_seq;
        for (int64_t d = 0; d < v.dim; ++d) *o++ = round_to(src[d] * s, p);
      }
  return out;
}

// The softmax_precision attribute (Attention, FlexAttention) as a dtype;
// `absent` when the node does not set it.
DType softmax_precision_attr(const Node& node, DType absent) {
  if (!node.has("softmax_precision")) return absent;
  const int64_t sp = node.attr_i("softmax_precision", 0);
  const DType dt = static_cast<DType>(sp);
  PIONNX_ENFORCE(dt == DType::Float || dt == DType::Double || dt == DType::Float16 || dt == DType::BFloat16,
                 InvalidArgument, node.describe(),
                 ": softmax_precision must be 1 (FLOAT), 10 (FLOAT16), 11 (DOUBLE) or 16 (BFLOAT16), got ", sp);
  return dt;
}

// Points a.q / a.k at copies of Q and K scaled by sqrt(scale) and rounded to
// p (kept alive by q_scaled / k_scaled), as the function bodies compute a
// 16-bit product; float32 work keeps the inputs and folds scale into the
// sgemm's alpha.
void prescale(AttendArgs& a, float scale, Precision p, Tensor& q_scaled, Tensor& k_scaled) {
  if (p == Precision::Float) {
    a.scale = scale;
    return;
  }
  const float root = round_to(std::sqrt(scale), p);
  q_scaled = scaled_copy(a.q, a.qv, root, p);
  k_scaled = scaled_copy(a.k, a.kv, root, p);
  a.q = q_scaled.data<float>();
  a.qv = cache_view(q_scaled);
  a.k = k_scaled.data<float>();
  a.kv = cache_view(k_scaled);
  a.scale = 1.f;
}

// ai.onnx Attention, opsets 23 through 25 (one kernel: Attention-24 adds the
// nonpad_kv_seqlen input, Attention-25 the left/right_window_size attributes;
// an older model has neither, which reads as absent). Follows the function
// body: causal masking and the window are bottom-right aligned (offset = past
// length, or nonpad_kv_seqlen - S with an external cache), softcap comes
// before the mask, and a query row whose mask leaves no key gives zeros in Y
// and in the mode-3 qk_matmul_output. qk_matmul_output_mode 0 is the raw
// product (the function body's; the Python reference returns it softcapped).
class Attention : public Kernel {
 public:
  explicit Attention(const KernelInfo& info) : node_(info.node) {
    const std::string what = node_.describe();
    is_causal_ = info.node.attr_i("is_causal", 0) != 0;
    q_heads_ = info.node.attr_i("q_num_heads", 0);
    kv_heads_ = info.node.attr_i("kv_num_heads", 0);
    has_scale_ = info.node.has("scale");
    scale_ = info.node.attr_f("scale", 0.f);
    softcap_ = info.node.attr_f("softcap", 0.f);
    qk_mode_ = info.node.attr_i("qk_matmul_output_mode", 0);
    left_ = info.node.attr_i("left_window_size", -1);
    right_ = info.node.attr_i("right_window_size", -1);
    PIONNX_ENFORCE(qk_mode_ >= 0 && qk_mode_ <= 3, InvalidArgument, what, ": qk_matmul_output_mode must be 0..3, got ",
                   qk_mode_);
    PIONNX_ENFORCE(left_ >= -1 && right_ >= -1, InvalidArgument, what,
                   ": left_window_size and right_window_size must be -1 or nonnegative, got ", left_, " and ", right_);
    PIONNX_ENFORCE(softcap_ >= 0.f, InvalidArgument, what, ": softcap must be nonnegative, got ", softcap_);
    softmax_dtype_ = softmax_precision_attr(info.node, DType::Undefined);
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
                   ": 3-D inputs need positive q_num_heads and kv_num_heads, got ", q_heads_, " and ", kv_heads_);
    PIONNX_ENFORCE(!past_k_in == !past_v_in, InvalidArgument, what, ": past_key and past_value must be given together");
    PIONNX_ENFORCE(!(nonpad_in && past_k_in), InvalidArgument, what,
                   ": nonpad_kv_seqlen (an external cache) cannot be combined with past_key / past_value");

    const Tensor q = to_float32(q_in), k = to_float32(k_in), v = to_float32(v_in);
    const HeadView qv = head_view(q.shape(), q_heads_, what, "Q");
    const HeadView kv = head_view(k.shape(), kv_heads_, what, "K");
    const HeadView vv = head_view(v.shape(), kv_heads_, what, "V");
    const int64_t B = qv.batch, Hq = qv.heads, Sq = qv.seq, Dk = qv.dim, Hkv = kv.heads, Dv = vv.dim;
    PIONNX_ENFORCE(kv.batch == B && vv.batch == B && kv.dim == Dk && vv.heads == Hkv && vv.seq == kv.seq,
                   InvalidArgument, what, ": K ", shape_str(k.shape()), " / V ", shape_str(v.shape()),
                   " do not match Q ", shape_str(q.shape()));
    PIONNX_ENFORCE(Hkv > 0 && Hq % Hkv == 0, InvalidArgument, what, ": q heads ", Hq,
                   " must be a multiple of kv heads ", Hkv);

    // KV cache: present = concat(past, new) along the sequence axis.
    const KvSource ks = kv_source(past_k_in, k.data<float>(), kv, ctx.wants_output(1), what, "past_key");
    const KvSource vs = kv_source(past_v_in, v.data<float>(), vv, ctx.wants_output(2), what, "past_value");
    const int64_t T = ks.view.seq;  // total kv length
    PIONNX_ENFORCE(vs.view.seq == T, InvalidArgument, what, ": past_key and past_value lengths differ");
    const int64_t past_len = past_k_in ? past_k_in->dim(2) : 0;
    if (ctx.wants_output(1)) ctx.set_output(1, cast_tensor(ks.cache, k_in.dtype()));
    if (ctx.wants_output(2)) ctx.set_output(2, cast_tensor(vs.cache, v_in.dtype()));

    // Mask, read broadcast against [B, Hq, Sq, M]; columns >= M are masked.
    AttendArgs a{};
    Tensor mask;
    a.bias.cols = T;
    if (mask_in) {
      PIONNX_ENFORCE(mask_in->rank() >= 1 && mask_in->rank() <= 4, InvalidArgument, what,
                     ": attn_mask must have rank 1..4, got ", shape_str(mask_in->shape()));
      const int64_t M = mask_in->dim(-1);
      PIONNX_ENFORCE(M <= T, InvalidArgument, what, ": attn_mask last dim ", M, " exceeds the total kv length ", T);
      mask = mask_in->dtype() == DType::Bool ? *mask_in : to_float32(*mask_in);
      a.bias.add_s = broadcast_strides(mask.shape(), {B, Hq, Sq, M});
      a.bias.cols = M;
      if (mask.dtype() == DType::Bool) a.bias.keep = mask.data<bool>();
      else a.bias.add = mask.data<float>();
    }
    if (nonpad_in) {
      a.bias.lengths = tensor_to_int64s(*nonpad_in);
      PIONNX_ENFORCE(nonpad_in->rank() == 1 && static_cast<int64_t>(a.bias.lengths.size()) == B, InvalidArgument, what,
                     ": nonpad_kv_seqlen must be [batch] = [", B, "], got ", shape_str(nonpad_in->shape()));
      a.bias.offset_from_lengths = true;
    }
    a.bias.causal = is_causal_;
    a.bias.past_len = past_len;
    a.bias.left = left_;
    a.bias.right = right_;

    Shape y_shape = three_d ? Shape{B, Sq, Hq * Dv} : Shape{B, Hq, Sq, Dv};
    Tensor y(DType::Float, y_shape);
    a.y_sb = three_d ? Sq * Hq * Dv : Hq * Sq * Dv;
    a.y_sh = three_d ? Dv : Sq * Dv;
    a.y_ss = three_d ? Hq * Dv : Dv;
    Tensor qk_out;
    if (ctx.wants_output(3)) {
      qk_out = Tensor(DType::Float, {B, Hq, Sq, T});
      a.qk = qk_out.data<float>();
      a.qk_mode = qk_mode_;
    }
    const float scale = has_scale_ ? scale_ : 1.f / std::sqrt(static_cast<float>(Dk));
    a.softcap = softcap_;
    a.round = precision_of(q_in.dtype());
    a.softmax_round = softmax_dtype_ == DType::Undefined ? a.round : precision_of(softmax_dtype_);
    set_inputs(a, q.data<float>(), qv, ks, vs);
    Tensor q_scaled, k_scaled;
    prescale(a, scale, a.round, q_scaled, k_scaled);
    a.y = y.data<float>();
    attend(ctx.pool(), a);

    ctx.set_output(0, cast_tensor(y, q_in.dtype()));
    if (qk_out.defined()) ctx.set_output(3, cast_tensor(qk_out, q_in.dtype()));
  }

 private:
  const Node& node_;
  bool is_causal_ = false, has_scale_ = false;
  int64_t q_heads_ = 0, kv_heads_ = 0, qk_mode_ = 0, left_ = -1, right_ = -1;
  float scale_ = 0.f, softcap_ = 0.f;
  DType softmax_dtype_ = DType::Undefined;  // softmax_precision, Undefined: T1
};

// x + bias along the last axis, as a new float tensor.
Tensor add_last_axis(ThreadPool& pool, const Tensor& x, const float* bias) {
  Tensor y(DType::Float, x.shape());
  const int64_t n = x.dim(-1), rows = x.numel() / std::max<int64_t>(n, 1);
  const float* xd = x.data<float>();
  float* yd = y.data<float>();
  pool.parallel_for(rows, std::max<int64_t>(1, 8192 / std::max<int64_t>(n, 1)), [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r)
      for (int64_t j = 0; j < n; ++j) yd[r * n + j] = xd[r * n + j] + bias[j];
  });
  return y;
}

// x + bias for a packed [B, L, N, P, H] tensor (P = 3: QKV, 2: KV), as a new
// float tensor: bias holds P vectors of N * H values one after another (the
// query's, key's and value's parts of MultiHeadAttention's bias), each
// added to its slot of every head.
Tensor add_packed_bias(ThreadPool& pool, const Tensor& x, const float* bias) {
  const int64_t n = x.dim(2), p = x.dim(3), h = x.dim(4);
  std::vector<float> row(static_cast<size_t>(n * p * h));
  for (int64_t hn = 0; hn < n; ++hn)
    for (int64_t j = 0; j < p; ++j)
      for (int64_t d = 0; d < h; ++d) row[static_cast<size_t>((hn * p + j) * h + d)] = bias[(j * n + hn) * h + d];
  return add_last_axis(pool, x.reshaped({x.dim(0), x.dim(1), n * p * h}), row.data()).reshaped(x.shape());
}

// The [B, N, L, H] view of slot j of a packed [B, L, N, P, H] tensor.
HeadView packed_view(const Tensor& t, int64_t heads, const std::string& what, const char* name) {
  const Shape& s = t.shape();
  PIONNX_ENFORCE(s[2] == heads, InvalidArgument, what, ": packed ", name, " ", shape_str(s), " has ", s[2],
                 " heads, num_heads is ", heads);
  return {s[0], s[2], s[1], s[4], s[1] * s[2] * s[3] * s[4], s[3] * s[4], s[2] * s[3] * s[4]};
}

// com.microsoft MultiHeadAttention (onnxruntime's contrib op, version 1):
// query [B, S, D]; key/value [B, L, D] or already per head [B, N, L, H];
// bias [D + D + Dv] added to the 3-D query, key and value; key_padding_mask
// int32 [B] (valid key counts) or [B, T] (0 = masked); attention_bias
// broadcast to [B, N, S, T] (onnxruntime asks S and T in full; the attention
// fusion writes a [B, 1, 1, T] padding bias); past_key/past_value
// [B, N, P, H] and the present outputs. Masked scores get mask_filter_value;
// unidirectional masks keys j > i + P. The packed layouts are read in
// place: query [B, S, N, 3, H] holding Q, K and V, or key [B, L, N, 2, H]
// holding K and V (the layout pass writes the first, see
// optimize/qkv_packing.cc); their bias is still [D + D + Dv], each part added
// to its slot. past_sequence_length and cache_indirection (beam search) are
// refused by name.
class MultiHeadAttention : public Kernel {
 public:
  explicit MultiHeadAttention(const KernelInfo& info) : node_(info.node) {
    heads_ = info.node.require("num_heads").i;
    PIONNX_ENFORCE(heads_ > 0, InvalidArgument, node_.describe(), ": num_heads must be positive, got ", heads_);
    has_scale_ = info.node.has("scale");
    scale_ = info.node.attr_f("scale", 0.f);
    fill_ = info.node.attr_f("mask_filter_value", -10000.f);
    causal_ = info.node.attr_i("unidirectional", 0) != 0;
  }

  void compute(KernelContext& ctx) const override {
    const std::string what = node_.describe();
    const Tensor& q_in = ctx.input(0);
    const Tensor* k_in = ctx.optional_input(1);
    const Tensor* v_in = ctx.optional_input(2);
    const Tensor* bias_in = ctx.optional_input(3);
    const Tensor* kpm = ctx.optional_input(4);
    const Tensor* ab_in = ctx.optional_input(5);
    const Tensor* past_k_in = ctx.optional_input(6);
    const Tensor* past_v_in = ctx.optional_input(7);
    for (size_t i = 8; i < ctx.num_inputs(); ++i)
      PIONNX_ENFORCE(!ctx.optional_input(i), NotImplemented, what, ": input ", i,
                     " (past_sequence_length / cache_indirection) is not supported by pionnx");
    // Packed layouts (onnxruntime's): query [B, S, N, 3, H] holding Q, K and V (key and value absent), or key
    // [B, L, N, 2, H] holding K and V (value absent); each read in place through strides.
    const bool packed_qkv = q_in.rank() == 5, packed_kv = !packed_qkv && k_in && !v_in && k_in->rank() == 5;
    PIONNX_ENFORCE(q_in.rank() == 3 || (packed_qkv && q_in.dim(3) == 3), InvalidArgument, what,
                   ": query must be 3-D [B, S, D] or packed QKV [B, S, N, 3, H], got ", shape_str(q_in.shape()));
    if (packed_qkv)
      PIONNX_ENFORCE(!k_in && !v_in, InvalidArgument, what, ": a packed QKV query ", shape_str(q_in.shape()),
                     " takes no key or value inputs");
    else if (packed_kv)
      PIONNX_ENFORCE(k_in->dim(3) == 2, InvalidArgument, what, ": a packed KV key must be [B, L, N, 2, H], got ",
                     shape_str(k_in->shape()));
    else
      PIONNX_ENFORCE(k_in && v_in, InvalidArgument, what,
                     ": key and value are required unless the query is packed QKV [B, S, N, 3, H] or the key packed "
                     "KV [B, L, N, 2, H]");
    if (!packed_qkv && !packed_kv)
      PIONNX_ENFORCE(k_in->rank() == v_in->rank() && (k_in->rank() == 3 || k_in->rank() == 4), InvalidArgument, what,
                     ": key and value must both be 3-D [B, L, D] or 4-D [B, N, L, H], got ", shape_str(k_in->shape()),
                     " and ", shape_str(v_in->shape()));
    Tensor q = to_float32(q_in), k = k_in ? to_float32(*k_in) : Tensor(), v = v_in ? to_float32(*v_in) : Tensor();
    if (bias_in) {
      PIONNX_ENFORCE(packed_qkv || k.rank() == 3 || packed_kv, InvalidArgument, what,
                     ": bias needs 3-D key and value, got key ", shape_str(k.shape()));
      const int64_t d = packed_qkv ? q.dim(2) * q.dim(4) : q.dim(2);
      const int64_t dk = packed_qkv ? d : packed_kv ? k.dim(2) * k.dim(4) : k.dim(2);
      const int64_t dv = packed_qkv || packed_kv ? dk : v.dim(2);
      PIONNX_ENFORCE(bias_in->rank() == 1 && bias_in->dim(0) == d + dk + dv, InvalidArgument, what, ": bias must be [",
                     d + dk + dv, "] (query + key + value hidden sizes), got ", shape_str(bias_in->shape()));
      const Tensor bias = to_float32(*bias_in);
      const float* bd = bias.data<float>();
      if (packed_qkv) {
        q = add_packed_bias(ctx.pool(), q, bd);
      } else {
        q = add_last_axis(ctx.pool(), q, bd);
        if (packed_kv) {
          k = add_packed_bias(ctx.pool(), k, bd + d);
        } else {
          k = add_last_axis(ctx.pool(), k, bd + d);
          v = add_last_axis(ctx.pool(), v, bd + d + dk);
        }
      }
    }
    HeadView qv, kv, vv;
    const float *qd = q.data<float>(), *kd, *vd;
    if (packed_qkv) {
      qv = kv = vv = packed_view(q, heads_, what, "query");
      kd = qd + qv.dim;
      vd = qd + 2 * qv.dim;
    } else {
      qv = head_view(q.shape(), heads_, what, "query");
      if (packed_kv) {
        kv = vv = packed_view(k, heads_, what, "key");
        kd = k.data<float>();
        vd = kd + kv.dim;
      } else {
        kv = head_view(k.shape(), heads_, what, "key");
        vv = head_view(v.shape(), heads_, what, "value");
        kd = k.data<float>();
        vd = v.data<float>();
      }
    }
    const int64_t B = qv.batch, N = qv.heads, Sq = qv.seq, Dv = vv.dim;
    auto dims = [](const HeadView& h) { return shape_str(Shape{h.batch, h.heads, h.seq, h.dim}); };
    PIONNX_ENFORCE(
        kv.batch == B && vv.batch == B && kv.heads == N && vv.heads == N && kv.dim == qv.dim && vv.seq == kv.seq,
        InvalidArgument, what, ": key ", dims(kv), " / value ", dims(vv), " (batch, heads, length, head size) do not ",
        "match query ", dims(qv), " with ", N, " heads");
    const KvSource ks = kv_source(past_k_in, kd, kv, ctx.wants_output(1), what, "past_key");
    const KvSource vs = kv_source(past_v_in, vd, vv, ctx.wants_output(2), what, "past_value");
    const int64_t T = ks.view.seq;
    PIONNX_ENFORCE(vs.view.seq == T, InvalidArgument, what, ": past_key and past_value lengths differ");
    if (ctx.wants_output(1)) ctx.set_output(1, cast_tensor(ks.cache, q_in.dtype()));
    if (ctx.wants_output(2)) ctx.set_output(2, cast_tensor(vs.cache, q_in.dtype()));

    AttendArgs a{};
    a.bias.fill = fill_;
    a.bias.cols = T;
    a.bias.causal = causal_;
    a.bias.past_len = past_k_in ? past_k_in->dim(2) : 0;
    Tensor key_mask, attn_bias;
    if (kpm) {
      PIONNX_ENFORCE(kpm->dtype() == DType::Int32, InvalidArgument, what, ": key_padding_mask must be int32, got ",
                     dtype_name(kpm->dtype()));
      if (kpm->rank() == 1 && kpm->dim(0) == B) {
        a.bias.lengths = tensor_to_int64s(*kpm);
      } else {
        PIONNX_ENFORCE(kpm->rank() == 2 && kpm->dim(0) == B && kpm->dim(1) == T, NotImplemented, what,
                       ": key_padding_mask must be [B] = [", B, "] (valid key counts) or [B, T] = [", B, ", ", T,
                       "], got ", shape_str(kpm->shape()));
        key_mask = *kpm;
        a.bias.key_mask = key_mask.data<int32_t>();
      }
    }
    if (ab_in) {
      PIONNX_ENFORCE(ab_in->rank() == 4, InvalidArgument, what, ": attention_bias must be 4-D [B, N, S, T], got ",
                     shape_str(ab_in->shape()));
      attn_bias = to_float32(*ab_in);
      a.bias.add_s = broadcast_strides(attn_bias.shape(), {B, N, Sq, T});
      a.bias.add = attn_bias.data<float>();
    }

    Tensor y(DType::Float, {B, Sq, N * Dv});
    a.y = y.data<float>();
    a.y_sb = Sq * N * Dv;
    a.y_sh = Dv;
    a.y_ss = N * Dv;
    a.scale = has_scale_ ? scale_ : 1.f / std::sqrt(static_cast<float>(qv.dim));
    set_inputs(a, qd, qv, ks, vs);
    attend(ctx.pool(), a);
    ctx.set_output(0, cast_tensor(y, q_in.dtype()));
  }

 private:
  const Node& node_;
  int64_t heads_ = 0;
  bool has_scale_ = false, causal_ = false;
  float scale_ = 0.f, fill_ = -10000.f;
};
// ai.onnx.preview FlexAttention (opset 1): attention over 4-D Q, K, V with
// optional score_mod and prob_mod subgraphs, each run once on the whole
// [B, Hq, L, S] tensor (through the executor's subgraph runner, as If and
// Loop run theirs) in the softmax precision: softmax_precision, else double
// for double inputs and float32 otherwise. scores = (Q sqrt(scale))
// (K sqrt(scale))^T in the input type (rounded for 16-bit inputs), then
// score_mod, softmax, prob_mod, and Y = P V. No masking of its own: a row
// score_mod masks entirely is NaN, as in the reference.
class FlexAttention : public Kernel {
 public:
  explicit FlexAttention(const KernelInfo& info) : node_(info.node) {
    const std::string what = node_.describe();
    has_scale_ = info.node.has("scale");
    scale_ = info.node.attr_f("scale", 0.f);
    for (const char* attr : {"score_mod", "prob_mod"}) {
      if (!info.node.has(attr)) continue;
      std::unique_ptr<Subgraph> g = info.subgraph(attr);
      PIONNX_ENFORCE(g->graph().inputs.size() == 1 && g->graph().outputs.size() == 1, InvalidGraph, what, ": ", attr,
                     " must have one input and one output, got ", g->graph().inputs.size(), " and ",
                     g->graph().outputs.size());
      (std::string(attr) == "score_mod" ? score_mod_ : prob_mod_) = std::move(g);
    }
    compute_ = softmax_precision_attr(info.node, DType::Undefined);
  }

  void compute(KernelContext& ctx) const override {
    const std::string what = node_.describe();
    const Tensor& q_in = ctx.input(0);
    const Tensor& k_in = ctx.input(1);
    const Tensor& v_in = ctx.input(2);
    PIONNX_ENFORCE(q_in.rank() == 4 && k_in.rank() == 4 && v_in.rank() == 4, InvalidArgument, what,
                   ": Q, K, V must be 4-D [B, H, S, D], got ", shape_str(q_in.shape()), ", ", shape_str(k_in.shape()),
                   ", ", shape_str(v_in.shape()));
    const Tensor q = to_float32(q_in), k = to_float32(k_in), v = to_float32(v_in);
    const HeadView qv = head_view(q.shape(), 0, what, "Q"), kv = head_view(k.shape(), 0, what, "K"),
                   vv = head_view(v.shape(), 0, what, "V");
    const int64_t B = qv.batch, Hq = qv.heads, L = qv.seq, S = kv.seq, Dv = vv.dim;
    PIONNX_ENFORCE(kv.batch == B && vv.batch == B && kv.dim == qv.dim && vv.heads == kv.heads && vv.seq == S,
                   InvalidArgument, what, ": K ", shape_str(k.shape()), " / V ", shape_str(v.shape()),
                   " do not match Q ", shape_str(q.shape()));
    PIONNX_ENFORCE(kv.heads > 0 && Hq % kv.heads == 0, InvalidArgument, what, ": q heads ", Hq,
                   " must be a multiple of kv heads ", kv.heads);
    const DType compute = compute_ != DType::Undefined    ? compute_
                          : q_in.dtype() == DType::Double ? DType::Double
                                                          : DType::Float;
    const Precision in_round = precision_of(q_in.dtype()), sm_round = precision_of(compute);

    // scores [B, Hq, L, S]
    AttendArgs a{};
    a.q = q.data<float>();
    a.qv = qv;
    a.k = k.data<float>();
    a.kv = kv;
    Tensor q_scaled, k_scaled;
    prescale(a, has_scale_ ? scale_ : 1.f / std::sqrt(static_cast<float>(qv.dim)), in_round, q_scaled, k_scaled);
    Tensor scores(DType::Float, {B, Hq, L, S});
    const int64_t reps = Hq / kv.heads;
    ctx.pool().parallel_for(B * Hq, 1, [&](int64_t begin, int64_t end) {
      for (int64_t bh = begin; bh < end; ++bh) {
        const int64_t b = bh / Hq, h = bh % Hq;
        float* sp = scores.data<float>() + bh * L * S;
        simd::sgemm(false, true, L, S, a.qv.dim, a.scale, a.q + b * a.qv.s_batch + h * a.qv.s_head, a.qv.s_seq,
                    a.k + b * a.kv.s_batch + (h / reps) * a.kv.s_head, a.kv.s_seq, 0.f, sp, S);
        round_block(sp, L * S, in_round);
      }
    });
    if (score_mod_) scores = run_mod(*score_mod_, scores, compute, ctx, "score_mod");
    ctx.pool().parallel_for(B * Hq * L, 16, [&](int64_t begin, int64_t end) {
      for (int64_t r = begin; r < end; ++r) {
        float* row = scores.data<float>() + r * S;
        if (sm_round != Precision::Float) {
          round_block(row, S, sm_round);
          softmax_rounded(row, S, sm_round);
        } else {
          fastmath::softmax_block(row, row, S);
        }
      }
    });
    if (prob_mod_) scores = run_mod(*prob_mod_, scores, compute, ctx, "prob_mod");
    Tensor y(DType::Float, {B, Hq, L, Dv});
    ctx.pool().parallel_for(B * Hq, 1, [&](int64_t begin, int64_t end) {
      for (int64_t bh = begin; bh < end; ++bh) {
        const int64_t b = bh / Hq, h = bh % Hq;
        simd::sgemm(false, false, L, Dv, S, 1.f, scores.data<float>() + bh * L * S, S,
                    v.data<float>() + b * vv.s_batch + (h / reps) * vv.s_head, vv.s_seq, 0.f,
                    y.data<float>() + bh * L * Dv, Dv);
        round_block(y.data<float>() + bh * L * Dv, L * Dv, sm_round);
      }
    });
    ctx.set_output(0, cast_tensor(y, v_in.dtype()));
  }

 private:
  // Runs a modifier subgraph on x (float32, shown to it as `compute`); its
  // one output must keep x's shape and that type.
  Tensor run_mod(const Subgraph& g, const Tensor& x, DType compute, KernelContext& ctx, const char* attr) const {
    const Value in(cast_tensor(x, compute));
    std::vector<Value> outs = g.run({&in}, ctx.pool(), ctx.scope(), {0});
    PIONNX_ENFORCE(outs.size() == 1 && outs[0].is_tensor(), InvalidGraph, node_.describe(), ": ", attr,
                   " must produce one tensor");
    const Tensor& out = outs[0].tensor;
    PIONNX_ENFORCE(out.shape() == x.shape() && out.dtype() == compute, InvalidGraph, node_.describe(), ": ", attr,
                   " must return its input's shape ", shape_str(x.shape()), " and type ", dtype_name(compute), ", got ",
                   shape_str(out.shape()), " ", dtype_name(out.dtype()));
    return to_float32(out);
  }

  const Node& node_;
  bool has_scale_ = false;
  float scale_ = 0.f;
  DType compute_ = DType::Undefined;  // softmax_precision, Undefined: by the input type
  std::unique_ptr<Subgraph> score_mod_, prob_mod_;
};

}  // namespace

void register_attention(KernelRegistry& r) {
  r.add<Attention>("", "Attention");
  r.add<MultiHeadAttention>("com.microsoft", "MultiHeadAttention");
  r.add<FlexAttention>("ai.onnx.preview", "FlexAttention");
}

}  // namespace pionnx
