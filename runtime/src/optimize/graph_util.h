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

// Input i of n when it is a constant float vector of m values, else nullptr.
inline const Tensor* float_vec(const Graph& g, const GraphFacts& f, const Node& n, size_t i, int64_t m) {
  if (!n.input_present(i)) return nullptr;
  const Tensor* t = constant(g, f, n.inputs[i]);
  if (!t || t->dtype() != DType::Float || t->rank() != 1 || t->dim(0) != m) return nullptr;
  return t;
}

// An ai.onnx BatchNormalization in inference mode, per channel, whose
// running-statistics outputs (older opsets list them) nothing reads: an
// affine map per channel that may be folded away.
inline bool inference_batchnorm(const Node& bn, const GraphFacts& f) {
  if (bn.op_type != "BatchNormalization" || !bn.domain.empty() || bn.inputs.size() < 5) return false;
  if (bn.attr_i("training_mode", 0) != 0 || bn.attr_i("spatial", 1) == 0) return false;
  for (size_t i = 1; i < bn.outputs.size(); ++i)
    if (!bn.outputs[i].empty() && (f.use_count(bn.outputs[i]) > 0 || !f.is_internal(bn.outputs[i]))) return false;
  return true;
}

// An inference BatchNormalization's per-channel scale, gamma / sqrt(var + eps), and its statistics, each a
// constant float vector of m values (batchnorm_params), for the passes that fold it into a convolution.
struct BatchNormParams {
  const Tensor *gamma, *beta, *mean, *var;
  float eps;
  float scale(int64_t c) const { return gamma->data<float>()[c] / std::sqrt(var->data<float>()[c] + eps); }
};

inline bool batchnorm_params(const Graph& g, const GraphFacts& f, const Node& bn, int64_t m, BatchNormParams* p) {
  p->gamma = float_vec(g, f, bn, 1, m);
  p->beta = float_vec(g, f, bn, 2, m);
  p->mean = float_vec(g, f, bn, 3, m);
  p->var = float_vec(g, f, bn, 4, m);
  p->eps = bn.attr_f("epsilon", 1e-5f);
  return p->gamma && p->beta && p->mean && p->var;
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

// Drops the trailing empty names of a node's optional inputs or outputs.
inline void trim_trailing_empty(std::vector<std::string>& names) {
  while (!names.empty() && names.back().empty()) names.pop_back();
}

// Node queries of a pass under way: nodes it already marked in `drop` are
// gone.
struct Pattern {
  const Graph& g;
  const GraphFacts& f;
  const std::vector<bool>& drop;

  // The producer of name when it is an ai.onnx `op` of that arity, else -1.
  long producer(const std::string& name, const char* op, size_t inputs) const {
    const long p = live_producer(f, name, drop);
    return p >= 0 && is_op(g.nodes[p], op, inputs) ? p : -1;
  }
  // name's producer (as above) when `reader` is the only node reading name.
  long only_for(const std::string& name, long reader, const char* op, size_t inputs) const {
    return f.sole_consumer(g, name) == reader ? producer(name, op, inputs) : -1;
  }
  // The only node reading name when it is an ai.onnx `op` of that arity, else -1.
  long reader(const std::string& name, const char* op, size_t inputs) const {
    const long r = f.sole_consumer(g, name);
    return r >= 0 && !drop[r] && is_op(g.nodes[r], op, inputs) ? r : -1;
  }
  // A constant float vector (rank 1), else nullptr.
  const Tensor* float_vector(const std::string& name) const {
    const Tensor* t = constant(g, f, name);
    return t && t->dtype() == DType::Float && t->rank() == 1 ? t : nullptr;
  }
  // p = Add(x, c), read only by `reader`, with c a constant float vector of n
  // values and x computed (a projection's bias): the Add, and x and c's names.
  long bias_add(const std::string& p, long reader, int64_t n, std::string* x, std::string* c) const {
    const long a = only_for(p, reader, "Add", 2);
    if (a < 0) return -1;
    for (int side = 0; side < 2; ++side) {
      const Tensor* t = float_vector(g.nodes[a].inputs[side]);
      if (t && t->numel() == n && !constant(g, f, g.nodes[a].inputs[1 - side])) {
        *x = g.nodes[a].inputs[1 - side];
        *c = g.nodes[a].inputs[side];
        return a;
      }
    }
    return -1;
  }
};

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

// A fused activation as onnxruntime's FusedConv spells it: `activation` and `activation_params`.
inline void set_activation(Node& n, const std::string& op, const std::vector<float>& params) {
  Attribute name;
  name.name = "activation";
  name.type = Attribute::Type::String;
  name.s = op;
  set_attr(n, name);
  Attribute ps;
  ps.name = "activation_params";
  ps.type = Attribute::Type::Floats;
  ps.floats = params;
  set_attr(n, ps);
}

}  // namespace opt
}  // namespace pionnx
