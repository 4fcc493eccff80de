#include "kernels/kernel.h"

namespace pionnx {

// No rnn operators yet: see the operator-coverage issue.
void register_rnn(KernelRegistry&) {}

}  // namespace pionnx
