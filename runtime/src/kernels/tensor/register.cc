// The tensor family's kernels. Tensor manipulation: shapes, data movement, indexing, sorting, generators, random numbers.
// Each file of this folder lists its operators, with the opset range of each,
// in its register_* function; this is the family's one entry point.
#include "kernels/base/families.h"

namespace pionnx {

void register_shape(KernelRegistry& r);
void register_shape_gen(KernelRegistry& r);
void register_shape_pad(KernelRegistry& r);
void register_index(KernelRegistry& r);
void register_index_sort(KernelRegistry& r);
void register_random(KernelRegistry& r);

void register_tensor_family(KernelRegistry& r) {
  register_shape(r);
  register_shape_gen(r);
  register_shape_pad(r);
  register_index(r);
  register_index_sort(r);
  register_random(r);
}

}  // namespace pionnx
