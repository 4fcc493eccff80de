// GELU written out as exporters write it before opset 20,
//   0.5 * x * (1 + Erf(x / sqrt(2)))
// in either association,
//   Mul(Mul(x, Add(Erf(Div(x, sqrt2)), 1)), 0.5)      (Hugging Face BERT, torch)
//   Mul(Mul(x, 0.5), Add(Erf(Div(x, sqrt2)), 1))
// and with Mul(x, 1/sqrt2) for the Div, becomes one com.microsoft Gelu node:
// what onnxruntime's GeluFusion writes, and one vectorized pass over the
// tensor (fastmath's gelu) instead of five.
#include <cmath>

#include "optimize/graph_util.h"
#include "optimize/passes.h"

namespace pionnx {

namespace {

// A constant float scalar (any shape with one element) within 1e-5 of want.
bool is_scalar(const Graph& g, const opt::GraphFacts& f, const std::string& name, double want) {
  const Tensor* t = opt::constant(g, f, name);
  if (!t || t->dtype() != DType::Float || t->numel() != 1) return false;
  return std::fabs(static_cast<double>(t->data<float>()[0]) - want) <= 1e-5 * std::fabs(want);
}

bool is_op(const Node& n, const char* op, size_t inputs) {
  return n.op_type == op && n.domain.empty() && n.inputs.size() == inputs && n.outputs.size() == 1;
}

// The input of n other than `name`, or "" when n does not read name once.
std::string other_input(const Node& n, const std::string& name) {
  if (n.inputs.size() != 2 || (n.inputs[0] == name) == (n.inputs[1] == name)) return "";
  return n.inputs[0] == name ? n.inputs[1] : n.inputs[0];
}

}  // namespace

bool fuse_gelu(Graph& g, const OptimizeContext& ctx) {
  opt::GraphFacts f(g, ctx);
  std::vector<bool> drop(g.nodes.size(), false);
  bool changed = false;
  auto producer = [&](const std::string& name) -> long {
    auto it = f.producer.find(name);
    return it == f.producer.end() ? -1 : static_cast<long>(it->second);
  };
  for (size_t k = 0; k < g.nodes.size(); ++k) {
    const Node& erf = g.nodes[k];
    if (drop[k] || !is_op(erf, "Erf", 1)) continue;
    // x / sqrt(2) or x * (1 / sqrt(2)), read only by the Erf.
    const long d = producer(erf.inputs[0]);
    if (d < 0 || drop[d] || f.sole_consumer(g, erf.inputs[0]) != static_cast<long>(k)) continue;
    const Node& scale = g.nodes[d];
    std::string x;
    if (is_op(scale, "Div", 2) && is_scalar(g, f, scale.inputs[1], std::sqrt(2.0))) x = scale.inputs[0];
    else if (is_op(scale, "Mul", 2)) {
      for (int s = 0; s < 2; ++s)
        if (is_scalar(g, f, scale.inputs[s], std::sqrt(0.5))) x = scale.inputs[1 - s];
    }
    if (x.empty() || opt::constant(g, f, x)) continue;
    // 1 + erf, read only by the next Mul.
    const long a = f.sole_consumer(g, erf.outputs[0]);
    if (a < 0 || drop[a] || !is_op(g.nodes[a], "Add", 2)) continue;
    if (!is_scalar(g, f, other_input(g.nodes[a], erf.outputs[0]), 1.0)) continue;
    const long m1 = f.sole_consumer(g, g.nodes[a].outputs[0]);
    if (m1 < 0 || drop[m1] || !is_op(g.nodes[m1], "Mul", 2)) continue;
    const std::string partner = other_input(g.nodes[m1], g.nodes[a].outputs[0]);
    if (partner.empty()) continue;
    long last = -1, half = -1;
    if (partner == x) {
      // (x * (1 + erf)) * 0.5
      const long m2 = f.sole_consumer(g, g.nodes[m1].outputs[0]);
      if (m2 < 0 || drop[m2] || !is_op(g.nodes[m2], "Mul", 2)) continue;
      if (!is_scalar(g, f, other_input(g.nodes[m2], g.nodes[m1].outputs[0]), 0.5)) continue;
      last = m2;
    } else {
      // (x * 0.5) * (1 + erf)
      half = producer(partner);
      if (half < 0 || drop[half] || !is_op(g.nodes[half], "Mul", 2) || f.sole_consumer(g, partner) != m1) continue;
      if (!is_scalar(g, f, other_input(g.nodes[half], x), 0.5)) continue;
      last = m1;
    }
    Node& gelu = g.nodes[last];
    gelu.op_type = "Gelu";
    gelu.domain = "com.microsoft";
    gelu.inputs = {x};
    gelu.attrs.clear();
    for (long n : {static_cast<long>(d), static_cast<long>(k), a, m1, half})
      if (n >= 0 && n != last) drop[n] = true;
    changed = true;
  }
  if (changed) opt::erase_nodes(g, drop);
  return changed;
}

}  // namespace pionnx
