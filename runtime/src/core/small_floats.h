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

// Integer -> int4/uint4: keeps the low 4 bits (wraps, like ml_dtypes astype).
uint8_t int_to_4bit(DType t, int64_t v);
// Float -> int4/uint4: truncates toward zero, then wraps (out of range is
// undefined in the spec; the conformance cases cast_FLOAT_to_INT4/UINT4 expect
// -9 -> 7 and 8 -> -8, i.e. wrapping); NaN/inf give 0.
uint8_t float_to_4bit_int(DType t, double v);

// ONNX packing of 4-bit types: two per byte, element 2k in the low nibble.
// unpack writes n bytes (int4 sign-extended); pack writes (n + 1) / 2 bytes.
void unpack_4bit(DType t, const uint8_t* packed, uint8_t* out, int64_t n);
void pack_4bit(const uint8_t* in, uint8_t* packed, int64_t n);

}  // namespace pionnx
