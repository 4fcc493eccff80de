#include "kernels/kernel.h"

namespace pionnx {

const KernelRegistry& KernelRegistry::builtin() {
  static const KernelRegistry reg = [] {
    KernelRegistry r;
    register_elementwise(r);
    register_activation(r);
    register_gemm(r);
    register_conv(r);
    register_pool(r);
    register_norm(r);
    register_reduce(r);
    register_shape(r);
    register_index(r);
    register_resize(r);
    register_misc(r);
    register_quant(r);
    register_control(r);
    register_rnn(r);
    register_dropout(r);
    register_string(r);
    register_attention(r);
    return r;
  }();
  return reg;
}

}  // namespace pionnx
