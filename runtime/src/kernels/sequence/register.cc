// The sequence family's kernels. Sequences and optionals.
// Each file of this folder lists its operators, with the opset range of each,
// in its register_* function; this is the family's one entry point.
#include "kernels/base/families.h"

namespace pionnx {

void register_sequence(KernelRegistry& r);

void register_sequence_family(KernelRegistry& r) {
  register_sequence(r);
}

}  // namespace pionnx
