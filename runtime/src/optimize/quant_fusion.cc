// The dynamically quantized MatMul as onnxruntime's quantize_dynamic writes
// it:
//
//   (aq, a_scale, a_zp) = DynamicQuantizeLinear(x)
//   s = Mul(a_scale, b_scale)                         b_scale: constant
//   y = Mul(Cast<float>(MatMulInteger(aq, B, a_zp, b_zp)), s)
//   [y = Add(y, bias)]                                bias: constant [N]
//
// becomes com.microsoft MatMulIntegerToFloat(aq, B, a_scale, b_scale, a_zp,
// b_zp [, bias]), as onnxruntime's MatMulIntegerToFloatFusion writes: the
// int32 product is scaled (and biased) in one pass instead of a Cast, a Mul
// and an Add over the whole output. The same float operations in the same
// order (a_scale * b_scale[j] once, then acc * that + bias), so the values
// are unchanged to the bit.
//
// And a QDQ convolution, as onnxruntime's quantize_static writes it (QDQ format):
//
//   x = DequantizeLinear(xq, x_scale, x_zp)            xq's producer: any
//   w = DequantizeLinear(wq, w_scale, w_zp)            wq: constant int8/uint8, per tensor or per output channel
//   b = DequantizeLinear(bq, x_scale * w_scale, 0)     optional, bq: constant int32
//   yq = QuantizeLinear(Conv(x, w, b), y_scale, y_zp)  Conv's output read by that QuantizeLinear only
//
// becomes QLinearConv(xq, x_scale, x_zp, wq, w_scale, w_zp, y_scale, y_zp, bq), as onnxruntime's
// QDQSelectorActionTransformer writes it: the integer convolution and one requantization (double arithmetic,
// onnx.reference's QLinearConv) instead of a float convolution over dequantized copies and a QuantizeLinear. Not
// to the bit: the float convolution sums in float and rounds y / y_scale, the integer one sums exactly and rounds
// acc * (x_scale * w_scale / y_scale), so an output byte near a rounding tie can differ by one step (as
// onnxruntime's does). The Extended level runs it where the integer convolution is faster than the float one
// (simd::qgemm_int8_conv_fast: the u8 x s8 quad kernels of VNNI and AMX, and AVX2's int16-pair kernel); with the
// portable, SSE2 and NEON int16-pair kernels (not measured faster) the graph keeps its float arithmetic, as
// disabled_optimizers=["QDQSelectorActionTransformer"] keeps it anywhere. So a QDQ model's bytes may differ by a
// step between an x86 machine with AVX2 and another (onnxruntime's differ between its kernels too); a model saved
// by optimized_model_filepath holds only standard operators either way.
#include "kernels/quant/qparams.h"  // is_q8
#include "kernels/simd/qgemm.h"
#include "optimize/graph_util.h"
#include "optimize/passes.h"

namespace pionnx {

using opt::is_op;

namespace {

// Only the attributes named (a newer opset's block_size or output_dtype: not this pattern).
bool only_attrs(const Node& n, std::initializer_list<const char*> allowed) {
  for (const Attribute& a : n.attrs) {
    bool ok = false;
    for (const char* name : allowed) ok = ok || a.name == name;
    if (!ok) return false;
  }
  return true;
}

// A DequantizeLinear or QuantizeLinear whose scale and zero point are constants, the scale float and the zero
// point 8-bit, each one value or (per_channel) m values along axis 0 of a rank-`rank` input; its scale and
// zero point then.
bool q8_params(const Graph& g, const opt::GraphFacts& f, const Node& n, int64_t m, int64_t rank, const Tensor** scale,
               const Tensor** zp) {
  if (n.inputs.size() != 3 || !only_attrs(n, {"axis", "saturate"})) return false;
  *scale = opt::constant(g, f, n.inputs[1]);
  *zp = opt::constant(g, f, n.inputs[2]);
  if (!*scale || !*zp || (*scale)->dtype() != DType::Float || !is_q8((*zp)->dtype())) return false;
  const int64_t count = (*scale)->numel();
  if ((*zp)->numel() != count) return false;
  if (count == 1) return (*scale)->rank() <= 1 && (*zp)->rank() <= 1;
  int64_t axis = n.attr_i("axis", 1);
  if (axis < 0) axis += rank;
  return m > 0 && count == m && axis == 0 && (*scale)->rank() == 1 && (*zp)->rank() == 1;
}

}  // namespace

bool fuse_qdq_conv(Graph& g, const OptimizeContext& ctx) {
  if (!simd::qgemm_int8_conv_fast()) return false;
  opt::GraphFacts f(g, ctx);
  std::vector<bool> drop(g.nodes.size(), false);
  bool changed = false;
  const opt::Pattern p{g, f, drop};
  for (size_t k = 0; k < g.nodes.size(); ++k) {
    const Node& conv = g.nodes[k];
    if (drop[k] || conv.op_type != "Conv" || !conv.domain.empty() || conv.inputs.size() < 2 || conv.inputs.size() > 3 ||
        conv.outputs.size() != 1)
      continue;
    const long q = p.reader(conv.outputs[0], "QuantizeLinear", 3);
    const long dx = p.producer(conv.inputs[0], "DequantizeLinear", 3);
    const long dw = p.producer(conv.inputs[1], "DequantizeLinear", 3);
    if (q < 0 || dx < 0 || dw < 0) continue;
    const Tensor* wq = opt::constant(g, f, g.nodes[dw].inputs[0]);
    if (!wq || !is_q8(wq->dtype()) || wq->rank() < 3) continue;
    const int64_t m = wq->dim(0);
    const Tensor *xs, *xz, *ws, *wz, *ys, *yz;
    if (!q8_params(g, f, g.nodes[dx], 0, 0, &xs, &xz) || !q8_params(g, f, g.nodes[dw], m, wq->rank(), &ws, &wz) ||
        !q8_params(g, f, g.nodes[q], 0, 0, &ys, &yz) || wz->dtype() != wq->dtype())
      continue;
    // The bias: int32 in steps of x_scale * w_scale (the product in float, as the quantizer makes it), no offset.
    std::string bq;
    long db = -1;
    if (conv.input_present(2)) {
      db = p.producer(conv.inputs[2], "DequantizeLinear", 3);
      if (db < 0 || !only_attrs(g.nodes[db], {"axis"})) continue;
      const Tensor* b = opt::constant(g, f, g.nodes[db].inputs[0]);
      const Tensor* bs = opt::constant(g, f, g.nodes[db].inputs[1]);
      const Tensor* bz = opt::constant(g, f, g.nodes[db].inputs[2]);
      if (!b || !bs || !bz || b->dtype() != DType::Int32 || b->rank() != 1 || b->numel() != m ||
          bs->dtype() != DType::Float || bz->dtype() != DType::Int32 || (bs->numel() != 1 && bs->numel() != m) ||
          (bz->numel() != 1 && bz->numel() != m))
        continue;
      bool steps = true;
      const float sx = xs->data<float>()[0];
      for (int64_t c = 0; c < m && steps; ++c) {
        const float want = sx * ws->data<float>()[ws->numel() > 1 ? c : 0];
        steps = bs->data<float>()[bs->numel() > 1 ? c : 0] == want && bz->data<int32_t>()[bz->numel() > 1 ? c : 0] == 0;
      }
      if (!steps) continue;
      bq = g.nodes[db].inputs[0];
    }
    const Node& dqx = g.nodes[dx];
    const Node& dqw = g.nodes[dw];
    const Node& qy = g.nodes[q];
    Node fused;
    fused.name = conv.name;
    fused.op_type = "QLinearConv";
    fused.attrs = conv.attrs;
    fused.inputs = {dqx.inputs[0], dqx.inputs[1], dqx.inputs[2],
                    dqw.inputs[0], dqw.inputs[1], dqw.inputs[2],
                    qy.inputs[1],  qy.inputs[2],  bq};
    opt::trim_trailing_empty(fused.inputs);
    fused.outputs = {qy.outputs[0]};
    // The DequantizeLinears nothing else reads go with the Conv; the QuantizeLinear's output is now made here.
    for (long d : {dx, dw, db})
      if (d >= 0 && f.sole_consumer(g, g.nodes[d].outputs[0]) == static_cast<long>(k)) drop[d] = true;
    drop[q] = true;
    g.nodes[k] = std::move(fused);
    changed = true;
  }
  if (changed) opt::erase_nodes(g, drop);
  return changed;
}

bool fuse_matmul_integer_to_float(Graph& g, const OptimizeContext& ctx) {
  opt::GraphFacts f(g, ctx);
  std::vector<bool> drop(g.nodes.size(), false);
  bool changed = false;
  const opt::Pattern p{g, f, drop};
  auto producer = [&](const std::string& name) { return opt::live_producer(f, name, drop); };
  for (size_t k = 0; k < g.nodes.size(); ++k) {
    const Node& mm = g.nodes[k];
    if (drop[k] || mm.op_type != "MatMulInteger" || !mm.domain.empty() || mm.inputs.size() < 3 ||
        mm.outputs.size() != 1)
      continue;
    // A from DynamicQuantizeLinear, with its zero point.
    const long dq = producer(mm.inputs[0]);
    if (dq < 0 || g.nodes[dq].op_type != "DynamicQuantizeLinear" || !g.nodes[dq].domain.empty() ||
        g.nodes[dq].outputs.size() != 3 || g.nodes[dq].outputs[0] != mm.inputs[0] ||
        g.nodes[dq].outputs[2] != mm.inputs[2])
      continue;
    const Tensor* b = opt::constant(g, f, mm.inputs[1]);
    if (!b || b->rank() != 2) continue;
    const int64_t n = b->dim(1);
    // Cast to float, then Mul by s = a_scale * b_scale.
    const long cast = p.reader(mm.outputs[0], "Cast", 1);
    if (cast < 0 || g.nodes[cast].attr_i("to", 0) != static_cast<int64_t>(DType::Float)) continue;
    const long mul = p.reader(g.nodes[cast].outputs[0], "Mul", 2);
    if (mul < 0) continue;
    const std::string s = opt::other_input(g.nodes[mul], g.nodes[cast].outputs[0]);
    const long sm = s.empty() ? -1 : producer(s);
    if (sm < 0 || !is_op(g.nodes[sm], "Mul", 2)) continue;
    const std::string& a_scale = g.nodes[dq].outputs[1];
    const std::string b_scale = opt::other_input(g.nodes[sm], a_scale);
    const Tensor* bs = opt::constant(g, f, b_scale);
    if (!bs || bs->dtype() != DType::Float || bs->rank() > 1 || (bs->numel() != 1 && bs->numel() != n)) continue;
    // An Add of a constant [N] bias after it.
    std::string out = g.nodes[mul].outputs[0], bias;
    const long add = p.reader(out, "Add", 2);
    if (add >= 0) {
      const std::string c = opt::other_input(g.nodes[add], out);
      const Tensor* ct = p.float_vector(c);
      if (ct && ct->numel() == n) {
        bias = c;
        out = g.nodes[add].outputs[0];
        drop[add] = true;
      }
    }
    Node fused = mm;
    fused.attrs.clear();
    fused.op_type = "MatMulIntegerToFloat";
    fused.domain = "com.microsoft";
    fused.inputs = {
        mm.inputs[0], mm.inputs[1], a_scale, b_scale, mm.inputs[2], mm.inputs.size() > 3 ? mm.inputs[3] : "", bias};
    opt::trim_trailing_empty(fused.inputs);
    fused.outputs = {out};
    // In the MatMulInteger's place: the Mul of the scales may come later.
    g.nodes[k] = std::move(fused);
    drop[cast] = drop[mul] = true;
    if (f.sole_consumer(g, s) == mul) drop[sm] = true;
    changed = true;
  }
  if (changed) opt::erase_nodes(g, drop);
  return changed;
}

}  // namespace pionnx
