// AMX micro-kernel for the integer GEMM (qgemm.cc): tdpbusd multiplies a
// 16 x 64 tile of uint8 A by a 16 x 64 tile of int8 B quads (64 depth steps
// of 16 columns) into a 16 x 16 tile of int32 sums, 16384 multiply-adds per
// instruction where VNNI's vpdpbusd does 64. B's quad panels (qgemm_vnni.cc's
// packer) are already the tile layout: a B tile is 16 consecutive quad rows
// of 16 columns, one 64-byte row each, ncp * 4 bytes apart. The driver pads
// A's rows to 16 and the depth to 64 with zeros, so every tile is whole.
//
// Four accumulator tiles (32 rows x 32 columns), two A and two B tiles per
// 64 depth steps; a prepacked B's whole depth in one call (whole_depth), so
// the sums stay in tiles from the first depth step to the last. The tile
// configuration is loaded when a thread starts its tasks of one product and
// released when it ends them (another AMX user on the thread may change it
// in between products; a released thread carries no tile state through
// context switches).
//
// Written as inline assembly, not the _tile_* intrinsics: the x86_64 wheels
// are built by bullseye's GCC 10 (the manylinux_2_31 floor), which has no
// AMX intrinsics. Every tile statement is volatile, so they keep their order.
#include "kernels/simd/qgemm_ukernel.h"

#if defined(__x86_64__) && defined(__linux__) && (defined(__GNUC__) || defined(__clang__))
#include "platform/cpu_features.h"

namespace pionnx {
namespace simd {
namespace {

struct alignas(64) TileConfig {
  uint8_t palette = 1;
  uint8_t start_row = 0;
  uint8_t reserved[14] = {};
  uint16_t colsb[16] = {};  // bytes per row of each tile
  uint8_t rows[16] = {};
};

// The instructions as bytes, with the address in rax and the stride in rcx
// (tileloadd/tilestored's SIB byte 0x08): binutils learned the AMX mnemonics
// in 2.36, and the cross factory's bullseye toolchain carries 2.35. tdpbusd
// takes A in ModRM.rm and B in VEX.vvvv (inverted).
#define TILE_LOAD(t, base, stride)                                                         \
  __asm__ volatile(".byte 0xc4, 0xe2, 0x7b, 0x4b, 0x04 | (" #t " << 3), 0x08" ::"a"(base), \
                   "c"(static_cast<int64_t>(stride))                                       \
                   : "memory")
#define TILE_STORE(t, base, stride)                                                        \
  __asm__ volatile(".byte 0xc4, 0xe2, 0x7a, 0x4b, 0x04 | (" #t " << 3), 0x08" ::"a"(base), \
                   "c"(static_cast<int64_t>(stride))                                       \
                   : "memory")
#define TILE_ZERO(t) __asm__ volatile(".byte 0xc4, 0xe2, 0x7b, 0x49, 0xc0 | (" #t " << 3)")
// tmm[c] += tmm[a] (uint8) . tmm[b] (int8 quads)
#define TILE_DPBUSD(c, a, b) \
  __asm__ volatile(".byte 0xc4, 0xe2, ((~" #b " & 0xf) << 3) | 0x01, 0x5e, 0xc0 | (" #c " << 3) | " #a)

// Tiles 0-3: C (rows i, i + 16 x columns j, j + 16); 4-5: A; 6-7: B. One
// 32 x 32 block of C at c (or, without kTwoRowTiles, its top 16 rows) over
// kcq depth steps: A's rows at a, B's quad rows at b, bstride bytes apart.
template <bool kTwoRowTiles>
inline void block_amx(const uint8_t* a, int64_t lda, int64_t kcq, const int8_t* b, int64_t bstride, int32_t* c,
                      int64_t ldacc, bool accumulate) {
  const int64_t cstride = ldacc * 4;
  const uint8_t* a1 = a + 16 * lda;
  int32_t* c1 = c + 16 * ldacc;
  if (accumulate) {
    TILE_LOAD(0, c, cstride);
    TILE_LOAD(1, c + 16, cstride);
    if (kTwoRowTiles) {
      TILE_LOAD(2, c1, cstride);
      TILE_LOAD(3, c1 + 16, cstride);
    }
  } else {
    TILE_ZERO(0);
    TILE_ZERO(1);
    if (kTwoRowTiles) {
      TILE_ZERO(2);
      TILE_ZERO(3);
    }
  }
  for (int64_t k = 0; k < kcq; k += 64) {
    TILE_LOAD(4, a + k, lda);
    TILE_LOAD(6, b + k / 4 * bstride, bstride);
    TILE_LOAD(7, b + k / 4 * bstride + 64, bstride);
    TILE_DPBUSD(0, 4, 6);
    TILE_DPBUSD(1, 4, 7);
    if (kTwoRowTiles) {
      TILE_LOAD(5, a1 + k, lda);
      TILE_DPBUSD(2, 5, 6);
      TILE_DPBUSD(3, 5, 7);
    }
  }
  TILE_STORE(0, c, cstride);
  TILE_STORE(1, c + 16, cstride);
  if (kTwoRowTiles) {
    TILE_STORE(2, c1, cstride);
    TILE_STORE(3, c1 + 16, cstride);
  }
}

// Between enter_amx and leave_amx (the driver's bracket around a thread's
// tasks of one product).
void kernel_amx(const uint8_t* a, int64_t lda, int64_t m, int64_t kcq, const int8_t* b, int64_t ncp, int32_t* acc,
                int64_t ldacc, bool accumulate) {
  const int64_t bstride = ncp * 4;
  for (int64_t i = 0; i < m; i += 32)
    for (int64_t j = 0; j < ncp; j += 32) {
      if (i + 32 <= m)
        block_amx<true>(a + i * lda, lda, kcq, b + j * 4, bstride, acc + i * ldacc + j, ldacc, accumulate);
      else block_amx<false>(a + i * lda, lda, kcq, b + j * 4, bstride, acc + i * ldacc + j, ldacc, accumulate);
    }
}

// ldtilecfg costs about as much as a 128 x 64 x 256 block's tile work, so
// it is paid once per thread's run of tasks, not per kernel call.
void enter_amx() {
  TileConfig cfg;
  for (int t = 0; t < 8; ++t) {
    cfg.colsb[t] = 64;
    cfg.rows[t] = 16;
  }
  __asm__ volatile(".byte 0xc4, 0xe2, 0x78, 0x49, 0x00" ::"a"(&cfg) : "memory");  // ldtilecfg (%rax)
}
void leave_amx() { __asm__ volatile(".byte 0xc4, 0xe2, 0x78, 0x49, 0xc0" ::: "memory"); }  // tilerelease

#undef TILE_LOAD
#undef TILE_STORE
#undef TILE_ZERO
#undef TILE_DPBUSD

const QQuadUKernel kAmx{kernel_amx,          pack_b_quads, 16,        64,           true,
                        finish_float_avx512, enter_amx,    leave_amx, row_sums_avx2};

}  // namespace

const QQuadUKernel* qgemm_ukernel_amx() {
  return platform::cpu_features().amx_int8 && platform::cpu_features().avx2 ? &kAmx : nullptr;
}

}  // namespace simd
}  // namespace pionnx

#else

namespace pionnx {
namespace simd {
const QQuadUKernel* qgemm_ukernel_amx() { return nullptr; }
}  // namespace simd
}  // namespace pionnx

#endif
