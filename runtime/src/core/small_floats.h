// Conversions for the small ONNX element types (float8 E4M3FN/E4M3FNUZ/
// E5M2/E5M2FNUZ/E8M0, float4 E2M1, int4, uint4). Each is stored one byte per
// element (4-bit values unpacked, int4 sign-extended), as ml_dtypes lays them
// out in numpy. Semantics follow the Cast spec and ONNX's reference
// (onnx/reference/ops/op_cast.py: ml_dtypes' astype plus a clip when
// saturating) where they are defined; see the notes below where not.
#pragma once
#include <cstdint>

#include "pionnx/dtype.h"

namespace pionnx {

// Rounding for float -> float8e8m0 (Cast-24 `round_mode`).
enum class E8M0Round { Up, Down, Nearest };
// "up" / "down" / "nearest"; throws InvalidArgument naming `what` otherwise.
E8M0Round e8m0_round_from_name(const char* name, const char* what);

// Exact: every small value is a float32 (int4/uint4 give their integer).
float small_to_float(DType t, uint8_t bits);

// float/double -> one element of a float8/float4 type, round to nearest even
// once, from the value given (a double is not narrowed to float32 first).
// saturate=true clamps out-of-range values (inf included) to +-max finite;
// saturate=false gives inf (E5M2) or NaN (the formats without inf), as
// ml_dtypes does. Float4E2M1 has neither: it always saturates. NaN stays NaN
// (Float4E2M1: zero, as ml_dtypes). E8M0 follows onnx.numpy_helper.to_float8e8m0.
uint8_t float_to_small(DType t, double v, bool saturate = true, E8M0Round round = E8M0Round::Up);

// The narrow integer types: int4/uint4 and int2/uint2.
inline bool dtype_is_narrow_int(DType t) {
  return t == DType::Int4 || t == DType::UInt4 || t == DType::Int2 || t == DType::UInt2;
}
inline bool dtype_is_signed_narrow(DType t) { return t == DType::Int4 || t == DType::Int2; }
// The values a narrow int holds: int4 [-8, 7], uint4 [0, 15], int2 [-2, 1], uint2 [0, 3].
struct NarrowRange {
  int lo, hi;
};
inline NarrowRange narrow_int_range(DType t) {
  const int bits = dtype_packed_bits(t);
  return dtype_is_signed_narrow(t) ? NarrowRange{-(1 << (bits - 1)), (1 << (bits - 1)) - 1}
                                   : NarrowRange{0, (1 << bits) - 1};
}
// Integer -> a narrow int: keeps the low 4 (2) bits (wraps, like ml_dtypes
// astype); int4/int2 sign-extended into the byte.
uint8_t int_to_narrow(DType t, int64_t v);
// Float -> a narrow int: truncates toward zero; out of the type's range
// (undefined in the spec), NaN and inf give 0, as ml_dtypes 0.7's astype and
// onnx 1.23's cast_FLOAT_to_INT4/UINT4/INT2/UINT2 cases do (onnx 1.19's
// cases, made with an older ml_dtypes, expected wrapping).
uint8_t float_to_narrow_int(DType t, double v);

// ONNX packing of the packed types (dtype_is_packed): 8 / bits elements per
// byte, element 0 in the lowest bits. unpack writes n bytes (int4 and int2
// sign-extended); pack writes its packed_size bytes.
int64_t packed_size(DType t, int64_t n);
void unpack_packed(DType t, const uint8_t* packed, uint8_t* out, int64_t n);
void pack_packed(DType t, const uint8_t* in, uint8_t* packed, int64_t n);

}  // namespace pionnx
