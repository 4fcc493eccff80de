// The integer GEMM driver (blocking, packing, zero points, threading) and the
// portable micro-kernel. The instruction-set kernels live in qgemm_<isa>.cc
// behind qgemm_ukernel.h (panel layouts there) and are chosen once, at first
// use; this file has no instruction-set code.
#include "kernels/simd/qgemm.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "kernels/simd/dispatch.h"
#include "kernels/simd/qgemm_ukernel.h"
#include "platform/thread_pool.h"

namespace pionnx {
namespace simd {
namespace {

// Block sizes: a kKc x kNc int16 panel of B (128 KiB) stays in L2 while
// every row of A in the task streams past it.
constexpr int64_t kKc = 256;
constexpr int64_t kNc = kQNc;
constexpr int64_t kMc = 256;     // rows sharing one packed panel of B
constexpr int kRows = kQRows;    // rows of A sharing each loaded part of the B panel
constexpr int64_t kNr = 32;      // panel width is padded to a multiple of this
constexpr int64_t kPackNc = 64;  // panel width of a prepacked B (qgemm_pack_b)

// The portable int16-pair kernel.
void kernel_generic(const int16_t* a, int64_t lda, int64_t kcp, const int16_t* b, int64_t ncp, int32_t (*acc)[kQNc]) {
  for (int r = 0; r < kRows; ++r) std::memset(acc[r], 0, sizeof(int32_t) * ncp);
  for (int64_t j0 = 0; j0 < ncp; j0 += kQStrip) {
    for (int64_t kp = 0; kp < kcp / 2; ++kp) {
      const int16_t* brow = b + pair_index(kcp, kp, j0);
      for (int r = 0; r < kRows; ++r) {
        const int32_t a0 = a[r * lda + 2 * kp], a1 = a[r * lda + 2 * kp + 1];
        if ((a0 | a1) == 0) continue;
        int32_t* out = acc[r] + j0;
        for (int64_t j = 0; j < kQStrip; ++j) out[j] += a0 * brow[2 * j] + a1 * brow[2 * j + 1];
      }
    }
  }
}

}  // namespace

// Paths, portable first. vnni: u8 x s8 dot products in 256-bit AVX512-VL
// registers; vnni512: the same in 512-bit ones (a part that down-clocks on
// zmm can be held to the 256-bit kernel with PIONNX_QGEMM=vnni); amx: AMX
// tiles (qgemm_amx.cc), same packing and zero-point handling as VNNI.
const PathChoice& qgemm_paths() {
  static const PathChoice choice = platform::choose_path(
      "integer GEMM", "PIONNX_QGEMM", {"generic", "neon", "sse2", "avx2", "vnni", "vnni512", "amx"},
      {true, qgemm_kernel_neon() != nullptr && platform::cpu_features().neon, qgemm_kernel_sse2() != nullptr,
       qgemm_kernel_avx2() != nullptr, qgemm_ukernel_vnni() != nullptr, qgemm_ukernel_vnni512() != nullptr,
       qgemm_ukernel_amx() != nullptr});
  return choice;
}

namespace {

// The quad kernel of a VNNI path, else nullptr.
const QQuadUKernel* pick_quad_kernel() {
  const std::string& path = qgemm_paths().active;
  if (path == "amx") return qgemm_ukernel_amx();
  if (path == "vnni512") return qgemm_ukernel_vnni512();
  if (path == "vnni") return qgemm_ukernel_vnni();
  return nullptr;
}

// The int16-pair kernel of the chosen path (the VNNI paths keep AVX2's for
// anything they do not take).
QPairKernel pick_kernel() {
  const std::string& path = qgemm_paths().active;
  QPairKernel k = nullptr;
  if (path == "neon") k = qgemm_kernel_neon();
  else if (path == "avx2" || path == "vnni" || path == "vnni512" || path == "amx") k = qgemm_kernel_avx2();
  else if (path == "sse2") k = qgemm_kernel_sse2();
  return k != nullptr ? k : kernel_generic;
}

const QQuadUKernel* const kQuad = pick_quad_kernel();
const QPairKernel kKernel = pick_kernel();
// The instruction set's packer (for a per-tensor zero point) and float finish, where its kernel is the one in use.
const bool kAvx2Pairs = kKernel == qgemm_kernel_avx2();  // (nullptr without AVX2; kKernel never is)
const QPairPackB kPackB = kAvx2Pairs ? qgemm_pack_b_avx2() : nullptr;
const QPairFinishFloat kFinishFloat = kAvx2Pairs ? qgemm_finish_float_avx2() : nullptr;

template <typename T>
void pack_b(const QGemmArgs& g, int64_t k0, int64_t kc, int64_t j0, int64_t nc, int64_t ncp, int16_t* out) {
  const T* B = static_cast<const T*>(g.B);
  int32_t zp_col[kNc];
  for (int64_t j = 0; j < nc; ++j) zp_col[j] = g.b_zp == nullptr ? 0 : g.b_zp[g.b_zp_per_col ? j0 + j : 0];
  const int64_t kcp = (kc + 1) / 2 * 2;
  const int64_t full = nc / kQStrip * kQStrip;  // columns in whole strips
  // Zeros where nothing is written below: the columns past the whole strips (and past nc), an odd kc's last half.
  if (full != ncp || kc != kcp) std::memset(out, 0, sizeof(int16_t) * static_cast<size_t>(kcp * ncp));
  // Two depth rows at a time into whole strips, pairs written side by side (the loop vectorizes; one row at a
  // time it stored every other int16, a tenth of a quantized MobileNetV2's time on this path).
  int64_t k = 0;
  for (; k + 2 <= kc; k += 2) {
    const T* r0 = B + (k0 + k) * g.ldb + j0;
    const T* r1 = r0 + g.ldb;
    for (int64_t s = 0; s < full; s += kQStrip) {
      int16_t* dst = out + pair_index(kcp, k / 2, s);
      for (int64_t j = 0; j < kQStrip; ++j) {
        dst[2 * j] = static_cast<int16_t>(r0[s + j] - zp_col[s + j]);
        dst[2 * j + 1] = static_cast<int16_t>(r1[s + j] - zp_col[s + j]);
      }
    }
  }
  // The last row of an odd kc, and the columns of a last partial strip, one value at a time.
  for (int64_t kk = 0; kk < kc; ++kk) {
    const T* src = B + (k0 + kk) * g.ldb + j0;
    const bool done = kk < k;  // (its whole strips written above)
    for (int64_t s = done ? full : 0; s < nc; s += kQStrip) {
      int16_t* dst = out + pair_index(kcp, kk / 2, s) + (kk % 2);
      for (int64_t j = s; j < std::min(nc, s + kQStrip); ++j)
        dst[2 * (j - s)] = static_cast<int16_t>(src[j] - zp_col[j]);
    }
  }
}

// A converted once for every column block (the int16-pair kernels): rows of
// `lda` int16 (K rounded up to even), the zero point subtracted, rows
// rounded up to kRows, zero padded.
struct PairA {
  std::unique_ptr<int16_t[]> data;  // not value-initialized: every element is written once
  const int16_t* ptr = nullptr;     // data, or a QGemmPreparedA's rows
  int64_t lda = 0;
};

template <typename T>
void convert_rows(const QGemmArgs& g, int64_t i0, int64_t i1, PairA& a) {
  for (int64_t i = i0; i < i1; ++i) {
    const T* src = static_cast<const T*>(g.A) + i * g.lda;
    int16_t* dst = a.data.get() + i * a.lda;
    const int32_t zp = g.a_zp == nullptr ? 0 : g.a_zp[g.a_zp_per_row ? i : 0];
    for (int64_t k = 0; k < g.K; ++k) dst[k] = static_cast<int16_t>(src[k] - zp);
    if (a.lda > g.K) dst[g.K] = 0;  // K odd: the last pair's second half
  }
}

// fn over rows [0, M) of A: on the pool in blocks of 16 rows once A holds
// 64 KiB or more (front rows on the calling thread, see ThreadPool, as the
// product's tasks will take them), else inline.
void over_rows(const QGemmArgs& g, ThreadPool* pool, const std::function<void(int64_t, int64_t)>& fn) {
  if (pool == nullptr || g.M * g.K < (int64_t{1} << 16)) fn(0, g.M);
  else pool->parallel_for(g.M, 16, fn);
}

PairA pair_prepare_a(const QGemmArgs& g, ThreadPool* pool) {
  PairA a;
  a.lda = (g.K + 1) / 2 * 2;
  const int64_t rows = (g.M + kRows - 1) / kRows * kRows;
  a.data.reset(new int16_t[static_cast<size_t>(rows * a.lda)]);
  std::fill(a.data.get() + g.M * a.lda, a.data.get() + rows * a.lda, int16_t{0});  // rows past M
  over_rows(g, pool, [&](int64_t i0, int64_t i1) {
    if (g.a_signed) convert_rows<int8_t>(g, i0, i1, a);
    else convert_rows<uint8_t>(g, i0, i1, a);
  });
  a.ptr = a.data.get();
  return a;
}

// Where panel (depth block kb, column block nb) of a prepacked B starts:
// every panel gets a full kKc x kPackNc slot.
int64_t packed_offset(int64_t K, int64_t kb, int64_t nb) {
  const int64_t nkb = (K + kKc - 1) / kKc;
  return (nb * nkb + kb) * kKc * kPackNc;
}

void pack_b_panel(const QGemmArgs& g, int64_t k0, int64_t kc, int64_t j0, int64_t nc, int64_t ncp, int16_t* out) {
  if (kPackB != nullptr && (g.b_zp == nullptr || !g.b_zp_per_col)) {
    const int64_t elem = g.ldb * k0 + j0;  // (bytes: 8-bit B)
    kPackB(static_cast<const uint8_t*>(g.B) + elem, g.ldb, g.b_signed, g.b_zp == nullptr ? 0 : g.b_zp[0], kc, nc, ncp,
           out);
    return;
  }
  if (g.b_signed) pack_b<int8_t>(g, k0, kc, j0, nc, ncp, out);
  else pack_b<uint8_t>(g, k0, kc, j0, nc, ncp, out);
}

// Row i, columns [j, j + w) of the float output (QGemmArgs::Cf): the sums
// in acc plus, where K spans several depth blocks, the partial ones in prev.
void store_float(const QGemmArgs& g, int64_t i, int64_t j, int64_t w, const int32_t* acc, const int32_t* prev) {
  float* cf = g.Cf + i * g.ldcf + j;
  const float* bias = g.bias ? g.bias + j : nullptr;
  // The conditions outside the loops, so each loop vectorizes; the sum is
  // converted in place first (the same roundings as one expression).
  if (prev)
    for (int64_t t = 0; t < w; ++t) cf[t] = static_cast<float>(acc[t] + prev[t]);
  else
    for (int64_t t = 0; t < w; ++t) cf[t] = static_cast<float>(acc[t]);
  if (g.scale_per_col) {
    const float* scale = g.scale + j;
    for (int64_t t = 0; t < w; ++t) cf[t] *= scale[t];
  } else {
    const float scale = g.scale[0];
    for (int64_t t = 0; t < w; ++t) cf[t] *= scale;
  }
  if (bias)
    for (int64_t t = 0; t < w; ++t) cf[t] += bias[t];
}

// One task of a product into C (stored, or added with `accumulate`): rows [i0, i1) x columns [j0, j0 + nc). B's
// panels come from g.packed_b when given (then j0 is a multiple of kPackNc and nc at most kPackNc), else are packed
// here into bpanel. (Rows handed over or written as floats take qgemm_block_rows.)
void qgemm_block(const QGemmArgs& g, const PairA& A, int64_t i0, int64_t i1, int64_t j0, int64_t nc,
                 std::vector<int16_t>& bpanel) {
  const int64_t ncp = (nc + kNr - 1) / kNr * kNr;
  if (!g.packed_b) bpanel.resize(static_cast<size_t>(kKc * ncp));
  alignas(32) int32_t acc[kRows][kNc];
  for (int64_t k0 = 0; k0 < g.K; k0 += kKc) {
    const int64_t kc = std::min(kKc, g.K - k0), kcp = (kc + 1) / 2 * 2;
    const int16_t* panel =
        g.packed_b ? g.packed_b->data.data() + packed_offset(g.K, k0 / kKc, j0 / kPackNc) : bpanel.data();
    if (!g.packed_b) pack_b_panel(g, k0, kc, j0, nc, ncp, bpanel.data());
    const bool store = k0 == 0 && !g.accumulate;
    // kNr columns (two strips, 16 KiB at full depth) at a time past every row of the task, so the strips
    // are read from L1 by all but the first rows.
    for (int64_t js = 0; js < nc; js += kNr) {
      const int64_t w = std::min(kNr, nc - js);
      for (int64_t i = i0; i < i1; i += kRows) {
        const int rows = static_cast<int>(std::min<int64_t>(kRows, i1 - i));
        kKernel(A.ptr + i * A.lda + k0, A.lda, kcp, panel + pair_index(kcp, 0, js), kNr, acc);
        for (int r = 0; r < rows; ++r) {
          int32_t* c = g.C + (i + r) * g.ldc + j0 + js;
          if (w == kNr) {  // a fixed count: vector moves (a memcpy of variable size became rep movsq, ~35
                           // cycles to start, 12 % of a 128x1024x256 product)
            if (store)
              for (int64_t j = 0; j < kNr; ++j) c[j] = acc[r][j];
            else
              for (int64_t j = 0; j < kNr; ++j) c[j] += acc[r][j];
          } else if (store) {
            for (int64_t j = 0; j < w; ++j) c[j] = acc[r][j];
          } else {
            for (int64_t j = 0; j < w; ++j) c[j] += acc[r][j];
          }
        }
      }
    }
  }
}

// qgemm_block where the finished rows are handed over (QGemmArgs::row_out, a quantized convolution's
// requantization) or written as floats (Cf, MatMulIntegerToFloat), neither accumulated: the column block in
// sub-blocks whose whole depth is packed at once (kRowsPanelBytes of panels; a prepacked B's panels as they are),
// each sub-block's rows in groups of kRowsGroup made by the kernel straight into the group's sums (a row kQNc
// apart: the kernel's own output rows, no copy) and finished while they are in the cache. A kernel call covers as
// many strips as keep its part of the panel in L1 (kRowsCallBytes), not two: with a short depth (a 16- or
// 24-channel 1x1 layer: 8 or 12 pairs a strip) the calls' fixed costs were most of the work. Depth past one block
// (kKc) goes through acc and is added. qgemm_block copied every sum into a buffer of the whole task's rows and
// handed them over at its end (a quantized MobileNetV2 on AVX2 spent a tenth of its time in that copy), and
// wrote floats 4 rows x 32 columns at a time.
constexpr int64_t kRowsGroup = 32;
constexpr int64_t kRowsPanelBytes = 128 * 1024;
constexpr int64_t kRowsCallBytes = 16 * 1024;

void qgemm_block_rows(const QGemmArgs& g, const PairA& A, int64_t i0, int64_t i1, int64_t j0, int64_t nc,
                      std::vector<int16_t>& bpanel) {
  const int64_t nkb = (g.K + kKc - 1) / kKc;
  const int64_t kslot = std::min(kKc, (g.K + 1) / 2 * 2);  // one depth block's pairs, as packed (even)
  const QGemmPackedB* pk = g.packed_b;                     // (its panels: j0 a multiple of kPackNc, nc at most kPackNc)
  // Sub-block width: the whole depth's panels within kRowsPanelBytes, a multiple of kNr.
  const int64_t wsub =
      pk ? nc : std::max(kNr, std::min((nc + kNr - 1) / kNr * kNr, kRowsPanelBytes / (2 * nkb * kslot) / kNr * kNr));
  thread_local std::vector<int32_t> sums;
  sums.resize(static_cast<size_t>(kRowsGroup * kQNc));
  alignas(32) int32_t acc[kRows][kNc];
  for (int64_t jb = 0; jb < nc; jb += wsub) {
    // Whole strips only (a 196-column map's last call 16 columns wide, not 32: 6 % less padding on 14x14 maps).
    const int64_t n = std::min(wsub, nc - jb);
    const int64_t np = pk ? (n + kNr - 1) / kNr * kNr : (n + kQStrip - 1) / kQStrip * kQStrip;
    auto panel_of = [&](int64_t kb) -> const int16_t* {
      return pk ? pk->data.data() + packed_offset(g.K, kb, j0 / kPackNc) : bpanel.data() + kb * kslot * np;
    };
    if (!pk) {
      bpanel.resize(static_cast<size_t>(nkb * kslot * np));
      for (int64_t kb = 0; kb < nkb; ++kb) {
        const int64_t k0 = kb * kKc, kc = std::min(kKc, g.K - k0);
        pack_b_panel(g, k0, kc, j0 + jb, n, np, bpanel.data() + kb * kslot * np);
      }
    }
    for (int64_t ig = i0; ig < i1; ig += kRowsGroup) {
      const int64_t ie = std::min(i1, ig + kRowsGroup);
      for (int64_t kb = 0; kb < nkb; ++kb) {
        const int64_t k0 = kb * kKc, kc = std::min(kKc, g.K - k0), kcp = (kc + 1) / 2 * 2;
        const int16_t* panel = panel_of(kb);
        const int64_t wcall = std::max(kNr, std::min(np, kRowsCallBytes / (2 * kcp) / kNr * kNr));
        for (int64_t js = 0; js < np; js += wcall) {
          const int64_t w = std::min(wcall, np - js);
          for (int64_t i = ig; i < ie; i += kRows) {
            int32_t* rows = sums.data() + (i - ig) * kQNc + js;  // the group's sums hold whole kRows blocks
            const int16_t* a = A.ptr + i * A.lda + k0;
            if (kb == 0) {
              kKernel(a, A.lda, kcp, panel + pair_index(kcp, 0, js), w, reinterpret_cast<int32_t(*)[kQNc]>(rows));
              continue;
            }
            kKernel(a, A.lda, kcp, panel + pair_index(kcp, 0, js), w, acc);
            for (int r = 0; r < kRows; ++r)
              for (int64_t j = 0; j < w; ++j) rows[r * kQNc + j] += acc[r][j];
          }
        }
      }
      if (g.row_out) g.row_out(g.row_out_ctx, ig, ie - ig, j0 + jb, sums.data(), kQNc, n, nullptr, nullptr);
      else if (kFinishFloat)
        kFinishFloat(sums.data(), kQNc, ie - ig, n, g.scale_per_col ? g.scale + j0 + jb : g.scale, g.scale_per_col,
                     g.bias ? g.bias + j0 + jb : nullptr, g.Cf + ig * g.ldcf + j0 + jb, g.ldcf);
      else
        for (int64_t i = ig; i < ie; ++i) store_float(g, i, j0 + jb, n, sums.data() + (i - ig) * kQNc, nullptr);
    }
  }
}

// qgemm_block for the VNNI kernel: with A' = A (+128 if int8) and
// B' = B (-128 if uint8), zero points za' and zb' shifted alike,
//   sum (A' - za')(B' - zb') = sum A'B' - zb' sum A' - za' sum B' + K za' zb'.
// A as the kernel reads it: uint8 rows `lda` apart, K rounded up to the
// kernel's depth_align and rows to its row_align, zero past K and M; and each
// row's sum. A uint8 A that already has that shape (a transformer's
// activations: K and M multiples of 64 and 16) is used where it lies;
// anything else is converted once for every column block.
struct VnniA {
  std::vector<uint8_t> data;
  const uint8_t* ptr = nullptr;
  std::vector<int32_t> rowsum_data;
  const int32_t* rowsum = nullptr;  // rowsum_data, or a QGemmPreparedA's (not copied per call)
  int64_t lda = 0;
};

// A as the quad kernels read it, and its row sums (the kernel's row_sums),
// over the pool's threads as over_rows splits them, so each thread reads
// the rows it will multiply.
// Whether the quad kernels need A's row sums: they are multiplied by B's shifted zero point, 0 for an int8 B
// whose zero points are all 0 (symmetric weights, quantize_dynamic's default), which then needs none (an int8
// transformer's products).
bool vnni_needs_row_sums(const QGemmArgs& g) {
  bool sums = !g.b_signed;
  for (int64_t j = 0; !sums && g.b_zp != nullptr && j < (g.b_zp_per_col ? g.N : 1); ++j) sums = g.b_zp[j] != 0;
  return sums;
}

VnniA vnni_prepare_a(const QGemmArgs& g, ThreadPool* pool) {
  VnniA a;
  const int64_t da = kQuad->depth_align, ra = kQuad->row_align;
  a.rowsum_data.resize(static_cast<size_t>(g.M));  // zeros
  a.rowsum = a.rowsum_data.data();
  const bool sums = vnni_needs_row_sums(g);
  if (!g.a_signed && g.K % da == 0 && g.M % ra == 0) {
    a.lda = g.lda;
    a.ptr = static_cast<const uint8_t*>(g.A);
    if (sums)
      over_rows(g, pool, [&](int64_t i0, int64_t i1) {
        kQuad->row_sums(a.ptr + i0 * g.lda, g.lda, i1 - i0, g.K, &a.rowsum_data[i0]);
      });
    return a;
  }
  a.lda = (g.K + da - 1) / da * da;
  const int64_t rows = (g.M + ra - 1) / ra * ra;
  a.data.resize(static_cast<size_t>(rows * a.lda));  // every byte written below
  // Copy, then sum (the fused byte loop stayed scalar: a fifth of a
  // 128x1536x384 product on AMX).
  over_rows(g, pool, [&](int64_t i0, int64_t i1) {
    for (int64_t i = i0; i < i1; ++i) {
      const uint8_t* __restrict src = static_cast<const uint8_t*>(g.A) + i * g.lda;
      uint8_t* __restrict dst = a.data.data() + i * a.lda;
      if (g.a_signed)
        for (int64_t k = 0; k < g.K; ++k) dst[k] = static_cast<uint8_t>(src[k] ^ 0x80);  // int8 + 128 as uint8
      else std::memcpy(dst, src, static_cast<size_t>(g.K));
      std::memset(dst + g.K, 0, static_cast<size_t>(a.lda - g.K));
    }
    if (sums) kQuad->row_sums(a.data.data() + i0 * a.lda, a.lda, i1 - i0, g.K, &a.rowsum_data[i0]);
  });
  std::memset(a.data.data() + g.M * a.lda, 0, static_cast<size_t>((rows - g.M) * a.lda));
  a.ptr = a.data.data();
  return a;
}

// Rows [i0, i1) x columns [j0, j0 + nc): the depth blocks' products summed
// in an int32 block of the task's own (rows x ncp), then the zero-point
// terms applied once per element on the way to C or, for a float output, to
// Cf. B's quads come from g.packed_b when given (j0 a multiple of kPackNc, nc
// at most kPackNc), else are packed here. A prepacked B's whole depth is
// taken in slabs of kSlab rows, each finished while its sums are in L1.
constexpr int64_t kSlab = 32;

void qgemm_block_vnni(const QGemmArgs& g, const VnniA& A, int64_t i0, int64_t i1, int64_t j0, int64_t nc,
                      std::vector<int16_t>& scratch) {
  const int64_t ncp = (nc + kNr - 1) / kNr * kNr;
  const QGemmPackedB* pk = g.packed_b;
  const int64_t da = kQuad->depth_align, ra = kQuad->row_align;
  auto round_rows = [ra](int64_t rows) { return (rows + ra - 1) / ra * ra; };
  // A prepacked full-width column block's depth blocks are end to end in
  // memory (kKc-deep slots of kcq/4 rows of ncp * 4 bytes, zero past K).
  const bool whole = pk && ncp == kPackNc && kQuad->whole_depth;
  thread_local std::vector<int32_t> accbuf;
  accbuf.resize(static_cast<size_t>((whole ? round_rows(std::min(kSlab, i1 - i0)) : round_rows(i1 - i0)) * ncp));
  int32_t* acc = accbuf.data();

  int8_t* bpanel = nullptr;
  int32_t* colsum = nullptr;
  if (!pk) {
    scratch.resize(static_cast<size_t>(kKc * ncp / 2 + ncp * 2));  // int8 panel + int32 column sums
    bpanel = reinterpret_cast<int8_t*>(scratch.data());
    colsum = reinterpret_cast<int32_t*>(scratch.data() + kKc * ncp / 2);
    std::memset(colsum, 0, sizeof(int32_t) * static_cast<size_t>(nc));  // summed over every depth block
  }
  const int32_t* cs = pk ? pk->colsum.data() + j0 : colsum;
  // v = acc - zb' (rowsum - K za') - za' colsum. With one zero point each
  // for A and B (per tensor) the two terms are a per-row and a per-column
  // constant, and each element costs two subtractions: int32 multiplies
  // have no baseline x86 vector instruction (SSE4.1's pmulld), so per
  // element they were emulated with shuffles (a fifth of bert_int8's GEMMs).
  // The column sums of a B packed here are complete only after its last
  // depth block: make_terms runs once they are.
  const int32_t a_shift = g.a_signed ? 128 : 0, b_shift = g.b_signed ? 0 : -128;
  // Per-row or per-column zero points that are all alike over the block (per-channel weights quantized
  // symmetrically: all 0) count as one: the per-element products of the general form, emulated on baseline x86,
  // were a ninth of a quantized MobileNetV2's time.
  auto alike = [](const int32_t* zp, bool per, int64_t from, int64_t n) {
    return zp == nullptr || !per || std::all_of(zp + from, zp + from + n, [&](int32_t z) { return z == zp[from]; });
  };
  const bool uniform = alike(g.a_zp, g.a_zp_per_row, i0, i1 - i0) && alike(g.b_zp, g.b_zp_per_col, j0, nc);
  const int32_t za0 = (g.a_zp == nullptr ? 0 : g.a_zp[g.a_zp_per_row ? i0 : 0]) + a_shift;  // A's, when uniform
  int32_t zb[kNc], colterm[kNc], v[kNc];
  auto make_terms = [&] {
    for (int64_t j = 0; j < nc; ++j) zb[j] = (g.b_zp == nullptr ? 0 : g.b_zp[g.b_zp_per_col ? j0 + j : 0]) + b_shift;
    if (uniform)
      for (int64_t j = 0; j < nc; ++j) colterm[j] = za0 * cs[j];
  };
  // Rows [ia, ib) of the product, their sums at acc (ncp apart), to the output.
  // With uniform zero points, rows [ia, ib)'s terms zb' (rowsum - K za'), for the kernel's finishes.
  auto row_terms = [&](int64_t ia, int64_t ib, int32_t* rowterm) {
    for (int64_t i = ia; i < ib; ++i) rowterm[i - ia] = zb[0] * (A.rowsum[i] - static_cast<int32_t>(g.K) * za0);
  };
  auto finish = [&](int64_t ia, int64_t ib, int32_t* sums) {
    if (uniform && g.row_out && !g.Cf && !g.accumulate) {  // handed over raw, with the terms
      int32_t rowterm[kMc];
      row_terms(ia, ib, rowterm);
      g.row_out(g.row_out_ctx, ia, ib - ia, j0, sums, ncp, nc, colterm, rowterm);
      return;
    }
    if (uniform && g.Cf && !g.accumulate && kQuad->finish_float) {  // the rows in one call
      int32_t rowterm[kMc];
      row_terms(ia, ib, rowterm);
      kQuad->finish_float(sums, ncp, colterm, rowterm, ib - ia, nc, g.scale_per_col ? g.scale + j0 : g.scale,
                          g.scale_per_col, g.bias ? g.bias + j0 : nullptr, g.Cf + ia * g.ldcf + j0, g.ldcf);
      return;
    }
    for (int64_t i = ia; i < ib; ++i) {
      const int32_t za = (g.a_zp == nullptr ? 0 : g.a_zp[g.a_zp_per_row ? i : 0]) + a_shift;
      const int32_t rowterm = A.rowsum[i] - static_cast<int32_t>(g.K) * za;
      const int32_t* ai = sums + (i - ia) * ncp;
      if (uniform) {
        const int32_t r = zb[0] * rowterm;
        for (int64_t j = 0; j < nc; ++j) v[j] = ai[j] - colterm[j] - r;
      } else {
        for (int64_t j = 0; j < nc; ++j) v[j] = ai[j] - zb[j] * rowterm - za * cs[j];
      }
      if (g.Cf && !g.accumulate) {
        store_float(g, i, j0, nc, v, nullptr);
        continue;
      }
      if (g.row_out && !g.accumulate) {
        g.row_out(g.row_out_ctx, i, 1, j0, v, nc, nc, nullptr, nullptr);
        continue;
      }
      int32_t* c = g.C + i * g.ldc + j0;
      if (g.accumulate)
        for (int64_t j = 0; j < nc; ++j) c[j] += v[j];
      else std::memcpy(c, v, sizeof(int32_t) * static_cast<size_t>(nc));
      if (g.Cf) store_float(g, i, j0, nc, c, nullptr);
    }
  };

  if (whole) {
    make_terms();
    const int8_t* panel = pk->quads.data() + packed_offset(g.K, 0, j0 / kPackNc);
    for (int64_t s = i0; s < i1; s += kSlab) {
      const int64_t e = std::min(i1, s + kSlab);
      kQuad->run(A.ptr + s * A.lda, A.lda, round_rows(e - s), (g.K + da - 1) / da * da, panel, ncp, acc, ncp, false);
      finish(s, e, acc);
    }
    return;
  }
  for (int64_t k0 = 0; k0 < g.K; k0 += kKc) {
    const int64_t kc = std::min(kKc, g.K - k0), kcq = (kc + da - 1) / da * da;
    const int8_t* panel = bpanel;
    if (pk) {
      panel = pk->quads.data() + packed_offset(g.K, k0 / kKc, j0 / kPackNc);
    } else {
      // Zeros where the packer leaves padding: a last quad of depth short of 4, columns past nc.
      if (kc != kcq || nc != ncp) std::memset(bpanel, 0, static_cast<size_t>(kcq * ncp));
      kQuad->pack_b(static_cast<const int8_t*>(g.B) + k0 * g.ldb + j0, g.ldb, g.b_signed, kc, nc, ncp, bpanel, colsum);
    }
    kQuad->run(A.ptr + i0 * A.lda + k0, A.lda, round_rows(i1 - i0), kcq, panel, ncp, acc, ncp, k0 > 0);
  }
  make_terms();
  finish(i0, i1, acc);
}

}  // namespace

void qgemm(const QGemmArgs& g_in, ThreadPool* pool) {
  if (g_in.M <= 0 || g_in.N <= 0) return;
  // With a float output and no C, C's scratch rows exist only for an empty depth (cleared below): the quad paths
  // keep a task's partial sums in its own block, the int16-pair paths' rows path (qgemm_block_rows, which takes
  // every float output and every handed-over row on them) in its group's sums.
  QGemmArgs gp = g_in;
  std::unique_ptr<int32_t[]> scratch_c;
  // A prepacked B (the active path's layout) has panels kPackNc wide.
  if (gp.packed_b && ((kQuad != nullptr ? gp.packed_b->quads.empty() : gp.packed_b->data.empty()) ||
                      gp.packed_b->K != gp.K || gp.packed_b->N != gp.N))
    gp.packed_b = nullptr;
  const bool pair_rows = kQuad == nullptr && (gp.row_out || gp.Cf) && !gp.accumulate;
  if (gp.C == nullptr && gp.K <= 0 && !gp.row_out) {
    scratch_c.reset(new int32_t[static_cast<size_t>(gp.M * gp.N)]);
    gp.C = scratch_c.get();
    gp.ldc = gp.N;
  }
  const QGemmArgs& g = gp;
  if (g.K <= 0) {
    if (g.row_out && !g.accumulate) {
      const std::vector<int32_t> zeros(static_cast<size_t>(g.N), 0);
      for (int64_t i = 0; i < g.M; ++i) g.row_out(g.row_out_ctx, i, 1, 0, zeros.data(), g.N, g.N, nullptr, nullptr);
      return;
    }
    if (!g.accumulate)
      for (int64_t i = 0; i < g.M; ++i) std::memset(g.C + i * g.ldc, 0, sizeof(int32_t) * g.N);
    if (g.Cf)
      for (int64_t i = 0; i < g.M; ++i) store_float(g, i, 0, g.N, g.C + i * g.ldc, nullptr);
    return;
  }
  const int threads = pool ? pool->size() : 1;
  // Rows per task: kMc, or with a prepacked B (no panel packed per task) and
  // a few rows over several threads, a thread's share of them in multiples of
  // 32, so the tasks split the rows first: the calling thread takes the front
  // tasks and a helper the back ones, each then reading the rows of A its
  // own core wrote (an int8 transformer's DynamicQuantizeLinear and the
  // kernels after the product split the rows the same way). Columns split
  // instead had every thread read all of A from the other core's cache.
  // But where the output's readers take it by heads (split_columns: an int8
  // encoder's query/key/value product) the columns split, in order: with the
  // rows split each attention head read half its keys and values from the
  // other core (bert_int8 2T: MultiHeadAttention 94-96 -> 85-87 us, the
  // product 29-35 -> 25-32).
  const bool split_columns = g.split_columns && threads > 1;
  int64_t mc = kMc;
  if (gp.packed_b && threads > 1 && g.M <= kMc * threads && !split_columns)
    mc = std::min(kMc, ((g.M + threads - 1) / threads + 31) / 32 * 32);
  const int64_t mblocks = (g.M + mc - 1) / mc;
  // Column blocks narrower than a panel where that gives each thread about
  // four tasks: a 384-column product (a transformer's projections) is two
  // tasks of 256 and 128 columns at full width, one thread then idle a third
  // of the time.
  int64_t ncol = kNc;
  while (ncol > 64 && mblocks * ((g.N + ncol - 1) / ncol) < 4 * int64_t{threads}) ncol /= 2;
  if (gp.packed_b) ncol = kPackNc;
  const int64_t nblocks = (g.N + ncol - 1) / ncol;
  // A prepared once (a convolution's weights) where it fits this call, else now.
  const QGemmPreparedA* pre = g.prepared_a;
  if (pre && (pre->M != g.M || pre->K != g.K ||
              (kQuad != nullptr ? pre->quad_lda == 0 || (vnni_needs_row_sums(g) && !pre->sums) : pre->pairs.empty())))
    pre = nullptr;
  VnniA vnni_a;
  PairA pair_a;
  if (pre && kQuad != nullptr) {
    vnni_a.ptr = pre->quads.empty() ? static_cast<const uint8_t*>(g.A) : pre->quads.data();
    vnni_a.lda = pre->quad_lda;
    vnni_a.rowsum = pre->rowsum.data();
  } else if (pre) {
    pair_a.ptr = pre->pairs.data();
    pair_a.lda = pre->pair_lda;
  } else if (kQuad != nullptr) {
    vnni_a = vnni_prepare_a(g, pool);
  } else {
    pair_a = pair_prepare_a(g, pool);
  }
  auto run = [&](int64_t t0, int64_t t1) {
    std::vector<int16_t> bpanel;
    struct Bracket {  // the quad kernel's enter/leave around this thread's tasks
      explicit Bracket(const QQuadUKernel* k) : k_(k) {
        if (k_ && k_->enter) k_->enter();
      }
      ~Bracket() {
        if (k_ && k_->leave) k_->leave();
      }
      const QQuadUKernel* k_;
    } bracket(kQuad);
    for (int64_t t = t0; t < t1; ++t) {
      const int64_t mb = split_columns ? t % mblocks : t / nblocks, nb = split_columns ? t / mblocks : t % nblocks;
      const int64_t i0 = mb * mc, i1 = std::min(g.M, i0 + mc);
      const int64_t j0 = nb * ncol, nc = std::min(ncol, g.N - j0);
      if (kQuad != nullptr) qgemm_block_vnni(gp, vnni_a, i0, i1, j0, nc, bpanel);
      else if (pair_rows) qgemm_block_rows(gp, pair_a, i0, i1, j0, nc, bpanel);
      else qgemm_block(gp, pair_a, i0, i1, j0, nc, bpanel);
    }
  };
  const int64_t tasks = mblocks * nblocks;
  // Below ~1 M multiply-adds a thread hand-off costs more than it saves.
  if (pool == nullptr || g.M * g.N * g.K < (int64_t{1} << 20)) run(0, tasks);
  // One chunk per thread (tasks are alike): each chunk is a run of the lambda, and AMX's ldtilecfg at its start
  // costs about a 128 x 64 x 256 block's work. bert_int8 at 2 threads 1.59 -> 1.53 ms.
  else pool->parallel_for(tasks, std::max<int64_t>(1, tasks / threads), run);
}

QGemmPreparedA qgemm_prepare_a(const QGemmArgs& g) {
  QGemmPreparedA p;
  p.M = g.M;
  p.K = g.K;
  if (g.M <= 0 || g.K <= 0) return p;
  if (kQuad != nullptr) {
    VnniA a = vnni_prepare_a(g, nullptr);
    p.sums = vnni_needs_row_sums(g);
    p.quad_lda = a.lda;
    p.rowsum = std::move(a.rowsum_data);
    p.quads = std::move(a.data);  // empty where A is read in place
  } else {
    PairA a = pair_prepare_a(g, nullptr);
    const int64_t rows = (g.M + kRows - 1) / kRows * kRows;
    p.pair_lda = a.lda;
    p.pairs.assign(a.data.get(), a.data.get() + rows * a.lda);
  }
  return p;
}

QGemmPackedB qgemm_pack_b(const QGemmArgs& g) {
  QGemmPackedB p;
  p.K = g.K;
  p.N = g.N;
  if (g.K <= 0 || g.N <= 0) return p;
  const int64_t nkb = (g.K + kKc - 1) / kKc, nnb = (g.N + kPackNc - 1) / kPackNc;
  if (kQuad != nullptr) {  // int8 quads, one kKc x kPackNc slot per panel, and the column sums over all of K
    p.quads.assign(static_cast<size_t>(nkb * nnb * kKc * kPackNc), 0);
    p.colsum.assign(static_cast<size_t>(g.N), 0);
    for (int64_t nb = 0; nb < nnb; ++nb) {
      const int64_t j0 = nb * kPackNc, nc = std::min(kPackNc, g.N - j0), ncp = (nc + kNr - 1) / kNr * kNr;
      for (int64_t kb = 0; kb < nkb; ++kb) {
        const int64_t k0 = kb * kKc;
        kQuad->pack_b(static_cast<const int8_t*>(g.B) + k0 * g.ldb + j0, g.ldb, g.b_signed, std::min(kKc, g.K - k0), nc,
                      ncp, p.quads.data() + packed_offset(g.K, kb, nb), p.colsum.data() + j0);
      }
    }
    return p;
  }
  p.data.assign(static_cast<size_t>(nkb * nnb * kKc * kPackNc), 0);
  for (int64_t nb = 0; nb < nnb; ++nb) {
    const int64_t j0 = nb * kPackNc, nc = std::min(kPackNc, g.N - j0), ncp = (nc + kNr - 1) / kNr * kNr;
    for (int64_t kb = 0; kb < nkb; ++kb) {
      const int64_t k0 = kb * kKc;
      pack_b_panel(g, k0, std::min(kKc, g.K - k0), j0, nc, ncp, p.data.data() + packed_offset(g.K, kb, nb));
    }
  }
  return p;
}

const char* qgemm_isa() { return qgemm_paths().active.c_str(); }

bool qgemm_int8_conv_fast() { return kQuad != nullptr || kAvx2Pairs; }

}  // namespace simd
}  // namespace pionnx
