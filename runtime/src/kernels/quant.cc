// The quantized-inference family: one registration entry point for the
// kernels spread over quant_*.cc.
#include "kernels/quant_common.h"

namespace pionnx {

void register_quant(KernelRegistry& r) {
  register_quant_linear(r);
  register_quant_matmul(r);
  register_quant_conv(r);
  register_quant_microsoft(r);
}

}  // namespace pionnx
