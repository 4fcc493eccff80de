// The text family's kernels. Strings: StringNormalizer, StringConcat, StringSplit.
// Each file of this folder lists its operators, with the opset range of each,
// in its register_* function; this is the family's one entry point.
#include "kernels/base/families.h"

namespace pionnx {

void register_string(KernelRegistry& r);

void register_text_family(KernelRegistry& r) {
  register_string(r);
}

}  // namespace pionnx
