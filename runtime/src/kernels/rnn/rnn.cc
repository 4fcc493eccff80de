// RNN, GRU, LSTM (ONNX semantics: all directions, layouts, sequence_lens,
// initial states, peepholes, clip, custom activations). The input
// projection X*W^T is one SGEMM over all time steps; the recurrence does one
// SGEMM per step.
#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstring>
#include <string>

#include "kernels/base/cast.h"
#include "kernels/base/families.h"
#include "kernels/base/kernel.h"
#include "kernels/base/weight_cache.h"
#include "kernels/simd/elementwise_math.h"
#include "kernels/simd/sgemm.h"
#include "platform/thread_pool.h"

namespace pionnx {

namespace {

struct Activation {
  enum Kind {
    Relu,
    Tanh,
    Sigmoid,
    Affine,
    LeakyRelu,
    ThresholdedRelu,
    ScaledTanh,
    HardSigmoid,
    Elu,
    Softsign,
    Softplus
  };
  Kind kind = Tanh;
  float alpha = 0, beta = 0;

  float operator()(float x) const {
    switch (kind) {
      case Sigmoid: return 1.0f / (1.0f + std::exp(-x));
      case ScaledTanh: return alpha * std::tanh(beta * x);
      case Softsign: return x / (1.0f + std::fabs(x));
      case Softplus: return std::log1p(std::exp(x));
      case Tanh: return std::tanh(x);
      case ThresholdedRelu: return x > alpha ? x : 0.0f;
      case Relu: return x > 0 ? x : 0.0f;
      case Affine: return alpha * x + beta;
      case LeakyRelu: return x >= 0 ? x : alpha * x;
      case HardSigmoid: return std::max(0.0f, std::min(1.0f, alpha * x + beta));
      case Elu: return x >= 0 ? x : alpha * (std::exp(x) - 1.0f);
    }
    return x;
  }
  // In place over a gate's n values: the vectorized forms where there are.
  void apply(float* v, int64_t n) const {
    if (kind == Sigmoid) return fastmath::sigmoid_block(v, v, n);
    if (kind == Tanh) return fastmath::tanh_block(v, v, n);
    for (int64_t j = 0; j < n; ++j) v[j] = (*this)(v[j]);
  }
};

// Parses `activations` with alpha/beta consumed in order; defaults per op.
std::vector<Activation> parse_activations(const Node& n, const std::vector<std::string>& defaults, int num_dir) {
  std::vector<std::string> names = n.attr_strings("activations");
  std::vector<float> alphas = n.attr_floats("activation_alpha"), betas = n.attr_floats("activation_beta");
  if (names.empty())
    for (int d = 0; d < num_dir; ++d) names.insert(names.end(), defaults.begin(), defaults.end());
  PIONNX_ENFORCE(names.size() == defaults.size() * num_dir, InvalidGraph, n.describe(), ": expected ",
                 defaults.size() * num_dir, " activations, got ", names.size());
  using A = Activation;
  struct Known {
    const char* name;
    A::Kind kind;
    float alpha, beta;
    bool takes_alpha, takes_beta;
  };
  static const Known known[] = {{"Relu", A::Relu, 0, 0, false, false},
                                {"Tanh", A::Tanh, 0, 0, false, false},
                                {"Sigmoid", A::Sigmoid, 0, 0, false, false},
                                {"Affine", A::Affine, 1, 0, true, true},
                                {"LeakyRelu", A::LeakyRelu, 0.01f, 0, true, false},
                                {"ThresholdedRelu", A::ThresholdedRelu, 1, 0, true, false},
                                {"ScaledTanh", A::ScaledTanh, 1, 1, true, true},
                                {"HardSigmoid", A::HardSigmoid, 0.2f, 0.5f, true, true},
                                {"Elu", A::Elu, 1, 0, true, false},
                                {"Softsign", A::Softsign, 0, 0, false, false},
                                {"Softplus", A::Softplus, 0, 0, false, false}};
  std::vector<Activation> out;
  size_t ai = 0, bi = 0;
  for (const std::string& name : names) {
    const Known* it = std::find_if(std::begin(known), std::end(known), [&](const Known& k) {
      const std::string kn = k.name;
      return kn.size() == name.size() && std::equal(name.begin(), name.end(), kn.begin(),
                                                    [](char a, char b) { return std::tolower(a) == std::tolower(b); });
    });
    PIONNX_ENFORCE(it != std::end(known), NotImplemented, n.describe(), ": activation '", name, "' is not supported");
    Activation a{it->kind, it->alpha, it->beta};
    if (it->takes_alpha && ai < alphas.size()) a.alpha = alphas[ai++];
    if (it->takes_beta && bi < betas.size()) a.beta = betas[bi++];
    out.push_back(a);
  }
  return out;
}

enum class Cell { RNN, GRU, LSTM };

// Gate columns per panel of the cached R^T (see Recurrent::compute).
constexpr int64_t kPanel = 64;

class Recurrent : public Kernel {
 public:
  Recurrent(const KernelInfo& info, Cell cell)
      : cell_(cell),
        rt_cache_(info.constant_input(2)),
        wp_cache_(info.constant_input(1)),
        rp_cache_(info.constant_input(2)) {
    const Node& n = info.node;
    std::string dir = n.attr_s("direction", "forward");
    PIONNX_ENFORCE(dir == "forward" || dir == "reverse" || dir == "bidirectional", InvalidGraph, n.describe(),
                   ": unknown direction '", dir, "'");
    reverse_only_ = dir == "reverse";
    num_dir_ = dir == "bidirectional" ? 2 : 1;
    hidden_ = n.attr_i("hidden_size", 0);
    clip_ = n.attr_f("clip", 0.0f);
    layout_ = n.attr_i("layout", 0);
    input_forget_ = n.attr_i("input_forget", 0) != 0;
    linear_before_reset_ = n.attr_i("linear_before_reset", 0) != 0;
    gates_ = cell == Cell::RNN ? 1 : cell == Cell::GRU ? 3 : 4;
    std::vector<std::string> defaults = cell == Cell::RNN   ? std::vector<std::string>{"Tanh"}
                                        : cell == Cell::GRU ? std::vector<std::string>{"Sigmoid", "Tanh"}
                                                            : std::vector<std::string>{"Sigmoid", "Tanh", "Tanh"};
    acts_ = parse_activations(n, defaults, num_dir_);
  }

  void compute(KernelContext& ctx) const override {
    const Node& n = ctx.node();
    Tensor X = to_float32(ctx.input(0)), W = to_float32(ctx.input(1)), R = to_float32(ctx.input(2));
    DType out_type = ctx.input(0).dtype();
    PIONNX_ENFORCE(X.rank() == 3 && W.rank() == 3 && R.rank() == 3, InvalidArgument, n.describe(),
                   ": X, W and R must be 3-D");
    int64_t seq = X.shape()[layout_ ? 1 : 0], batch = X.shape()[layout_ ? 0 : 1], in = X.shape()[2];
    int64_t H = hidden_ > 0 ? hidden_ : R.shape()[2];
    int64_t G = gates_ * H;
    PIONNX_ENFORCE(W.shape() == (Shape{num_dir_, G, in}), InvalidArgument, n.describe(), ": W has shape ",
                   shape_str(W.shape()), ", expected ", shape_str({num_dir_, G, in}));
    PIONNX_ENFORCE(R.shape() == (Shape{num_dir_, G, H}), InvalidArgument, n.describe(), ": R has shape ",
                   shape_str(R.shape()), ", expected ", shape_str({num_dir_, G, H}));
    // Time-major copy of X: [seq, batch, in].
    std::vector<float> x(static_cast<size_t>(seq * batch * in));
    for (int64_t t = 0; t < seq; ++t)
      for (int64_t b = 0; b < batch; ++b)
        std::memcpy(&x[(t * batch + b) * in], X.data<float>() + (layout_ ? (b * seq + t) : (t * batch + b)) * in,
                    in * sizeof(float));
    std::vector<int64_t> lens(static_cast<size_t>(batch), seq);
    if (const Tensor* sl = ctx.optional_input(4)) {
      lens = tensor_to_int64s(*sl);
      PIONNX_ENFORCE(static_cast<int64_t>(lens.size()) == batch, InvalidArgument, n.describe(), ": sequence_lens has ",
                     lens.size(), " entries for batch ", batch);
      for (int64_t& l : lens) l = std::max<int64_t>(0, std::min(l, seq));
    }
    Tensor B = ctx.optional_input(3) ? to_float32(*ctx.optional_input(3)) : Tensor();
    Tensor H0 = ctx.optional_input(5) ? to_float32(*ctx.optional_input(5)) : Tensor();
    Tensor C0 = cell_ == Cell::LSTM && ctx.optional_input(6) ? to_float32(*ctx.optional_input(6)) : Tensor();
    Tensor P = cell_ == Cell::LSTM && ctx.optional_input(7) ? to_float32(*ctx.optional_input(7)) : Tensor();
    // The optional inputs are read at fixed offsets per direction and batch
    // row: their sizes are checked like W's and R's (a wrong B read past its
    // buffer; found by nox -s fuzz).
    auto check_size = [&](const Tensor& t, int64_t want, const char* name, const char* form) {
      PIONNX_ENFORCE(!t.defined() || t.numel() == want, InvalidArgument, n.describe(), ": ", name, " has shape ",
                     shape_str(t.shape()), ", expected ", form, " (", want, " values)");
    };
    check_size(B, num_dir_ * 2 * G, "B", "[num_directions, 2 x gates x hidden_size]");
    check_size(H0, num_dir_ * batch * H, "initial_h", "[num_directions, batch, hidden_size]");
    check_size(C0, num_dir_ * batch * H, "initial_c", "[num_directions, batch, hidden_size]");
    check_size(P, num_dir_ * 3 * H, "P", "[num_directions, 3 x hidden_size]");

    std::vector<float> Y(static_cast<size_t>(seq * num_dir_ * batch * H), 0.0f);
    std::vector<float> Yh(static_cast<size_t>(num_dir_ * batch * H)), Yc(Yh.size());
    std::vector<float> xw(static_cast<size_t>(seq * batch * G)), hr(static_cast<size_t>(batch * G));
    std::vector<float> scratch(static_cast<size_t>(4 * H + kPanel));
    // R^T per direction in panels of kPanel gate columns: panel p is an
    // [H, kPanel] row-major block (the last one zero padded), so each step's
    // vector (batch 1) or thin-matrix product streams every panel contiguously
    // instead of striding G floats from row to row (a page per row at
    // G = 1024). Made once for a constant R. A Tensor, so 64-byte aligned:
    // the vector loads of each step must not straddle cache lines.
    const int64_t npanels = (G + kPanel - 1) / kPanel, per_dir = npanels * H * kPanel;
    auto transpose_r = [&](const Tensor& rr) {
      Tensor t(DType::Float, {num_dir_, npanels, H, kPanel});
      std::memset(t.raw(), 0, static_cast<size_t>(num_dir_ * per_dir) * sizeof(float));
      for (int64_t d = 0; d < num_dir_; ++d) {
        const float* src = rr.data<float>() + d * G * H;
        float* dst = t.data<float>() + d * per_dir;
        for (int64_t g = 0; g < G; ++g)
          for (int64_t k = 0; k < H; ++k) dst[(g / kPanel * H + k) * kPanel + g % kPanel] = src[g * H + k];
      }
      return t;
    };
    // Constant W and R (a model's weights) packed once per direction for the SGEMM: W for the input projection, R
    // for the recurrence of several batch rows (one product of the whole batch a step). One batch row keeps R^T's
    // panels below instead: its product is a vector's, bound by reading R.
    auto pack_dirs = [&](int64_t rows) {
      return [&, rows](const Tensor& m) {
        PackedDirs v;
        for (int64_t d = 0; d < num_dir_; ++d)
          v.push_back(simd::sgemm_pack_b(true, rows, G, m.data<float>() + d * G * rows, rows));
        return v;
      };
    };
    const PackedDirs* wp = ctx.input(1).dtype() == DType::Float ? wp_cache_.get(W, pack_dirs(in)) : nullptr;
    const PackedDirs* rp = batch > 1 && ctx.input(2).dtype() == DType::Float ? rp_cache_.get(R, pack_dirs(H)) : nullptr;
    Tensor rt_run;
    const Tensor* rt_all = nullptr;
    if (batch == 1) {
      rt_all = ctx.input(2).dtype() == DType::Float ? rt_cache_.get(R, transpose_r) : nullptr;
      if (!rt_all) rt_all = &(rt_run = transpose_r(R));
    }
    for (int64_t d = 0; d < num_dir_; ++d) {
      bool rev = reverse_only_ || d == 1;
      const float* w = W.data<float>() + d * G * in;
      const float* r = R.data<float>() + d * G * H;
      // xw = X * W^T + Wb (+ Rb for all but GRU's h gate when linear_before_reset).
      if (wp) simd::sgemm_packed_b(false, seq * batch, 1.0f, x.data(), in, (*wp)[d], 0.0f, xw.data(), G, &ctx.pool());
      else simd::sgemm(false, true, seq * batch, G, in, 1.0f, x.data(), in, w, in, 0.0f, xw.data(), G, &ctx.pool());
      std::vector<float> wb(static_cast<size_t>(G), 0.0f), rb(static_cast<size_t>(G), 0.0f);
      if (B.defined()) {
        std::memcpy(wb.data(), B.data<float>() + d * 2 * G, G * sizeof(float));
        std::memcpy(rb.data(), B.data<float>() + d * 2 * G + G, G * sizeof(float));
      }
      std::vector<float> h(static_cast<size_t>(batch * H), 0.0f), c(h.size(), 0.0f);
      if (H0.defined()) copy_state(H0, d, batch, H, h);
      if (C0.defined()) copy_state(C0, d, batch, H, c);
      const float* p = P.defined() ? P.data<float>() + d * 3 * H : nullptr;
      const Activation* act = &acts_[d * (acts_.size() / num_dir_)];
      const float* rt = rt_all ? rt_all->data<float>() + d * per_dir : nullptr;
      // The step's product, split by panels of gate columns over the pool.
      const bool split = ctx.pool().size() > 1 && batch * G * H >= (int64_t{1} << 16);
      // GRU with the reset gate applied before the product (linear_before_reset 0), one batch row: the step's
      // product takes only the panels of the z and r gates' columns, and the h gate's product, (r . h) * Rh^T,
      // runs over R^T's panels of that gate's columns (step_cell): the whole product made the h gate's columns
      // for nothing, and the h gate's own by R's rows was a dot product per column (1.28x onnxruntime's time).
      const bool gru_gated = cell_ == Cell::GRU && !linear_before_reset_ && batch == 1 && rt != nullptr;
      const int64_t rec_panels = gru_gated ? (2 * H + kPanel - 1) / kPanel : npanels;
      for (int64_t step = 0; step < seq; ++step) {
        int64_t t = rev ? seq - 1 - step : step;
        // h * R^T for the whole batch (GRU's h gate is redone per batch row
        // below when the reset gate applies before the product).
        // Panels in turn forward and backward: the panels read last are read first in the next step, while
        // they are still in cache (R^T is read whole every step and, at 256 hidden units, is as large as a
        // 1 MiB L2, where a cyclic read order would miss all of it).
        auto recur = [&](int64_t p0, int64_t p1) {
          for (int64_t i = p0; i < p1; ++i) {
            const int64_t pn = step % 2 ? p1 - 1 - (i - p0) : i;
            const int64_t j0 = pn * kPanel, cols = std::min(kPanel, G - j0);
            simd::sgemm(false, false, batch, cols, H, 1.0f, h.data(), H, rt + pn * H * kPanel, kPanel, 0.0f,
                        hr.data() + j0, G, nullptr);
          }
        };
        if (batch > 1) {
          ThreadPool* pool = split ? &ctx.pool() : nullptr;
          if (rp) simd::sgemm_packed_b(false, batch, 1.0f, h.data(), H, (*rp)[d], 0.0f, hr.data(), G, pool);
          else simd::sgemm(false, true, batch, G, H, 1.0f, h.data(), H, r, H, 0.0f, hr.data(), G, pool);
        } else if (split) {
          ctx.pool().parallel_for(rec_panels, std::max<int64_t>(1, 128 / kPanel), recur);
        } else {
          recur(0, rec_panels);
        }
        for (int64_t b = 0; b < batch; ++b) {
          // Reverse direction with sequence_lens: row b starts at lens[b]-1.
          int64_t tb = rev ? lens[b] - 1 - step : t;
          if (tb < 0 || tb >= lens[b]) continue;
          const float* xg = &xw[(tb * batch + b) * G];
          float* hb = &h[b * H];
          float* cb = &c[b * H];
          const float* hrb = &hr[b * G];
          step_cell(xg, hrb, wb.data(), rb.data(), r, gru_gated ? rt : nullptr, p, act, hb, cb, H, scratch.data());
          std::memcpy(&Y[((tb * num_dir_ + d) * batch + b) * H], hb, H * sizeof(float));
        }
      }
      for (int64_t b = 0; b < batch; ++b) {
        std::memcpy(&Yh[(d * batch + b) * H], &h[b * H], H * sizeof(float));
        std::memcpy(&Yc[(d * batch + b) * H], &c[b * H], H * sizeof(float));
      }
    }
    emit(ctx, 0, Y, layout_ ? Shape{batch, seq, num_dir_, H} : Shape{seq, num_dir_, batch, H}, seq, batch, H, true,
         out_type);
    emit(ctx, 1, Yh, layout_ ? Shape{batch, num_dir_, H} : Shape{num_dir_, batch, H}, 1, batch, H, false, out_type);
    if (cell_ == Cell::LSTM)
      emit(ctx, 2, Yc, layout_ ? Shape{batch, num_dir_, H} : Shape{num_dir_, batch, H}, 1, batch, H, false, out_type);
  }

 private:
  float clip(float v) const { return clip_ > 0 ? std::max(-clip_, std::min(clip_, v)) : v; }

  void copy_state(const Tensor& s, int64_t d, int64_t batch, int64_t H, std::vector<float>& dst) const {
    for (int64_t b = 0; b < batch; ++b)
      std::memcpy(&dst[b * H], s.data<float>() + (layout_ ? (b * num_dir_ + d) : (d * batch + b)) * H,
                  H * sizeof(float));
  }

  void clip_block(float* v, int64_t n) const {
    if (clip_ > 0)
      for (int64_t j = 0; j < n; ++j) v[j] = clip(v[j]);
  }

  // One time step of one batch row. `scratch` holds 4 * H + kPanel floats. rt: the direction's R^T panels
  // (GRU, linear_before_reset 0, one batch row: the h gate's product over them), or nullptr.
  void step_cell(const float* xg, const float* hr, const float* wb, const float* rb, const float* r, const float* rt,
                 const float* p, const Activation* act, float* h, float* c, int64_t H, float* scratch) const {
    if (cell_ == Cell::RNN) {
      for (int64_t j = 0; j < H; ++j) h[j] = act[0](clip(xg[j] + hr[j] + wb[j] + rb[j]));
      return;
    }
    if (cell_ == Cell::LSTM) {
      // Gate order i, o, f, c; peepholes P = [Pi, Po, Pf]. Pre-activations
      // of i, f and c first (i and f peep at the old cell state), then the
      // cell update, then o, which peeps at the new one.
      float *gi = scratch, *gf = scratch + H, *gc = scratch + 2 * H, *go = scratch + 3 * H;
      for (int64_t j = 0; j < H; ++j) {
        gi[j] = xg[j] + hr[j] + wb[j] + rb[j];
        gf[j] = xg[2 * H + j] + hr[2 * H + j] + wb[2 * H + j] + rb[2 * H + j];
        gc[j] = xg[3 * H + j] + hr[3 * H + j] + wb[3 * H + j] + rb[3 * H + j];
        go[j] = xg[H + j] + hr[H + j] + wb[H + j] + rb[H + j];
      }
      if (p)
        for (int64_t j = 0; j < H; ++j) {
          gi[j] += p[j] * c[j];
          gf[j] += p[2 * H + j] * c[j];
        }
      clip_block(gi, 3 * H);
      act[0].apply(gi, H);
      if (input_forget_)
        for (int64_t j = 0; j < H; ++j) gf[j] = 1.0f - gi[j];
      else act[0].apply(gf, H);
      act[1].apply(gc, H);
      for (int64_t j = 0; j < H; ++j) c[j] = gf[j] * c[j] + gi[j] * gc[j];
      if (p)
        for (int64_t j = 0; j < H; ++j) go[j] += p[H + j] * c[j];
      clip_block(go, H);
      act[0].apply(go, H);
      std::memcpy(gc, c, static_cast<size_t>(H) * sizeof(float));
      act[2].apply(gc, H);
      for (int64_t j = 0; j < H; ++j) h[j] = go[j] * gc[j];
      return;
    }
    // GRU, gate order z, r, h: z and r side by side in scratch, so one vector pass activates both.
    float *z = scratch, *rg = scratch + H, *hh = scratch + 2 * H;
    for (int64_t j = 0; j < H; ++j) {
      z[j] = xg[j] + hr[j] + wb[j] + rb[j];
      rg[j] = xg[H + j] + hr[H + j] + wb[H + j] + rb[H + j];
    }
    clip_block(z, 2 * H);
    act[0].apply(z, 2 * H);
    if (linear_before_reset_) {
      for (int64_t j = 0; j < H; ++j) hh[j] = xg[2 * H + j] + wb[2 * H + j] + rg[j] * (hr[2 * H + j] + rb[2 * H + j]);
    } else {
      // (r . h) * Rh^T: the reset-gated state's own product, one vector by Rh's rows (the SGEMM's dot products).
      float* gated = scratch + 3 * H;
      for (int64_t j = 0; j < H; ++j) gated[j] = rg[j] * h[j];
      if (rt) {
        // The panels holding gate columns 2H .. 3H: each product into a panel-wide buffer, its h-gate columns
        // copied out (a panel may begin among the r gate's columns or end past G).
        float* part = scratch + 4 * H;
        const int64_t G = 3 * H;
        for (int64_t pn = 2 * H / kPanel; pn * kPanel < G; ++pn) {
          const int64_t j0 = pn * kPanel;
          simd::sgemm(false, false, 1, kPanel, H, 1.0f, gated, H, rt + pn * H * kPanel, kPanel, 0.0f, part, kPanel,
                      nullptr);
          for (int64_t j = std::max(j0, 2 * H); j < std::min(j0 + kPanel, G); ++j) hh[j - 2 * H] = part[j - j0];
        }
      } else {
        simd::sgemm(false, true, 1, H, H, 1.0f, gated, H, r + 2 * H * H, H, 0.0f, hh, H, nullptr);
      }
      for (int64_t j = 0; j < H; ++j) hh[j] += xg[2 * H + j] + wb[2 * H + j] + rb[2 * H + j];
    }
    clip_block(hh, H);
    act[1].apply(hh, H);
    for (int64_t j = 0; j < H; ++j) h[j] = (1.0f - z[j]) * hh[j] + z[j] * h[j];
  }

  // Writes a [seq-or-1, num_dir, batch, H] buffer in the requested layout.
  void emit(KernelContext& ctx, size_t i, const std::vector<float>& buf, const Shape& shape, int64_t seq, int64_t batch,
            int64_t H, bool has_seq, DType out_type) const {
    if (!ctx.wants_output(i)) return;
    Tensor out(DType::Float, shape);
    float* o = out.data<float>();
    for (int64_t t = 0; t < seq; ++t)
      for (int64_t d = 0; d < num_dir_; ++d)
        for (int64_t b = 0; b < batch; ++b) {
          const float* src = &buf[((t * num_dir_ + d) * batch + b) * H];
          int64_t dst = layout_ ? (has_seq ? ((b * seq + t) * num_dir_ + d) : (b * num_dir_ + d))
                                : ((t * num_dir_ + d) * batch + b);
          std::memcpy(o + dst * H, src, H * sizeof(float));
        }
    ctx.set_output(i, out_type == DType::Float ? out : cast_tensor(out, out_type));
  }

  Cell cell_;
  bool reverse_only_ = false;
  int64_t num_dir_ = 1, hidden_ = 0, layout_ = 0, gates_ = 1;
  float clip_ = 0;
  bool input_forget_ = false, linear_before_reset_ = false;
  std::vector<Activation> acts_;
  using PackedDirs = std::vector<simd::SgemmPackedB>;
  ConstantWeightCache<Tensor> rt_cache_;      // R^T in panels (one batch row)
  ConstantWeightCache<PackedDirs> wp_cache_;  // W packed per direction (the input projection)
  ConstantWeightCache<PackedDirs> rp_cache_;  // R packed per direction (the recurrence of several batch rows)
};

struct RNN : Recurrent {
  explicit RNN(const KernelInfo& i) : Recurrent(i, Cell::RNN) {}
};
struct GRU : Recurrent {
  explicit GRU(const KernelInfo& i) : Recurrent(i, Cell::GRU) {}
};
struct LSTM : Recurrent {
  explicit LSTM(const KernelInfo& i) : Recurrent(i, Cell::LSTM) {}
};

}  // namespace

// The rnn family's one file, and its registration.
void register_rnn_family(KernelRegistry& r) { r.add_all("", {impl<RNN>("RNN"), impl<GRU>("GRU"), impl<LSTM>("LSTM")}); }

}  // namespace pionnx
