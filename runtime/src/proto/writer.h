// A protobuf writer for the IR: the inverse of onnx.cc, used to save the
// optimized model (SessionOptions.optimized_model_filepath).
#pragma once
#include <string>

#include "ir/graph.h"

namespace pionnx {
namespace proto {

// The model as a serialized ModelProto. Tensors are written as raw_data
// (strings as string_data). A Conv carrying a fused activation is written as
// com.microsoft FusedConv, the form onnxruntime and the ONNX checker accept.
std::string serialize_model(const Model& m);
// serialize_model into a file; throws Error when it cannot be written.
void write_model_file(const Model& m, const std::string& path);

}  // namespace proto
}  // namespace pionnx
