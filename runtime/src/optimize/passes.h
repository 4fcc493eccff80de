// Graph rewrites run at session creation. A pass is Graph& -> bool changed;
// the pass list for a level runs to a fixed point.
#pragma once
#include <map>
#include <string>
#include <vector>

#include "ir/graph.h"
#include "kernels/base/kernel.h"
#include "pionnx/log.h"
#include "pionnx/session.h"

namespace pionnx {

struct OptimizeContext {
  const std::map<std::string, int64_t>& opsets;
  // Below IR 4 initializers are listed as graph inputs yet are constants
  // (onnxruntime does not let them be overridden either).
  int64_t ir_version = 0;
  // Lets constant folding run If/Loop/Scan over constant inputs (the
  // executor's, given by the session).
  SubgraphBuilder build_subgraph = {};
  // Passes not to run (names: optimizer_names()), and where to report.
  std::vector<std::string> disabled = {};
  const Logger* logger = nullptr;
};

// Removes nodes none of whose outputs reach a graph output.
bool remove_dead_nodes(Graph& g, const OptimizeContext& ctx);
// Basic: nodes with constant inputs run once and become initializers.
bool fold_constants(Graph& g, const OptimizeContext& ctx);
// Basic: Identity and inference Dropout are bypassed.
bool remove_identities(Graph& g, const OptimizeContext& ctx);
// Basic: initializers nothing reads are dropped.
bool remove_unused_initializers(Graph& g, const OptimizeContext& ctx);
// Extended: BatchNormalization after Conv folds into the Conv's weights.
bool fold_conv_batchnorm(Graph& g, const OptimizeContext& ctx);
// Extended: a Mul or Add by a per-channel constant after Conv folds into its
// weights and bias (onnxruntime's ConvMulFusion, ConvAddFusion); after
// BatchNormalization, into its scale and B.
bool fold_conv_mul(Graph& g, const OptimizeContext& ctx);
bool fold_conv_add(Graph& g, const OptimizeContext& ctx);
bool fold_batchnorm_mul_add(Graph& g, const OptimizeContext& ctx);
// Extended: Relu/Clip/LeakyRelu/Sigmoid/Tanh/HardSigmoid after Conv fuse
// into it.
bool fuse_conv_activation(Graph& g, const OptimizeContext& ctx);
// Extended: Conv + Add (or Sum) of another tensor, maybe + one of those
// activations, becomes com.microsoft FusedConv with Z (a residual block's end).
bool fuse_conv_add_activation(Graph& g, const OptimizeContext& ctx);
// Extended: the exporters' multi-head attention subgraph (split heads,
// MatMul, scale, mask, Softmax, MatMul, merge heads) becomes one
// com.microsoft MultiHeadAttention, the projections' biases folded in.
bool fuse_attention(Graph& g, const OptimizeContext& ctx);
// Extended: MatMul + bias with 2-D A becomes Gemm.
bool fuse_matmul_add(Graph& g, const OptimizeContext& ctx);
// Extended: 0.5 * x * (1 + Erf(x / sqrt(2))) becomes com.microsoft Gelu (the
// session then imports that domain if the model did not).
bool fuse_gelu(Graph& g, const OptimizeContext& ctx);
// Extended: DynamicQuantizeLinear + MatMulInteger + Cast + Mul (+ bias Add),
// as quantize_dynamic writes them, become com.microsoft MatMulIntegerToFloat.
bool fuse_matmul_integer_to_float(Graph& g, const OptimizeContext& ctx);
// Extended, where the integer GEMM has quad kernels (VNNI, AMX): a QDQ convolution (DequantizeLinear of 8-bit x
// and constant weights, of an int32 bias, Conv, QuantizeLinear) becomes QLinearConv (onnxruntime's
// QDQSelectorActionTransformer; within one quantization step of the float form, not to the bit). Runs before
// ConstantFolding.
bool fuse_qdq_conv(Graph& g, const OptimizeContext& ctx);
// Extended: Gelu(x + constant bias vector) becomes com.microsoft BiasGelu.
bool fuse_bias_gelu(Graph& g, const OptimizeContext& ctx);
// Extended: layer normalization written out (ReduceMean, Sub, Pow, ...)
// becomes LayerNormalization (opset >= 17); LayerNormalization (or the
// written-out form) of a + b (+ bias) over the last axis becomes
// com.microsoft SkipLayerNormalization.
bool fuse_layer_norm(Graph& g, const OptimizeContext& ctx);

// Runs the passes enabled at `level` and not disabled over the graph (not
// into subgraphs), to a fixed point. Returns how many pass applications
// changed something; each is logged at verbose level.
int optimize_graph(Graph& g, OptLevel level, const OptimizeContext& ctx);
// The layout level (OptLevel::All): convolution chains into the NCHWc layout
// (onnxruntime's NchwcTransformer) and the attention projections packed, once
// each; the session runs it after writing optimized_model_filepath (graphs
// for this CPU, or that onnxruntime's CPU kernels refuse). Returns the passes
// that changed the graph.
bool nchwc_layout(Graph& g, const OptimizeContext& ctx);
// The layout level: a MultiHeadAttention's three query/key/value products of
// one input (MatMul or MatMulIntegerToFloat) become one product read as the
// packed QKV query (optimize/qkv_packing.cc).
bool pack_attention_qkv(Graph& g, const OptimizeContext& ctx);
int optimize_layout(Graph& g, OptLevel level, const OptimizeContext& ctx);

}  // namespace pionnx
