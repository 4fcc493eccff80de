// Checked size arithmetic. Every size, stride, offset or count computed from
// model or feed data goes through these: an overflow is an InvalidArgument
// that names what was being computed, never a wrapped value that later
// indexes past a buffer.
#pragma once
#include <cstdint>
#include <string>

#include "pionnx/status.h"

namespace pionnx {

// a * b; `what` names the quantity for the message.
inline int64_t checked_mul(int64_t a, int64_t b, const char* what) {
  int64_t r;
  if (__builtin_mul_overflow(a, b, &r))
    throw InvalidArgument(str_cat(what, ": ", a, " x ", b, " overflows a 64-bit size"));
  return r;
}

// ceil(a / b) for a >= 0 and b > 0, without the a + b - 1 that wraps near
// INT64_MAX (block and window counts from attributes and feeds).
inline int64_t ceil_div_nonneg(int64_t a, int64_t b) { return a / b + (a % b != 0 ? 1 : 0); }

inline int64_t checked_add(int64_t a, int64_t b, const char* what) {
  int64_t r;
  if (__builtin_add_overflow(a, b, &r))
    throw InvalidArgument(str_cat(what, ": ", a, " + ", b, " overflows a 64-bit size"));
  return r;
}

inline int64_t checked_sub(int64_t a, int64_t b, const char* what) {
  int64_t r;
  if (__builtin_sub_overflow(a, b, &r))
    throw InvalidArgument(str_cat(what, ": ", a, " - ", b, " overflows a 64-bit size"));
  return r;
}

// The product of `dims` (each >= 0), checked.
template <typename Dims>
int64_t checked_product(const Dims& dims, const char* what) {
  int64_t n = 1;
  for (int64_t d : dims) {
    if (d < 0) throw InvalidArgument(str_cat(what, ": negative dimension ", d));
    n = checked_mul(n, d, what);
  }
  return n;
}

}  // namespace pionnx
