// Drops initializers nothing reads any more (weights replaced by folded
// copies, constants whose consumers were folded away).
#include "optimize/graph_util.h"
#include "optimize/passes.h"

namespace pionnx {

bool remove_unused_initializers(Graph& g, const OptimizeContext& ctx) {
  std::unordered_set<std::string> read;
  opt::collect_names_read(g, read);
  // Below IR 4 an initializer listed as an input is still a constant: once
  // unread, both go (else the input would turn into a required feed).
  if (ctx.ir_version >= 4)
    for (const ValueInfo& v : g.inputs) read.insert(v.name);
  std::vector<ValueInfo> inputs;
  for (ValueInfo& v : g.inputs)
    if (read.count(v.name) || !g.initializers.count(v.name)) inputs.push_back(std::move(v));
  g.inputs = std::move(inputs);
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
