// LayerNormalization(Add(a, b)) over the last axis, where a and b are both
// computed (a residual block: a sublayer's output and its input), becomes
// com.microsoft SkipLayerNormalization(a, b, gamma, beta), as onnxruntime's
// SkipLayerNormFusion writes. When one addend is itself Add(x, c) with c a
// constant vector of the hidden size (the sublayer's projection bias), c
// becomes the node's bias input. One pass per row: add, statistics,
// normalize, instead of two or three full-tensor passes.
//
// The sum stays available: when something else reads the Add (pre-LN
// transformers keep it as the next residual), the node's fourth output
// (input_skip_bias_sum) takes its name.
#include "optimize/graph_util.h"
#include "optimize/passes.h"

namespace pionnx {

using opt::is_op;

bool fuse_skip_layer_norm(Graph& g, const OptimizeContext& ctx) {
  opt::GraphFacts f(g, ctx);
  std::unordered_map<std::string, int64_t> rank;
  bool ranks_done = false, changed = false;
  std::vector<bool> drop(g.nodes.size(), false);
  auto producer = [&](const std::string& name, const char* op) -> long {
    const long p = opt::live_producer(f, name, drop);
    return p >= 0 && is_op(g.nodes[p], op, 2) ? p : -1;
  };
  for (size_t k = 0; k < g.nodes.size(); ++k) {
    Node& ln = g.nodes[k];
    if (drop[k] || ln.op_type != "LayerNormalization" || !ln.domain.empty() || ln.inputs.size() < 2 ||
        ln.outputs.empty())
      continue;
    // gamma (and beta): constant float vectors of the hidden size.
    const Tensor* gamma = opt::constant(g, f, ln.inputs[1]);
    if (!gamma || gamma->dtype() != DType::Float || gamma->rank() != 1) continue;
    const int64_t hidden = gamma->numel();
    const bool has_beta = ln.inputs.size() > 2 && !ln.inputs[2].empty();
    if (has_beta) {
      const Tensor* beta = opt::constant(g, f, ln.inputs[2]);
      if (!beta || beta->dtype() != DType::Float || beta->rank() != 1 || beta->numel() != hidden) continue;
    }
    const long a = producer(ln.inputs[0], "Add");
    if (a < 0) continue;
    const Node& add = g.nodes[a];
    if (opt::constant(g, f, add.inputs[0]) || opt::constant(g, f, add.inputs[1]) || add.inputs[0] == add.inputs[1])
      continue;
    const int64_t axis = ln.attr_i("axis", -1);
    if (axis != -1) {
      if (!ranks_done) {
        rank = opt::known_ranks(g, f);
        ranks_done = true;
      }
      auto r = rank.find(add.outputs[0]);
      if (r == rank.end() || axis != r->second - 1) continue;
    }
    // The sum read elsewhere too: it becomes output 3.
    const bool sum_read_elsewhere = f.sole_consumer(g, add.outputs[0]) != static_cast<long>(k);
    // A projection bias on either addend.
    std::string input = add.inputs[0], skip = add.inputs[1], bias;
    long bias_add = -1;
    for (int side = 0; side < 2 && bias_add < 0; ++side) {
      const long p = producer(add.inputs[side], "Add");
      if (p < 0 || f.sole_consumer(g, add.inputs[side]) != a) continue;
      for (int s = 0; s < 2; ++s) {
        const Tensor* c = opt::constant(g, f, g.nodes[p].inputs[s]);
        if (c && c->dtype() == DType::Float && c->rank() == 1 && c->numel() == hidden &&
            !opt::constant(g, f, g.nodes[p].inputs[1 - s])) {
          input = g.nodes[p].inputs[1 - s];
          skip = add.inputs[1 - side];
          bias = g.nodes[p].inputs[s];
          bias_add = p;
          break;
        }
      }
    }
    std::vector<std::string> outputs = ln.outputs;
    outputs.resize(3);
    if (sum_read_elsewhere) outputs.push_back(add.outputs[0]);
    while (!outputs.empty() && outputs.back().empty()) outputs.pop_back();
    // The node takes the Add's place: everything it reads exists there, and
    // readers of the sum between the Add and the LayerNormalization still
    // come after it.
    Node fused = ln;
    fused.op_type = "SkipLayerNormalization";
    fused.domain = "com.microsoft";
    fused.inputs = {input, skip, ln.inputs[1], has_beta ? ln.inputs[2] : "", bias};
    while (fused.inputs.back().empty()) fused.inputs.pop_back();
    fused.outputs = outputs;
    fused.attrs = {opt::float_attr("epsilon", ln.attr_f("epsilon", 1e-5f))};
    g.nodes[a] = std::move(fused);
    drop[k] = changed = true;
    if (bias_add >= 0) drop[bias_add] = true;
  }
  if (changed) opt::erase_nodes(g, drop);
  return changed;
}

}  // namespace pionnx
