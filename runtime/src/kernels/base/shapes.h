// Shape arithmetic shared by kernel families: numpy broadcasting, strides,
// axes, multi-index iteration.
#pragma once
#include <cstdint>
#include <string>
#include <vector>
#include "pionnx/tensor.h"

namespace pionnx {

// Numpy-style broadcast of two shapes; throws InvalidArgument naming `what`.
Shape broadcast_shapes(const Shape& a, const Shape& b, const std::string& what);
Shape broadcast_shapes(const std::vector<Shape>& shapes, const std::string& what);

// Row-major strides of `shape` (elements).
std::vector<int64_t> strides_of(const Shape& shape);
// Strides to read `in` as if broadcast to `out` (0 on broadcast dims). `in`
// is right-aligned against `out`.
std::vector<int64_t> broadcast_strides(const Shape& in, const Shape& out);

// axis in [-rank, rank) -> [0, rank); throws InvalidArgument naming `what`.
int64_t normalize_axis(int64_t axis, int64_t rank, const std::string& what);

// Iterates a multi-index over `shape` in row-major order.
struct IndexIter {
  explicit IndexIter(const Shape& shape) : shape(shape), idx(shape.size(), 0) {}
  // Advances; false when done.
  bool next() {
    for (int64_t d = static_cast<int64_t>(shape.size()) - 1; d >= 0; --d) {
      if (++idx[d] < shape[d]) return true;
      idx[d] = 0;
    }
    return false;
  }
  const Shape& shape;
  std::vector<int64_t> idx;
};

}  // namespace pionnx
