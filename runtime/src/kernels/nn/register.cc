// The nn family's kernels. Neural-network layers: activations and softmax, convolutions, pools, normalizations, attention, losses.
// Each file of this folder lists its operators, with the opset range of each,
// in its register_* function; this is the family's one entry point.
#include "kernels/base/families.h"

namespace pionnx {

void register_activation(KernelRegistry& r);
void register_softmax(KernelRegistry& r);
void register_conv(KernelRegistry& r);
void register_conv_transpose(KernelRegistry& r);
void register_geometry(KernelRegistry& r);
void register_pool(KernelRegistry& r);
void register_norm(KernelRegistry& r);
void register_dropout(KernelRegistry& r);
void register_attention(KernelRegistry& r);
void register_rotary(KernelRegistry& r);
void register_losses(KernelRegistry& r);

void register_nn_family(KernelRegistry& r) {
  register_activation(r);
  register_softmax(r);
  register_conv(r);
  register_conv_transpose(r);
  register_geometry(r);
  register_pool(r);
  register_norm(r);
  register_dropout(r);
  register_attention(r);
  register_rotary(r);
  register_losses(r);
}

}  // namespace pionnx
