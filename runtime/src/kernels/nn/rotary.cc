// RotaryEmbedding (ai.onnx opset 23): rotates the first rotary_embedding_dim
// channels of every head by position-dependent angles.
//
// Input is 4-D [B, H, S, D] or 3-D [B, S, H * D] (num_heads given). The
// caches are [B, S, R/2] when position_ids is absent, else [P, R/2] indexed
// by position_ids [B, S]. Pairs are (x[i], x[i + R/2]) or, interleaved,
// (x[2i], x[2i + 1]); channels past R are copied through.
#include <algorithm>

#include "kernels/base/cast.h"
#include "kernels/base/kernel.h"
#include "platform/thread_pool.h"

namespace pionnx {
namespace {

class RotaryEmbedding : public Kernel {
 public:
  explicit RotaryEmbedding(const KernelInfo& info) : node_(info.node) {
    interleaved_ = info.node.attr_i("interleaved", 0) != 0;
    rotary_dim_ = info.node.attr_i("rotary_embedding_dim", 0);
    num_heads_ = info.node.attr_i("num_heads", 0);
  }

  void compute(KernelContext& ctx) const override {
    const std::string what = node_.describe();
    const Tensor& x_in = ctx.input(0);
    const Tensor cos = to_float32(ctx.input(1));
    const Tensor sin = to_float32(ctx.input(2));
    const Tensor* pos_in = ctx.optional_input(3);
    const Shape& s = x_in.shape();

    // [B, S, H, D] view through strides.
    int64_t B, S, H, D, sb, ss, sh;
    if (s.size() == 4) {
      B = s[0], H = s[1], S = s[2], D = s[3];
      sb = H * S * D, sh = S * D, ss = D;
    } else {
      PIONNX_ENFORCE(s.size() == 3, InvalidArgument, what, ": input must be 3-D or 4-D, got ", shape_str(s));
      PIONNX_ENFORCE(num_heads_ > 0 && s[2] % num_heads_ == 0, InvalidArgument, what,
                     ": 3-D input needs num_heads dividing the hidden size ", s[2], ", got ", num_heads_);
      B = s[0], S = s[1], H = num_heads_, D = s[2] / num_heads_;
      sb = S * s[2], ss = s[2], sh = D;
    }
    const int64_t R = rotary_dim_ > 0 ? rotary_dim_ : D;
    PIONNX_ENFORCE(R <= D && R % 2 == 0, InvalidArgument, what, ": rotary_embedding_dim ", R,
                   " must be even and <= head size ", D);
    const int64_t half = R / 2;
    PIONNX_ENFORCE(cos.dim(-1) == half && sin.dim(-1) == half && cos.shape() == sin.shape(), InvalidArgument, what,
                   ": cos/sin caches ", shape_str(cos.shape()), " / ", shape_str(sin.shape()),
                   " must end in rotary_embedding_dim / 2 = ", half);

    // Row of the caches for (b, s).
    std::vector<int64_t> rows(static_cast<size_t>(B * S));
    if (pos_in) {
      const std::vector<int64_t> pos = tensor_to_int64s(*pos_in);
      PIONNX_ENFORCE(static_cast<int64_t>(pos.size()) == B * S, InvalidArgument, what, ": position_ids ",
                     shape_str(pos_in->shape()), " expected [", B, ", ", S, "]");
      const int64_t P = cos.numel() / half;
      for (size_t i = 0; i < pos.size(); ++i) {
        PIONNX_ENFORCE(pos[i] >= 0 && pos[i] < P, InvalidArgument, what, ": position id ", pos[i], " out of range [0, ",
                       P, ")");
        rows[i] = pos[i];
      }
    } else {
      // [B, S, R/2], or [S, R/2] shared across the batch.
      const int64_t n = cos.numel() / half;
      PIONNX_ENFORCE(n == B * S || n == S, InvalidArgument, what, ": caches ", shape_str(cos.shape()), " expected [", B,
                     ", ", S, ", ", half, "] without position_ids");
      for (int64_t b = 0; b < B; ++b)
        for (int64_t t = 0; t < S; ++t) rows[b * S + t] = n == S ? t : b * S + t;
    }

    const Tensor x = to_float32(x_in);
    Tensor y(DType::Float, s);
    const float* xd = x.data<float>();
    float* yd = y.data<float>();
    const float* cd = cos.data<float>();
    const float* sd = sin.data<float>();
    // Step between the two members of a pair, and between pairs.
    const int64_t pair_off = interleaved_ ? 1 : half, pair_step = interleaved_ ? 2 : 1;
    ctx.pool().parallel_for(B * S, 16, [&](int64_t begin, int64_t end) {
      for (int64_t bs = begin; bs < end; ++bs) {
        const int64_t b = bs / S, t = bs % S;
        const float* c = cd + rows[bs] * half;
        const float* sn = sd + rows[bs] * half;
        for (int64_t h = 0; h < H; ++h) {
          const int64_t off = b * sb + t * ss + h * sh;
          const float* xi = xd + off;
          float* yo = yd + off;
          for (int64_t i = 0; i < half; ++i) {
            const int64_t i1 = i * pair_step, i2 = i1 + pair_off;
            const float x1 = xi[i1], x2 = xi[i2];
            yo[i1] = c[i] * x1 - sn[i] * x2;
            yo[i2] = sn[i] * x1 + c[i] * x2;
          }
          std::copy(xi + R, xi + D, yo + R);
        }
      }
    });
    ctx.set_output(0, cast_tensor(y, x_in.dtype()));
  }

 private:
  const Node& node_;
  bool interleaved_ = false;
  int64_t rotary_dim_ = 0, num_heads_ = 0;
};

}  // namespace

void register_rotary(KernelRegistry& r) { r.add<RotaryEmbedding>("", "RotaryEmbedding"); }

}  // namespace pionnx
