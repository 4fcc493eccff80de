// The signal family's kernels. Signal processing: DFT, STFT, windows, MelWeightMatrix.
// Each file of this folder lists its operators, with the opset range of each,
// in its register_* function; this is the family's one entry point.
#include "kernels/base/families.h"

namespace pionnx {

void register_signal(KernelRegistry& r);

void register_signal_family(KernelRegistry& r) {
  register_signal(r);
}

}  // namespace pionnx
