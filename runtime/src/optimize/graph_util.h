// Small queries the rewrite passes share: who reads a name, which names are
// pinned (graph inputs/outputs, read inside subgraphs), which are constants.
#pragma once
#include <cmath>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "ir/graph.h"
#include "optimize/passes.h"

namespace pionnx {
namespace opt {

using pionnx::collect_names_read;

inline bool has_subgraph(const Node& n) {
  for (const Attribute& a : n.attrs)
    if (a.g || !a.graphs.empty()) return true;
  return false;
}

struct GraphFacts {
  std::unordered_set<std::string> graph_inputs, graph_outputs, subgraph_reads;
  std::unordered_set<std::string> overridable;  // initializers a feed may replace
  std::unordered_map<std::string, int> uses;    // reads by nodes of this graph
  std::unordered_map<std::string, size_t> producer;

  GraphFacts(const Graph& g, const OptimizeContext& ctx) {
    for (const ValueInfo& v : g.inputs) {
      graph_inputs.insert(v.name);
      if (ctx.ir_version >= 4 && g.initializers.count(v.name)) overridable.insert(v.name);
    }
    for (const ValueInfo& v : g.outputs) graph_outputs.insert(v.name);
    for (size_t k = 0; k < g.nodes.size(); ++k) {
      const Node& n = g.nodes[k];
      for (const auto& in : n.inputs)
        if (!in.empty()) ++uses[in];
      for (const auto& o : n.outputs)
        if (!o.empty()) producer[o] = k;
      collect_subgraph_reads(n, subgraph_reads);
    }
  }
  int use_count(const std::string& name) const {
    auto it = uses.find(name);
    return it == uses.end() ? 0 : it->second;
  }
  // A name only this graph's nodes see: safe to rename or drop.
  bool is_internal(const std::string& name) const {
    return !graph_outputs.count(name) && !graph_inputs.count(name) && !subgraph_reads.count(name);
  }
  // The single node reading name, or -1.
  long sole_consumer(const Graph& g, const std::string& name) const {
    if (use_count(name) != 1 || !is_internal(name)) return -1;
    for (size_t k = 0; k < g.nodes.size(); ++k)
      for (const auto& in : g.nodes[k].inputs)
        if (in == name) return static_cast<long>(k);
    return -1;
  }
};

// An initializer the user cannot override (not also a graph input).
inline const Tensor* constant(const Graph& g, const GraphFacts& f, const std::string& name) {
  if (name.empty() || f.overridable.count(name)) return nullptr;
  auto it = g.initializers.find(name);
  return it == g.initializers.end() ? nullptr : &it->second;
}

// A name not yet used for any value in g.
inline std::string fresh_name(const Graph& g, const std::string& base) {
  std::string name = base;
  for (int k = 1;; ++k) {
    bool taken = g.initializers.count(name) > 0;
    for (const Node& n : g.nodes)
      for (const auto& o : n.outputs) taken = taken || o == name;
    for (const ValueInfo& v : g.inputs) taken = taken || v.name == name;
    if (!taken) return name;
    name = base + "_" + std::to_string(k);
  }
}

// A constant float scalar (any shape with one element) within 1e-5 of want.
inline bool is_scalar(const Graph& g, const GraphFacts& f, const std::string& name, double want) {
  const Tensor* t = constant(g, f, name);
  if (!t || t->dtype() != DType::Float || t->numel() != 1) return false;
  return std::fabs(static_cast<double>(t->data<float>()[0]) - want) <= 1e-5 * std::fabs(want);
}

// An ai.onnx node of type op with `inputs` inputs and one output.
inline bool is_op(const Node& n, const char* op, size_t inputs) {
  return n.op_type == op && n.domain.empty() && n.inputs.size() == inputs && n.outputs.size() == 1;
}

// The input of n other than `name`, or "" when n does not read name once.
inline std::string other_input(const Node& n, const std::string& name) {
  if (n.inputs.size() != 2 || (n.inputs[0] == name) == (n.inputs[1] == name)) return "";
  return n.inputs[0] == name ? n.inputs[1] : n.inputs[0];
}

// Tensor ranks known without running the graph: declared types,
// initializers, and ops whose output rank follows from their inputs' ranks
// (elementwise broadcasting, MatMul, Gather, Reshape/Unsqueeze with constant
// shapes, ...). Missing names are unknown.
std::unordered_map<std::string, int64_t> known_ranks(const Graph& g, const GraphFacts& f);

// The node producing name, unless dropped; -1 when none.
inline long live_producer(const GraphFacts& f, const std::string& name, const std::vector<bool>& drop) {
  auto it = f.producer.find(name);
  return it == f.producer.end() || drop[it->second] ? -1 : static_cast<long>(it->second);
}

inline void erase_nodes(Graph& g, const std::vector<bool>& drop) {
  std::vector<Node> kept;
  kept.reserve(g.nodes.size());
  for (size_t k = 0; k < g.nodes.size(); ++k)
    if (!drop[k]) kept.push_back(std::move(g.nodes[k]));
  g.nodes = std::move(kept);
}

inline Attribute int_attr(const char* name, int64_t v) {
  Attribute a;
  a.name = name;
  a.type = Attribute::Type::Int;
  a.i = v;
  return a;
}

inline Attribute float_attr(const char* name, float v) {
  Attribute a;
  a.name = name;
  a.type = Attribute::Type::Float;
  a.f = v;
  return a;
}

inline void set_attr(Node& n, Attribute a) {
  for (Attribute& x : n.attrs)
    if (x.name == a.name) {
      x = std::move(a);
      return;
    }
  n.attrs.push_back(std::move(a));
}

}  // namespace opt
}  // namespace pionnx
