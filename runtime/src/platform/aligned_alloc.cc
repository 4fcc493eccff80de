#include "platform/aligned_alloc.h"

#include <cstdlib>
#include <new>

#if defined(__linux__)
#include <sys/mman.h>
#endif

namespace pionnx {

namespace {
constexpr size_t kAlign = 64;
constexpr size_t kHugePage = size_t{2} << 20;
}  // namespace

void* allocate_aligned(size_t bytes) {
  size_t want = (bytes + kAlign - 1) / kAlign * kAlign;
  if (want == 0) want = kAlign;
#if defined(__linux__) && defined(MADV_HUGEPAGE)
  if (want >= 2 * kHugePage) {
    void* p = std::aligned_alloc(kHugePage, (want + kHugePage - 1) / kHugePage * kHugePage);
    if (!p) throw std::bad_alloc();
    ::madvise(p, want, MADV_HUGEPAGE);  // advice only: failure changes nothing
    return p;
  }
#endif
  void* p = std::aligned_alloc(kAlign, want);
  if (!p) throw std::bad_alloc();
  return p;
}

}  // namespace pionnx
