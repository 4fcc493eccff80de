#include "kernels/simd/qgemm.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "kernels/simd/dispatch.h"
#include "kernels/simd/qgemm_ukernel.h"
#include "kernels/simd/sgemm.h"
#include "platform/thread_pool.h"

#if defined(__x86_64__) || (defined(__i386__) && defined(__SSE2__))
#include <immintrin.h>
#define PIONNX_QGEMM_X86 1
#endif

namespace pionnx {
namespace simd {
namespace {

// Block sizes: a kKc x kNc int16 panel of B (128 KiB) stays in L2 while
// every row of A in the task streams past it.
constexpr int64_t kKc = 256;
constexpr int64_t kNc = kQNc;
constexpr int64_t kMc = 256;   // rows sharing one packed panel of B
constexpr int kRows = kQRows;  // rows of A sharing each loaded part of the B panel
constexpr int64_t kNr = 32;    // panel width is padded to a multiple of this

// Panel layout, shared by every micro-kernel: depth is taken in pairs
// (k, k+1) so that one multiply-add of int16 pairs (x86 pmaddwd, NEON
// smlal pairs) consumes two depth steps. Packed B element (kp, j, t) =
// B[k0 + 2 kp + t][j0 + j] - zp at out[(kp * ncp + j) * 2 + t]; A rows are
// int16 runs of even length kcp. Padding is zero.
//
// acc[r][0 .. ncp) = sum_k a[r * kcp + k] * B(k, j) for kRows rows.
using QKernel = void (*)(const int16_t* a, int64_t kcp, const int16_t* b, int64_t ncp, int32_t (*acc)[kNc]);

void kernel_generic(const int16_t* a, int64_t kcp, const int16_t* b, int64_t ncp, int32_t (*acc)[kNc]) {
  for (int r = 0; r < kRows; ++r) std::memset(acc[r], 0, sizeof(int32_t) * ncp);
  for (int64_t kp = 0; kp < kcp / 2; ++kp) {
    const int16_t* brow = b + kp * ncp * 2;
    for (int r = 0; r < kRows; ++r) {
      const int32_t a0 = a[r * kcp + 2 * kp], a1 = a[r * kcp + 2 * kp + 1];
      if ((a0 | a1) == 0) continue;
      int32_t* out = acc[r];
      for (int64_t j = 0; j < ncp; ++j) out[j] += a0 * brow[2 * j] + a1 * brow[2 * j + 1];
    }
  }
}

#ifdef PIONNX_QGEMM_X86
inline int32_t load_pair(const int16_t* p) {
  int32_t v;
  std::memcpy(&v, p, sizeof v);
  return v;
}

#ifdef __SSE2__
// 4 rows x 8 columns per step: 8 accumulators of 4 int32.
void kernel_sse2(const int16_t* a, int64_t kcp, const int16_t* b, int64_t ncp, int32_t (*acc)[kNc]) {
  for (int64_t j0 = 0; j0 < ncp; j0 += 8) {
    __m128i c[kRows][2];
    for (auto& row : c) row[0] = row[1] = _mm_setzero_si128();
    for (int64_t kp = 0; kp < kcp / 2; ++kp) {
      const int16_t* bp = b + (kp * ncp + j0) * 2;
      const __m128i b0 = _mm_loadu_si128(reinterpret_cast<const __m128i*>(bp));
      const __m128i b1 = _mm_loadu_si128(reinterpret_cast<const __m128i*>(bp + 8));
      for (int r = 0; r < kRows; ++r) {
        const __m128i av = _mm_set1_epi32(load_pair(a + r * kcp + 2 * kp));
        c[r][0] = _mm_add_epi32(c[r][0], _mm_madd_epi16(av, b0));
        c[r][1] = _mm_add_epi32(c[r][1], _mm_madd_epi16(av, b1));
      }
    }
    for (int r = 0; r < kRows; ++r) {
      _mm_storeu_si128(reinterpret_cast<__m128i*>(acc[r] + j0), c[r][0]);
      _mm_storeu_si128(reinterpret_cast<__m128i*>(acc[r] + j0 + 4), c[r][1]);
    }
  }
}
#endif

// 4 rows x 16 columns per step: 8 accumulators of 8 int32.
__attribute__((target("avx2"))) void kernel_avx2(const int16_t* a, int64_t kcp, const int16_t* b, int64_t ncp,
                                                 int32_t (*acc)[kNc]) {
  for (int64_t j0 = 0; j0 < ncp; j0 += 16) {
    __m256i c[kRows][2];
    for (auto& row : c) row[0] = row[1] = _mm256_setzero_si256();
    for (int64_t kp = 0; kp < kcp / 2; ++kp) {
      const int16_t* bp = b + (kp * ncp + j0) * 2;
      const __m256i b0 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(bp));
      const __m256i b1 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(bp + 16));
      for (int r = 0; r < kRows; ++r) {
        const __m256i av = _mm256_set1_epi32(load_pair(a + r * kcp + 2 * kp));
        c[r][0] = _mm256_add_epi32(c[r][0], _mm256_madd_epi16(av, b0));
        c[r][1] = _mm256_add_epi32(c[r][1], _mm256_madd_epi16(av, b1));
      }
    }
    for (int r = 0; r < kRows; ++r) {
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(acc[r] + j0), c[r][0]);
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(acc[r] + j0 + 8), c[r][1]);
    }
  }
}

// VNNI: vpdpbusd multiplies unsigned by signed bytes four depth steps at a
// time. A is fed as uint8 (int8 shifted by +128), B as int8 (uint8 shifted
// by -128), and the zero points are applied afterwards from row sums of A
// and column sums of B (see qgemm_block_vnni). Panel layout: depth in
// quads, B element (kq, j, t) at b[(kq * ncp + j) * 4 + t].
__attribute__((target("avx512vnni,avx512vl"))) void kernel_vnni(const uint8_t* a, int64_t lda, int64_t kcq,
                                                                const int8_t* b, int64_t ncp, int32_t (*acc)[kNc]) {
  for (int64_t j0 = 0; j0 < ncp; j0 += 16) {
    __m256i c[kRows][2];
    for (auto& row : c) row[0] = row[1] = _mm256_setzero_si256();
    for (int64_t kq = 0; kq < kcq / 4; ++kq) {
      const int8_t* bp = b + (kq * ncp + j0) * 4;
      const __m256i b0 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(bp));
      const __m256i b1 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(bp + 32));
      for (int r = 0; r < kRows; ++r) {
        int32_t quad;
        std::memcpy(&quad, a + r * lda + 4 * kq, sizeof quad);
        const __m256i av = _mm256_set1_epi32(quad);
        c[r][0] = _mm256_dpbusd_epi32(c[r][0], av, b0);
        c[r][1] = _mm256_dpbusd_epi32(c[r][1], av, b1);
      }
    }
    for (int r = 0; r < kRows; ++r) {
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(acc[r] + j0), c[r][0]);
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(acc[r] + j0 + 8), c[r][1]);
    }
  }
}

// The same with 512-bit vectors: 4 rows x 32 columns per step.
__attribute__((target("avx512vnni,avx512f,avx512bw"))) void kernel_vnni512(const uint8_t* a, int64_t lda, int64_t kcq,
                                                                           const int8_t* b, int64_t ncp,
                                                                           int32_t (*acc)[kNc]) {
  for (int64_t j0 = 0; j0 < ncp; j0 += 32) {
    __m512i c[kRows][2];
    for (auto& row : c) row[0] = row[1] = _mm512_setzero_si512();
    for (int64_t kq = 0; kq < kcq / 4; ++kq) {
      const int8_t* bp = b + (kq * ncp + j0) * 4;
      const __m512i b0 = _mm512_loadu_si512(bp);
      const __m512i b1 = _mm512_loadu_si512(bp + 64);
      for (int r = 0; r < kRows; ++r) {
        int32_t quad;
        std::memcpy(&quad, a + r * lda + 4 * kq, sizeof quad);
        const __m512i av = _mm512_set1_epi32(quad);
        c[r][0] = _mm512_dpbusd_epi32(c[r][0], av, b0);
        c[r][1] = _mm512_dpbusd_epi32(c[r][1], av, b1);
      }
    }
    for (int r = 0; r < kRows; ++r) {
      _mm512_storeu_si512(acc[r] + j0, c[r][0]);
      _mm512_storeu_si512(acc[r] + j0 + 16, c[r][1]);
    }
  }
}

#endif

}  // namespace

// Paths, portable first. vnni: u8 x s8 dot products in 256-bit AVX512-VL
// registers; vnni512: the same in 512-bit ones (a part that down-clocks on
// zmm can be held to the 256-bit kernel with PIONNX_QGEMM=vnni).
const PathChoice& qgemm_paths() {
  static const PathChoice choice = [] {
    bool sse2 = false, avx2 = false, vnni = false, vnni512 = false;
#ifdef PIONNX_QGEMM_X86
    const platform::CpuFeatures& cpu = platform::cpu_features();
    sse2 = cpu.sse2;
    avx2 = cpu.avx2;
    vnni = cpu.avx512vnni && cpu.avx512vl;
    vnni512 = vnni && cpu.avx512bw;
#endif
    return platform::choose_path(
        "integer GEMM", "PIONNX_QGEMM", {"generic", "neon", "sse2", "avx2", "vnni", "vnni512"},
        {true, qgemm_has_neon_kernel() && platform::cpu_features().neon, sse2, avx2, vnni, vnni512});
  }();
  return choice;
}

namespace {

#ifdef PIONNX_QGEMM_X86
const bool kUseVnni = qgemm_paths().active == "vnni" || qgemm_paths().active == "vnni512";
const bool kUseVnni512 = qgemm_paths().active == "vnni512";
#else
const bool kUseVnni = false;
#endif

// The int16 pair kernel of the chosen path (the VNNI paths keep AVX2's for
// anything they do not take).
QKernel pick_kernel() {
  const std::string& path = qgemm_paths().active;
  if (path == "neon") return qgemm_kernel_neon;
#ifdef PIONNX_QGEMM_X86
  if (path == "avx2" || path == "vnni" || path == "vnni512") return kernel_avx2;
#ifdef __SSE2__
  if (path == "sse2") return kernel_sse2;
#endif
#endif
  return kernel_generic;
}

const QKernel kKernel = pick_kernel();

inline int32_t load8(const void* p, int64_t i, bool is_signed) {
  return is_signed ? static_cast<const int8_t*>(p)[i] : static_cast<const uint8_t*>(p)[i];
}

template <typename T>
void pack_b(const QGemmArgs& g, int64_t k0, int64_t kc, int64_t j0, int64_t nc, int64_t ncp, int16_t* out) {
  const T* B = static_cast<const T*>(g.B);
  int32_t zp_col[kNc];
  for (int64_t j = 0; j < nc; ++j) zp_col[j] = g.b_zp == nullptr ? 0 : g.b_zp[g.b_zp_per_col ? j0 + j : 0];
  const int64_t kcp = (kc + 1) / 2 * 2;
  std::memset(out, 0, sizeof(int16_t) * static_cast<size_t>(kcp * ncp));
  for (int64_t k = 0; k < kc; ++k) {
    const T* src = B + (k0 + k) * g.ldb + j0;
    int16_t* dst = out + (k / 2) * ncp * 2 + (k % 2);
    for (int64_t j = 0; j < nc; ++j) dst[2 * j] = static_cast<int16_t>(src[j] - zp_col[j]);
  }
}

// One task: rows [i0, i1) x columns [j0, j0 + nc).
void qgemm_block(const QGemmArgs& g, int64_t i0, int64_t i1, int64_t j0, int64_t nc, std::vector<int16_t>& bpanel) {
  const int64_t ncp = (nc + kNr - 1) / kNr * kNr;
  bpanel.resize(static_cast<size_t>(kKc * ncp));
  alignas(32) int16_t apanel[kRows * kKc];
  alignas(32) int32_t acc[kRows][kNc];
  for (int64_t k0 = 0; k0 < g.K; k0 += kKc) {
    const int64_t kc = std::min(kKc, g.K - k0), kcp = (kc + 1) / 2 * 2;
    if (g.b_signed) pack_b<int8_t>(g, k0, kc, j0, nc, ncp, bpanel.data());
    else pack_b<uint8_t>(g, k0, kc, j0, nc, ncp, bpanel.data());
    const bool store = k0 == 0 && !g.accumulate;
    for (int64_t i = i0; i < i1; i += kRows) {
      const int rows = static_cast<int>(std::min<int64_t>(kRows, i1 - i));
      std::memset(apanel, 0, sizeof apanel);
      for (int r = 0; r < rows; ++r) {
        const int32_t zp = g.a_zp == nullptr ? 0 : g.a_zp[g.a_zp_per_row ? i + r : 0];
        const int64_t row = (i + r) * g.lda + k0;
        for (int64_t k = 0; k < kc; ++k)
          apanel[r * kcp + k] = static_cast<int16_t>(load8(g.A, row + k, g.a_signed) - zp);
      }
      kKernel(apanel, kcp, bpanel.data(), ncp, acc);
      for (int r = 0; r < rows; ++r) {
        int32_t* c = g.C + (i + r) * g.ldc + j0;
        if (store) std::memcpy(c, acc[r], sizeof(int32_t) * nc);
        else
          for (int64_t j = 0; j < nc; ++j) c[j] += acc[r][j];
      }
    }
  }
}

#ifdef PIONNX_QGEMM_X86
// qgemm_block for the VNNI kernel: with A' = A (+128 if int8) and
// B' = B (-128 if uint8), zero points za' and zb' shifted alike,
//   sum (A' - za')(B' - zb') = sum A'B' - zb' sum A' - za' sum B' + K za' zb'.
// A converted once for every column block: uint8 rows of `lda` (K rounded
// up to quads, rows rounded up to kRows, zero padded) and the row sums of
// each depth block.
struct VnniA {
  std::vector<uint8_t> data;
  std::vector<int32_t> rowsum;  // [row][depth block]
  int64_t lda = 0, nkb = 0;
};

VnniA vnni_prepare_a(const QGemmArgs& g) {
  VnniA a;
  a.lda = (g.K + 3) / 4 * 4;
  a.nkb = (g.K + kKc - 1) / kKc;
  const int64_t rows = (g.M + kRows - 1) / kRows * kRows;
  a.data.assign(static_cast<size_t>(rows * a.lda), 0);
  a.rowsum.assign(static_cast<size_t>(g.M * a.nkb), 0);
  const uint8_t flip = g.a_signed ? 0x80 : 0;  // int8 + 128 as uint8
  for (int64_t i = 0; i < g.M; ++i) {
    const uint8_t* src = static_cast<const uint8_t*>(g.A) + i * g.lda;
    uint8_t* dst = a.data.data() + i * a.lda;
    for (int64_t kb = 0; kb < a.nkb; ++kb) {
      int32_t sum = 0;
      for (int64_t k = kb * kKc; k < std::min(g.K, (kb + 1) * kKc); ++k) {
        dst[k] = static_cast<uint8_t>(src[k] ^ flip);
        sum += dst[k];
      }
      a.rowsum[i * a.nkb + kb] = sum;
    }
  }
  return a;
}

void qgemm_block_vnni(const QGemmArgs& g, const VnniA& A, int64_t i0, int64_t i1, int64_t j0, int64_t nc,
                      std::vector<int16_t>& scratch) {
  const int64_t ncp = (nc + kNr - 1) / kNr * kNr;
  scratch.resize(static_cast<size_t>(kKc * ncp / 2 + ncp * 2));  // int8 panel + int32 column sums
  int8_t* bpanel = reinterpret_cast<int8_t*>(scratch.data());
  int32_t* colsum = reinterpret_cast<int32_t*>(scratch.data() + kKc * ncp / 2);
  const int32_t a_shift = g.a_signed ? 128 : 0, b_shift = g.b_signed ? 0 : -128;
  int32_t zb[kNc];
  for (int64_t j = 0; j < nc; ++j) zb[j] = (g.b_zp == nullptr ? 0 : g.b_zp[g.b_zp_per_col ? j0 + j : 0]) + b_shift;
  alignas(64) int32_t acc[kRows][kNc];
  for (int64_t k0 = 0; k0 < g.K; k0 += kKc) {
    const int64_t kc = std::min(kKc, g.K - k0), kcq = (kc + 3) / 4 * 4;
    std::memset(bpanel, 0, static_cast<size_t>(kcq * ncp));
    std::memset(colsum, 0, sizeof(int32_t) * static_cast<size_t>(nc));
    // Whole quads of depth: interleave four rows of B 16 columns at a time.
    // uint8 becomes int8 by flipping the top bit (v - 128).
    const int8_t flip = g.b_signed ? 0 : static_cast<int8_t>(0x80);
    const __m128i vflip = _mm_set1_epi8(flip);
    int64_t k = 0;
    const int64_t j16 = nc / 16 * 16;
    for (; k + 4 <= kc; k += 4) {
      const int8_t* src = static_cast<const int8_t*>(g.B) + (k0 + k) * g.ldb + j0;
      int8_t* dst = bpanel + (k / 4) * ncp * 4;
      for (int64_t j = 0; j < j16; j += 16) {
        const __m128i r0 = _mm_xor_si128(vflip, _mm_loadu_si128(reinterpret_cast<const __m128i*>(src + j)));
        const __m128i r1 = _mm_xor_si128(vflip, _mm_loadu_si128(reinterpret_cast<const __m128i*>(src + g.ldb + j)));
        const __m128i r2 = _mm_xor_si128(vflip, _mm_loadu_si128(reinterpret_cast<const __m128i*>(src + 2 * g.ldb + j)));
        const __m128i r3 = _mm_xor_si128(vflip, _mm_loadu_si128(reinterpret_cast<const __m128i*>(src + 3 * g.ldb + j)));
        const __m128i lo01 = _mm_unpacklo_epi8(r0, r1), hi01 = _mm_unpackhi_epi8(r0, r1);
        const __m128i lo23 = _mm_unpacklo_epi8(r2, r3), hi23 = _mm_unpackhi_epi8(r2, r3);
        __m128i* out = reinterpret_cast<__m128i*>(dst + 4 * j);
        _mm_storeu_si128(out + 0, _mm_unpacklo_epi16(lo01, lo23));
        _mm_storeu_si128(out + 1, _mm_unpackhi_epi16(lo01, lo23));
        _mm_storeu_si128(out + 2, _mm_unpacklo_epi16(hi01, hi23));
        _mm_storeu_si128(out + 3, _mm_unpackhi_epi16(hi01, hi23));
        for (int t = 0; t < 4; ++t)
          for (int64_t jj = j; jj < j + 16; ++jj) colsum[jj] += static_cast<int8_t>(src[t * g.ldb + jj] ^ flip);
      }
      for (int64_t j = j16; j < nc; ++j)
        for (int t = 0; t < 4; ++t) {
          dst[4 * j + t] = static_cast<int8_t>(src[t * g.ldb + j] ^ flip);
          colsum[j] += dst[4 * j + t];
        }
    }
    for (; k < kc; ++k) {
      int8_t* dst = bpanel + (k / 4) * ncp * 4 + (k % 4);
      const int64_t row = (k0 + k) * g.ldb + j0;
      if (g.b_signed) {
        const int8_t* src = static_cast<const int8_t*>(g.B) + row;
        for (int64_t j = 0; j < nc; ++j) {
          dst[4 * j] = src[j];
          colsum[j] += src[j];
        }
      } else {
        const uint8_t* src = static_cast<const uint8_t*>(g.B) + row;
        for (int64_t j = 0; j < nc; ++j) {
          const int32_t v = static_cast<int32_t>(src[j]) - 128;
          dst[4 * j] = static_cast<int8_t>(v);
          colsum[j] += v;
        }
      }
    }
    const bool store = k0 == 0 && !g.accumulate;
    for (int64_t i = i0; i < i1; i += kRows) {
      const int rows = static_cast<int>(std::min<int64_t>(kRows, i1 - i));
      const uint8_t* apanel = A.data.data() + i * A.lda + k0;
      if (kUseVnni512) kernel_vnni512(apanel, A.lda, kcq, bpanel, ncp, acc);
      else kernel_vnni(apanel, A.lda, kcq, bpanel, ncp, acc);
      for (int r = 0; r < rows; ++r) {
        int32_t* c = g.C + (i + r) * g.ldc + j0;
        const int32_t za = (g.a_zp == nullptr ? 0 : g.a_zp[g.a_zp_per_row ? i + r : 0]) + a_shift;
        const int32_t rowsum = A.rowsum[(i + r) * A.nkb + k0 / kKc];
        const int32_t kz = static_cast<int32_t>(kc) * za;
        for (int64_t j = 0; j < nc; ++j) {
          const int32_t v = acc[r][j] - zb[j] * rowsum - za * colsum[j] + kz * zb[j];
          c[j] = store ? v : c[j] + v;
        }
      }
    }
  }
}
#endif

}  // namespace

void qgemm(const QGemmArgs& g, ThreadPool* pool) {
  if (g.M <= 0 || g.N <= 0) return;
  if (g.K <= 0) {
    if (!g.accumulate)
      for (int64_t i = 0; i < g.M; ++i) std::memset(g.C + i * g.ldc, 0, sizeof(int32_t) * g.N);
    return;
  }
  const int64_t mblocks = (g.M + kMc - 1) / kMc;
  const int64_t nblocks = (g.N + kNc - 1) / kNc;
#ifdef PIONNX_QGEMM_X86
  const VnniA vnni_a = kUseVnni ? vnni_prepare_a(g) : VnniA();
#endif
  auto run = [&](int64_t t0, int64_t t1) {
    std::vector<int16_t> bpanel;
    for (int64_t t = t0; t < t1; ++t) {
      const int64_t mb = t / nblocks, nb = t % nblocks;
      const int64_t i0 = mb * kMc, i1 = std::min(g.M, i0 + kMc);
      const int64_t j0 = nb * kNc, nc = std::min(kNc, g.N - j0);
#ifdef PIONNX_QGEMM_X86
      if (kUseVnni) {
        qgemm_block_vnni(g, vnni_a, i0, i1, j0, nc, bpanel);
        continue;
      }
#endif
      qgemm_block(g, i0, i1, j0, nc, bpanel);
    }
  };
  const int64_t tasks = mblocks * nblocks;
  // Below ~1 M multiply-adds a thread hand-off costs more than it saves.
  if (pool == nullptr || g.M * g.N * g.K < (int64_t{1} << 20)) run(0, tasks);
  else pool->parallel_for(tasks, 1, run);
}

const char* qgemm_isa() { return qgemm_paths().active.c_str(); }

}  // namespace simd
}  // namespace pionnx
