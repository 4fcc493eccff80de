#include "kernels/kernel.h"

namespace pionnx {

// No quant operators yet: see the operator-coverage issue.
void register_quant(KernelRegistry&) {}

}  // namespace pionnx
