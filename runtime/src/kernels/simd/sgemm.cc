// The SGEMM driver (blocking, packing, threading) and the portable
// micro-kernel. See sgemm.h for the contract and sgemm_ukernel.h for the
// packed layout.
#include "kernels/simd/sgemm.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <stdexcept>
#include <string>
#include <vector>

#include "kernels/simd/dispatch.h"
#include "kernels/simd/sgemm_ukernel.h"
#include "kernels/simd/vec4.h"
#include "platform/thread_pool.h"

namespace pionnx {
namespace simd {
namespace {

// Portable 4x8 micro-kernel: 8 vector accumulators fit the 16 registers of
// SSE2, armv7 NEON and aarch64 with room for the operands.
constexpr int kGenericMR = 4, kGenericNR = 8;

void ukernel_generic(int64_t kc, const float* a, const float* b, float* c, int64_t ldc, int m, int n, bool accumulate) {
  v4f acc[kGenericMR][2] = {};
  for (int64_t k = 0; k < kc; ++k) {
    const v4f b0 = load4(b), b1 = load4(b + 4);
    for (int i = 0; i < kGenericMR; ++i) {
      const v4f ai = v4f{} + a[i];
      acc[i][0] += ai * b0;
      acc[i][1] += ai * b1;
    }
    a += kGenericMR;
    b += kGenericNR;
  }
  if (m == kGenericMR && n == kGenericNR) {
    for (int i = 0; i < kGenericMR; ++i) {
      float* ci = c + i * ldc;
      if (accumulate) {
        store4(ci, load4(ci) + acc[i][0]);
        store4(ci + 4, load4(ci + 4) + acc[i][1]);
      } else {
        store4(ci, acc[i][0]);
        store4(ci + 4, acc[i][1]);
      }
    }
    return;
  }
  float tile[kGenericMR][kGenericNR];
  for (int i = 0; i < kGenericMR; ++i) {
    store4(tile[i], acc[i][0]);
    store4(tile[i] + 4, acc[i][1]);
  }
  for (int i = 0; i < m; ++i)
    for (int j = 0; j < n; ++j) c[i * ldc + j] = accumulate ? c[i * ldc + j] + tile[i][j] : tile[i][j];
}

void gemv_rows_generic(int64_t K, int64_t n, const float* x, const float* m, int64_t ldm, float* y);
const SgemmUKernel kGeneric{kGenericMR, kGenericNR, ukernel_generic, "generic", gemv_rows_generic, nullptr};

const SgemmUKernel& active_ukernel() {
  static const SgemmUKernel* k = [] {
    const std::string& path = sgemm_paths().active;
    if (path == "neon") return sgemm_ukernel_neon();
    if (path == "neon_a53") return sgemm_ukernel_neon_a53();
    if (path == "avx2") return sgemm_ukernel_avx2();
    if (path == "avx512") return sgemm_ukernel_avx512();
    return &kGeneric;
  }();
  return *k;
}

}  // namespace

// PIONNX_SGEMM=generic|neon|neon_a53|avx2|avx512 caps the choice (tests,
// benchmarks). Both aarch64 kernels run on every aarch64 CPU; the 8x8 one
// scheduled for in-order issue is the default only where every core is in-order
// (CpuFeatures::arm_in_order), the 8x12 one elsewhere, and either can be named.
const PathChoice& sgemm_paths() {
  static const PathChoice choice = [] {
    const platform::CpuFeatures& cpu = platform::cpu_features();
    const bool neon = cpu.neon && sgemm_ukernel_neon() != nullptr;
    const bool a53 = cpu.neon && sgemm_ukernel_neon_a53() != nullptr;
    return platform::choose_path("SGEMM", "PIONNX_SGEMM", {"generic", "neon", "neon_a53", "avx2", "avx512"},
                                 {true, neon, a53, sgemm_ukernel_avx2() != nullptr, sgemm_ukernel_avx512() != nullptr},
                                 {true, !(a53 && cpu.arm_in_order), cpu.arm_in_order, true, true});
  }();
  return choice;
}

namespace {

// Cache blocking, sized once from the caches the CPU reports and the active
// micro-kernel's tile: a kc x NR micro-panel of B within three quarters of L1
// or a sixteenth of L2, whichever is larger (at most 512 deep), while MR-row
// micro-panels of the mc x kc block of A stream from L2 (half of it, the rest
// for B and C); the kc x nc block of B is sized for an eighth of the L3 slice
// (or the L2 where there is no L3). Unknown sizes count as 32 KiB L1, 256 KiB
// L2 and no L3. A tile's accumulators are loaded and stored once per kc
// block, which costs more than the micro-panel's misses in L1: on an AMD EPYC
// Zen 4 (32K L1, 1M L2) kc 192 -> 512 took the AVX-512 kernel's 1024^3 and
// 2048^3 from 90 to 102 GFLOPS and the AVX2 kernel's (kc 384) from 89-95 to
// 97-100, 1 thread, other shapes level.
struct Blocking {
  int64_t kc, mc, nc;
  // nc for a product of one row block (M <= mc): each packed panel of B is
  // then read once, by every row right after it is packed, so the block only
  // has to stay in L2 (a quarter of it) until then. In a network the packed
  // block would otherwise leave L2 before its use: MobileNetV2's 1x1
  // projections (24 x 96 and 24 x 144 on 56x56) 258-274 -> 214-224 us and
  // 380-389 -> 334-345 us in the model.
  int64_t nc_one_block;
};

Blocking blocking_for(const SgemmUKernel& uk, const platform::CpuFeatures& cpu) {
  auto clamp = [](int64_t v, int64_t lo, int64_t hi) { return std::max(lo, std::min(hi, v)); };
  const int64_t l1 = cpu.l1d > 0 ? cpu.l1d : 32 << 10, l2 = cpu.l2 > 0 ? cpu.l2 : 256 << 10;
  const int64_t outer = cpu.l3 > 0 ? cpu.l3 / 8 : l2;
  Blocking b;
  b.kc = clamp(std::max(l1 * 3 / 4, l2 / 16) / (uk.nr * 4) / 16 * 16, 128, 512);
  b.mc = clamp(l2 / 2 / (b.kc * 4) / uk.mr * uk.mr, uk.mr * 8, uk.mr * 64);
  b.nc = clamp(outer / (b.kc * 4) / uk.nr * uk.nr, uk.nr * 32, 4096 / uk.nr * uk.nr);
  b.nc_one_block = clamp(l2 / 4 / (b.kc * 4) / uk.nr * uk.nr, uk.nr * 4, b.nc);
  return b;
}

const Blocking& blocking() {
  static const Blocking b = blocking_for(active_ukernel(), platform::cpu_features());
  return b;
}

// Rows [i0, i1) of op(A) over the whole depth K, times alpha, into MR-row
// panels: panel p holds rows i0 + p*MR.. at [p * MR * K + k * MR + i]. The
// MR source rows are read in lockstep, k outer, so each streams sequentially
// (weights are read from memory once per GEMM, not once per block).
template <int MR>
void pack_a_mr(bool trans, const float* A, int64_t lda, int64_t i0, int64_t i1, int64_t K, float alpha, float* out) {
  for (int64_t ir = i0; ir < i1; ir += MR) {
    const int m = static_cast<int>(std::min<int64_t>(MR, i1 - ir));
    float* dst = out + (ir - i0) * K;
    if (trans) {  // element (i, k) at A[k * lda + i]: rows of a panel are contiguous
      for (int64_t k = 0; k < K; ++k, dst += MR) {
        const float* src = A + k * lda + ir;
        int i = 0;
        for (; i < m; ++i) dst[i] = alpha * src[i];
        for (; i < MR; ++i) dst[i] = 0.f;
      }
    } else if (m == MR) {
      const float* rows[MR];
      for (int i = 0; i < MR; ++i) rows[i] = A + (ir + i) * lda;
      // Four rows by four depth steps at a time, transposed in vectors (a
      // batch-1 MatMul packs its activations on every call; one float at a
      // time, BERT's 128x256 operands took 10-20 us each).
      const v4f va = {alpha, alpha, alpha, alpha};
      int64_t k = 0;
      for (; k + 4 <= K; k += 4, dst += 4 * MR) {
        for (int i = 0; i + 4 <= MR; i += 4) {
          v4f r0 = load4(rows[i] + k) * va, r1 = load4(rows[i + 1] + k) * va;
          v4f r2 = load4(rows[i + 2] + k) * va, r3 = load4(rows[i + 3] + k) * va;
          transpose4(r0, r1, r2, r3);
          store4(dst + i, r0);
          store4(dst + MR + i, r1);
          store4(dst + 2 * MR + i, r2);
          store4(dst + 3 * MR + i, r3);
        }
        for (int i = MR / 4 * 4; i < MR; ++i)
          for (int t = 0; t < 4; ++t) dst[t * MR + i] = alpha * rows[i][k + t];
      }
      for (; k < K; ++k, dst += MR)
        for (int i = 0; i < MR; ++i) dst[i] = alpha * rows[i][k];
    } else {
      for (int64_t k = 0; k < K; ++k, dst += MR) {
        int i = 0;
        for (; i < m; ++i) dst[i] = alpha * A[(ir + i) * lda + k];
        for (; i < MR; ++i) dst[i] = 0.f;
      }
    }
  }
}

void pack_a(bool trans, const float* A, int64_t lda, int64_t i0, int64_t i1, int64_t K, int MR, float alpha,
            float* out) {
  switch (MR) {
    case 4: return pack_a_mr<4>(trans, A, lda, i0, i1, K, alpha, out);
    case 6: return pack_a_mr<6>(trans, A, lda, i0, i1, K, alpha, out);
    case 8: return pack_a_mr<8>(trans, A, lda, i0, i1, K, alpha, out);
    default: break;
  }
  for (int64_t ir = i0; ir < i1; ir += MR) {  // any other height, element by element
    float* dst = out + (ir - i0) * K;
    for (int64_t k = 0; k < K; ++k, dst += MR)
      for (int i = 0; i < MR; ++i)
        dst[i] = ir + i >= i1 ? 0.f : alpha * (trans ? A[k * lda + ir + i] : A[(ir + i) * lda + k]);
  }
}

// Rows of packed A needed for M rows (rounded up to whole panels).
int64_t packed_a_size(int64_t M, int64_t K, int MR) { return (M + MR - 1) / MR * MR * K; }

// Depth [p0, p0+kc) x columns [j0, j0+nc) of op(B) into NR panels. NR is a
// template argument so full panel rows copy as fixed-size vector moves.
//
// Without trans, row by row: each row of B is read once, left to right, and
// its NR-column pieces go to every panel. Panel by panel, a panel's kc rows
// were a page apart for a wide B (a 56x56 map's rows are 12.5 KiB apart),
// so every row read started a new page and a new prefetch stream; on a Xeon
// with AVX-512 (32-wide panels) packing took half of a 64x3136x576 product.
template <int NR>
void pack_b_nr(bool trans, const float* B, int64_t ldb, int64_t p0, int64_t j0, int64_t kc, int64_t nc, float* out) {
  if (!trans) {
    const int64_t full = nc / NR * NR;
    for (int64_t k = 0; k < kc; ++k) {
      const float* src = B + (p0 + k) * ldb + j0;
      float* dst = out + k * NR;
      for (int64_t jr = 0; jr < full; jr += NR, dst += kc * NR)
        std::memcpy(dst, src + jr, sizeof(float) * NR);  // a fixed size: vector moves (a loop stayed scalar)
      if (full < nc) {
        int j = 0;
        for (; j < nc - full; ++j) dst[j] = src[full + j];
        for (; j < NR; ++j) dst[j] = 0.f;
      }
    }
    return;
  }
  // With trans, element (k, j) at B[j * ldb + k]: four columns by four depth
  // steps at a time, transposed in vectors (attention's K^T).
  for (int64_t jr = 0; jr < nc; jr += NR) {
    const int n = static_cast<int>(std::min<int64_t>(NR, nc - jr));
    float* dst = out + jr * kc;
    const float* col = B + (j0 + jr) * ldb + p0;
    int j = 0;
    for (; j + 4 <= n; j += 4) {
      const float *c0 = col + j * ldb, *c1 = c0 + ldb, *c2 = c1 + ldb, *c3 = c2 + ldb;
      int64_t k = 0;
      for (; k + 4 <= kc; k += 4) {
        v4f r0 = load4(c0 + k), r1 = load4(c1 + k), r2 = load4(c2 + k), r3 = load4(c3 + k);
        transpose4(r0, r1, r2, r3);
        store4(dst + k * NR + j, r0);
        store4(dst + (k + 1) * NR + j, r1);
        store4(dst + (k + 2) * NR + j, r2);
        store4(dst + (k + 3) * NR + j, r3);
      }
      for (; k < kc; ++k)
        for (int t = 0; t < 4; ++t) dst[k * NR + j + t] = col[(j + t) * ldb + k];
    }
    for (; j < n; ++j) {
      const float* src = col + j * ldb;
      for (int64_t k = 0; k < kc; ++k) dst[k * NR + j] = src[k];
    }
    for (j = n; j < NR; ++j)
      for (int64_t k = 0; k < kc; ++k) dst[k * NR + j] = 0.f;
  }
}

void pack_b(bool trans, const float* B, int64_t ldb, int64_t p0, int64_t j0, int64_t kc, int64_t nc, int NR,
            float* out) {
  switch (NR) {
    case 8: return pack_b_nr<8>(trans, B, ldb, p0, j0, kc, nc, out);
    case 12: return pack_b_nr<12>(trans, B, ldb, p0, j0, kc, nc, out);
    case 16: return pack_b_nr<16>(trans, B, ldb, p0, j0, kc, nc, out);
    case 32: return pack_b_nr<32>(trans, B, ldb, p0, j0, kc, nc, out);
    default: break;
  }
  for (int64_t jr = 0; jr < nc; jr += NR) {  // any other width, element by element
    const int n = static_cast<int>(std::min<int64_t>(NR, nc - jr));
    float* dst = out + jr * kc;
    for (int64_t k = 0; k < kc; ++k, dst += NR)
      for (int j = 0; j < NR; ++j)
        dst[j] = j >= n ? 0.f : trans ? B[(j0 + jr + j) * ldb + p0 + k] : B[(p0 + k) * ldb + j0 + jr + j];
  }
}

// op(B) of a plain matrix as a panel source.
SgemmPackB matrix_packer(bool trans, const float* B, int64_t ldb) {
  return [=](int64_t k0, int64_t kc, int64_t j0, int64_t nc, int nr, float* out) {
    pack_b(trans, B, ldb, k0, j0, kc, nc, nr, out);
  };
}

void scale_c(int64_t M, int64_t N, float beta, float* C, int64_t ldc) {
  for (int64_t i = 0; i < M; ++i) {
    float* c = C + i * ldc;
    if (beta == 0.f) std::fill(c, c + N, 0.f);
    else
      for (int64_t j = 0; j < N; ++j) c[j] *= beta;
  }
}

// Matrix-vector products (M == 1 or N == 1): packing would cost as much as
// the arithmetic, so stream the matrix once instead.
float dot(const float* x, int64_t incx, const float* y, int64_t n) {
  if (incx == 1) {
    v4f s0{}, s1{};
    int64_t k = 0;
    for (; k + 8 <= n; k += 8) {
      s0 += load4(x + k) * load4(y + k);
      s1 += load4(x + k + 4) * load4(y + k + 4);
    }
    s0 += s1;
    float s = s0[0] + s0[1] + s0[2] + s0[3];
    for (; k < n; ++k) s += x[k] * y[k];
    return s;
  }
  float s = 0.f;
  for (int64_t k = 0; k < n; ++k) s += x[k * incx] * y[k];
  return s;
}

// Portable vector-times-matrix (see SgemvRowsKernel): 16 columns per pass.
void gemv_rows_generic(int64_t K, int64_t n, const float* x, const float* m, int64_t ldm, float* y) {
  int64_t j = 0;
  for (; j + 16 <= n; j += 16) {
    v4f a0{}, a1{}, a2{}, a3{};
    const float* p = m + j;
    for (int64_t k = 0; k < K; ++k, p += ldm) {
      const float xk = x[k];
      a0 += xk * load4(p);
      a1 += xk * load4(p + 4);
      a2 += xk * load4(p + 8);
      a3 += xk * load4(p + 12);
    }
    store4(y + j, a0);
    store4(y + j + 4, a1);
    store4(y + j + 8, a2);
    store4(y + j + 12, a3);
  }
  for (; j < n; ++j) {
    float s = 0.f;
    for (int64_t k = 0; k < K; ++k) s += x[k] * m[k * ldm + j];
    y[j] = s;
  }
}

// y[j] (stride incy) = alpha * sum_k x[k] * M(k, j) + beta * y[j] for
// j in [j0, j1), where M(k, j) = m[k * ldm + j] (row-major) or m[j * ldm + k].
void gemv(bool m_cols_contig, int64_t K, int64_t j0, int64_t j1, float alpha, const float* x, int64_t incx,
          const float* m, int64_t ldm, float beta, float* y, int64_t incy) {
  const SgemvDotsKernel dots = active_ukernel().gemv_dots;
  if (m_cols_contig && !(dots && incx == 1)) {  // M(k, j) = m[j * ldm + k]: one dot product per output
    for (int64_t j = j0; j < j1; ++j) {
      const float v = alpha * dot(x, incx, m + j * ldm, K);
      float& out = y[j * incy];
      out = beta == 0.f ? v : v + beta * out;
    }
    return;
  }
  const int64_t n = j1 - j0;
  // The kernels write n contiguous sums: straight into y when that is the
  // result (an RNN step calls this per panel of gates, 1024 times a run: no
  // allocation, no copy), else into a per-thread buffer.
  const bool direct = incy == 1 && alpha == 1.f && beta == 0.f;
  thread_local std::vector<float> xs, acc;
  if (!direct && acc.size() < static_cast<size_t>(n)) acc.resize(static_cast<size_t>(n));
  float* sums = direct ? y + j0 : acc.data();
  if (m_cols_contig) {  // the active instruction set's dot products, several rows at a time
    dots(K, n, x, m + j0 * ldm, ldm, sums);
  } else {  // M(k, j) = m[k * ldm + j]: the active instruction set's row kernel
    if (incx != 1) {
      if (xs.size() < static_cast<size_t>(K)) xs.resize(static_cast<size_t>(K));
      for (int64_t k = 0; k < K; ++k) xs[k] = x[k * incx];
      x = xs.data();
    }
    active_ukernel().gemv_rows(K, n, x, m + j0, ldm, sums);
  }
  if (direct) return;
  for (int64_t j = 0; j < n; ++j) {
    float& out = y[(j0 + j) * incy];
    out = beta == 0.f ? alpha * sums[j] : alpha * sums[j] + beta * out;
  }
}

// The bias, residual and activation of SgemmBiasAct over one m x n tile of C
// (rows from `row`, columns from `col` of the whole product).
void finish_tile(const SgemmBiasAct& ba, int64_t row, int64_t col, float* c, int64_t ldc, int64_t m, int64_t n) {
  sgemm_finish_tile(ba, ba.bias ? ba.bias + row : nullptr, ba.residual ? ba.residual + row * ba.ldr + col : nullptr, c,
                    ldc, m, n);
}

// C (M x N) = packed A (M x K, see pack_a) times op(B) + beta * C, where
// beta is 0 or 1 (other values are applied to C beforehand). op(B) comes
// panel by panel from `packb`, its columns offset by j_off. `epi`, if set,
// gets each finished strip of C (rows of one MC block, NR columns) in global
// coordinates (this call's rows start at i_off) while it is still in cache.
void gemm_packed_a(const SgemmUKernel& uk, const float* Ap, int64_t M, int64_t N, int64_t K, const SgemmPackB& packb,
                   int64_t j_off, bool overwrite, float* C, int64_t ldc, int64_t i_off = 0,
                   const SgemmEpilogue* epi = nullptr, const SgemmPackedB* prepacked_b = nullptr) {
  const int MR = uk.mr, NR = uk.nr;
  const Blocking& blk = blocking();
  const int64_t MC = blk.mc, KC = blk.kc;
  // One row block: about the same bytes of B whatever the depth (nc_one_block is for a full KC).
  const int64_t NC = M <= MC ? blk.nc_one_block * KC / std::min(K, KC) / NR * NR : blk.nc;
  // The B panel, 64-byte aligned: the micro-kernels load whole vectors from
  // it every k step, and a load straddling two cache lines costs two.
  // A prepacked B (sgemm_pack_b) is read in place: block pc starts at pc * Np
  // floats (Np = N rounded up to NR) and column j of it at j * kc.
  thread_local std::vector<float> bstore;
  float* bpanel = nullptr;
  if (!prepacked_b) {
    const size_t bsize = static_cast<size_t>((std::min(N, NC) + NR) * std::min(K, KC));
    if (bstore.size() < bsize + 16) bstore.resize(bsize + 16);
    bpanel = reinterpret_cast<float*>((reinterpret_cast<uintptr_t>(bstore.data()) + 63) & ~uintptr_t{63});
  }

  // A shallow product (K <= 128: ResNet-50's 1x1 convolutions from 64 and 128
  // channels) spends little on each tile's multiply-adds next to storing its
  // C rows (and reading its residual): there the tiles go along each row band,
  // so C is written in MR sequential streams that the prefetchers follow,
  // each column panel of B read again from L2. Column panel by column panel,
  // each panel's tiles touched a line in every row of C, each on another
  // page. 1x1 64 -> 256 on 56x56 with a residual: 1.09 -> 0.81 ms (AVX-512),
  // 1.47 -> 1.17 (AVX2); ResNet-50 1 thread about 2-3 % faster.
  const bool rows_outer = !(epi && epi->fn) && K <= std::min<int64_t>(KC, 128);
  for (int64_t jc = 0; jc < N; jc += NC) {
    const int64_t nc = std::min(NC, N - jc);
    for (int64_t pc = 0; pc < K; pc += KC) {
      const int64_t kc = std::min(KC, K - pc);
      const float* bp = bpanel;
      if (prepacked_b) bp = prepacked_b->data.data() + pc * prepacked_b->n_padded + (j_off + jc) * kc;
      else packb(pc, kc, j_off + jc, nc, NR, bpanel);
      const bool accumulate = !(overwrite && pc == 0);
      const bool last = pc + kc >= K;
      // Bias and activation as each final tile is stored (SgemmEpilogue::bias_act).
      const SgemmBiasAct* ba = last && epi && !epi->fn && epi->bias_act.active() ? &epi->bias_act : nullptr;
      // One tile: rows ic + ir of A's block times column panel jr of B's.
      auto tile = [&](int64_t ic, int64_t mc, int64_t jr, int64_t ir) {
        const int n = static_cast<int>(std::min<int64_t>(NR, nc - jr));
        const int m = static_cast<int>(std::min<int64_t>(MR, mc - ir));
        const float* a = Ap + (ic + ir) * K + pc * MR;
        float* c = C + (ic + ir) * ldc + jc + jr;
        const int64_t row = i_off + ic + ir, col = j_off + jc + jr;
        const float* res = ba && ba->residual ? ba->residual + row * ba->ldr + col : nullptr;
        // The residual's rows come from memory, one line each a row apart: fetched
        // while the tile computes, else the stores wait on them (30 % slower).
        if (res)
          for (int i = 0; i < m; ++i) {
            __builtin_prefetch(res + i * ba->ldr);
            __builtin_prefetch(res + i * ba->ldr + n - 1);
          }
        if (ba && uk.run_bias_act) {
          uk.run_bias_act(kc, a, bp + jr * kc, c, ldc, m, n, accumulate, ba->bias ? ba->bias + row : nullptr, res, *ba);
        } else {
          uk.run(kc, a, bp + jr * kc, c, ldc, m, n, accumulate);
          if (ba) finish_tile(*ba, row, col, c, ldc, m, n);
        }
      };
      if (rows_outer && kc == K) {
        for (int64_t ic = 0; ic < M; ic += MC) {
          const int64_t mc = std::min(MC, M - ic);
          for (int64_t ir = 0; ir < mc; ir += MR)
            for (int64_t jr = 0; jr < nc; jr += NR) tile(ic, mc, jr, ir);
        }
        continue;
      }
      for (int64_t ic = 0; ic < M; ic += MC) {
        const int64_t mc = std::min(MC, M - ic);
        for (int64_t jr = 0; jr < nc; jr += NR) {
          const int n = static_cast<int>(std::min<int64_t>(NR, nc - jr));
          for (int64_t ir = 0; ir < mc; ir += MR) tile(ic, mc, jr, ir);
          if (epi && epi->fn && last)
            epi->fn(i_off + ic, i_off + ic + mc, j_off + jc + jr, j_off + jc + jr + n, C + ic * ldc + jc + jr, ldc);
        }
      }
    }
  }
}

// gemv over outputs [0, n), split over the pool in blocks of 16 outputs (the
// row kernels' pass width) when there is enough to share: a batch-1 fully
// connected layer streams its whole weight matrix, which one core cannot
// read as fast as two.
void gemv_split(bool m_cols_contig, int64_t K, int64_t n, float alpha, const float* x, int64_t incx, const float* m,
                int64_t ldm, float beta, float* y, int64_t incy, ThreadPool* pool) {
  constexpr int64_t kBlock = 16;
  const int64_t blocks = (n + kBlock - 1) / kBlock;
  auto run = [&](int64_t b0, int64_t b1) {
    gemv(m_cols_contig, K, b0 * kBlock, std::min(n, b1 * kBlock), alpha, x, incx, m, ldm, beta, y, incy);
  };
  // About 64K multiply-adds per task at least: below that a hand-off costs more.
  const int64_t grain = std::max<int64_t>(1, (int64_t{1} << 16) / std::max<int64_t>(1, K * kBlock));
  if (pool == nullptr || pool->size() < 2 || n * K < (int64_t{1} << 18)) run(0, blocks);
  else pool->parallel_for(blocks, grain, run);
}

// Matrix-vector shapes and degenerate sizes; false when a real GEMM is due.
bool sgemm_special(bool ta, bool tb, int64_t M, int64_t N, int64_t K, float alpha, const float* A, int64_t lda,
                   const float* B, int64_t ldb, float beta, float* C, int64_t ldc, ThreadPool* pool) {
  if (M <= 0 || N <= 0) return true;
  if (K <= 0 || alpha == 0.f) {
    if (beta != 1.f) scale_c(M, N, beta, C, ldc);
    return true;
  }
  if (M == 1) {  // C row = alpha * a^T op(B): a is row 0 of op(A)
    gemv_split(tb, K, N, alpha, A, ta ? lda : 1, B, ldb, beta, C, 1, pool);
    return true;
  }
  if (N == 1) {  // C column = alpha * op(A) b: b is column 0 of op(B)
    gemv_split(!ta, K, M, alpha, B, tb ? 1 : ldb, A, lda, beta, C, ldc, pool);
    return true;
  }
  return false;
}

thread_local std::vector<float> t_packed_a;

// Splits C over the pool, one slice per thread on tile boundaries: by
// columns wherever there are at least four NR panels per thread (A is packed
// once, by all threads, and each packs only its own columns of B), else by
// rows (each thread then packs all of B: duplicated work that pays only when
// N is too narrow to share). `Ap` is op(A) packed for all M rows, or being packed: when
// `pack` is set, each thread packs the panels it needs first.
void run_packed(const SgemmUKernel& uk, float* Ap, const std::function<void(int64_t, int64_t)>* pack, int64_t M,
                int64_t N, int64_t K, const SgemmPackB& packb, bool overwrite, float* C, int64_t ldc, ThreadPool* pool,
                const SgemmEpilogue* epi = nullptr, const SgemmPackedB* prepacked_b = nullptr) {
  const int MR = uk.mr;
  const int threads = pool ? pool->size() : 1;
  // Below ~1 MFLOP a thread hand-off costs more than it saves.
  if (threads < 2 || static_cast<double>(M) * N * K < (1 << 19)) {
    if (pack) (*pack)(0, M);
    gemm_packed_a(uk, Ap, M, N, K, packb, 0, overwrite, C, ldc, 0, epi, prepacked_b);
    return;
  }
  // A prepacked B (constant weights: a transformer's projections) with rows
  // enough for four row tiles per thread: split the rows. Each thread then
  // packs, multiplies and writes the rows its own core made and the next
  // row-wise kernel (bias and activation, layer norm, quantize) reads there,
  // and streams all of B from the shared cache. Split by columns, every
  // thread read half of A and the next kernel half of C from the other
  // core, and A was packed in a region of its own: the float BERT at 2
  // threads 3.90 -> 3.77 ms (AVX2 kernel 5.30 -> 4.97).
  const bool rows_for_all = prepacked_b != nullptr && M >= int64_t{threads} * 4 * MR;
  const bool split_n = !rows_for_all && (N >= M || N >= int64_t{4} * uk.nr * threads);
  const int64_t len = split_n ? N : M;
  const int64_t unit = split_n ? uk.nr : MR;
  const int64_t units = (len + unit - 1) / unit;
  const int64_t chunks = std::min<int64_t>(threads, units);
  if (split_n && pack) {
    const int64_t panels = (M + MR - 1) / MR;
    pool->parallel_for(panels, 1, [&](int64_t p0, int64_t p1) { (*pack)(p0* MR, std::min(M, p1 * MR)); });
  }
  pool->parallel_for(chunks, 1, [&](int64_t c0, int64_t c1) {
    for (int64_t c = c0; c < c1; ++c) {
      const int64_t b = std::min(len, units * c / chunks * unit);
      const int64_t e = std::min(len, units * (c + 1) / chunks * unit);
      if (b >= e) continue;
      if (split_n) {
        gemm_packed_a(uk, Ap, M, e - b, K, packb, b, overwrite, C + b, ldc, 0, epi, prepacked_b);
      } else {
        if (pack) (*pack)(b, e);
        gemm_packed_a(uk, Ap + b * K, e - b, N, K, packb, 0, overwrite, C + b * ldc, ldc, b, epi, prepacked_b);
      }
    }
  });
}

}  // namespace

// The same operations, in the same order, as the AVX2 kernel's registers.
void sgemm_finish_tile(const SgemmBiasAct& ba, const float* bias, const float* res, float* c, int64_t ldc, int64_t m,
                       int64_t n) {
  for (int64_t i = 0; i < m; ++i) {
    float* ci = c + i * ldc;
    if (bias) {
      const float b = bias[i];
      for (int64_t j = 0; j < n; ++j) ci[j] += b;
    }
    if (res) {
      const float* ri = res + i * ba.ldr;
      for (int64_t j = 0; j < n; ++j) ci[j] += ri[j];
    }
    if (ba.act == SgemmBiasAct::Relu)
      for (int64_t j = 0; j < n; ++j) ci[j] = ci[j] > 0.f ? ci[j] : 0.f;
    else if (ba.act == SgemmBiasAct::Clip)
      for (int64_t j = 0; j < n; ++j) ci[j] = std::min(std::max(ci[j], ba.lo), ba.hi);
  }
}

void sgemm_finish_transposed(const float* yt, int64_t ldt, int64_t P, int64_t m0, int64_t m1, const SgemmBiasAct& ba,
                             float* y, int64_t ldy) {
  if (const SgemmFinishTransposed k = active_ukernel().finish_transposed) {
    k(yt, ldt, P, m0, m1, ba, y, ldy);
    return;
  }
  // 16 x 16 blocks, Yt read down its columns within a block.
  constexpr int64_t kT = 16;
  for (int64_t mb = m0; mb < m1; mb += kT) {
    const int64_t me = std::min(m1, mb + kT);
    for (int64_t p0 = 0; p0 < P; p0 += kT) {
      const int64_t p1 = std::min(P, p0 + kT);
      for (int64_t m = mb; m < me; ++m) {
        float* ym = y + m * ldy + p0;
        for (int64_t q = p0; q < p1; ++q) ym[q - p0] = yt[q * ldt + m];
        sgemm_finish_tile(ba, ba.bias ? ba.bias + m : nullptr, ba.residual ? ba.residual + m * ba.ldr + p0 : nullptr,
                          ym, ldy, 1, p1 - p0);
      }
    }
  }
}

const char* sgemm_isa() { return sgemm_paths().active.c_str(); }

SgemmTile sgemm_tile() { return {active_ukernel().mr, active_ukernel().nr}; }

void sgemm(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, float alpha, const float* A, int64_t lda,
           const float* B, int64_t ldb, float beta, float* C, int64_t ldc, ThreadPool* pool) {
  if (sgemm_special(trans_a, trans_b, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc, pool)) return;
  if (beta != 0.f && beta != 1.f) scale_c(M, N, beta, C, ldc);
  const SgemmUKernel& uk = active_ukernel();
  const size_t need = static_cast<size_t>(packed_a_size(M, K, uk.mr));
  if (t_packed_a.size() < need) t_packed_a.resize(need);
  float* Ap = t_packed_a.data();
  const std::function<void(int64_t, int64_t)> pack = [&](int64_t i0, int64_t i1) {
    pack_a(trans_a, A, lda, i0, i1, K, uk.mr, alpha, Ap + i0 * K);
  };
  run_packed(uk, Ap, &pack, M, N, K, matrix_packer(trans_b, B, ldb), beta == 0.f, C, ldc, pool);
}

SgemmPackedA sgemm_pack_a(bool trans_a, int64_t M, int64_t K, const float* A, int64_t lda) {
  const SgemmUKernel& uk = active_ukernel();
  SgemmPackedA p;
  p.M = M;
  p.K = K;
  p.mr = uk.mr;
  p.data.resize(static_cast<size_t>(packed_a_size(M, K, uk.mr)));
  pack_a(trans_a, A, lda, 0, M, K, uk.mr, 1.f, p.data.data());
  return p;
}

void sgemm_prepacked(const SgemmPackedA& a, bool trans_b, int64_t N, const float* B, int64_t ldb, float beta, float* C,
                     int64_t ldc, ThreadPool* pool, const SgemmEpilogue* epilogue) {
  sgemm_prepacked_fn(a, N, matrix_packer(trans_b, B, ldb), beta, C, ldc, pool, epilogue);
}

void sgemm_prepacked_fn(const SgemmPackedA& a, int64_t N, const SgemmPackB& pack_b, float beta, float* C, int64_t ldc,
                        ThreadPool* pool, const SgemmEpilogue* epilogue) {
  const SgemmUKernel& uk = active_ukernel();
  if (a.M <= 0 || N <= 0) return;
  if (a.K <= 0) {
    if (beta != 1.f) scale_c(a.M, N, beta, C, ldc);
    if (epilogue && epilogue->fn) epilogue->fn(0, a.M, 0, N, C, ldc);
    else if (epilogue && epilogue->bias_act.active()) finish_tile(epilogue->bias_act, 0, 0, C, ldc, a.M, N);
    return;
  }
  if (beta != 0.f && beta != 1.f) scale_c(a.M, N, beta, C, ldc);
  run_packed(uk, const_cast<float*>(a.data.data()), nullptr, a.M, N, a.K, pack_b, beta == 0.f, C, ldc, pool, epilogue);
}

bool sgemm_has_shifted() { return active_ukernel().run_shifted != nullptr; }

// Tasks of one row of B's columns, or a block of one: about 16 KiB of B
// (K rows of the block's columns), so every band of MR rows of A reads it
// from L1 (a 112x112 map's 12544 columns as one block would be read from L3
// by each band). Blocks are whole tiles (nr columns) but the last of a row,
// which takes the rest and is at least nr wide where the row is.
bool sgemm_prepacked_shifted(const SgemmPackedA& a, int64_t N, const SgemmShiftedB& b, float* C, int64_t ldc,
                             ThreadPool* pool, const SgemmEpilogue* epi) {
  const SgemmUKernel& uk = active_ukernel();
  if (!uk.run_shifted || a.mr != uk.mr || a.K <= 0 || b.width <= 0 || N % b.width != 0) return false;
  const int64_t M = a.M, K = a.K, w = b.width, rows = N / w, nr = uk.nr;
  const int64_t block = std::max(nr, (int64_t{4096} / K) / nr * nr);
  int64_t per_row = (w + block - 1) / block;
  if (per_row > 1 && w - (per_row - 1) * block < nr) --per_row;  // the last block takes the short rest
  const SgemmBiasAct* ba = epi && !epi->fn && epi->bias_act.active() ? &epi->bias_act : nullptr;
  const SgemmBiasAct none;
  auto run = [&](int64_t t0, int64_t t1) {
    for (int64_t t = t0; t < t1; ++t) {
      const int64_t r = t / per_row, j0 = t % per_row * block, j1 = t % per_row == per_row - 1 ? w : j0 + block;
      const int64_t col = r * w + j0;
      for (int64_t i = 0; i < M; i += uk.mr) {
        const int m = static_cast<int>(std::min<int64_t>(uk.mr, M - i));
        const float* res = ba && ba->residual ? ba->residual + i * ba->ldr + col : nullptr;
        uk.run_shifted(K, a.data.data() + i * K, b.base + r * b.stride + j0, b.shift, j1 - j0, C + i * ldc + col, ldc,
                       m, ba && ba->bias ? ba->bias + i : nullptr, res, ba ? *ba : none);
      }
      if (epi && epi->fn) epi->fn(0, M, col, col + (j1 - j0), C + col, ldc);
    }
  };
  const int64_t tasks = rows * per_row;
  // About 128K multiply-adds per task at least.
  const int64_t grain = std::max<int64_t>(1, (int64_t{1} << 17) / std::max<int64_t>(1, M * K * std::min(w, block)));
  if (pool == nullptr || pool->size() < 2 || static_cast<double>(M) * N * K < (1 << 19)) run(0, tasks);
  else pool->parallel_for(tasks, grain, run);
  return true;
}

SgemmPackedB sgemm_pack_b(bool trans_b, int64_t K, int64_t N, const float* B, int64_t ldb) {
  const SgemmUKernel& uk = active_ukernel();
  const int64_t KC = blocking().kc;
  SgemmPackedB p;
  p.K = K;
  p.N = N;
  p.nr = uk.nr;
  p.kc = KC;
  p.n_padded = (N + uk.nr - 1) / uk.nr * uk.nr;
  p.data.resize(static_cast<size_t>(p.n_padded * K));
  for (int64_t pc = 0; pc < K; pc += KC)
    pack_b(trans_b, B, ldb, pc, 0, std::min(KC, K - pc), N, uk.nr, p.data.data() + pc * p.n_padded);
  return p;
}

void sgemm_packed_b(bool trans_a, int64_t M, float alpha, const float* A, int64_t lda, const SgemmPackedB& b,
                    float beta, float* C, int64_t ldc, ThreadPool* pool) {
  const SgemmUKernel& uk = active_ukernel();
  const int64_t N = b.N, K = b.K;
  if (M <= 0 || N <= 0) return;
  if (K <= 0 || alpha == 0.f) {
    if (beta != 1.f) scale_c(M, N, beta, C, ldc);
    return;
  }
  if (b.nr != uk.nr || b.kc != blocking().kc)
    throw std::logic_error("sgemm_packed_b: B was packed for another micro-kernel or block size");
  if (beta != 0.f && beta != 1.f) scale_c(M, N, beta, C, ldc);
  const size_t need = static_cast<size_t>(packed_a_size(M, K, uk.mr));
  if (t_packed_a.size() < need) t_packed_a.resize(need);
  float* Ap = t_packed_a.data();
  const std::function<void(int64_t, int64_t)> pack = [&](int64_t i0, int64_t i1) {
    pack_a(trans_a, A, lda, i0, i1, K, uk.mr, alpha, Ap + i0 * K);
  };
  const SgemmPackB unused = [](int64_t, int64_t, int64_t, int64_t, int, float*) {};
  run_packed(uk, Ap, &pack, M, N, K, unused, beta == 0.f, C, ldc, pool, nullptr, &b);
}

}  // namespace simd
}  // namespace pionnx
