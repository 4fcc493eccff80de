// A per-channel constant Mul or Add after Conv or BatchNormalization folds
// into it (onnxruntime's ConvMulFusion and ConvAddFusion; the same for
// BatchNormalization, which is an affine map per channel already):
//   Conv:  y * c  ->  W[m] * c[m], b[m] * c[m];   y + c  ->  b[m] + c[m]
//   BN:    y * c  ->  scale * c, B * c;            y + c  ->  B + c
// Exporters write these after a normalization (Caffe2's DenseNet: BN, Mul,
// Add, Relu) or as a separate bias; once folded, the Conv's activation fuses
// too. c must broadcast along the channel axis only (shape [C, 1, 1],
// [1, C, 1, 1], a scalar, ...) and, for a Mul, be finite: W * inf is not
// (W x) * inf where x has zeros.
#include <cmath>

#include "optimize/graph_util.h"
#include "optimize/passes.h"

namespace pionnx {

namespace {

enum class Op { Mul, Add };

// c as C per-channel values of an output of rank `rank` with C channels
// (axis 1), or empty when it broadcasts along another axis too.
std::vector<float> per_channel(const Tensor& c, int64_t rank, int64_t C) {
  if (c.dtype() != DType::Float || c.rank() > rank || rank < 2) return {};
  const int64_t axis = c.rank() - rank + 1;  // c's axis lined up with the channels (may be < 0)
  int64_t n = 1;
  for (int64_t i = 0; i < c.rank(); ++i) {
    if (i == axis && (c.dim(i) == C || c.dim(i) == 1)) n = c.dim(i);
    else if (c.dim(i) != 1) return {};
  }
  std::vector<float> v(static_cast<size_t>(C));
  for (int64_t m = 0; m < C; ++m) v[m] = c.data<float>()[n == 1 ? 0 : m];
  return v;
}

// The Mul or Add reading `y` alone, with a per-channel constant on its other
// side: its index, and the values in *v. -1 when there is none.
long affine_reader(const Graph& g, const opt::GraphFacts& f, const std::vector<bool>& drop, const std::string& y, Op op,
                   int64_t rank, int64_t C, std::vector<float>* v) {
  const long r = f.sole_consumer(g, y);
  if (r < 0 || drop[r] || !opt::is_op(g.nodes[r], op == Op::Mul ? "Mul" : "Add", 2)) return -1;
  const std::string other = opt::other_input(g.nodes[r], y);
  const Tensor* c = opt::constant(g, f, other);
  if (!c) return -1;
  *v = per_channel(*c, rank, C);
  if (v->empty()) return -1;
  if (op == Op::Mul)
    for (float x : *v)
      if (!std::isfinite(x)) return -1;
  return r;
}

std::string add_vector(Graph& g, const std::string& base, Tensor t) {
  const std::string name = opt::fresh_name(g, base);
  g.add_initializer(name, std::move(t));
  return name;
}

bool fold_into_conv(Graph& g, const OptimizeContext& ctx, Op op) {
  opt::GraphFacts f(g, ctx);
  std::vector<bool> drop(g.nodes.size(), false);
  bool changed = false;
  for (size_t k = 0; k < g.nodes.size(); ++k) {
    Node& conv = g.nodes[k];
    if (drop[k] || !opt::is_op(conv, "Conv", conv.inputs.size()) || conv.inputs.size() < 2) continue;
    if (conv.has("activation")) continue;  // its output is past the activation
    const Tensor* w = opt::constant(g, f, conv.inputs[1]);
    if (!w || w->dtype() != DType::Float || w->rank() < 3) continue;
    const int64_t M = w->dim(0);
    const Tensor* bias = nullptr;
    if (conv.input_present(2) && !(bias = opt::float_vec(g, f, conv, 2, M))) continue;
    std::vector<float> v;
    const long r = affine_reader(g, f, drop, conv.outputs[0], op, w->rank(), M, &v);
    if (r < 0) continue;
    Tensor nb(DType::Float, {M});
    for (int64_t m = 0; m < M; ++m) {
      const float b = bias ? bias->data<float>()[m] : 0.f;
      nb.data<float>()[m] = op == Op::Mul ? b * v[m] : b + v[m];
    }
    const std::string base = conv.name.empty() ? g.nodes[r].outputs[0] : conv.name;
    if (op == Op::Mul) {
      Tensor nw(DType::Float, w->shape());
      const int64_t per = w->numel() / std::max<int64_t>(M, 1);
      for (int64_t m = 0; m < M; ++m)
        for (int64_t j = 0; j < per; ++j) nw.data<float>()[m * per + j] = w->data<float>()[m * per + j] * v[m];
      conv.inputs[1] = add_vector(g, base + "_W_mul", std::move(nw));
    }
    conv.inputs.resize(3);
    conv.inputs[2] = add_vector(g, base + (op == Op::Mul ? "_B_mul" : "_B_add"), std::move(nb));
    conv.outputs[0] = g.nodes[r].outputs[0];
    drop[r] = changed = true;
  }
  if (changed) opt::erase_nodes(g, drop);
  return changed;
}

}  // namespace

bool fold_conv_mul(Graph& g, const OptimizeContext& ctx) { return fold_into_conv(g, ctx, Op::Mul); }

bool fold_conv_add(Graph& g, const OptimizeContext& ctx) { return fold_into_conv(g, ctx, Op::Add); }

bool fold_batchnorm_mul_add(Graph& g, const OptimizeContext& ctx) {
  opt::GraphFacts f(g, ctx);
  const std::unordered_map<std::string, int64_t> ranks = opt::known_ranks(g, f);
  std::vector<bool> drop(g.nodes.size(), false);
  bool changed = false;
  for (size_t k = 0; k < g.nodes.size(); ++k) {
    Node& bn = g.nodes[k];
    if (drop[k] || !opt::inference_batchnorm(bn, f)) continue;
    const auto rank = ranks.find(bn.inputs[0]);
    if (rank == ranks.end()) continue;
    const Tensor* scale = opt::constant(g, f, bn.inputs[1]);
    if (!scale || scale->rank() != 1) continue;
    const int64_t C = scale->dim(0);
    const Tensor* beta = opt::float_vec(g, f, bn, 2, C);
    if (!opt::float_vec(g, f, bn, 1, C) || !beta || !opt::float_vec(g, f, bn, 3, C) || !opt::float_vec(g, f, bn, 4, C))
      continue;
    for (Op op : {Op::Mul, Op::Add}) {
      std::vector<float> v;
      const long r = affine_reader(g, f, drop, bn.outputs[0], op, rank->second, C, &v);
      if (r < 0) continue;
      Tensor ns(DType::Float, {C}), nb(DType::Float, {C});
      for (int64_t c = 0; c < C; ++c) {
        const float s = scale->data<float>()[c], b = beta->data<float>()[c];
        ns.data<float>()[c] = op == Op::Mul ? s * v[c] : s;
        nb.data<float>()[c] = op == Op::Mul ? b * v[c] : b + v[c];
      }
      const std::string base = bn.name.empty() ? g.nodes[r].outputs[0] : bn.name;
      if (op == Op::Mul) bn.inputs[1] = add_vector(g, base + "_scale_mul", std::move(ns));
      bn.inputs[2] = add_vector(g, base + (op == Op::Mul ? "_B_mul" : "_B_add"), std::move(nb));
      bn.outputs[0] = g.nodes[r].outputs[0];
      drop[r] = changed = true;
      break;  // the next round sees the new consumer
    }
  }
  if (changed) opt::erase_nodes(g, drop);
  return changed;
}

}  // namespace pionnx
