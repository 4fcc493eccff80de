#include "optimize/passes.h"

namespace pionnx {

int optimize_graph(Graph& g, OptLevel level, const OptimizeContext& ctx) {
  if (level == OptLevel::Disabled) return 0;
  using Pass = bool (*)(Graph&, const OptimizeContext&);
  std::vector<Pass> passes = {fold_constants, remove_identities, remove_dead_nodes};
  if (static_cast<int>(level) >= static_cast<int>(OptLevel::Extended)) {
    passes.push_back(fold_conv_batchnorm);
    passes.push_back(fuse_conv_activation);
    passes.push_back(fuse_attention);  // before fuse_matmul_add takes the projections' biases
    passes.push_back(fuse_matmul_add);
    passes.push_back(fuse_matmul_integer_to_float);
    passes.push_back(fuse_gelu);
    passes.push_back(fuse_bias_gelu);
    passes.push_back(fuse_layer_norm);
  }
  passes.push_back(remove_unused_initializers);
  int changes = 0;
  for (int round = 0; round < 8; ++round) {
    bool any = false;
    for (Pass p : passes)
      if (p(g, ctx)) {
        any = true;
        ++changes;
      }
    if (!any) break;
  }
  return changes;
}

}  // namespace pionnx
