// Standalone check of the fastmath family (vector exp, tanh, erf, sigmoid,
// GELU, softmax's exp-shift-sum and max, attention's add-max and scale) against double-precision libm, for
// cross builds run under qemu (ci/checks/arm_kernels.sh) as well as the host.
// The path is the one this process picked (PIONNX_FASTMATH caps it): run it
// once per path. Exit status is non-zero on any value out of tolerance.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <limits>
#include <string>
#include <vector>

#include "kernels/simd/dispatch.h"
#include "kernels/simd/elementwise_math.h"
#include "pionnx/dtype.h"

namespace fm = pionnx::fastmath;

namespace {

int failures = 0;
std::string failed_functions;

// |got - want| <= abs_tol + rel_tol * |want|, NaN for NaN, the same infinity where float overflows.
void expect(const char* what, float x, float got, double want, double rel_tol, double abs_tol) {
  bool ok;
  const float wf = static_cast<float>(want);  // what float can hold: past FLT_MAX an infinity
  if (std::isnan(want)) ok = std::isnan(got);
  else if (std::isinf(wf)) ok = got == wf;
  else ok = std::fabs(static_cast<double>(got) - want) <= abs_tol + rel_tol * std::fabs(want);
  if (!ok && failed_functions.find(what) == std::string::npos) failed_functions += std::string(" ") + what;
  if (!ok && ++failures <= 20)
    std::printf("  MISMATCH %s(%.9g) = %.9g, want %.9g\n", what, static_cast<double>(x), static_cast<double>(got),
                want);
}

double sigmoid(double x) { return 1.0 / (1.0 + std::exp(-x)); }
double gelu_erf(double x) { return 0.5 * x * (1.0 + std::erf(x / std::sqrt(2.0))); }
double gelu_tanh(double x) { return 0.5 * x * (1.0 + std::tanh(0.7978845608028654 * (x + 0.044715 * x * x * x))); }

}  // namespace

int main() {
  const auto& paths = pionnx::simd::fastmath_paths();
  std::string avail;
  for (const auto& p : paths.available) avail += (avail.empty() ? "" : ", ") + p;
  std::printf("fastmath: paths %s; running %s\n", avail.c_str(), paths.active.c_str());

  std::vector<float> x;
  for (double v = -100; v <= 100; v += 0.0137) x.push_back(static_cast<float>(v));
  for (double v = -6; v <= 6; v += 0.000731) x.push_back(static_cast<float>(v));
  const float inf = std::numeric_limits<float>::infinity();
  for (float v : {0.f, -0.f, 1e-30f, -1e-30f, 88.7f, 89.f, -87.3f, -88.f, -104.f, 1e4f, -1e4f, inf, -inf,
                  std::numeric_limits<float>::quiet_NaN()})
    x.push_back(v);
  const int64_t n = static_cast<int64_t>(x.size());  // odd: the vector loops' tails run too
  std::vector<float> y(x.size());

  fm::exp_block(x.data(), y.data(), n);
  // Results below FLT_MIN may flush to zero (armv7 NEON): an absolute slack of 1.2e-38.
  for (int64_t i = 0; i < n; ++i) expect("exp", x[i], y[i], std::exp(static_cast<double>(x[i])), 4e-7, 1.2e-38);
  fm::tanh_block(x.data(), y.data(), n);
  for (int64_t i = 0; i < n; ++i) expect("tanh", x[i], y[i], std::tanh(static_cast<double>(x[i])), 2e-6, 1e-7);
  fm::erf_block(x.data(), y.data(), n);
  for (int64_t i = 0; i < n; ++i) expect("erf", x[i], y[i], std::erf(static_cast<double>(x[i])), 2e-6, 1e-7);
  fm::sigmoid_block(x.data(), y.data(), n);
  for (int64_t i = 0; i < n; ++i) expect("sigmoid", x[i], y[i], sigmoid(x[i]), 2e-6, 1e-7);
  fm::gelu_block(x.data(), y.data(), n, false);
  for (int64_t i = 0; i < n; ++i)
    if (std::fabs(x[i]) < 1e3f) expect("gelu", x[i], y[i], gelu_erf(x[i]), 2e-6, 3e-7 * (1 + std::fabs(x[i])));
  fm::gelu_block(x.data(), y.data(), n, true);
  for (int64_t i = 0; i < n; ++i)
    if (std::fabs(x[i]) < 1e3f) expect("gelu_tanh", x[i], y[i], gelu_tanh(x[i]), 2e-6, 3e-7 * (1 + std::fabs(x[i])));

  std::vector<float> qxs;  // a finite row for the row sums
  for (int i = 0; i < 67; ++i) qxs.push_back(static_cast<float>(std::cos(i * 0.53) * 3.1 + 0.7));

  // Softmax's pieces over a finite row.
  std::vector<float> row;
  for (int i = 0; i < 1001; ++i) row.push_back(static_cast<float>(std::sin(i * 0.37) * 20.0));
  const float mx = fm::max_block(row.data(), static_cast<int64_t>(row.size()));
  double want_max = row[0];
  for (float v : row) want_max = std::max(want_max, static_cast<double>(v));
  expect("max", 0.f, mx, want_max, 0, 0);
  std::vector<float> e(row.size());
  const float sum = fm::exp_shift_sum_block(row.data(), e.data(), static_cast<int64_t>(row.size()), mx);
  double want_sum = 0;
  for (size_t i = 0; i < row.size(); ++i) {
    const double w = std::exp(static_cast<double>(row[i] - mx));  // the kernel subtracts in float
    want_sum += w;
    expect("exp_shift", row[i], e[i], w, 4e-7, 1.2e-38);
  }
  expect("exp_shift_sum", 0.f, sum, want_sum, 1e-5, 0);
  // The edges exp_shift meets (its argument is never above 0): masked -inf (exactly 0), far below the
  // max (underflow), zeros and a NaN, over every length around the loops (one and two vectors a step).
  std::vector<float> edge;
  for (int i = 0; i < 40; ++i)
    edge.push_back(i % 5 == 1 ? -inf : i % 5 == 2 ? -90.f - i : i % 5 == 3 ? 0.f : -0.37f * i);
  edge.push_back(std::numeric_limits<float>::quiet_NaN());
  for (size_t len = 1; len <= edge.size(); ++len) {
    std::vector<float> out(len);
    const float s = fm::exp_shift_sum_block(edge.data(), out.data(), static_cast<int64_t>(len), 0.f);
    double want_s = 0;
    for (size_t i = 0; i < len; ++i) {
      const double w = std::exp(static_cast<double>(edge[i]));
      want_s += w;
      expect("exp_shift(edge)", edge[i], out[i], w, 4e-7, 1.2e-38);
      if (std::isinf(edge[i])) expect("exp_shift(-inf)", edge[i], out[i], 0.0, 0, 0);
    }
    expect("exp_shift_sum(edge)", 0.f, s, want_s, 1e-5, 0);
  }

  // Attention's row pieces, every length around the loops: a mask added to the
  // scores with their max (NaN skipped, -inf where every sum is -inf), and
  // an output row scaled by 1 / sum.
  for (size_t len = 0; len <= edge.size(); ++len) {
    std::vector<float> row(len), bias(len);
    for (size_t i = 0; i < len; ++i) {
      row[i] = std::isnan(edge[i]) ? 0.5f : 0.31f * static_cast<float>(i % 7) - 1.f;
      bias[i] = edge[i];  // 0, -inf masks, far negatives and a NaN
    }
    std::vector<float> want_row(len);
    double want_m = -inf;
    for (size_t i = 0; i < len; ++i) {
      want_row[i] = row[i] + bias[i];
      if (want_row[i] > want_m) want_m = want_row[i];
    }
    const float m = fm::add_max_block(row.data(), bias.data(), static_cast<int64_t>(len));
    for (size_t i = 0; i < len; ++i) expect("add_max(row)", bias[i], row[i], want_row[i], 0, 0);
    expect("add_max", static_cast<float>(len), m, want_m, 0, 0);
    std::vector<float> sc(row.begin(), row.end());
    for (size_t i = 0; i < len; ++i)
      if (!std::isfinite(sc[i])) sc[i] = 2.5f;
    fm::scale_block(sc.data(), static_cast<int64_t>(len), 0.37f);
    for (size_t i = 0; i < len; ++i) {
      const float r = std::isfinite(row[i]) ? row[i] : 2.5f;
      expect("scale", r, sc[i], static_cast<double>(r * 0.37f), 0, 0);
    }
  }
  {
    std::vector<float> row(21, 1.f), bias(21, -inf);
    expect("add_max(all masked)", 0.f, fm::add_max_block(row.data(), bias.data(), 21), -inf, 0, 0);
  }

  // LayerNormalization's row sums, every length around the loops, against double sums.
  for (int64_t len = 0; len <= 67; ++len) {
    const float shift = 0.25f;
    double want_s = 0, want_q = 0;
    for (int64_t i = 0; i < len; ++i) {
      want_s += qxs[i];
      want_q += (static_cast<double>(qxs[i]) - shift) * (static_cast<double>(qxs[i]) - shift);
    }
    expect("row_sum", static_cast<float>(len), static_cast<float>(fm::row_sum_block(qxs.data(), len, 0.f, false)),
           want_s, 1e-6, 1e-6);
    expect("row_sum(squares)", static_cast<float>(len),
           static_cast<float>(fm::row_sum_block(qxs.data(), len, shift, true)), want_q, 1e-6, 1e-6);
  }

  // A normalized row, with and without bias, every length around the loop.
  for (int64_t len = 0; len <= 19; ++len) {
    std::vector<float> y(static_cast<size_t>(len)), sc(qxs.begin() + 3, qxs.begin() + 3 + len);
    for (const float* bi : {static_cast<const float*>(nullptr), static_cast<const float*>(qxs.data() + 40)}) {
      fm::normalize_row_block(qxs.data(), y.data(), len, 0.3f, 1.7f, sc.data(), bi);
      for (int64_t i = 0; i < len; ++i)
        expect("normalize_row", qxs[i], y[i], (qxs[i] - 0.3) * 1.7 * sc[i] + (bi ? bi[i] : 0.0), 1e-6, 1e-6);
    }
  }

  // DynamicQuantizeLinear's pieces, exactly: the range (NaN skipped) and the
  // uint8 rounding (half to even, as std::nearbyint; NaN to the zero point).
  std::vector<float> qx;
  for (int i = 0; i < 2003; ++i) qx.push_back(static_cast<float>(std::sin(i * 0.61) * 7.3 - 1.1));
  for (float v : {0.f, -0.f, 2.5f, -2.5f, 3.5f, 0.5f, -0.5f}) qx.push_back(v * (14.6f / 255.f));  // ties
  qx.push_back(std::numeric_limits<float>::quiet_NaN());
  qx[100] = qx[1001] = std::numeric_limits<float>::quiet_NaN();  // inside the vector loops too
  {
    // Values whose quotient lies on or within a few ulps of a half-integer,
    // at the front so the vector loops take them (the AVX2 quantize
    // multiplies by 1 / scale and must fall back to division there).
    float lo0 = 0.f, hi0 = 0.f;
    for (float v : qx)
      if (!std::isnan(v)) lo0 = std::min(lo0, v), hi0 = std::max(hi0, v);
    const float s0 = (hi0 - lo0) / 255.f;
    std::vector<float> near;
    for (int k = -120; k <= 120; k += 7) {
      float v = (static_cast<float>(k) + 0.5f) * s0;
      for (int u = 0; u < 3; ++u) v = std::nextafter(v, -1e30f);
      for (int u = 0; u < 7; ++u, v = std::nextafter(v, 1e30f))
        if (v > lo0 && v < hi0) near.push_back(v);
    }
    qx.insert(qx.begin(), near.begin(), near.end());
  }
  const int64_t qn = static_cast<int64_t>(qx.size());
  float lo = 0.f, hi = 0.f, want_lo = 0.f, want_hi = 0.f;
  fm::range_block(qx.data(), qn, &lo, &hi);
  for (float v : qx) {
    want_lo = v < want_lo ? v : want_lo;
    want_hi = v > want_hi ? v : want_hi;
  }
  expect("range_lo", 0.f, lo, want_lo, 0, 0);
  expect("range_hi", 0.f, hi, want_hi, 0, 0);
  for (int32_t zp : {0, 77, 128, 255}) {
    const float scale = (want_hi - want_lo) / 255.f;
    std::vector<uint8_t> q(qx.size());
    fm::quantize_u8_block(qx.data(), qn, scale, zp, q.data());
    for (int64_t i = 0; i < qn; ++i) {
      double want = zp;
      if (!std::isnan(qx[i]))
        want = std::min(255.0, std::max(0.0, static_cast<double>(std::nearbyint(qx[i] / scale)) + zp));
      expect("quantize_u8", qx[i], q[i], want, 0, 0);
    }
  }

  // The quantized kernels' requantization against double arithmetic: (acc + bias) * mul + zp rounded half to
  // even, saturated; multipliers of 1/2 make every odd sum a tie, float(0.1) puts sums ending in 5 just past a tie
  // (a float product rounds them onto it: the x86 float forms must take them in double), 1/3 is no float (double
  // throughout), sums and biases at and past 2^23 (the float forms' limits). uint8 and int8, every tail length, whole
  // 64-value steps alone and with one value after them.
  {
    std::vector<int32_t> acc;
    for (int i = -700; i <= 700; ++i) acc.push_back(i * 3 + (i % 7));
    for (int32_t big : {8388607, 8388608, 8388609, 2000000000})
      for (int32_t d : {-20, -1, 0, 5}) {
        acc.push_back(big + d);
        acc.push_back(-big - d);
      }
    acc.push_back(std::numeric_limits<int32_t>::min());
    for (bool is_signed : {false, true})
      for (double mul : {0.5, 0.0371, 1.0 / 512, static_cast<double>(0.1f), 1.0 / 3, 1.0 / 65536})
        for (double bias : {11.0, -8388600.0, 8388608.0})
          for (int32_t zp : is_signed ? std::vector<int32_t>{-128, -3, 0, 127} : std::vector<int32_t>{0, 3, 128, 255})
            for (int64_t len : {int64_t{1}, int64_t{7}, int64_t{17}, int64_t{64}, int64_t{65}, int64_t{128},
                                static_cast<int64_t>(acc.size())}) {
              std::vector<uint8_t> q(static_cast<size_t>(len));
              fm::requantize_block(acc.data(), len, bias, mul, zp, is_signed, q.data());
              // The same sums handed over raw with terms to take off (an integer GEMM's row_out), the raw values
              // wrapping past int32 where the sums are near its ends.
              std::vector<int32_t> raw(static_cast<size_t>(len)), sub(static_cast<size_t>(len));
              const int32_t row_sub = -123457;
              for (int64_t i = 0; i < len; ++i) {
                sub[i] = static_cast<int32_t>((i * 7919) % 2000003) - 1000000;
                raw[i] = static_cast<int32_t>(static_cast<uint32_t>(acc[i]) + static_cast<uint32_t>(sub[i]) +
                                              static_cast<uint32_t>(row_sub));
              }
              std::vector<uint8_t> q2(static_cast<size_t>(len)), q3(static_cast<size_t>(len));
              fm::requantize_block(raw.data(), len, bias, mul, zp, is_signed, q2.data(), sub.data(), row_sub);
              // And vouched for as bounded where they are (the first 1401 sums, under 2^12 in size): the AVX-512
              // loop's unchecked form.
              const int64_t small = std::min<int64_t>(len, 1401);
              fm::requantize_block(raw.data(), small, bias, mul, zp, is_signed, q3.data(), sub.data(), row_sub, true);
              for (int64_t i = 0; i < len; ++i) {
                const double lo = is_signed ? -128 : 0, hi = is_signed ? 127 : 255;
                const double v = std::nearbyint((static_cast<double>(acc[i]) + bias) * mul + zp);
                const double want = std::min(hi, std::max(lo, v));
                const double got = is_signed ? static_cast<int8_t>(q[i]) : q[i];
                expect("requantize", static_cast<float>(acc[i]), static_cast<float>(got), want, 0, 0);
                const double got2 = is_signed ? static_cast<int8_t>(q2[i]) : q2[i];
                expect("requantize (raw sums, terms)", static_cast<float>(acc[i]), static_cast<float>(got2), want, 0,
                       0);
                if (i < small) {
                  const double got3 = is_signed ? static_cast<int8_t>(q3[i]) : q3[i];
                  expect("requantize (bounded)", static_cast<float>(acc[i]), static_cast<float>(got3), want, 0, 0);
                }
              }
            }
  }

  // requantize_rows_block (a block of an integer GEMM's rows in one call: the AVX-512 table's own loop over them)
  // against double arithmetic: each row its own bias, multiplier (ties, near-ties, no float) and bounded flag,
  // raw sums with column and row terms, rows ld apart with values between them that must not be read into the
  // output, row lengths short of a step, whole steps, and steps and a tail; output rows with a gap between them
  // (left as it is) and end to end (AVX2's tails then run on into the next row: 8 bytes past the last row are
  // checked untouched).
  {
    const double muls[] = {0.5, static_cast<double>(0.1f), 0.0371, 1.0 / 3, 1.0 / 512, 1.0 / 65536};
    for (bool is_signed : {false, true})
      for (int64_t n : {int64_t{1}, int64_t{5}, int64_t{49}, int64_t{64}, int64_t{130}})
        for (int64_t gap : {int64_t{2}, int64_t{0}}) {
          const int64_t rows = 6, ld = n + 3, ldy = n + gap;
          std::vector<int32_t> want_sum(static_cast<size_t>(rows * ld)), raw(want_sum.size()),
              sub(static_cast<size_t>(n));
          std::vector<int32_t> bias(rows), row_sub(rows);
          std::vector<double> mul(rows);
          std::vector<char> bounded(rows);
          for (int64_t j = 0; j < n; ++j) sub[j] = static_cast<int32_t>((j * 7919) % 20011) - 10000;
          for (int64_t r = 0; r < rows; ++r) {
            bias[r] = static_cast<int32_t>(r * 37) - 90;
            row_sub[r] = static_cast<int32_t>(r * 1013) - 2500;
            mul[r] = muls[r];
            // Bounded rows hold small sums (as a convolution vouches); the others some past 2^23.
            bounded[r] = r % 2 == 0;
            for (int64_t j = 0; j < ld; ++j) {
              const int64_t t = r * ld + j;
              const int32_t v =
                  bounded[r] ? static_cast<int32_t>((t * 31) % 4001) - 2000
                             : (j % 9 == 0 ? 8388608 + static_cast<int32_t>(t) : static_cast<int32_t>(t * 3) - 400);
              want_sum[t] = v;
              raw[t] = static_cast<int32_t>(static_cast<uint32_t>(v) + static_cast<uint32_t>(j < n ? sub[j] : 0) +
                                            static_cast<uint32_t>(row_sub[r]));
            }
          }
          for (int32_t zp : is_signed ? std::vector<int32_t>{-3, 0} : std::vector<int32_t>{0, 128}) {
            std::vector<uint8_t> y(static_cast<size_t>(rows * ldy + 8), 0xA5), y2(y.size(), 0xA5);
            fm::requantize_rows_block(raw.data(), ld, rows, n, bias.data(), mul.data(), bounded.data(), zp, is_signed,
                                      y.data(), ldy, sub.data(), row_sub.data());
            fm::requantize_rows_block(want_sum.data(), ld, rows, n, bias.data(), mul.data(), bounded.data(), zp,
                                      is_signed, y2.data(), ldy, nullptr, nullptr);
            for (int64_t r = 0; r < rows; ++r)
              for (int64_t j = 0; j < ldy; ++j) {
                const uint8_t got = y[r * ldy + j], got2 = y2[r * ldy + j];
                if (j >= n) {  // between the rows: untouched
                  expect("requantize_rows (gap)", 0.f, got, 0xA5, 0, 0);
                  expect("requantize_rows (gap)", 0.f, got2, 0xA5, 0, 0);
                  continue;
                }
                const double lo = is_signed ? -128 : 0, hi = is_signed ? 127 : 255;
                const double s = want_sum[r * ld + j];
                const double want = std::min(hi, std::max(lo, std::nearbyint((s + bias[r]) * mul[r] + zp)));
                expect("requantize_rows (raw, terms)", static_cast<float>(s),
                       static_cast<float>(is_signed ? static_cast<int8_t>(got) : got), want, 0, 0);
                expect("requantize_rows", static_cast<float>(s),
                       static_cast<float>(is_signed ? static_cast<int8_t>(got2) : got2), want, 0, 0);
              }
            for (int64_t t = rows * ldy; t < rows * ldy + 8; ++t) {
              expect("requantize_rows (past the end)", 0.f, y[t], 0xA5, 0, 0);
              expect("requantize_rows (past the end)", 0.f, y2[t], 0xA5, 0, 0);
            }
          }
        }
  }

  // The quantized depthwise convolution's conversions: every 8-bit value, both signednesses, minus a zero point,
  // at lengths that leave every vector tail; integer-valued floats back to int32.
  {
    std::vector<uint8_t> bytes(300);
    for (size_t i = 0; i < bytes.size(); ++i) bytes[i] = static_cast<uint8_t>(i * 7);
    for (bool is_signed : {false, true})
      for (int64_t len : {int64_t{1}, int64_t{15}, int64_t{17}, int64_t{300}}) {
        std::vector<float> f(static_cast<size_t>(len));
        fm::float_from_q8_block(bytes.data(), len, is_signed, 3.0f, f.data());
        for (int64_t i = 0; i < len; ++i) {
          const double want = (is_signed ? static_cast<int8_t>(bytes[i]) : bytes[i]) - 3.0;
          expect("float_from_q8", static_cast<float>(i), f[i], want, 0, 0);
        }
        std::vector<int32_t> back(static_cast<size_t>(len));
        fm::int32_from_float_block(f.data(), len, back.data());
        for (int64_t i = 0; i < len; ++i)
          expect("int32_from_float", f[i], static_cast<float>(back[i]), static_cast<double>(f[i]), 0, 0);
      }
  }

  // The same over rows: a plane into rows one value apart (the gap left as it was), and sums out of such rows.
  {
    std::vector<uint8_t> bytes(300);
    for (size_t i = 0; i < bytes.size(); ++i) bytes[i] = static_cast<uint8_t>(i * 13 + 5);
    for (bool is_signed : {false, true})
      for (int64_t cols : {int64_t{1}, int64_t{7}, int64_t{16}, int64_t{17}, int64_t{56}})
        for (int64_t stride : {cols, cols + 1}) {
          const int64_t rows = 5;
          // (8 more values past the last row's stride: left as they are too.)
          std::vector<float> f(static_cast<size_t>(rows * stride + 8), -1.5f);
          fm::float_from_q8_rows(bytes.data(), rows, cols, is_signed, 7.0f, f.data(), stride);
          for (int64_t t = rows * stride; t < rows * stride + 8; ++t)
            expect("float_from_q8_rows (past the end)", static_cast<float>(t), f[t], -1.5, 0, 0);
          for (int64_t r = 0; r < rows; ++r)
            for (int64_t c = 0; c < stride; ++c) {
              const uint8_t b = bytes[static_cast<size_t>(r * cols + c)];
              const double want = c < cols ? (is_signed ? static_cast<int8_t>(b) : b) - 7.0 : -1.5;
              expect("float_from_q8_rows", static_cast<float>(r * stride + c), f[r * stride + c], want, 0, 0);
            }
          std::vector<int32_t> back(static_cast<size_t>(rows * cols) + 1, -9);
          fm::int32_from_float_rows(f.data(), rows, cols, stride, back.data());
          for (int64_t r = 0; r < rows; ++r)
            for (int64_t c = 0; c < cols; ++c)
              expect("int32_from_float_rows", static_cast<float>(r * cols + c), static_cast<float>(back[r * cols + c]),
                     static_cast<double>(f[r * stride + c]), 0, 0);
          expect("int32_from_float_rows (past the end)", 0.0f, static_cast<float>(back[rows * cols]), -9.0, 0, 0);
        }
  }

  // float <-> half: every half widened exactly, and floats at, beside and between the halves rounded to nearest
  // even, against the scalar forms (pionnx/dtype.h), NaN as NaN.
  {
    std::vector<uint16_t> halves(65536);
    for (int i = 0; i < 65536; ++i) halves[i] = static_cast<uint16_t>(i);
    std::vector<float> wide(halves.size());
    fm::float_from_half_block(halves.data(), wide.data(), static_cast<int64_t>(halves.size()));
    std::vector<float> fx;
    for (int i = 0; i < 65536; ++i) {
      const float w = pionnx::half_to_float(static_cast<uint16_t>(i));
      expect("float_from_half", static_cast<float>(i), wide[i], w, 0, 0);
      if (std::isfinite(w)) {
        fx.push_back(w);
        fx.push_back(std::nextafter(w, 1e30f));
        fx.push_back(std::nextafter(w, -1e30f));
        if (i + 1 < 65536 && std::isfinite(pionnx::half_to_float(static_cast<uint16_t>(i + 1))))
          fx.push_back(static_cast<float>((static_cast<double>(w) + pionnx::half_to_float(i + 1)) / 2));
      }
    }
    fx.push_back(inf);
    fx.push_back(std::numeric_limits<float>::quiet_NaN());
    fx.push_back(70000.f);
    std::vector<uint16_t> h(fx.size());
    for (int64_t len : {int64_t{1}, int64_t{5}, int64_t{9}, int64_t{17}, static_cast<int64_t>(fx.size())}) {
      fm::half_from_float_block(fx.data(), h.data(), len);
      for (int64_t i = 0; i < len; ++i) {
        const float got = pionnx::half_to_float(h[i]), want = pionnx::half_to_float(pionnx::float_to_half(fx[i]));
        expect("half_from_float", fx[i], got, want, 0, 0);
      }
    }
  }

  // A softmax row in one call against the double softmax.
  {
    std::vector<float> srow;
    for (int i = 0; i < 133; ++i) srow.push_back(static_cast<float>(std::sin(i * 0.71) * 9.0));
    for (int64_t len : {int64_t{1}, int64_t{16}, int64_t{17}, int64_t{133}}) {
      std::vector<float> sy(static_cast<size_t>(len));
      fm::softmax_block(srow.data(), sy.data(), len);
      double m = srow[0], sum = 0;
      for (int64_t i = 0; i < len; ++i) m = std::max(m, static_cast<double>(srow[i]));
      for (int64_t i = 0; i < len; ++i) sum += std::exp(srow[i] - m);
      for (int64_t i = 0; i < len; ++i) expect("softmax", srow[i], sy[i], std::exp(srow[i] - m) / sum, 3e-6, 1e-9);
    }
  }

  std::printf("%s: %lld values per function, %d out of tolerance%s%s\n", paths.active.c_str(),
              static_cast<long long>(n), failures, failures ? " in:" : "", failed_functions.c_str());
  return failures == 0 ? 0 : 1;
}
