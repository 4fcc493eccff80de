// kernels/math/: element-wise math, logic and casts, matrix products, reductions, Einsum, Det. Each file of this folder
// lists its operators, with the opset range of each, in its register_* function; this is the family's one entry point.
#include "kernels/base/families.h"

namespace pionnx {

void register_elementwise(KernelRegistry&), register_elementwise_unary(KernelRegistry&),
    register_elementwise_cast(KernelRegistry&), register_gemm(KernelRegistry&), register_einsum(KernelRegistry&),
    register_reduce(KernelRegistry&), register_det(KernelRegistry&);

void register_math_family(KernelRegistry& r) {
  for (Registrar add : {register_elementwise, register_elementwise_unary, register_elementwise_cast, register_gemm,
                        register_einsum, register_reduce, register_det})
    add(r);
}

}  // namespace pionnx
