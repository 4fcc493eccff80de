// Drops initializers nothing reads any more (weights replaced by folded
// copies, constants whose consumers were folded away).
#include "optimize/graph_util.h"
#include "optimize/passes.h"

namespace pionnx {

bool remove_unused_initializers(Graph& g, const OptimizeContext&) {
  std::unordered_set<std::string> read;
  opt::collect_names_read(g, read);
  for (const ValueInfo& v : g.inputs) read.insert(v.name);
  std::vector<std::string> order;
  for (const std::string& name : g.initializer_order) {
    if (read.count(name)) order.push_back(name);
    else g.initializers.erase(name);
  }
  bool changed = order.size() != g.initializer_order.size();
  g.initializer_order = std::move(order);
  return changed;
}

}  // namespace pionnx
