// Signal ops (opset 17+): DFT, STFT, Hann/Hamming/Blackman windows and
// MelWeightMatrix. Transforms run in double: radix-2 FFT for power-of-two
// lengths, a direct DFT with a twiddle table otherwise.
#include <algorithm>
#include <cmath>
#include <complex>

#include "core/int_arith.h"
#include "kernels/base/cast.h"
#include "kernels/base/families.h"
#include "kernels/base/kernel.h"
#include "kernels/base/shapes.h"
#include "platform/thread_pool.h"

namespace pionnx {
namespace {

using cd = std::complex<double>;
constexpr double kPi = 3.14159265358979323846;

// In-place transform of `a` (length L). Forward uses e^{-2πi kn/L}; inverse
// uses e^{+2πi kn/L} and divides by L.
class Transform {
 public:
  Transform(int64_t L, bool inverse) : L_(L), inverse_(inverse), tw_(static_cast<size_t>(L)) {
    const double sign = inverse ? 1.0 : -1.0;
    for (int64_t k = 0; k < L; ++k) tw_[k] = std::polar(1.0, sign * 2 * kPi * static_cast<double>(k) / L);
  }

  void run(std::vector<cd>& a, std::vector<cd>& scratch) const {
    if (L_ <= 1) return;
    if ((L_ & (L_ - 1)) == 0) {
      fft_pow2(a);
    } else {
      scratch.assign(static_cast<size_t>(L_), cd(0, 0));
      for (int64_t k = 0; k < L_; ++k) {
        cd acc(0, 0);
        int64_t idx = 0;
        for (int64_t n = 0; n < L_; ++n) {
          acc += a[n] * tw_[idx];
          idx += k;
          if (idx >= L_) idx -= L_;
        }
        scratch[k] = acc;
      }
      a.swap(scratch);
    }
    if (inverse_)
      for (auto& v : a) v /= static_cast<double>(L_);
  }

 private:
  void fft_pow2(std::vector<cd>& a) const {
    const int64_t n = L_;
    for (int64_t i = 1, j = 0; i < n; ++i) {
      int64_t bit = n >> 1;
      for (; j & bit; bit >>= 1) j ^= bit;
      j ^= bit;
      if (i < j) std::swap(a[i], a[j]);
    }
    for (int64_t len = 2; len <= n; len <<= 1) {
      const int64_t step = n / len;
      for (int64_t i = 0; i < n; i += len)
        for (int64_t k = 0; k < len / 2; ++k) {
          const cd u = a[i + k], v = a[i + k + len / 2] * tw_[k * step];
          a[i + k] = u + v;
          a[i + k + len / 2] = u - v;
        }
    }
  }

  int64_t L_;
  bool inverse_;
  std::vector<cd> tw_;
};

int64_t scalar_int(const Tensor& t, const std::string& what, const char* name) {
  const std::vector<int64_t> v = tensor_to_int64s(t);
  PIONNX_ENFORCE(v.size() == 1, InvalidArgument, what, ": '", name, "' must be a scalar, got shape ",
                 shape_str(t.shape()));
  return v[0];
}

// Output dtype of a float computation done in double.
Tensor from_double(const Tensor& t, DType dt) { return dt == DType::Double ? t : cast_tensor(t, dt); }

class DFT : public Kernel {
 public:
  explicit DFT(const KernelInfo& info) : node_(info.node), opset_(info.opset) {
    inverse_ = info.node.attr_i("inverse", 0) != 0;
    onesided_ = info.node.attr_i("onesided", 0) != 0;
    axis_ = info.node.attr_i("axis", 1);
  }

  void compute(KernelContext& ctx) const override {
    const Tensor& x = ctx.input(0);
    const std::string what = node_.describe();
    const int64_t rank = static_cast<int64_t>(x.rank());
    PIONNX_ENFORCE(rank >= 2 && (x.dim(-1) == 1 || x.dim(-1) == 2), InvalidArgument, what,
                   ": input must be [..., 1 or 2], got ", shape_str(x.shape()));
    int64_t axis = axis_;
    if (opset_ >= 20) axis = ctx.optional_input(2) ? scalar_int(ctx.input(2), what, "axis") : -2;
    axis = normalize_axis(axis, rank, what);
    PIONNX_ENFORCE(axis < rank - 1, InvalidArgument, what, ": axis must not be the complex axis");
    const int64_t n_in = x.shape()[axis];
    // inverse + onesided is the inverse real transform (numpy's irfft): the
    // input holds bins 0..L/2 of a Hermitian spectrum, the output is L real
    // values; L defaults to 2 * (bins - 1).
    const bool irfft = inverse_ && onesided_;
    int64_t L = irfft ? 2 * (n_in - 1) : n_in;
    if (const Tensor* t = ctx.optional_input(1)) L = scalar_int(*t, what, "dft_length");
    PIONNX_ENFORCE(L > 0, InvalidArgument, what, ": dft_length must be > 0, got ", L);
    const int64_t n_keep = irfft ? L : onesided_ ? L / 2 + 1 : L;

    Shape out_shape = x.shape();
    out_shape[axis] = n_keep;
    out_shape.back() = irfft ? 1 : 2;
    const bool complex_in = x.dim(-1) == 2;
    int64_t outer = 1, inner = 1;
    for (int64_t d = 0; d < axis; ++d) outer *= x.shape()[d];
    for (int64_t d = axis + 1; d < rank - 1; ++d) inner *= x.shape()[d];

    const Tensor xd = cast_tensor(x, DType::Double);
    const double* src = xd.data<double>();
    Tensor out(DType::Double, out_shape);
    double* dst = out.data<double>();
    const Transform tr(L, inverse_);
    const int64_t ci = complex_in ? 2 : 1;
    ctx.pool().parallel_for(outer * inner, grain_size(4096, L), [&](int64_t b, int64_t e) {
      std::vector<cd> a, scratch;
      for (int64_t u = b; u < e; ++u) {
        const int64_t o = u / inner, i = u % inner;
        a.assign(static_cast<size_t>(L), cd(0, 0));
        const int64_t n_read = irfft ? std::min(n_in, L / 2 + 1) : std::min(L, n_in);
        for (int64_t n = 0; n < n_read; ++n) {
          const double* p = src + ((o * n_in + n) * inner + i) * ci;
          a[n] = cd(p[0], complex_in ? p[1] : 0.0);
          if (irfft && n > 0 && L - n > n) a[L - n] = std::conj(a[n]);  // the mirrored half
        }
        tr.run(a, scratch);
        const int64_t co = irfft ? 1 : 2;
        for (int64_t k = 0; k < n_keep; ++k) {
          double* q = dst + ((o * n_keep + k) * inner + i) * co;
          q[0] = a[k].real();  // irfft: the imaginary parts of bin 0 and L/2 only add imaginary output
          if (!irfft) q[1] = a[k].imag();
        }
      }
    });
    ctx.set_output(0, from_double(out, x.dtype()));
  }

 private:
  const Node& node_;
  int64_t opset_;
  bool inverse_ = false, onesided_ = false;
  int64_t axis_ = 1;
};

// STFT (17): signal [batch, length, 1 or 2] -> [batch, frames, bins, 2].
class STFT : public Kernel {
 public:
  explicit STFT(const KernelInfo& info) : node_(info.node), onesided_(info.node.attr_i("onesided", 1) != 0) {}

  void compute(KernelContext& ctx) const override {
    const Tensor& x = ctx.input(0);
    const std::string what = node_.describe();
    PIONNX_ENFORCE(x.rank() == 3 && (x.dim(2) == 1 || x.dim(2) == 2), InvalidArgument, what,
                   ": signal must be [batch, length, 1 or 2], got ", shape_str(x.shape()));
    const int64_t step = scalar_int(ctx.input(1), what, "frame_step");
    const Tensor* window = ctx.optional_input(2);
    int64_t flen = -1;
    if (const Tensor* t = ctx.optional_input(3)) flen = scalar_int(*t, what, "frame_length");
    if (window) {
      PIONNX_ENFORCE(window->rank() == 1 && (flen < 0 || window->dim(0) == flen), InvalidArgument, what,
                     ": window shape ", shape_str(window->shape()), " does not match frame_length ", flen);
      flen = window->dim(0);
    }
    const int64_t B = x.dim(0), len = x.dim(1), ci = x.dim(2);
    if (flen < 0) flen = len;
    PIONNX_ENFORCE(step > 0 && flen > 0 && flen <= len, InvalidArgument, what, ": frame_step ", step,
                   " and frame_length ", flen, " do not fit a signal of length ", len);
    const int64_t frames = 1 + (len - flen) / step;
    const int64_t bins = onesided_ ? flen / 2 + 1 : flen;
    std::vector<double> w(static_cast<size_t>(flen), 1.0);
    if (window) {
      const Tensor wd = cast_tensor(*window, DType::Double);
      std::copy(wd.data<double>(), wd.data<double>() + flen, w.begin());
    }
    const Tensor xd = cast_tensor(x, DType::Double);
    const double* src = xd.data<double>();
    Tensor out(DType::Double, {B, frames, bins, 2});
    double* dst = out.data<double>();
    const Transform tr(flen, false);
    ctx.pool().parallel_for(B * frames, 1, [&](int64_t b0, int64_t e) {
      std::vector<cd> a(static_cast<size_t>(flen)), scratch;
      for (int64_t u = b0; u < e; ++u) {
        const int64_t b = u / frames, f = u % frames;
        a.resize(static_cast<size_t>(flen));
        for (int64_t n = 0; n < flen; ++n) {
          const double* p = src + (b * len + f * step + n) * ci;
          a[n] = cd(p[0], ci == 2 ? p[1] : 0.0) * w[n];
        }
        tr.run(a, scratch);
        double* q = dst + u * bins * 2;
        for (int64_t k = 0; k < bins; ++k) {
          q[2 * k] = a[k].real();
          q[2 * k + 1] = a[k].imag();
        }
      }
    });
    ctx.set_output(0, from_double(out, x.dtype()));
  }

 private:
  const Node& node_;
  bool onesided_;
};

// Hann / Hamming / Blackman: generalized cosine windows
// a0 - a1 cos(2πn/N) + a2 cos(4πn/N), N = size (periodic) or size - 1.
class CosineWindow : public Kernel {
 public:
  CosineWindow(const KernelInfo& info, double a0, double a1, double a2) : node_(info.node), a0_(a0), a1_(a1), a2_(a2) {
    periodic_ = info.node.attr_i("periodic", 1) != 0;
    dtype_ = static_cast<DType>(info.node.attr_i("output_datatype", static_cast<int64_t>(DType::Float)));
  }
  void compute(KernelContext& ctx) const override {
    const int64_t size = scalar_int(ctx.input(0), node_.describe(), "size");
    PIONNX_ENFORCE(size >= 0, InvalidArgument, node_.describe(), ": size must be >= 0, got ", size);
    Tensor out(DType::Double, {size});
    double* y = out.data<double>();
    const double N = static_cast<double>(periodic_ ? size : size - 1);
    for (int64_t n = 0; n < size; ++n) {
      const double t = 2 * kPi * static_cast<double>(n) / N;
      y[n] = a0_ - a1_ * std::cos(t) + a2_ * std::cos(2 * t);
    }
    ctx.set_output(0, from_double(out, dtype_));
  }

 private:
  const Node& node_;
  double a0_, a1_, a2_;
  bool periodic_ = true;
  DType dtype_ = DType::Float;
};

struct HannWindow : CosineWindow {
  explicit HannWindow(const KernelInfo& i) : CosineWindow(i, 0.5, 0.5, 0.0) {}
};
struct HammingWindow : CosineWindow {
  explicit HammingWindow(const KernelInfo& i) : CosineWindow(i, 25.0 / 46.0, 1.0 - 25.0 / 46.0, 0.0) {}
};
struct BlackmanWindow : CosineWindow {
  explicit BlackmanWindow(const KernelInfo& i) : CosineWindow(i, 0.42, 0.5, 0.08) {}
};

// MelWeightMatrix (17): triangular filters [dft_length/2 + 1, num_mel_bins],
// following the ONNX reference's integer bin placement.
class MelWeightMatrix : public Kernel {
 public:
  explicit MelWeightMatrix(const KernelInfo& info) : node_(info.node) {
    dtype_ = static_cast<DType>(info.node.attr_i("output_datatype", static_cast<int64_t>(DType::Float)));
  }
  void compute(KernelContext& ctx) const override {
    const std::string what = node_.describe();
    const int64_t mels = scalar_int(ctx.input(0), what, "num_mel_bins");
    const int64_t dft = scalar_int(ctx.input(1), what, "dft_length");
    const int64_t rate = scalar_int(ctx.input(2), what, "sample_rate");
    const double lo = tensor_scalar_as_double(ctx.input(3));
    const double hi = tensor_scalar_as_double(ctx.input(4));
    PIONNX_ENFORCE(mels > 0 && dft > 0 && rate > 0, InvalidArgument, what,
                   ": num_mel_bins, dft_length and sample_rate must be > 0");
    const int64_t spec_bins = dft / 2 + 1;
    const double lo_mel = 2595 * std::log10(1 + lo / 700), hi_mel = 2595 * std::log10(1 + hi / 700);
    const double step = (hi_mel - lo_mel) / static_cast<double>(mels + 2);
    std::vector<int64_t> bins(static_cast<size_t>(mels + 2));
    for (int64_t i = 0; i < mels + 2; ++i) {
      const double hz = 700 * (std::pow(10.0, (static_cast<double>(i) * step + lo_mel) / 2595) - 1);
      bins[i] = clamp_to_int<int64_t>(std::floor(static_cast<double>(dft + 1) * hz / static_cast<double>(rate)));
    }
    Tensor out = Tensor::zeros(DType::Double, {spec_bins, mels});
    double* y = out.data<double>();
    auto set = [&](int64_t j, int64_t i, double v) {
      PIONNX_ENFORCE(j >= 0 && j < spec_bins, InvalidArgument, what, ": mel filter bin ", j,
                     " is outside the spectrogram (", spec_bins, " bins); check the edge frequencies");
      y[j * mels + i] = v;
    };
    for (int64_t i = 0; i < mels; ++i) {
      const int64_t l = bins[i], c = bins[i + 1], h = bins[i + 2];
      if (c == l) set(c, i, 1.0);
      else
        for (int64_t j = l; j <= c; ++j) set(j, i, static_cast<double>(j - l) / static_cast<double>(c - l));
      for (int64_t j = c; j < h; ++j) set(j, i, static_cast<double>(h - j) / static_cast<double>(h - c));
    }
    ctx.set_output(0, from_double(out, dtype_));
  }

 private:
  const Node& node_;
  DType dtype_ = DType::Float;
};

}  // namespace

// The signal family's one file, and its registration.
void register_signal_family(KernelRegistry& r) {
  r.add_all("",
            {impl<DFT>("DFT"), impl<STFT>("STFT"), impl<HannWindow>("HannWindow"), impl<HammingWindow>("HammingWindow"),
             impl<BlackmanWindow>("BlackmanWindow"), impl<MelWeightMatrix>("MelWeightMatrix")});
}

}  // namespace pionnx
