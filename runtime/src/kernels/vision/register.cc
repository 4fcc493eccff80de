// The vision family's kernels. Image sampling and detection: Resize/Upsample, GridSample, NonMaxSuppression, RoiAlign.
// Each file of this folder lists its operators, with the opset range of each,
// in its register_* function; this is the family's one entry point.
#include "kernels/base/families.h"

namespace pionnx {

void register_resize(KernelRegistry& r);
void register_grid_sample(KernelRegistry& r);
void register_detection(KernelRegistry& r);

void register_vision_family(KernelRegistry& r) {
  register_resize(r);
  register_grid_sample(r);
  register_detection(r);
}

}  // namespace pionnx
