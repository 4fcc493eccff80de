// See conv_nchwc.h. The driver of the NCHWc family: the run-time choice, the
// filter and tensor reorders, the zero-padded copy of a padded convolution's
// input, and the tasks (portable code; the row kernels are per instruction
// set).
#include "kernels/simd/conv_nchwc.h"

#include <algorithm>
#include <cstring>
#include <string>

#include "platform/cpu_features.h"
#include "platform/thread_pool.h"

namespace pionnx {
namespace simd {
namespace {

// The NEON file is compiled with NEON (on armv7, -mfpu=neon over a baseline without it), even the code that
// returns its table: it is not called on a CPU without NEON.
NchwcKernel neon_kernel() { return platform::cpu_features().neon ? nchwc_kernel_neon() : NchwcKernel{}; }

const NchwcKernel& active() {
  static const NchwcKernel k = [] {
    const std::string& name = nchwc_paths().active;
    return name == "avx512" ? nchwc_kernel_avx512()
           : name == "avx2" ? nchwc_kernel_avx2()
           : name == "neon" ? neon_kernel()
                            : NchwcKernel{};
  }();
  return k;
}

// Reused by the calling thread (the helpers read it while the caller waits).
float* scratch(size_t n) {
  thread_local std::vector<float> buf;
  if (buf.size() < n) buf.resize(n);
  return buf.data();
}

}  // namespace

// PIONNX_NCHWC=generic|avx2|avx512|neon caps the choice (tests, benchmarks); generic: no blocked kernel.
// The AVX2 path runs only when named: its blocked kernel (8 channels a block) is no faster than the AVX2
// SGEMM's 6x16 tile on the same convolutions, so blocked graphs lost (ResNet-50 83 -> 91 ms, SqueezeNet 7.7
// -> 8.8, Intel Xeon with every family forced to AVX2, 1 thread); the AVX-512 one (16 a block) wins. The
// NEON path (4 a block) runs only when named too: no ARM hardware has timed it against the NEON SGEMM's
// im2col convolutions. llvm-mca puts its inner loop at 100 % of a Cortex-A57/A72's peak on aarch64 but
// about 55 % of an in-order A53's (whose SGEMM has its own scheduled kernel) and 75 % of an A57's on armv7
// (nox -s neon_mca), where the SGEMM kernels reach 84-100 %.
const PathChoice& nchwc_paths() {
  static const PathChoice choice = platform::choose_path(
      "NCHWc convolution", "PIONNX_NCHWC", {"generic", "avx2", "avx512", "neon"},
      {true, nchwc_kernel_avx2().row != nullptr, nchwc_kernel_avx512().row != nullptr, neon_kernel().row != nullptr},
      {true, false, true, false});
  return choice;
}

int nchwc_block() { return active().block; }

int64_t nchwc_input_block(int64_t C) {
  const int64_t b = nchwc_block();
  return b > 0 && C % b == 0 ? b : 1;
}

int64_t nchwc_padded(int64_t M) {
  const int64_t b = nchwc_block();
  return (M + b - 1) / b * b;
}

std::vector<float> nchwc_filter(const float* w, int64_t M, int64_t C, int64_t KH, int64_t KW) {
  // Per group of the kernel's output blocks (g blocks, fewer in the last group): [C/ib][KH][KW][ib][g][b out],
  // so one input channel's g filter vectors are g x b contiguous floats. Written in that order (a session's
  // first run blocks every filter: ResNet-50's 25M weights). Output channels from M to the padded count are
  // zero filters.
  const int64_t b = nchwc_block(), ib = nchwc_input_block(C), K = KH * KW, G = active().max_blocks;
  const int64_t Mb = nchwc_padded(M) / b;
  std::vector<float> out(static_cast<size_t>(Mb * b * C * K));
  float* o = out.data();
  for (int64_t g0 = 0; g0 < Mb; g0 += G) {
    const int64_t g = std::min(G, Mb - g0);
    for (int64_t cb = 0; cb < C / ib; ++cb)
      for (int64_t k = 0; k < K; ++k)
        for (int64_t i = 0; i < ib; ++i)
          for (int64_t m = g0 * b; m < (g0 + g) * b; ++m) *o++ = m < M ? w[(m * C + cb * ib + i) * K + k] : 0.f;
  }
  return out;
}

std::vector<float> nchwc_depthwise_filter(const float* w, int64_t C, int64_t KH, int64_t KW) {
  const int64_t b = nchwc_block(), K = KH * KW;
  std::vector<float> out(static_cast<size_t>(C * K));
  float* o = out.data();
  for (int64_t cb = 0; cb < C / b; ++cb)
    for (int64_t k = 0; k < K; ++k)
      for (int64_t i = 0; i < b; ++i) *o++ = w[(cb * b + i) * K + k];
  return out;
}

namespace {

void reorder(ThreadPool& pool, NchwcReorder fn, const float* x, int64_t N, int64_t C, int64_t HW, float* y) {
  const int64_t b = nchwc_block(), blocks = N * (C / b);
  // Block i (image i / (C / b), channels (i % (C / b)) x b on) is b x HW consecutive floats either way.
  pool.parallel_for(blocks, std::max<int64_t>(1, 16384 / std::max<int64_t>(1, HW * b)), [&](int64_t i0, int64_t i1) {
    for (int64_t i = i0; i < i1; ++i) fn(x + i * b * HW, HW, y + i * b * HW);
  });
}

// The input as the row kernels read it: the rows and columns every window reaches, from the top-left pad on
// (those past the input read zeros), copied into the calling thread's scratch when there are any pads; `ib`
// channels a block, Cb blocks. Strides in floats.
struct Padded {
  const float* x;
  int64_t row, plane;
  bool copied;
};

Padded padded_input(ThreadPool& pool, const NchwcConvShape& s, const float* x, int64_t ib, int64_t Cb) {
  const int64_t Hp = std::max(s.pad_top + s.H, (s.OH - 1) * s.SH + (s.KH - 1) * s.DH + 1);
  const int64_t Wp = std::max(s.pad_left + s.W, (s.OW - 1) * s.SW + (s.KW - 1) * s.DW + 1);
  const bool pad = s.pad_top > 0 || s.pad_left > 0 || Hp > s.H || Wp > s.W;
  const int64_t row = pad ? Wp * ib : s.W * ib, plane = pad ? Hp * Wp * ib : s.H * s.W * ib;
  if (!pad) return {x, row, plane, false};
  float* buf = scratch(static_cast<size_t>(s.N * Cb * plane));
  pool.parallel_for(s.N * Cb, 1, [&](int64_t i0, int64_t i1) {
    for (int64_t i = i0; i < i1; ++i) {
      float* dst = buf + i * plane;
      const float* src = x + i * s.H * s.W * ib;
      std::fill(dst, dst + s.pad_top * row, 0.f);
      for (int64_t h = 0; h < Hp - s.pad_top; ++h) {
        float* d = dst + (s.pad_top + h) * row;
        if (h >= s.H) {
          std::fill(d, d + row, 0.f);
          continue;
        }
        std::fill(d, d + s.pad_left * ib, 0.f);
        std::memcpy(d + s.pad_left * ib, src + h * s.W * ib, sizeof(float) * static_cast<size_t>(s.W * ib));
        std::fill(d + (s.pad_left + s.W) * ib, d + row, 0.f);
      }
    }
  });
  return {buf, row, plane, true};
}

}  // namespace

void nchwc_reorder_in(ThreadPool& pool, const float* x, int64_t N, int64_t C, int64_t HW, float* y) {
  reorder(pool, active().reorder_in, x, N, C, HW, y);
}

void nchwc_reorder_out(ThreadPool& pool, const float* x, int64_t N, int64_t C, int64_t HW, float* y) {
  reorder(pool, active().reorder_out, x, N, C, HW, y);
}

void nchwc_pool(ThreadPool& pool, bool is_max, const NchwcPoolArgs& a, int64_t N, int64_t C, const float* x, float* y) {
  const NchwcKernel& k = active();
  const int64_t b = k.block, planes = N * (C / b), in = a.H * a.W * b, out = a.OH * a.OW * b;
  const NchwcPool fn = is_max ? k.max_pool : k.avg_pool;
  pool.parallel_for(planes, std::max<int64_t>(1, 8192 / std::max<int64_t>(1, out * a.KH * a.KW)),
                    [&](int64_t i0, int64_t i1) {
                      NchwcPoolArgs p = a;
                      for (int64_t i = i0; i < i1; ++i) {
                        p.x = x + i * in;
                        p.y = y + i * out;
                        fn(p);
                      }
                    });
}

void nchwc_global_pool(ThreadPool& pool, bool is_max, int64_t N, int64_t C, int64_t HW, const float* x, float* y) {
  const NchwcKernel& k = active();
  const int64_t b = k.block, planes = N * (C / b);
  const NchwcGlobalPool fn = is_max ? k.global_max : k.global_avg;
  pool.parallel_for(planes, std::max<int64_t>(1, 8192 / std::max<int64_t>(1, HW * b)), [&](int64_t i0, int64_t i1) {
    for (int64_t i = i0; i < i1; ++i) fn(x + i * HW * b, HW, y + i * b);
  });
}

void nchwc_conv(ThreadPool& pool, const NchwcConvShape& s, const float* x, const float* w, const float* bias,
                const float* z, const NchwcAct& act, float* y) {
  const NchwcKernel& k = active();
  // Input blocks of ib channels: b, or 1 for an NCHW input (a first layer's few channels).
  const int64_t b = k.block, ib = nchwc_input_block(s.C), Cb = s.C / ib, Mb = s.M / b;
  if (s.N == 0 || Mb == 0 || s.OH == 0 || s.OW == 0) return;
  const Padded in = padded_input(pool, s, x, ib, Cb);
  const float* xp = in.x;
  const int64_t row = in.row, plane = in.plane;
  // Input blocks summed per call. Each call ends by storing its tile's partial sums and the next one starts
  // by loading them, so fewer, longer calls pay that less often. The AVX-512 path sizes the filter slice a
  // call reads (nob blocks x taps x b x b floats) to a quarter of L2, from where it streams: on an AMD EPYC
  // Zen 4 (32K L1, 1M L2) the 1x1s went from 97-101 to 108-113 GFLOPS and the 3x3s from 99-106 to 106-112
  // against slices within two thirds of L1 (5 blocks for a 1x1, 1 for a 3x3), 1 thread. The AVX2 path keeps
  // the slice within two thirds of L1 and at most 128 channels (the input a tile reads, positions x channels,
  // stays small beside it: its 1x1 1024 -> 256 on 14x14 went 1644 -> 1284 us with the cap, Intel Xeon, 1
  // thread; whole sums were 3-7 % slower on the Zen 4 too).
  const platform::CpuFeatures& cpu = platform::cpu_features();
  const int64_t l1 = cpu.l1d > 0 ? cpu.l1d : 32 * 1024, l2 = cpu.l2 > 0 ? cpu.l2 : 256 * 1024;
  const int64_t slice = int64_t{k.max_blocks} * s.KH * s.KW * ib * b * 4;
  const int64_t chunk =
      std::clamp<int64_t>(k.sums_in_l2 ? l2 / 4 / slice : std::min(l1 * 2 / 3 / slice, 128 / ib), 1, Cb);
  // Runs of 48 outputs of the plane the row kernel takes (row-major, across row ends), which leave a partial
  // tile once per plane rather than once per output row: ResNet-50's 7x7 maps were a tile of 6 and a tile of 1
  // per row.
  const int64_t HW = s.OH * s.OW, run = 48, runs = (HW + run - 1) / run;
  const int64_t groups = (Mb + k.max_blocks - 1) / k.max_blocks, units = s.N * groups * runs;
  const int64_t out_plane = HW * b;
  // Tasks: runs of one (image, output block group); up to 5 a task, fewer where a run's multiply-adds are
  // many (about 256K a task is enough): SqueezeNet's 13x13 squeezes (512 -> 64 1x1, 4 runs of 1.5M) were
  // one task of 4 runs, on one thread at 2 threads.
  const int64_t run_macs = run * std::min<int64_t>(Mb, k.max_blocks) * b * s.C * s.KH * s.KW;
  const int64_t grain = std::max<int64_t>(
      1, std::min({runs, int64_t{5}, ((int64_t{1} << 18) + run_macs - 1) / std::max<int64_t>(1, run_macs)}));
  pool.parallel_for(units, grain, [&](int64_t u0, int64_t u1) {
    while (u0 < u1) {
      const int64_t ng = u0 / runs, r0 = u0 % runs, r1 = std::min(runs, r0 + (u1 - u0));
      const int64_t n = ng / groups, ob = (ng % groups) * k.max_blocks;
      NchwcRowArgs a{};
      a.nob = std::min<int64_t>(k.max_blocks, Mb - ob);
      a.x_cb = plane;
      a.x_kh = row * s.DH;
      a.x_kw = ib * s.DW;
      a.x_pos = ib * s.SW;
      a.x_row = row * s.SH;
      // Rows that follow on in the input (a 1x1 stride-1 convolution without pads) make the plane one row.
      a.ow_n = a.x_row == s.OW * a.x_pos ? HW : s.OW;
      a.icb = ib;
      a.w_cb = s.KH * s.KW * ib * b * a.nob;
      a.kh = s.KH;
      a.kw = s.KW;
      a.y_ob = out_plane;
      a.bias = bias ? bias + ob * b : nullptr;
      a.act = act;
      for (int64_t cb = 0; cb < Cb; cb += chunk) {
        a.ncb = std::min(chunk, Cb - cb);
        a.first = cb == 0;
        a.last = cb + a.ncb == Cb;
        a.w = w + ob * s.C * s.KH * s.KW * b + cb * a.w_cb;
        for (int64_t r = r0; r < r1; ++r) {
          const int64_t q = r * run, oh = q / a.ow_n;  // the run's first output
          a.ow0 = q % a.ow_n;
          a.x = xp + (n * Cb + cb) * plane + oh * a.x_row;
          const int64_t yo = (n * Mb + ob) * out_plane + q * b;
          a.count = std::min(run, HW - r * run);
          a.y = y + yo;
          a.z = z && a.last ? z + yo : nullptr;
          k.row(a);
        }
      }
      u0 += r1 - r0;
    }
  });
}

void nchwc_depthwise(ThreadPool& pool, const NchwcConvShape& s, const float* x, const float* w, const float* bias,
                     const float* z, const NchwcAct& act, float* y) {
  const NchwcKernel& k = active();
  const int64_t b = k.block, Cb = s.C / b;
  if (s.N == 0 || Cb == 0 || s.OH == 0 || s.OW == 0) return;
  // No padded copy (a depthwise convolution does little work per input value): kernel rows outside the input
  // are left out here, columns by the row kernel.
  const int64_t in_plane = s.H * s.W * b, out_plane = s.OH * s.OW * b, units = s.N * Cb * s.OH;
  // Tasks: runs of output rows of one (image, block); a few thousand multiply-adds at least.
  const int64_t grain = std::max<int64_t>(1, 4096 / std::max<int64_t>(1, s.OW * s.KH * s.KW * b));
  pool.parallel_for(units, grain, [&](int64_t u0, int64_t u1) {
    NchwcDepthwiseArgs a{};
    a.x_kh = s.DH * s.W * b;
    a.W = s.W;
    a.SW = s.SW;
    a.DW = s.DW;
    a.pad_left = s.pad_left;
    a.kw = s.KW;
    a.count = s.OW;
    a.act = act;
    for (int64_t u = u0; u < u1; ++u) {
      const int64_t plane = u / s.OH, oh = u % s.OH, cb = plane % Cb;
      const int64_t r0 = oh * s.SH - s.pad_top;  // the input row of kernel row 0
      int64_t kh0 = 0, kh1 = s.KH;
      while (kh0 < kh1 && r0 + kh0 * s.DH < 0) ++kh0;
      while (kh1 > kh0 && r0 + (kh1 - 1) * s.DH >= s.H) --kh1;
      a.kh = kh1 - kh0;
      a.x = x + plane * in_plane + (kh0 < kh1 ? (r0 + kh0 * s.DH) * s.W * b : 0);
      a.w = w + (cb * s.KH + kh0) * s.KW * b;
      a.bias = bias ? bias + cb * b : nullptr;
      a.y = y + plane * out_plane + oh * s.OW * b;
      a.z = z ? z + plane * out_plane + oh * s.OW * b : nullptr;
      k.depthwise(a);
    }
  });
}

}  // namespace simd
}  // namespace pionnx
