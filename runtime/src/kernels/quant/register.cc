// kernels/quant/: (De)QuantizeLinear, integer GEMMs and convolutions, com.microsoft QLinear* ops. Each file of this
// folder lists its operators, with the opset range of each, in its register_* function; this is the family's one entry
// point.
#include "kernels/base/families.h"

namespace pionnx {

void register_quant_linear(KernelRegistry&), register_quant_matmul(KernelRegistry&),
    register_quant_conv(KernelRegistry&), register_quant_microsoft(KernelRegistry&);

void register_quant_family(KernelRegistry& r) {
  for (Registrar add : {register_quant_linear, register_quant_matmul, register_quant_conv, register_quant_microsoft})
    add(r);
}

}  // namespace pionnx
