// ConvInteger and QLinearConv: integer im2col + simd::qgemm, with the
// weights as A (per-output-channel zero points are per-row zero points) and
// the im2col columns as B. Padding is filled with x's zero point so that it
// contributes exactly zero, as the spec's (x - x_zero_point) implies.
// Up to three spatial dimensions (1-D and 2-D convs run as 3-D with unit
// leading dimensions).
#include <algorithm>
#include <cstdlib>
#include <utility>

#include "kernels/base/weight_cache.h"
#include "kernels/nn/window.h"
#include "kernels/quant/qparams.h"
#include "kernels/simd/depthwise.h"
#include "kernels/simd/elementwise_math.h"
#include "kernels/simd/qgemm.h"
#include "platform/thread_pool.h"

namespace pionnx {
namespace {

constexpr int kMaxSpatial = 3;
// Output widths up to which a quantized 3x3 stride-2 depthwise layer runs eight channels at a time
// (depthwise_int32).
constexpr int64_t kQuantDepthwiseC8MaxWidthS2 = 28;

// Conv geometry over 3 spatial dims (unused leading dims are 1).
struct ConvGeom {
  int64_t N = 0, C = 0, M = 0, group = 1;
  int64_t in[3] = {1, 1, 1}, out[3] = {1, 1, 1}, k[3] = {1, 1, 1};
  int64_t stride[3] = {1, 1, 1}, dil[3] = {1, 1, 1}, pad[3] = {0, 0, 0};
  WindowGeometry window;  // the same, as resolve_window gave it (im2col_3d reads it)
  int nd = 0;
  Shape out_shape;
  int64_t in_size() const { return in[0] * in[1] * in[2]; }
  int64_t out_size() const { return out[0] * out[1] * out[2]; }
  int64_t kernel_size() const { return k[0] * k[1] * k[2]; }
  bool pointwise() const {  // 1x1, stride 1, no padding: im2col is x itself
    for (int d = 0; d < 3; ++d)
      if (k[d] != 1 || stride[d] != 1 || pad[d] != 0) return false;
    return true;
  }
};

class ConvAttrs {
 public:
  explicit ConvAttrs(const Node& n) : window_(WindowAttrs::from_node(n)), group_(n.attr_i("group", 1)) {}

  ConvGeom geometry(const Tensor& x, const Tensor& w, const std::string& what) const {
    PIONNX_ENFORCE(x.rank() >= 3 && x.rank() == w.rank(), InvalidArgument, what, ": x ", shape_str(x.shape()),
                   " and w ", shape_str(w.shape()), " must have the same rank >= 3");
    ConvGeom g;
    g.nd = static_cast<int>(x.rank()) - 2;
    PIONNX_ENFORCE(g.nd <= kMaxSpatial, NotImplemented, what, ": ", g.nd, "-D convolution is not supported");
    g.N = x.dim(0), g.C = x.dim(1), g.M = w.dim(0), g.group = group_;
    PIONNX_ENFORCE(group_ >= 1 && g.C % group_ == 0 && g.M % group_ == 0 && w.dim(1) * group_ == g.C, InvalidArgument,
                   what, ": channels do not match: x ", shape_str(x.shape()), ", w ", shape_str(w.shape()), ", group ",
                   group_);
    const int off = kMaxSpatial - g.nd;
    std::vector<int64_t> in(g.nd), kernel(g.nd);
    for (int d = 0; d < g.nd; ++d) {
      in[d] = x.dim(2 + d);
      kernel[d] = w.dim(2 + d);
      if (!window_.kernel_shape.empty())
        PIONNX_ENFORCE(static_cast<int>(window_.kernel_shape.size()) == g.nd && window_.kernel_shape[d] == kernel[d],
                       InvalidArgument, what, ": kernel_shape disagrees with w ", shape_str(w.shape()));
    }
    // The checked window arithmetic every Conv and pool shares (strides and dilations > 0,
    // pads >= 0, no size that wraps int64).
    const WindowGeometry wg = resolve_window(window_, in, kernel, what);
    g.window = wg;
    g.out_shape = {g.N, g.M};
    for (int d = 0; d < g.nd; ++d) {
      const int e = off + d;
      g.in[e] = in[d];
      g.k[e] = kernel[d];
      g.stride[e] = wg.strides[d];
      g.dil[e] = wg.dilations[d];
      g.out[e] = wg.out[d];
      g.pad[e] = wg.pad_begin[d];
      PIONNX_ENFORCE(g.out[e] > 0, InvalidArgument, what, ": kernel larger than padded input ", shape_str(x.shape()));
      g.out_shape.push_back(g.out[e]);
    }
    return g;
  }

 private:
  WindowAttrs window_;
  int64_t group_;
};

// Where conv_int32's sums go: `acc` (N x M planes of the output's size, ConvInteger's output) or, when `row` is
// set, row(ctx, plane, planes, offset, v, ldv, n, sub, row_sub) for each finished run of n sums from spatial
// offset on of planes plane .. plane + planes - 1 (consecutive output channels n * M + m of one image; plane r's
// at v + r * ldv, raw as v[t] - sub[t] - row_sub[r] when sub is set: QGemmArgs::row_out's form), while they are
// in the cache: QLinearConv requantizes them there (a separate pass over an int32 tensor, written and read back
// from memory, was a sixth of a quantized MobileNetV2's time). put_planes() hands over whole planes' final sums.
// Called from the pool's threads.
struct ConvSums {
  int32_t* acc = nullptr;
  void (*row)(const void* ctx, int64_t plane, int64_t planes, int64_t offset, const int32_t* v, int64_t ldv, int64_t n,
              const int32_t* sub, const int32_t* row_sub) = nullptr;
  const void* ctx = nullptr;
  // The final sums of planes plane .. plane + planes - 1 (channels of one image), whole, end to end at v.
  void put_planes(int64_t plane, int64_t planes, const int32_t* v, int64_t plane_size) const {
    if (row) row(ctx, plane, planes, 0, v, plane_size, plane_size, nullptr, nullptr);
    else std::copy(v, v + planes * plane_size, acc + plane * plane_size);
  }
};

// Depthwise 2-D (one input channel per group and per output channel: MobileNet's 3x3s), direct, in float, where
// the sums are exact: each product (x - x_zp) * (w - w_zp) is at most 255 x 255 in size and a window of up to 256
// taps sums to under 2^24, so every partial sum is an integer a float holds, in any order. Each plane is copied
// as x - x_zp into a zero-bordered float plane (a tap outside the input reads the zero point: nothing), and the
// float depthwise family's 3x3 row kernels (AVX-512, AVX2, NEON) make the rows at stride 1 (any dilation) and 2;
// other windows take a plain loop over the padded plane. im2col and a product of one row per group made a GEMM
// call per channel (MobileNetV2's QLinearConvs 10x onnxruntime).
bool depthwise_int32(ThreadPool& pool, const ConvGeom& g, const uint8_t* xp, bool x_signed, int32_t x_zp,
                     const uint8_t* wp, bool w_signed, const std::vector<int32_t>& w_zp, const ConvSums& out) {
  if (g.group != g.C || g.M != g.C || g.k[0] != 1 || g.in[0] != 1 || g.k[1] * g.k[2] > 256) return false;
  const int64_t H = g.in[1], W = g.in[2], OH = g.out[1], OW = g.out[2], KH = g.k[1], KW = g.k[2];
  const int64_t SH = g.stride[1], SW = g.stride[2], DH = g.dil[1], DW = g.dil[2], PH = g.pad[1], PW = g.pad[2];
  const int64_t Hp = std::max(PH + H, (OH - 1) * SH + (KH - 1) * DH + 1);
  const int64_t Wp = std::max(PW + W, (OW - 1) * SW + (KW - 1) * DW + 1) + 1;  // + 1: the s2 kernel reads r[2n]
  const bool rows3x3 = KH == 3 && KW == 3 && ((SH == 1 && SW == 1) || (SH == 2 && SW == 2 && DH == 1 && DW == 1));
  // The flat form, for 3x3 windows with no dilation, stride 1 or 2 both ways, pads of at most one before and
  // windows reaching at most one column past the input (MobileNet's and EfficientNet's depthwise layers): the plane
  // converted straight into a buffer of rows Wg = W + 1 apart, each with a zero after it, and zeros before and
  // after the plane, the outputs taken on a grid Wg wide (i = oh * Wg + ow, the positions past OW thrown away when
  // the sums are read back), where output i's taps are at S * i + (kh - PH) * Wg + kw - PW from the plane's
  // start: one row-kernel call makes every output row, and a window over the left or right edge reads the zero
  // column, rows above and below the input the zeros around it. No padded plane is copied row by row (a sixth of
  // a 56x56 layer's time, more for 7x7 planes), and at stride 2 no row has a scalar tail (a 7-wide output row had
  // no vector step at all).
  const int64_t Wg = W + 1;
  const bool flat = rows3x3 && DH == 1 && DW == 1 && PH <= 1 && PW <= 1 && (OW - 1) * SW + 2 - PW <= W;
  const int64_t lead = PH * Wg + PW, n_flat = (OH - 1) * Wg + OW;
  // At stride 2 rows of 24 outputs and more are made one call each (half the grid's positions are the ones
  // thrown away there), over a count rounded to whole eight-output steps of the AVX2 kernel (which leaves its
  // last output to a scalar tail): ceil8(OW) + 1, reading and writing within the row's Wg (the reads may reach
  // the next rows, the writes past OW are thrown away).
  const int64_t row_n = (OW + 7) / 8 * 8 + 1;
  const bool s2_rows = SH == 2 && OW >= 24 && row_n <= Wg;
  // The last value a row kernel reads: s1 r_kh[i + 2] for i < n, s2 r_kh[0 .. 2n] (depthwise.h), r_2 at
  // (2 - PH) * Wg - PW from the plane (a row call's n within Wg, the last row's OW); 16 more for any vector
  // step's reach.
  const int64_t flat_size = lead + std::max(H * Wg, SH * (n_flat + Wg) + (2 - PH) * Wg + 2 - PW + 1) + 16;
  // The flat form's planes in blocks of consecutive channels of one image, up to 4096 sums a block: each plane's
  // grid OH * Wg apart in `wide`, read back in one int32_from_float_rows call and handed over in one put (one
  // requantization call for the block's rows): per plane, the two calls cost more than a 7x7 plane's work.
  const int64_t block = flat ? std::max<int64_t>(1, 4096 / (OH * Wg)) : 1;
  // Channel c's taps w - w_zp as floats, KH * KW of them to dst.
  auto taps_of = [&](int64_t c, float* dst) {
    const uint8_t* w = wp + c * KH * KW;
    const int32_t wz = w_zp[w_zp.size() > 1 ? c : 0];
    for (int64_t t = 0; t < KH * KW; ++t)
      dst[t] = static_cast<float>((w_signed ? static_cast<int8_t>(w[t]) : w[t]) - wz);
  };
  // Planes plane_of(0 .. count - 1) (consecutive indices: consecutive channels, within an image), one at a time.
  auto run_planes = [&](int64_t count, auto plane_of) {
    pool.parallel_for(
        count, std::max<int64_t>(1, 4096 / std::max<int64_t>(1, OH * OW * KH * KW)), [&](int64_t p0, int64_t p1) {
          std::vector<float> pad(static_cast<size_t>(flat ? 0 : Hp * Wp), 0.0f),
              yp(static_cast<size_t>(flat ? 0 : OH * OW));
          std::vector<int32_t> yi(static_cast<size_t>(block * OH * OW));
          std::vector<float> xf(static_cast<size_t>(flat ? flat_size : H * W), 0.0f);
          std::vector<float> wide(static_cast<size_t>(flat ? block * OH * Wg : OH * Wp));
          float wf[256];
          int64_t first = -1;  // the flat form's block: planes first .. plane - 1, made, not yet handed over
          for (int64_t i = p0; i < p1; ++i) {
            const int64_t plane = plane_of(i);
            const uint8_t* x = xp + plane * H * W;
            taps_of(plane % g.C, wf);
            if (flat) {
              float* base = xf.data() + lead;  // the plane, x - x_zp; zeros around it and after each row stay zero
              fastmath::float_from_q8_rows(x, H, W, x_signed, static_cast<float>(x_zp), base, Wg);
              const float* r0 = base - PH * Wg - PW;
              if (first < 0) first = plane;
              float* grid = wide.data() + (plane - first) * OH * Wg;
              if (SH == 1) {
                simd::depthwise3x3_row(r0, r0 + Wg, r0 + 2 * Wg, 1, wf, 0.0f, grid, n_flat);
              } else if (s2_rows) {
                for (int64_t oh = 0; oh < OH; ++oh) {
                  const float* r = r0 + 2 * oh * Wg;
                  simd::depthwise3x3s2_row(r, r + Wg, r + 2 * Wg, wf, 0.0f, grid + oh * Wg, oh + 1 < OH ? row_n : OW);
                }
              } else {
                simd::depthwise3x3s2_row(r0, r0 + Wg, r0 + 2 * Wg, wf, 0.0f, grid, n_flat);
              }
              // The block ends at its size, at the task's end and at an image's last channel (a put's planes are
              // channels of one image).
              if (plane + 1 - first == block || i + 1 == p1 || (plane + 1) % g.C == 0) {
                fastmath::int32_from_float_rows(wide.data(), (plane + 1 - first) * OH, OW, Wg, yi.data());
                out.put_planes(first, plane + 1 - first, yi.data(), OH * OW);
                first = -1;
              }
              continue;
            }
            // The border stays zero from plane to plane; only the inside is written: the plane
            // converted in one call of the vector-math family's loop (AVX-512, AVX2, NEON; row by
            // row, short rows went to its scalar tail), then its rows copied in.
            fastmath::float_from_q8_block(x, H * W, x_signed, static_cast<float>(x_zp), xf.data());
            for (int64_t ih = 0; ih < H; ++ih)
              std::copy(xf.data() + ih * W, xf.data() + (ih + 1) * W, pad.data() + (PH + ih) * Wp + PW);
            // At stride 1 the output rows are one run of the padded plane's width: a row kernel
            // call over (OH - 1) * Wp + OW positions makes them all (the Wp - OW between rows are
            // thrown away; they read inside the plane, Wp >= OW + 2 DW + 1), where a call per row was
            // a chain of nine multiply-adds waiting on each other for a 7- or 14-wide row.
            if (rows3x3 && SH == 1) {
              const float* r = pad.data();
              simd::depthwise3x3_row(r, r + DH * Wp, r + 2 * DH * Wp, DW, wf, 0.0f, wide.data(), (OH - 1) * Wp + OW);
              for (int64_t oh = 0; oh < OH; ++oh)
                std::copy(wide.data() + oh * Wp, wide.data() + oh * Wp + OW, yp.data() + oh * OW);
            } else {
              for (int64_t oh = 0; oh < OH; ++oh) {
                const float* r = pad.data() + oh * SH * Wp;
                float* yr = yp.data() + oh * OW;
                if (rows3x3) {
                  simd::depthwise3x3s2_row(r, r + Wp, r + 2 * Wp, wf, 0.0f, yr, OW);
                } else {
                  std::fill(yr, yr + OW, 0.0f);
                  for (int64_t kh = 0; kh < KH; ++kh)
                    for (int64_t kw = 0; kw < KW; ++kw) {
                      const float wv = wf[kh * KW + kw];
                      const float* src = r + kh * DH * Wp + kw * DW;
                      for (int64_t ow = 0; ow < OW; ++ow) yr[ow] += src[ow * SW] * wv;
                    }
                }
              }
            }
            // The whole plane's rows made first, then converted and handed over in one run: read
            // right after the row kernels' masked stores, a row's floats stalled their loads.
            fastmath::int32_from_float_block(yp.data(), OH * OW, yi.data());
            out.put_planes(plane, 1, yi.data(), OH * OW);
          }
        });
  };
  // Small maps: eight channels at a time through the float depthwise family's eight-channel kernel
  // (simd::depthwise3x3_c8, AVX-512 and AVX2: the planes interleaved, a vector holding one position's eight
  // channels), on the eight planes of x - x_zp converted in one call: the same exact sums in another order, and
  // each call, conversion and requantization made once for eight planes (one at a time, a 7x7 plane's calls cost
  // more than its 441 multiply-adds). The channels past a multiple of 8 take the planes above.
  const simd::Depthwise3x3C8 c8 = simd::depthwise3x3_c8();
  const int64_t groups = g.C / 8;
  if (c8 != nullptr && groups > 0 && KH == 3 && KW == 3 && DH == 1 && DW == 1 && SH == 2 && SW == 2 &&
      OW <= kQuantDepthwiseC8MaxWidthS2) {
    const size_t need = static_cast<size_t>(simd::depthwise3x3_c8_scratch(OH, OW, SH, SW));
    pool.parallel_for(g.N * groups, std::max<int64_t>(1, 4096 / (8 * OH * OW * 9)), [&](int64_t b, int64_t e) {
      std::vector<float> scratch(need, 0.0f), xf(static_cast<size_t>(8 * H * W)), yf(static_cast<size_t>(8 * OH * OW));
      std::vector<int32_t> yi(static_cast<size_t>(8 * OH * OW));
      float wf[72];
      for (int64_t ng = b; ng < e; ++ng) {
        const int64_t n = ng / groups, c0 = ng % groups * 8;
        fastmath::float_from_q8_block(xp + (n * g.C + c0) * H * W, 8 * H * W, x_signed, static_cast<float>(x_zp),
                                      xf.data());
        for (int64_t k = 0; k < 8; ++k) taps_of(c0 + k, wf + k * 9);
        c8(xf.data(), H * W, H, W, PH, PW, SH, SW, wf, nullptr, simd::DepthwiseAct{}, yf.data(), OH * OW, OH, OW,
           scratch.data());
        fastmath::int32_from_float_block(yf.data(), 8 * OH * OW, yi.data());
        out.put_planes(n * g.C + c0, 8, yi.data(), OH * OW);
      }
    });
    const int64_t rest = g.C - groups * 8;
    if (rest > 0) run_planes(g.N * rest, [&](int64_t i) { return i / rest * g.C + groups * 8 + i % rest; });
    return true;
  }
  run_planes(g.N * g.C, [](int64_t i) { return i; });
  return true;
}

// A constant weight (with a constant or absent zero point) prepared once per session as the integer GEMM's A, one
// per group (simd::qgemm_prepare_a: the quad kernels' int8 + 128 copy and row sums, or the int16 rows); a fed
// weight, or one whose zero point is fed, is prepared in each call. ResNet-50's QLinearConvs spent a seventh of
// their time re-preparing their weights.
class PreparedConvWeights {
 public:
  PreparedConvWeights(const KernelInfo& info, size_t w, size_t w_zp) : cache_(constant_weight(info, w, w_zp)) {}
  template <typename Make>
  const std::vector<simd::QGemmPreparedA>* get(const Tensor& w, Make&& make) const {
    return cache_.get(w, std::forward<Make>(make));
  }

 private:
  ConstantWeightCache<std::vector<simd::QGemmPreparedA>> cache_;
};

// [N, M, out spatial] = conv(x - x_zp, w - w_zp) in int32, to `out`.
void conv_int32(KernelContext& ctx, const ConvGeom& g, const Tensor& x, int32_t x_zp, const Tensor& w,
                const std::vector<int32_t>& w_zp, const ConvSums& out, const PreparedConvWeights* prepared) {
  const std::string what = ctx.node().describe();
  PIONNX_ENFORCE(is_q8(x.dtype()) && is_q8(w.dtype()), NotImplemented, what, ": inputs of dtype ",
                 dtype_name(x.dtype()), " and ", dtype_name(w.dtype()), " are not supported (uint8/int8 only)");
  PIONNX_ENFORCE(w_zp.size() == 1 || static_cast<int64_t>(w_zp.size()) == g.M, InvalidArgument, what,
                 ": w_zero_point must be a scalar or have one value per output channel (", g.M, ")");
  const int64_t cg = g.C / g.group, mg = g.M / g.group;
  const int64_t kdim = cg * g.kernel_size(), osz = g.out_size();
  const auto* xp = static_cast<const uint8_t*>(x.raw());
  const auto* wp = static_cast<const uint8_t*>(w.raw());
  if (depthwise_int32(ctx.pool(), g, xp, x.dtype() == DType::Int8, x_zp, wp, w.dtype() == DType::Int8, w_zp, out))
    return;
  const bool direct = g.pointwise();
  std::vector<uint8_t> col(direct ? 0 : static_cast<size_t>(kdim * osz));
  const int32_t xzp[1] = {x_zp};
  // Group grp's product, A (the weights) and B's signedness and zero point set: what preparing A reads.
  auto product = [&](int64_t grp) {
    simd::QGemmArgs a;
    a.M = mg, a.N = osz, a.K = kdim;
    a.A = wp + grp * mg * kdim, a.lda = kdim, a.a_signed = w.dtype() == DType::Int8;
    a.a_zp = w_zp.size() > 1 ? w_zp.data() + grp * mg : w_zp.data();
    a.a_zp_per_row = w_zp.size() > 1;
    a.b_signed = x.dtype() == DType::Int8;
    a.b_zp = xzp;
    return a;
  };
  const std::vector<simd::QGemmPreparedA>* pre =
      prepared ? prepared->get(w,
                               [&](const Tensor&) {
                                 std::vector<simd::QGemmPreparedA> v;
                                 for (int64_t grp = 0; grp < g.group; ++grp)
                                   v.push_back(simd::qgemm_prepare_a(product(grp)));
                                 return v;
                               })
               : nullptr;
  for (int64_t n = 0; n < g.N; ++n)
    for (int64_t grp = 0; grp < g.group; ++grp) {
      const uint8_t* xg = xp + (n * g.C + grp * cg) * g.in_size();
      // Out-of-image taps read the zero point, which contributes exactly zero (the spec's x - x_zero_point).
      if (!direct) im2col_3d(ctx.pool(), xg, cg, g.window, 0, osz, col.data(), static_cast<uint8_t>(x_zp));
      simd::QGemmArgs a = product(grp);
      a.B = direct ? xg : col.data(), a.ldb = osz;
      a.prepared_a = pre ? &(*pre)[static_cast<size_t>(grp)] : nullptr;
      // The product's row i is plane n * M + grp * mg + i.
      const int64_t plane0 = n * g.M + grp * mg;
      struct ProductRows {
        const ConvSums* sums;
        int64_t plane0;
      } rows{&out, plane0};
      if (out.row) {
        a.row_out = [](const void* c, int64_t i, int64_t rows, int64_t j, const int32_t* v, int64_t ldv, int64_t len,
                       const int32_t* sub, const int32_t* row_sub) {
          const auto* r = static_cast<const ProductRows*>(c);
          r->sums->row(r->sums->ctx, r->plane0 + i, rows, j, v, ldv, len, sub, row_sub);
        };
        a.row_out_ctx = &rows;
      } else {
        a.C = out.acc + plane0 * osz, a.ldc = osz;
      }
      simd::qgemm(a, &ctx.pool());
    }
}

class ConvInteger final : public Kernel {
 public:
  explicit ConvInteger(const KernelInfo& info) : attrs_(info.node), prepared_(info, 1, 3) {}
  void compute(KernelContext& ctx) const override {
    const std::string what = ctx.node().describe();
    const Tensor& x = ctx.input(0);
    const Tensor& w = ctx.input(1);
    const ConvGeom g = attrs_.geometry(x, w, what);
    Tensor& y = ctx.output(0, DType::Int32, g.out_shape);
    ConvSums out;
    out.acc = y.data<int32_t>();
    conv_int32(ctx, g, x, scalar_zero_point(ctx.optional_input(2), what + " x_zero_point"), w,
               int32_values(ctx.optional_input(3)), out, &prepared_);
  }

 private:
  ConvAttrs attrs_;
  PreparedConvWeights prepared_;
};

// QLinearConv(x, x_scale, x_zp, w, w_scale, w_zp, y_scale, y_zp, B?):
// y = saturate(round((acc + B[m]) * x_scale * w_scale[m] / y_scale) + y_zp).
class QLinearConv final : public Kernel {
 public:
  explicit QLinearConv(const KernelInfo& info)
      : attrs_(info.node), prepared_(info, 3, 5), abs_sums_(constant_weight(info, 3, 5)) {}
  void compute(KernelContext& ctx) const override {
    const std::string what = ctx.node().describe();
    const Tensor& x = ctx.input(0);
    const Tensor& w = ctx.input(3);
    const ConvGeom g = attrs_.geometry(x, w, what);
    const float sx = scalar_scale(ctx.input(1), what + " x_scale");
    const std::vector<float> sw = float_values(ctx.input(4));
    const float sy = scalar_scale(ctx.input(6), what + " y_scale");
    PIONNX_ENFORCE(sw.size() == 1 || static_cast<int64_t>(sw.size()) == g.M, InvalidArgument, what,
                   ": w_scale must be a scalar or have one value per output channel (", g.M, ")");
    std::vector<double> mult(static_cast<size_t>(g.M));
    for (int64_t m = 0; m < g.M; ++m) mult[m] = static_cast<double>(sx * sw[sw.size() > 1 ? m : 0] / sy);
    std::vector<int32_t> bias(static_cast<size_t>(g.M), 0);
    if (const Tensor* B = ctx.optional_input(8)) {
      PIONNX_ENFORCE(B->dtype() == DType::Int32 && B->numel() == g.M, InvalidArgument, what,
                     ": B must be int32 with one value per output channel (", g.M, "), got ", dtype_name(B->dtype()),
                     " ", shape_str(B->shape()));
      std::copy(B->data<int32_t>(), B->data<int32_t>() + g.M, bias.begin());
    }
    const Tensor* y_zp_t = ctx.optional_input(7);
    const DType out_t = y_zp_t ? y_zp_t->dtype() : x.dtype();
    const int32_t y_zp = scalar_zero_point(y_zp_t, what + " y_zero_point");
    const int32_t x_zp = scalar_zero_point(ctx.optional_input(2), what + " x_zero_point");
    const std::vector<int32_t> w_zp = int32_values(ctx.optional_input(5));
    Tensor& y = ctx.output(0, out_t, g.out_shape);
    // Output channels whose every sum is within fastmath::kRequantizeBoundedSum in size: sum over the channel's
    // weights of |w - w_zp| times the largest |x - x_zp| the input's type allows (the requantization then skips
    // its size test), the weight sums made once.
    std::vector<char> bounded(static_cast<size_t>(g.M), 0);
    if (is_q8(w.dtype()) && w.numel() > 0) {
      auto make = [&](const Tensor& wt) {
        std::vector<int64_t> sums(static_cast<size_t>(g.M), 0);
        const int64_t k = wt.numel() / g.M;
        const auto* wb = static_cast<const uint8_t*>(wt.raw());
        const bool ws = wt.dtype() == DType::Int8;
        for (int64_t m = 0; m < g.M; ++m) {
          const int32_t z = w_zp.empty() ? 0 : w_zp[static_cast<int64_t>(w_zp.size()) == g.M ? m : 0];
          int64_t t = 0;
          for (int64_t i = 0; i < k; ++i) {
            const int32_t v = ws ? static_cast<int8_t>(wb[m * k + i]) : wb[m * k + i];
            t += v > z ? v - z : z - v;
          }
          sums[static_cast<size_t>(m)] = t;
        }
        return sums;
      };
      // (Fed weights, or a fed zero point, are not summed on every run: their channels take the checked form.)
      if (const std::vector<int64_t>* sums = abs_sums_.get(w, make)) {
        const bool xs = x.dtype() == DType::Int8;
        const int64_t x_far = std::max<int64_t>(std::abs((xs ? -128 : 0) - x_zp), std::abs((xs ? 127 : 255) - x_zp));
        for (int64_t m = 0; m < g.M; ++m)
          bounded[static_cast<size_t>(m)] = (*sums)[static_cast<size_t>(m)] * x_far <= fastmath::kRequantizeBoundedSum;
      }
    }
    dispatch_q8(out_t, what, [&](auto tag) {
      using Q = typename decltype(tag)::type;
      // Each run of sums requantized as the convolution finishes it.
      struct Requant {
        const int32_t* bias;
        const double* mult;
        const char* bounded;
        int64_t M, plane_size;
        int32_t y_zp;
        Q* y;
      } rq{bias.data(), mult.data(), bounded.data(), g.M, g.out_size(), y_zp, y.data<Q>()};
      ConvSums out;
      out.ctx = &rq;
      out.row = [](const void* c, int64_t plane, int64_t planes, int64_t offset, const int32_t* v, int64_t ldv,
                   int64_t n, const int32_t* sub, const int32_t* row_sub) {
        const auto* r = static_cast<const Requant*>(c);
        const int64_t m = plane < r->M ? plane : plane % r->M;  // the planes' channels m .. m + planes - 1
        requantize_rows(v, ldv, planes, n, r->bias + m, r->mult + m, r->bounded + m, r->y_zp,
                        r->y + plane * r->plane_size + offset, r->plane_size, sub, row_sub);
      };
      conv_int32(ctx, g, x, x_zp, w, w_zp, out, &prepared_);
    });
  }

 private:
  ConvAttrs attrs_;
  PreparedConvWeights prepared_;
  ConstantWeightCache<std::vector<int64_t>> abs_sums_;  // per output channel, sum of |w - w_zp|
};

}  // namespace

void register_quant_conv(KernelRegistry& r) {
  r.add<ConvInteger>("", "ConvInteger");
  r.add<QLinearConv>("", "QLinearConv");
}

}  // namespace pionnx
