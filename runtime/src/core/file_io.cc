#include "core/file_io.h"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>

#include "pionnx/status.h"

namespace pionnx {

std::string read_file(const std::string& path, int64_t offset, int64_t length) {
  std::unique_ptr<FILE, int (*)(FILE*)> f(std::fopen(path.c_str(), "rb"), &std::fclose);
  PIONNX_ENFORCE(f, InvalidArgument, "cannot open '", path, "': ", std::strerror(errno));
  PIONNX_ENFORCE(offset == 0 || std::fseek(f.get(), static_cast<long>(offset), SEEK_SET) == 0, InvalidArgument,
                 "cannot seek to byte ", offset, " of '", path, "'");
  std::string out;
  if (length >= 0) {
    out.resize(static_cast<size_t>(length));
    size_t got = length ? std::fread(&out[0], 1, out.size(), f.get()) : 0;
    PIONNX_ENFORCE(got == out.size(), InvalidArgument, "'", path, "': expected ", length, " bytes at offset ", offset,
                   ", read ", got);
    return out;
  }
  char buf[1 << 16];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, f.get())) > 0) out.append(buf, n);
  PIONNX_ENFORCE(!std::ferror(f.get()), InvalidArgument, "error reading '", path, "'");
  return out;
}

}  // namespace pionnx
