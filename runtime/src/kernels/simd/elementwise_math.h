// Vectorized float32 transcendental loops for the activation kernels: libm's
// expf/tanhf/erff are scalar calls that dominate Sigmoid, Tanh, Gelu and
// Softmax. Accurate to a few ulp, matching libm on inf, NaN, overflow and
// underflow. On x86-64 an AVX2+FMA variant is chosen at run time from cpuid,
// on ARM a NEON one from AT_HWCAP (armv7's portable code is VFP scalar);
// the portable variant compiles to SSE2 / NEON / scalar code.
// Every function allows y == x (in place).
#pragma once
#include <cstdint>

namespace pionnx {
namespace fastmath {

void exp_block(const float* x, float* y, int64_t n);
void tanh_block(const float* x, float* y, int64_t n);
void erf_block(const float* x, float* y, int64_t n);
void sigmoid_block(const float* x, float* y, int64_t n);
// 0.5 x (1 + erf(x / sqrt 2)), or the tanh approximation.
void gelu_block(const float* x, float* y, int64_t n, bool tanh_approx);
// y = exp(x - shift) for a shift at least every x (the max: softmax);
// returns the sum of y.
float exp_shift_sum_block(const float* x, float* y, int64_t n, float shift);
float max_block(const float* x, int64_t n);
// x += b over one row; returns the largest sum (NaN skipped, -inf if none).
float add_max_block(float* x, const float* b, int64_t n);
// x *= s.
void scale_block(float* x, int64_t n, float s);
// y = softmax(x) over one row: exp(x - max) / sum, through the two above.
void softmax_block(const float* x, float* y, int64_t n);
// The same with the row's max already known (max_block of x).
void softmax_block(const float* x, float* y, int64_t n, float max);
// The sum of x - shift (squares false) or of (x - shift)^2, accumulated in
// float vector lanes and added up in double (LayerNormalization's row
// statistics; a shift near the values, such as the first, keeps the lanes'
// sums small where the values sit far from 0).
double row_sum_block(const float* x, int64_t n, float shift, bool squares);
// y = (x - mean) * inv * scale (+ bias when not null) over one row.
void normalize_row_block(const float* x, float* y, int64_t n, float mean, float inv, const float* scale,
                         const float* bias);
// Extends [*lo, *hi] by the values of x (NaN skipped).
void range_block(const float* x, int64_t n, float* lo, float* hi);
// y = saturate(round_half_even(x / scale) + zp) as uint8, NaN to zp. Only
// for |x / scale| <= kQuantizeMaxQuotient (the vector conversions to int32,
// which saturate through int16 packs, and the portable loop's 1.5 * 2^23
// rounding are exact below it; DynamicQuantizeLinear's quotients are within
// 255, QuantizeLinear checks its row's range first), scale >=
// kQuantizeMinScale and a zp in [0, 255]. The x86 tables
// form x / scale without a division: q = x * r with r = 1 / scale, then
// q + (x - q * scale) * r in two FMAs (Markstein's correction), which is the
// correctly rounded quotient; the floor on scale keeps the remainder
// x - q * scale out of the subnormal range wherever |q| >= 1/4, and below
// 1/4 every error rounds to 0 anyway. test_simd_dispatch.py checks every
// path against onnx.reference on quotients at and next to every tie.
constexpr float kQuantizeMinScale = 0x1p-64f;
constexpr float kQuantizeMaxQuotient = 0x1p20f;
void quantize_u8_block(const float* x, int64_t n, float scale, int32_t zp, uint8_t* y);
// float32 -> IEEE half (round to nearest even, subnormals kept, NaN stays NaN)
// and back, as pionnx::float_to_half / half_to_float give them: F16C on the
// AVX2 path, AVX-512's own conversions, fcvtn/fcvtl on aarch64 NEON; the
// portable path (and armv7) converts one element at a time.
void half_from_float_block(const float* x, uint16_t* y, int64_t n);
// The integer kernels' requantization: y[i] = saturate(round_half_even((acc[i]
// + bias) * mul + zp)) over int32 sums, in double and with the zero point
// added before the rounding as onnx.reference's QLinearConv and QLinearMatMul
// have it, to uint8 (is_signed false) or int8 bytes; mul finite, zp in range.
// AVX-512 and AVX2 in intrinsics (8 and 4 doubles a vector), else a loop.
// With sub, the sums are acc[i] - sub[i] - row_sub: an integer GEMM's raw
// sums and its zero-point terms (QGemmArgs::row_out), taken off here where a
// separate pass over the block cost a third as much as the requantization.
// bounded: the caller vouches that every sum is within kRequantizeBoundedSum
// in size (a convolution's, from its weights and the input's range); the
// AVX-512 loop then tests no sum's size and, where the values cannot
// overflow an int32, clamps nothing before its saturating packs.
constexpr int32_t kRequantizeBoundedSum = (1 << 23) - 1;
void requantize_block(const int32_t* acc, int64_t n, double bias, double mul, int32_t zp, bool is_signed, uint8_t* y,
                      const int32_t* sub = nullptr, int32_t row_sub = 0, bool bounded = false);
// requantize_block over rows r < rows: acc + r * ld_acc to y + r * ldy with bias[r], mul[r], bounded[r] and,
// with sub, row_sub[r]: one call for a block of an integer GEMM's rows.
void requantize_rows_block(const int32_t* acc, int64_t ld_acc, int64_t rows, int64_t n, const int32_t* bias,
                           const double* mul, const char* bounded, int32_t zp, bool is_signed, uint8_t* y, int64_t ldy,
                           const int32_t* sub, const int32_t* row_sub);
void float_from_half_block(const uint16_t* x, float* y, int64_t n);
// y = x - offset over 8-bit integers (int8 when is_signed, else uint8); y = int32(x) over floats holding
// integers (truncated). The quantized depthwise convolution's float planes in and exact sums out.
void float_from_q8_block(const uint8_t* x, int64_t n, bool is_signed, float offset, float* y);
void int32_from_float_block(const float* x, int64_t n, int32_t* y);
// The same over rows: x's rows of cols values end to end to y's y_stride
// apart (a plane into a buffer with a zero column after each row), and
// rows of cols sums x_stride apart to y's end to end. The AVX-512 table
// takes each row's last vector under a mask (a 7-wide row had no vector
// step in the compiled loops).
void float_from_q8_rows(const uint8_t* x, int64_t rows, int64_t cols, bool is_signed, float offset, float* y,
                        int64_t y_stride);
void int32_from_float_rows(const float* x, int64_t rows, int64_t cols, int64_t x_stride, int32_t* y);

// QLinearAdd's and QLinearMul's loop over operands of one shape (kernels/quant/microsoft.cc): y[i] =
// saturate(round_half_even(v) + zc) with v = ra (a[i] - za) + rb (b[i] - zb), or ra (a[i] - za) (b[i] - zb) when
// mul, over 8-bit values (int8 when is_signed, else uint8), in float: v clamped to one past the range the zero
// point leaves, rounded by the 1.5 * 2^23 addition, the zero point added, the range applied. ra and rb finite.
// Each table's instruction set (the FMA tables may fuse the add's products: within a rounding of the separate
// form); the library's baseline x86 build made it 4 values a step.
struct QBinary {
  float za = 0, zb = 0, ra = 1, rb = 1, zc = 0;
  bool mul = false, is_signed = false;
};
void qlinear_binary_block(const uint8_t* a, const uint8_t* b, uint8_t* y, int64_t n, const QBinary& p);

// One element, for scalar call sites (tails of strided loops).
float exp(float x);
float tanh(float x);
float erf(float x);

}  // namespace fastmath
}  // namespace pionnx
