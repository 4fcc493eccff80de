// VNNI micro-kernels for the integer GEMM (qgemm.cc): vpdpbusd multiplies
// unsigned by signed bytes four depth steps at a time. The driver feeds A as
// uint8 (int8 shifted by +128) and B as int8 (uint8 shifted by -128) in the
// quad layout (qgemm_ukernel.h), and applies the zero points afterwards from
// row sums of A and the column sums this file's packer returns. Two widths:
// 256-bit AVX512-VL registers (4 rows x 16 columns per step) and 512-bit
// ones (4 rows x 32 columns); a part that down-clocks on zmm can be held to
// the first with PIONNX_QGEMM=vnni.
#include "kernels/simd/qgemm_ukernel.h"

#if (defined(__x86_64__) || (defined(__i386__) && defined(__SSE2__))) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>

#include <algorithm>
#include <cstring>

#include "platform/cpu_features.h"

namespace pionnx {
namespace simd {
namespace {

inline int32_t load_quad(const uint8_t* p) {
  int32_t v;
  std::memcpy(&v, p, sizeof v);
  return v;
}

template <int V>  // 16 V columns per pass: 4 rows x V accumulators of 256 bits
__attribute__((target("avx512vnni,avx512vl"), always_inline)) inline void pass_vnni(const uint8_t* a, int64_t lda,
                                                                                    int64_t kcq, const int8_t* b,
                                                                                    int64_t ncp, int32_t* acc,
                                                                                    int64_t ldacc, bool accumulate) {
  __m256i c[kQRows][V];
  for (auto& row : c)
    for (auto& v : row) v = _mm256_setzero_si256();
  for (int64_t kq = 0; kq < kcq / 4; ++kq) {
    const int8_t* bp = b + kq * ncp * 4;
    __m256i bv[V];
    for (int v = 0; v < V; ++v) bv[v] = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(bp + 32 * v));
    for (int r = 0; r < kQRows; ++r) {
      const __m256i av = _mm256_set1_epi32(load_quad(a + r * lda + 4 * kq));
      for (int v = 0; v < V; ++v) c[r][v] = _mm256_dpbusd_epi32(c[r][v], av, bv[v]);
    }
  }
  for (int r = 0; r < kQRows; ++r)
    for (int v = 0; v < V; ++v) {
      __m256i* out = reinterpret_cast<__m256i*>(acc + r * ldacc + 8 * v);
      _mm256_storeu_si256(out, accumulate ? _mm256_add_epi32(c[r][v], _mm256_loadu_si256(out)) : c[r][v]);
    }
}

__attribute__((target("avx512vnni,avx512vl"))) void kernel_vnni(const uint8_t* a, int64_t lda, int64_t m, int64_t kcq,
                                                                const int8_t* b, int64_t ncp, int32_t* acc,
                                                                int64_t ldacc, bool accumulate) {
  for (int64_t i = 0; i < m; i += kQRows, a += kQRows * lda, acc += kQRows * ldacc) {
    int64_t j0 = 0;
    for (; j0 + 32 <= ncp; j0 += 32) pass_vnni<4>(a, lda, kcq, b + 4 * j0, ncp, acc + j0, ldacc, accumulate);
    for (; j0 < ncp; j0 += 16) pass_vnni<2>(a, lda, kcq, b + 4 * j0, ncp, acc + j0, ldacc, accumulate);
  }
}

// 512-bit registers: 64 columns per pass where the panel has them (16
// accumulators, enough in flight to cover vpdpbusd's latency at two per
// cycle), else 32.
template <int V>
__attribute__((target("avx512vnni,avx512f,avx512bw"), always_inline)) inline void pass_vnni512(
    const uint8_t* a, int64_t lda, int64_t kcq, const int8_t* b, int64_t ncp, int32_t* acc, int64_t ldacc,
    bool accumulate) {
  __m512i c[kQRows][V];
  for (auto& row : c)
    for (auto& v : row) v = _mm512_setzero_si512();
  for (int64_t kq = 0; kq < kcq / 4; ++kq) {
    const int8_t* bp = b + kq * ncp * 4;
    __m512i bv[V];
    for (int v = 0; v < V; ++v) bv[v] = _mm512_loadu_si512(bp + 64 * v);
    for (int r = 0; r < kQRows; ++r) {
      const __m512i av = _mm512_set1_epi32(load_quad(a + r * lda + 4 * kq));
      for (int v = 0; v < V; ++v) c[r][v] = _mm512_dpbusd_epi32(c[r][v], av, bv[v]);
    }
  }
  for (int r = 0; r < kQRows; ++r)
    for (int v = 0; v < V; ++v) {
      int32_t* out = acc + r * ldacc + 16 * v;
      _mm512_storeu_si512(out, accumulate ? _mm512_add_epi32(c[r][v], _mm512_loadu_si512(out)) : c[r][v]);
    }
}

__attribute__((target("avx512vnni,avx512f,avx512bw"))) void kernel_vnni512(const uint8_t* a, int64_t lda, int64_t m,
                                                                           int64_t kcq, const int8_t* b, int64_t ncp,
                                                                           int32_t* acc, int64_t ldacc,
                                                                           bool accumulate) {
  for (int64_t i = 0; i < m; i += kQRows, a += kQRows * lda, acc += kQRows * ldacc) {
    int64_t j0 = 0;
    for (; j0 + 64 <= ncp; j0 += 64) pass_vnni512<4>(a, lda, kcq, b + 4 * j0, ncp, acc + j0, ldacc, accumulate);
    for (; j0 < ncp; j0 += 32) pass_vnni512<2>(a, lda, kcq, b + 4 * j0, ncp, acc + j0, ldacc, accumulate);
  }
}

}  // namespace

// Whole quads of depth: four rows of B interleaved 16 columns at a time with
// SSE2 unpacks (uint8 becomes int8 by flipping the top bit); the last
// columns and the last (kc % 4) rows one value at a time.
void pack_b_quads(const void* B, int64_t ldb, bool b_signed, int64_t kc, int64_t nc, int64_t ncp, int8_t* panel,
                  int32_t* colsum) {
  const int8_t flip = b_signed ? 0 : static_cast<int8_t>(0x80);
  const __m128i vflip = _mm_set1_epi8(flip);
  const int64_t j16 = nc / 16 * 16;
  int64_t k = 0;
  for (; k + 4 <= kc; k += 4) {
    const int8_t* src = static_cast<const int8_t*>(B) + k * ldb;
    int8_t* dst = panel + (k / 4) * ncp * 4;
    for (int64_t j = 0; j < j16; j += 16) {
      const __m128i r0 = _mm_xor_si128(vflip, _mm_loadu_si128(reinterpret_cast<const __m128i*>(src + j)));
      const __m128i r1 = _mm_xor_si128(vflip, _mm_loadu_si128(reinterpret_cast<const __m128i*>(src + ldb + j)));
      const __m128i r2 = _mm_xor_si128(vflip, _mm_loadu_si128(reinterpret_cast<const __m128i*>(src + 2 * ldb + j)));
      const __m128i r3 = _mm_xor_si128(vflip, _mm_loadu_si128(reinterpret_cast<const __m128i*>(src + 3 * ldb + j)));
      const __m128i lo01 = _mm_unpacklo_epi8(r0, r1), hi01 = _mm_unpackhi_epi8(r0, r1);
      const __m128i lo23 = _mm_unpacklo_epi8(r2, r3), hi23 = _mm_unpackhi_epi8(r2, r3);
      __m128i* out = reinterpret_cast<__m128i*>(dst + 4 * j);
      _mm_storeu_si128(out + 0, _mm_unpacklo_epi16(lo01, lo23));
      _mm_storeu_si128(out + 1, _mm_unpackhi_epi16(lo01, lo23));
      _mm_storeu_si128(out + 2, _mm_unpacklo_epi16(hi01, hi23));
      _mm_storeu_si128(out + 3, _mm_unpackhi_epi16(hi01, hi23));
      for (int t = 0; t < 4; ++t)
        for (int64_t jj = j; jj < j + 16; ++jj) colsum[jj] += static_cast<int8_t>(src[t * ldb + jj] ^ flip);
    }
    for (int64_t j = j16; j < nc; ++j)
      for (int t = 0; t < 4; ++t) {
        dst[4 * j + t] = static_cast<int8_t>(src[t * ldb + j] ^ flip);
        colsum[j] += dst[4 * j + t];
      }
  }
  for (; k < kc; ++k) {
    const int8_t* src = static_cast<const int8_t*>(B) + k * ldb;
    int8_t* dst = panel + (k / 4) * ncp * 4 + (k % 4);
    for (int64_t j = 0; j < nc; ++j) {
      dst[4 * j] = static_cast<int8_t>(src[j] ^ flip);
      colsum[j] += dst[4 * j];
    }
  }
}

// pack_b_quads with AVX-512BW, 64 columns of four rows a step: the byte and word unpacks give each 128-bit
// lane's quads (columns 16L..16L+15 spread over the four results), a 4x4 transpose of the 128-bit lanes puts
// them in column order, and each column's sum of its quad is one vpdpbusd against bytes of 1. The last columns
// (under 64) the same way under masks: loaded as zeros past nc (kept zero after the flip), stored up to ncp, the
// sums up to nc. The last kc % 4 rows one value at a time. The SSE2 form, with its column sums in a byte loop,
// was a tenth of a quantized MobileNetV2's time, and still a twentieth as the last columns' packer (a 7x7
// plane's 49 columns, a 14x14 one's last 4).
__attribute__((target("avx512vnni,avx512f,avx512bw"))) void pack_b_quads_avx512(const void* B, int64_t ldb,
                                                                                bool b_signed, int64_t kc, int64_t nc,
                                                                                int64_t ncp, int8_t* panel,
                                                                                int32_t* colsum) {
  const __m512i vflip = _mm512_set1_epi8(b_signed ? 0 : static_cast<char>(0x80));
  const __m512i ones = _mm512_set1_epi8(1);
  const int64_t kq = kc / 4 * 4;
  const auto* src0 = static_cast<const int8_t*>(B);
  for (int64_t j = 0; j < nc; j += 64) {
    const int64_t left = nc - j;  // columns there; the panel's ncp - j (a multiple of 32) is at least left
    const bool full = left >= 64;
    const __mmask64 cols = full ? ~__mmask64{0} : (__mmask64{1} << left) - 1;
    const int stores = full ? 4 : static_cast<int>(std::min<int64_t>(4, (ncp - j) / 16));  // quads of 16 columns
    __mmask16 sum_lanes[4];
    for (int v = 0; v < 4; ++v) {
      const int64_t in = std::max<int64_t>(0, std::min<int64_t>(16, left - 16 * v));
      sum_lanes[v] = static_cast<__mmask16>((1u << in) - 1u);
    }
    __m512i sums[4];
    for (int v = 0; v < 4; ++v) sums[v] = _mm512_maskz_loadu_epi32(sum_lanes[v], colsum + j + 16 * v);
    for (int64_t k = 0; k < kq; k += 4) {
      const int8_t* src = src0 + k * ldb + j;
      __m512i r[4];
      for (int t = 0; t < 4; ++t)
        r[t] = full
                   ? _mm512_xor_si512(vflip, _mm512_loadu_si512(src + t * ldb))
                   : _mm512_maskz_mov_epi8(cols, _mm512_xor_si512(vflip, _mm512_maskz_loadu_epi8(cols, src + t * ldb)));
      const __m512i lo01 = _mm512_unpacklo_epi8(r[0], r[1]), hi01 = _mm512_unpackhi_epi8(r[0], r[1]);
      const __m512i lo23 = _mm512_unpacklo_epi8(r[2], r[3]), hi23 = _mm512_unpackhi_epi8(r[2], r[3]);
      // Lane L of q0..q3: the quads of columns 16L + 0..3, 4..7, 8..11, 12..15.
      const __m512i q0 = _mm512_unpacklo_epi16(lo01, lo23), q1 = _mm512_unpackhi_epi16(lo01, lo23);
      const __m512i q2 = _mm512_unpacklo_epi16(hi01, hi23), q3 = _mm512_unpackhi_epi16(hi01, hi23);
      const __m512i t0 = _mm512_shuffle_i64x2(q0, q1, 0x44), t1 = _mm512_shuffle_i64x2(q2, q3, 0x44);  // lanes 0,1
      const __m512i t2 = _mm512_shuffle_i64x2(q0, q1, 0xEE), t3 = _mm512_shuffle_i64x2(q2, q3, 0xEE);  // lanes 2,3
      const __m512i o[4] = {_mm512_shuffle_i64x2(t0, t1, 0x88), _mm512_shuffle_i64x2(t0, t1, 0xDD),
                            _mm512_shuffle_i64x2(t2, t3, 0x88), _mm512_shuffle_i64x2(t2, t3, 0xDD)};
      int8_t* dst = panel + (k / 4) * ncp * 4 + 4 * j;
      for (int v = 0; v < stores; ++v) {
        _mm512_storeu_si512(dst + 64 * v, o[v]);
        sums[v] = _mm512_dpbusd_epi32(sums[v], ones, o[v]);
      }
    }
    for (int v = 0; v < 4; ++v) _mm512_mask_storeu_epi32(colsum + j + 16 * v, sum_lanes[v], sums[v]);
  }
  const int8_t flip = b_signed ? 0 : static_cast<int8_t>(0x80);
  for (int64_t k = kq; k < kc; ++k) {
    const int8_t* src = src0 + k * ldb;
    int8_t* dst = panel + (k / 4) * ncp * 4 + (k % 4);
    for (int64_t j = 0; j < nc; ++j) {
      dst[4 * j] = static_cast<int8_t>(src[j] ^ flip);
      colsum[j] += dst[4 * j];
    }
  }
}

// 16 columns per step, the last ones under a mask. The product and the bias
// are two roundings, as in the portable path and in the Mul and Add that
// MatMulIntegerToFloat fuses (its outputs are bit-identical to theirs): GCC
// would contract them into one fused multiply-add, so contraction is off
// here (Clang does not contract across separate intrinsics).
#if defined(__clang__)
#define PIONNX_NO_CONTRACT
#else
#define PIONNX_NO_CONTRACT __attribute__((optimize("fp-contract=off")))
#endif
__attribute__((target("avx512f"))) PIONNX_NO_CONTRACT void finish_float_avx512(
    const int32_t* acc, int64_t ldacc, const int32_t* colterm, const int32_t* rowterm, int64_t rows, int64_t n,
    const float* scale, bool scale_per_col, const float* bias, float* out, int64_t ldout) {
  const __m512 s0 = _mm512_set1_ps(scale[0]);
  const int64_t n16 = n / 16 * 16;
  const __mmask16 tail = static_cast<__mmask16>((1u << (n - n16)) - 1u);
  for (int64_t r = 0; r < rows; ++r, acc += ldacc, out += ldout) {
    const __m512i rt = _mm512_set1_epi32(rowterm[r]);
    for (int64_t j = 0; j < n; j += 16) {
      const __mmask16 k = j < n16 ? static_cast<__mmask16>(0xffff) : tail;
      const __m512i v = _mm512_sub_epi32(
          _mm512_sub_epi32(_mm512_maskz_loadu_epi32(k, acc + j), _mm512_maskz_loadu_epi32(k, colterm + j)), rt);
      __m512 f =
          _mm512_mul_ps(_mm512_maskz_cvtepi32_ps(k, v), scale_per_col ? _mm512_maskz_loadu_ps(k, scale + j) : s0);
      if (bias) f = _mm512_add_ps(f, _mm512_maskz_loadu_ps(k, bias + j));
      _mm512_mask_storeu_ps(out + j, k, f);
    }
  }
}

#undef PIONNX_NO_CONTRACT

__attribute__((target("avx2"))) void row_sums_avx2(const uint8_t* a, int64_t lda, int64_t rows, int64_t K,
                                                   int32_t* out) {
  const __m256i zero = _mm256_setzero_si256();
  for (int64_t r = 0; r < rows; ++r) {
    const uint8_t* p = a + r * lda;
    __m256i s0 = zero, s1 = zero;
    int64_t k = 0;
    for (; k + 64 <= K; k += 64) {
      s0 = _mm256_add_epi64(s0, _mm256_sad_epu8(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p + k)), zero));
      s1 =
          _mm256_add_epi64(s1, _mm256_sad_epu8(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p + k + 32)), zero));
    }
    if (k + 32 <= K) {
      s0 = _mm256_add_epi64(s0, _mm256_sad_epu8(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p + k)), zero));
      k += 32;
    }
    alignas(32) int64_t lanes[4];
    _mm256_store_si256(reinterpret_cast<__m256i*>(lanes), _mm256_add_epi64(s0, s1));
    int64_t sum = lanes[0] + lanes[1] + lanes[2] + lanes[3];
    for (; k < K; ++k) sum += p[k];
    out[r] = static_cast<int32_t>(sum);
  }
}

namespace {

const QQuadUKernel kVnni{kernel_vnni, pack_b_quads, kQRows, 4, false, nullptr, nullptr, nullptr, row_sums_avx2};
const QQuadUKernel kVnni512{kernel_vnni512, pack_b_quads_avx512, kQRows, 4, false, finish_float_avx512, nullptr,
                            nullptr,        row_sums_avx2};

}  // namespace

const QQuadUKernel* qgemm_ukernel_vnni() {
  const platform::CpuFeatures& cpu = platform::cpu_features();
  return cpu.avx2 && cpu.avx512vnni && cpu.avx512vl ? &kVnni : nullptr;
}

const QQuadUKernel* qgemm_ukernel_vnni512() {
  const platform::CpuFeatures& cpu = platform::cpu_features();
  return cpu.avx2 && cpu.avx512vnni && cpu.avx512vl && cpu.avx512bw ? &kVnni512 : nullptr;
}

}  // namespace simd
}  // namespace pionnx

#else

namespace pionnx {
namespace simd {
const QQuadUKernel* qgemm_ukernel_vnni() { return nullptr; }
const QQuadUKernel* qgemm_ukernel_vnni512() { return nullptr; }
}  // namespace simd
}  // namespace pionnx

#endif
