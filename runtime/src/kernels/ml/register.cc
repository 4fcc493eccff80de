// kernels/ml/: the ai.onnx.ml operators (classic machine learning: trees, linear models, SVMs, encoders and
// imputers). Each file of this folder lists its operators in its register_* function; this is the family's one
// entry point.
#include "kernels/base/families.h"

namespace pionnx {

void register_ml(KernelRegistry&), register_svm(KernelRegistry&), register_preprocess(KernelRegistry&);

void register_ml_family(KernelRegistry& r) {
  for (Registrar add : {register_ml, register_svm, register_preprocess}) add(r);
}

}  // namespace pionnx
