// Whole-file and byte-range reads with stdio (no iostreams: see status.h).
#pragma once
#include <cstdint>
#include <string>

namespace pionnx {

// Reads `length` bytes from `offset` (length < 0: to the end). Throws
// InvalidArgument naming the path when the file cannot be read in full.
std::string read_file(const std::string& path, int64_t offset, int64_t length);

}  // namespace pionnx
