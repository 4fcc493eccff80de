// The layout level's attention projections: the three products that make a
// MultiHeadAttention's query, key and value from one input,
//
//   q = P(x, Wq), k = P(x, Wk), v = P(x, Wv)      P: MatMul, or
//   y = MultiHeadAttention(q, k, v, ...)             MatMulIntegerToFloat
//                                                    with the same x, scale
//                                                    and zero point
//
// become one product over the weights side by side, read by the attention
// as onnxruntime's packed QKV query [B, S, N, 3, H]:
//
//   qkv = P(x, W)      W [K, 3D]: per head n, Wq's, Wk's and Wv's H columns
//   y = MultiHeadAttention(Reshape(qkv, [0, 0, N, 3, H]), , , bias, ...)
//
// One product of 3D columns instead of three of D: one parallel region
// instead of three (a transformer layer's Q/K/V products are 10-15 us each,
// where a hand-off costs a few), and one pass over x's rows. The columns are
// permuted so each head's q, k and v lie together (the layout the attention
// reads through strides; the Reshape is a view). Per-tensor weight scales and
// zero points that differ become per-column ones, biases the same: each
// output column is computed by the same operations on the same values as
// before (an integer product's columns bit for bit).
//
// At the layout level (after optimized_model_filepath is written) because
// onnxruntime's CPU kernel refuses the packed QKV layout ("not implemented
// for CPU"): the saved model keeps the three products.
#include <cstring>

#include "optimize/graph_util.h"
#include "optimize/passes.h"

namespace pionnx {

namespace {

struct Projection {
  long node = -1;
  const Tensor* w = nullptr;      // [K, D]
  const Tensor* scale = nullptr;  // MatMulIntegerToFloat: b_scale, 1 or D values
  const Tensor* zp = nullptr;     // b_zero_point (nullptr: absent, 0)
  const Tensor* bias = nullptr;   // [D] (nullptr: absent)
};

// The columns of three [K, D] (or [D], or 1-value) tensors side by side in
// packed order: column (n, j, h) of the result is column n * H + h of
// part j; a 1-value part is repeated. nullptr parts are zeros of `dtype`.
Tensor pack_columns(const Tensor* const parts[3], DType dtype, int64_t rows, int64_t heads, int64_t h) {
  const int64_t d = heads * h;
  const size_t es = dtype_size(dtype);
  Shape shape = rows > 0 ? Shape{rows, 3 * d} : Shape{3 * d};
  Tensor out = Tensor::zeros(dtype, shape);
  const int64_t r = std::max<int64_t>(rows, 1);
  auto* dst = static_cast<unsigned char*>(out.raw());
  for (int j = 0; j < 3; ++j) {
    if (!parts[j]) continue;
    const auto* src = static_cast<const unsigned char*>(parts[j]->raw());
    const bool one = parts[j]->numel() == 1;
    for (int64_t i = 0; i < r; ++i)
      for (int64_t n = 0; n < heads; ++n)
        for (int64_t c = 0; c < h; ++c) {
          const int64_t from = one ? 0 : i * d + n * h + c, to = i * 3 * d + (n * 3 + j) * h + c;
          std::memcpy(dst + to * es, src + from * es, es);
        }
  }
  return out;
}

// All three present with one value each, the same bits: the value itself.
bool same_scalar(const Tensor* const parts[3]) {
  for (int j = 0; j < 3; ++j)
    if (!parts[j] || parts[j]->numel() != 1 || parts[j]->dtype() != parts[0]->dtype() ||
        std::memcmp(parts[j]->raw(), parts[0]->raw(), dtype_size(parts[0]->dtype())) != 0)
      return false;
  return true;
}

}  // namespace

bool pack_attention_qkv(Graph& g, const OptimizeContext& ctx) {
  auto onnx_opset = ctx.opsets.find("");
  if (onnx_opset == ctx.opsets.end() || onnx_opset->second < 5) return false;  // Reshape's shape input
  opt::GraphFacts f(g, ctx);
  std::vector<bool> drop(g.nodes.size(), false);
  std::vector<std::pair<long, std::vector<Node>>> inserts;  // nodes to place instead of a dropped one
  bool changed = false;
  for (size_t m = 0; m < g.nodes.size(); ++m) {
    const Node& mha = g.nodes[m];
    if (mha.op_type != "MultiHeadAttention" || mha.domain != "com.microsoft" || mha.outputs.size() != 1 ||
        mha.inputs.size() < 3 || mha.inputs.size() > 6 || !mha.input_present(0) || !mha.input_present(1) ||
        !mha.input_present(2))
      continue;
    const int64_t heads = mha.attr_i("num_heads", 0);
    if (heads <= 0) continue;
    Projection p[3];
    bool ok = true;
    for (int j = 0; j < 3 && ok; ++j) {
      const std::string& name = mha.inputs[j];
      const long k = f.sole_consumer(g, name) == static_cast<long>(m) ? opt::live_producer(f, name, drop) : -1;
      ok = k >= 0;
      if (!ok) break;
      const Node& n = g.nodes[k];
      const bool integer = n.op_type == "MatMulIntegerToFloat" && n.domain == "com.microsoft" && n.inputs.size() >= 4 &&
                           n.inputs.size() <= 7;
      ok = (integer || opt::is_op(n, "MatMul", 2)) && n.outputs.size() == 1 && n.input_present(0);
      if (!ok) break;
      p[j].node = k;
      p[j].w = opt::constant(g, f, n.inputs[1]);
      ok = p[j].w && p[j].w->rank() == 2 && (integer || p[j].w->dtype() == DType::Float);
      if (!ok || !integer) continue;
      p[j].scale = opt::constant(g, f, n.inputs[3]);
      p[j].zp = n.input_present(5) ? opt::constant(g, f, n.inputs[5]) : nullptr;
      p[j].bias = n.input_present(6) ? opt::constant(g, f, n.inputs[6]) : nullptr;
      const int64_t d = p[j].w->dim(1);
      ok = p[j].scale && p[j].scale->dtype() == DType::Float && p[j].scale->rank() <= 1 &&
           (p[j].scale->numel() == 1 || p[j].scale->numel() == d) && n.input_present(2) &&
           (!n.input_present(5) || (p[j].zp && p[j].zp->dtype() == p[j].w->dtype() && p[j].zp->rank() <= 1 &&
                                    (p[j].zp->numel() == 1 || p[j].zp->numel() == d))) &&
           (!n.input_present(6) ||
            (p[j].bias && p[j].bias->dtype() == DType::Float && p[j].bias->rank() == 1 && p[j].bias->dim(0) == d));
    }
    if (!ok) continue;
    const Node& n0 = g.nodes[p[0].node];
    const int64_t kdim = p[0].w->dim(0), d = p[0].w->dim(1);
    for (int j = 1; j < 3 && ok; ++j) {
      const Node& n = g.nodes[p[j].node];
      ok = n.op_type == n0.op_type && n.inputs[0] == n0.inputs[0] && p[j].w->dtype() == p[0].w->dtype() &&
           p[j].w->dim(0) == kdim && p[j].w->dim(1) == d && p[j].node != p[0].node;
      // The same activation quantization: scale and zero point.
      if (ok && n.op_type == "MatMulIntegerToFloat")
        ok = n.inputs[2] == n0.inputs[2] && n.input_present(4) == n0.input_present(4) &&
             (!n.input_present(4) || n.inputs[4] == n0.inputs[4]);
    }
    if (!ok || d % heads != 0 || d == 0) continue;
    const int64_t h = d / heads;
    const bool integer = n0.op_type == "MatMulIntegerToFloat";

    const Tensor* ws[3] = {p[0].w, p[1].w, p[2].w};
    const std::string base = mha.name.empty() ? "attention" : mha.name;
    const std::string w_name = opt::fresh_name(g, base + "_qkv_weight");
    g.add_initializer(w_name, pack_columns(ws, p[0].w->dtype(), kdim, heads, h));
    Node prod;
    prod.name = base + "_qkv";
    prod.op_type = n0.op_type;
    prod.domain = n0.domain;
    prod.inputs = {n0.inputs[0], w_name};
    if (integer) {
      auto vector_or_scalar = [&](const Tensor* const parts[3], DType dtype, const char* suffix) -> std::string {
        const std::string name = opt::fresh_name(g, base + suffix);
        g.add_initializer(name, same_scalar(parts) ? *parts[0] : pack_columns(parts, dtype, 0, heads, h));
        return name;
      };
      const Tensor* scales[3] = {p[0].scale, p[1].scale, p[2].scale};
      const Tensor* zps[3] = {p[0].zp, p[1].zp, p[2].zp};
      const Tensor* biases[3] = {p[0].bias, p[1].bias, p[2].bias};
      const bool any_zp = zps[0] || zps[1] || zps[2], any_bias = biases[0] || biases[1] || biases[2];
      prod.inputs.push_back(n0.inputs[2]);
      prod.inputs.push_back(vector_or_scalar(scales, DType::Float, "_qkv_weight_scale"));
      prod.inputs.push_back(n0.input_present(4) ? n0.inputs[4] : "");
      prod.inputs.push_back(any_zp ? vector_or_scalar(zps, p[0].w->dtype(), "_qkv_weight_zero_point") : "");
      prod.inputs.push_back(any_bias ? vector_or_scalar(biases, DType::Float, "_qkv_bias") : "");
      opt::trim_trailing_empty(prod.inputs);
    }
    const std::string qkv = opt::fresh_name(g, base + "_qkv");
    prod.outputs = {qkv};
    const std::string shape_name = opt::fresh_name(g, base + "_qkv_shape");
    g.add_initializer(shape_name, Tensor::from_vector(std::vector<int64_t>{0, 0, heads, 3, h}, {5}));
    Node reshape;
    reshape.name = base + "_qkv_packed";
    reshape.op_type = "Reshape";
    reshape.inputs = {qkv, shape_name};
    const std::string packed = opt::fresh_name(g, base + "_qkv_packed");
    reshape.outputs = {packed};

    // The product runs where the first of the three did (every input it reads is ready there).
    long first = std::min({p[0].node, p[1].node, p[2].node});
    for (const Projection& x : p) drop[x.node] = true;
    inserts.push_back({first, {std::move(prod), std::move(reshape)}});
    Node& att = g.nodes[m];
    att.inputs[0] = packed;
    att.inputs[1] = "";
    att.inputs[2] = "";
    opt::trim_trailing_empty(att.inputs);
    changed = true;
  }
  if (!changed) return false;
  std::vector<Node> nodes;
  nodes.reserve(g.nodes.size() + inserts.size());
  for (size_t k = 0; k < g.nodes.size(); ++k) {
    for (auto& [at, add] : inserts)
      if (at == static_cast<long>(k))
        for (Node& n : add) nodes.push_back(std::move(n));
    if (!drop[k]) nodes.push_back(std::move(g.nodes[k]));
  }
  g.nodes = std::move(nodes);
  remove_unused_initializers(g, ctx);
  return true;
}

}  // namespace pionnx
