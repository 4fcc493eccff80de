#include "kernels/simd/qgemm.h"

#include <algorithm>
#include <cstring>
#include <vector>

#include "exec/thread_pool.h"

namespace pionnx {
namespace simd {
namespace {

// Block sizes: a kKc x kNc int16 panel of B (128 KiB) stays in L2 while
// every row of A in the task streams past it.
constexpr int64_t kKc = 256;
constexpr int64_t kNc = 256;
constexpr int64_t kMc = 64;
constexpr int kRows = 4;  // rows of A sharing each loaded row of the B panel

inline int32_t load8(const void* p, int64_t i, bool is_signed) {
  return is_signed ? static_cast<const int8_t*>(p)[i] : static_cast<const uint8_t*>(p)[i];
}

// B[k0 .. k0+kc) x [j0 .. j0+nc) minus its zero points, as int16 rows of nc.
template <typename T>
void pack_b(const QGemmArgs& g, int64_t k0, int64_t kc, int64_t j0, int64_t nc, int16_t* out) {
  const T* B = static_cast<const T*>(g.B);
  int32_t zp_col[kNc];
  for (int64_t j = 0; j < nc; ++j)
    zp_col[j] = g.b_zp == nullptr ? 0 : g.b_zp[g.b_zp_per_col ? j0 + j : 0];
  for (int64_t k = 0; k < kc; ++k) {
    const T* src = B + (k0 + k) * g.ldb + j0;
    int16_t* dst = out + k * nc;
    for (int64_t j = 0; j < nc; ++j) dst[j] = static_cast<int16_t>(src[j] - zp_col[j]);
  }
}

// acc[r][0 .. nc) = sum_k a[r * kc + k] * b[k * nc + j] for `rows` rows.
// The replaceable micro-kernel: everything around it is packing.
void qgemm_rows(int rows, const int16_t* a, int64_t kc, const int16_t* b, int64_t nc,
                int32_t (*acc)[kNc]) {
  for (int r = 0; r < rows; ++r) std::memset(acc[r], 0, sizeof(int32_t) * nc);
  for (int64_t k = 0; k < kc; ++k) {
    const int16_t* brow = b + k * nc;
    for (int r = 0; r < rows; ++r) {
      const int32_t av = a[r * kc + k];
      if (av == 0) continue;
      int32_t* out = acc[r];
      for (int64_t j = 0; j < nc; ++j) out[j] += av * static_cast<int32_t>(brow[j]);
    }
  }
}

// One task: rows [i0, i1) x columns [j0, j0 + nc).
void qgemm_block(const QGemmArgs& g, int64_t i0, int64_t i1, int64_t j0, int64_t nc,
                 std::vector<int16_t>& bpanel) {
  bpanel.resize(static_cast<size_t>(kKc * nc));
  int16_t apanel[kRows * kKc];
  int32_t acc[kRows][kNc];
  for (int64_t k0 = 0; k0 < g.K; k0 += kKc) {
    const int64_t kc = std::min(kKc, g.K - k0);
    if (g.b_signed)
      pack_b<int8_t>(g, k0, kc, j0, nc, bpanel.data());
    else
      pack_b<uint8_t>(g, k0, kc, j0, nc, bpanel.data());
    const bool store = k0 == 0 && !g.accumulate;
    for (int64_t i = i0; i < i1; i += kRows) {
      const int rows = static_cast<int>(std::min<int64_t>(kRows, i1 - i));
      for (int r = 0; r < rows; ++r) {
        const int32_t zp = g.a_zp == nullptr ? 0 : g.a_zp[g.a_zp_per_row ? i + r : 0];
        const int64_t row = (i + r) * g.lda + k0;
        for (int64_t k = 0; k < kc; ++k)
          apanel[r * kc + k] = static_cast<int16_t>(load8(g.A, row + k, g.a_signed) - zp);
      }
      qgemm_rows(rows, apanel, kc, bpanel.data(), nc, acc);
      for (int r = 0; r < rows; ++r) {
        int32_t* c = g.C + (i + r) * g.ldc + j0;
        if (store)
          std::memcpy(c, acc[r], sizeof(int32_t) * nc);
        else
          for (int64_t j = 0; j < nc; ++j) c[j] += acc[r][j];
      }
    }
  }
}

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
  auto run = [&](int64_t t0, int64_t t1) {
    std::vector<int16_t> bpanel;
    for (int64_t t = t0; t < t1; ++t) {
      const int64_t mb = t / nblocks, nb = t % nblocks;
      const int64_t i0 = mb * kMc, i1 = std::min(g.M, i0 + kMc);
      const int64_t j0 = nb * kNc, nc = std::min(kNc, g.N - j0);
      qgemm_block(g, i0, i1, j0, nc, bpanel);
    }
  };
  const int64_t tasks = mblocks * nblocks;
  // Below ~1 M multiply-adds a thread hand-off costs more than it saves.
  if (pool == nullptr || g.M * g.N * g.K < (int64_t{1} << 20))
    run(0, tasks);
  else
    pool->parallel_for(tasks, 1, run);
}

}  // namespace simd
}  // namespace pionnx
