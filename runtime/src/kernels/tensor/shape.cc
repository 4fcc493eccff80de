// Shape manipulation: ops that only move elements. Reshape-like ops alias
// their input's storage; the rest go through strided_copy.
#include <algorithm>
#include <numeric>

#include "core/checked.h"
#include "kernels/base/dtype_dispatch.h"
#include "kernels/base/kernel.h"
#include "kernels/base/shapes.h"
#include "kernels/tensor/strided.h"

namespace pionnx {
namespace {

// ---------------------------------------------------------------- Reshape

class Reshape final : public NamedKernel {
 public:
  explicit Reshape(const KernelInfo& info)
      : NamedKernel(info), opset_(info.opset), allowzero_(info.node.attr_i("allowzero", 0) != 0) {
    if (opset_ < 5) shape_attr_ = info.node.require("shape").ints;
  }
  void compute(KernelContext& ctx) const override {
    const Tensor& x = ctx.input(0);
    Shape want = opset_ < 5 ? shape_attr_ : tensor_to_int64s(ctx.input(1));
    const std::string& what = what_;
    int64_t infer = -1, known = 1;
    for (size_t i = 0; i < want.size(); ++i) {
      if (want[i] == -1) {
        PIONNX_ENFORCE(infer < 0, InvalidArgument, what, ": shape ", shape_str(want), " has more than one -1");
        infer = static_cast<int64_t>(i);
        continue;
      }
      if (want[i] == 0 && !allowzero_) {
        PIONNX_ENFORCE(i < x.rank(), InvalidArgument, what, ": shape ", shape_str(want), " copies dim ", i,
                       " (0) but the input ", shape_str(x.shape()), " has rank ", x.rank());
        want[i] = x.shape()[i];
      }
      PIONNX_ENFORCE(want[i] >= 0, InvalidArgument, what, ": invalid shape ", shape_str(want));
      known = checked_mul(known, want[i], "Reshape: the product of the target shape");
    }
    if (infer >= 0) {
      PIONNX_ENFORCE(known != 0 && x.numel() % known == 0, InvalidArgument, what, ": cannot reshape ",
                     shape_str(x.shape()), " to ", shape_str(want));
      want[infer] = x.numel() / known;
    }
    PIONNX_ENFORCE(shape_numel(want) == x.numel(), InvalidArgument, what, ": cannot reshape ", shape_str(x.shape()),
                   " (", x.numel(), " elements) to ", shape_str(want));
    ctx.set_output(0, x.reshaped(want));
  }

 private:
  int64_t opset_;
  bool allowzero_;
  std::vector<int64_t> shape_attr_;
};

// ---------------------------------------------------------------- Squeeze / Unsqueeze / Flatten

// Squeeze and Unsqueeze: a view of X with unit dims dropped or inserted at
// `axes`, which come from an attribute before opset 13, from input 1 after
// (`given` says whether there were any).
class AxesKernel : public NamedKernel {
 public:
  explicit AxesKernel(const KernelInfo& info)
      : NamedKernel(info), from_input_(info.opset >= 13), axes_(info.node.attr_ints("axes")) {}
  void compute(KernelContext& ctx) const final {
    const Tensor& x = ctx.input(0);
    bool given = false;
    const std::vector<int64_t> axes = read_axes(ctx, &given);
    ctx.set_output(0, x.reshaped(out_shape(x, axes, given)));
  }

 protected:
  virtual Shape out_shape(const Tensor& x, const std::vector<int64_t>& axes, bool given) const = 0;

 private:
  std::vector<int64_t> read_axes(KernelContext& ctx, bool* given) const {
    if (!from_input_) {
      *given = ctx.node().has("axes");
      return axes_;
    }
    const Tensor* t = ctx.optional_input(1);
    *given = t != nullptr;
    return t ? tensor_to_int64s(*t) : std::vector<int64_t>{};
  }

 private:
  bool from_input_;
  std::vector<int64_t> axes_;
};

class Squeeze final : public AxesKernel {
 public:
  using AxesKernel::AxesKernel;
  Shape out_shape(const Tensor& x, const std::vector<int64_t>& axes, bool given) const override {
    const std::string& what = what_;
    const int64_t r = static_cast<int64_t>(x.rank());
    std::vector<bool> drop(r, false);
    if (!given || axes.empty()) {  // an empty axes list squeezes every unit dim, as onnxruntime does
      for (int64_t i = 0; i < r; ++i) drop[i] = x.shape()[i] == 1;
    } else {
      for (int64_t axis : axes) {
        const int64_t a = normalize_axis(axis, r, what);
        PIONNX_ENFORCE(x.shape()[a] == 1, InvalidArgument, what, ": cannot squeeze axis ", a, " of shape ",
                       shape_str(x.shape()), " (dim is not 1)");
        drop[a] = true;
      }
    }
    Shape out;
    for (int64_t i = 0; i < r; ++i)
      if (!drop[i]) out.push_back(x.shape()[i]);
    return out;
  }
};

class Unsqueeze final : public AxesKernel {
 public:
  using AxesKernel::AxesKernel;
  Shape out_shape(const Tensor& x, const std::vector<int64_t>& axes, bool given) const override {
    const std::string& what = what_;
    PIONNX_ENFORCE(given, InvalidArgument, what, ": axes are required");
    const int64_t r = static_cast<int64_t>(x.rank() + axes.size());
    std::vector<bool> inserted(r, false);
    for (int64_t axis : axes) {
      const int64_t a = normalize_axis(axis, r, what);
      PIONNX_ENFORCE(!inserted[a], InvalidArgument, what, ": axis ", a, " given twice");
      inserted[a] = true;
    }
    Shape out;
    size_t j = 0;
    for (int64_t i = 0; i < r; ++i) out.push_back(inserted[i] ? 1 : x.shape()[j++]);
    return out;
  }
};

class Flatten final : public NamedKernel {
 public:
  explicit Flatten(const KernelInfo& info) : NamedKernel(info), axis_(info.node.attr_i("axis", 1)) {}
  void compute(KernelContext& ctx) const override {
    const Tensor& x = ctx.input(0);
    const int64_t r = static_cast<int64_t>(x.rank());
    // axis is in [-r, r]; r puts everything in the outer dim.
    const int64_t axis = axis_ < 0 ? axis_ + r : axis_;
    PIONNX_ENFORCE(axis >= 0 && axis <= r, InvalidArgument, what_, ": axis ", axis_, " is out of range for rank ", r);
    int64_t outer = 1, inner = 1;
    for (int64_t i = 0; i < r; ++i) (i < axis ? outer : inner) *= x.shape()[i];
    ctx.set_output(0, x.reshaped({outer, inner}));
  }

 private:
  int64_t axis_;
};

// ---------------------------------------------------------------- Transpose

class Transpose final : public NamedKernel {
 public:
  explicit Transpose(const KernelInfo& info)
      : NamedKernel(info), perm_(info.node.attr_ints("perm")), has_perm_(info.node.has("perm")) {}
  void compute(KernelContext& ctx) const override {
    const Tensor& x = ctx.input(0);
    const std::string& what = what_;
    const size_t r = x.rank();
    std::vector<int64_t> perm = perm_;
    if (!has_perm_) {
      perm.resize(r);
      for (size_t i = 0; i < r; ++i) perm[i] = static_cast<int64_t>(r - 1 - i);
    }
    PIONNX_ENFORCE(perm.size() == r, InvalidArgument, what, ": perm has ", perm.size(), " entries for input of rank ",
                   r);
    std::vector<bool> seen(r, false);
    const std::vector<int64_t> in_strides = strides_of(x.shape());
    Shape out_shape(r);
    std::vector<int64_t> strides(r);
    for (size_t i = 0; i < r; ++i) {
      const int64_t p = normalize_axis(perm[i], static_cast<int64_t>(r), what);
      PIONNX_ENFORCE(!seen[p], InvalidArgument, what, ": perm repeats axis ", p);
      seen[p] = true;
      out_shape[i] = x.shape()[p];
      strides[i] = in_strides[p];
    }
    Tensor& y = ctx.output(0, x.dtype(), out_shape);
    strided_copy_any(x.dtype(), x.raw(), strides, out_shape, y.raw(), ctx.pool(), what);
  }

 private:
  std::vector<int64_t> perm_;
  bool has_perm_;
};

// ---------------------------------------------------------------- Concat

class Concat final : public NamedKernel {
 public:
  explicit Concat(const KernelInfo& info)
      : NamedKernel(info), axis_(info.opset < 4 ? info.node.attr_i("axis", 1) : info.node.require("axis").i) {}
  void compute(KernelContext& ctx) const override {
    const std::string& what = what_;
    std::vector<const Tensor*> xs;
    for (size_t i = 0; i < ctx.num_inputs(); ++i)
      if (ctx.has_input(i)) xs.push_back(&ctx.input(i));
    PIONNX_ENFORCE(!xs.empty(), InvalidArgument, what, ": needs at least one input");
    const Tensor& first = *xs[0];
    const int64_t r = static_cast<int64_t>(first.rank());
    PIONNX_ENFORCE(r > 0, InvalidArgument, what, ": cannot concatenate scalars");
    const int64_t axis = normalize_axis(axis_, r, what);
    Shape out_shape = first.shape();
    out_shape[axis] = 0;
    for (size_t i = 0; i < xs.size(); ++i) {
      const Tensor& t = *xs[i];
      PIONNX_ENFORCE(t.dtype() == first.dtype(), InvalidArgument, what, ": input ", i, " has dtype ",
                     dtype_name(t.dtype()), ", expected ", dtype_name(first.dtype()));
      bool ok = static_cast<int64_t>(t.rank()) == r;
      for (int64_t d = 0; ok && d < r; ++d) ok = d == axis || t.shape()[d] == first.shape()[d];
      PIONNX_ENFORCE(ok, InvalidArgument, what, ": input ", i, " has shape ", shape_str(t.shape()),
                     ", incompatible with ", shape_str(first.shape()), " along axis ", axis);
      out_shape[axis] += t.shape()[axis];
    }
    Tensor& y = ctx.output(0, first.dtype(), out_shape);
    if (y.numel() == 0) return;
    int64_t outer = 1;
    for (int64_t d = 0; d < axis; ++d) outer *= out_shape[d];
    const int64_t out_block = y.numel() / outer;
    // Each input is an [outer, block_i] matrix landing in a column band of
    // the [outer, out_block] output.
    dispatch_movable(first.dtype(), what, [&](auto tag) {
      using T = typename decltype(tag)::type;
      T* dst = static_cast<T*>(y.raw());
      if (outer < 8) {
        // Few long runs (e.g. channel concat at batch 1): split each run
        // across threads instead.
        for (int64_t o = 0; o < outer; ++o) {
          int64_t col = 0;
          for (const Tensor* t : xs) {
            const int64_t block = t->numel() / outer;
            strided_copy<T>(static_cast<const T*>(t->raw()) + o * block, {1}, {block}, dst + o * out_block + col,
                            ctx.pool());
            col += block;
          }
        }
        return;
      }
      const int64_t grain = std::max<int64_t>(1, (1 << 14) / out_block);
      ctx.pool().parallel_for(outer, grain, [&](int64_t b, int64_t e) {
        for (int64_t o = b; o < e; ++o) {
          int64_t col = 0;
          for (const Tensor* t : xs) {
            const int64_t block = t->numel() / outer;
            shape_detail::copy_run(static_cast<const T*>(t->raw()) + o * block, dst + o * out_block + col, block);
            col += block;
          }
        }
      });
    });
  }

 private:
  int64_t axis_;
};

// ---------------------------------------------------------------- Split

class Split final : public NamedKernel {
 public:
  explicit Split(const KernelInfo& info)
      : NamedKernel(info),
        opset_(info.opset),
        axis_(info.node.attr_i("axis", 0)),
        split_attr_(info.node.attr_ints("split")),
        num_outputs_(info.node.attr_i("num_outputs", 0)) {
    PIONNX_ENFORCE(!(opset_ >= 18 && info.node.has("num_outputs") && num_outputs_ < 1), InvalidGraph,
                   info.node.describe(), ": num_outputs must be positive");
    // Checked here, before anything is sized by it: the node has as many outputs as parts.
    PIONNX_ENFORCE(num_outputs_ <= 0 || num_outputs_ == static_cast<int64_t>(info.node.outputs.size()), InvalidGraph,
                   info.node.describe(), ": num_outputs is ", num_outputs_, " but the node has ",
                   info.node.outputs.size(), " outputs");
  }
  void compute(KernelContext& ctx) const override {
    const Tensor& x = ctx.input(0);
    const std::string& what = what_;
    const int64_t r = static_cast<int64_t>(x.rank());
    const int64_t axis = normalize_axis(axis_, r, what);
    const int64_t dim = x.shape()[axis];
    const int64_t n_out = static_cast<int64_t>(ctx.num_outputs());

    std::vector<int64_t> split;
    // Opset 1 and 13+ take split as input 1; 2..12 as an attribute.
    const Tensor* split_in = (opset_ == 1 || opset_ >= 13) ? ctx.optional_input(1) : nullptr;
    if (split_in) split = tensor_to_int64s(*split_in);
    else if (opset_ < 13) split = split_attr_;
    PIONNX_ENFORCE(split.size() <= static_cast<size_t>(n_out), InvalidArgument, what, ": split has ", split.size(),
                   " entries for ", n_out, " outputs");
    if (split.empty()) {
      const int64_t parts = num_outputs_ > 0 ? num_outputs_ : n_out;
      PIONNX_ENFORCE(parts > 0, InvalidArgument, what, ": no outputs to split into");
      if (num_outputs_ > 0) {
        // Opset 18: the last chunk may be smaller.
        const int64_t chunk = (dim + parts - 1) / parts;
        for (int64_t i = 0; i < parts; ++i) split.push_back(std::max<int64_t>(0, std::min(chunk, dim - i * chunk)));
      } else {
        PIONNX_ENFORCE(dim % parts == 0, InvalidArgument, what, ": axis ", axis, " of size ", dim,
                       " does not split evenly into ", parts, " outputs");
        split.assign(parts, dim / parts);
      }
    }
    PIONNX_ENFORCE(static_cast<int64_t>(split.size()) == n_out, InvalidArgument, what, ": split has ", split.size(),
                   " entries for ", n_out, " outputs");
    int64_t total = 0;
    for (int64_t s : split) {
      PIONNX_ENFORCE(s >= 0, InvalidArgument, what, ": negative split size ", s);
      total = checked_add(total, s, "Split sizes");
    }
    PIONNX_ENFORCE(total == dim, InvalidArgument, what, ": split sizes sum to ", total, " but axis ", axis,
                   " has size ", dim);

    int64_t outer = 1, inner = 1;
    for (int64_t d = 0; d < r; ++d) {
      if (d < axis) outer *= x.shape()[d];
      if (d > axis) inner *= x.shape()[d];
    }
    const size_t esize = dtype_size(x.dtype());
    int64_t offset = 0;
    for (int64_t i = 0; i < n_out; ++i) {
      Shape s = x.shape();
      s[axis] = split[i];
      const void* src = static_cast<const char*>(x.raw()) + offset * inner * esize;
      offset += split[i];
      if (outer == 1 && split[i] > 0) {
        // One contiguous chunk: alias the input.
        ctx.set_output(i, view_of(x, src, s));
        continue;
      }
      Tensor& y = ctx.output(i, x.dtype(), s);
      // Output i is the [outer, split_i * inner] band at column offset*inner.
      strided_copy_any(x.dtype(), src, {dim * inner, 1}, {outer, split[i] * inner}, y.raw(), ctx.pool(), what);
    }
  }

 private:
  int64_t opset_, axis_;
  std::vector<int64_t> split_attr_;
  int64_t num_outputs_;
};

// ---------------------------------------------------------------- Slice

class Slice final : public NamedKernel {
 public:
  explicit Slice(const KernelInfo& info) : NamedKernel(info), opset_(info.opset) {
    if (opset_ < 10) {
      starts_ = info.node.require("starts").ints;
      ends_ = info.node.require("ends").ints;
      axes_ = info.node.attr_ints("axes");
    }
  }
  void compute(KernelContext& ctx) const override {
    const Tensor& x = ctx.input(0);
    const std::string& what = what_;
    std::vector<int64_t> starts = starts_, ends = ends_, axes = axes_, steps;
    if (opset_ >= 10) {
      starts = tensor_to_int64s(ctx.input(1));
      ends = tensor_to_int64s(ctx.input(2));
      if (const Tensor* a = ctx.optional_input(3)) axes = tensor_to_int64s(*a);
      if (const Tensor* st = ctx.optional_input(4)) steps = tensor_to_int64s(*st);
    }
    const size_t n = starts.size();
    if (axes.empty()) {
      axes.resize(n);
      std::iota(axes.begin(), axes.end(), 0);
    }
    if (steps.empty()) steps.assign(n, 1);
    PIONNX_ENFORCE(ends.size() == n && axes.size() == n && steps.size() == n, InvalidArgument, what,
                   ": starts, ends, axes and steps must have the same length (got ", n, ", ", ends.size(), ", ",
                   axes.size(), ", ", steps.size(), ")");

    const int64_t r = static_cast<int64_t>(x.rank());
    const std::vector<int64_t> in_strides = strides_of(x.shape());
    Shape out_shape = x.shape();
    std::vector<int64_t> strides = in_strides;
    std::vector<bool> seen(r, false);
    int64_t origin = 0;
    for (size_t i = 0; i < n; ++i) {
      const int64_t a = normalize_axis(axes[i], r, what);
      PIONNX_ENFORCE(!seen[a], InvalidArgument, what, ": axis ", a, " sliced twice");
      seen[a] = true;
      const int64_t step = steps[i], dim = x.shape()[a];
      PIONNX_ENFORCE(step != 0, InvalidArgument, what, ": step for axis ", a, " is 0");
      int64_t s = starts[i], e = ends[i];
      if (s < 0) s += dim;
      if (e < 0) e += dim;
      int64_t len = 0;
      if (step > 0) {
        s = std::max<int64_t>(0, std::min(s, dim));
        e = std::max<int64_t>(0, std::min(e, dim));
        if (e > s) len = (e - s - 1) / step + 1;
      } else if (dim > 0) {
        // Walking backwards: start may be dim-1 at most, end -1 at least.
        s = std::max<int64_t>(0, std::min(s, dim - 1));
        e = std::max<int64_t>(-1, std::min(e, dim - 1));
        if (s > e) len = (s - e - 1) / -step + 1;
      }
      out_shape[a] = len;
      if (len > 0) origin += s * in_strides[a];
      strides[a] = in_strides[a] * step;
    }
    if (shape_numel(out_shape) == 0) {
      ctx.output(0, x.dtype(), out_shape);
      return;
    }
    const void* src = static_cast<const char*>(x.raw()) + origin * static_cast<int64_t>(dtype_size(x.dtype()));
    // A contiguous range (e.g. rows of the leading axis) aliases the input.
    if (is_dense_view(strides, out_shape)) {
      ctx.set_output(0, view_of(x, src, out_shape));
      return;
    }
    Tensor& y = ctx.output(0, x.dtype(), out_shape);
    strided_copy_any(x.dtype(), src, strides, out_shape, y.raw(), ctx.pool(), what);
  }

 private:
  int64_t opset_;
  std::vector<int64_t> starts_, ends_, axes_;
};

// ---------------------------------------------------------------- Expand / Tile

class Expand final : public NamedKernel {
 public:
  using NamedKernel::NamedKernel;
  void compute(KernelContext& ctx) const override {
    const Tensor& x = ctx.input(0);
    const Shape out_shape = broadcast_shapes(x.shape(), tensor_to_int64s(ctx.input(1)), what_);
    Tensor& y = ctx.output(0, x.dtype(), out_shape);
    strided_copy_any(x.dtype(), x.raw(), broadcast_strides(x.shape(), out_shape), out_shape, y.raw(), ctx.pool(),
                     what_);
  }
};

class Tile final : public NamedKernel {
 public:
  explicit Tile(const KernelInfo& info) : NamedKernel(info), opset_(info.opset) {}
  void compute(KernelContext& ctx) const override {
    const Tensor& x = ctx.input(0);
    const std::string& what = what_;
    const int64_t r = static_cast<int64_t>(x.rank());
    std::vector<int64_t> repeats;
    if (opset_ < 6) {
      // Opset 1: one axis, tiled `tiles` times, both as scalar inputs.
      repeats.assign(r, 1);
      const std::vector<int64_t> tiles = tensor_to_int64s(ctx.input(1)), axis_v = tensor_to_int64s(ctx.input(2));
      PIONNX_ENFORCE(tiles.size() == 1 && axis_v.size() == 1, InvalidArgument, what,
                     ": Tile-1's tiles and axis must each hold one value, got ", tiles.size(), " and ", axis_v.size());
      repeats[normalize_axis(axis_v[0], r, what)] = tiles[0];
    } else {
      repeats = tensor_to_int64s(ctx.input(1));
    }
    PIONNX_ENFORCE(static_cast<int64_t>(repeats.size()) == r, InvalidArgument, what, ": repeats has ", repeats.size(),
                   " entries for input of rank ", r);
    // Output [r0*d0, r1*d1, ...] is the row-major walk of [r0, d0, r1, d1, ...]
    // where the repeat dims have stride 0.
    const std::vector<int64_t> in_strides = strides_of(x.shape());
    Shape out_shape(r), view_shape, view_strides;
    for (int64_t d = 0; d < r; ++d) {
      PIONNX_ENFORCE(repeats[d] >= 0, InvalidArgument, what, ": negative repeat ", repeats[d], " for axis ", d);
      out_shape[d] = checked_mul(x.shape()[d], repeats[d], "Tile: an output dimension");
      view_shape.insert(view_shape.end(), {repeats[d], x.shape()[d]});
      view_strides.insert(view_strides.end(), {0, in_strides[d]});
    }
    Tensor& y = ctx.output(0, x.dtype(), out_shape);
    strided_copy_any(x.dtype(), x.raw(), view_strides, view_shape, y.raw(), ctx.pool(), what);
  }

 private:
  int64_t opset_;
};

// ---------------------------------------------------------------- DepthToSpace / SpaceToDepth

// DepthToSpace and SpaceToDepth: a positive blocksize attribute and a 4-D
// input [N, C, H, W].
class BlockKernel : public NamedKernel {
 public:
  explicit BlockKernel(const KernelInfo& info) : NamedKernel(info), b_(info.node.require("blocksize").i) {
    PIONNX_ENFORCE(b_ > 0, InvalidGraph, info.node.describe(), ": blocksize must be positive, got ", b_);
  }
  void compute(KernelContext& ctx) const final {
    const Tensor& x = ctx.input(0);
    PIONNX_ENFORCE(x.rank() == 4, InvalidArgument, what_, ": expected a 4-D input, got ", shape_str(x.shape()));
    run(ctx, x, x.shape()[0], x.shape()[1], x.shape()[2], x.shape()[3]);
  }

 protected:
  virtual void run(KernelContext& ctx, const Tensor& x, int64_t N, int64_t C, int64_t H, int64_t W) const = 0;
  int64_t b_;
};

class DepthToSpace final : public BlockKernel {
 public:
  explicit DepthToSpace(const KernelInfo& info) : BlockKernel(info), crd_(info.node.attr_s("mode", "DCR") == "CRD") {}

 protected:
  void run(KernelContext& ctx, const Tensor& x, int64_t N, int64_t C, int64_t H, int64_t W) const override {
    const std::string& what = what_;
    const int64_t b = b_;
    // The blocksize is an attribute: its square and the output's sides must not wrap.
    const int64_t bb = checked_mul(b, b, "DepthToSpace: blocksize^2");
    PIONNX_ENFORCE(C % bb == 0, InvalidArgument, what, ": channels ", C, " not divisible by blocksize^2 ", bb);
    const int64_t c2 = C / bb, sN = C * H * W, sC = H * W;
    const int64_t Hb = checked_mul(H, b, "DepthToSpace: output height"),
                  Wb = checked_mul(W, b, "DepthToSpace: output width");
    // Read order of the output viewed as [N, c2, H, b, W, b].
    const std::vector<int64_t> strides =
        crd_ ? std::vector<int64_t>{sN, checked_mul(bb, sC, "DepthToSpace: a stride"),
                                    W,  checked_mul(b, sC, "DepthToSpace: a stride"),
                                    1,  sC}
             : std::vector<int64_t>{
                   sN, sC,
                   W,  checked_mul(checked_mul(b, c2, "DepthToSpace: a stride"), sC, "DepthToSpace: a stride"),
                   1,  c2 * sC};
    Tensor& y = ctx.output(0, x.dtype(), {N, c2, Hb, Wb});
    strided_copy_any(x.dtype(), x.raw(), strides, {N, c2, H, b, W, b}, y.raw(), ctx.pool(), what);
  }

 private:
  bool crd_;
};

// `mode` (opset 28; DCR before it): DCR puts the block offset before the
// channel in the output channel index, CRD after it (DepthToSpace's modes).
class SpaceToDepth final : public BlockKernel {
 public:
  explicit SpaceToDepth(const KernelInfo& info) : BlockKernel(info), crd_(info.node.attr_s("mode", "DCR") == "CRD") {
    const std::string mode = info.node.attr_s("mode", "DCR");
    PIONNX_ENFORCE(mode == "DCR" || mode == "CRD", InvalidGraph, info.node.describe(),
                   ": attribute mode must be DCR or CRD, got '", mode, "'");
  }

 protected:
  void run(KernelContext& ctx, const Tensor& x, int64_t N, int64_t C, int64_t H, int64_t W) const override {
    const std::string& what = what_;
    const int64_t b = b_;
    PIONNX_ENFORCE(H % b == 0 && W % b == 0, InvalidArgument, what, ": spatial dims ", H, "x", W,
                   " not divisible by blocksize ", b);
    // DCR: output viewed as [N, b, b, C, H/b, W/b] reads input [N, C, H/b, b, W/b, b];
    // CRD: output viewed as [N, C, b, b, H/b, W/b].
    const std::vector<int64_t> strides = crd_ ? std::vector<int64_t>{C * H * W, H * W, W, 1, b * W, b}
                                              : std::vector<int64_t>{C * H * W, W, 1, H * W, b * W, b};
    const std::vector<int64_t> dims =
        crd_ ? std::vector<int64_t>{N, C, b, b, H / b, W / b} : std::vector<int64_t>{N, b, b, C, H / b, W / b};
    // b divides H and W, but with an empty H or W it is unbounded: C * b * b must not wrap.
    const int64_t Cbb =
        checked_mul(checked_mul(C, b, "SpaceToDepth: output channels"), b, "SpaceToDepth: output channels");
    Tensor& y = ctx.output(0, x.dtype(), {N, Cbb, H / b, W / b});
    strided_copy_any(x.dtype(), x.raw(), strides, dims, y.raw(), ctx.pool(), what);
  }

 private:
  bool crd_;
};

}  // namespace

void register_shape(KernelRegistry& r) {
  r.add_all("", {impl<Reshape>("Reshape"), impl<Squeeze>("Squeeze"), impl<Unsqueeze>("Unsqueeze"),
                 impl<Flatten>("Flatten"), impl<Transpose>("Transpose"), impl<Concat>("Concat"), impl<Split>("Split"),
                 impl<Slice>("Slice"), impl<Expand>("Expand"), impl<Tile>("Tile"), impl<DepthToSpace>("DepthToSpace"),
                 impl<SpaceToDepth>("SpaceToDepth")});
}

}  // namespace pionnx
