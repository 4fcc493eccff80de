// Random generators: RandomNormal(Like), RandomUniform(Like), Bernoulli and
// Multinomial.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <mutex>
#include <random>

#include "kernels/base/cast.h"
#include "kernels/base/kernel.h"

namespace pionnx {

namespace {

// The generator seed for a float `seed` attribute: its integer value, as
// onnxruntime takes it; a NaN, an infinity or a value past int64's range
// (converting those is undefined behaviour) gives its bit pattern instead.
uint64_t seed_of(float s) {
  if (std::isfinite(s) && std::fabs(s) < 9.2e18f) return static_cast<uint64_t>(static_cast<int64_t>(s));
  uint32_t bits;
  std::memcpy(&bits, &s, sizeof bits);
  return bits;
}

// Random generators: seeded from the `seed` attribute when given, else from
// the system. The state lives in the kernel, so successive runs differ.
class RandomBase : public Kernel {
 public:
  explicit RandomBase(const KernelInfo& info) : node_(info.node) {
    if (info.node.has("seed")) gen_.seed(seed_of(info.node.attr_f("seed", 0)));
    else gen_.seed((static_cast<uint64_t>(std::random_device{}()) << 32) ^ std::random_device{}());
  }

 protected:
  DType output_dtype(const Tensor* like) const {
    const int64_t code =
        node_.attr_i("dtype", like ? static_cast<int64_t>(like->dtype()) : static_cast<int64_t>(DType::Float));
    PIONNX_ENFORCE(dtype_is_valid(static_cast<int32_t>(code)), InvalidArgument, node_.describe(), ": invalid dtype ",
                   code);
    return static_cast<DType>(code);
  }
  // Fills a double tensor of `shape` with fn() and casts it to `dt`. fn may
  // draw from gen_: the generator is held for the whole fill, so concurrent
  // runs of one session each take a contiguous stretch of the sequence.
  template <typename Fn>
  Tensor generate(DType dt, const Shape& shape, Fn&& fn) const {
    Tensor t(DType::Double, shape);
    double* p = t.data<double>();
    {
      std::lock_guard<std::mutex> lk(gen_mu_);
      for (int64_t i = 0; i < t.numel(); ++i) p[i] = fn(i);
    }
    return cast_tensor(t, dt);
  }

  const Node& node_;
  mutable std::mutex gen_mu_;
  mutable std::mt19937_64 gen_;  // guarded by gen_mu_
};

class RandomNormal : public RandomBase {
 public:
  explicit RandomNormal(const KernelInfo& info) : RandomBase(info), like_(info.node.op_type == "RandomNormalLike") {}
  void compute(KernelContext& ctx) const override {
    const Tensor* in = like_ ? &ctx.input(0) : nullptr;
    const Shape shape = in ? in->shape() : node_.require("shape").ints;
    std::normal_distribution<double> dist(node_.attr_f("mean", 0.f), node_.attr_f("scale", 1.f));
    ctx.set_output(0, generate(output_dtype(in), shape, [&](int64_t) { return dist(gen_); }));
  }

 private:
  bool like_;
};

class RandomUniform : public RandomBase {
 public:
  explicit RandomUniform(const KernelInfo& info) : RandomBase(info), like_(info.node.op_type == "RandomUniformLike") {}
  void compute(KernelContext& ctx) const override {
    const Tensor* in = like_ ? &ctx.input(0) : nullptr;
    const Shape shape = in ? in->shape() : node_.require("shape").ints;
    std::uniform_real_distribution<double> dist(node_.attr_f("low", 0.f), node_.attr_f("high", 1.f));
    ctx.set_output(0, generate(output_dtype(in), shape, [&](int64_t) { return dist(gen_); }));
  }

 private:
  bool like_;
};

class Bernoulli : public RandomBase {
 public:
  using RandomBase::RandomBase;
  void compute(KernelContext& ctx) const override {
    const Tensor& x = ctx.input(0);
    const Tensor p = cast_tensor(x, DType::Double);
    const double* pp = p.data<double>();
    std::uniform_real_distribution<double> u(0.0, 1.0);
    ctx.set_output(0, generate(output_dtype(&x), x.shape(), [&](int64_t i) { return u(gen_) < pp[i] ? 1.0 : 0.0; }));
  }
};

// Multinomial (7+): samples class indices from unnormalized log-probabilities
// [batch, classes].
class Multinomial : public RandomBase {
 public:
  using RandomBase::RandomBase;
  void compute(KernelContext& ctx) const override {
    const Tensor& x = ctx.input(0);
    PIONNX_ENFORCE(x.rank() == 2, InvalidArgument, node_.describe(), ": input must be [batch, classes], got ",
                   shape_str(x.shape()));
    const int64_t B = x.dim(0), C = x.dim(1), S = node_.attr_i("sample_size", 1);
    const DType dt = static_cast<DType>(node_.attr_i("dtype", static_cast<int64_t>(DType::Int32)));
    const Tensor lp = cast_tensor(x, DType::Double);
    const double* l = lp.data<double>();
    std::vector<double> cdf(static_cast<size_t>(C));
    Tensor out(DType::Int64, {B, S});
    int64_t* y = out.data<int64_t>();
    std::uniform_real_distribution<double> u(0.0, 1.0);
    std::lock_guard<std::mutex> lk(gen_mu_);
    for (int64_t b = 0; b < B; ++b) {
      double mx = -INFINITY, total = 0;
      for (int64_t c = 0; c < C; ++c) mx = std::max(mx, l[b * C + c]);
      for (int64_t c = 0; c < C; ++c) cdf[c] = total += std::exp(l[b * C + c] - mx);
      for (int64_t s = 0; s < S; ++s) {
        const double r = u(gen_) * total;
        const int64_t c = std::upper_bound(cdf.begin(), cdf.end(), r) - cdf.begin();
        y[b * S + s] = std::min(c, C - 1);
      }
    }
    ctx.set_output(0, cast_tensor(out, dt));
  }
};

}  // namespace

void register_random(KernelRegistry& r) {
  r.add_all("", {impl<RandomNormal>("RandomNormal"), impl<RandomNormal>("RandomNormalLike"),
                 impl<RandomUniform>("RandomUniform"), impl<RandomUniform>("RandomUniformLike"),
                 impl<Bernoulli>("Bernoulli"), impl<Multinomial>("Multinomial")});
}

}  // namespace pionnx
