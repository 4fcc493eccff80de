// A dense n-d array with shared storage. Copying a Tensor shares its buffer;
// kernels never write into their inputs, so sharing is safe.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "pionnx/dtype.h"
#include "pionnx/status.h"

namespace pionnx {

using Shape = std::vector<int64_t>;

int64_t shape_numel(const Shape& s);

// The largest single tensor allocation allowed on this thread: the session's
// max_tensor_bytes while it loads or runs a model (ScopedTensorLimit), else
// this machine's RAM. A tensor over it is refused with an InvalidArgument
// that names the limit, before any memory is touched.
uint64_t machine_ram_bytes();
uint64_t tensor_byte_limit();
// The bytes of a tensor of `numel` elements of `dtype`, refused (as above)
// when over the limit: for kernels that size tables by an output before
// allocating it.
uint64_t checked_tensor_bytes(DType dtype, int64_t numel);
class ScopedTensorLimit {
 public:
  explicit ScopedTensorLimit(uint64_t bytes);  // 0: this machine's RAM
  ~ScopedTensorLimit();
  ScopedTensorLimit(const ScopedTensorLimit&) = delete;
  ScopedTensorLimit& operator=(const ScopedTensorLimit&) = delete;

 private:
  uint64_t prev_;
};
std::string shape_str(const Shape& s);  // "[2, 3, 4]"

class Tensor {
 public:
  Tensor() = default;
  // Allocates uninitialised storage (String elements are default-constructed).
  Tensor(DType dtype, Shape shape);
  // Allocates zero-filled storage.
  static Tensor zeros(DType dtype, Shape shape);
  // Views memory owned by someone else; `owner` keeps it alive.
  static Tensor wrap(DType dtype, Shape shape, void* data, std::shared_ptr<void> owner);
  template <typename T>
  static Tensor scalar(T v) {
    Tensor t(DTypeOf<T>::value, {});
    *t.data<T>() = v;
    return t;
  }
  template <typename T>
  static Tensor from_vector(const std::vector<T>& v, Shape shape) {
    Tensor t(DTypeOf<T>::value, std::move(shape));
    PIONNX_ENFORCE(static_cast<size_t>(t.numel()) == v.size(), InvalidArgument, "from_vector: ", v.size(),
                   " values for shape ", shape_str(t.shape()));
    T* d = t.data<T>();
    for (size_t i = 0; i < v.size(); ++i) d[i] = v[i];
    return t;
  }

  bool defined() const { return dtype_ != DType::Undefined; }
  DType dtype() const { return dtype_; }
  const Shape& shape() const { return shape_; }
  size_t rank() const { return shape_.size(); }
  // dim(-1) is the last dimension.
  int64_t dim(int64_t i) const;
  int64_t numel() const { return numel_; }
  size_t nbytes() const { return static_cast<size_t>(numel_) * dtype_size(dtype_); }

  void* raw() { return data_; }
  const void* raw() const { return data_; }
  template <typename T>
  T* data() {
    check_type(DTypeOf<T>::value);
    return static_cast<T*>(data_);
  }
  template <typename T>
  const T* data() const {
    check_type(DTypeOf<T>::value);
    return static_cast<const T*>(data_);
  }

  // Same storage, new shape with the same element count.
  Tensor reshaped(Shape shape) const;
  // Deep copy into fresh storage.
  Tensor clone() const;
  // True when both share the same buffer.
  bool shares_storage(const Tensor& o) const { return data_ == o.data_ && data_ != nullptr; }
  const std::shared_ptr<void>& storage() const { return owner_; }

 private:
  void check_type(DType want) const;

  DType dtype_ = DType::Undefined;
  Shape shape_;
  int64_t numel_ = 0;
  void* data_ = nullptr;
  std::shared_ptr<void> owner_;
};

// Integer tensor (int32/int64/uint*) -> int64 values; throws otherwise.
std::vector<int64_t> tensor_to_int64s(const Tensor& t);
// Numeric tensor -> double values (for scalar attributes-as-inputs).
double tensor_scalar_as_double(const Tensor& t);

}  // namespace pionnx
