// Conv (and com.microsoft FusedConv): a GEMM per (image, group) of the
// weights [Mg, Cg * k] by the im2col matrix [Cg * k, out positions].
// float32: constant weights packed once per session for the SGEMM; 1x1 stride-1 reads
// the input as the matrix; other 2-D convolutions pack im2col straight into
// SGEMM panels. Depthwise 2-D runs a direct loop. double and 1-/3-D use an
// explicit, chunked im2col buffer. float16/bfloat16 compute in float32.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <vector>

#include "kernels/base/cast.h"
#include "kernels/base/dtype_dispatch.h"
#include "kernels/base/kernel.h"
#include "kernels/base/shapes.h"
#include "kernels/base/weight_cache.h"
#include "kernels/math/gemm_ref.h"
#include "kernels/nn/conv_winograd.h"
#include "kernels/nn/window.h"
#include "kernels/simd/conv_nchwc.h"
#include "kernels/simd/depthwise.h"
#include "platform/thread_pool.h"

namespace pionnx {
namespace {

// Reused per thread: im2col buffers are megabytes and run every inference.
template <typename T>
T* scratch(size_t n) {
  thread_local std::vector<T> buf;
  if (buf.size() < n) buf.resize(n);
  return buf.data();
}

// im2col of a 2-D window for output rows [oh0, oh1): col row
// (c * KH + kh) * KW + kw holds, for each output position of those rows, the
// input value under that kernel tap (0 in the padding).
template <typename T>
void im2col_2d(ThreadPool& pool, const T* X, int64_t C, const WindowGeometry& g, int64_t oh0, int64_t oh1, T* col) {
  const int64_t H = g.in[0], W = g.in[1], KH = g.kernel[0], KW = g.kernel[1];
  const int64_t SH = g.strides[0], SW = g.strides[1], DH = g.dilations[0], DW = g.dilations[1];
  const int64_t PH = g.pad_begin[0], PW = g.pad_begin[1], OW = g.out[1];
  const int64_t pc = (oh1 - oh0) * OW;
  pool.parallel_for(C, std::max<int64_t>(1, 4096 / std::max<int64_t>(1, KH * KW * pc)), [&](int64_t c0, int64_t c1) {
    for (int64_t c = c0; c < c1; ++c) {
      for (int64_t kh = 0; kh < KH; ++kh) {
        for (int64_t kw = 0; kw < KW; ++kw) {
          T* dst = col + ((c * KH + kh) * KW + kw) * pc;
          const int64_t off = kw * DW - PW;
          int64_t lo, hi;
          valid_range(off, SW, W, OW, &lo, &hi);
          for (int64_t oh = oh0; oh < oh1; ++oh, dst += OW) {
            const int64_t ih = oh * SH - PH + kh * DH;
            if (ih < 0 || ih >= H) {
              std::fill(dst, dst + OW, T(0));
              continue;
            }
            std::fill(dst, dst + lo, T(0));
            if (lo < hi) {
              // From the first input column inside the row: off alone may lie a pad
              // (up to INT64_MAX) before the row, which would wrap the address.
              const T* src = X + (c * H + ih) * W + (off + lo * SW);
              if (SW == 1) std::memcpy(dst + lo, src, sizeof(T) * (hi - lo));
              else
                for (int64_t ow = lo; ow < hi; ++ow) dst[ow] = src[(ow - lo) * SW];
            }
            std::fill(dst + hi, dst + OW, T(0));
          }
        }
      }
    }
  });
}

// im2col for any number of spatial dims, output positions [p0, p1).
template <typename T>
void im2col_nd(const T* X, int64_t C, const WindowGeometry& g, int64_t p0, int64_t p1, T* col) {
  const size_t nd = g.dims();
  const int64_t ksize = g.kernel_size(), in_size = g.in_size(), pc = p1 - p0;
  std::vector<int64_t> kpos(nd), opos(nd);
  for (int64_t row = 0; row < C * ksize; ++row) {
    const int64_t c = row / ksize;
    unravel(row % ksize, g.kernel, kpos);
    unravel(p0, g.out, opos);
    T* dst = col + row * pc;
    for (int64_t p = 0; p < pc; ++p, next_position(opos, g.out)) {
      int64_t flat;
      dst[p] = window_tap(g, opos, kpos, g.in, &flat) ? X[c * in_size + flat] : T(0);
    }
  }
}

// Buffers of the padded 3x3 path, kept by a thread across the planes of its
// share: the padded plane's zero border is written once (every plane has
// the same geometry) and only the inside is copied per plane.
struct DepthwiseScratch {
  std::vector<float> padded, spill;
  bool border_ready = false;
};

// One depthwise 2-D plane: y = bias + sum over taps of w * x. Outputs whose
// window lies inside the input run a branch-free loop the compiler can
// vectorize over ow (K and S fixed for the common 3x3 stride 1/2); border
// outputs check every tap.
template <typename T, int K, int S>
void depthwise_plane(const T* x, const T* w, T bias, T* y, const WindowGeometry& g,
                     [[maybe_unused]] DepthwiseScratch& scratch) {
  const int64_t H = g.in[0], W = g.in[1], OH = g.out[0], OW = g.out[1];
  const int64_t KH = K ? K : g.kernel[0], KW = K ? K : g.kernel[1];
  const int64_t SH = g.strides[0], SW = S ? S : g.strides[1];
  const int64_t DH = g.dilations[0], DW = g.dilations[1];
  const int64_t PH = g.pad_begin[0], PW = g.pad_begin[1];
  if constexpr (K == 3 && std::is_same<T, float>::value) {
    // The plane is copied into a zero-padded one, so every output row is one
    // call of the row kernel with no border checks (a 7x7 or 14x14 map is
    // mostly border). The copy is a ninth of the taps' work or less. Each call
    // asks for whole vectors (OW rounded up to 8): the row kernels finish a
    // row one output at a time after their last full vector, which on a 7- or
    // 14-wide map was most of the work. The extra outputs land on the next
    // rows (computed after, so overwritten) or, for the plane's last rows,
    // in a scratch row; the padded rows carry the zero columns they read.
    const int64_t PE = g.pad_end[0], PEW = g.pad_end[1];
    if (DH == 1 && DW == 1 && PH <= 2 && PW <= 2 && PE <= 2 && PEW <= 2) {
      const int64_t n8 = (OW + 7) / 8 * 8;
      // Stride 2: the row kernels run a vector while one more output follows.
      const int64_t n_call = S == 1 ? n8 : n8 + 1;
      const int64_t Hp = H + PH + PE, Wa = std::max(W + PW + PEW, S == 1 ? n_call + 2 : 2 * n_call + 1);
      std::vector<float>& padded = scratch.padded;
      std::vector<float>& spill = scratch.spill;
      if (!scratch.border_ready) {
        padded.assign(static_cast<size_t>(Hp * Wa), 0.f);
        spill.resize(static_cast<size_t>(n_call));
        scratch.border_ready = true;
      }
      for (int64_t ih = 0; ih < H; ++ih) {
        const float* src = x + ih * W;
        float* dst = padded.data() + (ih + PH) * Wa + PW;
        for (int64_t iw = 0; iw < W; ++iw) dst[iw] = src[iw];
      }
      for (int64_t oh = 0; oh < OH; ++oh) {
        const float* r = padded.data() + oh * SH * Wa;
        const bool fits = (oh * OW + n_call) <= OH * OW;
        float* out = fits ? y + oh * OW : spill.data();
        if (S == 1) simd::depthwise3x3_row(r, r + Wa, r + 2 * Wa, 1, w, bias, out, n_call);
        else simd::depthwise3x3s2_row(r, r + Wa, r + 2 * Wa, w, bias, out, n_call);
        if (!fits) std::memcpy(y + oh * OW, spill.data(), sizeof(float) * static_cast<size_t>(OW));
      }
      return;
    }
  }
  int64_t oh_lo, oh_hi, ow_lo, ow_hi;
  valid_range(-PH, SH, H - (KH - 1) * DH, OH, &oh_lo, &oh_hi);
  valid_range(-PW, SW, W - (KW - 1) * DW, OW, &ow_lo, &ow_hi);
  auto border = [&](int64_t oh, int64_t ow) {
    T acc = bias;
    for (int64_t kh = 0; kh < KH; ++kh) {
      const int64_t ih = oh * SH - PH + kh * DH;
      if (ih < 0 || ih >= H) continue;
      for (int64_t kw = 0; kw < KW; ++kw) {
        const int64_t iw = ow * SW - PW + kw * DW;
        if (iw >= 0 && iw < W) acc += w[kh * KW + kw] * x[ih * W + iw];
      }
    }
    return acc;
  };
  for (int64_t oh = 0; oh < OH; ++oh) {
    T* yr = y + oh * OW;
    if (oh < oh_lo || oh >= oh_hi) {
      for (int64_t ow = 0; ow < OW; ++ow) yr[ow] = border(oh, ow);
      continue;
    }
    for (int64_t ow = 0; ow < ow_lo; ++ow) yr[ow] = border(oh, ow);
    // The top-left input of the first inside window (ow_lo): the window starts of the outputs
    // before it may lie a pad (up to INT64_MAX) left of the row, which would wrap the address.
    const T* xr = ow_lo < ow_hi ? x + (oh * SH - PH) * W + (ow_lo * SW - PW) : x;
    T* yi = yr + ow_lo;
    const int64_t n_in = std::max<int64_t>(0, ow_hi - ow_lo);
    bool done = false;
    if constexpr (K == 3 && std::is_same<T, float>::value) {
      // Nine taps over a contiguous run of outputs: the depthwise family's
      // kernels for this CPU (kernels/simd/depthwise.h); stride 2 only
      // without dilation.
      if (S == 1) simd::depthwise3x3_row(xr, xr + DH * W, xr + 2 * DH * W, DW, w, bias, yi, n_in);
      else if (DW == 1) simd::depthwise3x3s2_row(xr, xr + DH * W, xr + 2 * DH * W, w, bias, yi, n_in);
      done = S == 1 || DW == 1;
    }
    if (!done)
      for (int64_t i = 0; i < n_in; ++i) {
        T acc = bias;
        for (int64_t kh = 0; kh < KH; ++kh)
          for (int64_t kw = 0; kw < KW; ++kw) acc += w[kh * KW + kw] * xr[kh * DH * W + i * SW + kw * DW];
        yi[i] = acc;
      }
    for (int64_t ow = std::max(ow_lo, ow_hi); ow < OW; ++ow) yr[ow] = border(oh, ow);
  }
}

// An activation fused into the convolution (com.microsoft FusedConv, or a
// Conv the optimizer merged with the activation after it).
struct Activation {
  enum Kind { None, Relu, LeakyRelu, Clip, Sigmoid, Tanh, HardSigmoid } kind = None;
  float a = 0, b = 0;

  static Activation from_node(const Node& n) {
    Activation act;
    const std::string name = n.attr_s("activation", "");
    const std::vector<float> p = n.attr_floats("activation_params");
    auto param = [&](size_t i, float def) { return i < p.size() ? p[i] : def; };
    if (name.empty()) return act;
    if (name == "Relu") act.kind = Relu;
    else if (name == "LeakyRelu") act = {LeakyRelu, param(0, 0.01f), 0};
    else if (name == "Clip") act = {Clip, param(0, -3.4e38f), param(1, 3.4e38f)};
    else if (name == "Sigmoid") act.kind = Sigmoid;
    else if (name == "Tanh") act.kind = Tanh;
    else if (name == "HardSigmoid") act = {HardSigmoid, param(0, 0.2f), param(1, 0.5f)};
    else throw NotImplemented(str_cat(n.describe(), ": fused activation '", name, "' is not supported"));
    return act;
  }

  // Calls fn(op) with op(v) the activation of one value, chosen once.
  template <typename T, typename Fn>
  void with_op(Fn&& fn) const {
    const T ta = T(a), tb = T(b);
    switch (kind) {
      case None: return fn([](T v) { return v; });
      case Relu: return fn([](T v) { return v > T(0) ? v : T(0); });
      case LeakyRelu: return fn([ta](T v) { return v >= T(0) ? v : v * ta; });
      case Clip: return fn([ta, tb](T v) { return std::min(std::max(v, ta), tb); });
      case Sigmoid: return fn([](T v) { return T(1) / (T(1) + std::exp(-v)); });
      case Tanh: return fn([](T v) { return std::tanh(v); });
      case HardSigmoid: return fn([ta, tb](T v) { return std::min(T(1), std::max(T(0), ta * v + tb)); });
    }
  }

  template <typename T>
  void apply(T* y, int64_t n) const {
    if (kind == None) return;
    with_op<T>([&](auto op) {
      for (int64_t i = 0; i < n; ++i) y[i] = op(y[i]);
    });
  }
};

// Output widths up to which depthwise 3x3 runs eight channels at a time
// (simd::depthwise3x3_c8) where the CPU has that kernel: stride 1 up to 128
// (MobileNetV2's 32 channels on 112x112, Intel Xeon, 1 thread: rows 250 ->
// 221-236 us on AVX2, 227-243 -> 185-229 on AVX-512; EPYC Zen 3 had shown no
// gain there, nor a loss), stride 2 up to 64.
constexpr int64_t kDepthwiseC8MaxWidth = 128, kDepthwiseC8MaxWidthS2 = 64;

// Depthwise 2-D (one input channel per group): one plane per output channel.
template <typename T>
void conv_depthwise_2d(ThreadPool& pool, const T* X, const T* Wt, const T* B, const T* Z, T* Y, int64_t N, int64_t C,
                       int64_t M, const WindowGeometry& g, const Activation& act) {
  const int64_t Mg = M / C;  // outputs per input channel
  const int64_t in_size = g.in_size(), out_size = g.out_size(), ksize = g.kernel_size();
  auto plane = &depthwise_plane<T, 0, 0>;
  if (g.kernel[0] == 3 && g.kernel[1] == 3 && g.strides[1] == 1) plane = &depthwise_plane<T, 3, 1>;
  if (g.kernel[0] == 3 && g.kernel[1] == 3 && g.strides[1] == 2) plane = &depthwise_plane<T, 3, 2>;
  // FusedConv's residual, then the activation, over output planes [nm0, nm1)
  // while they are in cache.
  auto finish = [&](int64_t nm0, int64_t nm1) {
    for (int64_t nm = nm0; nm < nm1; ++nm) {
      T* y = Y + nm * out_size;
      if (Z)
        for (int64_t i = 0; i < out_size; ++i) y[i] += Z[nm * out_size + i];
      act.apply(y, out_size);
    }
  };
  if constexpr (std::is_same<T, float>::value) {
    // Small maps, one output per channel: eight channels at a time,
    // interleaved (kernels/simd/depthwise.h), where the row kernels' costs
    // per row outweighed rows of 7 or 14 outputs.
    const simd::Depthwise3x3C8 c8 = simd::depthwise3x3_c8();
    const int64_t groups = C / 8;
    if (c8 && Mg == 1 && groups > 0 && g.kernel[0] == 3 && g.kernel[1] == 3 && g.dilations[0] == 1 &&
        g.dilations[1] == 1 && g.out[1] <= (g.strides[1] == 1 ? kDepthwiseC8MaxWidth : kDepthwiseC8MaxWidthS2)) {
      const int64_t OH = g.out[0], OW = g.out[1];
      const size_t need = static_cast<size_t>(simd::depthwise3x3_c8_scratch(OH, OW, g.strides[0], g.strides[1]));
      // Relu and Clip (MobileNet's ReLU6) are applied in the kernel's registers, not in a pass over the
      // planes after: 144 channels on 56x56 with ReLU6 246-252 -> 195-200 us (EPYC Zen 3, 1 thread).
      simd::DepthwiseAct in_kernel;
      const bool fused = Z == nullptr &&
                         (act.kind == Activation::None || act.kind == Activation::Relu || act.kind == Activation::Clip);
      if (fused && act.kind != Activation::None) {
        in_kernel.kind = act.kind == Activation::Relu ? simd::DepthwiseAct::Relu : simd::DepthwiseAct::Clip;
        in_kernel.lo = act.a;
        in_kernel.hi = act.b;
      }
      pool.parallel_for(N * groups, std::max<int64_t>(1, 4096 / std::max<int64_t>(1, 8 * out_size * ksize)),
                        [&](int64_t b, int64_t e) {
                          std::vector<float> scratch(need);
                          for (int64_t ng = b; ng < e; ++ng) {
                            const int64_t n = ng / groups, c0 = ng % groups * 8, nm = n * M + c0;
                            c8(X + (n * C + c0) * in_size, in_size, g.in[0], g.in[1], g.pad_begin[0], g.pad_begin[1],
                               g.strides[0], g.strides[1], Wt + c0 * ksize, B ? B + c0 : nullptr, in_kernel,
                               Y + nm * out_size, out_size, OH, OW, scratch.data());
                            if (!fused) finish(nm, nm + 8);
                          }
                        });
      const int64_t rest = C - groups * 8;  // the last C % 8 channels of each image: the row kernels
      if (rest > 0)
        pool.parallel_for(N * rest, 1, [&](int64_t b, int64_t e) {
          DepthwiseScratch scratch;
          for (int64_t i = b; i < e; ++i) {
            const int64_t n = i / rest, m = groups * 8 + i % rest, nm = n * M + m;
            plane(X + (n * C + m) * in_size, Wt + m * ksize, B ? B[m] : T(0), Y + nm * out_size, g, scratch);
            finish(nm, nm + 1);
          }
        });
      return;
    }
  }
  pool.parallel_for(
      N * M, std::max<int64_t>(1, 8192 / std::max<int64_t>(1, out_size * ksize)), [&](int64_t b, int64_t e) {
        DepthwiseScratch scratch;
        for (int64_t nm = b; nm < e; ++nm) {
          const int64_t n = nm / M, m = nm % M;
          plane(X + (n * C + m / Mg) * in_size, Wt + m * ksize, B ? B[m] : T(0), Y + nm * out_size, g, scratch);
          finish(nm, nm + 1);
        }
      });
}

// Copies rows of NR floats (a column sub-block of width w, row stride w) into
// the SGEMM's NR-column panels (panel stride kc * NR), zero-filling columns
// past w in the last panel. NR is a compile-time constant: a few vector moves
// per row.
template <int NR>
void panels_from_rows(const float* buf, int64_t w, int64_t kc, float* out) {
  for (int64_t jr = 0; jr < w; jr += NR) {
    float* dst = out + jr * kc;
    const int64_t n = std::min<int64_t>(NR, w - jr);
    if (n == NR) {
      for (int64_t kk = 0; kk < kc; ++kk, dst += NR) {
        std::memcpy(dst, buf + kk * w + jr, sizeof(float) * NR);  // fixed size: vector moves (a loop stayed scalar)
      }
    } else {
      for (int64_t kk = 0; kk < kc; ++kk, dst += NR) {
        const float* src = buf + kk * w + jr;
        for (int t = 0; t < NR; ++t) dst[t] = t < n ? src[t] : 0.f;
      }
    }
  }
}

void panels_from_rows(const float* buf, int64_t w, int64_t kc, int nr, float* out) {
  switch (nr) {
    case 8: return panels_from_rows<8>(buf, w, kc, out);
    case 12: return panels_from_rows<12>(buf, w, kc, out);
    case 16: return panels_from_rows<16>(buf, w, kc, out);
    case 32: return panels_from_rows<32>(buf, w, kc, out);
    default:
      for (int64_t jr = 0; jr < w; jr += nr)
        for (int64_t kk = 0; kk < kc; ++kk)
          for (int t = 0; t < nr; ++t) out[jr * kc + kk * nr + t] = jr + t < w ? buf[kk * w + jr + t] : 0.f;
  }
}

// The im2col matrix of one image and group (rows (c, kh, kw), columns output
// positions), written into SGEMM panels so it never exists whole: depth rows
// [k0, k0 + kc) and output positions [j0, j0 + nc) per call, a sub-block of columns
// at a time is unfolded row by row (one copy per output-row segment, as
// im2col_2d does) into a per-thread buffer that stays in L2, then copied into
// panels with fixed-width moves. padded_im2col_packer is faster (no border
// checks); this one serves pads wider than the window reaches, where a
// padded copy would be mostly zeros.
simd::SgemmPackB im2col_packer(const float* X, const WindowGeometry& g) {
  return [X, &g](int64_t k0, int64_t kc, int64_t j0, int64_t nc, int nr, float* out) {
    const int64_t H = g.in[0], W = g.in[1], KH = g.kernel[0], KW = g.kernel[1];
    const int64_t SH = g.strides[0], SW = g.strides[1], DH = g.dilations[0], DW = g.dilations[1];
    const int64_t PH = g.pad_begin[0], PW = g.pad_begin[1], OW = g.out[1];
    const int64_t sub = std::max<int64_t>(nr, 256 / nr * nr);  // kc x sub floats: 256 KiB at kc = 256
    thread_local std::vector<float> buf;
    if (buf.size() < static_cast<size_t>(kc * sub)) buf.resize(static_cast<size_t>(kc * sub));
    for (int64_t jb = 0; jb < nc; jb += sub) {
      const int64_t w = std::min(sub, nc - jb);
      int64_t c = k0 / (KH * KW), kh = k0 / KW % KH, kw = k0 % KW;
      for (int64_t kk = 0; kk < kc; ++kk) {
        float* row = buf.data() + kk * w;
        const float* xc = X + c * H * W;
        for (int64_t done = 0, p = j0 + jb; done < w;) {
          const int64_t oh = p / OW, ow = p % OW, len = std::min(w - done, OW - ow);
          float* d = row + done;
          const int64_t ih = oh * SH - PH + kh * DH;
          if (ih < 0 || ih >= H) {
            std::fill(d, d + len, 0.f);
          } else {
            const int64_t base = ow * SW + kw * DW - PW;
            int64_t lo, hi;
            valid_range(base, SW, W, len, &lo, &hi);
            std::fill(d, d + lo, 0.f);
            // From the first input column inside the row (base may lie a whole pad before it).
            const float* src = xc + ih * W + base + lo * SW;
            if (SW == 1) std::memcpy(d + lo, src, sizeof(float) * static_cast<size_t>(hi - lo));
            else
              for (int64_t t = lo; t < hi; ++t) d[t] = src[(t - lo) * SW];
            std::fill(d + hi, d + len, 0.f);
          }
          done += len;
          p += len;
        }
        if (++kw == KW) {
          kw = 0;
          if (++kh == KH) {
            kh = 0;
            ++c;
          }
        }
      }
      panels_from_rows(buf.data(), w, kc, nr, out + jb * kc);
    }
  };
}

// The input of one image and group zero-padded (C planes of hp x wp): what
// padded_im2col_packer reads. Only the rows and columns some window reads.
struct PaddedInput {
  int64_t hp = 0, wp = 0;
  const float* data = nullptr;
};

// How many padded rows (d = 0) or columns (d = 1) the windows read.
int64_t window_span(const WindowGeometry& g, size_t d) {
  return (g.out[d] - 1) * g.strides[d] + (g.kernel[d] - 1) * g.dilations[d] + 1;
}

// Whether the padded copy is worth making: pads within the kernel's reach
// (not the absurd pads a hostile model may carry, which would make the copy
// much larger than the input).
bool padded_input_fits(const WindowGeometry& g) {
  for (size_t d = 0; d < 2; ++d)
    if (window_span(g, d) > g.in[d] + 2 * g.kernel[d] * g.dilations[d] + 2) return false;
  return true;
}

PaddedInput pad_input(ThreadPool& pool, const float* X, int64_t C, const WindowGeometry& g, float* buf) {
  PaddedInput p;
  p.hp = window_span(g, 0);
  p.wp = window_span(g, 1);
  p.data = buf;
  const int64_t H = g.in[0], W = g.in[1], PH = g.pad_begin[0], PW = g.pad_begin[1], hp = p.hp, wp = p.wp;
  // Input columns [w0, w1) land at padded columns [w0 + PW, w1 + PW).
  const int64_t w0 = std::max<int64_t>(0, -PW), w1 = std::max(w0, std::min(W, wp - PW));
  pool.parallel_for(C, std::max<int64_t>(1, 16384 / std::max<int64_t>(1, hp * wp)), [&](int64_t c0, int64_t c1) {
    for (int64_t c = c0; c < c1; ++c)
      for (int64_t r = 0; r < hp; ++r) {
        float* d = buf + (c * hp + r) * wp;
        const int64_t ih = r - PH;
        if (ih < 0 || ih >= H || w1 == w0) {
          std::fill(d, d + wp, 0.f);
          continue;
        }
        std::fill(d, d + w0 + PW, 0.f);
        std::copy(X + (c * H + ih) * W + w0, X + (c * H + ih) * W + w1, d + w0 + PW);
        std::fill(d + w1 + PW, d + wp, 0.f);
      }
  });
  return p;
}

// The direct path: the GEMM reads the im2col matrix in place
// (simd::sgemm_prepacked_shifted) from the zero-padded input with each
// padded row split by column phase, stride SW: phase p holds padded columns
// p, p + SW, p + 2 SW, ... (`half` of them), so the inputs under one tap for
// consecutive outputs of a row are contiguous, at any stride and dilation.
// Tap (c, kh, kw) for output (oh, ow) reads padded column ow * SW + kw * DW,
// which is phase (kw * DW) % SW, index ow + (kw * DW) / SW: a per-tap shift
// plus an output row's offset oh * SH * row plus ow. No panel is packed at
// all, where packing im2col panels costs a fifth of a first layer's time
// (3 input channels, 27 taps: SqueezeNet's, MobileNet's, VGG's).
struct PhasedInput {
  int64_t hp = 0, half = 0, row = 0;  // rows per channel, columns per phase, floats per row
  const float* data = nullptr;
};

int64_t phased_input_floats(const WindowGeometry& g, int64_t C) {
  const int64_t SW = g.strides[1], half = (window_span(g, 1) + SW - 1) / SW;
  return C * window_span(g, 0) * SW * half + simd::sgemm_tile().nr;  // the micro-kernel's overrun
}

int64_t floor_div(int64_t a, int64_t b) { return a >= 0 ? a / b : -((-a + b - 1) / b); }

PhasedInput phase_input(ThreadPool& pool, const float* X, int64_t C, const WindowGeometry& g, float* buf) {
  PhasedInput p;
  const int64_t SW = g.strides[1], wp = window_span(g, 1);
  p.hp = window_span(g, 0);
  p.half = (wp + SW - 1) / SW;
  p.row = SW * p.half;
  p.data = buf;
  const int64_t H = g.in[0], W = g.in[1], PH = g.pad_begin[0], PW = g.pad_begin[1], hp = p.hp, half = p.half;
  pool.parallel_for(C, std::max<int64_t>(1, 16384 / std::max<int64_t>(1, hp * p.row)), [&](int64_t c0, int64_t c1) {
    for (int64_t c = c0; c < c1; ++c)
      for (int64_t r = 0; r < hp; ++r) {
        float* d = buf + (c * hp + r) * p.row;
        const int64_t ih = r - PH;
        if (ih < 0 || ih >= H) {
          std::fill(d, d + p.row, 0.f);
          continue;
        }
        const float* x = X + (c * H + ih) * W;
        for (int64_t ph = 0; ph < SW; ++ph) {
          // Padded column j * SW + ph is input column j * SW + ph - PW: inside the input (and the
          // window span) for j in [j0, j1).
          float* dp = d + ph * half;
          const int64_t j0 = std::min(half, std::max<int64_t>(0, floor_div(PW - ph + SW - 1, SW)));
          const int64_t j1 =
              std::max(j0, std::min({half, floor_div(W - 1 + PW - ph, SW) + 1, floor_div(wp - 1 - ph, SW) + 1}));
          std::fill(dp, dp + j0, 0.f);
          const float* src = x + (j0 * SW + ph - PW);  // read only for j0 < j1
          if (SW == 1) std::copy(src, src + (j1 - j0), dp + j0);
          else if (SW == 2)
            for (int64_t j = j0; j < j1; ++j) dp[j] = src[2 * (j - j0)];
          else
            for (int64_t j = j0; j < j1; ++j) dp[j] = src[SW * (j - j0)];
          std::fill(dp + j1, dp + half, 0.f);
        }
      }
  });
  std::fill(buf + C * hp * p.row, buf + phased_input_floats(g, C), 0.f);
  return p;
}

// Per tap (c, kh, kw) of C channels, its offset in a PhasedInput.
std::vector<int64_t> phased_shifts(const PhasedInput& xp, const WindowGeometry& g, int64_t C) {
  const int64_t KH = g.kernel[0], KW = g.kernel[1], SW = g.strides[1];
  std::vector<int64_t> shift;
  shift.reserve(static_cast<size_t>(C * KH * KW));
  for (int64_t c = 0; c < C; ++c)
    for (int64_t kh = 0; kh < KH; ++kh)
      for (int64_t kw = 0; kw < KW; ++kw) {
        const int64_t col = kw * g.dilations[1];
        shift.push_back((c * xp.hp + kh * g.dilations[0]) * xp.row + col % SW * xp.half + col / SW);
      }
  return shift;
}

// Where the direct path beats packing im2col panels: few input channels per
// group, whatever the kernel (the B rows one output row reads are then a few
// input rows, in L1 for every band of output channels). Alternated with the
// packed path on Zen 3 (1 thread, conv node minimum of 150-200 runs): 3->64
// 3x3/2 on 224x224 0.87-1.6 -> 0.64-0.72 ms (onnxruntime 0.67-0.74),
// 3->64 3x3/1 3.6 -> 2.6 ms, 3->32 3x3/2 pad 1 0.49-0.52 -> 0.41-0.43,
// 3->64 7x7/2 3.8 -> 3.2, 3->96 11x11/4 3.5-4.4 -> 3.2, 8->16 3x3 on 112x112
// 0.53-0.72 -> 0.42-0.51, 24->64 5x5 on 14x14 0.26-0.33 -> 0.22-0.23; 16
// channels even (3x3/2) or better (5x5); 32 even to 30 % slower, 64 and up
// (1x1/2 on 256, 3x3/2 on 64) 25-60 % slower.
constexpr int64_t kDirectMaxChannels = 16;

// (A stride wider than the padded row has nothing to split into phases, and each phased row is stride x
// ceil(width / stride) floats: a hostile 2^32 stride asked for 64 GB, the fuzzer's finding 04486672.)
bool direct_applies(const WindowGeometry& g, int64_t Cg) {
  return g.dims() == 2 && Cg <= kDirectMaxChannels && conv_path() != "im2col" && simd::sgemm_has_shifted() &&
         padded_input_fits(g) && g.strides[1] <= window_span(g, 1);
}

// The im2col matrix packed into NR-column panels from the padded input:
// position (oh, ow) under tap (c, kh, kw) reads
// xp[c][oh * SH + kh * DH][ow * SW + kw * DW], a per-position offset plus a
// per-tap shift. Each panel's NR offsets are worked out once, then every tap
// is NR loads at those offsets from its shift, with no bounds to check.
template <int NR>
void pack_padded_panels(const PaddedInput& xp, const WindowGeometry& g, int64_t k0, int64_t kc, int64_t j0, int64_t nc,
                        float* out) {
  const int64_t KH = g.kernel[0], KW = g.kernel[1], OW = g.out[1], hw = xp.hp * xp.wp;
  thread_local std::vector<int64_t> shift;
  shift.resize(static_cast<size_t>(kc));
  for (int64_t kk = 0, c = k0 / (KH * KW), kh = k0 / KW % KH, kw = k0 % KW; kk < kc; ++kk) {
    shift[kk] = c * hw + kh * g.dilations[0] * xp.wp + kw * g.dilations[1];
    if (++kw == KW) {
      kw = 0;
      if (++kh == KH) {
        kh = 0;
        ++c;
      }
    }
  }
  const int64_t SW = g.strides[1];
  for (int64_t jr = 0; jr < nc; jr += NR) {
    const int n = static_cast<int>(std::min<int64_t>(NR, nc - jr));
    int64_t off[NR];
    for (int t = 0; t < NR; ++t) {
      const int64_t p = j0 + jr + std::min(t, n - 1);  // past n: any valid offset, zeroed below
      off[t] = p / OW * g.strides[0] * xp.wp + p % OW * SW;
    }
    float* dst = out + jr * kc;
    // A full panel within one output row reads every tap's inputs at a fixed
    // stride 1 or 2: a copy, or an unrolled strided loop, without the offset
    // table (3->24 3x3/2 on 224x224: 413-424 -> 390-395 us).
    if (n == NR && (j0 + jr) / OW == (j0 + jr + NR - 1) / OW && (SW == 1 || SW == 2)) {
      const float* base = xp.data + off[0];
      if (SW == 1)
        for (int64_t kk = 0; kk < kc; ++kk, dst += NR) std::memcpy(dst, base + shift[kk], sizeof(float) * NR);
      else
        for (int64_t kk = 0; kk < kc; ++kk, dst += NR) {
          const float* src = base + shift[kk];
          for (int t = 0; t < NR; ++t) dst[t] = src[2 * t];
        }
      continue;
    }
    // A full panel over a few output rows (maps narrower than a panel: OW 28,
    // 14, 7 against 32 columns): per row, a run of positions at stride SW,
    // each copied as the one-row case does, not element by element through
    // the offset table (ResNet-50's strided 3x3 convolutions spent a sixth of
    // their time in that gather).
    if (n == NR && (SW == 1 || SW == 2) && OW >= 4) {
      int run_start[NR + 1], runs = 0;
      for (int t = 0; t < NR; ++t)
        if (t == 0 || (j0 + jr + t) % OW == 0) run_start[runs++] = t;
      run_start[runs] = NR;
      for (int64_t kk = 0; kk < kc; ++kk, dst += NR) {
        const float* src = xp.data + shift[kk];
        for (int r = 0; r < runs; ++r) {
          const int a = run_start[r], len = run_start[r + 1] - a;
          const float* from = src + off[a];
          float* to = dst + a;
          if (SW == 1)
            for (int t = 0; t < len; ++t) to[t] = from[t];
          else
            for (int t = 0; t < len; ++t) to[t] = from[2 * t];
        }
      }
      continue;
    }
    for (int64_t kk = 0; kk < kc; ++kk, dst += NR) {
      const float* src = xp.data + shift[kk];
      for (int t = 0; t < NR; ++t) dst[t] = src[off[t]];
      if (n < NR) std::fill(dst + n, dst + NR, 0.f);
    }
  }
}

simd::SgemmPackB padded_im2col_packer(const PaddedInput& xp, const WindowGeometry& g) {
  return [xp, &g](int64_t k0, int64_t kc, int64_t j0, int64_t nc, int nr, float* out) {
    switch (nr) {
      case 8: return pack_padded_panels<8>(xp, g, k0, kc, j0, nc, out);
      case 12: return pack_padded_panels<12>(xp, g, k0, kc, j0, nc, out);
      case 16: return pack_padded_panels<16>(xp, g, k0, kc, j0, nc, out);
      case 32: return pack_padded_panels<32>(xp, g, k0, kc, j0, nc, out);
      default: throw std::logic_error("padded_im2col_packer: no panel width " + std::to_string(nr));
    }
  };
}

// Bias then activation over output rows [p0, p1) of Mg channels.
template <typename T>
void finish_rows(T* Yg, const T* bias, const T* Zg, int64_t Mg, int64_t out_size, int64_t p0, int64_t p1,
                 const Activation& act) {
  for (int64_t m = 0; m < Mg; ++m) {
    T* y = Yg + m * out_size + p0;
    if (bias) {
      const T b = bias[m];
      for (int64_t p = 0; p < p1 - p0; ++p) y[p] += b;
    }
    if (Zg)
      for (int64_t p = 0; p < p1 - p0; ++p) y[p] += Zg[m * out_size + p0 + p];
    act.apply(y, p1 - p0);
  }
}

// sgemm_bias_act: the SGEMM's form of the bias, residual and activation;
// false (and the activation None in *ba) for an activation it has not.
bool sgemm_bias_act(const float* bias, const Activation& act, const float* z, int64_t ldz, simd::SgemmBiasAct* ba) {
  *ba = {bias, simd::SgemmBiasAct::None, act.a, act.b, z, ldz};
  if (act.kind == Activation::Relu) ba->act = simd::SgemmBiasAct::Relu;
  else if (act.kind == Activation::Clip) ba->act = simd::SgemmBiasAct::Clip;
  else if (act.kind != Activation::None) return false;
  return true;
}

// finish_rows as an SGEMM epilogue: each block gets its bias and activation
// as soon as it is final, while it is still in cache. None, Relu and Clip go
// to the SGEMM's own bias_act (applied as each tile is stored, by the AVX2
// micro-kernel in registers); the other activations to a function over the
// block: one pass, the activation chosen once per block, the bias added in
// the same loop (no bias: the values go through untouched, so a -0.0 stays
// -0.0). FusedConv's residual z (C's row i, column j at z[i * ldz + j]) is
// added after the bias, before the activation, in either.
simd::SgemmEpilogue bias_act_epilogue(const float* bias, const Activation& act, const float* z = nullptr,
                                      int64_t ldz = 0) {
  simd::SgemmEpilogue e;
  if (sgemm_bias_act(bias, act, z, ldz, &e.bias_act)) return e;
  e.bias_act = {};
  e.fn = [bias, &act, z, ldz](int64_t i0, int64_t i1, int64_t j0, int64_t j1, float* c, int64_t ldc) {
    const int64_t cols = j1 - j0;
    act.with_op<float>([&](auto op) {
      for (int64_t i = i0; i < i1; ++i) {
        float* row = c + (i - i0) * ldc;
        if (z) {
          const float* zr = z + i * ldz + j0;
          const float b = bias ? bias[i] : 0.f;
          if (bias)
            for (int64_t j = 0; j < cols; ++j) row[j] = op(row[j] + b + zr[j]);
          else
            for (int64_t j = 0; j < cols; ++j) row[j] = op(row[j] + zr[j]);
        } else if (bias) {
          const float b = bias[i];
          for (int64_t j = 0; j < cols; ++j) row[j] = op(row[j] + b);
        } else {
          for (int64_t j = 0; j < cols; ++j) row[j] = op(row[j]);
        }
      }
    });
  };
  return e;
}

// A 1x1 kernel with stride 1 and no padding: the input is the column matrix.
bool is_pointwise(const WindowGeometry& g) {
  for (size_t d = 0; d < g.dims(); ++d)
    if (g.kernel[d] != 1 || g.strides[d] != 1 || g.pad_begin[d] != 0 || g.pad_end[d] != 0) return false;
  return true;
}

// A 1x1 kernel with no padding and a stride above 1 in some dimension (1-D
// or 2-D): ResNet's downsampling shortcuts (256 -> 512 on 56x56, stride 2).
bool is_strided_pointwise(const WindowGeometry& g) {
  if (g.dims() > 2) return false;
  bool strided = false;
  for (size_t d = 0; d < g.dims(); ++d) {
    if (g.kernel[d] != 1 || g.pad_begin[d] != 0 || g.pad_end[d] != 0) return false;
    strided = strided || g.strides[d] != 1;
  }
  return strided;
}

// The positions a strided 1x1 kernel reads, [N, C, out...] (float), so the
// convolution runs as a pointwise one on them: a quarter of the input at
// stride 2, instead of a padded copy of all of it and im2col panels gathered
// from that. Rows (image, channel, output row) are split over the pool.
Tensor subsample(ThreadPool& pool, const Tensor& x, const WindowGeometry& g) {
  const int64_t N = x.dim(0), C = x.dim(1);
  const int64_t H = g.dims() == 2 ? g.in[0] : 1, W = g.in.back();
  const int64_t OH = g.dims() == 2 ? g.out[0] : 1, OW = g.out.back();
  const int64_t SH = g.dims() == 2 ? g.strides[0] : 1, SW = g.strides.back();
  Shape shape{N, C};
  shape.insert(shape.end(), g.out.begin(), g.out.end());
  Tensor xs(DType::Float, shape);
  const float* src = x.data<float>();
  float* dst = xs.data<float>();
  pool.parallel_for(N * C * OH, std::max<int64_t>(1, 16384 / std::max<int64_t>(1, OW)), [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) {
      const int64_t plane = r / OH, oh = r % OH;
      const float* in = src + (plane * H + oh * SH) * W;
      float* out = dst + r * OW;
      if (SW == 1) std::copy(in, in + OW, out);
      else
        for (int64_t ow = 0; ow < OW; ++ow) out[ow] = in[ow * SW];
    }
  });
  return xs;
}

// The same window with its input taken as the output's positions: the
// pointwise convolution subsample()'s result runs.
WindowGeometry pointwise_of(const WindowGeometry& g) {
  WindowGeometry p = g;
  p.in = g.out;
  std::fill(p.strides.begin(), p.strides.end(), 1);
  std::fill(p.dilations.begin(), p.dilations.end(), 1);
  return p;
}

// A convolution over few output positions (7x7 maps) computed transposed:
// Y^T (P x M) = X'^T (P x Kd) * W^T (Kd x M), where X' is the input itself
// for a 1x1 kernel (C x P) or else its im2col (Kd x P, Kd = C * kernel
// taps), and W^T is packed once (wt). The SGEMM's rows are then the P
// positions (6-row tiles: 49 -> 54) and its panels the M channels, where the
// plain product pads P to whole panels (49 -> 64 on AVX2). Y^T is then
// transposed into Y with the bias and activation, 16 x 16 at a time.
// Taken where it saves a tenth of the tile work or more (P = 49 on AVX2's 6x16
// tiles: 64 -> 54 rows' worth), W being wide enough to fill the panels; the
// transposition costs about what a few percent of padding does (measured:
// 14x14 maps, 196 -> 208 padded, ran 5 % slower transposed).
bool transposed_applies(int64_t P, int64_t M, int64_t Kd) {
  const simd::SgemmTile t = simd::sgemm_tile();
  auto padded = [P](int64_t r) { return static_cast<double>((P + r - 1) / r * r); };
  return M >= 2 * t.nr && Kd >= 16 && padded(t.nr) - padded(t.mr) >= 0.1 * static_cast<double>(P);
}

// g: 2-D (promote_1d), or any rank for a 1x1 kernel.
void conv_transposed(ThreadPool& pool, const simd::SgemmPackedB& wt, const float* X, int64_t C, const WindowGeometry& g,
                     const float* B, const float* Z, float* Y, int64_t N, const Activation& act) {
  const int64_t Kd = wt.K, M = wt.N, P = g.out_size(), in_size = g.in_size();
  const bool pointwise = is_pointwise(g);
  float* yt = scratch<float>(static_cast<size_t>(P * M + (pointwise ? 0 : Kd * P)));
  float* col = yt + P * M;
  constexpr int64_t kT = 16;
  for (int64_t n = 0; n < N; ++n) {
    const float* a = X + n * C * in_size;
    if (!pointwise) {
      im2col_2d(pool, a, C, g, 0, g.out[0], col);
      a = col;
    }
    simd::sgemm_packed_b(true, P, 1.f, a, P, wt, 0.f, yt, M, &pool);
    float* y = Y + n * M * P;
    // Bias, residual and Relu/Clip as the transposition stores (the SGEMM family's, 16 x 16 blocks in
    // registers on AVX-512); any other activation in a pass over the rows after, while in cache.
    simd::SgemmBiasAct ba;
    const bool in_finish = sgemm_bias_act(B, act, Z ? Z + n * M * P : nullptr, P, &ba);
    pool.parallel_for((M + kT - 1) / kT, std::max<int64_t>(1, 8192 / (kT * P)), [&](int64_t b0, int64_t b1) {
      const int64_t m0 = b0 * kT, m1 = std::min(M, b1 * kT);
      simd::sgemm_finish_transposed(yt, M, P, m0, m1, ba, y, P);
      if (!in_finish) act.apply(y + m0 * P, (m1 - m0) * P);
    });
  }
}

// packed: per group, W_g packed for the SGEMM (float only), or nullptr.
// Z: FusedConv's residual (Y's shape, added after the bias, before the
// activation), or nullptr.
template <typename T>
void conv_forward(ThreadPool& pool, const T* X, const T* Wt, const T* B, const T* Z, T* Y, int64_t N, int64_t C,
                  int64_t M, int64_t group, const WindowGeometry& geo, const Activation& act,
                  const std::vector<simd::SgemmPackedA>* packed) {
  const WindowGeometry g = promote_1d(geo);
  const int64_t Cg = C / group, Mg = M / group;
  const int64_t in_size = g.in_size(), out_size = g.out_size(), ksize = g.kernel_size();
  const int64_t Kd = Cg * ksize;
  if (N == 0 || M == 0 || out_size == 0) return;
  // One input channel per group: depthwise, unless there is only one group (a single-channel image's first
  // layer is a GEMM of depth KH x KW, which the direct path runs faster than planes of taps: 1->32 5x5 on
  // 28x28, 402 -> 34-36 us).
  if (Cg == 1 && group > 1 && g.dims() == 2 && ksize > 1) {
    conv_depthwise_2d(pool, X, Wt, B, Z, Y, N, C, M, g, act);
    return;
  }
  const bool pointwise = is_pointwise(g);

  // Output positions per GEMM: whole output rows, with the im2col buffer
  // bounded (~4 MB of floats) so big images do not need a huge one.
  const int64_t row = g.out.back();
  const int64_t rows_per_chunk = std::max<int64_t>(1, (int64_t{1} << 20) / std::max<int64_t>(1, Kd * row));
  const int64_t chunk = std::min(out_size, rows_per_chunk * row);
  const bool implicit = std::is_same<T, float>::value && packed && g.dims() == 2;
  T* col = pointwise || implicit ? nullptr : scratch<T>(static_cast<size_t>(Kd * chunk));
  float* padded = nullptr;  // pad_input's copy, for the implicit im2col
  const bool direct = implicit && !pointwise && direct_applies(g, Cg);
  std::vector<int64_t> shifts;  // B's row offsets for the in-place paths, the same for every image and group
  // A 1x1 convolution of at most 32 input channels over a large map reads its planes in place (row k of B at
  // k x the plane size) rather than packing panels of them: MobileNetV2's 16->96 on 112x112 642 -> 574 us and
  // 32->16 225 -> 201 in the model (EPYC Zen 3, 1 thread). Deeper ones and smaller maps lost by the same
  // measure (ResNet-50's 64->256 on 56x56: 1296 -> 1402 us), so they pack as before.
  const bool pointwise_in_place = implicit && pointwise && Kd <= 32 && out_size >= 2048 && simd::sgemm_has_shifted();
  if (pointwise_in_place)
    for (int64_t k = 0; k < Kd; ++k) shifts.push_back(k * in_size);
  if (direct) padded = scratch<float>(static_cast<size_t>(phased_input_floats(g, Cg)));
  else if (implicit && !pointwise && padded_input_fits(g))
    padded = scratch<float>(static_cast<size_t>(Cg * window_span(g, 0) * window_span(g, 1)));

  for (int64_t n = 0; n < N; ++n) {
    for (int64_t grp = 0; grp < group; ++grp) {
      const T* Xg = X + (n * C + grp * Cg) * in_size;
      const T* Wg = Wt + grp * Mg * Kd;
      T* Yg = Y + (n * M + grp * Mg) * out_size;
      const T* Zg = Z ? Z + (n * M + grp * Mg) * out_size : nullptr;
      if constexpr (std::is_same<T, float>::value) {
        if (pointwise_in_place) {
          const simd::SgemmEpilogue epilogue = bias_act_epilogue(B ? B + grp * Mg : nullptr, act, Zg, out_size);
          const simd::SgemmShiftedB b{Xg, shifts.data(), out_size, 0};
          if (simd::sgemm_prepacked_shifted((*packed)[grp], out_size, b, Yg, out_size, &pool, &epilogue)) continue;
          throw std::logic_error("conv: the in-place 1x1 path was chosen without an in-place micro-kernel");
        }
        if (implicit && !pointwise) {  // im2col packed straight into panels
          const simd::SgemmEpilogue epilogue = bias_act_epilogue(B ? B + grp * Mg : nullptr, act, Zg, out_size);
          if (direct) {
            const PhasedInput xp = phase_input(pool, Xg, Cg, g, padded);
            if (shifts.empty()) shifts = phased_shifts(xp, g, Cg);
            const simd::SgemmShiftedB b{xp.data, shifts.data(), g.out[1], g.strides[0] * xp.row};
            if (simd::sgemm_prepacked_shifted((*packed)[grp], out_size, b, Yg, out_size, &pool, &epilogue)) continue;
            throw std::logic_error("conv: the direct path was chosen without an in-place micro-kernel");
          }
          if (padded) {
            const PaddedInput xp = pad_input(pool, Xg, Cg, g, padded);
            simd::sgemm_prepacked_fn((*packed)[grp], out_size, padded_im2col_packer(xp, g), 0.f, Yg, out_size, &pool,
                                     &epilogue);
          } else {
            simd::sgemm_prepacked_fn((*packed)[grp], out_size, im2col_packer(Xg, g), 0.f, Yg, out_size, &pool,
                                     &epilogue);
          }
          continue;
        }
      }
      for (int64_t p0 = 0; p0 < out_size; p0 += chunk) {
        const int64_t p1 = std::min(out_size, p0 + chunk);
        const T* Bmat = Xg + p0;  // pointwise: the input is already the column matrix
        int64_t ldb = in_size;
        if (!pointwise) {
          if (g.dims() == 2) im2col_2d(pool, Xg, Cg, g, p0 / row, p1 / row, col);
          else if (g.dims() <= 3) im2col_3d(pool, Xg, Cg, g, p0, p1, col);
          else im2col_nd(Xg, Cg, g, p0, p1, col);
          Bmat = col;
          ldb = p1 - p0;
        }
        if constexpr (std::is_same<T, float>::value) {
          if (packed) {
            const simd::SgemmEpilogue epilogue =
                bias_act_epilogue(B ? B + grp * Mg : nullptr, act, Zg ? Zg + p0 : nullptr, out_size);
            simd::sgemm_prepacked((*packed)[grp], false, p1 - p0, Bmat, ldb, 0.f, Yg + p0, out_size, &pool, &epilogue);
            continue;
          }
        }
        gemm_any<T>(false, false, Mg, p1 - p0, Kd, 1.0, Wg, Kd, Bmat, ldb, 0.0, Yg + p0, out_size, &pool);
        finish_rows(Yg, B ? B + grp * Mg : nullptr, Zg, Mg, out_size, p0, p1, act);
      }
    }
  }
}

class ConvKernel : public Kernel {
 public:
  explicit ConvKernel(const KernelInfo& info)
      : attrs_(WindowAttrs::from_node(info.node)),
        group_(info.node.attr_i("group", 1)),
        act_(Activation::from_node(info.node)),
        packed_(info.constant_input(1)),
        wino_(info.constant_input(1)),
        wino_t_(info.constant_input(1)),
        wino2_(info.constant_input(1)),
        packed_t_(info.constant_input(1)) {}

  // y = act(conv(x, w) + b + Z) by this node's NCHW paths (NchwcConvKernel's Winograd).
  void forward(KernelContext& ctx, const Tensor& x, const Tensor& w, const Tensor* b, const float* Z,
               const WindowGeometry& g, const Shape& out, Tensor& y) const {
    run(ctx, x, w, b, Z, g, out, act_, y);
  }

  void compute(KernelContext& ctx) const override {
    const std::string what = ctx.node().describe();
    const Tensor& x = ctx.input(0);
    const Tensor& w = ctx.input(1);
    const Tensor* b = ctx.optional_input(2);
    const Tensor* z = ctx.optional_input(3);  // FusedConv's residual: act(conv + bias + Z)
    const ConvSpatial sp = check_conv_operands(x, w, b, attrs_, what);
    const int64_t M = w.dim(0);
    PIONNX_ENFORCE(group_ > 0 && x.dim(1) % group_ == 0 && M % group_ == 0 && w.dim(1) == x.dim(1) / group_,
                   InvalidArgument, what, ": X has ", x.dim(1), " channels and W is ", shape_str(w.shape()),
                   ", which does not fit group=", group_);
    check_conv_bias(b, M, what);
    const WindowGeometry g = resolve_window(attrs_, sp.in, sp.kernel, what);
    Shape out{x.dim(0), M};
    out.insert(out.end(), g.out.begin(), g.out.end());
    if (z == nullptr) {
      // float16 and bfloat16 compute in float32 and set their own output.
      Tensor unused;
      const bool half = x.dtype() == DType::Float16 || x.dtype() == DType::BFloat16;
      run(ctx, x, w, b, nullptr, g, out, act_, half ? unused : ctx.output(0, x.dtype(), out));
      return;
    }
    PIONNX_ENFORCE(x.dtype() == DType::Float && z->dtype() == DType::Float, NotImplemented, what,
                   ": the Z input is supported for float32 only, got X ", dtype_name(x.dtype()), " and Z ",
                   dtype_name(z->dtype()));
    if (z->shape() == out) {  // added in each path's epilogue, while the output is in cache
      run(ctx, x, w, b, z->data<float>(), g, out, act_, ctx.output(0, DType::Float, out));
      return;
    }
    // Z broadcasts (the optimizer's Conv + Add keeps Add's broadcasting):
    // the convolution, then act(conv + Z) over the broadcast shape.
    Tensor conv(DType::Float, out);
    run(ctx, x, w, b, nullptr, g, out, Activation(), conv);
    const Shape full = broadcast_shapes(out, z->shape(), what);
    Tensor& y = ctx.output(0, DType::Float, full);
    const std::vector<int64_t> sc = broadcast_strides(out, full), sz = broadcast_strides(z->shape(), full);
    const float *cp = conv.data<float>(), *zp = z->data<float>();
    float* yp = y.data<float>();
    std::vector<int64_t> idx(full.size(), 0);
    for (int64_t i = 0; i < y.numel(); ++i) {
      int64_t oc = 0, oz = 0;
      for (size_t d = 0; d < full.size(); ++d) oc += idx[d] * sc[d], oz += idx[d] * sz[d];
      yp[i] = cp[oc] + zp[oz];
      for (size_t d = full.size(); d-- > 0;) {
        if (++idx[d] < full[d]) break;
        idx[d] = 0;
      }
    }
    act_.apply(yp, y.numel());
  }

 private:
  // y (of shape out) = act(conv(x, w) + b + Z), Z (float, y's shape) optional.
  void run(KernelContext& ctx, const Tensor& x, const Tensor& w, const Tensor* b, const float* Z,
           const WindowGeometry& g, const Shape& out, const Activation& act, Tensor& y) const {
    const std::string what = ctx.node().describe();
    const int64_t N = x.dim(0), C = x.dim(1), M = w.dim(0);
    if (x.dtype() == DType::Float16 || x.dtype() == DType::BFloat16) {
      conv_in_float32(ctx, x, w, b, out, [&](const float* x32, const float* w32, const float* b32, float* y32) {
        conv_forward<float>(ctx.pool(), x32, w32, b32, nullptr, y32, N, C, M, group_, g, act, nullptr);
      });
      return;
    }
    // A strided 1x1 kernel: the subsampled input, then the pointwise paths, unless the output is small enough
    // to run transposed (whose im2col is that subsample already). ResNet-50's 256 -> 512 shortcut on 56x56,
    // stride 2, Intel Xeon, 1 thread: in the model 2062-2119 -> 1521-1630 us.
    if (x.dtype() == DType::Float && y.numel() > 0 && is_strided_pointwise(g) &&
        !(group_ == 1 && transposed_applies(g.out_size(), M, C))) {
      run(ctx, subsample(ctx.pool(), x, g), w, b, Z, pointwise_of(g), out, act, y);
      return;
    }
    if (x.dtype() == DType::Float && y.numel() > 0 && winograd_applies(g, group_, C, M)) {
      // A constant W is transformed once per session; a fed one takes the im2col path below.
      // The products' form (tiles as columns, or transposed as rows) depends on the plane size: one cached
      // transform per form.
      const int out = winograd_tile(g);
      const bool tr = winograd_transposed(g, M, out);
      auto& cache = out == 2 ? wino2_ : tr ? wino_t_ : wino_;  // F(2x2) runs plain only
      const auto* wino =
          cache.get(w, [&](const Tensor& wt) { return winograd_weights(wt.data<float>(), M, C, tr, out); });
      if (wino) {
        float* yp = y.data<float>();
        const std::function<void(float*, int64_t)> finish = [&act, Z, yp](float* v, int64_t n) {
          if (Z)
            for (int64_t i = 0; i < n; ++i) v[i] += Z[(v - yp) + i];
          act.apply(v, n);
        };
        conv_winograd(ctx.pool(), *wino, x.data<float>(), b ? b->data<float>() : nullptr, yp, N, g,
                      act.kind == Activation::None && !Z ? nullptr : &finish);
        return;
      }
    }
    const WindowGeometry g2 = is_pointwise(g) ? g : promote_1d(g);
    const int64_t Kd = C * g.kernel_size();
    if (x.dtype() == DType::Float && group_ == 1 && y.numel() > 0 && (is_pointwise(g) || g2.dims() == 2) &&
        transposed_applies(g.out_size(), M, Kd)) {
      // A constant W is packed transposed once per session; a fed one takes the path below.
      const auto* wt =
          packed_t_.get(w, [&](const Tensor& wt) { return simd::sgemm_pack_b(true, Kd, M, wt.data<float>(), Kd); });
      if (wt) {
        conv_transposed(ctx.pool(), *wt, x.data<float>(), C, g2, b ? b->data<float>() : nullptr, Z, y.data<float>(), N,
                        act);
        return;
      }
    }
    if (x.dtype() == DType::Float) {
      // Depthwise convolutions and empty outputs never reach the GEMM.
      const bool gemm =
          !(C / group_ == 1 && group_ > 1 && g.kernel_size() > 1 && g.dims() <= 2) && y.numel() > 0 && M > 0;
      // A constant W is packed once per session; any other is packed by
      // the SGEMM as it goes.
      const auto* packed = !gemm ? nullptr : packed_.get(w, [&](const Tensor& wt) {
        const int64_t Mg = M / group_, Kd = wt.numel() / M;
        std::vector<simd::SgemmPackedA> panels;
        for (int64_t grp = 0; grp < group_; ++grp)
          panels.push_back(simd::sgemm_pack_a(false, Mg, Kd, wt.data<float>() + grp * Mg * Kd, Kd));
        return panels;
      });
      conv_forward<float>(ctx.pool(), x.data<float>(), w.data<float>(), b ? b->data<float>() : nullptr, Z,
                          y.data<float>(), N, C, M, group_, g, act, packed);
      return;
    }
    dispatch_float(x.dtype(), what, [&](auto tag) {
      using T = typename decltype(tag)::type;
      conv_forward<T>(ctx.pool(), x.data<T>(), w.data<T>(), b ? b->data<T>() : nullptr, nullptr, y.data<T>(), N, C, M,
                      group_, g, act, nullptr);
    });
  }

  WindowAttrs attrs_;
  int64_t group_;
  Activation act_;
  ConstantWeightCache<std::vector<simd::SgemmPackedA>> packed_;
  ConstantWeightCache<WinogradWeights> wino_, wino_t_;  // the Winograd transform, plain and transposed
  ConstantWeightCache<WinogradWeights> wino2_;          // F(2x2, 3x3)'s (plain products only)
  ConstantWeightCache<simd::SgemmPackedB> packed_t_;    // W^T, for conv_transposed
};

// com.microsoft.nchwc Conv, which the layout pass (optimize/nchwc_layout.cc) writes for a float 2-D
// convolution of one group whose channel counts are multiples of the NCHWc block, or a depthwise one (one
// channel a group, as many as the block's multiple of channels): X, the residual Sum and Y hold their channels
// in blocks (simd/conv_nchwc.h); W stays [M, C / group, KH, KW] in the graph and is blocked once per session
// here. Attributes as Conv's, with FusedConv's activation.
class NchwcConvKernel : public Kernel {
 public:
  explicit NchwcConvKernel(const KernelInfo& info)
      : attrs_(WindowAttrs::from_node(info.node)),
        act_(Activation::from_node(info.node)),
        group_(info.node.attr_i("group", 1)),
        filter_(info.constant_input(1)),
        nchw_(info) {}

  void compute(KernelContext& ctx) const override {
    const std::string what = ctx.node().describe();
    const Tensor& x = ctx.input(0);
    const Tensor& w = ctx.input(1);
    const Tensor* b = ctx.optional_input(2);
    const Tensor* z = ctx.optional_input(3);
    const ConvSpatial sp = check_conv_operands(x, w, b, attrs_, what);
    const int64_t blk = simd::nchwc_block(), M = w.dim(0), C = x.dim(1);
    // Depthwise: one channel a group (group = C = M), each block's channels their own filters.
    const bool depthwise = group_ > 1 && group_ == C && M == C && w.dim(1) == 1 && blk > 0 && C % blk == 0;
    PIONNX_ENFORCE(x.dtype() == DType::Float && x.rank() == 4 && (group_ == 1 || depthwise) && blk > 0 &&
                       (C % blk == 0 || C < blk) && (depthwise || w.dim(1) == C) && (!z || z->dtype() == DType::Float),
                   InvalidArgument, what, ": the NCHWc convolution takes float32 [N, C, H, W] with one group (C a ",
                   "multiple of ", blk, ", blocked, or below it, NCHW) or one channel a group (C = M = group, a ",
                   "multiple of ", blk, "); got X ", shape_str(x.shape()), ", W ", shape_str(w.shape()), ", group ",
                   group_);
    check_conv_bias(b, M, what);
    // M not a multiple of the block (a classifier's 1000 channels): the output's channels padded to one with
    // zero filters and biases (onnxruntime's NchwcTransformer pads the same way); ReorderOutput's `channels`
    // takes the first M back.
    const int64_t Mp = simd::nchwc_padded(M);
    PIONNX_ENFORCE(Mp == M || !z, InvalidArgument, what, ": the NCHWc convolution adds no Sum when M (", M,
                   ") is not a multiple of ", blk);
    const WindowGeometry g = resolve_window(attrs_, sp.in, sp.kernel, what);
    const Shape out{x.dim(0), Mp, g.out[0], g.out[1]};
    Tensor& y = ctx.output(0, DType::Float, out);
    if (y.numel() == 0) return;
    if (!depthwise && Mp == M && winograd_beats_nchwc(g, C, M) && !z) {
      // Where the layout pass could not tell (unknown shapes, where it blocks no residual) and Winograd wins by
      // more than the two reorders cost: the input out of the blocks, the NCHW node's Winograd, the output back
      // in, in buffers of the calling thread reused run after run (not conv.cc's scratch, which the paths use).
      thread_local std::vector<float> xbuf, ybuf;
      auto view = [](std::vector<float>& buf, const Shape& shape) {
        buf.resize(static_cast<size_t>(shape_numel(shape)));
        return Tensor::wrap(DType::Float, shape, buf.data(), nullptr);
      };
      Tensor xs = view(xbuf, x.shape()), ys = view(ybuf, out);
      simd::nchwc_reorder_out(ctx.pool(), x.data<float>(), x.dim(0), C, x.dim(2) * x.dim(3), xs.data<float>());
      nchw_.forward(ctx, xs, w, b, nullptr, g, out, ys);
      simd::nchwc_reorder_in(ctx.pool(), ys.data<float>(), out[0], M, out[2] * out[3], y.data<float>());
      return;
    }
    const std::vector<float>* wb = filter_.get(w, [&](const Tensor& t) { return blocked(t, depthwise); });
    std::vector<float> fed;
    if (!wb) wb = &(fed = blocked(w, depthwise));
    simd::NchwcAct act;
    if (act_.kind == Activation::Relu) act.kind = simd::NchwcAct::Relu;
    else if (act_.kind == Activation::Clip) act = {simd::NchwcAct::Clip, act_.a, act_.b};
    const bool in_kernel = act_.kind == Activation::None || act.kind != simd::NchwcAct::None;
    // The layout pass blocks a residual only of the output's own shape (added in the kernel); every activation
    // but Relu and Clip goes over the finished output.
    PIONNX_ENFORCE(!z || z->shape() == out, InvalidArgument, what, ": the NCHWc convolution's Sum must have the ",
                   "output's shape ", shape_str(out), ", got ", shape_str(z->shape()));
    std::vector<float> padded_bias;
    if (b && Mp != M) {
      padded_bias.assign(b->data<float>(), b->data<float>() + M);
      padded_bias.resize(static_cast<size_t>(Mp), 0.f);
    }
    const float* bias = !b ? nullptr : Mp != M ? padded_bias.data() : b->data<float>();
    const simd::NchwcConvShape s{x.dim(0),
                                 C,
                                 x.dim(2),
                                 x.dim(3),
                                 Mp,
                                 g.out[0],
                                 g.out[1],
                                 g.kernel[0],
                                 g.kernel[1],
                                 g.strides[0],
                                 g.strides[1],
                                 g.dilations[0],
                                 g.dilations[1],
                                 g.pad_begin[0],
                                 g.pad_begin[1]};
    (depthwise ? simd::nchwc_depthwise : simd::nchwc_conv)(ctx.pool(), s, x.data<float>(), wb->data(), bias,
                                                           z ? z->data<float>() : nullptr,
                                                           in_kernel ? act : simd::NchwcAct{}, y.data<float>());
    if (!in_kernel) act_.apply(y.data<float>(), y.numel());
  }

 private:
  // The filter in blocks (its output channels padded with zero filters to a multiple of the block).
  static std::vector<float> blocked(const Tensor& w, bool depthwise) {
    return depthwise ? simd::nchwc_depthwise_filter(w.data<float>(), w.dim(0), w.dim(2), w.dim(3))
                     : simd::nchwc_filter(w.data<float>(), w.dim(0), w.dim(1), w.dim(2), w.dim(3));
  }

  WindowAttrs attrs_;
  Activation act_;
  int64_t group_;
  ConstantWeightCache<std::vector<float>> filter_;
  ConvKernel nchw_;  // the same node in NCHW, for the Winograd convolutions
};

// com.microsoft.nchwc ReorderInput and ReorderOutput: a float [N, C, H, W] tensor into and out of the NCHWc
// layout (C a multiple of the block; the shape itself is unchanged). ReorderOutput's `channels` (default C)
// may be fewer than C, by less than a block: the first `channels` of a blocked tensor whose channels a
// convolution padded (NchwcConvKernel).
class NchwcReorderKernel : public Kernel {
 public:
  NchwcReorderKernel(const KernelInfo& info, bool in) : in_(in), channels_(in ? 0 : info.node.attr_i("channels", 0)) {
    PIONNX_ENFORCE(info.node.attr_i("channels_last", 0) == 0, NotImplemented, info.node.describe(),
                   ": channels_last=1 is not supported");
  }

  void compute(KernelContext& ctx) const override {
    const Tensor& x = ctx.input(0);
    const int64_t blk = simd::nchwc_block();
    PIONNX_ENFORCE(x.dtype() == DType::Float && x.rank() == 4 && blk > 0 && x.dim(1) % blk == 0, InvalidArgument,
                   ctx.node().describe(), ": takes float32 [N, C, H, W] with C a multiple of ", blk, ", got ",
                   dtype_name(x.dtype()), " ", shape_str(x.shape()));
    const int64_t N = x.dim(0), C = x.dim(1), HW = x.dim(2) * x.dim(3), M = channels_ > 0 ? channels_ : C;
    PIONNX_ENFORCE(M <= C && M > C - blk, InvalidArgument, ctx.node().describe(), ": channels=", channels_,
                   " must be the input's ", C, " channels or fewer by less than a block of ", blk);
    Tensor& y = ctx.output(0, DType::Float, {N, M, x.dim(2), x.dim(3)});
    if (in_) return simd::nchwc_reorder_in(ctx.pool(), x.data<float>(), N, C, HW, y.data<float>());
    if (M == C) return simd::nchwc_reorder_out(ctx.pool(), x.data<float>(), N, C, HW, y.data<float>());
    // Per image: the whole blocks in place, the last block through a scratch plane set of its own.
    const int64_t whole = M / blk * blk;
    std::vector<float> last(static_cast<size_t>(blk * HW));
    for (int64_t n = 0; n < N; ++n) {
      const float* xn = x.data<float>() + n * C * HW;
      float* yn = y.data<float>() + n * M * HW;
      if (whole > 0) simd::nchwc_reorder_out(ctx.pool(), xn, 1, whole, HW, yn);
      simd::nchwc_reorder_out(ctx.pool(), xn + whole * HW, 1, blk, HW, last.data());
      std::copy(last.begin(), last.begin() + (M - whole) * HW, yn + whole * HW);
    }
  }

 private:
  bool in_;
  int64_t channels_;
};

}  // namespace

void register_conv(KernelRegistry& r) {
  r.add<ConvKernel>("", "Conv");
  // onnxruntime's fused form (Conv + activation), as its optimizer writes it.
  r.add<ConvKernel>("com.microsoft", "FusedConv");
  // The layout pass's blocked forms, onnxruntime's names (its NchwcTransformer's).
  r.add<NchwcConvKernel>("com.microsoft.nchwc", "Conv");
  r.add("com.microsoft.nchwc", "ReorderInput",
        [](const KernelInfo& info) { return std::make_unique<NchwcReorderKernel>(info, true); });
  r.add("com.microsoft.nchwc", "ReorderOutput",
        [](const KernelInfo& info) { return std::make_unique<NchwcReorderKernel>(info, false); });
}

}  // namespace pionnx
