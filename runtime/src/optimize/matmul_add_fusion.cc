// MatMul(A, B) + bias becomes Gemm(A, B, bias) when A is known to be 2-D, B
// is a constant 2-D float matrix [K, N] and the bias a constant float [N]
// or [1, N].
#include "optimize/graph_util.h"
#include "optimize/passes.h"

namespace pionnx {

bool fuse_matmul_add(Graph& g, const OptimizeContext& ctx) {
  auto op = ctx.opsets.find("");
  if (op == ctx.opsets.end() || op->second < 11) return false;  // Gemm-11: unidirectional bias broadcast
  opt::GraphFacts f(g, ctx);
  std::unordered_map<std::string, int64_t> rank;
  bool ranks_done = false;
  std::vector<bool> drop(g.nodes.size(), false);
  bool changed = false;
  for (size_t k = 0; k < g.nodes.size(); ++k) {
    Node& mm = g.nodes[k];
    if (drop[k] || mm.op_type != "MatMul" || !mm.domain.empty() || mm.inputs.size() != 2 || mm.outputs.size() != 1)
      continue;
    const Tensor* b = opt::constant(g, f, mm.inputs[1]);
    if (!b || b->dtype() != DType::Float || b->rank() != 2) continue;
    long a = f.sole_consumer(g, mm.outputs[0]);
    if (a < 0 || drop[a]) continue;
    Node& add = g.nodes[a];
    if (add.op_type != "Add" || !add.domain.empty() || add.inputs.size() != 2 || add.outputs.size() != 1) continue;
    const std::string& other = add.inputs[0] == mm.outputs[0] ? add.inputs[1] : add.inputs[0];
    if (other == mm.outputs[0]) continue;
    const Tensor* c = opt::constant(g, f, other);
    int64_t n = b->dim(1);
    if (!c || c->dtype() != DType::Float || c->numel() != n || c->rank() < 1 || c->rank() > 2 || c->dim(-1) != n)
      continue;
    if (!ranks_done) {
      rank = opt::known_ranks(g, f);
      ranks_done = true;
    }
    auto ra = rank.find(mm.inputs[0]);
    if (ra == rank.end() || ra->second != 2) continue;
    mm.op_type = "Gemm";
    mm.inputs.push_back(other);
    mm.outputs[0] = add.outputs[0];
    mm.attrs.clear();
    drop[a] = changed = true;
  }
  if (changed) opt::erase_nodes(g, drop);
  return changed;
}

}  // namespace pionnx
