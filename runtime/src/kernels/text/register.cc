// kernels/text/: string operators and text vectorizers. Each file of this folder lists its operators in its
// register_* function; this is the family's one entry point.
#include "kernels/base/families.h"

namespace pionnx {

void register_regex(KernelRegistry&), register_string(KernelRegistry&), register_tfidf(KernelRegistry&);

void register_text_family(KernelRegistry& r) {
  for (Registrar add : {register_regex, register_string, register_tfidf}) add(r);
}

}  // namespace pionnx
