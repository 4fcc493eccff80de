// Object-detection ops: NonMaxSuppression (opset 10/11) and RoiAlign (10/16).
#include <algorithm>
#include <cmath>
#include <numeric>

#include "core/checked.h"
#include "core/int_arith.h"
#include "kernels/base/cast.h"
#include "kernels/base/kernel.h"
#include "platform/thread_pool.h"

namespace pionnx {
namespace {

// ---------------------------------------------------------------- NMS

// Box as [x_min, y_min, x_max, y_max] from either input layout.
struct Box {
  float x0, y0, x1, y1;
};

Box read_box(const float* b, bool center) {
  if (center) {  // [x_center, y_center, width, height]
    return {b[0] - b[2] / 2, b[1] - b[3] / 2, b[0] + b[2] / 2, b[1] + b[3] / 2};
  }
  // [y1, x1, y2, x2], corners in any order.
  return {std::min(b[1], b[3]), std::min(b[0], b[2]), std::max(b[1], b[3]), std::max(b[0], b[2])};
}

bool suppresses(const Box& a, const Box& b, float iou_threshold) {
  const float ix0 = std::max(a.x0, b.x0), ix1 = std::min(a.x1, b.x1);
  if (ix1 <= ix0) return false;
  const float iy0 = std::max(a.y0, b.y0), iy1 = std::min(a.y1, b.y1);
  if (iy1 <= iy0) return false;
  const float inter = (ix1 - ix0) * (iy1 - iy0);
  const float area_a = (a.x1 - a.x0) * (a.y1 - a.y0), area_b = (b.x1 - b.x0) * (b.y1 - b.y0);
  const float uni = area_a + area_b - inter;
  if (inter <= 0 || area_a <= 0 || area_b <= 0 || uni <= 0) return false;
  return inter / uni > iou_threshold;
}

class NonMaxSuppression : public Kernel {
 public:
  explicit NonMaxSuppression(const KernelInfo& info) : node_(info.node) {
    center_ = info.node.attr_i("center_point_box", 0) != 0;
  }

  void compute(KernelContext& ctx) const override {
    const std::string what = node_.describe();
    const Tensor boxes = to_float32(ctx.input(0));
    const Tensor scores = to_float32(ctx.input(1));
    PIONNX_ENFORCE(boxes.rank() == 3 && boxes.dim(2) == 4 && scores.rank() == 3 && scores.dim(0) == boxes.dim(0) &&
                       scores.dim(2) == boxes.dim(1),
                   InvalidArgument, what, ": boxes ", shape_str(boxes.shape()), " / scores ", shape_str(scores.shape()),
                   " expected [B, N, 4] / [B, C, N]");
    // Optional scalar inputs; absent or empty means the default.
    auto given = [&](size_t i) { return ctx.has_input(i) && ctx.input(i).numel() > 0; };
    int64_t max_out = given(2) ? std::max<int64_t>(tensor_to_int64s(ctx.input(2))[0], 0) : 0;
    const float iou = given(3) ? static_cast<float>(tensor_scalar_as_double(ctx.input(3))) : 0.f;
    const bool has_score_th = given(4);
    const float score_th = has_score_th ? static_cast<float>(tensor_scalar_as_double(ctx.input(4))) : 0.f;

    const int64_t B = boxes.dim(0), N = boxes.dim(1), C = scores.dim(1);
    const float* bd = boxes.data<float>();
    const float* sd = scores.data<float>();
    std::vector<int64_t> out;  // triples (batch, class, box)
    std::vector<Box> bx(static_cast<size_t>(N));
    std::vector<int64_t> order;
    std::vector<Box> kept;
    for (int64_t b = 0; b < B; ++b) {
      for (int64_t i = 0; i < N; ++i) bx[i] = read_box(bd + (b * N + i) * 4, center_);
      for (int64_t c = 0; c < C; ++c) {
        const float* s = sd + (b * C + c) * N;
        order.clear();
        for (int64_t i = 0; i < N; ++i)
          if (!has_score_th || s[i] > score_th) order.push_back(i);
        // Highest score first; ties keep the lower box index first.
        std::stable_sort(order.begin(), order.end(), [s](int64_t x, int64_t y) { return s[x] > s[y]; });
        kept.clear();
        for (int64_t i : order) {
          if (static_cast<int64_t>(kept.size()) >= max_out) break;
          bool keep = true;
          for (const Box& k : kept)
            if (suppresses(bx[i], k, iou)) {
              keep = false;
              break;
            }
          if (!keep) continue;
          kept.push_back(bx[i]);
          out.insert(out.end(), {b, c, i});
        }
      }
    }
    const int64_t n = static_cast<int64_t>(out.size() / 3);
    Tensor& y = ctx.output(0, DType::Int64, {n, 3});
    std::copy(out.begin(), out.end(), y.data<int64_t>());
  }

 private:
  const Node& node_;
  bool center_ = false;
};

// ---------------------------------------------------------------- RoiAlign

class RoiAlign : public Kernel {
 public:
  explicit RoiAlign(const KernelInfo& info) : node_(info.node) {
    const std::string ctm =
        info.node.attr_s("coordinate_transformation_mode", info.opset >= 16 ? "half_pixel" : "output_half_pixel");
    PIONNX_ENFORCE(ctm == "half_pixel" || ctm == "output_half_pixel", InvalidArgument, node_.describe(),
                   ": unknown coordinate_transformation_mode '", ctm, "'");
    half_pixel_ = ctm == "half_pixel";
    const std::string mode = info.node.attr_s("mode", "avg");
    PIONNX_ENFORCE(mode == "avg" || mode == "max", InvalidArgument, node_.describe(), ": unknown mode '", mode, "'");
    max_mode_ = mode == "max";
    out_h_ = info.node.attr_i("output_height", 1);
    out_w_ = info.node.attr_i("output_width", 1);
    sampling_ratio_ = info.node.attr_i("sampling_ratio", 0);
    spatial_scale_ = info.node.attr_f("spatial_scale", 1.f);
  }

  void compute(KernelContext& ctx) const override {
    const std::string what = node_.describe();
    const Tensor& x_in = ctx.input(0);
    const Tensor x = to_float32(x_in);
    const Tensor rois = to_float32(ctx.input(1));
    const std::vector<int64_t> batch_idx = tensor_to_int64s(ctx.input(2));
    PIONNX_ENFORCE(x.rank() == 4, InvalidArgument, what, ": X must be 4-D, got ", shape_str(x.shape()));
    const int64_t R = static_cast<int64_t>(batch_idx.size());
    PIONNX_ENFORCE(rois.rank() == 2 && rois.dim(0) == R && rois.dim(1) == 4, InvalidArgument, what, ": rois ",
                   shape_str(rois.shape()), " expected [", R, ", 4]");
    const int64_t N = x.dim(0), C = x.dim(1), H = x.dim(2), W = x.dim(3), PH = out_h_, PW = out_w_;
    for (int64_t b : batch_idx)
      PIONNX_ENFORCE(b >= 0 && b < N, InvalidArgument, what, ": batch index ", b, " out of range [0, ", N, ")");
    Tensor y(DType::Float, {R, C, PH, PW});
    const float* xd = x.data<float>();
    const float* rd = rois.data<float>();
    float* yd = y.data<float>();

    struct Tap {
      int64_t pos[4];
      float w[4];
    };
    ctx.pool().parallel_for(R, 1, [&](int64_t begin, int64_t end) {
      std::vector<Tap> taps;
      for (int64_t r = begin; r < end; ++r) {
        const float off = half_pixel_ ? 0.5f : 0.f;
        const float* roi = rd + r * 4;
        const float sw = roi[0] * spatial_scale_ - off, sh = roi[1] * spatial_scale_ - off;
        float rw = roi[2] * spatial_scale_ - off - sw, rh = roi[3] * spatial_scale_ - off - sh;
        if (!half_pixel_) rw = std::max(rw, 1.f), rh = std::max(rh, 1.f);
        const float bh = rh / PH, bw = rw / PW;
        const int64_t gh = sampling_ratio_ > 0 ? sampling_ratio_ : clamp_to_int<int64_t>(std::ceil(rh / PH));
        const int64_t gw = sampling_ratio_ > 0 ? sampling_ratio_ : clamp_to_int<int64_t>(std::ceil(rw / PW));
        // The sampling grid follows the box's size, which is data: its taps
        // are bounded like a tensor before any is made.
        checked_tensor_bytes(DType::Float, checked_mul(checked_mul(checked_mul(gh, gw, "RoiAlign sampling grid"),
                                                                   PH * PW, "RoiAlign sampling grid"),
                                                       8, "RoiAlign sampling grid"));
        const float count = static_cast<float>(std::max<int64_t>(gh * gw, 1));
        // Bilinear taps of every sample point, shared by all channels.
        taps.clear();
        for (int64_t ph = 0; ph < PH; ++ph)
          for (int64_t pw = 0; pw < PW; ++pw)
            for (int64_t iy = 0; iy < gh; ++iy) {
              const float yy = sh + ph * bh + (iy + 0.5f) * bh / gh;
              for (int64_t ix = 0; ix < gw; ++ix) {
                float xx = sw + pw * bw + (ix + 0.5f) * bw / gw, yv = yy;
                Tap t{{0, 0, 0, 0}, {0, 0, 0, 0}};
                // Written so that a NaN sample point (a NaN box) is outside too: a zero tap.
                if (yv >= -1.f && yv <= H && xx >= -1.f && xx <= W) {
                  yv = std::max(yv, 0.f), xx = std::max(xx, 0.f);
                  int64_t y0 = static_cast<int64_t>(yv), x0 = static_cast<int64_t>(xx), y1, x1;
                  if (y0 >= H - 1) y0 = y1 = H - 1, yv = static_cast<float>(y0);
                  else y1 = y0 + 1;
                  if (x0 >= W - 1) x0 = x1 = W - 1, xx = static_cast<float>(x0);
                  else x1 = x0 + 1;
                  const float ly = yv - y0, lx = xx - x0, hy = 1 - ly, hx = 1 - lx;
                  t = {{y0 * W + x0, y0 * W + x1, y1 * W + x0, y1 * W + x1}, {hy * hx, hy * lx, ly * hx, ly * lx}};
                }
                taps.push_back(t);
              }
            }
        const int64_t per_bin = gh * gw;
        for (int64_t c = 0; c < C; ++c) {
          const float* img = xd + (batch_idx[r] * C + c) * H * W;
          float* out = yd + (r * C + c) * PH * PW;
          for (int64_t p = 0; p < PH * PW; ++p) {
            const Tap* tp = taps.data() + p * per_bin;
            float acc = 0.f;
            for (int64_t k = 0; k < per_bin; ++k) {
              const Tap& t = tp[k];
              if (max_mode_) {
                const float v = std::max(std::max(t.w[0] * img[t.pos[0]], t.w[1] * img[t.pos[1]]),
                                         std::max(t.w[2] * img[t.pos[2]], t.w[3] * img[t.pos[3]]));
                acc = k == 0 ? v : std::max(acc, v);
              } else {
                acc +=
                    t.w[0] * img[t.pos[0]] + t.w[1] * img[t.pos[1]] + t.w[2] * img[t.pos[2]] + t.w[3] * img[t.pos[3]];
              }
            }
            out[p] = max_mode_ ? acc : acc / count;
          }
        }
      }
    });
    ctx.set_output(0, cast_tensor(y, x_in.dtype()));
  }

 private:
  const Node& node_;
  bool half_pixel_ = true, max_mode_ = false;
  int64_t out_h_ = 1, out_w_ = 1, sampling_ratio_ = 0;
  float spatial_scale_ = 1.f;
};

}  // namespace

void register_detection(KernelRegistry& r) {
  r.add<NonMaxSuppression>("", "NonMaxSuppression");
  r.add<RoiAlign>("", "RoiAlign");
}

}  // namespace pionnx
