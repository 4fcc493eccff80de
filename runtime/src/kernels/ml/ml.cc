// Classic-ML operators of the ai.onnx.ml domain: Binarizer (1),
// ArrayFeatureExtractor (1), LabelEncoder (1, 2, 4), TreeEnsemble (5),
// TreeEnsembleRegressor / TreeEnsembleClassifier (1, 3), Scaler (1),
// Normalizer (1), LinearClassifier (1), LinearRegressor (1), ZipMap (1).
// SVMs are in svm.cc, the encoders and imputers in preprocess.cc, helpers
// they share in ml_common.h.
//
// ZipMap's seq(map(K, float)) output is carried as a two-tensor sequence
// [keys [C] (string or int64), values [N, C] float]; the Python binding turns
// it into a list of {key: value} dicts, as onnxruntime returns it.
#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <unordered_map>

#include "kernels/base/cast.h"
#include "kernels/base/dtype_dispatch.h"
#include "kernels/base/kernel.h"
#include "kernels/ml/ml_common.h"
#include "platform/thread_pool.h"

namespace pionnx {
namespace {

// ---------------------------------------------------------------- Binarizer

class Binarizer : public Kernel {
 public:
  explicit Binarizer(const KernelInfo& info) : node_(info.node) { threshold_ = info.node.attr_f("threshold", 0.f); }
  void compute(KernelContext& ctx) const override {
    const Tensor& x = ctx.input(0);
    Tensor& y = ctx.output(0, x.dtype(), x.shape());
    dispatch_numeric(x.dtype(), node_.describe(), [&](auto tag) {
      using T = typename decltype(tag)::type;
      const T* xd = x.data<T>();
      T* yd = y.data<T>();
      const double th = threshold_;
      for (int64_t i = 0; i < x.numel(); ++i) yd[i] = static_cast<double>(xd[i]) > th ? T(1) : T(0);
    });
  }

 private:
  const Node& node_;
  float threshold_ = 0.f;
};

// ---------------------------------------------------------------- ArrayFeatureExtractor

// Selects entries of the last axis of X by the flattened indices Y. A 1-D X
// gives a [1, n] result (as onnxruntime does).
void array_feature_extractor(KernelContext& ctx) {
  const std::string what = ctx.node().describe();
  const Tensor& x = ctx.input(0);
  const std::vector<int64_t> idx = tensor_to_int64s(ctx.input(1));
  PIONNX_ENFORCE(x.rank() >= 1, InvalidArgument, what, ": X must have rank >= 1");
  const int64_t last = x.dim(-1), n = static_cast<int64_t>(idx.size());
  for (int64_t i : idx)
    PIONNX_ENFORCE(i >= 0 && i < last, InvalidArgument, what, ": index ", i, " out of range [0, ", last, ")");
  Shape out_shape = x.rank() == 1 ? Shape{1, n} : x.shape();
  out_shape.back() = n;
  const int64_t rows = last > 0 ? x.numel() / last : 0;
  Tensor& y = ctx.output(0, x.dtype(), out_shape);
  dispatch_movable(x.dtype(), what, [&](auto tag) {
    using T = typename decltype(tag)::type;
    const T* xd = static_cast<const T*>(x.raw());
    T* yd = static_cast<T*>(y.raw());
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t j = 0; j < n; ++j) yd[r * n + j] = xd[r * last + idx[j]];
  });
}

// ---------------------------------------------------------------- LabelEncoder

// Maps each element through keys -> values; the values and the default are
// kept as tensors so one copy loop serves every output type.
class LabelEncoder : public Kernel {
 public:
  explicit LabelEncoder(const KernelInfo& info) : node_(info.node) {
    const Node& n = info.node;
    const std::string what = n.describe();
    if (info.opset < 2) {
      // classes_strings: string -> its index, or int64 index -> string.
      const std::vector<std::string> classes = n.attr_strings("classes_strings");
      std::vector<int64_t> ids(classes.size());
      for (size_t i = 0; i < ids.size(); ++i) ids[i] = static_cast<int64_t>(i);
      const Shape s{static_cast<int64_t>(classes.size())};
      str_keys_ = Tensor::from_vector(classes, s);
      int_keys_ = Tensor::from_vector(ids, s);
      str_default_ = Tensor::from_vector(std::vector<std::string>{n.attr_s("default_string", "_Unused")}, {1});
      int_default_ = Tensor::from_vector(std::vector<int64_t>{n.attr_i("default_int64", -1)}, {1});
      v1_ = true;
      return;
    }
    Tensor keys, values;
    if (n.has("keys_strings")) keys = vec1d(n.attr_strings("keys_strings"));
    if (n.has("keys_int64s")) keys = vec1d(n.attr_ints("keys_int64s"));
    if (n.has("keys_floats")) keys = vec1d(n.attr_floats("keys_floats"));
    if (const Tensor* t = n.attr_t("keys_tensor")) keys = *t;
    if (n.has("values_strings")) values = vec1d(n.attr_strings("values_strings"));
    if (n.has("values_int64s")) values = vec1d(n.attr_ints("values_int64s"));
    if (n.has("values_floats")) values = vec1d(n.attr_floats("values_floats"));
    if (const Tensor* t = n.attr_t("values_tensor")) values = *t;
    PIONNX_ENFORCE(keys.defined() && values.defined() && keys.numel() == values.numel(), InvalidGraph, what,
                   ": needs one keys_* and one values_* attribute of equal length");
    keys_ = keys;
    values_ = values;
    if (const Tensor* t = n.attr_t("default_tensor")) {
      default_ = *t;
    } else if (values.dtype() == DType::String) {
      default_ = Tensor::from_vector(std::vector<std::string>{n.attr_s("default_string", "_Unused")}, {1});
    } else if (values.dtype() == DType::Float && !n.attr_t("values_tensor")) {
      default_ = Tensor::from_vector(std::vector<float>{n.attr_f("default_float", -0.f)}, {1});
    } else if (values.dtype() == DType::Int64 && !n.attr_t("values_tensor")) {
      default_ = Tensor::from_vector(std::vector<int64_t>{n.attr_i("default_int64", -1)}, {1});
    } else {
      // values_tensor without default_tensor: -1 for integers, -0.0 for floats.
      default_ = cast_tensor(
          Tensor::from_vector(std::vector<double>{dtype_is_float(values.dtype()) ? -0.0 : -1.0}, {1}), values.dtype());
    }
    PIONNX_ENFORCE(default_.numel() >= 1 && default_.dtype() == values.dtype(), InvalidGraph, what,
                   ": default must be a value of the values type ", dtype_name(values.dtype()));
  }

  void compute(KernelContext& ctx) const override {
    const Tensor& x = ctx.input(0);
    if (v1_) {
      const bool from_str = x.dtype() == DType::String;
      run(ctx, x, from_str ? str_keys_ : int_keys_, from_str ? int_keys_ : str_keys_,
          from_str ? int_default_ : str_default_);
    } else {
      run(ctx, x, keys_, values_, default_);
    }
  }

 private:
  void run(KernelContext& ctx, const Tensor& x, const Tensor& keys, const Tensor& values, const Tensor& def) const {
    const std::string what = node_.describe();
    const int64_t n = x.numel();
    std::vector<int64_t> hit(static_cast<size_t>(n), -1);  // index into values, -1 = default
    if (x.dtype() == DType::String) {
      PIONNX_ENFORCE(keys.dtype() == DType::String, InvalidArgument, what, ": string input but ",
                     dtype_name(keys.dtype()), " keys");
      std::unordered_map<std::string, int64_t> m;
      const std::string* k = keys.data<std::string>();
      for (int64_t i = 0; i < keys.numel(); ++i) m[k[i]] = i;  // last repeat wins
      const std::string* xd = x.data<std::string>();
      for (int64_t i = 0; i < n; ++i) {
        auto it = m.find(xd[i]);
        if (it != m.end()) hit[i] = it->second;
      }
    } else {
      PIONNX_ENFORCE(keys.dtype() != DType::String, InvalidArgument, what, ": ", dtype_name(x.dtype()),
                     " input but string keys");
      // Numeric keys compared as doubles; NaN keys match any NaN.
      const Tensor kd = cast_tensor(keys, DType::Double), xd = cast_tensor(x, DType::Double);
      std::map<double, int64_t> m;
      int64_t nan_hit = -1;
      const double* k = kd.data<double>();
      for (int64_t i = 0; i < kd.numel(); ++i) {
        if (std::isnan(k[i])) nan_hit = i;
        else m[k[i]] = i;
      }
      const double* v = xd.data<double>();
      for (int64_t i = 0; i < n; ++i) {
        if (std::isnan(v[i])) {
          hit[i] = nan_hit;
        } else {
          auto it = m.find(v[i]);
          if (it != m.end()) hit[i] = it->second;
        }
      }
    }
    Tensor& y = ctx.output(0, values.dtype(), x.shape());
    dispatch_movable(values.dtype(), what, [&](auto tag) {
      using T = typename decltype(tag)::type;
      const T* vd = static_cast<const T*>(values.raw());
      const T& dv = *static_cast<const T*>(def.raw());
      T* yd = static_cast<T*>(y.raw());
      for (int64_t i = 0; i < n; ++i) yd[i] = hit[i] >= 0 ? vd[hit[i]] : dv;
    });
  }

  const Node& node_;
  bool v1_ = false;
  Tensor keys_, values_, default_;
  Tensor str_keys_, int_keys_, str_default_, int_default_;
};

// ---------------------------------------------------------------- TreeEnsemble

enum class Cmp { Leq, Lt, Gte, Gt, Eq, Neq, Member };

class TreeEnsemble : public Kernel {
 public:
  explicit TreeEnsemble(const KernelInfo& info) : node_(info.node) {
    const Node& n = info.node;
    const std::string what = n.describe();
    auto doubles = [&](const char* a) -> std::vector<double> {
      const Tensor* t = n.attr_t(a);
      if (!t) return {};
      const Tensor d = cast_tensor(*t, DType::Double);
      return std::vector<double>(d.data<double>(), d.data<double>() + d.numel());
    };
    splits_ = doubles("nodes_splits");
    leaf_weights_ = doubles("leaf_weights");
    const std::vector<double> members = doubles("membership_values");
    const Tensor* modes = n.attr_t("nodes_modes");
    PIONNX_ENFORCE(modes != nullptr, InvalidGraph, what, ": missing attribute nodes_modes");
    for (int64_t m : tensor_to_int64s(*modes)) {
      PIONNX_ENFORCE(m >= 0 && m <= 6, InvalidGraph, what, ": unknown node mode ", m);
      modes_.push_back(static_cast<Cmp>(m));
    }
    features_ = n.attr_ints("nodes_featureids");
    true_ids_ = n.attr_ints("nodes_truenodeids");
    false_ids_ = n.attr_ints("nodes_falsenodeids");
    true_leaf_ = n.attr_ints("nodes_trueleafs");
    false_leaf_ = n.attr_ints("nodes_falseleafs");
    missing_true_ = n.attr_ints("nodes_missing_value_tracks_true");
    leaf_targets_ = n.attr_ints("leaf_targetids");
    roots_ = n.attr_ints("tree_roots");
    n_targets_ = n.attr_i("n_targets", 0);
    aggregate_ = n.attr_i("aggregate_function", 1);
    post_ = n.attr_i("post_transform", 0);
    const size_t nn = modes_.size();
    PIONNX_ENFORCE(splits_.size() == nn && features_.size() == nn && true_ids_.size() == nn &&
                       false_ids_.size() == nn && true_leaf_.size() == nn && false_leaf_.size() == nn &&
                       (missing_true_.empty() || missing_true_.size() == nn),
                   InvalidGraph, what, ": nodes_* attributes must all have ", nn, " entries");
    PIONNX_ENFORCE(leaf_targets_.size() == leaf_weights_.size(), InvalidGraph, what,
                   ": leaf_targetids and leaf_weights lengths differ");
    PIONNX_ENFORCE(aggregate_ >= 0 && aggregate_ <= 3 && post_ >= 0 && post_ <= 4, InvalidGraph, what,
                   ": unknown aggregate_function ", aggregate_, " or post_transform ", post_);
    for (int64_t t : leaf_targets_)
      PIONNX_ENFORCE(t >= 0 && t < n_targets_, InvalidGraph, what, ": leaf target ", t, " outside [0, ", n_targets_,
                     ")");
    // Sets of BRANCH_MEMBER nodes, in node order, NaN-delimited.
    sets_.resize(nn);
    size_t pos = 0;
    for (size_t i = 0; i < nn; ++i) {
      if (modes_[i] != Cmp::Member) continue;
      for (; pos < members.size() && !std::isnan(members[pos]); ++pos) sets_[i].push_back(members[pos]);
      ++pos;
    }
    // Check every reachable node/leaf index once here, so compute can trust them.
    for (size_t i = 0; i < nn; ++i) {
      check_ref(true_ids_[i], true_leaf_[i] != 0, what);
      check_ref(false_ids_[i], false_leaf_[i] != 0, what);
    }
    for (int64_t r : roots_) check_ref(r, false, what);
  }

  void compute(KernelContext& ctx) const override {
    const std::string what = node_.describe();
    const Tensor& x_in = ctx.input(0);
    const Tensor x = cast_tensor(x_in, DType::Double);
    const int64_t N = x.rank() == 1 ? 1 : x.dim(0);
    const int64_t F = N > 0 ? x.numel() / N : 0;
    for (int64_t f : features_)
      PIONNX_ENFORCE(f >= 0 && f < F, InvalidArgument, what, ": feature id ", f, " outside the ", F, " input features");
    const int64_t T = n_targets_;
    Tensor y(DType::Double, {N, T});
    const double* xd = x.data<double>();
    double* yd = y.data<double>();
    const double big = x_in.dtype() == DType::Double    ? std::numeric_limits<double>::max()
                       : x_in.dtype() == DType::Float16 ? 65504.0
                                                        : std::numeric_limits<float>::max();
    ctx.pool().parallel_for(N, 16, [&](int64_t begin, int64_t end) {
      for (int64_t r = begin; r < end; ++r) {
        const double* row = xd + r * F;
        double* out = yd + r * T;
        // MIN/MAX start from the output type's extremes (targets no leaf hits keep them).
        const double init = aggregate_ == 2 ? big : aggregate_ == 3 ? -big : 0.0;
        std::fill(out, out + T, init);
        for (int64_t root : roots_) {
          const int64_t leaf = find_leaf(root, row);
          const double w = leaf_weights_[leaf];
          double& o = out[leaf_targets_[leaf]];
          switch (aggregate_) {
            case 0: o += w / static_cast<double>(roots_.size()); break;
            case 1: o += w; break;
            case 2: o = std::min(o, w); break;
            default: o = std::max(o, w); break;
          }
        }
        post_transform(post_, out, T);
      }
    });
    const DType out_t = dtype_is_float(x_in.dtype()) ? x_in.dtype() : DType::Float;
    ctx.set_output(0, cast_tensor(y, out_t));
  }

 private:
  void check_ref(int64_t id, bool leaf, const std::string& what) const {
    const int64_t n = leaf ? static_cast<int64_t>(leaf_weights_.size()) : static_cast<int64_t>(modes_.size());
    PIONNX_ENFORCE(id >= 0 && id < n, InvalidGraph, what, ": ", leaf ? "leaf" : "node", " id ", id,
                   " out of range [0, ", n, ")");
  }

  bool goes_true(size_t i, double v) const {
    if (std::isnan(v) && !missing_true_.empty() && missing_true_[i]) return true;
    const double s = splits_[i];
    switch (modes_[i]) {
      case Cmp::Leq: return v <= s;
      case Cmp::Lt: return v < s;
      case Cmp::Gte: return v >= s;
      case Cmp::Gt: return v > s;
      case Cmp::Eq: return v == s;
      case Cmp::Neq: return v != s;
      case Cmp::Member: return std::find(sets_[i].begin(), sets_[i].end(), v) != sets_[i].end();
    }
    return false;
  }

  int64_t find_leaf(int64_t root, const double* row) const {
    // A root whose two branches are the same leaf is itself that leaf index.
    if (true_leaf_[root] && false_leaf_[root] && true_ids_[root] == false_ids_[root]) return root;
    int64_t i = root;
    for (size_t steps = 0; steps <= modes_.size(); ++steps) {
      const bool t = goes_true(static_cast<size_t>(i), row[features_[i]]);
      const int64_t next = t ? true_ids_[i] : false_ids_[i];
      if (t ? true_leaf_[i] : false_leaf_[i]) return next;
      i = next;
    }
    throw InvalidGraph(str_cat(node_.describe(), ": tree from root ", root, " has a cycle"));
  }

  const Node& node_;
  std::vector<Cmp> modes_;
  std::vector<double> splits_, leaf_weights_;
  std::vector<std::vector<double>> sets_;
  std::vector<int64_t> features_, true_ids_, false_ids_, true_leaf_, false_leaf_, missing_true_, leaf_targets_, roots_;
  int64_t n_targets_ = 0, aggregate_ = 1, post_ = 0;
};

// ---------------------------------------------------------------- TreeEnsembleRegressor

// The older tree format (opsets 1, 3): nodes addressed by (tree id, node id),
// string modes with "LEAF" nodes, and leaf outputs listed as target_* tuples.
class LegacyTrees : public Kernel {
 public:
  // prefix: "target" (regressor) or "class" (classifier) for the leaf tuples.
  LegacyTrees(const KernelInfo& info, const std::string& prefix, int64_t n_out) : node_(info.node) {
    const Node& n = info.node;
    const std::string what = n.describe();
    // A float list attribute or its *_as_tensor twin (opset 3).
    auto values = [&](const std::string& a) -> std::vector<double> {
      if (const Tensor* t = n.attr_t(a + "_as_tensor")) {
        const Tensor d = cast_tensor(*t, DType::Double);
        return std::vector<double>(d.data<double>(), d.data<double>() + d.numel());
      }
      const std::vector<float> f = n.attr_floats(a);
      return std::vector<double>(f.begin(), f.end());
    };
    const std::vector<int64_t> tree_ids = n.attr_ints("nodes_treeids"), node_ids = n.attr_ints("nodes_nodeids");
    const std::vector<int64_t> true_ids = n.attr_ints("nodes_truenodeids"),
                               false_ids = n.attr_ints("nodes_falsenodeids");
    const std::vector<std::string> modes = n.attr_strings("nodes_modes");
    features_ = n.attr_ints("nodes_featureids");
    splits_ = values("nodes_values");
    missing_true_ = n.attr_ints("nodes_missing_value_tracks_true");
    const size_t nn = tree_ids.size();
    PIONNX_ENFORCE(node_ids.size() == nn && true_ids.size() == nn && false_ids.size() == nn && modes.size() == nn &&
                       features_.size() == nn && splits_.size() == nn &&
                       (missing_true_.empty() || missing_true_.size() == nn),
                   InvalidGraph, what, ": nodes_* attributes must all have ", nn, " entries");
    static const std::map<std::string, int> kModes = {{"BRANCH_LEQ", 0}, {"BRANCH_LT", 1}, {"BRANCH_GTE", 2},
                                                      {"BRANCH_GT", 3},  {"BRANCH_EQ", 4}, {"BRANCH_NEQ", 5},
                                                      {"LEAF", -1}};
    std::map<std::pair<int64_t, int64_t>, int64_t> index;
    for (size_t i = 0; i < nn; ++i) {
      auto m = kModes.find(modes[i]);
      PIONNX_ENFORCE(m != kModes.end(), InvalidGraph, what, ": unknown node mode '", modes[i], "'");
      modes_.push_back(m->second);
      index[{tree_ids[i], node_ids[i]}] = static_cast<int64_t>(i);
    }
    // Each tree's root is its first node; children resolved to flat indices.
    std::map<int64_t, int64_t> roots;
    for (size_t i = 0; i < nn; ++i) roots.emplace(tree_ids[i], static_cast<int64_t>(i));
    for (auto& kv : roots) roots_.push_back(kv.second);
    auto resolve = [&](int64_t tree, int64_t id) {
      auto it = index.find({tree, id});
      PIONNX_ENFORCE(it != index.end(), InvalidGraph, what, ": tree ", tree, " has no node ", id);
      return it->second;
    };
    true_.resize(nn), false_.resize(nn);
    for (size_t i = 0; i < nn; ++i) {
      if (modes_[i] < 0) continue;
      true_[i] = resolve(tree_ids[i], true_ids[i]);
      false_[i] = resolve(tree_ids[i], false_ids[i]);
    }
    n_targets_ = n_out;
    const std::vector<int64_t> t_trees = n.attr_ints(prefix + "_treeids"), t_nodes = n.attr_ints(prefix + "_nodeids"),
                               t_ids = n.attr_ints(prefix + "_ids");
    const std::vector<double> t_w = values(prefix + "_weights");
    PIONNX_ENFORCE(t_nodes.size() == t_trees.size() && t_ids.size() == t_trees.size() && t_w.size() == t_trees.size(),
                   InvalidGraph, what, ": ", prefix, "_* attributes must have equal lengths");
    leaf_out_.resize(nn);
    for (size_t i = 0; i < t_trees.size(); ++i) {
      PIONNX_ENFORCE(t_ids[i] >= 0 && t_ids[i] < n_targets_, InvalidGraph, what, ": ", prefix, " id ", t_ids[i],
                     " outside [0, ", n_targets_, ")");
      leaf_out_[resolve(t_trees[i], t_nodes[i])].push_back({t_ids[i], t_w[i]});
    }
    base_ = values("base_values");
    PIONNX_ENFORCE(base_.empty() || static_cast<int64_t>(base_.size()) == n_targets_, InvalidGraph, what,
                   ": base_values must have ", n_targets_, " entries");
    static const std::map<std::string, int64_t> kAgg = {{"AVERAGE", 0}, {"SUM", 1}, {"MIN", 2}, {"MAX", 3}};
    static const std::map<std::string, int64_t> kPost = {
        {"NONE", 0}, {"SOFTMAX", 1}, {"LOGISTIC", 2}, {"SOFTMAX_ZERO", 3}, {"PROBIT", 4}};
    const std::string agg = n.attr_s("aggregate_function", "SUM"), post = n.attr_s("post_transform", "NONE");
    PIONNX_ENFORCE(kAgg.count(agg) && kPost.count(post), InvalidGraph, what, ": unknown aggregate_function '", agg,
                   "' or post_transform '", post, "'");
    aggregate_ = kAgg.at(agg);
    post_ = kPost.at(post);
  }

  // [N, n_out] float64 aggregated scores (+ base_values), post-transformed when `post`.
  Tensor scores(KernelContext& ctx, bool post) const {
    const std::string what = node_.describe();
    const Tensor x = cast_tensor(ctx.input(0), DType::Double);
    const int64_t N = x.rank() == 1 ? 1 : x.dim(0);
    const int64_t F = N > 0 ? x.numel() / N : 0;
    for (size_t i = 0; i < modes_.size(); ++i)
      PIONNX_ENFORCE(modes_[i] < 0 || (features_[i] >= 0 && features_[i] < F), InvalidArgument, what, ": feature id ",
                     features_[i], " outside the ", F, " input features");
    const int64_t T = n_targets_;
    Tensor y(DType::Double, {N, T});
    const double* xd = x.data<double>();
    double* yd = y.data<double>();
    ctx.pool().parallel_for(N, 16, [&](int64_t begin, int64_t end) {
      for (int64_t r = begin; r < end; ++r) {
        const double* row = xd + r * F;
        double* out = yd + r * T;
        const double big = std::numeric_limits<float>::max();  // output is float
        const double init = aggregate_ == 2 ? big : aggregate_ == 3 ? -big : 0.0;
        std::fill(out, out + T, init);
        for (int64_t root : roots_) {
          for (const auto& tw : leaf_out_[find_leaf(root, row)]) {
            double& o = out[tw.first];
            if (aggregate_ == 2) o = std::min(o, tw.second);
            else if (aggregate_ == 3) o = std::max(o, tw.second);
            else o += tw.second;
          }
        }
        if (aggregate_ == 0)
          for (int64_t t = 0; t < T; ++t) out[t] /= static_cast<double>(roots_.size());
        if (!base_.empty())
          for (int64_t t = 0; t < T; ++t) out[t] += base_[t];
        if (post) post_transform(post_, out, T);
      }
    });
    return y;
  }

 protected:
  int64_t find_leaf(int64_t i, const double* row) const {
    for (size_t steps = 0; steps <= modes_.size(); ++steps) {
      if (modes_[i] < 0) return i;
      const double v = row[features_[i]], s = splits_[i];
      bool t;
      if (std::isnan(v)) {
        t = !missing_true_.empty() && missing_true_[i] != 0;
      } else {
        switch (modes_[i]) {
          case 0: t = v <= s; break;
          case 1: t = v < s; break;
          case 2: t = v >= s; break;
          case 3: t = v > s; break;
          case 4: t = v == s; break;
          default: t = v != s; break;
        }
      }
      i = t ? true_[i] : false_[i];
    }
    throw InvalidGraph(str_cat(node_.describe(), ": a tree has a cycle"));
  }

  const Node& node_;
  std::vector<int> modes_;  // 0..5 as TreeEnsemble's Cmp, -1 = leaf
  std::vector<int64_t> features_, missing_true_, true_, false_, roots_;
  std::vector<double> splits_, base_;
  std::vector<std::vector<std::pair<int64_t, double>>> leaf_out_;
  int64_t n_targets_ = 1, aggregate_ = 1, post_ = 0;
};

class TreeEnsembleRegressor : public LegacyTrees {
 public:
  explicit TreeEnsembleRegressor(const KernelInfo& info)
      : LegacyTrees(info, "target", info.node.attr_i("n_targets", 1)) {}
  void compute(KernelContext& ctx) const override { ctx.set_output(0, cast_tensor(scores(ctx, true), DType::Float)); }
};

// Outputs the winning label [N] and the class scores [N, classes]. When every
// leaf votes for one class id (binary), the second column is that score and
// the first its complement (1 - s, or -s before a squashing transform).
class TreeEnsembleClassifier : public LegacyTrees {
 public:
  explicit TreeEnsembleClassifier(const KernelInfo& info) : LegacyTrees(info, "class", num_labels(info.node)) {
    const Node& n = info.node;
    int_labels_ = n.attr_ints("classlabels_int64s");
    str_labels_ = n.attr_strings("classlabels_strings");
    const std::vector<int64_t> ids = n.attr_ints("class_ids");
    binary_ = !ids.empty() && std::all_of(ids.begin(), ids.end(), [&](int64_t c) { return c == ids[0]; });
    PIONNX_ENFORCE(
        !(binary_ && n_targets_ == 1 && !str_labels_.empty()) && (int_labels_.size() != 1 || int_labels_[0] == 1),
        NotImplemented, n.describe(), ": single class label form is not supported");
  }

  void compute(KernelContext& ctx) const override {
    Tensor raw = scores(ctx, !binary_);
    const int64_t N = raw.dim(0), C = std::max<int64_t>(n_targets_, binary_ ? 2 : 1);
    Tensor z(DType::Double, {N, C});
    const double* rd = raw.data<double>();
    double* zd = z.data<double>();
    for (int64_t r = 0; r < N; ++r) {
      double* out = zd + r * C;
      std::copy(rd + r * n_targets_, rd + (r + 1) * n_targets_, out);
      if (binary_) {
        // In float, as onnxruntime: near-ties (0.5 / 0.5) then break the same way.
        const float s = static_cast<float>(out[0]);
        out[1] = s;
        out[0] = (post_ == 0 || post_ == 4) ? 1.f - s : -s;
        post_transform(post_, out, C);
      }
    }
    Tensor* labels;
    if (str_labels_.empty()) {
      labels = &ctx.output(0, DType::Int64, {N});
      int64_t* ld = labels->data<int64_t>();
      for (int64_t r = 0; r < N; ++r) {
        const int64_t k = argmax(zd + r * C, C);
        ld[r] = int_labels_.size() == 1 ? (k == 1 ? 1 : 0) : int_labels_[k];
      }
    } else {
      labels = &ctx.output(0, DType::String, {N});
      std::string* ld = labels->data<std::string>();
      for (int64_t r = 0; r < N; ++r) ld[r] = str_labels_[argmax(zd + r * C, C)];
    }
    ctx.set_output(1, cast_tensor(z, DType::Float));
  }

 private:
  static int64_t num_labels(const Node& n) {
    const int64_t k = static_cast<int64_t>(
        std::max(n.attr_ints("classlabels_int64s").size(), n.attr_strings("classlabels_strings").size()));
    PIONNX_ENFORCE(k > 0, InvalidGraph, n.describe(), ": needs classlabels_int64s or classlabels_strings");
    return k;
  }
  // First maximum; a NaN wins (as numpy's argmax).
  static int64_t argmax(const double* v, int64_t n) {
    int64_t best = 0;
    for (int64_t i = 0; i < n; ++i) {
      if (std::isnan(v[i])) return i;
      if (v[i] > v[best]) best = i;
    }
    return best;
  }

  std::vector<int64_t> int_labels_;
  std::vector<std::string> str_labels_;
  bool binary_ = false;
};

// ---------------------------------------------------------------- Scaler / Normalizer

// [N, F] (or [F]) rows as float64 with their row count and width.
Tensor rows_as_double(const Tensor& x, int64_t* n, int64_t* f) {
  *f = x.rank() == 0 ? 1 : x.dim(-1);
  *n = *f > 0 ? x.numel() / *f : 0;
  return cast_tensor(x, DType::Double);
}

// y = (x - offset) * scale per feature (offset/scale of length 1 or F); float output.
class Scaler : public Kernel {
 public:
  explicit Scaler(const KernelInfo& info) : node_(info.node) {
    offset_ = info.node.attr_floats("offset");
    scale_ = info.node.attr_floats("scale");
  }
  void compute(KernelContext& ctx) const override {
    const std::string what = node_.describe();
    const Tensor& in = ctx.input(0);
    int64_t n, f;
    const Tensor x = rows_as_double(in, &n, &f);
    auto pick = [&](const std::vector<float>& v, int64_t j, float def) -> double {
      if (v.empty()) return def;
      return v.size() == 1 ? v[0] : v[static_cast<size_t>(j)];
    };
    for (const auto* v : {&offset_, &scale_})
      PIONNX_ENFORCE(v->size() <= 1 || static_cast<int64_t>(v->size()) == f, InvalidArgument, what,
                     ": offset/scale have ", v->size(), " entries for ", f, " features");
    Tensor& y = ctx.output(0, DType::Float, in.shape());
    const double* xd = x.data<double>();
    float* yd = y.data<float>();
    for (int64_t r = 0; r < n; ++r)
      for (int64_t j = 0; j < f; ++j)
        yd[r * f + j] = static_cast<float>((xd[r * f + j] - pick(offset_, j, 0.f)) * pick(scale_, j, 1.f));
  }

 private:
  const Node& node_;
  std::vector<float> offset_, scale_;
};

// Each row divided by its MAX, L1 or L2 norm; float output.
class Normalizer : public Kernel {
 public:
  explicit Normalizer(const KernelInfo& info) : node_(info.node) {
    norm_ = info.node.attr_s("norm", "MAX");
    PIONNX_ENFORCE(norm_ == "MAX" || norm_ == "L1" || norm_ == "L2", InvalidGraph, node_.describe(), ": unknown norm '",
                   norm_, "'");
  }
  void compute(KernelContext& ctx) const override {
    const Tensor& in = ctx.input(0);
    int64_t n, f;
    const Tensor x = rows_as_double(in, &n, &f);
    Tensor& y = ctx.output(0, DType::Float, in.shape());
    const double* xd = x.data<double>();
    float* yd = y.data<float>();
    for (int64_t r = 0; r < n; ++r) {
      const double* row = xd + r * f;
      double d = 0;
      if (norm_ == "MAX") {
        d = f > 0 ? row[0] : 0;
        for (int64_t j = 1; j < f; ++j) d = std::max(d, row[j]);
      } else if (norm_ == "L1") {
        for (int64_t j = 0; j < f; ++j) d += std::fabs(row[j]);
      } else {
        for (int64_t j = 0; j < f; ++j) d += row[j] * row[j];
        d = std::sqrt(d);
      }
      for (int64_t j = 0; j < f; ++j) yd[r * f + j] = static_cast<float>(d != 0 ? row[j] / d : row[j]);
    }
  }

 private:
  const Node& node_;
  std::string norm_;
};

// ---------------------------------------------------------------- LinearClassifier / LinearRegressor

// scores [N, C] = X [N, F] . coefficients[C, F]^T + intercepts, in float64.
Tensor linear_scores(const Node& node, const Tensor& in, const std::vector<float>& coef,
                     const std::vector<float>& intercepts, int64_t c) {
  const std::string what = node.describe();
  int64_t n, f;
  const Tensor x = rows_as_double(in, &n, &f);
  PIONNX_ENFORCE(c > 0 && static_cast<int64_t>(coef.size()) == c * f, InvalidArgument, what, ": ", coef.size(),
                 " coefficients do not make ", c, " rows of the ", f, " input features");
  PIONNX_ENFORCE(intercepts.empty() || static_cast<int64_t>(intercepts.size()) == c, InvalidGraph, what,
                 ": intercepts must have ", c, " entries");
  Tensor s(DType::Double, {n, c});
  const double* xd = x.data<double>();
  double* sd = s.data<double>();
  for (int64_t r = 0; r < n; ++r)
    for (int64_t k = 0; k < c; ++k) {
      double acc = intercepts.empty() ? 0.0 : intercepts[k];
      for (int64_t j = 0; j < f; ++j) acc += xd[r * f + j] * coef[k * f + j];
      sd[r * c + k] = acc;
    }
  return s;
}

// Outputs the label [N] and the scores [N, C] (C = number of intercepts; one
// score with two labels is binary: the label is the second one when the
// score is positive, 0.5 after LOGISTIC/PROBIT, and the scores become the two
// columns [1 - s, s] as onnxruntime writes them).
class LinearClassifier : public Kernel {
 public:
  explicit LinearClassifier(const KernelInfo& info) : node_(info.node) {
    const Node& n = info.node;
    coef_ = n.attr_floats("coefficients");
    intercepts_ = n.attr_floats("intercepts");
    int_labels_ = n.attr_ints("classlabels_ints");
    str_labels_ = n.attr_strings("classlabels_strings");
    post_ = post_transform_code(n);
    n_labels_ = static_cast<int64_t>(std::max(int_labels_.size(), str_labels_.size()));
    PIONNX_ENFORCE(n_labels_ > 0, InvalidGraph, n.describe(), ": needs classlabels_ints or classlabels_strings");
    n_scores_ = intercepts_.empty() ? n_labels_ : static_cast<int64_t>(intercepts_.size());
  }

  void compute(KernelContext& ctx) const override {
    Tensor s = linear_scores(node_, ctx.input(0), coef_, intercepts_, n_scores_);
    const int64_t N = s.dim(0), C = n_scores_;
    double* sd = s.data<double>();
    std::vector<int64_t> best(static_cast<size_t>(N));
    Tensor out;
    if (C == 1 && n_labels_ == 2) {
      out = Tensor(DType::Double, {N, 2});
      double* od = out.data<double>();
      for (int64_t r = 0; r < N; ++r) {
        double v = sd[r];
        post_transform(post_, &v, 1);
        const bool positive = (post_ == 2 || post_ == 4) ? v > 0.5 : v > 0;
        best[r] = positive ? 1 : 0;
        od[r * 2 + 1] = v;
        od[r * 2] = 1 - v;  // as onnxruntime, whatever the post_transform
      }
    } else {
      for (int64_t r = 0; r < N; ++r) {
        double* row = sd + r * C;
        int64_t k = 0;
        for (int64_t j = 1; j < C; ++j)
          if (row[j] > row[k]) k = j;
        best[r] = k;
        post_transform(post_, row, C);
      }
      out = s;
    }
    if (str_labels_.empty()) {
      int64_t* ld = ctx.output(0, DType::Int64, {N}).data<int64_t>();
      for (int64_t r = 0; r < N; ++r) ld[r] = best[r] < n_labels_ ? int_labels_[best[r]] : best[r];
    } else {
      std::string* ld = ctx.output(0, DType::String, {N}).data<std::string>();
      for (int64_t r = 0; r < N; ++r) ld[r] = best[r] < n_labels_ ? str_labels_[best[r]] : std::string();
    }
    ctx.set_output(1, cast_tensor(out, DType::Float));
  }

 private:
  const Node& node_;
  std::vector<float> coef_, intercepts_;
  std::vector<int64_t> int_labels_;
  std::vector<std::string> str_labels_;
  int64_t post_ = 0, n_labels_ = 0, n_scores_ = 0;
};

class LinearRegressor : public Kernel {
 public:
  explicit LinearRegressor(const KernelInfo& info) : node_(info.node) {
    coef_ = info.node.attr_floats("coefficients");
    intercepts_ = info.node.attr_floats("intercepts");
    targets_ = info.node.attr_i("targets", 1);
    post_ = post_transform_code(info.node);
  }
  void compute(KernelContext& ctx) const override {
    Tensor s = linear_scores(node_, ctx.input(0), coef_, intercepts_, targets_);
    double* sd = s.data<double>();
    for (int64_t r = 0; r < s.dim(0); ++r) post_transform(post_, sd + r * targets_, targets_);
    ctx.set_output(0, cast_tensor(s, DType::Float));
  }

 private:
  const Node& node_;
  std::vector<float> coef_, intercepts_;
  int64_t targets_ = 1, post_ = 0;
};

// ---------------------------------------------------------------- ZipMap

// [N, C] float -> seq(map(K, float)), carried as the sequence [keys [C], X as [N, C]].
class ZipMap : public Kernel {
 public:
  explicit ZipMap(const KernelInfo& info) : node_(info.node) {
    const std::vector<int64_t> ints = info.node.attr_ints("classlabels_int64s");
    const std::vector<std::string> strs = info.node.attr_strings("classlabels_strings");
    PIONNX_ENFORCE(ints.empty() != strs.empty(), InvalidGraph, node_.describe(),
                   ": needs exactly one of classlabels_int64s and classlabels_strings");
    keys_ = strs.empty() ? vec1d(ints) : vec1d(strs);
  }
  void compute(KernelContext& ctx) const override {
    const Tensor& x = ctx.input(0);
    const int64_t c = keys_.numel();
    PIONNX_ENFORCE(x.dtype() == DType::Float, InvalidArgument, node_.describe(), ": X must be float, got ",
                   dtype_name(x.dtype()));
    PIONNX_ENFORCE((x.rank() == 1 || x.rank() == 2) && x.dim(-1) == c, InvalidArgument, node_.describe(),
                   ": X must be [N, ", c, "] (one column per class label)");
    const int64_t n = x.rank() == 1 ? 1 : x.dim(0);
    std::vector<Tensor> seq{keys_, x.clone().reshaped({n, c})};
    ctx.set_output_value(0, Value::make_sequence(std::move(seq), DType::Float));
  }

 private:
  const Node& node_;
  Tensor keys_;
};

}  // namespace

void register_ml(KernelRegistry& r) {
  r.add_all(kMl, {impl<Binarizer>("Binarizer"), impl_fn("ArrayFeatureExtractor", array_feature_extractor),
                  impl<LabelEncoder>("LabelEncoder"), impl<TreeEnsemble>("TreeEnsemble"),
                  impl<TreeEnsembleRegressor>("TreeEnsembleRegressor"),
                  impl<TreeEnsembleClassifier>("TreeEnsembleClassifier"), impl<Scaler>("Scaler"),
                  impl<Normalizer>("Normalizer"), impl<LinearClassifier>("LinearClassifier"),
                  impl<LinearRegressor>("LinearRegressor"), impl<ZipMap>("ZipMap")});
}

}  // namespace pionnx
