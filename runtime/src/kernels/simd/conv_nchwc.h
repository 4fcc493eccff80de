// The NCHWc family: 2-D convolution on tensors whose channels are stored in
// blocks of b (16 on the AVX-512 path, 8 on the AVX2 one, 4 on NEON: ncnn's
// "pack4"), a [N, C, H, W]
// tensor as [N][C / b][H][W][b], the layout onnxruntime's NCHWc kernels use
// (MLAS). One vector holds one position's b channels, so an output tile is a
// few output-channel blocks by a few positions of a row, each input channel
// one broadcast multiplied into every block: no im2col, no packing of the
// input, and the output is already the next layer's input. A depthwise
// convolution (one channel a group) is plain vector arithmetic in this
// layout: each tap multiplies the block's b filter values into a position's
// b channels. The layout pass
// (optimize/nchwc_layout.cc) puts chains of convolutions in this layout and
// reorders at their ends; models and the API never see it.
//
// The driver (conv_nchwc.cc) holds the reorders, the padded copy, the tasks
// and the run-time choice (PIONNX_NCHWC=generic|avx2|avx512|neon); the row kernels are
// written once in conv_nchwc_kernels.h over a vector type, instantiated in
// conv_nchwc_avx2.cc, conv_nchwc_avx512.cc and conv_nchwc_neon.cc.
#pragma once
#include <cstdint>
#include <vector>

#include "kernels/simd/dispatch.h"

namespace pionnx {

class ThreadPool;

namespace simd {

// PIONNX_NCHWC=generic|avx2|avx512|neon caps the choice; "generic" (where
// no blocked kernel runs) leaves every graph in NCHW. AVX2 and NEON run only
// when named (conv_nchwc.cc says why).
const PathChoice& nchwc_paths();

// Channels per block of the active path (16, 8 or 4), 0 on "generic".
int nchwc_block();

// The input's channels per block for a convolution of C input channels: the
// block where C is a multiple of it (a blocked input), else 1: the input read
// as NCHW, one channel a "block" (a first layer's 3 channels, onnxruntime's
// NCHW-input NCHWc kernel), the output blocked all the same.
int64_t nchwc_input_block(int64_t C);

// Relu and Clip are applied in the kernel's registers; other activations by
// the caller after it.
struct NchwcAct {
  enum Kind : int { None, Relu, Clip } kind = None;
  float lo = 0.f, hi = 0.f;
};

// One row kernel call: `count` consecutive outputs of the output plane (row-major, so a run may go on into the
// next output rows), for `nob` output-channel blocks, summing input blocks [0, ncb). A tile of positions
// crosses row ends too: a 7-wide row is no longer a tile of 6 and a tile of 1, whose filter loads outnumber
// its multiply-adds. Pointers and strides are in floats.
struct NchwcRowArgs {
  const float* x;     // the padded input at the chunk's first input block, the first output's row's column-0 window
  int64_t x_cb;       // between input blocks
  int64_t x_kh;       // between kernel rows (input row length x dilation)
  int64_t x_kw;       // between kernel columns (b x dilation)
  int64_t x_pos;      // between neighbouring outputs' windows in a row (input block x stride)
  int64_t x_row;      // between the windows of vertically neighbouring outputs (input row length x stride)
  int64_t ow0;        // the first output's column
  int64_t ow_n;       // outputs a row (OW)
  int64_t icb;        // channels per input block: b, or 1 for an NCHW input
  const float* w;     // blocked filter (nchwc_filter) at the group's first input block
  int64_t w_cb;       // between input blocks (KH x KW x icb x nob x b)
  int64_t kh, kw;     // kernel size
  int64_t ncb;        // input blocks summed by this call
  int64_t nob;        // output blocks, 1 to the path's maximum
  float* y;           // output at (first output block, the first output)
  int64_t y_ob;       // between output blocks (OH x OW x b)
  int64_t count;      // outputs in the run
  const float* bias;  // at the first output block's channels, or nullptr; used when `first`
  const float* z;     // the residual in y's layout, or nullptr; used when `last`
  bool first, last;   // the first call of a sum starts from the bias, the last adds z and the activation
  NchwcAct act;
};
using NchwcRowKernel = void (*)(const NchwcRowArgs&);

// One depthwise row call: outputs [0, count) of one output row of one
// channel block (each channel its own filter: group = C = M), read from the
// unpadded input: the kernel rows are those inside the input (the caller
// passes them), the columns are checked only at the row's ends. Every tap is
// a vector multiply of the block's b filter values into the b input channels
// of a position: no broadcasts. Pointers and strides in floats.
struct NchwcDepthwiseArgs {
  const float* x;     // the block's input row of the first kernel row taken, column 0
  int64_t x_kh;       // between kernel rows (input row length x b x dilation)
  int64_t W;          // input columns
  int64_t SW, DW;     // column stride and dilation
  int64_t pad_left;   // columns left of the input the first window starts at
  const float* w;     // the block's taps from the first kernel row taken, [KH][KW][b] (nchwc_depthwise_filter)
  int64_t kh, kw;     // kernel rows taken, kernel columns
  float* y;           // output at (this block, this row, position 0)
  int64_t count;      // outputs in the row
  const float* bias;  // the block's b values, or nullptr
  const float* z;     // the residual in y's layout at the same place, or nullptr
  NchwcAct act;
};
using NchwcDepthwiseRow = void (*)(const NchwcDepthwiseArgs&);

// The path's row kernel and the most output blocks one call takes, or
// nullptr where not compiled in or the CPU lacks the instructions.
// One block's plane of a 2-D max or average pool: y[oh][ow][b] over the
// window's valid positions of x[H][W][b] (pads excluded from a max; an
// average divides by the positions inside the input, or with
// count_include_pad inside the padded input).
struct NchwcPoolArgs {
  const float* x;
  float* y;
  int64_t H, W, OH, OW, KH, KW, SH, SW;
  int64_t pad_top, pad_left, pad_bottom, pad_right;
  bool count_include_pad;
};
using NchwcPool = void (*)(const NchwcPoolArgs&);
// One block's global pool: y[b] = max or mean of x[HW][b].
using NchwcGlobalPool = void (*)(const float* x, int64_t HW, float* y);

// One block's reorder: b planes of HW floats ([b][HW]) into [HW][b] (in), or back (out).
using NchwcReorder = void (*)(const float* src, int64_t HW, float* dst);
struct NchwcKernel {
  NchwcRowKernel row = nullptr;
  NchwcDepthwiseRow depthwise = nullptr;
  NchwcReorder reorder_in = nullptr, reorder_out = nullptr;
  NchwcPool max_pool = nullptr, avg_pool = nullptr;
  NchwcGlobalPool global_max = nullptr, global_avg = nullptr;
  int block = 0;       // b
  int max_blocks = 0;  // nob's largest value
  // Where the filter slice of one call (its input blocks' taps) is sized to stay: a quarter of L2 (the
  // AVX-512 tile, whose 24 accumulators a call stores and the next call reloads), or two thirds of L1 and at
  // most 128 channels (the AVX2 tile).
  bool sums_in_l2 = false;
};
NchwcKernel nchwc_kernel_avx2();
NchwcKernel nchwc_kernel_avx512();
NchwcKernel nchwc_kernel_neon();

// M rounded up to a multiple of the block: the output channels a blocked convolution of M writes (the rest
// zero filters, dropped by ReorderOutput's `channels`).
int64_t nchwc_padded(int64_t M);

// The filter [M][C][KH][KW], its output channels padded with zero filters to nchwc_padded(M), per group of
// the kernel's max_blocks output blocks (fewer in the last): [C/ib][KH][KW][ib][blocks][b out],
// ib = nchwc_input_block(C).
std::vector<float> nchwc_filter(const float* w, int64_t M, int64_t C, int64_t KH, int64_t KW);

// A depthwise filter [C][1][KH][KW] (C a multiple of b) as [C/b][KH][KW][b].
std::vector<float> nchwc_depthwise_filter(const float* w, int64_t C, int64_t KH, int64_t KW);

struct NchwcConvShape {
  int64_t N, C, H, W;  // input
  int64_t M, OH, OW;   // output
  int64_t KH, KW, SH, SW, DH, DW;
  int64_t pad_top, pad_left;  // the bottom and right pads follow from OH and OW
};

// y = act(conv(x, w) + bias + z), z and y blocked (M a multiple of
// nchwc_block()), x in blocks of nchwc_input_block(C), w from nchwc_filter,
// bias (M) and z optional.
void nchwc_conv(ThreadPool& pool, const NchwcConvShape& s, const float* x, const float* w, const float* bias,
                const float* z, const NchwcAct& act, float* y);

// The depthwise convolution (group = C = M, a multiple of nchwc_block()):
// y = act(conv(x, w) + bias + z), x, z and y blocked, w from
// nchwc_depthwise_filter, bias (C) and z optional.
void nchwc_depthwise(ThreadPool& pool, const NchwcConvShape& s, const float* x, const float* w, const float* bias,
                     const float* z, const NchwcAct& act, float* y);

// Max or average pools over blocked x and y ([N, C, H, W] and [N, C, OH, OW],
// C a multiple of b); `a` holds the geometry (its x and y are ignored).
void nchwc_pool(ThreadPool& pool, bool is_max, const NchwcPoolArgs& a, int64_t N, int64_t C, const float* x, float* y);
// Global max or average: blocked x [N, C, H, W] to y [N, C, 1, 1] (whose
// blocked and NCHW orders are the same).
void nchwc_global_pool(ThreadPool& pool, bool is_max, int64_t N, int64_t C, int64_t HW, const float* x, float* y);

// [N][C][HW] <-> [N][C/b][HW][b], C a multiple of b.
void nchwc_reorder_in(ThreadPool& pool, const float* x, int64_t N, int64_t C, int64_t HW, float* y);
void nchwc_reorder_out(ThreadPool& pool, const float* x, int64_t N, int64_t C, int64_t HW, float* y);

}  // namespace simd
}  // namespace pionnx
