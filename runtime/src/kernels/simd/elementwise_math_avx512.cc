// The fastmath family's AVX-512 table: elementwise_math_kernels.h's loops
// over 16-lane vectors, instantiated inside target("avx512f,...") functions,
// so the rest of the library stays baseline x86-64. Used only when the CPU
// reports AVX-512 F, DQ, BW and VL and FMA; PIONNX_FASTMATH=avx2 keeps the
// 8-lane table. The quantize keeps the AVX2 table's intrinsics loop: it is
// bound by the division, as wide here as there.
#define PIONNX_FASTMATH_WIDE 2  // 512-bit vectors (elementwise_math_kernels.h)
#include "kernels/simd/elementwise_math_kernels.h"
#include "platform/cpu_features.h"

namespace pionnx {
namespace fastmath {

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))

namespace {

PIONNX_FASTMATH_TABLE(avx512, Avx512, __attribute__((target("avx512f,avx512dq,avx512bw,avx512vl,avx2,fma"))))

}  // namespace

const Kernels* kernels_avx512() {
  const platform::CpuFeatures& cpu = platform::cpu_features();
  const Kernels* avx2 = kernels_avx2();
  if (!(cpu.avx512f && cpu.avx512dq && cpu.avx512bw && cpu.avx512vl && cpu.fma) || avx2 == nullptr) return nullptr;
  // Made on first use (no static initializer of another file can see it unmade).
  static const Kernels table = [avx2] {
    Kernels k = kAvx512;
    k.quantize_u8 = avx2->quantize_u8;
    return k;
  }();
  return &table;
}

#else

const Kernels* kernels_avx512() { return nullptr; }

#endif

}  // namespace fastmath
}  // namespace pionnx
