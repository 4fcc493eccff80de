#include "optimize/graph_util.h"

#include <algorithm>

namespace pionnx {
namespace opt {

std::unordered_map<std::string, int64_t> known_ranks(const Graph& g, const GraphFacts& f) {
  std::unordered_map<std::string, int64_t> rank;
  for (const auto* list : {&g.inputs, &g.value_info, &g.outputs})
    for (const ValueInfo& v : *list)
      if (v.type.kind == TypeInfo::Kind::Tensor && v.type.has_shape)
        rank[v.name] = static_cast<int64_t>(v.type.dims.size());
  for (const auto& kv : g.initializers) rank[kv.first] = static_cast<int64_t>(kv.second.rank());
  // Output rank = first input's.
  static const std::unordered_set<std::string> same = {
      "Relu",       "Sigmoid", "Tanh", "LeakyRelu",   "Clip",  "Dropout",   "Identity",
      "Softmax",    "Gelu",    "Elu",  "Abs",         "Neg",   "Cast",      "Erf",
      "Sqrt",       "Exp",     "Selu", "HardSigmoid", "Slice", "Transpose", "LayerNormalization",
      "Reciprocal", "Log",     "Not"};
  // The same, for the CNN layers (their first output).
  static const std::unordered_set<std::string> same_nn = {
      "Conv", "BatchNormalization",   "MaxPool", "AveragePool", "LpPool", "GlobalAveragePool", "GlobalMaxPool",
      "LRN",  "InstanceNormalization"};
  // Output rank = the largest input rank (multidirectional broadcasting).
  static const std::unordered_set<std::string> broadcast = {"Add", "Sub", "Mul",   "Div",  "Pow",    "Where",
                                                            "Max", "Min", "Equal", "Less", "Greater"};
  auto get = [&](const std::string& n) -> int64_t {
    auto it = rank.find(n);
    return it == rank.end() ? -1 : it->second;
  };
  for (const Node& n : g.nodes) {
    if (n.outputs.empty() || n.outputs[0].empty() || rank.count(n.outputs[0])) continue;
    int64_t r = -1;
    if (n.domain == "com.microsoft") {
      // What the fusions write.
      if (n.op_type == "MultiHeadAttention") r = 3;
      else if (n.op_type == "FusedConv" && !n.inputs.empty()) r = get(n.inputs[0]);
      else if ((n.op_type == "Gelu" || n.op_type == "BiasGelu") && !n.inputs.empty()) r = get(n.inputs[0]);
      else if (n.op_type == "SkipLayerNormalization" && n.inputs.size() >= 2) {
        const int64_t ra = get(n.inputs[0]), rb = get(n.inputs[1]);
        if (ra >= 0 && rb >= 0)  // every output (y, mean, inv_std_var, sum) has the broadcast rank
          for (const auto& o : n.outputs)
            if (!o.empty()) rank[o] = std::max(ra, rb);
      }
    } else if (!n.domain.empty()) {
      continue;
    } else if (n.op_type == "Flatten" || n.op_type == "Gemm") {
      r = 2;
    } else if (n.op_type == "Shape") {
      r = 1;
    } else if (n.op_type == "Concat") {
      for (const auto& in : n.inputs) r = std::max(r, get(in));  // all inputs have the output's rank
    } else if ((same.count(n.op_type) || same_nn.count(n.op_type)) && !n.inputs.empty()) {
      r = get(n.inputs[0]);
    } else if (broadcast.count(n.op_type)) {
      for (const auto& in : n.inputs) {
        const int64_t ri = get(in);
        if (ri < 0) {
          r = -1;
          break;
        }
        r = std::max(r, ri);
      }
    } else if (n.op_type == "MatMul" && n.inputs.size() == 2) {
      const int64_t ra = get(n.inputs[0]), rb = get(n.inputs[1]);
      if (ra >= 2 && rb >= 2) r = std::max(ra, rb);
    } else if (n.op_type == "Gather" && n.inputs.size() == 2) {
      const int64_t rd = get(n.inputs[0]), ri = get(n.inputs[1]);
      if (rd >= 1 && ri >= 0) r = rd - 1 + ri;
    } else if (n.op_type == "Reshape" && n.inputs.size() == 2) {
      if (const Tensor* s = constant(g, f, n.inputs[1])) r = s->numel();
    } else if (n.op_type == "ReduceMean" && !n.inputs.empty() && n.attr_i("keepdims", 1) == 1) {
      r = get(n.inputs[0]);
    } else if (n.op_type == "Unsqueeze" && !n.inputs.empty()) {
      const int64_t ri = get(n.inputs[0]);
      int64_t axes = -1;
      if (n.inputs.size() == 2) {
        if (const Tensor* a = constant(g, f, n.inputs[1])) axes = a->numel();
      } else if (n.has("axes")) {
        axes = static_cast<int64_t>(n.attr_ints("axes").size());
      }
      if (ri >= 0 && axes >= 0) r = ri + axes;
    }
    if (r >= 0) rank[n.outputs[0]] = r;
  }
  return rank;
}

}  // namespace opt
}  // namespace pionnx
