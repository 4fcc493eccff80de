#include "kernels/nn/conv_winograd.h"

#include "kernels/simd/vec4.h"
#include "platform/cpu_features.h"

#include <algorithm>
#include <cstring>
#include <stdexcept>

namespace pionnx {

namespace {

// F(kOut x kOut, 3x3): input tiles of kTile = kOut + 2 (the 3x3 window's
// reach), kTile^2 products per tile. F(4x4) by default, F(2x2) where
// winograd_tile says.
template <int kOut>
constexpr int kTileOf = kOut + 2;

// Four tiles side by side, one per lane (simd::v4f): the transforms below
// run on four tiles at once.
using simd::load4;
using simd::store4;
using simd::v4f;

// transpose4 (vec4.h) turns tiles side by side in lanes into each tile's
// row in a vector, and back.
using simd::transpose4;

// d (kTile values, stride s) -> B^T d. T: float, or v4f for four tiles.
template <int kOut, typename T>
inline void input_1d(const T* d, int s, T* o, int os) {
  if constexpr (kOut == 2) {
    const T d0 = d[0], d1 = d[s], d2 = d[2 * s], d3 = d[3 * s];
    o[0] = d0 - d2;
    o[os] = d1 + d2;
    o[2 * os] = d2 - d1;
    o[3 * os] = d1 - d3;
    return;
  }
  const T d0 = d[0], d1 = d[s], d2 = d[2 * s], d3 = d[3 * s], d4 = d[4 * s], d5 = d[5 * s];
  o[0] = 4.f * d0 - 5.f * d2 + d4;
  o[os] = -4.f * (d1 + d2) + d3 + d4;
  o[2 * os] = 4.f * (d1 - d2) - d3 + d4;
  o[3 * os] = 2.f * (d3 - d1) - d2 + d4;
  o[4 * os] = 2.f * (d1 - d3) - d2 + d4;
  o[5 * os] = 4.f * d1 - 5.f * d3 + d5;
}

// m (kTile values, stride s) -> A^T m (kOut values).
template <int kOut, typename T>
inline void output_1d(const T* m, int s, T* o, int os) {
  if constexpr (kOut == 2) {
    const T m0 = m[0], m1 = m[s], m2 = m[2 * s], m3 = m[3 * s];
    o[0] = m0 + m1 + m2;
    o[os] = m1 - m2 - m3;
    return;
  }
  const T m0 = m[0], m1 = m[s], m2 = m[2 * s], m3 = m[3 * s], m4 = m[4 * s], m5 = m[5 * s];
  const T a = m1 + m2, b = m1 - m2, c = m3 + m4, d = m3 - m4;
  o[0] = m0 + a + c;
  o[os] = b + 2.f * d;
  o[2 * os] = a + 4.f * c;
  o[3 * os] = b + 8.f * d + m5;
}

// The kTile x kTile input tiles -> B^T d B, in place (d: row-major).
template <int kOut, typename T>
inline void input_tile(T* d) {
  constexpr int kTile = kTileOf<kOut>;
  T tmp[kTile * kTile];
  for (int j = 0; j < kTile; ++j) input_1d<kOut>(d + j, kTile, tmp + j, kTile);          // B^T d
  for (int i = 0; i < kTile; ++i) input_1d<kOut>(tmp + kTile * i, 1, d + kTile * i, 1);  // (B^T d) B
}

// The kTile x kTile products -> A^T s A (o: kOut x kOut values, row-major).
template <int kOut, typename T>
inline void output_tile(const T* s, T* o) {
  constexpr int kTile = kTileOf<kOut>;
  T tmp[kOut * kTile];
  for (int j = 0; j < kTile; ++j) output_1d<kOut>(s + j, kTile, tmp + j, kTile);        // A^T s (kOut x kTile)
  for (int i = 0; i < kOut; ++i) output_1d<kOut>(tmp + kTile * i, 1, o + kOut * i, 1);  // (A^T s) A
}

// g (3 values, stride s) -> G g (kTile values).
template <int kOut>
inline void weight_1d(const float* g, int s, float* o, int os) {
  const float g0 = g[0], g1 = g[s], g2 = g[2 * s];
  if constexpr (kOut == 2) {
    o[0] = g0;
    o[os] = (g0 + g1 + g2) / 2.f;
    o[2 * os] = (g0 - g1 + g2) / 2.f;
    o[3 * os] = g2;
    return;
  }
  o[0] = g0 / 4.f;
  o[os] = -(g0 + g1 + g2) / 6.f;
  o[2 * os] = -(g0 - g1 + g2) / 6.f;
  o[3 * os] = g0 / 24.f + g1 / 12.f + g2 / 6.f;
  o[4 * os] = g0 / 24.f - g1 / 12.f + g2 / 6.f;
  o[5 * os] = g2;
}

std::vector<float>& buffer(int which) {
  thread_local std::vector<float> bufs[2];
  return bufs[which];
}

// The out x out output tiles of a 2-D geometry (the edge ones partial).
int64_t tile_count(const WindowGeometry& g, int out = 4) {
  return ((g.out[0] + out - 1) / out) * ((g.out[1] + out - 1) / out);
}

}  // namespace

const std::string& conv_path() {
  // Read with the kernel-choice variables (an unknown name is reported).
  static const platform::PathChoice choice =
      platform::choose_path("conv", "PIONNX_CONV", {"im2col", "direct", "winograd"}, {true, true, true});
  return choice.active;
}

bool winograd_applies(const WindowGeometry& g, int64_t group, int64_t C, int64_t M) {
  if (conv_path() != "winograd" || g.dims() != 2 || group != 1) return false;
  for (size_t d = 0; d < 2; ++d)
    if (g.kernel[d] != 3 || g.strides[d] != 1 || g.dilations[d] != 1) return false;
  // Where it wins (single convolutions on Zen 3, Winograd and im2col
  // alternating; docs/measurements.md, issue 15 fifth stop): with the tile
  // transforms four tiles at a time, from 16 tiles (14x14 outputs) and 16
  // channels up, at any plane size (the tiles go in blocks that stay in
  // cache): 128->128 on 14x14 446-484 vs 870-880 us, 64->64 on 224x224
  // 38-41 vs 67-69 ms, 16->32 on 112x112 2.1-2.3 vs 2.4 ms. It loses on
  // 7x7 outputs (4 tiles: 512->512 6.3-6.5 vs 3.6-3.9 ms against the
  // transposed im2col) and with 3 input channels (15 vs 6 ms); 8 channels
  // are even.
  // At 16 channels conv.cc's direct path (the SGEMM reading the input in
  // place, where the CPU's SGEMM can) is faster up to 32 outputs: 16->16 on
  // 56x56 224-229 vs 308-326 us, 16->32 on 112x112 1.58-1.61 vs 2.2-2.3 ms;
  // at 64 Winograd stays ahead (16->64 on 55x55 0.69-0.72 vs 0.74-0.77 ms).
  const int64_t tiles = tile_count(g);
  if (C <= 16 && M <= 32 && simd::sgemm_has_shifted()) return false;
  return C >= 16 && M >= 16 && tiles >= 16;
}

bool winograd_beats_nchwc(const WindowGeometry& g, int64_t C, int64_t M) {
  // Intel Xeon, AVX-512, 1 thread, Winograd against the blocked kernel: 64 -> 64 on 56x56 926 against 1254 us,
  // 128 -> 128 on 28x28 762 against 1246; but 16 -> 64 on 55x55 382 against 323, 32 -> 128 on 27x27 268 against
  // 296, 48 -> 192 on 13x13 178 against 154, 64 -> 256 on 13x13 284 against 289 (where the blocked chain also
  // saves two reorders).
  return winograd_applies(g, 1, C, M) && C >= 64 && M >= 64 && g.out[0] >= 14 && g.out[1] >= 14;
}

// Tiles per block of conv_winograd (the transformed input and the products
// at most 2M floats each).
int64_t tiles_per_block(int64_t C, int64_t M, int elems) {
  return std::max<int64_t>(8, (int64_t{1} << 21) / (elems * std::max(C, M)) / 8 * 8);
}

int winograd_tile(const WindowGeometry& g) {
  // PIONNX_WINOGRAD_TILE=4|2 forces either for every convolution (tests, benchmarks); unset (or auto),
  // the rule below.
  static const platform::PathChoice choice = platform::choose_path(
      "Winograd tile", "PIONNX_WINOGRAD_TILE", {"4", "auto", "2"}, {true, true, true}, {true, true, false});
  if (choice.active != "auto") return choice.active == "2" ? 2 : 4;
  // F(2x2, 3x3) on maps of 13 to 16 outputs a side (16 F(4x4) tiles) where
  // those 16 tiles fill at most half of the SGEMM's column panel (AVX-512's
  // 32 columns). Its 49 to 64 tiles make longer products, over weights 16/9
  // of the kernel's size, not 36/9: in a network they come from memory
  // (ResNet-50's 256 -> 256 on 14x14, twelve in a chain, 1.70 -> 1.35 ms
  // each, though alone, in cache, 0.93 -> 1.02), and a 13x13 map is covered
  // by 14x14 outputs, not 16x16. Intel Xeon (AVX-512), 1 thread, alternated
  // processes: SqueezeNet 0.96 of its time, Inception v1 0.96, Inception v2
  // 0.95, DenseNet-121 0.96, ResNet-50 0.98 (2 threads: SqueezeNet 0.95,
  // Inception v2 0.92). With AVX2's 16-column panels, where F(4x4)'s 16
  // tiles fill one, F(2x2) lost (SqueezeNet 1.04) and is not taken; nor for
  // 28x28 maps (49 tiles; Inception v2 1.03).
  const simd::SgemmTile t = simd::sgemm_tile();
  const int64_t tiles = tile_count(g);
  return tiles <= 16 && 2 * tiles <= t.nr ? 2 : 4;
}

bool winograd_transposed(const WindowGeometry& g, int64_t M, int out) {
  if (out != 4) return false;  // F(2x2)'s 49 or more tiles fill the panels
  const simd::SgemmTile t = simd::sgemm_tile();
  const int64_t tiles = tile_count(g);
  // Where the plain products would leave half of their one panel empty, M wide enough to fill the
  // transposed ones' panels. Single convolutions on the AVX-512 Xeon (32-column panels), plain against
  // transposed: 64->256 on 13x13 374 -> 302 us, 48->192 on 13x13 240 -> 191, 64->64 on 14x14 148 -> 111;
  // with more tiles the transposed form lost (27x27, 49 tiles: 303 -> 334; 55x55: 399 -> 500).
  return M >= 2 * t.nr && 2 * tiles <= t.nr;
}

namespace {

template <int kOut>
WinogradWeights make_weights(const float* w, int64_t M, int64_t C, bool transposed) {
  constexpr int kTile = kTileOf<kOut>, kElems = kTile * kTile;
  WinogradWeights u;
  u.M = M;
  u.C = C;
  u.out = kOut;
  std::vector<float> planes(static_cast<size_t>(kElems * M * C));
  for (int64_t m = 0; m < M; ++m)
    for (int64_t c = 0; c < C; ++c) {
      const float* g = w + (m * C + c) * 9;
      float gg[kTile * 3], v[kElems];
      for (int j = 0; j < 3; ++j) weight_1d<kOut>(g + j, 3, gg + j, 3);                  // columns: G g (kTile x 3)
      for (int i = 0; i < kTile; ++i) weight_1d<kOut>(gg + 3 * i, 1, v + kTile * i, 1);  // rows: (G g) G^T
      for (int e = 0; e < kElems; ++e) planes[static_cast<size_t>((e * M + m) * C + c)] = v[e];
    }
  if (transposed) {
    u.ut.reserve(kElems);
    for (int e = 0; e < kElems; ++e) u.ut.push_back(simd::sgemm_pack_b(true, C, M, planes.data() + e * M * C, C));
  } else {
    u.u.reserve(kElems);
    for (int e = 0; e < kElems; ++e) u.u.push_back(simd::sgemm_pack_a(false, M, C, planes.data() + e * M * C, C));
  }
  return u;
}

}  // namespace

WinogradWeights winograd_weights(const float* w, int64_t M, int64_t C, bool transposed, int out) {
  if (out == 2 && transposed) throw std::logic_error("winograd_weights: F(2x2, 3x3) runs its products plain only");
  return out == 2 ? make_weights<2>(w, M, C, transposed) : make_weights<4>(w, M, C, transposed);
}

namespace {

// The output transform of F(4x4)'s transposed products (P[e] holds tile t's M
// channels at P + e * ps + t * M): four channels at a time, one per lane, so
// each 4x4 output row comes out of a 4x4 transposition as one channel's four
// values. Tiles [t0, t0 + nt) of a plane tw tiles wide; finish (when not
// null) runs on each finished plane.
void outputs_transposed(ThreadPool& pool, const float* P, int64_t ps, int64_t M, int64_t nt, int64_t t0, int64_t tw,
                        int64_t OH, int64_t OW, const float* bias, float* Y,
                        const std::function<void(float*, int64_t)>* finish) {
  constexpr int kOut = 4, kTile = kTileOf<kOut>, kElems = kTile * kTile;
  pool.parallel_for((M + 3) / 4, grain_size(1 << 14, nt * 400), [&](int64_t b0, int64_t b1) {
    for (int64_t m0 = 4 * b0; m0 < std::min(M, 4 * b1); m0 += 4) {
      const int64_t lanes = std::min<int64_t>(4, M - m0);
      float bl[4] = {0.f, 0.f, 0.f, 0.f};
      for (int64_t l = 0; l < lanes; ++l) bl[l] = bias ? bias[m0 + l] : 0.f;
      for (int64_t t = 0; t < nt; ++t) {
        v4f sv[kElems], ov[kOut * kOut];
        for (int e = 0; e < kElems; ++e) {
          const float* src = P + e * ps + t * M + m0;
          if (lanes == 4) {
            sv[e] = load4(src);
          } else {
            float tmp[4] = {0.f, 0.f, 0.f, 0.f};
            for (int64_t l = 0; l < lanes; ++l) tmp[l] = src[l];
            sv[e] = load4(tmp);
          }
        }
        output_tile<kOut>(sv, ov);
        const int64_t oy = (t0 + t) / tw * kOut, ox = (t0 + t) % tw * kOut;
        const int64_t rows = std::min<int64_t>(kOut, OH - oy), cols = std::min<int64_t>(kOut, OW - ox);
        for (int i = 0; i < rows; ++i) {
          v4f* r = ov + kOut * i;  // r[j] lanes: channels; after the transposition r[l]: channel l's row i
          transpose4(r[0], r[1], r[2], r[3]);
          for (int64_t l = 0; l < lanes; ++l) {
            float* y = Y + (m0 + l) * OH * OW + (oy + i) * OW + ox;
            const v4f row = r[l] + v4f{bl[l], bl[l], bl[l], bl[l]};
            if (cols == kOut) {
              store4(y, row);
            } else {
              for (int64_t j = 0; j < cols; ++j) y[j] = row[j];
            }
          }
        }
      }
      if (finish)
        for (int64_t l = 0; l < lanes; ++l) (*finish)(Y + (m0 + l) * OH * OW, OH * OW);
    }
  });
}

template <int kOut>
void conv_winograd_impl(ThreadPool& pool, const WinogradWeights& u, const float* X, const float* bias, float* Y,
                        int64_t N, const WindowGeometry& g, const std::function<void(float*, int64_t)>* finish) {
  constexpr int kTile = kTileOf<kOut>, kElems = kTile * kTile;
  const int64_t C = u.C, M = u.M, H = g.in[0], W = g.in[1], OH = g.out[0], OW = g.out[1];
  const int64_t PH = g.pad_begin[0], PW = g.pad_begin[1];
  const int64_t th = (OH + kOut - 1) / kOut, tw = (OW + kOut - 1) / kOut, tiles = th * tw;
  // Tiles per block: the transformed input (36 x C x nt) and products
  // (36 x M x nt) at most 2M floats each.
  const int64_t nt_max = tiles_per_block(C, M, kElems);
  const bool transposed = !u.ut.empty();
  std::vector<float>& vbuf = buffer(0);
  std::vector<float>& pbuf = buffer(1);
  // V[e] and P[e] start a line past a multiple of C x nt (M x nt) floats:
  // those strides are often multiples of 2 KiB (64 channels x 904 tiles),
  // which put all 36 streams of a tile's elements into two L1 sets.
  const int64_t nt_alloc = std::min(nt_max, tiles);
  const size_t vneed = static_cast<size_t>(kElems * (C * nt_alloc + 16));
  const size_t pneed = static_cast<size_t>(kElems * (M * nt_alloc + 16));
  if (vbuf.size() < vneed) vbuf.resize(vneed);
  if (pbuf.size() < pneed) pbuf.resize(pneed);
  float* V = vbuf.data();
  float* P = pbuf.data();

  for (int64_t n = 0; n < N; ++n) {
    const float* Xn = X + n * C * H * W;
    float* Yn = Y + n * M * OH * OW;
    for (int64_t t0 = 0; t0 < tiles; t0 += nt_max) {
      const int64_t nt = std::min(nt_max, tiles - t0);
      const int64_t vs = C * nt + 16, ps = M * nt + 16;  // V[e] at V + e * vs, P[e] at P + e * ps
      // Input tiles -> V[e][c][t], four tiles at a time.
      pool.parallel_for(C, grain_size(1 << 14, nt * 100), [&](int64_t c0, int64_t c1) {
        for (int64_t c = c0; c < c1; ++c) {
          const float* xc = Xn + c * H * W;
          float* vc = V + c * nt;
          // Tile t's top-left value and row stride: in the input, or (a tile
          // crossing the border) in a zero-filled copy.
          float edge[4][kElems];
          auto tile = [&](int64_t t, int lane, int64_t* stride) -> const float* {
            const int64_t y0 = (t0 + t) / tw * kOut - PH, x0 = (t0 + t) % tw * kOut - PW;
            if (y0 >= 0 && x0 >= 0 && y0 + kTile <= H && x0 + kTile <= W) {
              *stride = W;
              return xc + y0 * W + x0;
            }
            float* d = edge[lane];
            for (int i = 0; i < kTile; ++i)
              for (int j = 0; j < kTile; ++j) {
                const int64_t y = y0 + i, x = x0 + j;
                d[kTile * i + j] = y >= 0 && y < H && x >= 0 && x < W ? xc[y * W + x] : 0.f;
              }
            *stride = kTile;
            return d;
          };
          int64_t t = 0;
          for (; t + 4 <= nt; t += 4) {
            v4f d[kElems];
            // Four tiles side by side, inside the input: each input row's 20 values (tile l's start at
            // 4 l) as five vectors, transposed into the 6 lanes-by-tile columns.
            const int64_t y0 = (t0 + t) / tw * kOut - PH, x0 = (t0 + t) % tw * kOut - PW;
            if (kOut == 4 && (t0 + t) / tw == (t0 + t + 3) / tw && y0 >= 0 && x0 >= 0 && y0 + kTile <= H &&
                x0 + 20 <= W) {
              for (int i = 0; i < kTile; ++i) {
                const float* r = xc + (y0 + i) * W + x0;
                v4f a = load4(r), b = load4(r + 4), c = load4(r + 8), e = load4(r + 12), f = load4(r + 16);
                v4f a2 = b, b2 = c, c2 = e, e2 = f;
                transpose4(a, b, c, e);      // columns 0-3 of each tile
                transpose4(a2, b2, c2, e2);  // columns 4-7: 4 and 5 are used
                d[kTile * i] = a;
                d[kTile * i + 1] = b;
                d[kTile * i + 2] = c;
                d[kTile * i + 3] = e;
                if constexpr (kOut == 4) {
                  d[kTile * i + 4] = a2;
                  d[kTile * i + 5] = b2;
                }
              }
            } else {
              int64_t st[4];
              const float* src[4];
              for (int l = 0; l < 4; ++l) src[l] = tile(t + l, l, &st[l]);
              for (int i = 0; i < kTile; ++i)
                for (int j = 0; j < kTile; ++j)
                  d[kTile * i + j] =
                      v4f{src[0][i * st[0] + j], src[1][i * st[1] + j], src[2][i * st[2] + j], src[3][i * st[3] + j]};
            }
            input_tile<kOut>(d);
            for (int e = 0; e < kElems; ++e) std::memcpy(vc + e * vs + t, &d[e], sizeof(v4f));
          }
          for (; t < nt; ++t) {
            int64_t st;
            const float* src = tile(t, 0, &st);
            float d[kElems];
            for (int i = 0; i < kTile; ++i)
              for (int j = 0; j < kTile; ++j) d[kTile * i + j] = src[i * st + j];
            input_tile<kOut>(d);
            for (int e = 0; e < kElems; ++e) vc[e * vs + t] = d[e];
          }
        }
      });
      // 36 products: P[e] (M x nt) = U[e] (M x C) * V[e] (C x nt), shared
      // out whole among the threads: one hand-off for all 36, where splitting
      // each product would cost 36 (and products under the SGEMM's threading
      // threshold, such as 64 channels over 7x7 tiles, would not be split at
      // all: 28x28 maps ran 1.2x faster on 2 threads than on 1).
      // Transposed: P[e]^T (nt x M, element (t, m) at P + e * ps + t * M + m) = V[e]^T U[e]^T.
      pool.parallel_for(kElems, 1, [&](int64_t e0, int64_t e1) {
        for (int64_t e = e0; e < e1; ++e) {
          if (transposed)
            simd::sgemm_packed_b(true, nt, 1.f, V + e * vs, nt, u.ut[static_cast<size_t>(e)], 0.f, P + e * ps, M,
                                 nullptr);
          else
            simd::sgemm_prepacked(u.u[static_cast<size_t>(e)], false, nt, V + e * vs, nt, 0.f, P + e * ps, nt, nullptr);
        }
      });
      if constexpr (kOut == 4) {  // only F(4x4) runs transposed (winograd_transposed)
        if (transposed) {
          outputs_transposed(pool, P, ps, M, nt, t0, tw, OH, OW, bias, Yn, finish && nt == tiles ? finish : nullptr);
          continue;
        }
      }
      // Product tiles -> 4x4 outputs (+ bias), four tiles at a time.
      pool.parallel_for(M, grain_size(1 << 14, nt * 100), [&](int64_t m0, int64_t m1) {
        for (int64_t m = m0; m < m1; ++m) {
          float* ym = Yn + m * OH * OW;
          const float b = bias ? bias[m] : 0.f;
          const float* pm = P + m * nt;
          auto put = [&](int64_t t, const float* o) {  // tile t's 4x4 outputs, clipped at the edges
            const int64_t oy = (t0 + t) / tw * kOut, ox = (t0 + t) % tw * kOut;
            const int64_t rows = std::min<int64_t>(kOut, OH - oy), cols = std::min<int64_t>(kOut, OW - ox);
            for (int64_t i = 0; i < rows; ++i)
              for (int64_t j = 0; j < cols; ++j) ym[(oy + i) * OW + ox + j] = o[kOut * i + j] + b;
          };
          int64_t t = 0;
          for (; t + 4 <= nt; t += 4) {
            v4f sv[kElems], ov[kOut * kOut];
            for (int e = 0; e < kElems; ++e) sv[e] = load4(pm + e * ps + t);
            output_tile<kOut>(sv, ov);
            // Four whole tiles side by side: each output row's 16 values, transposed from the lanes.
            const int64_t oy = (t0 + t) / tw * kOut, ox = (t0 + t) % tw * kOut;
            if constexpr (kOut == 4) {
              if ((t0 + t) / tw == (t0 + t + 3) / tw && oy + kOut <= OH && ox + 16 <= OW) {
                const v4f bv = {b, b, b, b};
                for (int i = 0; i < kOut; ++i) {
                  v4f* r = ov + kOut * i;
                  transpose4(r[0], r[1], r[2], r[3]);
                  float* y = ym + (oy + i) * OW + ox;
                  for (int l = 0; l < 4; ++l) store4(y + 4 * l, r[l] + bv);
                }
                continue;
              }
            }
            for (int l = 0; l < 4; ++l) {
              float o[kOut * kOut];
              for (int k = 0; k < kOut * kOut; ++k) o[k] = ov[k][l];
              put(t + l, o);
            }
          }
          for (; t < nt; ++t) {
            float sv[kElems], o[kOut * kOut];
            for (int e = 0; e < kElems; ++e) sv[e] = pm[e * ps + t];
            output_tile<kOut>(sv, o);
            put(t, o);
          }
          if (finish && nt == tiles) (*finish)(ym, OH* OW);  // one block: the plane is whole, and in cache
        }
      });
    }
    if (finish && nt_max < tiles)
      pool.parallel_for(M, grain_size(1 << 16, OH * OW), [&](int64_t m0, int64_t m1) {
        for (int64_t m = m0; m < m1; ++m) (*finish)(Yn + m * OH * OW, OH * OW);
      });
  }
}

}  // namespace

void conv_winograd(ThreadPool& pool, const WinogradWeights& u, const float* X, const float* bias, float* Y, int64_t N,
                   const WindowGeometry& g, const std::function<void(float*, int64_t)>* finish) {
  if (u.out == 2) conv_winograd_impl<2>(pool, u, X, bias, Y, N, g, finish);
  else conv_winograd_impl<4>(pool, u, X, bias, Y, N, g, finish);
}

}  // namespace pionnx
