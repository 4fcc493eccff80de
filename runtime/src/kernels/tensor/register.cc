// kernels/tensor/: shapes, data movement, indexing, sorting, generators, random numbers. Each file of this folder lists
// its operators, with the opset range of each, in its register_* function; this is the family's one entry point.
#include "kernels/base/families.h"

namespace pionnx {

void register_shape(KernelRegistry&), register_shape_gen(KernelRegistry&), register_shape_pad(KernelRegistry&),
    register_index(KernelRegistry&), register_index_sort(KernelRegistry&), register_random(KernelRegistry&);

void register_tensor_family(KernelRegistry& r) {
  for (Registrar add :
       {register_shape, register_shape_gen, register_shape_pad, register_index, register_index_sort, register_random})
    add(r);
}

}  // namespace pionnx
