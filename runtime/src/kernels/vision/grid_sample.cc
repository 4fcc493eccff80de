// GridSample (opsets 16, 20, 22): N-d sampling of X[n, c, d1..dr] at the
// normalized positions grid[n, o1..or, :] (the last grid axis lists the
// coordinates innermost-spatial-axis first, i.e. x, y, z).
//
// Interpolation is separable, so each output point gets per-axis taps (index,
// weight); their product set is computed once per point and reused for every
// channel.
#include <algorithm>
#include <cmath>
#include <type_traits>

#include "core/checked.h"
#include "kernels/base/cast.h"
#include "kernels/base/dtype_dispatch.h"
#include "kernels/base/kernel.h"
#include "kernels/base/shapes.h"
#include "platform/thread_pool.h"

namespace pionnx {
namespace {

enum class GsMode { Nearest, Linear, Cubic };
enum class GsPadding { Zeros, Border, Reflection };

// Reflects x into [lo, hi] by bouncing off the borders (period 2 * range;
// fmod, so a coordinate of any size folds without an integer conversion).
// NaN and infinities come back as NaN, which the caller reads as zero.
double reflect(double x, double lo, double hi) {
  const double range = hi - lo;
  if (range <= 0) return lo;
  if (x < lo) {
    const double d = std::fmod(lo - x, 2 * range);
    return d <= range ? lo + d : hi - (d - range);
  }
  if (x > hi) {
    const double d = std::fmod(x - hi, 2 * range);
    return d <= range ? hi - d : lo + (d - range);
  }
  return x;
}

void cubic_coeffs(double t, double c[4]) {
  const double A = -0.75;
  auto k = [A](double x) {
    x = std::fabs(x);
    if (x <= 1) return ((A + 2) * x - (A + 3)) * x * x + 1;
    if (x < 2) return ((A * x - 5 * A) * x + 8 * A) * x - 4 * A;
    return 0.0;
  };
  c[0] = k(t + 1);
  c[1] = k(t);
  c[2] = k(1 - t);
  c[3] = k(2 - t);
}

class GridSample : public Kernel {
 public:
  explicit GridSample(const KernelInfo& info) : node_(info.node) {
    const std::string mode = info.node.attr_s("mode", info.opset < 20 ? "bilinear" : "linear");
    if (mode == "nearest") mode_ = GsMode::Nearest;
    else if (mode == "bilinear" || mode == "linear") mode_ = GsMode::Linear;
    else if (mode == "bicubic" || mode == "cubic") mode_ = GsMode::Cubic;
    else throw InvalidArgument(str_cat(node_.describe(), ": unknown mode '", mode, "'"));
    const std::string pad = info.node.attr_s("padding_mode", "zeros");
    if (pad == "zeros") padding_ = GsPadding::Zeros;
    else if (pad == "border") padding_ = GsPadding::Border;
    else if (pad == "reflection") padding_ = GsPadding::Reflection;
    else throw InvalidArgument(str_cat(node_.describe(), ": unknown padding_mode '", pad, "'"));
    align_corners_ = info.node.attr_i("align_corners", 0) != 0;
  }

  void compute(KernelContext& ctx) const override {
    const Tensor& x = ctx.input(0);
    const Tensor& grid = ctx.input(1);
    const std::string what = node_.describe();
    const int64_t r = static_cast<int64_t>(x.rank()) - 2;
    PIONNX_ENFORCE(r >= 1, InvalidArgument, what, ": X must have rank >= 3, got ", shape_str(x.shape()));
    PIONNX_ENFORCE(
        static_cast<int64_t>(grid.rank()) == r + 2 && grid.shape()[0] == x.shape()[0] && grid.shape().back() == r,
        InvalidArgument, what, ": grid shape ", shape_str(grid.shape()), " does not match X shape ",
        shape_str(x.shape()), " (expected [N, out dims..., ", r, "])");
    Shape out_shape = {x.shape()[0], x.shape()[1]};
    for (int64_t d = 1; d <= r; ++d) out_shape.push_back(grid.shape()[d]);
    // Every sample reads (or clamps into) the input plane: there is none to read.
    for (int64_t d = 0; d < r; ++d)
      PIONNX_ENFORCE(x.shape()[2 + d] > 0 || shape_numel(out_shape) == 0, InvalidArgument, what, ": X ",
                     shape_str(x.shape()), " has an empty spatial dimension to sample from");

    const DType dt = x.dtype();
    if (dt == DType::Float16 || dt == DType::BFloat16) {
      Tensor xf = to_float32(x), gf = grid.dtype() == DType::Float ? grid : cast_tensor(grid, DType::Float);
      Tensor y(DType::Float, out_shape);
      sample<float, float>(xf, gf, y, ctx.pool());
      ctx.set_output(0, cast_tensor(y, dt));
      return;
    }
    Tensor& y = ctx.output(0, dt, out_shape);
    if (y.numel() == 0) return;
    dispatch_numeric(dt, what, [&](auto tag) {
      using T = typename decltype(tag)::type;
      if (grid.dtype() == DType::Double) {
        sample<T, double>(x, grid, y, ctx.pool());
      } else {
        Tensor gf = grid.dtype() == DType::Float ? grid : cast_tensor(grid, DType::Float);
        sample<T, float>(x, gf, y, ctx.pool());
      }
    });
  }

 private:
  // Per-axis taps for coordinate g on an axis of length len: up to 4
  // (index, weight) pairs; index -1 reads zero.
  template <typename G>
  int axis_taps(G g, int64_t len, int64_t idx[4], double w[4]) const {
    const G L = static_cast<G>(len);
    G xf = align_corners_ ? (g + 1) / 2 * (L - 1) : ((g + 1) * L - 1) / 2;
    if (mode_ == GsMode::Nearest) xf = std::nearbyint(xf);  // round half to even, like PyTorch
    const double lo = align_corners_ ? 0.0 : -0.5;
    const double hi = align_corners_ ? static_cast<double>(len) - 1 : static_cast<double>(len) - 0.5;
    double xd = static_cast<double>(xf);
    if (xd < lo || xd > hi) {
      if (padding_ == GsPadding::Border) xd = std::clamp(xd, 0.0, static_cast<double>(len - 1));
      else if (padding_ == GsPadding::Reflection) xd = reflect(xd, lo, hi);
    }
    const int n = mode_ == GsMode::Nearest ? 1 : mode_ == GsMode::Linear ? 2 : 4;
    if (!(xd > lo - 4 && xd < hi + 4)) {
      // NaN, or (zeros padding) farther out than the widest footprint: every
      // tap reads zero, and the coordinate never becomes an integer.
      for (int k = 0; k < n; ++k) idx[k] = -1, w[k] = 0;
      return n;
    }
    // Resolves an integer index against the padding mode.
    auto at = [&](int64_t i) -> int64_t {
      if (i >= 0 && i < len) return i;
      if (padding_ == GsPadding::Zeros) return -1;
      if (padding_ == GsPadding::Border) return std::clamp<int64_t>(i, 0, len - 1);
      const int64_t j = static_cast<int64_t>(reflect(static_cast<double>(i), lo, hi));
      return std::clamp<int64_t>(j, 0, len - 1);
    };
    if (mode_ == GsMode::Nearest) {
      idx[0] = at(static_cast<int64_t>(xd));
      w[0] = 1;
      return 1;
    }
    const double fl = std::floor(xd);
    const double t = xd - fl;
    const int64_t i0 = static_cast<int64_t>(fl);
    if (mode_ == GsMode::Linear) {
      idx[0] = at(i0);
      idx[1] = at(i0 + 1);
      w[0] = 1 - t;
      w[1] = t;
      return 2;
    }
    cubic_coeffs(t, w);
    for (int k = 0; k < 4; ++k) idx[k] = at(i0 - 1 + k);
    return 4;
  }

  // For each image n: the taps of every output point (a fixed count per
  // point, unused ones with weight 0), then every channel reads through them
  // in turn, which keeps one channel plane hot in cache at a time.
  template <typename T, typename G>
  void sample(const Tensor& x, const Tensor& grid, Tensor& y, ThreadPool& pool) const {
    using W = typename std::conditional<std::is_same<T, double>::value, double, float>::type;
    const int64_t r = static_cast<int64_t>(x.rank()) - 2;
    const int64_t N = x.shape()[0], C = x.shape()[1];
    Shape in_sp(x.shape().begin() + 2, x.shape().end());
    const int64_t in_plane = shape_numel(in_sp);
    const int64_t out_plane = y.numel() / std::max<int64_t>(1, N * C);
    const std::vector<int64_t> in_str = strides_of(in_sp);
    const int per_axis = mode_ == GsMode::Nearest ? 1 : mode_ == GsMode::Linear ? 2 : 4;
    int64_t n_taps = 1;
    for (int64_t d = 0; d < r; ++d) n_taps = checked_mul(n_taps, per_axis, "GridSample taps");
    checked_tensor_bytes(DType::Int64, checked_mul(out_plane, n_taps, "GridSample taps"));
    const T* xs = static_cast<const T*>(x.raw());
    const G* gs = static_cast<const G*>(grid.raw());
    T* ys = static_cast<T*>(y.raw());
    std::vector<int64_t> offs(static_cast<size_t>(out_plane * n_taps));
    std::vector<W> ws(offs.size());

    for (int64_t n = 0; n < N; ++n) {
      pool.parallel_for(out_plane, grain_size(2048, n_taps), [&](int64_t b, int64_t e) {
        for (int64_t p = b; p < e; ++p) {
          const G* g = gs + (n * out_plane + p) * r;
          int64_t* po = &offs[p * n_taps];
          W* pw = &ws[p * n_taps];
          po[0] = 0;
          pw[0] = 1;
          int64_t count = 1;
          // Tensor product of the per-axis taps; the grid lists axes reversed.
          for (int64_t d = r - 1; d >= 0; --d) {
            int64_t idx[4];
            double w[4];
            const int k = axis_taps<G>(g[r - 1 - d], in_sp[d], idx, w);
            for (int64_t a = count - 1; a >= 0; --a)
              for (int t = k - 1; t >= 0; --t) {
                const bool valid = idx[t] >= 0;  // zero padding reads 0
                po[a * k + t] = po[a] + (valid ? idx[t] * in_str[d] : 0);
                pw[a * k + t] = valid ? static_cast<W>(pw[a] * static_cast<W>(w[t])) : W(0);
              }
            count *= k;
          }
        }
      });
      // The tap count a compile-time constant for the common ones (1-D, 2-D and 3-D linear, 2-D nearest and
      // cubic): the loop over a point's taps unrolled (at a run-time count it was 1.6x onnxruntime's time on a
      // 2-D bilinear sampling), the same sums in the same order.
      auto channels = [&](auto taps) {
        constexpr int64_t kTaps = decltype(taps)::value;
        const int64_t nt = kTaps > 0 ? kTaps : n_taps;
        pool.parallel_for(C, 1, [&](int64_t b, int64_t e) {
          for (int64_t c = b; c < e; ++c) {
            const T* src = xs + (n * C + c) * in_plane;
            T* dst = ys + (n * C + c) * out_plane;
            const int64_t* po = offs.data();
            const W* pw = ws.data();
            for (int64_t p = 0; p < out_plane; ++p, po += nt, pw += nt) {
              W acc = 0;
              for (int64_t t = 0; t < nt; ++t) acc += pw[t] * static_cast<W>(src[po[t]]);
              dst[p] = static_cast<T>(acc);
            }
          }
        });
      };
      switch (n_taps) {
        case 1: channels(std::integral_constant<int64_t, 1>{}); break;
        case 2: channels(std::integral_constant<int64_t, 2>{}); break;
        case 4: channels(std::integral_constant<int64_t, 4>{}); break;
        case 8: channels(std::integral_constant<int64_t, 8>{}); break;
        case 16: channels(std::integral_constant<int64_t, 16>{}); break;
        default: channels(std::integral_constant<int64_t, 0>{}); break;
      }
    }
  }

  const Node& node_;
  GsMode mode_ = GsMode::Linear;
  GsPadding padding_ = GsPadding::Zeros;
  bool align_corners_ = false;
};

}  // namespace

void register_grid_sample(KernelRegistry& r) { r.add<GridSample>("", "GridSample"); }

}  // namespace pionnx
