// The ml family's kernels. Classic ML (ai.onnx.ml).
// Each file of this folder lists its operators, with the opset range of each,
// in its register_* function; this is the family's one entry point.
#include "kernels/base/families.h"

namespace pionnx {

void register_ml(KernelRegistry& r);

void register_ml_family(KernelRegistry& r) {
  register_ml(r);
}

}  // namespace pionnx
