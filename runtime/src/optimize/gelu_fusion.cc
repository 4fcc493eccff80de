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

using opt::is_op;
using opt::is_scalar;
using opt::other_input;

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

// Gelu(Add(x, b)) with b a constant float vector (a projection's bias)
// becomes com.microsoft BiasGelu(x, b), as onnxruntime's BiasGeluFusion
// writes: the add happens in GELU's pass over each row. x's rank must be
// known (the kernel adds b along x's last axis, as the Add broadcast it).
bool fuse_bias_gelu(Graph& g, const OptimizeContext& ctx) {
  opt::GraphFacts f(g, ctx);
  std::unordered_map<std::string, int64_t> rank;
  bool ranks_done = false, changed = false;
  std::vector<bool> drop(g.nodes.size(), false);
  const opt::Pattern p{g, f, drop};
  for (size_t k = 0; k < g.nodes.size(); ++k) {
    Node& gelu = g.nodes[k];
    const bool ms = gelu.domain == "com.microsoft" && gelu.op_type == "Gelu";
    const bool onnx = is_op(gelu, "Gelu", 1) && gelu.attr_s("approximate", "none") == "none";
    if (drop[k] || !(ms || onnx) || gelu.inputs.size() != 1 || gelu.outputs.size() != 1) continue;
    const long a = p.only_for(gelu.inputs[0], static_cast<long>(k), "Add", 2);
    if (a < 0) continue;
    const Node& add = g.nodes[a];
    for (int side = 0; side < 2; ++side) {
      const Tensor* b = p.float_vector(add.inputs[side]);
      const std::string& x = add.inputs[1 - side];
      if (!b || b->numel() < 2 || opt::constant(g, f, x)) continue;
      if (!ranks_done) {
        rank = opt::known_ranks(g, f);
        ranks_done = true;
      }
      auto r = rank.find(x);
      if (r == rank.end() || r->second < 1) continue;
      gelu.op_type = "BiasGelu";
      gelu.domain = "com.microsoft";
      gelu.inputs = {x, add.inputs[side]};
      gelu.attrs.clear();
      drop[a] = changed = true;
      break;
    }
  }
  if (changed) opt::erase_nodes(g, drop);
  return changed;
}

}  // namespace pionnx
