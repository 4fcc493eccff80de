// Winograd F(4x4, 3x3) convolution (Lavin & Gray, "Fast Algorithms for
// Convolutional Neural Networks", 2016) for 3x3, stride-1, undilated,
// ungrouped float convolutions with a constant weight: each 6x6 input tile is
// transformed once (B^T d B), the 36 transformed planes are multiplied by the
// 36 transformed weight matrices (G g G^T, made once per session) with the
// SGEMM, and each product tile is transformed back (A^T m A) into a 4x4 output
// tile. 36 multiplications per 16 outputs instead of 144: a quarter of the
// im2col GEMM's arithmetic, for the cost of the transforms. On some small
// maps F(2x2, 3x3) instead (winograd_tile): 4x4 input tiles, 16 products
// per 2x2 output tile (4 multiplications per output instead of 9), the
// weights transformed to 16/9 of their size (F(4x4): 36/9).
#pragma once
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "kernels/nn/window.h"
#include "kernels/simd/sgemm.h"
#include "platform/thread_pool.h"

namespace pionnx {

// The transformed weights in one of two forms: u, 36 (F(2x2): 16) packed A matrices
// (M x C) for products P[e] = U[e] V[e] with the tiles as the SGEMM's
// columns; or ut, 36 packed B matrices (C x M) for P[e]^T = V[e]^T U[e]^T
// with the tiles as its rows (winograd_transposed).
struct WinogradWeights {
  int64_t M = 0, C = 0;
  int out = 4;  // F(out x out, 3x3): 4, or 2 (winograd_tile)
  std::vector<simd::SgemmPackedA> u;
  std::vector<simd::SgemmPackedB> ut;
};

// PIONNX_CONV=im2col|direct|winograd caps the convolution algorithms taken
// where they apply: im2col (the GEMM over im2col panels only), direct (also
// the GEMM reading small kernels' inputs in place, conv.cc), winograd (the
// default: also Winograd F(4x4, 3x3)).
const std::string& conv_path();

// Whether the Winograd path takes this convolution: 3x3, stride 1, dilation
// 1, one group, 2-D, enough channels for the transforms to pay (and unless
// PIONNX_CONV caps the choice below winograd).
bool winograd_applies(const WindowGeometry& g, int64_t group, int64_t C, int64_t M);

// Whether a convolution of one group the NCHWc kernel could run (simd/conv_nchwc.h) is better left to
// Winograd in NCHW, reorders and all: winograd_applies, with 64 channels or more in and out over maps of
// 14x14 or more. The layout pass keeps such a convolution NCHW where it knows the shapes; the blocked kernel
// reorders around Winograd where the pass could not tell.
bool winograd_beats_nchwc(const WindowGeometry& g, int64_t C, int64_t M);

// W is M x C x 3 x 3.
// Whether F(out x out)'s products run transposed for this geometry: few
// tiles (13x13 and 14x14 outputs: 16) fill half of a 32-column AVX-512 panel
// but whole 8-row tiles, so the tiles go in the rows and the M channels in the
// panels (never with AVX2's 16-column panels: Winograd starts at 16 tiles;
// never for F(2x2), whose 49 or more tiles fill the panels).
bool winograd_transposed(const WindowGeometry& g, int64_t M, int out);

// The output tile of a convolution Winograd takes: 4 (F(4x4, 3x3)), or 2
// (F(2x2, 3x3): its tiles fill the SGEMM's panels better and its weights
// stream from memory in less time, on maps of 13-16 outputs a side with
// AVX-512's panels). PIONNX_WINOGRAD_TILE=2|4 forces either (tests).
int winograd_tile(const WindowGeometry& g);

WinogradWeights winograd_weights(const float* w, int64_t M, int64_t C, bool transposed, int out);

// Y = conv(X, W) + bias, then `finish` over each written output row span
// (channel m, its first element, the count): the activation.
void conv_winograd(ThreadPool& pool, const WinogradWeights& u, const float* X, const float* bias, float* Y, int64_t N,
                   const WindowGeometry& g, const std::function<void(float*, int64_t)>* finish);

}  // namespace pionnx
