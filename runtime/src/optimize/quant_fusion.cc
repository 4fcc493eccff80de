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
#include "optimize/graph_util.h"
#include "optimize/passes.h"

namespace pionnx {

using opt::is_op;

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
