// Multi-head attention as exporters write it (Hugging Face BERT, torch's
// nn.MultiheadAttention traced at opset < 23):
//
//   Q = Transpose[0,2,1,3](Reshape(q, [0, 0, N, H]))          q: [B, S, N * H]
//   K = Transpose[0,2,3,1](Reshape(k, [0, 0, N, H]))          (or [0,2,1,3]
//       followed by Transpose[0,1,3,2])
//   V = Transpose[0,2,1,3](Reshape(v, [0, 0, N, H]))
//   P = Softmax(MatMul(Q, K) / c  [+ mask], axis -1)         (or * c, or no scale)
//   Y = Reshape(Transpose[0,2,1,3](MatMul(P, V)), [0, 0, N * H])
//
// becomes one com.microsoft MultiHeadAttention(q, k, v, bias, -, mask) node:
// what onnxruntime's attention fusion writes for the CPU. Its kernel reads the
// heads in place (no transpose copies) and runs each (batch, head) as one pool
// task, scores to output, instead of a pool-wide barrier per node. When q, k
// and v are each Add(x, constant [N * H]) (the projections' biases), the
// biases move into the node's bias input.
//
// The mask (the additive one BERT computes from attention_mask) becomes the
// attention_bias input unchanged, so masked scores stay exactly what the
// model computed; it must have rank 4. The fusion needs the ranks of q, k, v
// (3) and of the mask (4) known from the graph (opt::known_ranks); otherwise
// the subgraph is left as it is.
#include <cmath>

#include "optimize/graph_util.h"
#include "optimize/passes.h"

namespace pionnx {

namespace {

using opt::is_op;

bool has_perm(const Node& n, std::initializer_list<int64_t> perm) {
  return is_op(n, "Transpose", 1) && n.attr_ints("perm") == std::vector<int64_t>(perm);
}

struct Matcher : opt::Pattern {
  // A constant int64 vector.
  bool ints(const std::string& name, std::vector<int64_t>* out) const {
    const Tensor* t = opt::constant(g, f, name);
    if (!t || t->dtype() != DType::Int64 || t->rank() != 1) return false;
    out->assign(t->data<int64_t>(), t->data<int64_t>() + t->numel());
    return true;
  }
  // A Reshape whose shape keeps the first dimension, keeps or infers the
  // second, and gives the rest (`tail` entries, all positive).
  bool reshape_to(const Node& r, size_t tail, std::vector<int64_t>* rest) const {
    std::vector<int64_t> s;
    if (r.attr_i("allowzero", 0) != 0 || !ints(r.inputs[1], &s) || s.size() != 2 + tail) return false;
    if (s[0] != 0 || (s[1] != 0 && s[1] != -1)) return false;
    rest->assign(s.begin() + 2, s.end());
    for (int64_t d : *rest)
      if (d <= 0) return false;
    return true;
  }
};

// One head split: t = Transpose[perm](Reshape(p, [0, 0, N, H])), t read only
// by `reader`. Fills the projection p, N, H and the two nodes.
struct Heads {
  std::string proj;
  int64_t n = 0, h = 0;
  long reshape = -1;  // the Reshape reading proj
  std::vector<long> nodes;
};

bool split_heads(const Matcher& m, const std::string& t, long reader, std::initializer_list<int64_t> perm, Heads* out) {
  const long tr = m.only_for(t, reader, "Transpose", 1);
  if (tr < 0 || !has_perm(m.g.nodes[tr], perm)) return false;
  const long rs = m.only_for(m.g.nodes[tr].inputs[0], tr, "Reshape", 2);
  std::vector<int64_t> nh;
  if (rs < 0 || !m.reshape_to(m.g.nodes[rs], 2, &nh)) return false;
  *out = {m.g.nodes[rs].inputs[0], nh[0], nh[1], rs, {tr, rs}};
  return true;
}

// K as exporters write it: one Transpose[0,2,3,1], or [0,2,1,3] then [0,1,3,2].
bool split_key_heads(const Matcher& m, const std::string& t, long reader, Heads* out) {
  if (split_heads(m, t, reader, {0, 2, 3, 1}, out)) return true;
  const long tr = m.only_for(t, reader, "Transpose", 1);
  if (tr < 0 || !has_perm(m.g.nodes[tr], {0, 1, 3, 2})) return false;
  if (!split_heads(m, m.g.nodes[tr].inputs[0], tr, {0, 2, 1, 3}, out)) return false;
  out->nodes.push_back(tr);
  return true;
}

// scores = MatMul(Q, K) scaled by a constant scalar (Div by c, Mul by c) or
// not at all. Returns the MatMul and sets *scale, adding the scale node.
long scaled_scores(const Matcher& m, const std::string& s, long reader, float* scale, std::vector<long>* nodes) {
  if (const long mm = m.only_for(s, reader, "MatMul", 2); mm >= 0) {
    *scale = 1.f;
    return mm;
  }
  for (const char* op : {"Div", "Mul"}) {
    const long d = m.only_for(s, reader, op, 2);
    if (d < 0) continue;
    const Node& n = m.g.nodes[d];
    for (int side = 0; side < (op[0] == 'M' ? 2 : 1); ++side) {
      const Tensor* c = opt::constant(m.g, m.f, n.inputs[1 - side]);
      if (!c || c->dtype() != DType::Float || c->numel() != 1) continue;
      const float v = c->data<float>()[0];
      if (!std::isfinite(v) || v == 0.f) continue;
      const long mm = m.only_for(n.inputs[side], d, "MatMul", 2);
      if (mm < 0) continue;
      *scale = op[0] == 'D' ? 1.f / v : v;
      nodes->push_back(d);
      return mm;
    }
  }
  return -1;
}

}  // namespace

bool fuse_attention(Graph& g, const OptimizeContext& ctx) {
  const auto onnx = ctx.opsets.find("");
  if (onnx == ctx.opsets.end()) return false;
  const int64_t softmax_default_axis = onnx->second >= 13 ? -1 : 1;
  opt::GraphFacts f(g, ctx);
  std::vector<bool> drop(g.nodes.size(), false);
  const Matcher m{{g, f, drop}};
  std::unordered_map<std::string, int64_t> rank;
  bool ranks_done = false, changed = false;
  for (size_t k = 0; k < g.nodes.size(); ++k) {
    const long sm = static_cast<long>(k);
    if (drop[k] || !is_op(g.nodes[k], "Softmax", 1)) continue;
    const int64_t axis = g.nodes[k].attr_i("axis", softmax_default_axis);
    if (axis != -1 && axis != 3) continue;
    std::vector<long> nodes = {sm};
    // Softmax(scores [+ mask]).
    float scale = 1.f;
    std::string mask;
    long qk = scaled_scores(m, g.nodes[k].inputs[0], sm, &scale, &nodes);
    if (qk < 0) {
      const long add = m.only_for(g.nodes[k].inputs[0], sm, "Add", 2);
      if (add < 0) continue;
      for (int side = 0; side < 2 && qk < 0; ++side) {
        std::vector<long> tried = nodes;
        qk = scaled_scores(m, g.nodes[add].inputs[side], add, &scale, &tried);
        if (qk >= 0) {
          mask = g.nodes[add].inputs[1 - side];
          nodes = tried;
          nodes.push_back(add);
        }
      }
      if (qk < 0) continue;
    }
    Heads q, kh, v;
    if (!split_heads(m, g.nodes[qk].inputs[0], qk, {0, 2, 1, 3}, &q) ||
        !split_key_heads(m, g.nodes[qk].inputs[1], qk, &kh))
      continue;
    // Y = Reshape(Transpose[0,2,1,3](MatMul(P, V)), [0, 0, N * H]).
    const long pv = m.reader(g.nodes[k].outputs[0], "MatMul", 2);
    if (pv < 0 || g.nodes[pv].inputs[0] != g.nodes[k].outputs[0]) continue;
    if (!split_heads(m, g.nodes[pv].inputs[1], pv, {0, 2, 1, 3}, &v)) continue;
    const long merge = m.reader(g.nodes[pv].outputs[0], "Transpose", 1);
    if (merge < 0 || !has_perm(g.nodes[merge], {0, 2, 1, 3})) continue;
    const long out = m.reader(g.nodes[merge].outputs[0], "Reshape", 2);
    std::vector<int64_t> hidden;
    if (out < 0 || !m.reshape_to(g.nodes[out], 1, &hidden)) continue;
    if (q.n != kh.n || q.n != v.n || q.h != kh.h || hidden[0] != v.n * v.h) continue;
    if (!ranks_done) {
      rank = opt::known_ranks(g, f);
      ranks_done = true;
    }
    auto rank_is = [&](const std::string& name, int64_t r) {
      auto it = rank.find(name);
      return it != rank.end() && it->second == r;
    };
    if (!rank_is(q.proj, 3) || !rank_is(kh.proj, 3) || !rank_is(v.proj, 3)) continue;
    if (!mask.empty() && !rank_is(mask, 4)) continue;
    for (const Heads* h : {&q, &kh, &v}) nodes.insert(nodes.end(), h->nodes.begin(), h->nodes.end());
    nodes.push_back(qk);
    nodes.push_back(pv);
    nodes.push_back(merge);

    // The projections' biases, when all three have one.
    std::string x[3], b[3];
    long adds[3];
    const Heads* hs[3] = {&q, &kh, &v};
    bool biased = true;
    for (int i = 0; i < 3 && biased; ++i) {
      adds[i] = m.bias_add(hs[i]->proj, hs[i]->reshape, hs[i]->n * hs[i]->h, &x[i], &b[i]);
      biased = adds[i] >= 0;
    }
    std::string bias_name;
    if (biased) {
      std::vector<float> all;
      for (const std::string& name : b) {
        const Tensor* t = m.float_vector(name);
        all.insert(all.end(), t->data<float>(), t->data<float>() + t->numel());
      }
      bias_name = opt::fresh_name(g, "attention_qkv_bias");
      g.add_initializer(bias_name, Tensor::from_vector(all, {static_cast<int64_t>(all.size())}));
      for (long a : adds) nodes.push_back(a);
    } else {
      for (int i = 0; i < 3; ++i) x[i] = hs[i]->proj;
    }

    Node& mha = g.nodes[out];
    mha.op_type = "MultiHeadAttention";
    mha.domain = "com.microsoft";
    mha.inputs = {x[0], x[1], x[2], bias_name, "", mask};
    opt::trim_trailing_empty(mha.inputs);
    mha.attrs = {opt::int_attr("num_heads", q.n), opt::float_attr("scale", scale)};
    for (long n : nodes) drop[n] = true;
    changed = true;
  }
  if (changed) opt::erase_nodes(g, drop);
  return changed;
}

}  // namespace pionnx
