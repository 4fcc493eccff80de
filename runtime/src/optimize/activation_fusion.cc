// Conv followed by an activation the Conv kernel can apply in its epilogue
// (see Activation in kernels/nn/conv.cc): the activation moves into the Conv's
// `activation` / `activation_params` attributes. And a Conv whose output goes
// only to a two-input Add (or Sum), itself maybe followed by such an
// activation (a residual block's end), becomes com.microsoft FusedConv with
// the Add's other input as Z: act(conv + bias + Z) in the Conv's epilogue.
#include "optimize/graph_util.h"
#include "optimize/passes.h"

namespace pionnx {

namespace {

bool scalar_float(const Graph& g, const opt::GraphFacts& f, const Node& n, size_t i, float* out) {
  if (!n.input_present(i)) return true;  // omitted: keep the default
  const Tensor* t = opt::constant(g, f, n.inputs[i]);
  if (!t || t->dtype() != DType::Float || t->numel() != 1) return false;
  *out = t->data<float>()[0];
  return true;
}

// The activation's name and parameters as conv.cc reads them; false when the
// node is not one it can apply.
bool as_activation(const Graph& g, const opt::GraphFacts& f, const Node& n, std::vector<float>* params) {
  if (!n.domain.empty() || n.outputs.size() != 1) return false;
  const std::string& op = n.op_type;
  if (op == "Relu" || op == "Sigmoid" || op == "Tanh") return true;
  if (op == "LeakyRelu") {
    *params = {n.attr_f("alpha", 0.01f)};
    return true;
  }
  if (op == "HardSigmoid") {
    *params = {n.attr_f("alpha", 0.2f), n.attr_f("beta", 0.5f)};
    return true;
  }
  if (op == "Clip") {
    float lo = n.attr_f("min", -3.4028234663852886e38f), hi = n.attr_f("max", 3.4028234663852886e38f);
    if (!scalar_float(g, f, n, 1, &lo) || !scalar_float(g, f, n, 2, &hi)) return false;
    *params = {lo, hi};
    return true;
  }
  return false;
}

}  // namespace

bool fuse_conv_activation(Graph& g, const OptimizeContext& ctx) {
  opt::GraphFacts f(g, ctx);
  std::vector<bool> drop(g.nodes.size(), false);
  bool changed = false;
  for (size_t k = 0; k < g.nodes.size(); ++k) {
    Node& conv = g.nodes[k];
    if (drop[k] || conv.op_type != "Conv" || !conv.domain.empty() || conv.outputs.size() != 1) continue;
    if (conv.has("activation")) continue;
    // Only float convolutions: the fused epilogue is the float path.
    const Tensor* w = conv.input_present(1) ? opt::constant(g, f, conv.inputs[1]) : nullptr;
    if (!w || w->dtype() != DType::Float) continue;
    long a = f.sole_consumer(g, conv.outputs[0]);
    if (a < 0 || drop[a]) continue;
    Node& act = g.nodes[a];
    std::vector<float> params;
    if (act.inputs.empty() || act.inputs[0] != conv.outputs[0] || !as_activation(g, f, act, &params)) continue;
    opt::set_activation(conv, act.op_type, params);
    conv.outputs[0] = act.outputs[0];
    drop[a] = changed = true;
  }
  if (changed) opt::erase_nodes(g, drop);
  return changed;
}

// onnxruntime's ConvAddActivationFusion. The fused node takes the Add's place
// in the node list (where Z is computed), the Conv's and the activation's are
// dropped. Z keeps Add's broadcasting: the kernel adds it in each path's
// epilogue when it has the output's shape, else in a broadcast pass.
bool fuse_conv_add_activation(Graph& g, const OptimizeContext& ctx) {
  opt::GraphFacts f(g, ctx);
  std::vector<bool> drop(g.nodes.size(), false);
  bool changed = false;
  for (size_t k = 0; k < g.nodes.size(); ++k) {
    const Node& conv = g.nodes[k];
    if (drop[k] || conv.op_type != "Conv" || !conv.domain.empty() || conv.outputs.size() != 1 ||
        conv.has("activation") || conv.inputs.size() < 2)
      continue;
    // Float convolutions (a float W makes X, Y and so Z float): Z is a float path.
    const Tensor* w = opt::constant(g, f, conv.inputs[1]);
    if (!w || w->dtype() != DType::Float) continue;
    const long a = f.sole_consumer(g, conv.outputs[0]);
    if (a < 0 || drop[a]) continue;
    const Node& add = g.nodes[a];
    if ((add.op_type != "Add" && add.op_type != "Sum") || !add.domain.empty() || add.inputs.size() != 2 ||
        add.outputs.size() != 1)
      continue;
    const std::string& z = add.inputs[0] == conv.outputs[0] ? add.inputs[1] : add.inputs[0];
    if (z.empty()) continue;
    Node fused = conv;
    fused.domain = "com.microsoft";
    fused.op_type = "FusedConv";
    fused.inputs.resize(3);  // X, W, B (maybe empty), then Z
    fused.inputs.push_back(z);
    fused.outputs = add.outputs;
    const long r = f.sole_consumer(g, add.outputs[0]);
    std::vector<float> params;
    if (r >= 0 && !drop[r] && !g.nodes[r].inputs.empty() && g.nodes[r].inputs[0] == add.outputs[0] &&
        as_activation(g, f, g.nodes[r], &params)) {
      opt::set_activation(fused, g.nodes[r].op_type, params);
      fused.outputs = g.nodes[r].outputs;
      drop[r] = true;
    }
    g.nodes[a] = std::move(fused);
    drop[k] = changed = true;
  }
  if (changed) opt::erase_nodes(g, drop);
  return changed;
}

}  // namespace pionnx
