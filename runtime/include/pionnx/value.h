// What flows along a graph edge at run time.
#pragma once
#include <utility>
#include <vector>

#include "pionnx/tensor.h"

namespace pionnx {

// A run-time value: a tensor, a sequence of tensors, or nothing (an empty
// optional).
struct Value {
  enum class Kind { None, Tensor, Sequence };
  Kind kind = Kind::None;
  Tensor tensor;
  std::vector<Tensor> sequence;
  DType seq_elem = DType::Undefined;  // element type of an empty sequence

  Value() = default;
  Value(Tensor t) : kind(Kind::Tensor), tensor(std::move(t)) {}  // NOLINT: implicit on purpose
  static Value make_sequence(std::vector<Tensor> s, DType elem) {
    Value v;
    v.kind = Kind::Sequence;
    v.sequence = std::move(s);
    v.seq_elem = elem;
    return v;
  }
  bool is_tensor() const { return kind == Kind::Tensor; }
};

}  // namespace pionnx
