#include "platform/file_io.h"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>

#include "pionnx/status.h"

#if defined(__unix__) || defined(__APPLE__)
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#define PIONNX_HAVE_MMAP 1
#endif

namespace pionnx {

std::string read_file(const std::string& path, int64_t offset, int64_t length) {
  std::unique_ptr<FILE, int (*)(FILE*)> f(std::fopen(path.c_str(), "rb"), &std::fclose);
  PIONNX_ENFORCE(f, InvalidArgument, "cannot open '", path, "': ", std::strerror(errno));
  PIONNX_ENFORCE(offset == 0 || std::fseek(f.get(), static_cast<long>(offset), SEEK_SET) == 0, InvalidArgument,
                 "cannot seek to byte ", offset, " of '", path, "'");
  std::string out;
  if (length < 0) {  // to the end: size the buffer once instead of growing it
    if (std::fseek(f.get(), 0, SEEK_END) == 0) {
      long end = std::ftell(f.get());
      if (end >= 0 && std::fseek(f.get(), static_cast<long>(offset), SEEK_SET) == 0)
        length = end > offset ? end - offset : 0;
    }
    if (length < 0) std::rewind(f.get());
  }
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

MappedFile::MappedFile(const std::string& path) {
#ifdef PIONNX_HAVE_MMAP
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  PIONNX_ENFORCE(fd >= 0, InvalidArgument, "cannot open '", path, "': ", std::strerror(errno));
  struct stat st;
  const bool ok = ::fstat(fd, &st) == 0;
  const int err = errno;
  if (!ok || !S_ISREG(st.st_mode) || st.st_size == 0) {
    ::close(fd);
    PIONNX_ENFORCE(ok, InvalidArgument, "cannot stat '", path, "': ", std::strerror(err));
    PIONNX_ENFORCE(!S_ISDIR(st.st_mode), InvalidArgument, "cannot read '", path, "': it is a directory");
    data_ = read_file(path, 0, -1);  // empty file, pipe or device: read what is there
    return;
  }
  size_ = static_cast<size_t>(st.st_size);
  void* p = ::mmap(nullptr, size_, PROT_READ, MAP_PRIVATE, fd, 0);
  ::close(fd);
  if (p != MAP_FAILED) {
    map_ = p;
    return;
  }
  size_ = 0;
#endif
  data_ = read_file(path, 0, -1);
}

MappedFile::~MappedFile() {
#ifdef PIONNX_HAVE_MMAP
  if (map_) ::munmap(map_, size_);
#endif
}

}  // namespace pionnx
