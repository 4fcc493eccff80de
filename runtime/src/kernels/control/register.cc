// The control family's kernels. Control flow: If, Loop, Scan.
// Each file of this folder lists its operators, with the opset range of each,
// in its register_* function; this is the family's one entry point.
#include "kernels/base/families.h"

namespace pionnx {

void register_control(KernelRegistry& r);

void register_control_family(KernelRegistry& r) {
  register_control(r);
}

}  // namespace pionnx
