// Element types, numbered as ONNX's TensorProto.DataType so the proto reader
// can cast straight through.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>

namespace pionnx {

enum class DType : int32_t {
  Undefined = 0,
  Float = 1,
  UInt8 = 2,
  Int8 = 3,
  UInt16 = 4,
  Int16 = 5,
  Int32 = 6,
  Int64 = 7,
  String = 8,
  Bool = 9,
  Float16 = 10,
  Double = 11,
  UInt32 = 12,
  UInt64 = 13,
  BFloat16 = 16,
  // Small floats and 4-bit ints: one byte per element in memory (4-bit values
  // unpacked; int4 sign-extended), conversions in core/small_floats.h.
  Float8E4M3FN = 17,
  Float8E4M3FNUZ = 18,
  Float8E5M2 = 19,
  Float8E5M2FNUZ = 20,
  UInt4 = 21,
  Int4 = 22,
  Float4E2M1 = 23,
  Float8E8M0 = 24,
  // 2-bit ints (opset 25): one byte per element in memory, int2 sign-extended.
  UInt2 = 25,
  Int2 = 26,
};

// Bytes per element (0 for Undefined; sizeof(std::string) for String).
size_t dtype_size(DType t);
// ONNX spelling: "float", "int64", "float16", "string", ...
const char* dtype_name(DType t);
bool dtype_is_valid(int32_t code);
bool dtype_is_float(DType t);    // Float, Double, Float16, BFloat16
bool dtype_is_integer(DType t);  // signed or unsigned ints (not Bool)
bool dtype_is_signed(DType t);
// The 8-bit float formats (E4M3FN, E4M3FNUZ, E5M2, E5M2FNUZ, E8M0).
bool dtype_is_float8(DType t);
// UInt4, Int4, Float4E2M1 (4 bits) and UInt2, Int2 (2 bits): packed in
// protos (element 0 in the lowest bits), one byte per element in memory.
bool dtype_is_packed(DType t);
// Bits per element of a packed type (4 or 2); 0 for the others.
int dtype_packed_bits(DType t);
// float8 or 4-bit: types no kernel computes in; cast_tensor converts them.
inline bool dtype_is_small(DType t) { return dtype_is_float8(t) || dtype_is_packed(t); }

// IEEE half <-> float, exact for all representable values.
float half_to_float(uint16_t h);
uint16_t float_to_half(float f);
float bfloat16_to_float(uint16_t h);
uint16_t float_to_bfloat16(float f);

// Storage types for the two 16-bit float formats, so templates can tell them
// apart from uint16_t.
struct float16_t {
  uint16_t bits;
  float16_t() = default;
  explicit float16_t(float f) : bits(float_to_half(f)) {}
  operator float() const { return half_to_float(bits); }
};
struct bfloat16_t {
  uint16_t bits;
  bfloat16_t() = default;
  explicit bfloat16_t(float f) : bits(float_to_bfloat16(f)) {}
  operator float() const { return bfloat16_to_float(bits); }
};

template <typename T>
struct DTypeOf;
template <>
struct DTypeOf<float> {
  static constexpr DType value = DType::Float;
};
template <>
struct DTypeOf<double> {
  static constexpr DType value = DType::Double;
};
template <>
struct DTypeOf<float16_t> {
  static constexpr DType value = DType::Float16;
};
template <>
struct DTypeOf<bfloat16_t> {
  static constexpr DType value = DType::BFloat16;
};
template <>
struct DTypeOf<int8_t> {
  static constexpr DType value = DType::Int8;
};
template <>
struct DTypeOf<int16_t> {
  static constexpr DType value = DType::Int16;
};
template <>
struct DTypeOf<int32_t> {
  static constexpr DType value = DType::Int32;
};
template <>
struct DTypeOf<int64_t> {
  static constexpr DType value = DType::Int64;
};
template <>
struct DTypeOf<uint8_t> {
  static constexpr DType value = DType::UInt8;
};
template <>
struct DTypeOf<uint16_t> {
  static constexpr DType value = DType::UInt16;
};
template <>
struct DTypeOf<uint32_t> {
  static constexpr DType value = DType::UInt32;
};
template <>
struct DTypeOf<uint64_t> {
  static constexpr DType value = DType::UInt64;
};
template <>
struct DTypeOf<bool> {
  static constexpr DType value = DType::Bool;
};
template <>
struct DTypeOf<std::string> {
  static constexpr DType value = DType::String;
};

}  // namespace pionnx
