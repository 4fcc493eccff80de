// String operators: StringNormalizer, StringConcat, StringSplit. Case
// changes are ASCII-only (bytes outside ASCII pass through unchanged).
// RegexFullMatch is in regex.cc, with pionnx's own linear-time RE2-subset
// matcher (std::regex needs std::locale, which breaks when a statically
// linked libstdc++ meets the process's own).
#include <algorithm>
#include <cctype>
#include <unordered_set>

#include "kernels/base/kernel.h"
#include "kernels/base/shapes.h"

namespace pionnx {

namespace {

std::string change_case(std::string s, const std::string& action) {
  if (action == "LOWER") std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
  else if (action == "UPPER")
    std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::toupper(c); });
  return s;
}

class StringNormalizer : public Kernel {
 public:
  explicit StringNormalizer(const KernelInfo& info) {
    const Node& n = info.node;
    action_ = n.attr_s("case_change_action", "NONE");
    PIONNX_ENFORCE(action_ == "NONE" || action_ == "LOWER" || action_ == "UPPER", InvalidGraph, n.describe(),
                   ": case_change_action must be NONE, LOWER or UPPER, not '", action_, "'");
    case_sensitive_ = n.attr_i("is_case_sensitive", 0) != 0;
    for (const std::string& w : n.attr_strings("stopwords"))
      stops_.insert(case_sensitive_ ? w : change_case(w, "LOWER"));
  }

  void compute(KernelContext& ctx) const override {
    const Tensor& x = ctx.input(0);
    PIONNX_ENFORCE(x.dtype() == DType::String, InvalidArgument, ctx.node().describe(), ": input must be strings");
    bool two_d = x.rank() == 2;
    PIONNX_ENFORCE(x.rank() == 1 || (two_d && x.shape()[0] == 1), InvalidArgument, ctx.node().describe(),
                   ": input must have shape [C] or [1, C], got ", shape_str(x.shape()));
    std::vector<std::string> kept;
    for (int64_t i = 0; i < x.numel(); ++i) {
      const std::string& s = x.data<std::string>()[i];
      if (stops_.count(case_sensitive_ ? s : change_case(s, "LOWER"))) continue;
      kept.push_back(change_case(s, action_));
    }
    if (kept.empty()) kept.emplace_back();
    int64_t c = static_cast<int64_t>(kept.size());
    Tensor& out = ctx.output(0, DType::String, two_d ? Shape{1, c} : Shape{c});
    for (int64_t i = 0; i < c; ++i) out.data<std::string>()[i] = std::move(kept[i]);
  }

 private:
  std::string action_;
  bool case_sensitive_ = false;
  std::unordered_set<std::string> stops_;
};

void string_concat(KernelContext& ctx) {
  const Tensor& a = ctx.input(0);
  const Tensor& b = ctx.input(1);
  Shape shape = broadcast_shapes(a.shape(), b.shape(), ctx.node().describe());
  Tensor& out = ctx.output(0, DType::String, shape);
  std::vector<int64_t> sa = broadcast_strides(a.shape(), shape), sb = broadcast_strides(b.shape(), shape);
  if (out.numel() == 0) return;
  IndexIter it(shape);
  int64_t k = 0;
  do {
    int64_t ia = 0, ib = 0;
    for (size_t d = 0; d < shape.size(); ++d) {
      ia += it.idx[d] * sa[d];
      ib += it.idx[d] * sb[d];
    }
    out.data<std::string>()[k++] = a.data<std::string>()[ia] + b.data<std::string>()[ib];
  } while (it.next());
}

class StringSplit : public Kernel {
 public:
  explicit StringSplit(const KernelInfo& info)
      : delim_(info.node.attr_s("delimiter", "")), maxsplit_(info.node.attr_i("maxsplit", -1)) {}

  void compute(KernelContext& ctx) const override {
    const Tensor& x = ctx.input(0);
    std::vector<std::vector<std::string>> parts(static_cast<size_t>(x.numel()));
    size_t widest = 0;
    for (int64_t i = 0; i < x.numel(); ++i) {
      parts[i] = split(x.data<std::string>()[i]);
      widest = std::max(widest, parts[i].size());
    }
    Shape ys = x.shape();
    ys.push_back(static_cast<int64_t>(widest));
    Tensor& y = ctx.output(0, DType::String, ys);
    for (int64_t i = 0; i < x.numel(); ++i)
      for (size_t j = 0; j < parts[i].size(); ++j) y.data<std::string>()[i * widest + j] = parts[i][j];
    if (ctx.wants_output(1)) {
      Tensor& z = ctx.output(1, DType::Int64, x.shape());
      for (int64_t i = 0; i < x.numel(); ++i) z.data<int64_t>()[i] = static_cast<int64_t>(parts[i].size());
    }
  }

 private:
  // No delimiter: split on runs of whitespace, dropping empty pieces (like
  // Python's str.split()). With one: split on every occurrence.
  std::vector<std::string> split(const std::string& s) const {
    std::vector<std::string> out;
    int64_t splits = 0;
    if (delim_.empty()) {
      size_t i = 0;
      while (i < s.size()) {
        while (i < s.size() && std::isspace(static_cast<unsigned char>(s[i]))) ++i;
        if (i >= s.size()) break;
        if (maxsplit_ >= 0 && splits == maxsplit_) {
          out.push_back(s.substr(i));
          break;
        }
        size_t j = i;
        while (j < s.size() && !std::isspace(static_cast<unsigned char>(s[j]))) ++j;
        out.push_back(s.substr(i, j - i));
        ++splits;
        i = j;
      }
      // The last piece counts no split: undo the over-count.
      return out;
    }
    size_t start = 0;
    while (true) {
      size_t pos = s.find(delim_, start);
      if (pos == std::string::npos || (maxsplit_ >= 0 && splits == maxsplit_)) {
        out.push_back(s.substr(start));
        break;
      }
      out.push_back(s.substr(start, pos - start));
      start = pos + delim_.size();
      ++splits;
    }
    return out;
  }

  std::string delim_;
  int64_t maxsplit_;
};

}  // namespace

void register_string(KernelRegistry& r) {
  r.add_all("", {impl<StringNormalizer>("StringNormalizer"), impl_fn("StringConcat", string_concat),
                 impl<StringSplit>("StringSplit")});
}

}  // namespace pionnx
