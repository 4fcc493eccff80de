// Graph rewrites run at session creation. A pass is Graph& -> bool changed;
// the pass list for a level runs to a fixed point.
#pragma once
#include <map>
#include <string>

#include "ir/graph.h"
#include "pionnx/session.h"

namespace pionnx {

struct OptimizeContext {
  const std::map<std::string, int64_t>& opsets;
};

// Removes nodes none of whose outputs reach a graph output.
bool remove_dead_nodes(Graph& g, const OptimizeContext& ctx);

// Runs the passes enabled at `level` over the graph (not into subgraphs).
// Returns how many pass applications changed something.
int optimize_graph(Graph& g, OptLevel level, const OptimizeContext& ctx);

}  // namespace pionnx
