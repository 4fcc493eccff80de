// Identity, and Dropout in inference, pass their input through: consumers
// read the input directly. Kept when the output is a graph output or is read
// inside a subgraph (renaming there could meet shadowed names).
#include "optimize/graph_util.h"
#include "optimize/passes.h"

namespace pionnx {

namespace {

bool is_passthrough(const Node& n, const opt::GraphFacts& f) {
  if (!n.domain.empty() || n.inputs.empty() || n.inputs[0].empty() || n.outputs.empty()) return false;
  if (n.op_type == "Identity") return n.outputs.size() == 1;
  if (n.op_type != "Dropout") return false;
  // training_mode given as an input could ask for real dropout: keep.
  if (n.inputs.size() > 2 && !n.inputs[2].empty()) return false;
  // The mask output has no pass-through equivalent.
  for (size_t i = 1; i < n.outputs.size(); ++i)
    if (!n.outputs[i].empty() && (f.use_count(n.outputs[i]) > 0 || !f.is_internal(n.outputs[i]))) return false;
  return true;
}

}  // namespace

bool remove_identities(Graph& g, const OptimizeContext& ctx) {
  opt::GraphFacts f(g, ctx);
  std::vector<bool> drop(g.nodes.size(), false);
  std::unordered_map<std::string, std::string> rename;
  for (size_t k = 0; k < g.nodes.size(); ++k) {
    const Node& n = g.nodes[k];
    if (!is_passthrough(n, f) || !f.is_internal(n.outputs[0])) continue;
    std::string src = n.inputs[0];
    auto it = rename.find(src);
    if (it != rename.end()) src = it->second;
    rename[n.outputs[0]] = src;
    drop[k] = true;
  }
  if (rename.empty()) return false;
  for (Node& n : g.nodes)
    for (auto& in : n.inputs) {
      auto it = rename.find(in);
      if (it != rename.end()) in = it->second;
    }
  opt::erase_nodes(g, drop);
  return true;
}

}  // namespace pionnx
