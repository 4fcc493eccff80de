// Replaces calls to model-local functions (ModelProto.functions) by their
// bodies, so the executor only ever sees registered operators.
#pragma once
#include "ir/graph.h"

namespace pionnx {

// Refuses (InvalidGraph) a model whose expansion would exceed `max_nodes`
// nodes in all: a few KB of nested calls can stand for millions of nodes.
void inline_functions(Model& m, int64_t max_nodes = 1000000);

}  // namespace pionnx
