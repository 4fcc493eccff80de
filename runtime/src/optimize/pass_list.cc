#include "optimize/passes.h"

namespace pionnx {

int optimize_graph(Graph& g, OptLevel level, const OptimizeContext& ctx) {
  if (level == OptLevel::Disabled) return 0;
  using Pass = bool (*)(Graph&, const OptimizeContext&);
  const Pass basic[] = {remove_dead_nodes};
  int changes = 0;
  for (int round = 0; round < 8; ++round) {
    bool any = false;
    for (Pass p : basic)
      if (p(g, ctx)) {
        any = true;
        ++changes;
      }
    if (!any) break;
  }
  return changes;
}

}  // namespace pionnx
