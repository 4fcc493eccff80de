// The built-in kernel registry: every family, each listing its operators
// and their opset ranges (kernels/<family>/register.cc).
#include "kernels/base/families.h"

namespace pionnx {

const KernelRegistry& KernelRegistry::builtin() {
  static const KernelRegistry reg = [] {
    KernelRegistry r;
    register_math_family(r);
    register_nn_family(r);
    register_tensor_family(r);
    register_quant_family(r);
    register_control_family(r);
    register_sequence_family(r);
    register_rnn_family(r);
    register_vision_family(r);
    register_signal_family(r);
    register_text_family(r);
    register_ml_family(r);
    return r;
  }();
  return reg;
}

}  // namespace pionnx
