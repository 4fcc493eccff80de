// Helpers shared by the ai.onnx.ml kernels (ml.cc, svm.cc, preprocess.cc):
// the domain name, attribute arrays as tensors, and the post_transform every
// classifier and regressor applies to its scores.
#pragma once
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <map>
#include <string>
#include <vector>

#include "kernels/base/kernel.h"

namespace pionnx {

const char* const kMl = "ai.onnx.ml";

template <typename T>
Tensor vec1d(const std::vector<T>& v) {
  return Tensor::from_vector(v, {static_cast<int64_t>(v.size())});
}

// sqrt(2) * erfinv(2p - 1) with the closed-form erfinv approximation
// onnxruntime (and the onnx reference) use, so results match theirs.
inline double probit(double p) {
  const double y = 2 * p - 1, sgn = y < 0 ? -1.0 : 1.0, w = (1 - y) * (1 + y);
  if (w == 0) return 0;
  const double ln = std::log(w), v = 2 / (M_PI * 0.147) + 0.5 * ln, v2 = ln / 0.147;
  return 1.41421356 * sgn * std::sqrt(-v + std::sqrt(v * v - v2));
}

// post_transform codes: NONE (0), SOFTMAX (1), LOGISTIC (2), SOFTMAX_ZERO (3), PROBIT (4).
enum PostTransform : int64_t { kPostNone = 0, kPostSoftmax, kPostLogistic, kPostSoftmaxZero, kPostProbit };

// Applies `post` to one row of n scores.
inline void post_transform(int64_t post, double* v, int64_t n) {
  switch (post) {
    case kPostSoftmax: {
      double mx = -std::numeric_limits<double>::infinity(), sum = 0;
      for (int64_t i = 0; i < n; ++i) mx = std::max(mx, v[i]);
      for (int64_t i = 0; i < n; ++i) sum += (v[i] = std::exp(v[i] - mx));
      for (int64_t i = 0; i < n; ++i) v[i] /= sum;
      break;
    }
    case kPostSoftmaxZero: {  // (near-)zero scores stay zero; all zero -> 0.5
      double mx = -std::numeric_limits<double>::infinity(), sum = 0;
      for (int64_t i = 0; i < n; ++i) mx = std::max(mx, v[i]);
      for (int64_t i = 0; i < n; ++i) {
        v[i] = std::fabs(v[i]) > 1e-7 ? std::exp(v[i] - mx) : v[i] * std::exp(-mx);
        sum += v[i];
      }
      for (int64_t i = 0; i < n; ++i) v[i] = sum == 0 ? 0.5 : v[i] / sum;
      break;
    }
    case kPostLogistic:
      for (int64_t i = 0; i < n; ++i) v[i] = 1 / (1 + std::exp(-v[i]));
      break;
    case kPostProbit:
      for (int64_t i = 0; i < n; ++i) v[i] = probit(v[i]);
      break;
    default: break;
  }
}

// The node's post_transform attribute as a code; InvalidGraph when unknown.
inline int64_t post_transform_code(const Node& n) {
  static const std::map<std::string, int64_t> kPost = {{"NONE", kPostNone},
                                                       {"SOFTMAX", kPostSoftmax},
                                                       {"LOGISTIC", kPostLogistic},
                                                       {"SOFTMAX_ZERO", kPostSoftmaxZero},
                                                       {"PROBIT", kPostProbit}};
  const std::string post = n.attr_s("post_transform", "NONE");
  PIONNX_ENFORCE(kPost.count(post), InvalidGraph, n.describe(), ": unknown post_transform '", post, "'");
  return kPost.at(post);
}

}  // namespace pionnx
