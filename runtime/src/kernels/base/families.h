// Every kernel family's entry point: kernels/<family>/register.cc, or the
// family's one file where it has only one. The registry (registry.cc) calls
// them all, in this order.
#pragma once
#include "kernels/base/kernel.h"

namespace pionnx {

// What adds a group of kernels to the registry.
using Registrar = void (*)(KernelRegistry&);

void register_math_family(KernelRegistry& r);      // kernels/math/
void register_nn_family(KernelRegistry& r);        // kernels/nn/
void register_tensor_family(KernelRegistry& r);    // kernels/tensor/
void register_quant_family(KernelRegistry& r);     // kernels/quant/
void register_control_family(KernelRegistry& r);   // kernels/control/
void register_sequence_family(KernelRegistry& r);  // kernels/sequence/
void register_rnn_family(KernelRegistry& r);       // kernels/rnn/
void register_vision_family(KernelRegistry& r);    // kernels/vision/
void register_signal_family(KernelRegistry& r);    // kernels/signal/
void register_text_family(KernelRegistry& r);      // kernels/text/
void register_ml_family(KernelRegistry& r);        // kernels/ml/

// Loop refuses (InvalidArgument) to run more iterations than this, process-
// wide (default: no bound, as ONNX asks; kernels/control/). For the fuzz
// harness, where a mutated trip count of 2^62 is a hang, not a finding.
void set_loop_iteration_cap(int64_t cap);

}  // namespace pionnx
