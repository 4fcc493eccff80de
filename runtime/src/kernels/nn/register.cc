// kernels/nn/: activations and softmax, convolutions, pools, normalizations, attention, losses. Each file of this
// folder lists its operators, with the opset range of each, in its register_* function; this is the family's one entry
// point.
#include "kernels/base/families.h"

namespace pionnx {

void register_activation(KernelRegistry&), register_softmax(KernelRegistry&), register_conv(KernelRegistry&),
    register_conv_transpose(KernelRegistry&), register_geometry(KernelRegistry&), register_pool(KernelRegistry&),
    register_norm(KernelRegistry&), register_dropout(KernelRegistry&), register_attention(KernelRegistry&),
    register_rotary(KernelRegistry&), register_losses(KernelRegistry&), register_linear_attention(KernelRegistry&),
    register_causal_conv_state(KernelRegistry&);

void register_nn_family(KernelRegistry& r) {
  for (Registrar add : {register_activation, register_softmax, register_conv, register_conv_transpose,
                        register_geometry, register_pool, register_norm, register_dropout, register_attention,
                        register_rotary, register_losses, register_linear_attention, register_causal_conv_state})
    add(r);
}

}  // namespace pionnx
