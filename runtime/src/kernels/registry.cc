#include "kernels/kernel.h"

namespace pionnx {

// Declared here rather than in kernel.h to spare everyone a full rebuild.
void register_detection(KernelRegistry& r);  // detection.cc, geometry.cc
void register_ml(KernelRegistry& r);         // ml.cc (ai.onnx.ml)

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
    register_detection(r);
    register_ml(r);
    return r;
  }();
  return reg;
}

}  // namespace pionnx
