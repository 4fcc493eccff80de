// The rnn family's kernels. Recurrent layers: RNN, GRU, LSTM.
// Each file of this folder lists its operators, with the opset range of each,
// in its register_* function; this is the family's one entry point.
#include "kernels/base/families.h"

namespace pionnx {

void register_rnn(KernelRegistry& r);

void register_rnn_family(KernelRegistry& r) {
  register_rnn(r);
}

}  // namespace pionnx
