// Tensor storage: 64-byte aligned, and for large buffers 2 MiB aligned with
// transparent huge pages requested (Linux), so a 30 MB weight or activation
// is touched in with a few dozen page faults instead of thousands.
#pragma once
#include <cstddef>

namespace pionnx {

// Rounded up to a multiple of 64 bytes (at least 64). Throws std::bad_alloc.
// Release with std::free.
void* allocate_aligned(size_t bytes);

}  // namespace pionnx
