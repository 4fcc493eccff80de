#include "core/small_floats.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <string>

#include "pionnx/status.h"

namespace pionnx {
namespace {

// How a minifloat spells its specials.
enum class Specials {
  IeeeInf,  // E5M2: all-ones exponent is inf (mantissa 0) or NaN
  FN,       // E4M3FN: only S.1111.111 is NaN, no inf
  FNUZ,     // 0x80 is the only NaN, no inf, no -0
  None,     // E2M1: every code is a finite number
};

struct Format {
  int ebits, mbits, bias;
  Specials specials;
  uint8_t max_code;  // largest finite magnitude, sign bit clear
};

Format format_of(DType t) {
  switch (t) {
    case DType::Float8E4M3FN: return {4, 3, 7, Specials::FN, 0x7e};
    case DType::Float8E4M3FNUZ: return {4, 3, 8, Specials::FNUZ, 0x7f};
    case DType::Float8E5M2: return {5, 2, 15, Specials::IeeeInf, 0x7b};
    case DType::Float8E5M2FNUZ: return {5, 2, 16, Specials::FNUZ, 0x7f};
    case DType::Float4E2M1: return {2, 1, 1, Specials::None, 0x7};
    default: throw NotImplemented(str_cat("dtype ", dtype_name(t), " is not a minifloat"));
  }
}

float decode(const Format& f, uint8_t bits) {
  const int sign_shift = f.ebits + f.mbits;
  const bool neg = (bits >> sign_shift) & 1;
  const int exp = (bits >> f.mbits) & ((1 << f.ebits) - 1);
  const int mant = bits & ((1 << f.mbits) - 1);
  const int exp_all = (1 << f.ebits) - 1;
  const float nan = std::numeric_limits<float>::quiet_NaN();
  switch (f.specials) {
    case Specials::IeeeInf:
      if (exp == exp_all) return mant ? nan : (neg ? -INFINITY : INFINITY);
      break;
    case Specials::FN:
      if (exp == exp_all && mant == (1 << f.mbits) - 1) return nan;
      break;
    case Specials::FNUZ:
      if (bits == 0x80) return nan;
      break;
    case Specials::None: break;
  }
  float mag = exp == 0 ? std::ldexp(static_cast<float>(mant), 1 - f.bias - f.mbits)
                       : std::ldexp(static_cast<float>(mant + (1 << f.mbits)), exp - f.bias - f.mbits);
  return neg ? -mag : mag;
}

uint8_t encode(const Format& f, double v, bool saturate) {
  const int sign_shift = f.ebits + f.mbits;
  const bool neg = std::signbit(v);
  const uint8_t sign = neg ? static_cast<uint8_t>(1u << sign_shift) : 0;
  if (std::isnan(v)) {
    switch (f.specials) {
      case Specials::IeeeInf: return sign | 0x7e;
      case Specials::FN: return sign | 0x7f;
      case Specials::FNUZ: return 0x80;
      case Specials::None: return neg ? 0 : 0x8;  // what ml_dtypes gives
    }
  }
  uint8_t overflow;
  if (saturate || f.specials == Specials::None) overflow = sign | f.max_code;
  else if (f.specials == Specials::IeeeInf) overflow = sign | 0x7c;
  else if (f.specials == Specials::FN) overflow = sign | 0x7f;
  else overflow = 0x80;
  const uint8_t zero = f.specials == Specials::FNUZ ? 0 : sign;
  const double a = std::fabs(v);
  if (std::isinf(a)) return overflow;
  if (a == 0) return zero;
  const int emin = 1 - f.bias;
  int e2;
  std::frexp(a, &e2);
  int e = std::max(e2 - 1, emin);
  // Scale so one unit in the last place is 1, then round half to even.
  double r = std::nearbyint(std::ldexp(a, f.mbits - e));
  if (r == 0) return zero;
  const double max_val = decode(f, f.max_code);
  if (std::ldexp(r, e - f.mbits) > max_val) return overflow;
  int ir = static_cast<int>(r);
  if (ir == (2 << f.mbits)) {  // rounding carried into the next binade
    ++e;
    ir = 1 << f.mbits;
  }
  uint8_t exp_field, mant;
  if (ir < (1 << f.mbits)) {  // subnormal (only possible at e == emin)
    exp_field = 0;
    mant = static_cast<uint8_t>(ir);
  } else {
    exp_field = static_cast<uint8_t>(e + f.bias);
    mant = static_cast<uint8_t>(ir - (1 << f.mbits));
  }
  return static_cast<uint8_t>(sign | (exp_field << f.mbits) | mant);
}

// onnx.numpy_helper.to_float8e8m0, bit for bit (its masks included).
uint8_t encode_e8m0(float x, bool saturate, E8M0Round round) {
  uint32_t bits;
  std::memcpy(&bits, &x, 4);
  uint32_t exponent = (bits >> 23) & 0xff;
  if (exponent == 0xff) return 0xff;
  bool round_up = false;
  if (round == E8M0Round::Nearest) {
    const bool g = bits & 0x400000u, r = bits & 0x200000u, s = (bits & 0x1fffffu) != 0, lsb = exponent > 0;
    round_up = g && (r || s || lsb);
  } else if (round == E8M0Round::Up) {
    round_up = (bits & 0x4fffffu) != 0;
  }
  if (saturate && exponent == 0xfe) round_up = false;
  return static_cast<uint8_t>(exponent + (round_up ? 1 : 0));
}

}  // namespace

E8M0Round e8m0_round_from_name(const char* name, const char* what) {
  const std::string s(name);
  if (s == "up") return E8M0Round::Up;
  if (s == "down") return E8M0Round::Down;
  if (s == "nearest") return E8M0Round::Nearest;
  throw InvalidArgument(str_cat(what, ": round_mode must be 'up', 'down' or 'nearest', got '", s, "'"));
}

float small_to_float(DType t, uint8_t bits) {
  switch (t) {
    case DType::UInt4: return static_cast<float>(bits & 0xf);
    case DType::UInt2: return static_cast<float>(bits & 0x3);
    case DType::Int4:
    case DType::Int2: return static_cast<float>(static_cast<int8_t>(bits));
    case DType::Float8E8M0:
      return bits == 0xff ? std::numeric_limits<float>::quiet_NaN() : std::ldexp(1.0f, static_cast<int>(bits) - 127);
    default: return decode(format_of(t), bits);
  }
}

uint8_t float_to_small(DType t, double v, bool saturate, E8M0Round round) {
  switch (t) {
    case DType::UInt4:
    case DType::Int4:
    case DType::UInt2:
    case DType::Int2: return float_to_narrow_int(t, v);
    case DType::Float8E8M0: return encode_e8m0(static_cast<float>(v), saturate, round);
    // Rounded once, from the value itself (the spec's RNE of x): a double is
    // not narrowed to float32 first, which could round twice
    // (1 + 2^-4 + 2^-40 is 1.125 in E4M3FN, not 1.0).
    default: return encode(format_of(t), v, saturate);
  }
}

uint8_t int_to_narrow(DType t, int64_t v) {
  const int bits = dtype_packed_bits(t);
  const int mask = (1 << bits) - 1, sign = 1 << (bits - 1);
  const int low = static_cast<int>(static_cast<uint64_t>(v) & static_cast<uint64_t>(mask));
  if (dtype_is_signed_narrow(t)) return static_cast<uint8_t>(static_cast<int8_t>((low ^ sign) - sign));
  return static_cast<uint8_t>(low);
}

uint8_t float_to_narrow_int(DType t, double v) {
  const NarrowRange range = narrow_int_range(t);
  const double r = std::trunc(v);
  if (!(r >= range.lo && r <= range.hi)) return 0;  // also NaN
  return int_to_narrow(t, static_cast<int64_t>(r));
}

int64_t packed_size(DType t, int64_t n) {
  const int64_t per_byte = 8 / dtype_packed_bits(t);
  return (n + per_byte - 1) / per_byte;
}

void unpack_packed(DType t, const uint8_t* packed, uint8_t* out, int64_t n) {
  const int bits = dtype_packed_bits(t), per_byte = 8 / bits, mask = (1 << bits) - 1;
  const bool sign_extend = dtype_is_signed_narrow(t);
  for (int64_t i = 0; i < n; ++i) {
    const uint8_t v = static_cast<uint8_t>((packed[i / per_byte] >> (bits * (i % per_byte))) & mask);
    out[i] = sign_extend ? int_to_narrow(t, v) : v;
  }
}

void pack_packed(DType t, const uint8_t* in, uint8_t* packed, int64_t n) {
  const int bits = dtype_packed_bits(t), per_byte = 8 / bits, mask = (1 << bits) - 1;
  std::fill(packed, packed + packed_size(t, n), uint8_t(0));
  for (int64_t i = 0; i < n; ++i)
    packed[i / per_byte] = static_cast<uint8_t>(packed[i / per_byte] | ((in[i] & mask) << (bits * (i % per_byte))));
}

}  // namespace pionnx
