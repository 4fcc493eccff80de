// What a kernel derives from a constant weight, made once per session.
#pragma once
#include <mutex>
#include "pionnx/tensor.h"

namespace pionnx {

// Something derived from a constant weight (packed panels, a transpose),
// made on first use and kept for the session. Only for an input that
// KernelInfo::constant_input names: a fed or computed weight can change from
// run to run, so get() returns nullptr for it and the kernel works from the
// tensor itself.
template <typename T>
class ConstantWeightCache {
 public:
  explicit ConstantWeightCache(const Tensor* constant) : constant_(constant) {}

  template <typename Make>
  const T* get(const Tensor& input, Make&& make) const {
    if (!constant_ || constant_->raw() != input.raw() || constant_->shape() != input.shape()) return nullptr;
    std::call_once(once_, [&] { value_ = make(input); });
    return &value_;
  }

 private:
  const Tensor* constant_;
  // Made once, by whichever run gets there first; runs of one session may be concurrent.
  mutable std::once_flag once_;
  mutable T value_{};
};

}  // namespace pionnx
