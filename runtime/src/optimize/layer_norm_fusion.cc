// Layer normalization as exporters write it, fused as onnxruntime's
// LayerNormFusion and SkipLayerNormFusion do:
//
// 1. Written out, as torch and TF exports before opset 17 do:
//      d = x - ReduceMean(x, axes [-1])
//      y = d / Sqrt(ReduceMean(Pow(d, 2) or d * d, axes [-1]) + eps) [* gamma] [+ beta]
//    becomes one LayerNormalization (axis -1) when the model's opset has it
//    (17), else is fused only as in 2.
// 2. LayerNormalization (or the pattern of 1) of Add(a, b) over the last
//    axis, where a and b are both computed (a residual block: a sublayer's
//    output and its input), becomes com.microsoft SkipLayerNormalization(a,
//    b, gamma, beta). When one addend is itself Add(x, c) with c a constant
//    vector of the hidden size (the sublayer's projection bias), c becomes the
//    node's bias input. One pass per row: add, statistics, normalize.
//
// The sum stays available: when something else reads the Add (pre-LN
// transformers keep it as the next residual), the node's fourth output
// (input_skip_bias_sum) takes its name. gamma and beta must be constant float
// vectors (beta optional; gamma too in 1, but then only beta gives the size
// and a ones gamma is made).
#include <algorithm>

#include "optimize/graph_util.h"
#include "optimize/passes.h"

namespace pionnx {

namespace {

using opt::is_op;

// A layer normalization over the last axis found in the graph.
struct LnMatch {
  std::string x, gamma, beta;  // beta may be empty; gamma empty: ones of `hidden` to be made
  int64_t hidden = 0;
  float eps = 1e-5f;
  std::vector<std::string> outputs;  // Y (, Mean, InvStdDev)
  std::vector<long> nodes;           // what it replaces; a LayerNormalization goes at the last
  int x_reads = 1;                   // how many of those nodes read x
  bool written_out = false;
};

// The pass's queries, and the graph and drop marks it changes.
struct Ctx : opt::Pattern {
  Graph& graph;
  std::vector<bool>& dropped;
  int64_t opset;

  // ReduceMean over the last axis, keeping it.
  bool mean_over_last(const Node& n) const {
    if (n.op_type != "ReduceMean" || !n.domain.empty() || n.inputs.empty() || n.outputs.size() != 1) return false;
    if (n.attr_i("keepdims", 1) != 1) return false;
    std::vector<int64_t> axes;
    if (opset >= 18) {
      const Tensor* a = n.inputs.size() > 1 ? opt::constant(g, f, n.inputs[1]) : nullptr;
      if (!a || a->dtype() != DType::Int64 || a->numel() != 1) return false;
      axes = {a->data<int64_t>()[0]};
    } else {
      axes = n.attr_ints("axes");
    }
    return axes == std::vector<int64_t>{-1};
  }
};

// A LayerNormalization node over the last axis with constant gamma (and beta).
bool match_node(const Ctx& c, long k, LnMatch* m, const std::unordered_map<std::string, int64_t>& rank) {
  const Node& ln = c.g.nodes[k];
  if (ln.op_type != "LayerNormalization" || !ln.domain.empty() || ln.inputs.size() < 2 || ln.outputs.empty())
    return false;
  const Tensor* gamma = c.float_vector(ln.inputs[1]);
  if (!gamma) return false;
  const bool has_beta = ln.inputs.size() > 2 && !ln.inputs[2].empty();
  if (has_beta) {
    const Tensor* beta = c.float_vector(ln.inputs[2]);
    if (!beta || beta->numel() != gamma->numel()) return false;
  }
  const int64_t axis = ln.attr_i("axis", -1);
  if (axis != -1) {
    auto r = rank.find(ln.inputs[0]);
    if (r == rank.end() || axis != r->second - 1) return false;
  }
  *m = {ln.inputs[0],
        ln.inputs[1],
        has_beta ? ln.inputs[2] : "",
        gamma->numel(),
        ln.attr_f("epsilon", 1e-5f),
        ln.outputs,
        {k},
        1,
        false};
  return true;
}

// The written-out form of 1, starting at its Div.
bool match_written_out(Ctx& c, long k, LnMatch* m) {
  const Graph& g = c.g;
  if (!is_op(g.nodes[k], "Div", 2)) return false;
  const std::string& d = g.nodes[k].inputs[0];
  const long sub = c.producer(d, "Sub", 2);
  const long sqrt = c.producer(g.nodes[k].inputs[1], "Sqrt", 1);
  if (sub < 0 || sqrt < 0 || c.f.sole_consumer(g, g.nodes[k].inputs[1]) != k) return false;
  const std::string& x = g.nodes[sub].inputs[0];
  const long mean = opt::live_producer(c.f, g.nodes[sub].inputs[1], c.drop);
  if (mean < 0 || !c.mean_over_last(g.nodes[mean]) || g.nodes[mean].inputs[0] != x ||
      c.f.sole_consumer(g, g.nodes[sub].inputs[1]) != sub || opt::constant(g, c.f, x))
    return false;
  const long add = c.producer(g.nodes[sqrt].inputs[0], "Add", 2);
  if (add < 0 || c.f.sole_consumer(g, g.nodes[sqrt].inputs[0]) != sqrt) return false;
  const Tensor* eps = nullptr;
  std::string var;
  for (int side = 0; side < 2 && !eps; ++side) {
    const Tensor* t = opt::constant(g, c.f, g.nodes[add].inputs[side]);
    if (t && t->dtype() == DType::Float && t->numel() == 1) eps = t, var = g.nodes[add].inputs[1 - side];
  }
  if (!eps) return false;
  const long var_mean = opt::live_producer(c.f, var, c.drop);
  if (var_mean < 0 || !c.mean_over_last(g.nodes[var_mean]) || c.f.sole_consumer(g, var) != add) return false;
  const std::string& sq = g.nodes[var_mean].inputs[0];
  const long sqn = opt::live_producer(c.f, sq, c.drop);
  if (sqn < 0 || c.f.sole_consumer(g, sq) != var_mean) return false;
  const Node& s = g.nodes[sqn];
  const bool pow = is_op(s, "Pow", 2) && s.inputs[0] == d && opt::is_scalar(g, c.f, s.inputs[1], 2.0);
  const bool mul = is_op(s, "Mul", 2) && s.inputs[0] == d && s.inputs[1] == d;
  // d is read by the square and the Div only.
  if (!(pow || mul) || c.f.use_count(d) != (mul ? 3 : 2) || !c.f.is_internal(d)) return false;
  m->x = x;
  m->eps = eps->data<float>()[0];
  m->nodes = {mean, sub, sqn, var_mean, add, sqrt, k};
  m->x_reads = 2;
  m->written_out = true;
  // [* gamma] [+ beta]
  std::string y = g.nodes[k].outputs[0];
  const long gm = c.reader(y, "Mul", 2);
  if (gm >= 0) {
    const std::string gamma = opt::other_input(g.nodes[gm], y);
    if (const Tensor* gt = c.float_vector(gamma)) {
      m->gamma = gamma;
      m->hidden = gt->numel();
      m->nodes.push_back(gm);
      y = g.nodes[gm].outputs[0];
    }
  }
  const long bt = c.reader(y, "Add", 2);
  if (bt >= 0) {
    const std::string beta = opt::other_input(g.nodes[bt], y);
    const Tensor* b = c.float_vector(beta);
    if (b && (m->gamma.empty() || m->hidden == b->numel())) {
      m->beta = beta;
      m->hidden = b->numel();
      m->nodes.push_back(bt);
      y = g.nodes[bt].outputs[0];
    }
  }
  if (m->gamma.empty() && m->beta.empty()) return false;  // nothing gives the hidden size
  m->outputs = {y};
  return true;
}

// m's gamma, made (ones) when the written-out form had none: only once the
// fusion is certain, so a pass that changes nothing adds nothing.
const std::string& gamma_of(Ctx& c, LnMatch& m) {
  if (m.gamma.empty()) {
    Tensor ones(DType::Float, {m.hidden});
    std::fill(ones.data<float>(), ones.data<float>() + ones.numel(), 1.0f);
    m.gamma = opt::fresh_name(c.g, "layer_norm_ones");
    c.graph.add_initializer(m.gamma, std::move(ones));
  }
  return m.gamma;
}

// 2: SkipLayerNormalization when m's input is a qualifying Add.
bool fuse_skip(Ctx& c, LnMatch& m) {
  Graph& g = c.graph;
  const long a = c.producer(m.x, "Add", 2);
  if (a < 0) return false;
  const Node& add = g.nodes[a];
  if (opt::constant(g, c.f, add.inputs[0]) || opt::constant(g, c.f, add.inputs[1]) || add.inputs[0] == add.inputs[1])
    return false;
  const int64_t hidden = m.hidden;
  // The sum read elsewhere too: it becomes output 3.
  const bool sum_read_elsewhere = c.f.use_count(add.outputs[0]) != m.x_reads || !c.f.is_internal(add.outputs[0]);
  // A projection bias on either addend.
  std::string input = add.inputs[0], skip = add.inputs[1], bias;
  long bias_add = -1;
  for (int side = 0; side < 2 && bias_add < 0; ++side) {
    bias_add = c.bias_add(add.inputs[side], a, hidden, &input, &bias);
    if (bias_add >= 0) skip = add.inputs[1 - side];
  }
  std::vector<std::string> outputs = m.outputs;
  outputs.resize(3);
  if (sum_read_elsewhere) outputs.push_back(add.outputs[0]);
  opt::trim_trailing_empty(outputs);
  // The node takes the Add's place: everything it reads exists there, and
  // readers of the sum between the Add and the normalization still come
  // after it.
  Node fused = add;
  fused.op_type = "SkipLayerNormalization";
  fused.domain = "com.microsoft";
  fused.inputs = {input, skip, gamma_of(c, m), m.beta, bias};
  opt::trim_trailing_empty(fused.inputs);
  fused.outputs = outputs;
  fused.attrs = {opt::float_attr("epsilon", m.eps)};
  g.nodes[a] = std::move(fused);
  for (long n : m.nodes) c.dropped[n] = true;
  if (bias_add >= 0) c.dropped[bias_add] = true;
  return true;
}

}  // namespace

bool fuse_layer_norm(Graph& g, const OptimizeContext& ctx) {
  const auto onnx = ctx.opsets.find("");
  opt::GraphFacts f(g, ctx);
  std::vector<bool> drop(g.nodes.size(), false);
  Ctx c{{g, f, drop}, g, drop, onnx == ctx.opsets.end() ? 0 : onnx->second};
  const std::unordered_map<std::string, int64_t> rank = opt::known_ranks(g, f);
  bool changed = false;
  for (size_t k = 0; k < g.nodes.size(); ++k) {
    LnMatch m;
    if (drop[k] || !(match_node(c, static_cast<long>(k), &m, rank) || match_written_out(c, static_cast<long>(k), &m)))
      continue;
    if (fuse_skip(c, m)) {
      changed = true;
    } else if (m.written_out && c.opset >= 17) {
      Node& last = g.nodes[m.nodes.back()];
      last.op_type = "LayerNormalization";
      last.domain.clear();
      last.inputs = {m.x, gamma_of(c, m), m.beta};
      opt::trim_trailing_empty(last.inputs);
      last.outputs = m.outputs;
      last.attrs = {opt::int_attr("axis", -1), opt::float_attr("epsilon", m.eps)};
      for (size_t i = 0; i + 1 < m.nodes.size(); ++i) drop[m.nodes[i]] = true;
      changed = true;
    }
  }
  if (changed) opt::erase_nodes(g, drop);
  return changed;
}

}  // namespace pionnx
