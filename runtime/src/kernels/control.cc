#include "kernels/kernel.h"

namespace pionnx {

// No control operators yet: see the operator-coverage issue.
void register_control(KernelRegistry&) {}

}  // namespace pionnx
