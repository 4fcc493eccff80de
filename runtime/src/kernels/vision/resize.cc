// Resize (opsets 10-19+) and Upsample (7-9).
//
// Every resized axis gets a 1-D tap table: for each output position the input
// indices and weights it reads (and whether it falls outside the crop for
// tf_crop_and_resize). Nearest is then a pure N-d gather in the element's own
// type; linear and cubic are separable, so they run one axis at a time as a
// weighted sum of rows, which keeps the inner loop contiguous.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>

#include "core/int_arith.h"
#include "kernels/base/cast.h"
#include "kernels/base/dtype_dispatch.h"
#include "kernels/base/kernel.h"
#include "kernels/base/shapes.h"
#include "platform/thread_pool.h"

namespace pionnx {
namespace {

enum class Mode { Nearest, Linear, Cubic };
enum class Ctm {
  HalfPixel,
  PytorchHalfPixel,
  AlignCorners,
  Asymmetric,
  TfCropAndResize,
  HalfPixelSymmetric,
  TfHalfPixelForNN
};
// Simple: the rule of opsets before 11 (as onnxruntime): floor when
// upsampling, ceil when downsampling.
enum class NearestMode { RoundPreferFloor, RoundPreferCeil, Floor, Ceil, Simple };

struct AxisTaps {
  int64_t n = 1;                 // taps per output position
  std::vector<int64_t> idx;      // out_len * n input indices (clamped)
  std::vector<double> w;         // out_len * n weights
  std::vector<uint8_t> outside;  // per output position: take the extrapolation value

  bool is_identity(int64_t in_len) const {
    const int64_t out_len = static_cast<int64_t>(outside.size());
    if (out_len != in_len) return false;
    for (int64_t j = 0; j < out_len; ++j) {
      if (outside[j]) return false;
      double wj = 0;
      for (int64_t t = 0; t < n; ++t) {
        if (w[j * n + t] == 0) continue;
        if (idx[j * n + t] != j) return false;
        wj += w[j * n + t];
      }
      if (wj != 1.0) return false;
    }
    return true;
  }
};

struct AxisGeometry {
  int64_t in_len, out_len;
  double scale;      // out / in as the model gave it (or as derived from sizes)
  double out_width;  // the possibly fractional target length
  double roi0 = 0, roi1 = 1;
};

double cubic_kernel(double x, double A) {
  x = std::fabs(x);
  if (x <= 1) return ((A + 2) * x - (A + 3)) * x * x + 1;
  if (x < 2) return ((A * x - 5 * A) * x + 8 * A) * x - 4 * A;
  return 0;
}

class ResizeKernel : public Kernel {
 public:
  ResizeKernel(const KernelInfo& info, bool is_upsample) : node_(info.node) {
    const Node& n = info.node;
    opset_ = info.opset;
    upsample_ = is_upsample;
    const std::string mode = n.attr_s("mode", "nearest");
    if (mode == "nearest") mode_ = Mode::Nearest;
    else if (mode == "linear" || mode == "bilinear") mode_ = Mode::Linear;
    else if (mode == "cubic") mode_ = Mode::Cubic;
    else throw InvalidArgument(str_cat(n.describe(), ": unknown mode '", mode, "'"));

    legacy_ = is_upsample || opset_ < 11;
    if (legacy_) {
      ctm_ = Ctm::Asymmetric;
      nearest_ = NearestMode::Simple;
      if (is_upsample && opset_ < 9) {
        attr_scales_ = n.attr_floats("scales");
        PIONNX_ENFORCE(!attr_scales_.empty(), InvalidGraph, n.describe(), ": attribute 'scales' is required");
      }
      return;
    }
    const std::string ctm = n.attr_s("coordinate_transformation_mode", "half_pixel");
    if (ctm == "half_pixel") ctm_ = Ctm::HalfPixel;
    else if (ctm == "pytorch_half_pixel") ctm_ = Ctm::PytorchHalfPixel;
    else if (ctm == "align_corners") ctm_ = Ctm::AlignCorners;
    else if (ctm == "asymmetric") ctm_ = Ctm::Asymmetric;
    else if (ctm == "tf_crop_and_resize") ctm_ = Ctm::TfCropAndResize;
    else if (ctm == "half_pixel_symmetric") ctm_ = Ctm::HalfPixelSymmetric;
    else if (ctm == "tf_half_pixel_for_nn") ctm_ = Ctm::TfHalfPixelForNN;
    else throw InvalidArgument(str_cat(n.describe(), ": unknown coordinate_transformation_mode '", ctm, "'"));
    const std::string nm = n.attr_s("nearest_mode", "round_prefer_floor");
    if (nm == "round_prefer_floor") nearest_ = NearestMode::RoundPreferFloor;
    else if (nm == "round_prefer_ceil") nearest_ = NearestMode::RoundPreferCeil;
    else if (nm == "floor") nearest_ = NearestMode::Floor;
    else if (nm == "ceil") nearest_ = NearestMode::Ceil;
    else throw InvalidArgument(str_cat(n.describe(), ": unknown nearest_mode '", nm, "'"));
    cubic_a_ = n.attr_f("cubic_coeff_a", -0.75f);
    exclude_outside_ = n.attr_i("exclude_outside", 0) != 0;
    extrapolation_ = n.attr_f("extrapolation_value", 0.f);
    antialias_ = n.attr_i("antialias", 0) != 0;
    axes_ = n.attr_ints("axes");
    const std::string kar = n.attr_s("keep_aspect_ratio_policy", "stretch");
    if (kar == "stretch") keep_aspect_ = 0;
    else if (kar == "not_larger") keep_aspect_ = 1;
    else if (kar == "not_smaller") keep_aspect_ = 2;
    else throw InvalidArgument(str_cat(n.describe(), ": unknown keep_aspect_ratio_policy '", kar, "'"));
  }

  void compute(KernelContext& ctx) const override {
    const Tensor& x = ctx.input(0);
    const int64_t rank = static_cast<int64_t>(x.rank());
    const std::vector<AxisGeometry> geo = geometry(ctx, x);
    Shape out_shape(rank);
    for (int64_t d = 0; d < rank; ++d) out_shape[d] = geo[d].out_len;

    const DType dt = x.dtype();
    // Refused here, before the per-axis tables are sized by it.
    checked_tensor_bytes(dt, shape_numel(out_shape));
    if (x.numel() == 0 || shape_numel(out_shape) == 0) {
      ctx.set_output(0, Tensor::zeros(dt, out_shape));
      return;
    }
    std::vector<AxisTaps> taps(rank);
    for (int64_t d = 0; d < rank; ++d) taps[d] = make_taps(geo[d]);

    if (mode_ == Mode::Nearest) {
      Tensor& out = ctx.output(0, dt, out_shape);
      resize_nearest(x, out, taps, ctx.pool());
      return;
    }
    if (dt == DType::Double) {
      ctx.set_output(0, resize_separable<double>(x, taps, ctx.pool()));
      return;
    }
    Tensor xf = dt == DType::Float ? x : cast_tensor(x, DType::Float);
    Tensor yf = resize_separable<float>(xf, taps, ctx.pool());
    if (dt == DType::Float) {
      ctx.set_output(0, yf);
    } else if (dtype_is_integer(dt)) {
      ctx.set_output(0, round_to_int(yf, dt));
    } else {
      ctx.set_output(0, cast_tensor(yf, dt));
    }
  }

 private:
  // Per-axis input length, output length, scale and roi from the inputs.
  std::vector<AxisGeometry> geometry(KernelContext& ctx, const Tensor& x) const {
    const int64_t rank = static_cast<int64_t>(x.rank());
    const std::string what = node_.describe();
    std::vector<double> scales;
    std::vector<int64_t> sizes;
    std::vector<double> roi;
    if (upsample_ && opset_ < 9) {
      scales.assign(attr_scales_.begin(), attr_scales_.end());
    } else if (legacy_) {
      scales = to_doubles(ctx.input(1));
    } else {
      if (const Tensor* t = ctx.optional_input(1)) roi = to_doubles(*t);
      if (const Tensor* t = ctx.optional_input(2)) scales = to_doubles(*t);
      if (const Tensor* t = ctx.optional_input(3)) sizes = tensor_to_int64s(*t);
    }
    PIONNX_ENFORCE(scales.empty() != sizes.empty(), InvalidArgument, what,
                   ": exactly one of 'scales' and 'sizes' must be given (got ", scales.size(), " scales and ",
                   sizes.size(), " sizes)");

    std::vector<int64_t> axes;
    for (int64_t a : axes_) axes.push_back(normalize_axis(a, rank, what));
    if (axes.empty())
      for (int64_t d = 0; d < rank; ++d) axes.push_back(d);
    const size_t na = axes.size();
    if (!scales.empty())
      PIONNX_ENFORCE(scales.size() == na, InvalidArgument, what, ": 'scales' has ", scales.size(), " values, expected ",
                     na);
    if (!sizes.empty())
      PIONNX_ENFORCE(sizes.size() == na, InvalidArgument, what, ": 'sizes' has ", sizes.size(), " values, expected ",
                     na);

    std::vector<AxisGeometry> g(rank);
    for (int64_t d = 0; d < rank; ++d) {
      const int64_t n = x.shape()[d];
      g[d] = AxisGeometry{n, n, 1.0, static_cast<double>(n)};
    }
    if (ctm_ == Ctm::TfCropAndResize) {
      PIONNX_ENFORCE(roi.size() == 2 * na, InvalidArgument, what, ": 'roi' has ", roi.size(), " values, expected ",
                     2 * na, " for tf_crop_and_resize");
      for (size_t i = 0; i < na; ++i) {
        g[axes[i]].roi0 = roi[i];
        g[axes[i]].roi1 = roi[na + i];
      }
    }
    if (!scales.empty()) {
      for (size_t i = 0; i < na; ++i) {
        AxisGeometry& a = g[axes[i]];
        PIONNX_ENFORCE(scales[i] > 0 && std::isfinite(scales[i]), InvalidArgument, what,
                       ": scales must be finite and > 0, got ", scales[i]);
        a.scale = scales[i];
        a.out_width = scales[i] * static_cast<double>(a.in_len);
        PIONNX_ENFORCE(a.out_width < 0x1p62, InvalidArgument, what, ": scale ", scales[i], " on axis ", axes[i],
                       " of size ", a.in_len, " gives an output size over 2^62");
        a.out_len = clamp_to_int<int64_t>(std::floor(a.out_width));
      }
      return g;
    }
    for (size_t i = 0; i < na; ++i) {
      PIONNX_ENFORCE(sizes[i] >= 0, InvalidArgument, what, ": sizes must be >= 0, got ", sizes[i]);
      AxisGeometry& a = g[axes[i]];
      a.out_len = sizes[i];
      a.scale = a.in_len ? static_cast<double>(sizes[i]) / static_cast<double>(a.in_len) : 1.0;
    }
    if (keep_aspect_ != 0) {
      // One scale for all listed axes: the smallest (not_larger) or largest
      // (not_smaller), with sizes rounded half up from it.
      double s = g[axes[0]].scale;
      for (size_t i = 1; i < na; ++i)
        s = keep_aspect_ == 1 ? std::min(s, g[axes[i]].scale) : std::max(s, g[axes[i]].scale);
      for (int64_t a : axes) {
        g[a].scale = s;
        const double len = s * static_cast<double>(g[a].in_len) + 0.5;
        PIONNX_ENFORCE(len < 0x1p62, InvalidArgument, what,
                       ": keep_aspect_ratio_policy gives an output size over 2^62");
        g[a].out_len = static_cast<int64_t>(len);
      }
    }
    for (int64_t a : axes) g[a].out_width = g[a].scale * static_cast<double>(g[a].in_len);
    return g;
  }

  static std::vector<double> to_doubles(const Tensor& t) {
    std::vector<double> v;
    if (t.numel() == 0) return v;
    Tensor d = cast_tensor(t, DType::Double);
    const double* p = d.data<double>();
    v.assign(p, p + d.numel());
    return v;
  }

  // Where output position x comes from in input coordinates.
  double original_coord(const AxisGeometry& g, double x) const {
    const double in = static_cast<double>(g.in_len), s = g.scale, ow = g.out_width;
    switch (ctm_) {
      case Ctm::AlignCorners: return ow == 1 ? 0.0 : x * (in - 1) / (ow - 1);
      case Ctm::Asymmetric: return x / s;
      case Ctm::TfCropAndResize: {
        const double span = (g.roi1 - g.roi0) * (in - 1);
        const double xo = ow == 1 ? span / 2 : x * span / (ow - 1);
        return xo + g.roi0 * (in - 1);
      }
      // The spec's 0 for a single output (the Python reference uses -0.5;
      // onnxruntime follows the spec).
      case Ctm::PytorchHalfPixel: return g.out_len > 1 ? (x + 0.5) / s - 0.5 : 0.0;
      case Ctm::HalfPixel: return (x + 0.5) / s - 0.5;
      case Ctm::HalfPixelSymmetric: {
        const double adjustment = static_cast<double>(g.out_len) / ow;
        const double offset = in / 2 * (1 - adjustment);
        return offset + (x + 0.5) / s - 0.5;
      }
      case Ctm::TfHalfPixelForNN: return (x + 0.5) / s;
    }
    return x;
  }

  int64_t nearest_index(double xo, double scale) const {
    const double fl = std::floor(xo);
    if (xo == fl) return static_cast<int64_t>(fl);
    const double frac = xo - fl;
    switch (nearest_) {
      case NearestMode::RoundPreferFloor: return static_cast<int64_t>(frac <= 0.5 ? fl : fl + 1);
      case NearestMode::RoundPreferCeil: return static_cast<int64_t>(frac < 0.5 ? fl : fl + 1);
      case NearestMode::Floor: return static_cast<int64_t>(fl);
      case NearestMode::Ceil: return static_cast<int64_t>(fl + 1);
      case NearestMode::Simple: return static_cast<int64_t>(scale < 1 ? std::ceil(xo) : std::trunc(xo));
    }
    return static_cast<int64_t>(fl);
  }

  AxisTaps make_taps(const AxisGeometry& g) const {
    AxisTaps t;
    const int64_t out = g.out_len, in = g.in_len;
    t.outside.assign(out, 0);
    // Filter footprint: offsets [start, start + n) around floor(x). The
    // antialias filter is stretched by 1/scale when downsampling.
    double stretch = 1.0;
    int64_t start = 0;
    if (mode_ == Mode::Nearest) {
      t.n = 1;
    } else {
      if (antialias_) stretch = std::min(g.scale, 1.0);
      const double radius = mode_ == Mode::Linear ? 1.0 : 2.0;
      start = clamp_to_int<int64_t>(std::floor(-radius / stretch) + 1);
      t.n = 2 - 2 * start;
    }
    t.idx.assign(out * t.n, 0);
    t.w.assign(out * t.n, 0.0);
    for (int64_t j = 0; j < out; ++j) {
      const double xo = original_coord(g, static_cast<double>(j));
      if (ctm_ == Ctm::TfCropAndResize && (xo < 0 || xo > static_cast<double>(in - 1))) {
        t.outside[j] = 1;
        continue;
      }
      int64_t* idx = &t.idx[j * t.n];
      double* w = &t.w[j * t.n];
      if (mode_ == Mode::Nearest) {
        idx[0] = std::clamp<int64_t>(nearest_index(xo, g.scale), 0, in - 1);
        w[0] = 1;
        continue;
      }
      // The spec takes the ratio in (0, 1]: an exact integer position counts
      // as ratio 1 from the pixel to its left.
      double fl = std::floor(xo), ratio = xo - fl;
      if (ratio == 0) {
        fl -= 1;
        ratio = 1;
      }
      const int64_t i0 = static_cast<int64_t>(fl);
      double sum = 0;
      for (int64_t k = 0; k < t.n; ++k) {
        const double dist = stretch * (static_cast<double>(start + k) - ratio);
        w[k] = mode_ == Mode::Linear ? std::clamp(1 - std::fabs(dist), 0.0, 1.0) : cubic_kernel(dist, cubic_a_);
        sum += w[k];
      }
      if (antialias_)
        for (int64_t k = 0; k < t.n; ++k) w[k] /= sum;
      if (exclude_outside_) {
        sum = 0;
        for (int64_t k = 0; k < t.n; ++k) {
          const int64_t i = i0 + start + k;
          if (i < 0 || i >= in) w[k] = 0;
          sum += w[k];
        }
        for (int64_t k = 0; k < t.n; ++k) w[k] = sum != 0 ? w[k] / sum : 0;
      }
      for (int64_t k = 0; k < t.n; ++k) idx[k] = std::clamp<int64_t>(i0 + start + k, 0, in - 1);
    }
    return t;
  }

  // N-d gather: one source row offset per output row, then the last axis.
  void resize_nearest(const Tensor& x, Tensor& out, const std::vector<AxisTaps>& taps, ThreadPool& pool) const {
    const Shape& is = x.shape();
    const Shape& os = out.shape();
    const int64_t rank = static_cast<int64_t>(is.size());
    const std::vector<int64_t> istr = strides_of(is);
    const int64_t last = os.back();
    const int64_t rows = out.numel() / last;
    // The extrapolation value in the element type, as raw bytes.
    Tensor ext = cast_tensor(Tensor::scalar<float>(extrapolation_), out.dtype());
    dispatch_by_size(out.dtype(), node_.describe(), [&](auto tag) {
      using T = typename decltype(tag)::type;
      const T* src = static_cast<const T*>(x.raw());
      T* dst = static_cast<T*>(out.raw());
      T ev;
      std::memcpy(&ev, ext.raw(), sizeof(T));
      const AxisTaps& tl = taps.back();
      const bool any_outside = ctm_ == Ctm::TfCropAndResize;
      pool.parallel_for(rows, grain_size(16384, last), [&](int64_t b, int64_t e) {
        int64_t prev_off = -1;
        for (int64_t r = b; r < e; ++r) {
          int64_t off = 0, rem = r;
          bool outside = false;
          for (int64_t d = rank - 2; d >= 0; --d) {
            const int64_t j = rem % os[d];
            rem /= os[d];
            outside |= taps[d].outside[j] != 0;
            off += taps[d].idx[j] * istr[d];
          }
          T* y = dst + r * last;
          if (outside) {
            std::fill(y, y + last, ev);
            prev_off = -1;
            continue;
          }
          if (off == prev_off) {
            // Upsampled rows repeat their predecessor: copy it whole.
            std::memcpy(y, y - last, sizeof(T) * last);
            continue;
          }
          prev_off = off;
          const T* s = src + off;
          const int64_t* ix = tl.idx.data();
          if (any_outside) {
            for (int64_t j = 0; j < last; ++j) y[j] = tl.outside[j] ? ev : s[ix[j]];
          } else {
            for (int64_t j = 0; j < last; ++j) y[j] = s[ix[j]];
          }
        }
      });
    });
  }

  // Linear / cubic: one pass per non-identity axis, downsampling axes first
  // so later passes touch fewer elements.
  template <typename F>
  Tensor resize_separable(const Tensor& x, const std::vector<AxisTaps>& taps, ThreadPool& pool) const {
    const int64_t rank = static_cast<int64_t>(x.rank());
    std::vector<int64_t> order;
    for (int64_t d = 0; d < rank; ++d)
      if (!taps[d].is_identity(x.shape()[d])) order.push_back(d);
    // Pass order by estimated cost: elements written times taps, with the
    // innermost axis (a gather, not a vector loop) weighted 3x. Few axes are
    // ever resized, so trying every order is cheap.
    auto cost = [&](const std::vector<int64_t>& ord) {
      Shape sh = x.shape();
      double c = 0;
      for (int64_t d : ord) {
        sh[d] = static_cast<int64_t>(taps[d].outside.size());
        c += static_cast<double>(shape_numel(sh)) * static_cast<double>(taps[d].n) * (d == rank - 1 ? 3.0 : 1.0);
      }
      return c;
    };
    if (order.size() <= 4) {
      std::vector<int64_t> best = order, perm = order;
      double best_cost = cost(order);
      while (std::next_permutation(perm.begin(), perm.end())) {
        const double c = cost(perm);
        if (c < best_cost) {
          best_cost = c;
          best = perm;
        }
      }
      order = best;
    }

    Tensor cur = x;
    Shape shape = x.shape();
    for (int64_t d : order) {
      const AxisTaps& t = taps[d];
      Shape next_shape = shape;
      next_shape[d] = static_cast<int64_t>(t.outside.size());
      Tensor next(DTypeOf<F>::value, next_shape);
      int64_t outer = 1, inner = 1;
      for (int64_t i = 0; i < d; ++i) outer *= shape[i];
      for (int64_t i = d + 1; i < rank; ++i) inner *= shape[i];
      resize_axis<F>(static_cast<const F*>(cur.raw()), static_cast<F*>(next.raw()), outer, shape[d], next_shape[d],
                     inner, t, pool);
      cur = next;
      shape = next_shape;
    }
    return order.empty() ? x.clone() : cur;
  }

  template <typename F>
  void resize_axis(const F* in, F* out, int64_t outer, int64_t in_d, int64_t out_d, int64_t inner, const AxisTaps& t,
                   ThreadPool& pool) const {
    const int64_t n = t.n;
    std::vector<F> w(t.w.begin(), t.w.end());
    const F ev = static_cast<F>(extrapolation_);
    if (inner == 1) {
      // Resizing the innermost axis: gather taps along each row.
      const bool any_outside = ctm_ == Ctm::TfCropAndResize;
      pool.parallel_for(outer, grain_size(8192, out_d * n), [&](int64_t b, int64_t e) {
        for (int64_t o = b; o < e; ++o) {
          const F* src = in + o * in_d;
          F* dst = out + o * out_d;
          const int64_t* ix = t.idx.data();
          const F* wj = w.data();
          if (n == 2) {  // linear: the common case, unrolled
            for (int64_t j = 0; j < out_d; ++j)
              dst[j] = wj[2 * j] * src[ix[2 * j]] + wj[2 * j + 1] * src[ix[2 * j + 1]];
          } else {
            for (int64_t j = 0; j < out_d; ++j) {
              F acc = 0;
              for (int64_t k = 0; k < n; ++k) acc += wj[j * n + k] * src[ix[j * n + k]];
              dst[j] = acc;
            }
          }
          if (any_outside)
            for (int64_t j = 0; j < out_d; ++j)
              if (t.outside[j]) dst[j] = ev;
        }
      });
      return;
    }
    pool.parallel_for(outer * out_d, grain_size(8192, inner * n), [&](int64_t b, int64_t e) {
      for (int64_t u = b; u < e; ++u) {
        const int64_t o = u / out_d, j = u % out_d;
        F* dst = out + u * inner;
        if (t.outside[j]) {
          std::fill(dst, dst + inner, ev);
          continue;
        }
        const int64_t* ix = &t.idx[j * n];
        const F* wj = &w[j * n];
        const F* src = in + o * in_d * inner;
        const F* s0 = src + ix[0] * inner;
        for (int64_t i = 0; i < inner; ++i) dst[i] = wj[0] * s0[i];
        for (int64_t k = 1; k < n; ++k) {
          if (wj[k] == 0) continue;
          const F wk = wj[k];
          const F* s = src + ix[k] * inner;
          for (int64_t i = 0; i < inner; ++i) dst[i] += wk * s[i];
        }
      }
    });
  }

  // Integer outputs: round half to even and saturate, as the reference does.
  static Tensor round_to_int(const Tensor& yf, DType dt) {
    Tensor out(dt, yf.shape());
    const float* y = yf.data<float>();
    dispatch_int(dt, "Resize", [&](auto tag) {
      using T = typename decltype(tag)::type;
      T* o = static_cast<T*>(out.raw());
      const double lo = static_cast<double>(std::numeric_limits<T>::lowest());
      const double hi = static_cast<double>(std::numeric_limits<T>::max());
      for (int64_t i = 0; i < yf.numel(); ++i)
        o[i] = static_cast<T>(std::clamp(std::nearbyint(static_cast<double>(y[i])), lo, hi));
    });
    return out;
  }

  const Node& node_;
  int64_t opset_ = 0;
  bool upsample_ = false, legacy_ = false;
  Mode mode_ = Mode::Nearest;
  Ctm ctm_ = Ctm::HalfPixel;
  NearestMode nearest_ = NearestMode::RoundPreferFloor;
  double cubic_a_ = -0.75;
  bool exclude_outside_ = false, antialias_ = false;
  float extrapolation_ = 0.f;
  int keep_aspect_ = 0;  // 0 stretch, 1 not_larger, 2 not_smaller
  std::vector<int64_t> axes_;
  std::vector<float> attr_scales_;
};

struct Resize : ResizeKernel {
  explicit Resize(const KernelInfo& info) : ResizeKernel(info, false) {}
};
struct Upsample : ResizeKernel {
  explicit Upsample(const KernelInfo& info) : ResizeKernel(info, true) {}
};

}  // namespace

void register_resize(KernelRegistry& r) {
  r.add<Resize>("", "Resize");
  r.add<Upsample>("", "Upsample");
}

}  // namespace pionnx
