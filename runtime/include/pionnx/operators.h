// The operators this build runs, as kernels/base/operators.inc lists them:
// for tools (`pionnx info`, the test that compares them with onnx.defs).
#pragma once
#include <string>
#include <vector>

namespace pionnx {

struct OperatorSupport {
  std::string domain;  // "" = ai.onnx
  std::string op;
  int since, until;  // the opset range whose semantics the kernel implements
};

// Every row of the operator table, in its order.
std::vector<OperatorSupport> supported_operators();
// The newest ai.onnx opset the runtime knows (kLatestOpset).
int latest_opset();

}  // namespace pionnx
