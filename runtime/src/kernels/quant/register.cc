// The quant family's kernels. Quantized inference: (De)QuantizeLinear, integer GEMMs and convolutions, com.microsoft QLinear* ops.
// Each file of this folder lists its operators, with the opset range of each,
// in its register_* function; this is the family's one entry point.
#include "kernels/base/families.h"

namespace pionnx {

void register_quant_linear(KernelRegistry& r);
void register_quant_matmul(KernelRegistry& r);
void register_quant_conv(KernelRegistry& r);
void register_quant_microsoft(KernelRegistry& r);

void register_quant_family(KernelRegistry& r) {
  register_quant_linear(r);
  register_quant_matmul(r);
  register_quant_conv(r);
  register_quant_microsoft(r);
}

}  // namespace pionnx
