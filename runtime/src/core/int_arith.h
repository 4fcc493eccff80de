// Integer results without undefined behaviour: floating values to integers
// (NaN and out-of-range values defined) and wrapping arithmetic.
#pragma once
#include <climits>
#include <cstdint>
#include <limits>
#include <type_traits>

namespace pionnx {

// A floating value to the integer type I without undefined behaviour: NaN
// is 0, and anything past int64's range stops at its end before narrowing
// (a narrower I then wraps like numpy's conversion through 64 bits on x86).
// static_cast alone is UB for a value I cannot hold, and a model's data or
// a feed can hold any value.
template <typename I, typename F>
I float_to_int(F v) {
  static_assert(std::is_integral<I>::value, "float_to_int makes an integer");
  const double d = static_cast<double>(v);
  if (!(d == d)) return I(0);
  if (d >= 0)
    return d >= 18446744073709551616.0 ? static_cast<I>(~uint64_t(0)) : static_cast<I>(static_cast<uint64_t>(d));
  return d < -9223372036854775808.0 ? static_cast<I>(INT64_MIN) : static_cast<I>(static_cast<int64_t>(d));
}

// A floating value to the integer type I, saturated: NaN is 0, anything
// past I's range is I's lowest or highest value. For sizes, indices and
// bounds computed in floating point from a model's data (Range's count, a
// box corner, Clip's limits), which are then checked or clamped.
template <typename I>
I clamp_to_int(double d) {
  static_assert(std::is_integral<I>::value, "clamp_to_int makes an integer");
  if (!(d == d)) return I(0);
  if (d <= static_cast<double>(std::numeric_limits<I>::lowest())) return std::numeric_limits<I>::lowest();
  if (d >= static_cast<double>(std::numeric_limits<I>::max())) return std::numeric_limits<I>::max();
  return static_cast<I>(d);
}

// Integer arithmetic that wraps (two's complement, as numpy and onnxruntime
// compute it) instead of overflowing: signed overflow is undefined
// behaviour, and feeds and weights can hold any value. Done in an unsigned
// type at least as wide as int, so small types' promotion cannot overflow
// either (uint16 x uint16 does, in int). Floating types pass through.
template <typename T>
using wrapping_unsigned_t = std::make_unsigned_t<std::conditional_t<(sizeof(T) < sizeof(int)), int, T>>;
template <typename T>
T wrapping_add(T a, T b) {
  if constexpr (std::is_integral<T>::value && !std::is_same<T, bool>::value) {
    using U = wrapping_unsigned_t<T>;
    return static_cast<T>(static_cast<U>(static_cast<U>(a) + static_cast<U>(b)));
  } else {
    return a + b;
  }
}
template <typename T>
T wrapping_sub(T a, T b) {
  if constexpr (std::is_integral<T>::value && !std::is_same<T, bool>::value) {
    using U = wrapping_unsigned_t<T>;
    return static_cast<T>(static_cast<U>(static_cast<U>(a) - static_cast<U>(b)));
  } else {
    return a - b;
  }
}
template <typename T>
T wrapping_mul(T a, T b) {
  if constexpr (std::is_integral<T>::value && !std::is_same<T, bool>::value) {
    using U = wrapping_unsigned_t<T>;
    return static_cast<T>(static_cast<U>(static_cast<U>(a) * static_cast<U>(b)));
  } else {
    return a * b;
  }
}
template <typename T>
T wrapping_neg(T a) {
  return wrapping_sub(T(0), a);
}

}  // namespace pionnx
