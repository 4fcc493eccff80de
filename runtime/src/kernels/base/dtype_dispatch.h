// Calling a kernel's template for the C++ type of a tensor's dtype.
#pragma once
#include <cstdint>
#include <string>
#include "pionnx/dtype.h"
#include "pionnx/status.h"

namespace pionnx {

template <typename T>
struct TypeTag {
  using type = T;
};

// Calls fn(TypeTag<T>{}) for the C++ type of dt among the listed families;
// throws NotImplemented naming `what` for anything else.
template <typename Fn>
void dispatch_float(DType dt, const std::string& what, Fn&& fn) {
  switch (dt) {
    case DType::Float: return fn(TypeTag<float>{});
    case DType::Double: return fn(TypeTag<double>{});
    default: throw NotImplemented(str_cat(what, ": dtype ", dtype_name(dt), " is not supported"));
  }
}

template <typename Fn>
void dispatch_int(DType dt, const std::string& what, Fn&& fn) {
  switch (dt) {
    case DType::Int8: return fn(TypeTag<int8_t>{});
    case DType::Int16: return fn(TypeTag<int16_t>{});
    case DType::Int32: return fn(TypeTag<int32_t>{});
    case DType::Int64: return fn(TypeTag<int64_t>{});
    case DType::UInt8: return fn(TypeTag<uint8_t>{});
    case DType::UInt16: return fn(TypeTag<uint16_t>{});
    case DType::UInt32: return fn(TypeTag<uint32_t>{});
    case DType::UInt64: return fn(TypeTag<uint64_t>{});
    default: throw NotImplemented(str_cat(what, ": dtype ", dtype_name(dt), " is not supported"));
  }
}

// float, double and every integer type (not bool, not 16-bit floats).
template <typename Fn>
void dispatch_numeric(DType dt, const std::string& what, Fn&& fn) {
  if (dt == DType::Float || dt == DType::Double) return dispatch_float(dt, what, fn);
  return dispatch_int(dt, what, fn);
}

// Every fixed-size type incl. bool and 16-bit floats: for ops that only move
// elements (Gather, Transpose, Concat, ...). Dispatches on element size.
template <typename Fn>
void dispatch_by_size(DType dt, const std::string& what, Fn&& fn) {
  switch (dtype_size(dt)) {
    case 1: return fn(TypeTag<uint8_t>{});
    case 2: return fn(TypeTag<uint16_t>{});
    case 4: return fn(TypeTag<uint32_t>{});
    case 8: return fn(TypeTag<uint64_t>{});
    default: break;
  }
  throw NotImplemented(str_cat(what, ": dtype ", dtype_name(dt), " is not supported"));
}

// Like dispatch_by_size but also handles String (as std::string).
template <typename Fn>
void dispatch_movable(DType dt, const std::string& what, Fn&& fn) {
  if (dt == DType::String) return fn(TypeTag<std::string>{});
  return dispatch_by_size(dt, what, fn);
}

}  // namespace pionnx
