// Conv followed by BatchNormalization (inference) becomes one Conv:
// W' = W * s, b' = (b - mean) * s + beta with s = gamma / sqrt(var + eps),
// per output channel.
#include <cmath>

#include "optimize/graph_util.h"
#include "optimize/passes.h"

namespace pionnx {

bool fold_conv_batchnorm(Graph& g, const OptimizeContext& ctx) {
  opt::GraphFacts f(g, ctx);
  std::vector<bool> drop(g.nodes.size(), false);
  bool changed = false;
  for (size_t k = 0; k < g.nodes.size(); ++k) {
    Node& conv = g.nodes[k];
    if (drop[k] || conv.op_type != "Conv" || !conv.domain.empty() || conv.outputs.size() != 1) continue;
    if (conv.has("activation") || !conv.input_present(1)) continue;
    long b = f.sole_consumer(g, conv.outputs[0]);
    if (b < 0 || drop[b]) continue;
    Node& bn = g.nodes[b];
    if (bn.inputs[0] != conv.outputs[0] || !opt::inference_batchnorm(bn, f)) continue;
    const Tensor* w = opt::constant(g, f, conv.inputs[1]);
    if (!w || w->dtype() != DType::Float || w->rank() < 3) continue;
    int64_t m = w->dim(0);
    const Tensor* bias = nullptr;
    if (conv.input_present(2) && !(bias = opt::float_vec(g, f, conv, 2, m))) continue;
    opt::BatchNormParams p;
    if (!opt::batchnorm_params(g, f, bn, m, &p)) continue;

    Tensor nw(DType::Float, w->shape());
    Tensor nb(DType::Float, {m});
    int64_t per = w->numel() / m;
    const float* pw = w->data<float>();
    float* qw = nw.data<float>();
    for (int64_t c = 0; c < m; ++c) {
      float s = p.scale(c);
      for (int64_t j = 0; j < per; ++j) qw[c * per + j] = pw[c * per + j] * s;
      float b0 = bias ? bias->data<float>()[c] : 0.f;
      nb.data<float>()[c] = (b0 - p.mean->data<float>()[c]) * s + p.beta->data<float>()[c];
    }
    std::string base = conv.name.empty() ? bn.outputs[0] : conv.name;
    std::string wn = opt::fresh_name(g, base + "_W_bn"), bnm = opt::fresh_name(g, base + "_B_bn");
    g.add_initializer(wn, std::move(nw));
    g.add_initializer(bnm, std::move(nb));
    conv.inputs.resize(3);
    conv.inputs[1] = wn;
    conv.inputs[2] = bnm;
    conv.outputs[0] = bn.outputs[0];
    drop[b] = changed = true;
  }
  if (changed) opt::erase_nodes(g, drop);
  return changed;
}

}  // namespace pionnx
