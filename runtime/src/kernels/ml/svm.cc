// Support vector machines of the ai.onnx.ml domain: SVMClassifier (1) and
// SVMRegressor (1), as skl2onnx writes libsvm (SVC, SVR, NuSVC, OneClassSVM)
// and liblinear models.
//
// Two modes, as in onnxruntime: with support vectors (vectors_per_class or
// n_supports > 0) the kernel of X against every support vector is one
// [N, vectors] matrix (an SGEMM for LINEAR, POLY and SIGMOID); without them
// the coefficients are liblinear weights, one row per class, and the kernel
// is LINEAR whatever kernel_type says.
//
// SVMClassifier's outputs follow onnxruntime's, quirks included, so that a
// converted model gives the same labels and scores:
//  - one-vs-one: classifier (i, j) votes for i when its decision value is
//    > 0; the label is the first class with most votes (also with
//    probabilities: the label comes from the votes, not from them);
//  - with prob_a / prob_b, Platt's sigmoid per pair and libsvm's pairwise
//    coupling give [N, classes] probabilities, computed in float in libsvm's
//    order so they agree with onnxruntime's to float rounding;
//  - without them the scores are the [N, pairs] decision values, except for
//    two classes: [-d, d] (NONE), [logistic(-d), logistic(d)] (LOGISTIC),
//    [1 - d, d] (SOFTMAX, SOFTMAX_ZERO), [probit(d), 0] (PROBIT);
//  - liblinear mode, two labels, no probabilities: the second label wins when
//    the top score is > 0 (>= 0.5 when every coefficient is >= 0).
#include <algorithm>
#include <cmath>
#include <map>
#include <string>
#include <vector>

#include "kernels/base/cast.h"
#include "kernels/base/kernel.h"
#include "kernels/ml/ml_common.h"
#include "kernels/simd/sgemm.h"
#include "platform/thread_pool.h"

namespace pionnx {
namespace {

// ---------------------------------------------------------------- the kernel function

enum class SvmKernelType { Linear, Poly, Rbf, Sigmoid };

// K(x, v) from kernel_type and kernel_params [gamma, coef0, degree]:
// LINEAR x.v, POLY (gamma x.v + coef0)^degree, RBF exp(-gamma |x - v|^2),
// SIGMOID tanh(gamma x.v + coef0).
class SvmKernel {
 public:
  explicit SvmKernel(const Node& n) {
    static const std::map<std::string, SvmKernelType> kTypes = {{"LINEAR", SvmKernelType::Linear},
                                                                {"POLY", SvmKernelType::Poly},
                                                                {"RBF", SvmKernelType::Rbf},
                                                                {"SIGMOID", SvmKernelType::Sigmoid}};
    const std::string what = n.describe(), k = n.attr_s("kernel_type", "LINEAR");
    PIONNX_ENFORCE(kTypes.count(k), InvalidGraph, what, ": unknown kernel_type '", k, "'");
    type_ = kTypes.at(k);
    const std::vector<float> p = n.attr_floats("kernel_params");
    PIONNX_ENFORCE(p.empty() || p.size() == 3, InvalidGraph, what,
                   ": kernel_params must be [gamma, coef0, degree], got ", p.size(), " values");
    if (!p.empty()) {
      gamma_ = p[0];
      coef0_ = p[1];
      degree_ = p[2];
    }
  }

  void set_linear() { type_ = SvmKernelType::Linear; }

  // out [n, m] = K(x_r, v_j) for the rows of x [n, f] and of v [m, f].
  void matrix(const float* x, int64_t n, const float* v, int64_t m, int64_t f, float* out, ThreadPool& pool) const {
    if (n == 0 || m == 0) return;
    if (type_ == SvmKernelType::Rbf) {
      const int64_t grain = std::max<int64_t>(1, 16384 / std::max<int64_t>(1, m * f));
      pool.parallel_for(n, grain, [&](int64_t begin, int64_t end) {
        for (int64_t r = begin; r < end; ++r) {
          const float* xr = x + r * f;
          for (int64_t j = 0; j < m; ++j) {
            const float* vj = v + j * f;
            float s = 0.f;
            for (int64_t k = 0; k < f; ++k) {
              const float d = xr[k] - vj[k];
              s += d * d;
            }
            out[r * m + j] = std::exp(-gamma_ * s);
          }
        }
      });
      return;
    }
    const bool linear = type_ == SvmKernelType::Linear;
    simd::sgemm(false, true, n, m, f, linear ? 1.f : gamma_, x, f, v, f, 0.f, out, m, &pool);
    if (linear) return;
    const int64_t total = n * m;
    pool.parallel_for(total, 4096, [&](int64_t begin, int64_t end) {
      for (int64_t i = begin; i < end; ++i) {
        const float s = out[i] + coef0_;
        if (type_ == SvmKernelType::Sigmoid) out[i] = std::tanh(s);
        else if (degree_ == 2.f) out[i] = s * s;
        else if (degree_ == 3.f) out[i] = s * s * s;
        else out[i] = std::pow(s, degree_);
      }
    });
  }

 private:
  SvmKernelType type_ = SvmKernelType::Linear;
  float gamma_ = 0.f, coef0_ = 0.f, degree_ = 0.f;
};

// X [N, F] or [F] of float, double, int64 or int32, as float [N, F].
Tensor svm_input(const Node& node, const Tensor& in, int64_t features, int64_t* n) {
  const std::string what = node.describe();
  const DType t = in.dtype();
  PIONNX_ENFORCE(t == DType::Float || t == DType::Double || t == DType::Int64 || t == DType::Int32, InvalidArgument,
                 what, ": X must be float, double, int64 or int32, got ", dtype_name(t));
  PIONNX_ENFORCE(in.rank() == 1 || in.rank() == 2, InvalidArgument, what, ": X must be [N, F] or [F], got rank ",
                 in.rank());
  PIONNX_ENFORCE(in.dim(-1) == features, InvalidArgument, what, ": X has ", in.dim(-1), " features, the model ",
                 features);
  *n = in.rank() == 1 ? 1 : in.dim(0);
  return cast_tensor(in, DType::Float);
}

// ---------------------------------------------------------------- probabilities

// 1 - logistic(d * a + b): Platt's estimate that the first class of a pair
// wins, computed as libsvm (and onnxruntime) do, in float.
float platt(float d, float a, float b) {
  const float v = d * a + b;
  const float l = 1.f / (1.f + std::exp(-std::fabs(v)));
  return 1.f - (v < 0 ? 1.f - l : l);
}

// Class probabilities p [k] from the pairwise ones r [k, k] (r[i][j] that i
// beats j): the second method of Wu, Lin and Weng (2004), solved by libsvm's
// fixed-point iteration and stopping rule, in float.
void couple(int64_t k, const float* r, float* p) {
  std::vector<float> q(static_cast<size_t>(k * k), 0.f), qp(static_cast<size_t>(k), 0.f);
  for (int64_t t = 0; t < k; ++t) {
    p[t] = 1.f / static_cast<float>(k);
    for (int64_t j = 0; j < t; ++j) {
      q[t * k + t] += r[j * k + t] * r[j * k + t];
      q[t * k + j] = q[j * k + t];
    }
    for (int64_t j = t + 1; j < k; ++j) {
      q[t * k + t] += r[j * k + t] * r[j * k + t];
      q[t * k + j] = -r[j * k + t] * r[t * k + j];
    }
  }
  const float eps = 0.005f / static_cast<float>(k);
  for (int64_t iter = 0, max_iter = std::max<int64_t>(100, k); iter < max_iter; ++iter) {
    float pqp = 0.f;
    for (int64_t t = 0; t < k; ++t) {
      qp[t] = 0.f;
      for (int64_t j = 0; j < k; ++j) qp[t] += q[t * k + j] * p[j];
      pqp += p[t] * qp[t];
    }
    float max_error = 0.f;
    for (int64_t t = 0; t < k; ++t) max_error = std::max(max_error, std::fabs(qp[t] - pqp));
    if (max_error < eps) break;
    for (int64_t t = 0; t < k; ++t) {
      const float diff = (-qp[t] + pqp) / q[t * k + t];
      p[t] += diff;
      pqp = (pqp + diff * (diff * q[t * k + t] + 2 * qp[t])) / (1 + diff) / (1 + diff);
      for (int64_t j = 0; j < k; ++j) {
        qp[j] = (qp[j] + diff * q[t * k + j]) / (1 + diff);
        p[j] /= (1 + diff);
      }
    }
  }
}

// post_transform over n float scores (through the shared double version).
void post_floats(int64_t post, float* v, int64_t n) {
  if (post == kPostNone) return;
  std::vector<double> d(v, v + n);
  post_transform(post, d.data(), n);
  for (int64_t i = 0; i < n; ++i) v[i] = static_cast<float>(d[i]);
}

// First index of the maximum (a later equal value does not win).
template <typename T>
int64_t first_max(const T* v, int64_t n) {
  int64_t best = 0;
  for (int64_t i = 1; i < n; ++i)
    if (v[best] < v[i]) best = i;
  return best;
}

// ---------------------------------------------------------------- SVMClassifier

class SvmClassifier : public Kernel {
 public:
  explicit SvmClassifier(const KernelInfo& info) : node_(info.node), kernel_(info.node) {
    const Node& n = info.node;
    const std::string what = n.describe();
    int_labels_ = n.attr_ints("classlabels_ints");
    str_labels_ = n.attr_strings("classlabels_strings");
    PIONNX_ENFORCE(int_labels_.empty() != str_labels_.empty(), InvalidGraph, what,
                   ": needs exactly one of classlabels_ints and classlabels_strings");
    classes_ = static_cast<int64_t>(std::max(int_labels_.size(), str_labels_.size()));
    PIONNX_ENFORCE(classes_ >= 2, InvalidGraph, what, ": needs at least two class labels, got ", classes_);
    coef_ = n.attr_floats("coefficients");
    rho_ = n.attr_floats("rho");
    prob_a_ = n.attr_floats("prob_a");
    prob_b_ = n.attr_floats("prob_b");
    sv_ = n.attr_floats("support_vectors");
    per_class_ = n.attr_ints("vectors_per_class");
    post_ = post_transform_code(n);
    PIONNX_ENFORCE(prob_a_.size() == prob_b_.size(), InvalidGraph, what, ": prob_a has ", prob_a_.size(),
                   " values, prob_b ", prob_b_.size());
    PIONNX_ENFORCE(!coef_.empty() && !rho_.empty(), InvalidGraph, what, ": coefficients and rho must not be empty");
    for (int64_t c : per_class_) {
      PIONNX_ENFORCE(c >= 0, InvalidGraph, what, ": vectors_per_class has a negative count ", c);
      starts_.push_back(vectors_);
      vectors_ += c;
    }
    const size_t pairs = static_cast<size_t>(classes_ * (classes_ - 1) / 2);
    if (vectors_ > 0) {  // libsvm: support vectors [V, F], coefficients [classes - 1, V]
      PIONNX_ENFORCE(static_cast<int64_t>(per_class_.size()) == classes_, InvalidGraph, what,
                     ": vectors_per_class has ", per_class_.size(), " entries for ", classes_, " classes");
      PIONNX_ENFORCE(!sv_.empty() && static_cast<int64_t>(sv_.size()) % vectors_ == 0, InvalidGraph, what,
                     ": support_vectors (", sv_.size(), " values) do not make ", vectors_, " vectors");
      features_ = static_cast<int64_t>(sv_.size()) / vectors_;
      PIONNX_ENFORCE(static_cast<int64_t>(coef_.size()) == (classes_ - 1) * vectors_, InvalidGraph, what,
                     ": coefficients must have (classes - 1) * vectors = ", (classes_ - 1) * vectors_, " values, got ",
                     coef_.size());
      PIONNX_ENFORCE(rho_.size() == pairs, InvalidGraph, what, ": rho must have one value per pair of classes (", pairs,
                     "), got ", rho_.size());
      PIONNX_ENFORCE(prob_a_.empty() || prob_a_.size() == pairs, InvalidGraph, what,
                     ": prob_a/prob_b must have one value per pair of classes (", pairs, "), got ", prob_a_.size());
    } else {  // liblinear: coefficients [classes, F], rho[0] added to every score
      PIONNX_ENFORCE(static_cast<int64_t>(coef_.size()) % classes_ == 0, InvalidGraph, what, ": ", coef_.size(),
                     " coefficients do not make ", classes_, " rows");
      features_ = static_cast<int64_t>(coef_.size()) / classes_;
      kernel_.set_linear();
    }
    all_positive_ = std::all_of(coef_.begin(), coef_.end(), [](float c) { return c >= 0.f; });
  }

  void compute(KernelContext& ctx) const override {
    int64_t n;
    const Tensor x = svm_input(node_, ctx.input(0), features_, &n);
    const float* xd = x.data<float>();
    const int64_t C = classes_, pairs = C * (C - 1) / 2;
    const bool svc = vectors_ > 0, proba = !prob_a_.empty();
    const int64_t S = !svc || proba ? C : (C == 2 ? 2 : pairs);  // score columns
    Tensor& z = ctx.output(1, DType::Float, {n, S});
    float* zd = z.data<float>();
    std::vector<int64_t> best(static_cast<size_t>(n));
    if (!svc) {
      simd::sgemm(false, true, n, C, features_, 1.f, xd, features_, coef_.data(), features_, 0.f, zd, C, &ctx.pool());
      for (int64_t r = 0; r < n; ++r) {
        float* row = zd + r * C;
        for (int64_t c = 0; c < C; ++c) row[c] += rho_[0];
        const int64_t k = first_max(row, C);
        best[r] = choose(k, row[k]);
        post_floats(post_, row, C);
      }
    } else {
      std::vector<float> kern(static_cast<size_t>(n * vectors_));
      kernel_.matrix(xd, n, sv_.data(), vectors_, features_, kern.data(), ctx.pool());
      const int64_t grain = std::max<int64_t>(1, 4096 / std::max<int64_t>(1, vectors_ * (C - 1)));
      ctx.pool().parallel_for(n, grain, [&](int64_t begin, int64_t end) {
        std::vector<float> dec(static_cast<size_t>(pairs)), r2(proba ? static_cast<size_t>(C * C) : 0);
        std::vector<int64_t> votes(static_cast<size_t>(C));
        for (int64_t r = begin; r < end; ++r) {
          decide(kern.data() + r * vectors_, dec.data(), votes.data());
          best[r] = choose(first_max(votes.data(), C), 0.f);
          float* row = zd + r * S;
          if (proba) {
            probabilities(dec.data(), r2.data(), row);
            post_floats(post_, row, C);
          } else if (C == 2) {
            binary_scores(dec[0], row);
          } else {
            std::copy(dec.begin(), dec.end(), row);
            post_floats(post_, row, pairs);
          }
        }
      });
    }
    if (str_labels_.empty()) {
      int64_t* ld = ctx.output(0, DType::Int64, {n}).data<int64_t>();
      for (int64_t r = 0; r < n; ++r) ld[r] = int_labels_[best[r]];
    } else {
      std::string* ld = ctx.output(0, DType::String, {n}).data<std::string>();
      for (int64_t r = 0; r < n; ++r) ld[r] = str_labels_[best[r]];
    }
  }

 private:
  // The pairs' decision values dec [pairs] for one row of kernel values
  // k [V] (pair (i, j): i's vectors weighted by row j - 1 of the
  // coefficients, j's by row i, plus rho), and each class's votes.
  void decide(const float* k, float* dec, int64_t* votes) const {
    const int64_t C = classes_;
    std::fill(votes, votes + C, 0);
    int64_t p = 0;
    for (int64_t i = 0; i < C; ++i) {
      for (int64_t j = i + 1; j < C; ++j, ++p) {
        double s = 0;
        const float* ci = coef_.data() + (j - 1) * vectors_ + starts_[i];
        for (int64_t m = 0; m < per_class_[i]; ++m) s += ci[m] * k[starts_[i] + m];
        const float* cj = coef_.data() + i * vectors_ + starts_[j];
        for (int64_t m = 0; m < per_class_[j]; ++m) s += cj[m] * k[starts_[j] + m];
        s += rho_[p];
        dec[p] = static_cast<float>(s);
        ++votes[s > 0 ? i : j];
      }
    }
  }

  // Platt probabilities of each pair, clipped to [1e-7, 1 - 1e-7], into
  // r [C, C], then coupled into out [C].
  void probabilities(const float* dec, float* r, float* out) const {
    const int64_t C = classes_;
    std::fill(r, r + C * C, 0.f);
    int64_t p = 0;
    for (int64_t i = 0; i < C; ++i)
      for (int64_t j = i + 1; j < C; ++j, ++p) {
        const float v = std::min(std::max(platt(dec[p], prob_a_[p], prob_b_[p]), 1.0e-7f), 1 - 1.0e-7f);
        r[i * C + j] = v;
        r[j * C + i] = 1 - v;
      }
    couple(C, r, out);
  }

  // Two classes without probabilities: one decision value d, two columns.
  void binary_scores(float d, float* out) const {
    switch (post_) {
      case kPostNone:
        out[0] = -d;
        out[1] = d;
        break;
      case kPostLogistic: {
        double v[2] = {-d, d};
        post_transform(kPostLogistic, v, 2);
        out[0] = static_cast<float>(v[0]);
        out[1] = static_cast<float>(v[1]);
        break;
      }
      case kPostProbit:
        out[0] = static_cast<float>(probit(d));
        out[1] = 0.f;
        break;
      default:  // SOFTMAX, SOFTMAX_ZERO
        out[0] = 1 - d;
        out[1] = d;
        break;
    }
  }

  // The label index from the winning class k and its score (liblinear mode;
  // 0 with votes).
  int64_t choose(int64_t k, float top) const {
    if (classes_ == 2 && prob_a_.empty() && (all_positive_ ? top >= 0.5f : top > 0.f)) return 1;
    return k;
  }

  const Node& node_;
  SvmKernel kernel_;
  std::vector<int64_t> int_labels_, per_class_, starts_;
  std::vector<std::string> str_labels_;
  std::vector<float> coef_, rho_, prob_a_, prob_b_, sv_;
  int64_t classes_ = 0, vectors_ = 0, features_ = 0, post_ = 0;
  bool all_positive_ = false;
};

// ---------------------------------------------------------------- SVMRegressor

// y [N, 1] = sum_j coefficients[j] K(x, v_j) + rho[0] over the n_supports
// support vectors, or x . coefficients + rho[0] without them; one_class
// turns it into +1 / -1. post_transform is applied as the schema says
// (onnxruntime ignores it; skl2onnx always writes NONE).
class SvmRegressor : public Kernel {
 public:
  explicit SvmRegressor(const KernelInfo& info) : node_(info.node), kernel_(info.node) {
    const Node& n = info.node;
    const std::string what = n.describe();
    vectors_ = n.attr_i("n_supports", 0);
    coef_ = n.attr_floats("coefficients");
    rho_ = n.attr_floats("rho");
    sv_ = n.attr_floats("support_vectors");
    one_class_ = n.attr_i("one_class", 0) != 0;
    post_ = post_transform_code(n);
    PIONNX_ENFORCE(!coef_.empty() && !rho_.empty(), InvalidGraph, what, ": coefficients and rho must not be empty");
    PIONNX_ENFORCE(vectors_ >= 0, InvalidGraph, what, ": n_supports must be >= 0, got ", vectors_);
    if (vectors_ > 0) {
      PIONNX_ENFORCE(static_cast<int64_t>(coef_.size()) == vectors_, InvalidGraph, what,
                     ": coefficients must have n_supports = ", vectors_, " values, got ", coef_.size());
      PIONNX_ENFORCE(!sv_.empty() && static_cast<int64_t>(sv_.size()) % vectors_ == 0, InvalidGraph, what,
                     ": support_vectors (", sv_.size(), " values) do not make ", vectors_, " vectors");
      features_ = static_cast<int64_t>(sv_.size()) / vectors_;
    } else {
      features_ = static_cast<int64_t>(coef_.size());
      kernel_.set_linear();
    }
  }

  void compute(KernelContext& ctx) const override {
    int64_t n;
    const Tensor x = svm_input(node_, ctx.input(0), features_, &n);
    const float* xd = x.data<float>();
    float* yd = ctx.output(0, DType::Float, {n, 1}).data<float>();
    // Linear mode is one "support vector": the coefficients, with weight 1.
    const int64_t V = vectors_ > 0 ? vectors_ : 1;
    const float* vecs = vectors_ > 0 ? sv_.data() : coef_.data();
    std::vector<float> kern(static_cast<size_t>(n * V));
    kernel_.matrix(xd, n, vecs, V, features_, kern.data(), ctx.pool());
    for (int64_t r = 0; r < n; ++r) {
      double s = rho_[0];
      const float* k = kern.data() + r * V;
      if (vectors_ > 0) {
        for (int64_t j = 0; j < V; ++j) s += static_cast<double>(coef_[j]) * k[j];
      } else {
        s += k[0];
      }
      if (one_class_) s = s > 0 ? 1.0 : -1.0;
      post_transform(post_, &s, 1);
      yd[r] = static_cast<float>(s);
    }
  }

 private:
  const Node& node_;
  SvmKernel kernel_;
  std::vector<float> coef_, rho_, sv_;
  int64_t vectors_ = 0, features_ = 0, post_ = 0;
  bool one_class_ = false;
};

}  // namespace

void register_svm(KernelRegistry& r) {
  r.add_all(kMl, {impl<SvmClassifier>("SVMClassifier"), impl<SvmRegressor>("SVMRegressor")});
}

}  // namespace pionnx
