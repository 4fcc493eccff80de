// The exceptions the runtime throws. The bindings map each to a Python class
// (InvalidArgument -> pionnx.InvalidArgument(ValueError), etc.).
#pragma once
#include <cstdio>
#include <stdexcept>
#include <string>
#include <type_traits>

namespace pionnx {

struct Error : std::runtime_error {
  using std::runtime_error::runtime_error;
};
// Bad feeds, bad options, bad attribute values given by the caller.
struct InvalidArgument : Error {
  using Error::Error;
};
// The model file cannot be decoded (truncated, corrupted, not ONNX).
struct InvalidProtobuf : Error {
  using Error::Error;
};
// The model decodes but is not a valid graph (dangling inputs, cycles,
// inconsistent shapes at run time).
struct InvalidGraph : Error {
  using Error::Error;
};
// An operator, attribute value or dtype the runtime does not implement.
struct NotImplemented : Error {
  using Error::Error;
};

// Messages are built without iostreams: the Python module links libstdc++
// statically, and when another copy of libstdc++ is in the process (any
// other C++ extension) std::locale facets do not resolve, so an ostream
// silently drops every number. snprintf has no such problem.
namespace detail {
inline void append(std::string& out, const std::string& v) { out += v; }
inline void append(std::string& out, const char* v) { out += v ? v : "(null)"; }
inline void append(std::string& out, char v) { out += v; }
inline void append(std::string& out, bool v) { out += v ? "1" : "0"; }
template <typename T>
typename std::enable_if<std::is_integral<T>::value>::type append(std::string& out, T v) {
  char buf[32];
  if (std::is_signed<T>::value) std::snprintf(buf, sizeof buf, "%lld", static_cast<long long>(v));
  else std::snprintf(buf, sizeof buf, "%llu", static_cast<unsigned long long>(v));
  out += buf;
}
template <typename T>
typename std::enable_if<std::is_floating_point<T>::value>::type append(std::string& out, T v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%g", static_cast<double>(v));
  out += buf;
}
template <typename T>
typename std::enable_if<std::is_enum<T>::value>::type append(std::string& out, T v) {
  append(out, static_cast<long long>(v));
}
inline void cat(std::string&) {}
template <typename T, typename... R>
void cat(std::string& out, const T& v, const R&... r) {
  append(out, v);
  cat(out, r...);
}
}  // namespace detail

template <typename... A>
std::string str_cat(const A&... a) {
  std::string out;
  detail::cat(out, a...);
  return out;
}

}  // namespace pionnx

// Throws E with the concatenated message when cond is false.
#define PIONNX_ENFORCE(cond, E, ...)                      \
  do {                                                    \
    if (!(cond)) throw E(::pionnx::str_cat(__VA_ARGS__)); \
  } while (0)
