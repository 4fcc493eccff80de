// See elementwise_math.h. The driver of the fastmath family: the portable
// table, the run-time choice among the ISA tables (fastmath_paths), and the
// entry points that call through the chosen one. The math itself is in
// elementwise_math_kernels.h; the AVX2 table in elementwise_math_avx2.cc, the
// AVX-512 one in elementwise_math_avx512.cc, the NEON one in
// elementwise_math_neon.cc.
#include "kernels/simd/elementwise_math.h"

#include <string>

#include "kernels/simd/dispatch.h"
#include "kernels/simd/elementwise_math_kernels.h"

namespace pionnx {
namespace fastmath {
namespace {

using namespace vec;

PIONNX_FASTMATH_TABLE(generic, Generic, )

const Kernels& active() {
  static const Kernels& k = [] {
    const std::string& name = simd::fastmath_paths().active;
    return name == "avx512" ? *kernels_avx512()
           : name == "avx2" ? *kernels_avx2()
           : name == "neon" ? *kernels_neon()
                            : kGeneric;
  }();
  return k;
}

}  // namespace

void exp_block(const float* x, float* y, int64_t n) { active().exp(x, y, n); }
void tanh_block(const float* x, float* y, int64_t n) { active().tanh(x, y, n); }
void erf_block(const float* x, float* y, int64_t n) { active().erf(x, y, n); }
void sigmoid_block(const float* x, float* y, int64_t n) { active().sigmoid(x, y, n); }
void gelu_block(const float* x, float* y, int64_t n, bool tanh_approx) {
  (tanh_approx ? active().gelu_tanh : active().gelu_erf)(x, y, n);
}
float exp_shift_sum_block(const float* x, float* y, int64_t n, float shift) {
  return active().exp_shift_sum(x, y, n, shift);
}
float max_block(const float* x, int64_t n) { return active().max(x, n); }
float add_max_block(float* x, const float* b, int64_t n) { return active().add_max(x, b, n); }
void scale_block(float* x, int64_t n, float s) { active().scale(x, n, s); }
void softmax_block(const float* x, float* y, int64_t n) { active().softmax(x, y, n); }
void softmax_block(const float* x, float* y, int64_t n, float max) {
  const Kernels& k = active();
  k.scale(y, n, 1.0f / k.exp_shift_sum(x, y, n, max));
}
void range_block(const float* x, int64_t n, float* lo, float* hi) { active().range(x, n, lo, hi); }
void normalize_row_block(const float* x, float* y, int64_t n, float mean, float inv, const float* scale,
                         const float* bias) {
  active().normalize_row(x, y, n, mean, inv, scale, bias);
}
double row_sum_block(const float* x, int64_t n, float shift, bool squares) {
  return active().row_sum(x, n, shift, squares);
}
void quantize_u8_block(const float* x, int64_t n, float scale, int32_t zp, uint8_t* y) {
  active().quantize_u8(x, n, scale, zp, y);
}

void half_from_float_block(const float* x, uint16_t* y, int64_t n) { active().half_from_float(x, y, n); }
void float_from_half_block(const uint16_t* x, float* y, int64_t n) { active().float_from_half(x, y, n); }
void float_from_q8_block(const uint8_t* x, int64_t n, bool is_signed, float offset, float* y) {
  active().float_from_q8(x, 1, n, is_signed, offset, y, n);
}
void float_from_q8_rows(const uint8_t* x, int64_t rows, int64_t cols, bool is_signed, float offset, float* y,
                        int64_t y_stride) {
  active().float_from_q8(x, rows, cols, is_signed, offset, y, y_stride);
}
void int32_from_float_block(const float* x, int64_t n, int32_t* y) { active().int32_from_float(x, 1, n, n, y); }
void int32_from_float_rows(const float* x, int64_t rows, int64_t cols, int64_t x_stride, int32_t* y) {
  active().int32_from_float(x, rows, cols, x_stride, y);
}
void qlinear_binary_block(const uint8_t* a, const uint8_t* b, uint8_t* y, int64_t n, const QBinary& p) {
  active().qlinear_binary(a, b, y, n, p);
}
void requantize_block(const int32_t* acc, int64_t n, double bias, double mul, int32_t zp, bool is_signed, uint8_t* y,
                      const int32_t* sub, int32_t row_sub, bool bounded) {
  active().requantize(acc, sub, row_sub, n, bias, mul, zp, is_signed, y, bounded);
}
void requantize_rows_block(const int32_t* acc, int64_t ld_acc, int64_t rows, int64_t n, const int32_t* bias,
                           const double* mul, const char* bounded, int32_t zp, bool is_signed, uint8_t* y, int64_t ldy,
                           const int32_t* sub, const int32_t* row_sub) {
  const Kernels& k = active();
  if (k.requantize_rows) {
    k.requantize_rows(acc, ld_acc, rows, n, bias, mul, bounded, zp, is_signed, y, ldy, sub, row_sub);
    return;
  }
  const auto requantize = k.requantize;
  for (int64_t r = 0; r < rows; ++r)
    requantize(acc + r * ld_acc, sub, sub ? row_sub[r] : 0, n, bias[r], mul[r], zp, is_signed, y + r * ldy,
               bounded[r] != 0);
}

float exp(float x) { return exp_v(splat(x))[0]; }
float tanh(float x) { return tanh_v(splat(x))[0]; }
float erf(float x) { return erf_v(splat(x))[0]; }

}  // namespace fastmath

namespace simd {

// PIONNX_FASTMATH=generic|avx2|avx512|neon caps the choice (tests, benchmarks).
const PathChoice& fastmath_paths() {
  static const PathChoice choice =
      platform::choose_path("vector math", "PIONNX_FASTMATH", {"generic", "avx2", "avx512", "neon"},
                            {true, fastmath::kernels_avx2() != nullptr, fastmath::kernels_avx512() != nullptr,
                             fastmath::kernels_neon() != nullptr});
  return choice;
}

}  // namespace simd
}  // namespace pionnx
