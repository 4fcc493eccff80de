// ONNX messages decoded straight into the IR.
#pragma once
#include <string>
#include <string_view>

#include "ir/graph.h"
#include "pionnx/value.h"

namespace pionnx {
namespace proto {

// Where external tensor data may be read from. An empty dir refuses any
// external data (a model given as bytes has no folder).
struct LoadContext {
  std::string model_dir;
  // Messages nested deeper (graphs in attributes in graphs, sequences of
  // sequences, types of types) are refused: a hostile file must not overflow
  // the stack. SessionOptions.max_nesting_depth.
  int max_depth = 64;
};

Model parse_model(std::string_view bytes, const LoadContext& ctx);
Tensor parse_tensor(const std::string& bytes, const LoadContext& ctx);
// A serialized TensorProto, SequenceProto or OptionalProto (test data); the
// caller says which, as the wire format cannot tell them apart reliably.
Value parse_value(const std::string& bytes, TypeInfo::Kind kind, const LoadContext& ctx);

}  // namespace proto
}  // namespace pionnx
