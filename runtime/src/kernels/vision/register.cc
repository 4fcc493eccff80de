// kernels/vision/: Resize/Upsample, GridSample, NonMaxSuppression, RoiAlign. Each file of this folder lists its
// operators, with the opset range of each, in its register_* function; this is the family's one entry point.
#include "kernels/base/families.h"

namespace pionnx {

void register_resize(KernelRegistry&), register_grid_sample(KernelRegistry&), register_detection(KernelRegistry&);

void register_vision_family(KernelRegistry& r) {
  for (Registrar add : {register_resize, register_grid_sample, register_detection}) add(r);
}

}  // namespace pionnx
