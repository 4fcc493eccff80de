// Feature preprocessing of the ai.onnx.ml domain, all on tensors:
// Imputer (1), FeatureVectorizer (1), OneHotEncoder (1), CategoryMapper (1).
// Where onnxruntime and the onnx reference disagree, onnxruntime's behaviour
// is kept (a 1-D FeatureVectorizer input is one row; OneHotEncoder truncates
// float inputs to integers; CategoryMapper's repeated keys: the last wins).
#include <algorithm>
#include <cmath>
#include <string>
#include <type_traits>
#include <unordered_map>
#include <vector>

#include "kernels/base/cast.h"
#include "kernels/base/kernel.h"
#include "kernels/ml/ml_common.h"

namespace pionnx {
namespace {

// ---------------------------------------------------------------- Imputer

// Replaces replaced_value_* (NaN matches NaN) in each column of X [N, F] (or
// [F]) by imputed_value_* (one value, or one per column). Float and double
// inputs use the float attributes, int64 and int32 the int64 ones.
class Imputer : public Kernel {
 public:
  explicit Imputer(const KernelInfo& info) : node_(info.node) {
    const Node& n = info.node;
    floats_ = n.attr_floats("imputed_value_floats");
    ints_ = n.attr_ints("imputed_value_int64s");
    PIONNX_ENFORCE(floats_.empty() != ints_.empty(), InvalidGraph, n.describe(),
                   ": needs exactly one of imputed_value_floats and imputed_value_int64s");
    replaced_f_ = n.attr_f("replaced_value_float", 0.f);
    replaced_i_ = n.attr_i("replaced_value_int64", 0);
  }

  void compute(KernelContext& ctx) const override {
    const std::string what = node_.describe();
    const Tensor& x = ctx.input(0);
    const DType t = x.dtype();
    const bool is_float = t == DType::Float || t == DType::Double;
    PIONNX_ENFORCE(is_float || t == DType::Int64 || t == DType::Int32, InvalidArgument, what,
                   ": X must be float, double, int64 or int32, got ", dtype_name(t));
    PIONNX_ENFORCE(is_float ? !floats_.empty() : !ints_.empty(), InvalidArgument, what, ": a ", dtype_name(t),
                   " input needs imputed_value_", is_float ? "floats" : "int64s");
    PIONNX_ENFORCE(x.rank() == 1 || x.rank() == 2, InvalidArgument, what, ": X must be [N, F] or [F], got rank ",
                   x.rank());
    const int64_t f = x.dim(-1);
    const size_t k = is_float ? floats_.size() : ints_.size();
    PIONNX_ENFORCE(k == 1 || static_cast<int64_t>(k) == f, InvalidArgument, what, ": ", k, " imputed values for ", f,
                   " features (needs 1 or one per feature)");
    Tensor& y = ctx.output(0, t, x.shape());
    const int64_t total = x.numel();
    auto run = [&](auto* yd, const auto* xd, const auto& values, auto replaced, bool nan) {
      for (int64_t i = 0; i < total; ++i) {
        const auto v = xd[i];
        const bool hit = nan ? v != v : v == replaced;  // v != v: NaN
        yd[i] = hit ? static_cast<std::decay_t<decltype(v)>>(values[k == 1 ? 0 : i % f]) : v;
      }
    };
    const bool nan = std::isnan(replaced_f_);
    switch (t) {
      case DType::Float: run(y.data<float>(), x.data<float>(), floats_, replaced_f_, nan); break;
      case DType::Double:
        run(y.data<double>(), x.data<double>(), floats_, static_cast<double>(replaced_f_), nan);
        break;
      case DType::Int64: run(y.data<int64_t>(), x.data<int64_t>(), ints_, replaced_i_, false); break;
      default: run(y.data<int32_t>(), x.data<int32_t>(), ints_, static_cast<int64_t>(replaced_i_), false); break;
    }
  }

 private:
  const Node& node_;
  std::vector<float> floats_;
  std::vector<int64_t> ints_;
  float replaced_f_ = 0.f;
  int64_t replaced_i_ = 0;
};

// ---------------------------------------------------------------- FeatureVectorizer

// Concatenates the inputs' rows into Y [N, sum(inputdimensions)] float:
// input i gives its first inputdimensions[i] values per row, zero padded.
// N is the first dimension of input 0 (1 for a 1-D input, which is one row).
class FeatureVectorizer : public Kernel {
 public:
  explicit FeatureVectorizer(const KernelInfo& info) : node_(info.node) {
    const Node& n = info.node;
    dims_ = n.attr_ints("inputdimensions");
    PIONNX_ENFORCE(dims_.size() == n.inputs.size(), InvalidGraph, n.describe(), ": inputdimensions has ", dims_.size(),
                   " entries for ", n.inputs.size(), " inputs");
    for (int64_t d : dims_) {
      PIONNX_ENFORCE(d >= 0, InvalidGraph, n.describe(), ": inputdimensions has a negative entry ", d);
      total_ += d;
    }
  }

  void compute(KernelContext& ctx) const override {
    const std::string what = node_.describe();
    const int64_t n = ctx.input(0).rank() <= 1 ? 1 : ctx.input(0).dim(0);
    Tensor& y = ctx.output(0, DType::Float, {n, total_});
    float* yd = y.data<float>();
    std::fill(yd, yd + n * total_, 0.f);
    int64_t col = 0;
    for (size_t i = 0; i < dims_.size(); ++i) {
      const Tensor& in = ctx.input(i);
      const DType t = in.dtype();
      PIONNX_ENFORCE(t == DType::Float || t == DType::Double || t == DType::Int64 || t == DType::Int32, InvalidArgument,
                     what, ": input ", i, " must be float, double, int64 or int32, got ", dtype_name(t));
      PIONNX_ENFORCE(in.rank() >= 1, InvalidArgument, what, ": input ", i, " must have rank >= 1");
      const int64_t rows = in.rank() == 1 ? 1 : in.dim(0);
      PIONNX_ENFORCE(rows == n, InvalidArgument, what, ": input ", i, " has ", rows, " rows, input 0 has ", n);
      const int64_t stride = n > 0 ? in.numel() / n : 0, take = std::min(stride, dims_[i]);
      const Tensor x = cast_tensor(in, DType::Float);
      const float* xd = x.data<float>();
      for (int64_t r = 0; r < n; ++r) std::copy(xd + r * stride, xd + r * stride + take, yd + r * total_ + col);
      col += dims_[i];
    }
  }

 private:
  const Node& node_;
  std::vector<int64_t> dims_;
  int64_t total_ = 0;
};

// ---------------------------------------------------------------- OneHotEncoder

// X (any shape) -> Y float [X's shape..., categories], a 1 at the category
// of each element. Unknown values give a row of zeros, or an error when
// zeros = 0. Numeric inputs are truncated to int64 and matched against
// cats_int64s; strings against cats_strings.
class OneHotEncoder : public Kernel {
 public:
  explicit OneHotEncoder(const KernelInfo& info) : node_(info.node) {
    const Node& n = info.node;
    const std::vector<int64_t> ints = n.attr_ints("cats_int64s");
    const std::vector<std::string> strs = n.attr_strings("cats_strings");
    PIONNX_ENFORCE(ints.empty() != strs.empty(), InvalidGraph, n.describe(),
                   ": needs exactly one of cats_int64s and cats_strings");
    strings_ = !strs.empty();
    count_ = static_cast<int64_t>(strings_ ? strs.size() : ints.size());
    for (int64_t i = 0; i < count_; ++i) {  // a repeated category takes its last index (as onnxruntime)
      if (strings_) str_index_[strs[i]] = i;
      else int_index_[ints[i]] = i;
    }
    zeros_ = n.attr_i("zeros", 1) != 0;
  }

  void compute(KernelContext& ctx) const override {
    const std::string what = node_.describe();
    const Tensor& x = ctx.input(0);
    const DType t = x.dtype();
    const bool is_str = t == DType::String;
    PIONNX_ENFORCE(is_str || t == DType::Int64 || t == DType::Int32 || t == DType::Float || t == DType::Double,
                   InvalidArgument, what, ": X must be string, int64, int32, float or double, got ", dtype_name(t));
    PIONNX_ENFORCE(is_str == strings_, InvalidArgument, what, ": a ", dtype_name(t), " input needs ",
                   is_str ? "cats_strings" : "cats_int64s");
    const int64_t total = x.numel();
    std::vector<int64_t> hit(static_cast<size_t>(total), -1);
    if (is_str) {
      const std::string* xd = x.data<std::string>();
      for (int64_t i = 0; i < total; ++i) {
        auto it = str_index_.find(xd[i]);
        if (it != str_index_.end()) hit[i] = it->second;
      }
    } else {
      const Tensor xd64 = cast_tensor(x, DType::Double);
      const double* xd = xd64.data<double>();
      for (int64_t i = 0; i < total; ++i) {
        if (!std::isfinite(xd[i]) || std::fabs(xd[i]) >= 9.2e18) continue;
        auto it = int_index_.find(static_cast<int64_t>(xd[i]));
        if (it != int_index_.end()) hit[i] = it->second;
      }
    }
    if (!zeros_)
      for (int64_t i = 0; i < total; ++i)
        PIONNX_ENFORCE(hit[i] >= 0, InvalidArgument, what, ": element ", i,
                       " is not one of the categories (and zeros = 0)");
    Shape shape = x.shape();
    shape.push_back(count_);
    Tensor& y = ctx.output(0, DType::Float, shape);
    float* yd = y.data<float>();
    std::fill(yd, yd + total * count_, 0.f);
    for (int64_t i = 0; i < total; ++i)
      if (hit[i] >= 0) yd[i * count_ + hit[i]] = 1.f;
  }

 private:
  const Node& node_;
  bool strings_ = false, zeros_ = true;
  int64_t count_ = 0;
  std::unordered_map<std::string, int64_t> str_index_;
  std::unordered_map<int64_t, int64_t> int_index_;
};

// ---------------------------------------------------------------- CategoryMapper

// string -> int64 through cats_strings[i] -> cats_int64s[i], or int64 ->
// string the other way; unknown values give default_int64 / default_string.
// A repeated key maps to its last pair (as onnxruntime).
class CategoryMapper : public Kernel {
 public:
  explicit CategoryMapper(const KernelInfo& info) : node_(info.node) {
    const Node& n = info.node;
    const std::vector<int64_t> ints = n.attr_ints("cats_int64s");
    const std::vector<std::string> strs = n.attr_strings("cats_strings");
    PIONNX_ENFORCE(ints.size() == strs.size(), InvalidGraph, n.describe(), ": cats_int64s has ", ints.size(),
                   " values, cats_strings ", strs.size());
    for (size_t i = 0; i < ints.size(); ++i) {
      to_int_[strs[i]] = ints[i];
      to_str_[ints[i]] = strs[i];
    }
    default_int_ = n.attr_i("default_int64", -1);
    default_str_ = n.attr_s("default_string", "_Unused");
  }

  void compute(KernelContext& ctx) const override {
    const Tensor& x = ctx.input(0);
    const int64_t total = x.numel();
    if (x.dtype() == DType::String) {
      const std::string* xd = x.data<std::string>();
      int64_t* yd = ctx.output(0, DType::Int64, x.shape()).data<int64_t>();
      for (int64_t i = 0; i < total; ++i) {
        auto it = to_int_.find(xd[i]);
        yd[i] = it != to_int_.end() ? it->second : default_int_;
      }
      return;
    }
    PIONNX_ENFORCE(x.dtype() == DType::Int64, InvalidArgument, node_.describe(), ": X must be string or int64, got ",
                   dtype_name(x.dtype()));
    const int64_t* xd = x.data<int64_t>();
    std::string* yd = ctx.output(0, DType::String, x.shape()).data<std::string>();
    for (int64_t i = 0; i < total; ++i) {
      auto it = to_str_.find(xd[i]);
      yd[i] = it != to_str_.end() ? it->second : default_str_;
    }
  }

 private:
  const Node& node_;
  std::unordered_map<std::string, int64_t> to_int_;
  std::unordered_map<int64_t, std::string> to_str_;
  int64_t default_int_ = -1;
  std::string default_str_;
};

}  // namespace

void register_preprocess(KernelRegistry& r) {
  r.add_all(kMl, {impl<Imputer>("Imputer"), impl<FeatureVectorizer>("FeatureVectorizer"),
                  impl<OneHotEncoder>("OneHotEncoder"), impl<CategoryMapper>("CategoryMapper")});
}

}  // namespace pionnx
