#include "kernels/base/kernel.h"

#include <algorithm>
#include <map>
#include <stdexcept>
#include <string>

namespace pionnx {

std::unique_ptr<Subgraph> KernelInfo::subgraph(const char* attr) const {
  const Graph* g = node.attr_g(attr);
  PIONNX_ENFORCE(g != nullptr, InvalidGraph, node.describe(), ": attribute '", attr, "' (a graph) is missing");
  PIONNX_ENFORCE(static_cast<bool>(build_subgraph), InvalidGraph, node.describe(),
                 ": subgraphs cannot be run here (no executor made this kernel)");
  return build_subgraph(*g);
}

const Tensor& KernelContext::input(size_t i) const {
  PIONNX_ENFORCE(has_input(i), InvalidArgument, node_.describe(), ": input ", i, " is required but missing");
  const Value* v = inputs_[i];
  PIONNX_ENFORCE(v->is_tensor(), InvalidArgument, node_.describe(), ": input ", i, " ('", node_.inputs[i],
                 "') must be a tensor");
  return v->tensor;
}

const Tensor* KernelContext::optional_input(size_t i) const {
  if (!has_input(i)) return nullptr;
  const Value* v = inputs_[i];
  if (v->kind == Value::Kind::None) return nullptr;
  return &input(i);
}

Tensor& KernelContext::output(size_t i, DType dtype, Shape shape) {
  PIONNX_ENFORCE(i < outputs_.size() || i < node_.outputs.size() + 8, InvalidGraph, node_.describe(), ": output ", i,
                 " does not exist");
  for (int64_t d : shape)
    PIONNX_ENFORCE(d >= 0, InvalidArgument, node_.describe(), ": output ", i, " would have negative shape ",
                   shape_str(shape));
  if (!wants_output(i)) {
    scratch_.emplace_back(Tensor(dtype, std::move(shape)));
    return scratch_.back().tensor;
  }
  if (i == 0)
    for (Value* d : donors_)
      if (d->tensor.dtype() == dtype && d->tensor.shape() == shape) {
        *outputs_[0] = *d;  // shares the storage; the donor slot is released after this node
        donors_.clear();
        return outputs_[0]->tensor;
      }
  *outputs_[i] = Value(Tensor(dtype, std::move(shape)));
  return outputs_[i]->tensor;
}

void KernelContext::set_output(size_t i, Tensor t) {
  if (wants_output(i)) *outputs_[i] = Value(std::move(t));
}

void KernelContext::set_output_value(size_t i, Value v) {
  if (wants_output(i)) *outputs_[i] = std::move(v);
}

const std::vector<OperatorRow>& operator_table() {
  static const std::vector<OperatorRow> rows = {
#define PIONNX_OP(domain, op, since, until) {domain, op, since, until},
#include "kernels/base/operators.inc"
#undef PIONNX_OP
  };
  return rows;
}

std::vector<OperatorSupport> supported_operators() {
  std::vector<OperatorSupport> out;
  for (const OperatorRow& r : operator_table()) out.push_back({r.domain, r.op, r.since, r.until});
  return out;
}

int latest_opset() { return kLatestOpset; }

namespace {

// The table's rows by (canonical domain, op), built once: registering a
// kernel looks its rows up instead of scanning all of them.
const std::map<std::pair<std::string, std::string>, std::vector<const OperatorRow*>>& operator_index() {
  static const auto index = [] {
    std::map<std::pair<std::string, std::string>, std::vector<const OperatorRow*>> m;
    for (const OperatorRow& r : operator_table()) m[{canonical_domain(r.domain), r.op}].push_back(&r);
    return m;
  }();
  return index;
}

}  // namespace

void KernelRegistry::add(const std::string& domain, const std::string& op, KernelFactory f, int since) {
  const std::string dom = canonical_domain(domain);
  const OperatorRow* row = nullptr;
  int matches = 0;
  const auto& index = operator_index();
  if (auto it = index.find({dom, op}); it != index.end())
    for (const OperatorRow* r : it->second) {
      if (since != 0 && r->since != since) continue;
      row = r;
      ++matches;
    }
  if (matches != 1)
    throw std::logic_error("kernel for " + (dom.empty() ? std::string("ai.onnx") : dom) + "::" + op +
                           (since != 0 ? " (since " + std::to_string(since) + ")" : std::string()) + ": " +
                           (matches == 0
                                ? "not listed in kernels/base/operators.inc"
                                : "listed more than once in kernels/base/operators.inc; register with `since`"));
  std::vector<Entry>& entries = table_[{dom, op}];
  for (const Entry& e : entries)
    if (e.since == row->since)
      throw std::logic_error("kernel for " + op + " registered twice for opset " + std::to_string(row->since));
  entries.push_back({row->since, row->until, std::move(f)});
}

void KernelRegistry::check_complete() const {
  std::string missing;
  for (const OperatorRow& r : operator_table()) {
    auto it = table_.find({canonical_domain(r.domain), r.op});
    bool found = false;
    if (it != table_.end())
      for (const Entry& e : it->second) found = found || e.since == r.since;
    if (!found) missing += std::string(missing.empty() ? "" : ", ") + r.domain + "::" + r.op;
  }
  if (!missing.empty())
    throw std::logic_error("kernels/base/operators.inc lists operators no kernel implements: " + missing);
}

namespace {
class FnKernel : public Kernel {
 public:
  FnKernel(std::function<void(KernelContext&)> fn, bool in_place) : fn_(std::move(fn)), in_place_(in_place) {}
  void compute(KernelContext& ctx) const override { fn_(ctx); }
  bool computes_in_place() const override { return in_place_; }

 private:
  std::function<void(KernelContext&)> fn_;
  bool in_place_;
};
}  // namespace

KernelFactory kernel_fn(std::function<void(KernelContext&)> fn, bool in_place) {
  return [fn = std::move(fn), in_place](const KernelInfo&) -> std::unique_ptr<Kernel> {
    return std::make_unique<FnKernel>(fn, in_place);
  };
}

void KernelRegistry::add_fn(const std::string& domain, const std::string& op, std::function<void(KernelContext&)> fn,
                            bool in_place) {
  add(domain, op, kernel_fn(std::move(fn), in_place));
}

const KernelFactory* KernelRegistry::find(const std::string& domain, const std::string& op, int64_t opset) const {
  auto it = table_.find({canonical_domain(domain), op});
  if (it == table_.end()) return nullptr;
  for (const Entry& e : it->second)
    if (opset >= e.since && opset <= e.until) return &e.factory;
  return nullptr;
}

bool KernelRegistry::has_op(const std::string& domain, const std::string& op) const {
  return table_.count({canonical_domain(domain), op}) > 0;
}

std::vector<std::pair<std::string, std::string>> KernelRegistry::ops() const {
  std::vector<std::pair<std::string, std::string>> out;
  for (const auto& kv : table_) out.push_back(kv.first);
  return out;
}

}  // namespace pionnx
