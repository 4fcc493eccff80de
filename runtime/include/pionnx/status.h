// The exceptions the runtime throws. The bindings map each to a Python class
// (InvalidArgument -> pionnx.InvalidArgument(ValueError), etc.).
#pragma once
#include <sstream>
#include <stdexcept>
#include <string>

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

namespace detail {
inline void cat(std::ostringstream&) {}
template <typename T, typename... R>
void cat(std::ostringstream& os, const T& v, const R&... r) {
  os << v;
  cat(os, r...);
}
}  // namespace detail

template <typename... A>
std::string str_cat(const A&... a) {
  std::ostringstream os;
  detail::cat(os, a...);
  return os.str();
}

}  // namespace pionnx

// Throws E with the concatenated message when cond is false.
#define PIONNX_ENFORCE(cond, E, ...)                         \
  do {                                                       \
    if (!(cond)) throw E(::pionnx::str_cat(__VA_ARGS__));    \
  } while (0)
