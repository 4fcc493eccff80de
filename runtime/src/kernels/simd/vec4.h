// Four floats as one vector through GCC's and Clang's vector extensions:
// SSE2 on x86-64, NEON on ARM, scalars where there are none. Portable code
// (drivers and kernel families alike) uses it for lane-parallel loops the
// compilers would not vectorize on their own.
#pragma once
#include <cstdint>
#include <cstring>

namespace pionnx {
namespace simd {

typedef float v4f __attribute__((vector_size(16)));
typedef int32_t v4i __attribute__((vector_size(16)));

inline v4f load4(const float* p) {
  v4f v;
  std::memcpy(&v, p, sizeof(v));
  return v;
}
inline void store4(float* p, v4f v) { std::memcpy(p, &v, sizeof(v)); }

// Lanes I0..I3 of the eight lanes of a:b (a's are 0-3, b's 4-7). Clang has
// only __builtin_shufflevector, GCC before 12 (the manylinux cross
// toolchain's g++-10) only __builtin_shuffle.
template <int I0, int I1, int I2, int I3>
inline v4f shuffle4(v4f a, v4f b) {
#if defined(__clang__)
  return __builtin_shufflevector(a, b, I0, I1, I2, I3);
#else
  return __builtin_shuffle(a, b, v4i{I0, I1, I2, I3});
#endif
}

// 4x4 transpose of a, b, c, d (rows) in place: lane l of the results holds
// row l.
inline void transpose4(v4f& a, v4f& b, v4f& c, v4f& d) {
  const v4f t0 = shuffle4<0, 4, 1, 5>(a, b), t1 = shuffle4<2, 6, 3, 7>(a, b);
  const v4f t2 = shuffle4<0, 4, 1, 5>(c, d), t3 = shuffle4<2, 6, 3, 7>(c, d);
  a = shuffle4<0, 1, 4, 5>(t0, t2);
  b = shuffle4<2, 3, 6, 7>(t0, t2);
  c = shuffle4<0, 1, 4, 5>(t1, t3);
  d = shuffle4<2, 3, 6, 7>(t1, t3);
}

}  // namespace simd
}  // namespace pionnx
