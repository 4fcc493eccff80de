// TfIdfVectorizer: counts the n-grams of a pool in each row of an int32/int64
// or string input, with skips, and weighs the counts (TF, IDF, TFIDF).
//
// The pool lists n-grams by size (ngram_counts gives where each size starts);
// each gets an id, in pool order across all sizes, that ngram_indexes maps to
// an output column. Only sizes within [min_gram_length, max_gram_length] are
// looked for. A row is scanned with every skip distance d from 1 to
// max_skip_count + 1: from each start, items start, start + d, start + 2d, ...
// form growing n-grams until one is not the prefix of a pool n-gram; each that
// is a pool n-gram of a wanted size counts once. Unigrams do not depend on d
// and count in the first pass only. (onnxruntime's and onnx.reference's walk
// of their n-gram trie, written with a map of prefixes.)
#include <algorithm>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "kernels/base/kernel.h"
#include "kernels/base/shapes.h"

namespace pionnx {

namespace {

template <typename Key>
struct NgramPool {
  std::map<std::vector<Key>, int64_t> ids;  // a wanted n-gram -> its id (1-based; a later duplicate wins)
  std::set<std::vector<Key>> prefixes;      // every prefix of a wanted n-gram, itself included
};

class TfIdfVectorizer : public Kernel {
 public:
  explicit TfIdfVectorizer(const KernelInfo& info) : what_(info.node.describe()) {
    const Node& n = info.node;
    const std::string mode = n.attr_s("mode", "");
    PIONNX_ENFORCE(mode == "TF" || mode == "IDF" || mode == "TFIDF", InvalidGraph, what_,
                   ": mode must be TF, IDF or TFIDF, got '", mode, "'");
    mode_ = mode;
    min_n_ = n.require("min_gram_length").i;
    max_n_ = n.require("max_gram_length").i;
    max_skip_ = n.require("max_skip_count").i;
    PIONNX_ENFORCE(min_n_ >= 1 && max_n_ >= min_n_ && max_skip_ >= 0, InvalidGraph, what_,
                   ": need 1 <= min_gram_length <= max_gram_length and max_skip_count >= 0, got ", min_n_, ", ", max_n_,
                   ", ", max_skip_);
    const std::vector<int64_t> counts = n.require("ngram_counts").ints;
    indexes_ = n.require("ngram_indexes").ints;
    weights_ = n.attr_floats("weights");
    PIONNX_ENFORCE(!indexes_.empty(), InvalidGraph, what_, ": ngram_indexes is empty");
    for (int64_t idx : indexes_) PIONNX_ENFORCE(idx >= 0, InvalidGraph, what_, ": negative ngram index ", idx);
    out_size_ = *std::max_element(indexes_.begin(), indexes_.end()) + 1;
    PIONNX_ENFORCE(weights_.empty() || static_cast<int64_t>(weights_.size()) >= out_size_, InvalidGraph, what_,
                   ": weights has ", weights_.size(), " values for ", out_size_, " outputs");
    strings_ = n.has("pool_strings");
    PIONNX_ENFORCE(strings_ != n.has("pool_int64s"), InvalidGraph, what_,
                   ": exactly one of pool_strings and pool_int64s must be given");
    if (strings_) load(n.attr_strings("pool_strings"), counts, str_pool_);
    else load(n.attr_ints("pool_int64s"), counts, int_pool_);
  }

  void compute(KernelContext& ctx) const override {
    const Tensor& x = ctx.input(0);
    PIONNX_ENFORCE(x.rank() <= 2, InvalidArgument, what_, ": input must be [C] or [B, C], got ", shape_str(x.shape()));
    const bool batched = x.rank() == 2;
    const int64_t rows = batched ? x.dim(0) : 1, cols = batched ? x.dim(1) : x.numel();
    PIONNX_ENFORCE(!batched || rows > 0, InvalidArgument, what_, ": a [B, C] input needs B > 0");
    std::vector<int64_t> freq(static_cast<size_t>(rows * out_size_), 0);
    if (strings_) {
      PIONNX_ENFORCE(x.dtype() == DType::String, InvalidArgument, what_, ": the pool holds strings but the input is ",
                     dtype_name(x.dtype()));
      const std::string* p = x.data<std::string>();
      for (int64_t r = 0; r < rows; ++r) count_row(p + r * cols, cols, str_pool_, freq.data() + r * out_size_);
    } else {
      PIONNX_ENFORCE(x.dtype() == DType::Int32 || x.dtype() == DType::Int64, InvalidArgument, what_,
                     ": the pool holds integers; the input must be int32 or int64, got ", dtype_name(x.dtype()));
      std::vector<int64_t> items = tensor_to_int64s(x);
      for (int64_t r = 0; r < rows; ++r)
        count_row(items.data() + r * cols, cols, int_pool_, freq.data() + r * out_size_);
    }
    Tensor& y = ctx.output(0, DType::Float, batched ? Shape{rows, out_size_} : Shape{out_size_});
    float* out = y.data<float>();
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t i = 0; i < out_size_; ++i) {
        const int64_t f = freq[static_cast<size_t>(r * out_size_ + i)];
        const float w = weights_.empty() ? 1.f : weights_[static_cast<size_t>(i)];
        float v = static_cast<float>(f);          // TF
        if (mode_ == "IDF") v = f > 0 ? w : 0.f;  // presence, weighted
        else if (mode_ == "TFIDF") v = w * static_cast<float>(f);
        out[r * out_size_ + i] = v;
      }
  }

 private:
  template <typename Key>
  void load(const std::vector<Key>& pool, const std::vector<int64_t>& counts, NgramPool<Key>& out) const {
    int64_t id = 1;
    for (size_t i = 0; i < counts.size(); ++i) {
      const int64_t size = static_cast<int64_t>(i) + 1;
      const int64_t begin = counts[i];
      const int64_t end = i + 1 < counts.size() ? counts[i + 1] : static_cast<int64_t>(pool.size());
      PIONNX_ENFORCE(begin >= 0 && begin <= end && end <= static_cast<int64_t>(pool.size()), InvalidGraph, what_,
                     ": ngram_counts ", begin, "..", end, " out of the pool's ", pool.size(), " items");
      const int64_t grams = (end - begin) / size;
      if (size < min_n_ || size > max_n_) {
        id += grams;
        continue;
      }
      for (int64_t g = 0; g < grams; ++g, ++id) {
        std::vector<Key> gram(pool.begin() + begin + g * size, pool.begin() + begin + (g + 1) * size);
        PIONNX_ENFORCE(id - 1 < static_cast<int64_t>(indexes_.size()), InvalidGraph, what_, ": ngram_indexes has ",
                       indexes_.size(), " entries for more n-grams");
        out.ids[gram] = id;
        for (size_t k = 1; k <= gram.size(); ++k) out.prefixes.insert(std::vector<Key>(gram.begin(), gram.begin() + k));
      }
    }
  }

  template <typename Key>
  // row: the n items of one row, read in place.
  void count_row(const Key* row, int64_t n, const NgramPool<Key>& pool, int64_t* freq) const {
    int64_t start_size = min_n_;
    std::vector<Key> gram;
    for (int64_t d = 1; d <= max_skip_ + 1; ++d) {
      for (int64_t s = 0; s < n && s + d * (start_size - 1) < n; ++s) {
        gram.clear();
        for (int64_t item = s, size = 1; size <= max_n_ && item < n; ++size, item += d) {
          gram.push_back(row[item]);
          if (pool.prefixes.count(gram) == 0) break;
          auto hit = pool.ids.find(gram);
          if (size >= start_size && hit != pool.ids.end()) ++freq[indexes_[static_cast<size_t>(hit->second - 1)]];
        }
      }
      if (start_size == 1) {  // unigrams are counted in the first pass only
        if (++start_size > max_n_) break;
      }
    }
  }

  std::string what_, mode_;
  int64_t min_n_ = 1, max_n_ = 1, max_skip_ = 0, out_size_ = 0;
  std::vector<int64_t> indexes_;
  std::vector<float> weights_;
  bool strings_ = false;
  NgramPool<int64_t> int_pool_;
  NgramPool<std::string> str_pool_;
};

}  // namespace

void register_tfidf(KernelRegistry& r) { r.add_all("", {impl<TfIdfVectorizer>("TfIdfVectorizer")}); }

}  // namespace pionnx
