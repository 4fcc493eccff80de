// Standalone check of the NCHWc family (conv_nchwc.h) on the path this process picked (PIONNX_NCHWC names
// it; the NEON path runs only when named), for cross builds run under qemu (ci/checks/arm_kernels.sh) as well
// as the host: blocked convolutions (1x1, 3x3 with pads, strides and dilation, a 7x7 first layer read as
// NCHW, a residual with Relu and Clip, channel counts that leave partial output-block groups, maps whose runs
// cross row ends), depthwise convolutions, max and average pools, global pools and the reorders, each against
// a double-precision reference computed on the NCHW tensors, on 1 and 2 threads. Exit status is non-zero on
// any value out of tolerance; with no blocked path (PIONNX_NCHWC=generic, or a CPU without the instructions)
// it says so and exits 0.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <random>
#include <string>
#include <vector>

#include "kernels/simd/conv_nchwc.h"
#include "platform/thread_pool.h"

namespace {

using pionnx::ThreadPool;
namespace simd = pionnx::simd;

int failures = 0, checked = 0;
std::mt19937 rng(11);

std::vector<float> randn(int64_t n) {
  std::normal_distribution<float> d;
  std::vector<float> v(static_cast<size_t>(n));
  for (float& x : v) x = d(rng);
  return v;
}

void check(const std::string& what, const std::vector<float>& got, const std::vector<double>& want, double tol) {
  ++checked;
  int bad = 0;
  for (size_t i = 0; i < want.size(); ++i) {
    const double err = std::fabs(static_cast<double>(got[i]) - want[i]);
    if (!(err <= tol * (1 + std::fabs(want[i]))) && ++bad <= 3)
      std::printf("  MISMATCH %s at %zu: %.9g, want %.9g\n", what.c_str(), i, static_cast<double>(got[i]), want[i]);
  }
  if (bad) ++failures;
}

// [N][C][HW] NCHW <-> blocked, through the family's own reorders (checked on their own first).
std::vector<float> to_blocked(ThreadPool& pool, const std::vector<float>& x, int64_t N, int64_t C, int64_t HW) {
  std::vector<float> y(x.size());
  simd::nchwc_reorder_in(pool, x.data(), N, C, HW, y.data());
  return y;
}
std::vector<float> to_nchw(ThreadPool& pool, const std::vector<float>& x, int64_t N, int64_t C, int64_t HW) {
  std::vector<float> y(x.size());
  simd::nchwc_reorder_out(pool, x.data(), N, C, HW, y.data());
  return y;
}

void check_reorders(ThreadPool& pool) {
  const int64_t b = simd::nchwc_block();
  for (int64_t HW : {1, 3, 4, 7, 13, 49}) {
    const int64_t N = 2, C = 2 * b;
    const std::vector<float> x = randn(N * C * HW);
    const std::vector<float> y = to_blocked(pool, x, N, C, HW);
    std::vector<double> want(x.size());
    for (int64_t n = 0; n < N; ++n)
      for (int64_t c = 0; c < C; ++c)
        for (int64_t p = 0; p < HW; ++p)
          want[static_cast<size_t>(((n * (C / b) + c / b) * HW + p) * b + c % b)] = x[((n * C + c) * HW + p)];
    check("reorder in HW=" + std::to_string(HW), y, want, 0);
    const std::vector<float> back = to_nchw(pool, y, N, C, HW);
    check("reorder out HW=" + std::to_string(HW), back, std::vector<double>(x.begin(), x.end()), 0);
  }
}

struct Conv {
  int64_t N, C, H, W, M, KH, KW, SH, SW, DH, DW, pt, pl, pb, pr;
  bool depthwise, residual;
  simd::NchwcAct::Kind act;
};

void check_conv(ThreadPool& pool, const Conv& c) {
  const int64_t OH = (c.H + c.pt + c.pb - ((c.KH - 1) * c.DH + 1)) / c.SH + 1;
  const int64_t OW = (c.W + c.pl + c.pr - ((c.KW - 1) * c.DW + 1)) / c.SW + 1;
  const int64_t Cg = c.depthwise ? 1 : c.C;  // input channels each output channel reads
  const std::vector<float> x = randn(c.N * c.C * c.H * c.W), w = randn(c.M * Cg * c.KH * c.KW), bias = randn(c.M);
  const std::vector<float> z = randn(c.N * c.M * OH * OW);
  simd::NchwcAct act;
  act.kind = c.act;
  act.lo = -0.5f;
  act.hi = 0.75f;
  std::vector<double> want(static_cast<size_t>(c.N * c.M * OH * OW));
  for (int64_t n = 0; n < c.N; ++n)
    for (int64_t m = 0; m < c.M; ++m)
      for (int64_t oh = 0; oh < OH; ++oh)
        for (int64_t ow = 0; ow < OW; ++ow) {
          double s = bias[m];
          for (int64_t ci = 0; ci < Cg; ++ci) {
            const int64_t ch = c.depthwise ? m : ci;
            for (int64_t kh = 0; kh < c.KH; ++kh)
              for (int64_t kw = 0; kw < c.KW; ++kw) {
                const int64_t ih = oh * c.SH - c.pt + kh * c.DH, iw = ow * c.SW - c.pl + kw * c.DW;
                if (ih < 0 || ih >= c.H || iw < 0 || iw >= c.W) continue;
                s += static_cast<double>(w[((m * Cg + ci) * c.KH + kh) * c.KW + kw]) *
                     x[((n * c.C + ch) * c.H + ih) * c.W + iw];
              }
          }
          const size_t o = static_cast<size_t>(((n * c.M + m) * OH + oh) * OW + ow);
          if (c.residual) s += z[o];
          if (c.act == simd::NchwcAct::Relu) s = std::max(s, 0.0);
          if (c.act == simd::NchwcAct::Clip) s = std::min(std::max(s, double{act.lo}), double{act.hi});
          want[o] = s;
        }
  const int64_t ib = c.depthwise ? simd::nchwc_block() : simd::nchwc_input_block(c.C);
  const std::vector<float> xb = ib == 1 ? x : to_blocked(pool, x, c.N, c.C, c.H * c.W);
  const std::vector<float> zb = to_blocked(pool, z, c.N, c.M, OH * OW);
  std::vector<float> yb(want.size());
  const simd::NchwcConvShape s{c.N, c.C, c.H, c.W, c.M, OH, OW, c.KH, c.KW, c.SH, c.SW, c.DH, c.DW, c.pt, c.pl};
  if (c.depthwise) {
    const std::vector<float> wb = simd::nchwc_depthwise_filter(w.data(), c.C, c.KH, c.KW);
    simd::nchwc_depthwise(pool, s, xb.data(), wb.data(), bias.data(), c.residual ? zb.data() : nullptr, act, yb.data());
  } else {
    const std::vector<float> wb = simd::nchwc_filter(w.data(), c.M, c.C, c.KH, c.KW);
    simd::nchwc_conv(pool, s, xb.data(), wb.data(), bias.data(), c.residual ? zb.data() : nullptr, act, yb.data());
  }
  char what[200];
  std::snprintf(what, sizeof what, "%s N%lld C%lld %lldx%lld M%lld k%lldx%lld s%lld d%lld pads %lld,%lld,%lld,%lld%s%s",
                c.depthwise ? "depthwise" : "conv", (long long)c.N, (long long)c.C, (long long)c.H, (long long)c.W,
                (long long)c.M, (long long)c.KH, (long long)c.KW, (long long)c.SH, (long long)c.DH, (long long)c.pt,
                (long long)c.pl, (long long)c.pb, (long long)c.pr, c.residual ? " +z" : "",
                c.act == simd::NchwcAct::Relu   ? " relu"
                : c.act == simd::NchwcAct::Clip ? " clip"
                                                : "");
  check(what, to_nchw(pool, yb, c.N, c.M, OH * OW), want, 2e-5 * std::sqrt(double(Cg * c.KH * c.KW)));
}

void check_pools(ThreadPool& pool) {
  const int64_t b = simd::nchwc_block();
  struct P {
    int64_t H, W, K, S, pt, pl, pb, pr;
    bool include_pad;
  };
  for (const P& p :
       {P{13, 13, 3, 2, 0, 0, 1, 1, false}, P{7, 9, 3, 1, 1, 1, 1, 1, false}, P{7, 9, 3, 1, 1, 1, 1, 1, true},
        P{12, 11, 2, 2, 0, 0, 0, 0, false}, P{5, 17, 3, 3, 1, 2, 1, 0, true}}) {
    const int64_t N = 2, C = 2 * b;
    const int64_t OH = (p.H + p.pt + p.pb - p.K) / p.S + 1, OW = (p.W + p.pl + p.pr - p.K) / p.S + 1;
    const std::vector<float> x = randn(N * C * p.H * p.W);
    const std::vector<float> xb = to_blocked(pool, x, N, C, p.H * p.W);
    for (bool is_max : {true, false}) {
      std::vector<double> want(static_cast<size_t>(N * C * OH * OW));
      for (int64_t i = 0; i < N * C; ++i)
        for (int64_t oh = 0; oh < OH; ++oh)
          for (int64_t ow = 0; ow < OW; ++ow) {
            double s = is_max ? -INFINITY : 0;
            int64_t n = 0;
            for (int64_t kh = 0; kh < p.K; ++kh)
              for (int64_t kw = 0; kw < p.K; ++kw) {
                const int64_t ih = oh * p.S - p.pt + kh, iw = ow * p.S - p.pl + kw;
                if (p.include_pad && ih < p.H + p.pb && iw < p.W + p.pr) ++n;
                if (ih < 0 || ih >= p.H || iw < 0 || iw >= p.W) continue;
                if (!p.include_pad) ++n;
                const double v = x[(i * p.H + ih) * p.W + iw];
                s = is_max ? std::max(s, v) : s + v;
              }
            want[static_cast<size_t>((i * OH + oh) * OW + ow)] = is_max ? s : s / static_cast<double>(n);
          }
      simd::NchwcPoolArgs a{};
      a.H = p.H, a.W = p.W, a.OH = OH, a.OW = OW, a.KH = p.K, a.KW = p.K, a.SH = p.S, a.SW = p.S;
      a.pad_top = p.pt, a.pad_left = p.pl, a.pad_bottom = p.pb, a.pad_right = p.pr;
      a.count_include_pad = p.include_pad;
      std::vector<float> yb(want.size());
      simd::nchwc_pool(pool, is_max, a, N, C, xb.data(), yb.data());
      check(std::string(is_max ? "max" : "average") + " pool " + std::to_string(p.H) + "x" + std::to_string(p.W) +
                " k" + std::to_string(p.K) + " s" + std::to_string(p.S) + (p.include_pad ? " count_include_pad" : ""),
            to_nchw(pool, yb, N, C, OH * OW), want, 1e-6);
      std::vector<double> gwant(static_cast<size_t>(N * C));
      for (int64_t i = 0; i < N * C; ++i) {
        double s = is_max ? -INFINITY : 0;
        for (int64_t q = 0; q < p.H * p.W; ++q)
          s = is_max ? std::max(s, double{x[i * p.H * p.W + q]}) : s + x[i * p.H * p.W + q];
        gwant[static_cast<size_t>(i)] = is_max ? s : s / static_cast<double>(p.H * p.W);
      }
      std::vector<float> g(gwant.size());
      simd::nchwc_global_pool(pool, is_max, N, C, p.H * p.W, xb.data(), g.data());
      check(std::string("global ") + (is_max ? "max" : "average") + " pool " + std::to_string(p.H * p.W), g, gwant,
            1e-5);
    }
  }
}

}  // namespace

int main() {
  const auto& paths = simd::nchwc_paths();
  std::string avail;
  for (const auto& p : paths.available) avail += (avail.empty() ? "" : ", ") + p;
  std::printf("nchwc: paths %s; running %s\n", avail.c_str(), paths.active.c_str());
  const int64_t b = simd::nchwc_block();
  if (b == 0) {
    std::printf("%s: no blocked kernel on this path (nothing to check)\n", paths.active.c_str());
    return 0;
  }
  using K = simd::NchwcAct::Kind;
  for (int threads : {1, 2}) {
    ThreadPool pool(threads);
    check_reorders(pool);
    const std::vector<Conv> convs = {
        // 1x1s: a map of 7 (runs across row ends), 1, 13x13; input-block chunks (many input channels).
        {1, 4 * b, 7, 7, 8 * b, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, false, false, K::None},
        {2, 2 * b, 1, 1, 3 * b, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, false, false, K::Relu},
        {1, 40 * b, 13, 13, 5 * b, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, false, true, K::Clip},
        // 3x3s with pads, strides, dilation, partial groups of output blocks, residual + activation.
        {1, 2 * b, 9, 11, 7 * b, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, false, true, K::Relu},
        {2, 3 * b, 14, 14, 2 * b, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1, false, false, K::None},
        {1, b, 10, 9, b, 3, 3, 1, 1, 2, 2, 2, 2, 2, 2, false, true, K::Clip},
        {1, 2 * b, 6, 5, 3 * b, 3, 2, 1, 2, 1, 1, 0, 1, 2, 0, false, false, K::None},
        // A first layer read as NCHW (3 channels), 7x7 stride 2, and a 3x3 one.
        {1, 3, 30, 30, 4 * b, 7, 7, 2, 2, 1, 1, 3, 3, 3, 3, false, false, K::Relu},
        {1, 3, 17, 19, b, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, false, false, K::None},
        // Depthwise: 3x3 stride 1 and 2, 5x5, dilation, residual.
        {1, 3 * b, 15, 13, 3 * b, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, true, true, K::Clip},
        {2, 2 * b, 16, 16, 2 * b, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1, true, false, K::Relu},
        {1, b, 11, 12, b, 5, 5, 1, 1, 2, 2, 4, 4, 4, 4, true, false, K::None},
    };
    for (const Conv& c : convs) check_conv(pool, c);
    check_pools(pool);
  }
  std::printf("%s (blocks of %lld): %d checks, %d out of tolerance\n", paths.active.c_str(), static_cast<long long>(b),
              checked, failures);
  return failures == 0 ? 0 : 1;
}
