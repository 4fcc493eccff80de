// The built-in kernel registry: every family registers the implementations
// of its operators (kernels/<family>/register.cc), each taking its opset range
// from the one table, kernels/base/operators.inc; then every row of the table must
// have its kernel.
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
    r.check_complete();
    return r;
  }();
  return reg;
}

}  // namespace pionnx
