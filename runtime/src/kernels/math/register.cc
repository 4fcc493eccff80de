// The math family's kernels. Element-wise math, logic and casts, matrix products, reductions, Einsum, Det.
// Each file of this folder lists its operators, with the opset range of each,
// in its register_* function; this is the family's one entry point.
#include "kernels/base/families.h"

namespace pionnx {

void register_elementwise(KernelRegistry& r);
void register_elementwise_unary(KernelRegistry& r);
void register_elementwise_cast(KernelRegistry& r);
void register_gemm(KernelRegistry& r);
void register_einsum(KernelRegistry& r);
void register_reduce(KernelRegistry& r);
void register_det(KernelRegistry& r);

void register_math_family(KernelRegistry& r) {
  register_elementwise(r);
  register_elementwise_unary(r);
  register_elementwise_cast(r);
  register_gemm(r);
  register_einsum(r);
  register_reduce(r);
  register_det(r);
}

}  // namespace pionnx
