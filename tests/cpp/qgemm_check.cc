// Standalone check of the integer GEMM against a naive int32 reference, for
// cross builds run under qemu (ci/checks/arm_kernels.sh) as well as the host.
//
//   qgemm_check                  check the kernel this CPU gets
//   qgemm_check --bench M N K    time of one product (best of 20), single-threaded
//
// PIONNX_QGEMM=generic (read at start-up) forces the portable kernel, so the
// script runs each mode in its own process. Exit status non-zero on mismatch.
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <vector>

#include "kernels/simd/qgemm.h"
#include "platform/thread_pool.h"

using pionnx::simd::QGemmArgs;

namespace {

// mode 0: C = product; 1: C += product (accumulate); 2: the float output
// (Cf = float(product) * scale[j] + bias[j], MatMulIntegerToFloat's); 3: rows
// handed over (QGemmArgs::row_out, QLinearConv's requantization), each sum
// written to C here and counted (every one exactly once).
struct RowsOut {
  int32_t* C;
  int64_t ldc, N;
  std::vector<int>* seen;
};
// One product's operands and its reference, made once and checked against every variant of the
// call (prepacked B or not, the four output modes, with and without the pool): the naive
// reference is what costs under qemu.
struct Case {
  int64_t M, N, K, lda, ldb;
  bool a_signed, b_signed, per_channel;
  std::vector<uint8_t> A, B;
  std::vector<int32_t> azp, bzp;
  std::vector<float> scale, bias;
  std::vector<int64_t> want;  // M x N
};

Case make_case(int64_t M, int64_t N, int64_t K, bool a_signed, bool b_signed, bool per_channel, std::mt19937& rng) {
  std::uniform_int_distribution<int> byte(0, 255);
  Case c{M, N, K, K + 3, N + 5, a_signed, b_signed, per_channel, {}, {}, {}, {}, {}, {}, {}};
  c.A.resize(M * c.lda), c.B.resize(K * c.ldb);
  for (auto& v : c.A) v = static_cast<uint8_t>(byte(rng));
  for (auto& v : c.B) v = static_cast<uint8_t>(byte(rng));
  c.azp.resize(M), c.bzp.resize(N);
  for (auto& z : c.azp) z = a_signed ? byte(rng) - 128 : byte(rng);
  for (auto& z : c.bzp) z = b_signed ? byte(rng) - 128 : byte(rng);
  std::uniform_real_distribution<float> real(-1.f, 1.f);
  c.scale.resize(N), c.bias.resize(N);
  for (auto& v : c.scale) v = real(rng) * 1e-3f;
  for (auto& v : c.bias) v = real(rng);
  auto a_at = [&](int64_t i, int64_t k) {
    return a_signed ? int32_t(int8_t(c.A[i * c.lda + k])) : int32_t(c.A[i * c.lda + k]);
  };
  auto b_at = [&](int64_t k, int64_t j) {
    return b_signed ? int32_t(int8_t(c.B[k * c.ldb + j])) : int32_t(c.B[k * c.ldb + j]);
  };
  c.want.assign(static_cast<size_t>(M * N), 0);
  for (int64_t i = 0; i < M; ++i)
    for (int64_t k = 0; k < K; ++k) {
      const int64_t a = a_at(i, k) - c.azp[per_channel ? i : 0];
      int64_t* w = &c.want[static_cast<size_t>(i * N)];
      for (int64_t j = 0; j < N; ++j) w[j] += a * (b_at(k, j) - c.bzp[per_channel ? j : 0]);
    }
  return c;
}

bool check(const Case& c, bool prepacked, int mode, pionnx::ThreadPool* pool) {
  const int64_t M = c.M, N = c.N, K = c.K, ldc = N + 1;
  const bool a_signed = c.a_signed, b_signed = c.b_signed, per_channel = c.per_channel;
  QGemmArgs q;
  q.M = M, q.N = N, q.K = K;
  q.A = c.A.data(), q.lda = c.lda, q.a_signed = a_signed, q.a_zp = c.azp.data(), q.a_zp_per_row = per_channel;
  q.B = c.B.data(), q.ldb = c.ldb, q.b_signed = b_signed, q.b_zp = c.bzp.data(), q.b_zp_per_col = per_channel;
  std::vector<int32_t> C(M * ldc, 7);
  q.C = C.data(), q.ldc = ldc;
  q.accumulate = mode == 1;
  const int64_t ldcf = N + 2;
  std::vector<float> Cf(M * ldcf, -1.f);
  if (mode == 2) {
    q.Cf = Cf.data(), q.ldcf = ldcf, q.scale = c.scale.data(), q.scale_per_col = true, q.bias = c.bias.data();
  }
  std::vector<int> seen(static_cast<size_t>(M * N), 0);
  const RowsOut rows_out{C.data(), ldc, N, &seen};
  if (mode == 3) {
    q.row_out = [](const void* ctx, int64_t i, int64_t rows, int64_t j, const int32_t* v, int64_t ldv, int64_t n,
                   const int32_t* sub, const int32_t* row_sub) {
      const auto* o = static_cast<const RowsOut*>(ctx);
      for (int64_t r = 0; r < rows; ++r)
        for (int64_t t = 0; t < n; ++t) {
          const uint32_t raw = static_cast<uint32_t>(v[r * ldv + t]) - static_cast<uint32_t>(sub ? sub[t] : 0) -
                               static_cast<uint32_t>(row_sub ? row_sub[r] : 0);
          o->C[(i + r) * o->ldc + j + t] = static_cast<int32_t>(raw);
          ++(*o->seen)[static_cast<size_t>((i + r) * o->N + j + t)];
        }
    };
    q.row_out_ctx = &rows_out;
    q.C = nullptr;  // (the handed-over rows need none)
  }
  // B packed beforehand, as a constant MatMulInteger weight is.
  const pionnx::simd::QGemmPackedB packed = prepacked ? pionnx::simd::qgemm_pack_b(q) : pionnx::simd::QGemmPackedB();
  if (prepacked) q.packed_b = &packed;
  pionnx::simd::qgemm(q, pool);
  for (int64_t i = 0; i < M; ++i)
    for (int64_t j = 0; j < N; ++j) {
      int64_t want = c.want[static_cast<size_t>(i * N + j)];
      if (mode == 2) {
        const float f = static_cast<float>(static_cast<int32_t>(want)) * c.scale[j] + c.bias[j], got = Cf[i * ldcf + j];
        if (std::fabs(got - f) > 1e-6f * std::fabs(f) + 1e-6f) {
          std::printf(
              "  MISMATCH float M=%lld N=%lld K=%lld a_signed=%d b_signed=%d prepacked=%d at (%lld,%lld): %g != %g\n",
              (long long)M, (long long)N, (long long)K, a_signed, b_signed, prepacked, (long long)i, (long long)j, got,
              f);
          return false;
        }
        continue;
      }
      if (mode == 1) want += 7;
      if (mode == 3 && seen[static_cast<size_t>(i * N + j)] != 1) {
        std::printf("  ROWS M=%lld N=%lld K=%lld prepacked=%d at (%lld,%lld): handed over %d times\n", (long long)M,
                    (long long)N, (long long)K, prepacked, (long long)i, (long long)j,
                    seen[static_cast<size_t>(i * N + j)]);
        return false;
      }
      if (C[i * ldc + j] != static_cast<int32_t>(want)) {
        std::printf(
            "  MISMATCH M=%lld N=%lld K=%lld a_signed=%d b_signed=%d prepacked=%d mode=%d at (%lld,%lld): "
            "%d != %lld\n",
            (long long)M, (long long)N, (long long)K, a_signed, b_signed, prepacked, mode, (long long)i, (long long)j,
            C[i * ldc + j], (long long)want);
        return false;
      }
    }
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc == 5 && std::strcmp(argv[1], "--bench") == 0) {
    const int64_t M = std::atoll(argv[2]), N = std::atoll(argv[3]), K = std::atoll(argv[4]);
    std::vector<uint8_t> A(M * K, 3), B(K * N, 5);
    std::vector<int32_t> C(M * N);
    QGemmArgs q;
    q.M = M, q.N = N, q.K = K, q.A = A.data(), q.lda = K, q.B = B.data(), q.ldb = N, q.C = C.data(), q.ldc = N;
    // B packed beforehand, as a constant weight is.
    const pionnx::simd::QGemmPackedB packed = pionnx::simd::qgemm_pack_b(q);
    q.packed_b = &packed;
    pionnx::simd::qgemm(q);
    double best = 1e30;
    for (int rep = 0; rep < 20; ++rep) {
      const auto t0 = std::chrono::steady_clock::now();
      pionnx::simd::qgemm(q);
      const std::chrono::duration<double> dt = std::chrono::steady_clock::now() - t0;
      best = dt.count() < best ? dt.count() : best;
    }
    if (C[0] != 15 * K) {
      std::printf("bench result wrong: %d\n", C[0]);
      return 1;
    }
    std::printf("qgemm %s: %lldx%lldx%lld (B packed once) in %.1f us, %.0f GOPS\n", pionnx::simd::qgemm_isa(),
                (long long)M, (long long)N, (long long)K, best * 1e6, 2e-9 * M * N * K / best);
    return 0;
  }
  std::mt19937 rng(5);
  pionnx::ThreadPool pool(2);
  // {272, 40, 64} and {48, 100, 128}: a uint8 A read in place by the quad kernels (K % 64 == 0, M % 16 == 0) with
  // a masked last column group, and a second row block of 16 rows. The last two, for the handed-over rows of the
  // int16-pair kernels (several groups of 32 rows, a last short one; depth blocks added; sub-blocks of columns).
  const int64_t shapes[][3] = {{1, 1, 1},        {4, 8, 2},      {5, 9, 3},      {7, 33, 17},    {16, 64, 64},
                               {3, 300, 41},     {37, 29, 53},   {64, 260, 300}, {1, 1000, 512}, {130, 7, 257},
                               {128, 256, 1024}, {48, 100, 128}, {272, 40, 64},  {70, 49, 600},  {99, 300, 17}};
  int runs = 0, failures = 0;
  for (const auto& s : shapes)
    for (int sa = 0; sa < 2; ++sa)
      for (int sb = 0; sb < 2; ++sb)
        for (int pc = 0; pc < 2; ++pc) {
          const Case c = make_case(s[0], s[1], s[2], sa, sb, pc, rng);
          for (int pk = 0; pk < 2; ++pk)
            for (int mode = 0; mode < 4; ++mode)
              for (pionnx::ThreadPool* p : {static_cast<pionnx::ThreadPool*>(nullptr), &pool}) {
                ++runs;
                if (!check(c, pk, mode, p)) ++failures;
              }
        }
  std::printf("  qgemm %s: %d/%d products match the reference\n", pionnx::simd::qgemm_isa(), runs - failures, runs);
  return failures == 0 ? 0 : 1;
}
