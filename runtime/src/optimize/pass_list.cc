#include <algorithm>

#include "optimize/passes.h"

namespace pionnx {

namespace {

using PassFn = bool (*)(Graph&, const OptimizeContext&);
struct PassEntry {
  const char* name;  // onnxruntime's name for the same rewrite where it has one
  PassFn fn;
  OptLevel level;  // the lowest level that runs it
};

// In the order they run within a round.
const PassEntry kPasses[] = {
    // Before ConstantFolding, which would turn a QDQ convolution's DequantizeLinear of its int8 weights into float
    // weights.
    {"QDQSelectorActionTransformer", fuse_qdq_conv, OptLevel::Extended},
    {"ConstantFolding", fold_constants, OptLevel::Basic},
    {"EliminateIdentity", remove_identities, OptLevel::Basic},  // Identity and inference Dropout
    {"EliminateDeadNodes", remove_dead_nodes, OptLevel::Basic},
    {"ConvBNFusion", fold_conv_batchnorm, OptLevel::Extended},
    {"ConvMulFusion", fold_conv_mul, OptLevel::Extended},
    {"ConvAddFusion", fold_conv_add, OptLevel::Extended},
    {"BatchNormMulAddFusion", fold_batchnorm_mul_add, OptLevel::Extended},  // pionnx's own
    {"ConvActivationFusion", fuse_conv_activation, OptLevel::Extended},
    {"ConvAddActivationFusion", fuse_conv_add_activation, OptLevel::Extended},
    // Before AttentionFusion: an int8 projection's bias goes into its MatMulIntegerToFloat (added as the
    // sums are converted), not into the attention node, which would add it in a copy of q, k and v.
    {"MatMulIntegerToFloatFusion", fuse_matmul_integer_to_float, OptLevel::Extended},
    {"AttentionFusion", fuse_attention, OptLevel::Extended},  // before MatMulAddFusion takes the biases
    {"MatMulAddFusion", fuse_matmul_add, OptLevel::Extended},
    {"GeluFusion", fuse_gelu, OptLevel::Extended},
    {"BiasGeluFusion", fuse_bias_gelu, OptLevel::Extended},
    {"LayerNormFusion", fuse_layer_norm, OptLevel::Extended},  // also SkipLayerNormalization
    {"UnusedInitializerRemoval", remove_unused_initializers, OptLevel::Basic},
};

// The layout level, once, after the rounds above and after the session has written optimized_model_filepath
// (its graph depends on this CPU's vector width).
const PassEntry kLayoutPasses[] = {
    {"NchwcTransformer", nchwc_layout, OptLevel::All},
    {"AttentionQkvPacking", pack_attention_qkv, OptLevel::All},  // pionnx's own
};

bool wanted(const PassEntry& p, OptLevel level, const OptimizeContext& ctx) {
  return static_cast<int>(level) >= static_cast<int>(p.level) &&
         std::find(ctx.disabled.begin(), ctx.disabled.end(), p.name) == ctx.disabled.end();
}

}  // namespace

std::vector<std::string> optimizer_names() {
  std::vector<std::string> names;
  for (const PassEntry& p : kPasses) names.push_back(p.name);
  for (const PassEntry& p : kLayoutPasses) names.push_back(p.name);
  return names;
}

int optimize_graph(Graph& g, OptLevel level, const OptimizeContext& ctx) {
  if (level == OptLevel::Disabled) return 0;
  const std::vector<std::string> known = optimizer_names();
  for (const std::string& name : ctx.disabled)
    if (ctx.logger && std::find(known.begin(), known.end(), name) == known.end())
      ctx.logger->log(Severity::Warning,
                      "disabled_optimizers: pionnx has no optimizer named '" + name +
                          "' (ignored); its optimizers are the ones pionnx.get_optimizer_names() lists");
  std::vector<const PassEntry*> passes;
  for (const PassEntry& p : kPasses)
    if (wanted(p, level, ctx)) passes.push_back(&p);
  int changes = 0;
  for (int round = 0; round < 8; ++round) {
    bool any = false;
    for (const PassEntry* p : passes)
      if (p->fn(g, ctx)) {
        any = true;
        ++changes;
        if (ctx.logger)
          ctx.logger->log(Severity::Verbose, std::string("optimizer ") + p->name + " changed the graph (round " +
                                                 std::to_string(round + 1) + ", " + std::to_string(g.nodes.size()) +
                                                 " nodes now)");
      }
    if (!any) break;
  }
  return changes;
}

int optimize_layout(Graph& g, OptLevel level, const OptimizeContext& ctx) {
  int changes = 0;
  for (const PassEntry& p : kLayoutPasses)
    if (wanted(p, level, ctx) && p.fn(g, ctx)) {
      ++changes;
      if (ctx.logger)
        ctx.logger->log(Severity::Verbose, std::string("optimizer ") + p.name + " changed the graph (" +
                                               std::to_string(g.nodes.size()) + " nodes now)");
    }
  return changes;
}

}  // namespace pionnx
