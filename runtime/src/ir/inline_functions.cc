#include "ir/inline_functions.h"

#include <unordered_map>

#include "pionnx/status.h"

namespace pionnx {

namespace {

constexpr int kMaxInlineDepth = 32;

// Binds ref_attr_name attributes of a body node to the caller's attributes
// (or the function's defaults); unbound references are dropped, leaving the
// operator's own default.
std::vector<Attribute> bind_attrs(const Node& body, const Node& call, const Function& fn) {
  std::vector<Attribute> out;
  for (const Attribute& a : body.attrs) {
    if (a.ref_attr_name.empty()) {
      out.push_back(a);
      continue;
    }
    const Attribute* src = call.find(a.ref_attr_name);
    if (!src)
      for (const Attribute& d : fn.attribute_defaults)
        if (d.name == a.ref_attr_name) src = &d;
    if (!src) continue;
    Attribute b = *src;
    b.name = a.name;
    b.ref_attr_name.clear();
    out.push_back(std::move(b));
  }
  return out;
}

class Inliner {
 public:
  Inliner(const Model& m, int64_t max_nodes) : max_nodes_(max_nodes) {
    for (const Function& f : m.functions) funcs_[{f.domain, f.name}] = &f;
  }

  bool empty() const { return funcs_.empty(); }

  void graph(Graph& g, int depth) {
    PIONNX_ENFORCE(depth < kMaxInlineDepth, InvalidGraph, "model functions call each other too deeply (recursion?)");
    std::vector<Node> out;
    bool changed = false;
    for (Node& n : g.nodes) {
      for (Attribute& a : n.attrs) {
        if (a.g) graph(*a.g, depth);
        for (auto& sg : a.graphs) graph(*sg, depth);
      }
      auto it = funcs_.find({n.domain, n.op_type});
      if (it == funcs_.end()) {
        out.push_back(std::move(n));
        continue;
      }
      changed = true;
      expand(n, *it->second, out);
    }
    g.nodes = std::move(out);
    if (changed) graph(g, depth + 1);  // bodies may call functions too
  }

 private:
  void expand(const Node& call, const Function& fn, std::vector<Node>& out) {
    std::string prefix = str_cat("__", fn.name, "_", counter_++, "__");
    std::unordered_map<std::string, std::string> rename;
    for (size_t i = 0; i < fn.inputs.size(); ++i) rename[fn.inputs[i]] = i < call.inputs.size() ? call.inputs[i] : "";
    for (size_t i = 0; i < fn.outputs.size(); ++i)
      rename[fn.outputs[i]] = i < call.outputs.size() ? call.outputs[i] : "";
    auto map_name = [&](const std::string& s) -> std::string {
      if (s.empty()) return s;
      auto it = rename.find(s);
      if (it != rename.end()) return it->second;
      return prefix + s;
    };
    made_ += static_cast<int64_t>(fn.nodes.size());
    PIONNX_ENFORCE(made_ <= max_nodes_, InvalidGraph, "inlining the model's functions makes more than ", max_nodes_,
                   " nodes (at ", call.describe(), "); SessionOptions.max_inlined_nodes raises the limit");
    for (const Node& b : fn.nodes) {
      Node n = b;
      n.name = prefix + b.name;
      for (auto& s : n.inputs) s = map_name(s);
      for (auto& s : n.outputs) s = map_name(s);
      n.attrs = bind_attrs(b, call, fn);
      out.push_back(std::move(n));
    }
  }

  std::map<std::pair<std::string, std::string>, const Function*> funcs_;
  int counter_ = 0;
  int64_t max_nodes_, made_ = 0;
};

}  // namespace

void inline_functions(Model& m, int64_t max_nodes) {
  Inliner in(m, max_nodes);
  if (in.empty()) return;
  // A function's opset imports join the model's where the model lacks them.
  for (const Function& f : m.functions)
    for (const auto& kv : f.opsets) m.opsets.insert(kv);
  in.graph(m.graph, 0);
}

}  // namespace pionnx
