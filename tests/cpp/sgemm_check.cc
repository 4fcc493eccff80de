// Standalone check of the SGEMM micro-kernels against a naive reference, for
// cross builds run under qemu (ci/checks/arm_kernels.sh) as well as the host.
//
//   sgemm_check                   check every micro-kernel this CPU can run
//   sgemm_check --bench M N K     time generic vs the default kernel
//
// The kernel is picked once per process (PIONNX_SGEMM, read at first use), so
// each kernel runs in a forked child with PIONNX_SGEMM set. Exit status is
// non-zero on any mismatch.
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "kernels/simd/sgemm.h"
#include "platform/cpu_features.h"
#include "platform/thread_pool.h"

using pionnx::simd::sgemm;

namespace {

struct Problem {
  bool ta, tb;
  int64_t M, N, K;
  float alpha, beta;
};

// Runs one problem through sgemm (or the prepacked entry point) and compares
// with a double-precision reference; the bound scales with sum |a||b|.
// finish (prepacked only): the epilogue's bias and activation as each tile is
// stored, 0 none, 1 bias + Relu, 2 bias + Clip [-0.3, 0.4], 3 Clip alone.
bool check(const Problem& p, std::mt19937& rng, pionnx::ThreadPool* pool, bool prepacked, int finish = 0) {
  std::uniform_real_distribution<float> dist(-1.f, 1.f);
  const int64_t lda = (p.ta ? p.M : p.K) + 3, ldb = (p.tb ? p.K : p.N) + 1, ldc = p.N + 2;
  std::vector<float> A((p.ta ? p.K : p.M) * lda), B((p.tb ? p.N : p.K) * ldb), C(p.M * ldc);
  for (float& v : A) v = dist(rng);
  for (float& v : B) v = dist(rng);
  for (float& v : C) v = dist(rng);
  std::vector<float> C0 = C;
  if (p.beta == 0.f)
    for (int64_t i = 0; i < p.M; ++i) C[i * ldc] = NAN;  // must not be read
  std::vector<float> bias(p.M);
  for (float& v : bias) v = dist(rng);
  pionnx::simd::SgemmEpilogue epi;
  if (finish == 1 || finish == 2) epi.bias_act.bias = bias.data();
  epi.bias_act.act = finish == 1   ? pionnx::simd::SgemmBiasAct::Relu
                     : finish >= 2 ? pionnx::simd::SgemmBiasAct::Clip
                                   : pionnx::simd::SgemmBiasAct::None;
  epi.bias_act.lo = -0.3f;
  epi.bias_act.hi = 0.4f;
  if (prepacked) {
    auto packed = pionnx::simd::sgemm_pack_a(p.ta, p.M, p.K, A.data(), lda);
    pionnx::simd::sgemm_prepacked(packed, p.tb, p.N, B.data(), ldb, p.beta, C.data(), ldc, pool,
                                  finish ? &epi : nullptr);
  } else {
    sgemm(p.ta, p.tb, p.M, p.N, p.K, p.alpha, A.data(), lda, B.data(), ldb, p.beta, C.data(), ldc, pool);
  }
  const float alpha = prepacked ? 1.f : p.alpha;
  for (int64_t i = 0; i < p.M; ++i)
    for (int64_t j = 0; j < p.N; ++j) {
      double s = 0, mag = 0;
      for (int64_t k = 0; k < p.K; ++k) {
        const double a = p.ta ? A[k * lda + i] : A[i * lda + k];
        const double b = p.tb ? B[j * ldb + k] : B[k * ldb + j];
        s += a * b;
        mag += std::fabs(a * b);
      }
      double want = alpha * s + (p.beta == 0.f ? 0.0 : p.beta * C0[i * ldc + j]);
      if (finish == 1 || finish == 2) want += bias[i];
      if (finish == 1) want = want > 0 ? want : 0;
      if (finish >= 2) want = std::min(std::max(want, -0.3), 0.4);
      const double got = C[i * ldc + j];
      if (!(std::fabs(got - want) <= 1e-5 * (std::fabs(alpha) * mag + std::fabs(want)) + 1e-5)) {
        std::printf(
            "  MISMATCH %s finish=%d ta=%d tb=%d M=%lld N=%lld K=%lld alpha=%g beta=%g at (%lld,%lld): "
            "got %.7g want %.7g\n",
            prepacked ? "prepacked" : "sgemm", finish, p.ta, p.tb, (long long)p.M, (long long)p.N, (long long)p.K,
            alpha, p.beta, (long long)i, (long long)j, got, want);
        return false;
      }
    }
  return true;
}

// The in-place product (sgemm_prepacked_shifted, a direct convolution's):
// B(k, (r, t)) = buf[r * stride + t + shift[k]] with random shifts, rows of
// `width` columns, `rows` of them; finish as in check() plus 4: a residual
// and Relu. ldc = rows * width + 3 (C's rows apart from the product's).
bool check_shifted(int64_t M, int64_t K, int64_t width, int64_t rows, std::mt19937& rng, pionnx::ThreadPool* pool,
                   int finish) {
  std::uniform_real_distribution<float> dist(-1.f, 1.f);
  const int64_t stride = width + 5, span = 3 * width + 40, N = rows * width, ldc = N + 3;
  const int nr = pionnx::simd::sgemm_tile().nr;
  std::vector<int64_t> shift(K);
  for (int64_t& v : shift) v = std::uniform_int_distribution<int64_t>(0, span)(rng);
  std::vector<float> buf((rows - 1) * stride + span + width + nr), A(M * K), C(M * ldc, NAN), bias(M), res(M * ldc);
  for (float& v : buf) v = dist(rng);
  for (float& v : A) v = dist(rng);
  for (float& v : bias) v = dist(rng);
  for (float& v : res) v = dist(rng);
  pionnx::simd::SgemmEpilogue epi;
  if (finish == 1 || finish == 2) epi.bias_act.bias = bias.data();
  if (finish == 4) {
    epi.bias_act.residual = res.data();
    epi.bias_act.ldr = ldc;
  }
  epi.bias_act.act = finish == 1 || finish == 4   ? pionnx::simd::SgemmBiasAct::Relu
                     : finish == 2 || finish == 3 ? pionnx::simd::SgemmBiasAct::Clip
                                                  : pionnx::simd::SgemmBiasAct::None;
  epi.bias_act.lo = -0.3f;
  epi.bias_act.hi = 0.4f;
  const auto packed = pionnx::simd::sgemm_pack_a(false, M, K, A.data(), K);
  const pionnx::simd::SgemmShiftedB b{buf.data(), shift.data(), width, stride};
  if (!pionnx::simd::sgemm_prepacked_shifted(packed, N, b, C.data(), ldc, pool, &epi)) {
    std::printf("  MISMATCH shifted: declined although sgemm_has_shifted()\n");
    return false;
  }
  for (int64_t i = 0; i < M; ++i)
    for (int64_t j = 0; j < N; ++j) {
      double s = 0, mag = 0;
      for (int64_t k = 0; k < K; ++k) {
        const double v = double(A[i * K + k]) * buf[j / width * stride + j % width + shift[k]];
        s += v;
        mag += std::fabs(v);
      }
      if (finish == 1 || finish == 2) s += bias[i];
      if (finish == 4) s += res[i * ldc + j];
      if (finish == 1 || finish == 4) s = s > 0 ? s : 0;
      if (finish == 2 || finish == 3) s = std::min(std::max(s, -0.3), 0.4);
      const double got = C[i * ldc + j];
      if (!(std::fabs(got - s) <= 1e-5 * (mag + std::fabs(s)) + 1e-5)) {
        std::printf(
            "  MISMATCH shifted finish=%d M=%lld K=%lld width=%lld rows=%lld at (%lld,%lld): got %.7g want %.7g\n",
            finish, (long long)M, (long long)K, (long long)width, (long long)rows, (long long)i, (long long)j, got, s);
        return false;
      }
    }
  for (int64_t i = 0; i < M; ++i)
    if (!std::isnan(C[i * ldc + N])) {
      std::printf("  MISMATCH shifted: wrote past row %lld of C\n", (long long)i);
      return false;
    }
  return true;
}

int run_checks() {
  std::mt19937 rng(1234);
  std::vector<Problem> problems;
  const int64_t sizes[] = {1, 2, 3, 4, 5, 7, 8, 9, 12, 13, 16, 17, 25, 33};
  for (int64_t M : sizes)
    for (int64_t N : sizes)
      problems.push_back(
          {(M + N) % 2 == 1, (M * N) % 3 == 1, M, N, 1 + (M * 7 + N) % 40, 1.f, (M + N) % 3 == 0 ? 0.f : 1.f});
  // Deep and wide enough to cross the K (256) and N blocking, odd everywhere.
  problems.push_back({false, false, 37, 29, 53, 1.f, 0.f});
  problems.push_back({false, false, 67, 301, 283, 0.5f, 1.f});
  problems.push_back({true, false, 50, 70, 600, 1.f, 0.25f});
  problems.push_back({false, true, 31, 2100, 19, -2.f, 0.f});
  problems.push_back({true, true, 45, 46, 47, 1.f, 1.f});
  problems.push_back({false, false, 64, 196, 288, 1.f, 0.f});
  // Batch-1 fully connected layers (M = 1, B transposed: the dot-product kernels, four rows at a
  // time), with row counts off the multiple of 4, depths off 16 and 8, and one big enough to split.
  problems.push_back({false, true, 1, 37, 1003, 1.f, 0.f});
  problems.push_back({false, true, 1, 130, 257, 0.5f, 1.f});
  problems.push_back({false, true, 1, 301, 1030, 1.f, 0.f});
  // M = 1 with B as it is (the row kernels: 64, 32, 8 columns per pass and the tail), x strided (ta).
  problems.push_back({false, false, 1, 150, 300, 1.f, 0.f});
  problems.push_back({true, false, 1, 77, 65, 0.5f, 1.f});
  pionnx::ThreadPool pool(3);
  int failures = 0, runs = 0;
  for (const Problem& p : problems)
    for (int variant = 0; variant < 4; ++variant) {
      // 3: prepacked with a bias and activation applied as the tiles are stored, cycling the kinds;
      // on the pool when the product is big enough to be shared.
      pionnx::ThreadPool* tp = variant == 2 || (variant == 3 && p.M * p.N > 1000) ? &pool : nullptr;
      const bool prepacked = variant == 1 || variant == 3;
      const int finish = variant == 3 ? 1 + (runs % 3) : 0;
      ++runs;
      if (!check(p, rng, tp, prepacked, finish)) ++failures;
    }
  if (pionnx::simd::sgemm_has_shifted()) {
    // Band heights 1 to a tile and past it, widths under, at and past the tile width (the last tile
    // overlapping the one before), depths 1 to 300, rows cut into column blocks (the last taking the
    // rest), on the pool once big enough.
    const int64_t shapes[][4] = {{1, 1, 1, 1},    {5, 27, 7, 3},    {6, 9, 16, 2},   {8, 27, 12, 4},
                                 {13, 27, 37, 5}, {64, 27, 111, 3}, {7, 147, 29, 6}, {17, 300, 20, 2},
                                 {3, 9, 8, 40},   {5, 100, 150, 2}, {9, 64, 100, 3}};
    for (const auto& sh : shapes)
      for (int finish = 0; finish <= 4; ++finish) {
        pionnx::ThreadPool* tp = sh[0] * sh[1] * sh[2] * sh[3] > 20000 ? &pool : nullptr;
        ++runs;
        if (!check_shifted(sh[0], sh[1], sh[2], sh[3], rng, tp, finish)) ++failures;
      }
  } else {
    std::printf("  %s: no in-place (shifted) micro-kernel\n", pionnx::simd::sgemm_isa());
  }
  std::printf("  %s: %d/%d products match the reference\n", pionnx::simd::sgemm_isa(), runs - failures, runs);
  return failures == 0 ? 0 : 1;
}

// Seconds per M x N x K product (best of a few), single-threaded.
double bench(int64_t M, int64_t N, int64_t K) {
  std::vector<float> A(M * K, 0.5f), B(K * N, 0.25f), C(M * N);
  sgemm(false, false, M, N, K, 1.f, A.data(), K, B.data(), N, 0.f, C.data(), N);  // warm up
  double best = 1e30;
  for (int rep = 0; rep < 3; ++rep) {
    const auto t0 = std::chrono::steady_clock::now();
    sgemm(false, false, M, N, K, 1.f, A.data(), K, B.data(), N, 0.f, C.data(), N);
    const std::chrono::duration<double> dt = std::chrono::steady_clock::now() - t0;
    if (dt.count() < best) best = dt.count();
  }
  if (std::fabs(C[0] - 0.125f * K) > 1e-3f * K) {
    std::printf("  bench result wrong: %g\n", C[0]);
    std::exit(1);
  }
  return best;
}

// Runs `fn` in a child with PIONNX_SGEMM=cap ("" = unset). The child writes
// its kernel name and a number to a pipe; returns the child's exit status.
template <class Fn>
int in_child(const char* cap, Fn fn, std::string* isa, double* value) {
  int fds[2];
  if (pipe(fds) != 0) return 2;
  std::fflush(stdout);
  const pid_t pid = fork();
  if (pid == 0) {
    close(fds[0]);
    if (*cap) setenv("PIONNX_SGEMM", cap, 1);
    else unsetenv("PIONNX_SGEMM");
    double v = 0;
    const int rc = fn(&v);
    char buf[128];
    const int len = std::snprintf(buf, sizeof(buf), "%s %.9g", pionnx::simd::sgemm_isa(), v);
    if (write(fds[1], buf, len) != len) _exit(2);
    std::fflush(stdout);
    _exit(rc);
  }
  close(fds[1]);
  char buf[128] = {};
  ssize_t got = 0, n;
  while ((n = read(fds[0], buf + got, sizeof(buf) - 1 - got)) > 0) got += n;
  close(fds[0]);
  int status = 0;
  waitpid(pid, &status, 0);
  char name[64] = {};
  if (std::sscanf(buf, "%63s %lf", name, value) != 2) return 2;
  *isa = name;
  return WIFEXITED(status) ? WEXITSTATUS(status) : 3;
}

}  // namespace

// The in-order test behind aarch64's SGEMM default, on /proc/cpuinfo texts of
// known boards (the emulator shows its host's file, so the default here is neon).
bool check_in_order_detection() {
  auto cores = [](const char* implementer, const char* part, int n) {
    std::string text;
    for (int i = 0; i < n; ++i)
      text += "processor\t: " + std::to_string(i) + "\nBogoMIPS\t: 38.40\nCPU implementer\t: " + implementer +
              "\nCPU architecture: 8\nCPU variant\t: 0x0\nCPU part\t: " + part + "\nCPU revision\t: 4\n\n";
    return text;
  };
  using pionnx::platform::cpuinfo_in_order_arm;
  const struct {
    std::string text;
    bool want;
  } cases[] = {
      {cores("0x41", "0xd03", 4), true},                               // Raspberry Pi 3 / Zero 2 W: Cortex-A53
      {cores("0x41", "0xd05", 4), true},                               // RK3566: Cortex-A55
      {cores("0x41", "0xd08", 4), false},                              // Raspberry Pi 4: Cortex-A72
      {cores("0x41", "0xd05", 4) + cores("0x41", "0xd0b", 4), false},  // RK3588: A55 + A76
      {cores("0x51", "0xd03", 4), false},                              // another implementer's part number
      {"processor\t: 0\nvendor_id\t: GenuineIntel\nflags\t\t: fpu sse2 avx2\n", false},
      {"", false},
  };
  bool ok = true;
  for (const auto& c : cases) {
    if (cpuinfo_in_order_arm(c.text) != c.want) {
      std::printf("  MISMATCH in-order detection: want %d for\n%s\n", c.want, c.text.c_str());
      ok = false;
    }
  }
  std::printf("in-order core detection: %s; this machine: %s\n", ok ? "ok" : "FAILED",
              pionnx::platform::cpu_features().arm_in_order ? "in-order cores" : "not all in-order");
  return ok;
}

int main(int argc, char** argv) {
  std::printf("cpu_has_neon: %s\n", pionnx::platform::cpu_features().neon ? "yes" : "no");
  if (argc == 5 && std::strcmp(argv[1], "--bench") == 0) {
    const int64_t M = std::atoll(argv[2]), N = std::atoll(argv[3]), K = std::atoll(argv[4]);
    std::string isa_g, isa_d;
    double t_g = 0, t_d = 0;
    auto fn = [&](double* t) {
      *t = bench(M, N, K);
      return 0;
    };
    if (in_child("generic", fn, &isa_g, &t_g) || in_child("", fn, &isa_d, &t_d)) return 1;
    const double gflop = 2.0 * M * N * K * 1e-9;
    std::printf(
        "sgemm %lldx%lldx%lld: %s %.4f s (%.2f GFLOP/s), %s %.4f s (%.2f GFLOP/s), "
        "ratio %s/%s = %.2fx\n",
        (long long)M, (long long)N, (long long)K, isa_g.c_str(), t_g, gflop / t_g, isa_d.c_str(), t_d, gflop / t_d,
        isa_g.c_str(), isa_d.c_str(), t_g / t_d);
    return 0;
  }
  // generic first, then every cap; each distinct kernel is checked once.
  const char* caps[] = {"generic", "neon", "neon_a53", "avx2", "avx512", ""};
  std::vector<std::string> ran;
  std::string default_isa;
  int failures = check_in_order_detection() ? 0 : 1;
  for (const char* cap : caps) {
    std::string isa;
    double unused = 0;
    const int rc = in_child(cap, [](double*) { return run_checks(); }, &isa, &unused);
    bool seen = false;
    for (const std::string& r : ran) seen = seen || r == isa;
    if (!seen) ran.push_back(isa);
    if (!*cap) default_isa = isa;
    if (rc != 0) {
      std::printf("  FAILED with PIONNX_SGEMM=%s (kernel %s, status %d)\n", cap, isa.c_str(), rc);
      ++failures;
    }
  }
  std::string list;
  for (const std::string& r : ran) list += (list.empty() ? "" : ", ") + r;
  std::printf("kernels run: %s; default: %s\n", list.c_str(), default_isa.c_str());
  std::printf("%s\n", failures ? "FAIL" : "OK");
  return failures ? 1 : 0;
}
