// Replaces calls to model-local functions (ModelProto.functions) by their
// bodies, so the executor only ever sees registered operators.
#pragma once
#include "ir/graph.h"

namespace pionnx {

void inline_functions(Model& m);

}  // namespace pionnx
