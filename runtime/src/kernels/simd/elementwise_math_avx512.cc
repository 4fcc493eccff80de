// The fastmath family's AVX-512 table: elementwise_math_kernels.h's loops
// over 16-lane vectors, instantiated inside target("avx512f,...") functions,
// so the rest of the library stays baseline x86-64. Used only when the CPU
// reports AVX-512 F, DQ, BW and VL and FMA; PIONNX_FASTMATH=avx2 keeps the
// 8-lane table. The quantize is its own intrinsics loop (16 values a
// vector, narrowed by one saturating vpmovusdb).
#define PIONNX_FASTMATH_WIDE 2  // 512-bit vectors (elementwise_math_kernels.h)
#include "kernels/simd/elementwise_math_kernels.h"
#include "platform/cpu_features.h"

#if defined(__x86_64__)
#include <immintrin.h>
#endif

namespace pionnx {
namespace fastmath {

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))

namespace {

#define PIONNX_AVX512_TARGET __attribute__((target("avx512f,avx512dq,avx512bw,avx512vl,avx2,fma")))

PIONNX_FASTMATH_TABLE(avx512, Avx512, PIONNX_AVX512_TARGET)

// x / scale as elementwise_math.h says (one product, two FMAs), rounded half
// to even by the conversion's own rounding mode (not MXCSR's); NaN lanes
// convert as 0 and get the zero point; the sum with the zero point is
// clamped at 0 and vpmovusdb saturates it at 255.
PIONNX_AVX512_TARGET PIONNX_INLINE __m512i quantize_u8_lanes(__m512 xv, __m512 s, __m512 inv, __m512i z) {
  const __m512 q0 = _mm512_mul_ps(xv, inv);
  const __m512 q = _mm512_fmadd_ps(_mm512_fnmadd_ps(q0, s, xv), inv, q0);
  const __m512i qi = _mm512_maskz_cvt_roundps_epi32(_mm512_cmp_ps_mask(q, q, _CMP_ORD_Q), q,
                                                    _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  return _mm512_max_epi32(_mm512_add_epi32(qi, z), _mm512_setzero_si512());
}

PIONNX_AVX512_TARGET void quantize_u8_zmm(const float* x, int64_t n, float scale, int32_t zp, uint8_t* y) {
  const __m512 s = _mm512_set1_ps(scale), inv = _mm512_set1_ps(1.0f / scale);
  const __m512i z = _mm512_set1_epi32(zp);
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) {
    const __m512i q = quantize_u8_lanes(_mm512_loadu_ps(x + i), s, inv, z);
    _mm_storeu_si128(reinterpret_cast<__m128i*>(y + i), _mm512_cvtusepi32_epi8(q));
  }
  if (i < n) {
    const __mmask16 m = static_cast<__mmask16>((1u << (n - i)) - 1);
    const __m512i q = quantize_u8_lanes(_mm512_maskz_loadu_ps(m, x + i), s, inv, z);
    _mm512_mask_cvtusepi32_storeu_epi8(y + i, m, q);
  }
}

}  // namespace

const Kernels* kernels_avx512() {
  const platform::CpuFeatures& cpu = platform::cpu_features();
  if (!(cpu.avx512f && cpu.avx512dq && cpu.avx512bw && cpu.avx512vl && cpu.fma)) return nullptr;
  // Made on first use (no static initializer of another file can see it unmade).
  static const Kernels table = [] {
    Kernels k = kAvx512;
    k.quantize_u8 = quantize_u8_zmm;
    return k;
  }();
  return &table;
}

#else

const Kernels* kernels_avx512() { return nullptr; }

#endif

}  // namespace fastmath
}  // namespace pionnx
