// UTF-8 decoding, for the text kernels (RegexFullMatch) and the logger.
#pragma once
#include <cstddef>
#include <cstdint>

namespace pionnx {

constexpr uint32_t kMaxRune = 0x10FFFF;
constexpr uint32_t kBadRune = 0xFFFFFFFF;  // bytes that are not valid UTF-8

// The code point at s[i] (of n bytes) and its length in bytes; kBadRune
// (length 1) when the bytes there are not valid UTF-8 (overlong, surrogate,
// past U+10FFFF, truncated).
inline uint32_t decode_utf8(const char* s, size_t n, size_t i, size_t* len) {
  auto c = static_cast<unsigned char>(s[i]);
  *len = 1;
  if (c < 0x80) return c;
  size_t k;
  uint32_t r, min;
  if ((c & 0xE0) == 0xC0) k = 1, r = c & 0x1Fu, min = 0x80;
  else if ((c & 0xF0) == 0xE0) k = 2, r = c & 0x0Fu, min = 0x800;
  else if ((c & 0xF8) == 0xF0) k = 3, r = c & 0x07u, min = 0x10000;
  else return kBadRune;
  if (n - i <= k) return kBadRune;
  for (size_t j = 1; j <= k; ++j) {
    auto b = static_cast<unsigned char>(s[i + j]);
    if ((b & 0xC0) != 0x80) return kBadRune;
    r = (r << 6) | (b & 0x3Fu);
  }
  if (r < min || r > kMaxRune || (r >= 0xD800 && r <= 0xDFFF)) return kBadRune;
  *len = k + 1;
  return r;
}

}  // namespace pionnx
