// See shapes.h.
#include "kernels/base/shapes.h"

#include <algorithm>

#include "core/checked.h"

namespace pionnx {

Shape broadcast_shapes(const Shape& a, const Shape& b, const std::string& what) {
  size_t r = std::max(a.size(), b.size());
  Shape out(r);
  for (size_t i = 0; i < r; ++i) {
    int64_t da = i < r - a.size() ? 1 : a[i - (r - a.size())];
    int64_t db = i < r - b.size() ? 1 : b[i - (r - b.size())];
    PIONNX_ENFORCE(da == db || da == 1 || db == 1, InvalidArgument, what, ": shapes ", shape_str(a), " and ",
                   shape_str(b), " cannot be broadcast together");
    out[i] = da == 1 ? db : da;
  }
  return out;
}

Shape broadcast_shapes(const std::vector<Shape>& shapes, const std::string& what) {
  Shape out;
  for (const Shape& s : shapes) out = broadcast_shapes(out, s, what);
  return out;
}

std::vector<int64_t> strides_of(const Shape& shape) {
  // Checked: an empty tensor may have dimensions whose product does not fit.
  std::vector<int64_t> s(shape.size(), 1);
  for (int64_t i = static_cast<int64_t>(shape.size()) - 2; i >= 0; --i)
    s[i] = checked_mul(s[i + 1], shape[i + 1], "strides");
  return s;
}

std::vector<int64_t> broadcast_strides(const Shape& in, const Shape& out) {
  // Every caller's `in` must broadcast to `out`; a kernel that forgot to check
  // (a mask, a bias) gets a clean error here instead of reading past `in`.
  PIONNX_ENFORCE(in.size() <= out.size(), InvalidArgument, "shape ", shape_str(in), " does not broadcast to ",
                 shape_str(out));
  std::vector<int64_t> res(out.size(), 0);
  std::vector<int64_t> st = strides_of(in);
  size_t off = out.size() - in.size();
  for (size_t i = 0; i < in.size(); ++i) {
    PIONNX_ENFORCE(in[i] == 1 || in[i] == out[off + i], InvalidArgument, "shape ", shape_str(in),
                   " does not broadcast to ", shape_str(out));
    res[off + i] = in[i] == 1 ? 0 : st[i];
  }
  return res;
}

int64_t normalize_axis(int64_t axis, int64_t rank, const std::string& what) {
  PIONNX_ENFORCE(axis >= -rank && axis < rank, InvalidArgument, what, ": axis ", axis, " is out of range for rank ",
                 rank);
  return axis < 0 ? axis + rank : axis;
}

}  // namespace pionnx
