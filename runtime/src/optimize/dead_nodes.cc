#include <unordered_set>

#include "optimize/passes.h"

namespace pionnx {

bool remove_dead_nodes(Graph& g, const OptimizeContext&) {
  std::unordered_set<std::string> needed;
  for (const ValueInfo& o : g.outputs) needed.insert(o.name);
  std::vector<bool> keep(g.nodes.size(), false);
  // Walk backwards: ONNX requires topological order, and a node kept late
  // marks its inputs needed for earlier nodes.
  for (size_t k = g.nodes.size(); k-- > 0;) {
    const Node& n = g.nodes[k];
    bool live = false;
    for (const auto& o : n.outputs) live = live || (!o.empty() && needed.count(o));
    if (!live) continue;
    keep[k] = true;
    for (const auto& in : n.inputs) needed.insert(in);
    collect_subgraph_reads(n, needed);
  }
  // Out-of-order graphs would be mis-pruned by one backward sweep: keep
  // everything unless the sweep proved each dropped node dead in order.
  std::unordered_set<std::string> produced_before;
  for (const ValueInfo& i : g.inputs) produced_before.insert(i.name);
  for (const auto& kv : g.initializers) produced_before.insert(kv.first);
  for (const Node& n : g.nodes) {
    for (const auto& in : n.inputs)
      if (!in.empty() && !produced_before.count(in)) return false;  // not sorted: leave alone
    for (const auto& o : n.outputs) produced_before.insert(o);
  }
  size_t before = g.nodes.size();
  std::vector<Node> kept;
  kept.reserve(before);
  for (size_t k = 0; k < before; ++k)
    if (keep[k]) kept.push_back(std::move(g.nodes[k]));
  g.nodes = std::move(kept);
  return g.nodes.size() != before;
}

}  // namespace pionnx
