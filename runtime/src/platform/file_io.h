// Whole-file and byte-range reads with stdio (no iostreams: see status.h).
#pragma once
#include <cstdint>
#include <string>
#include <string_view>

namespace pionnx {

// Reads `length` bytes from `offset` (length < 0: to the end). Throws
// InvalidArgument naming the path when the file cannot be read in full.
std::string read_file(const std::string& path, int64_t offset, int64_t length);

// A whole file, mapped read-only where the OS can (no copy, and the page
// cache's pages are shared), else read into memory. Throws InvalidArgument
// naming the path when it cannot be opened or read.
class MappedFile {
 public:
  explicit MappedFile(const std::string& path);
  ~MappedFile();
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;
  std::string_view view() const { return map_ ? std::string_view(static_cast<const char*>(map_), size_) : data_; }

 private:
  void* map_ = nullptr;
  size_t size_ = 0;
  std::string data_;
};

}  // namespace pionnx
