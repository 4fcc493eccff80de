#include "pionnx/tensor.h"

#include "platform/aligned_alloc.h"

#include "pionnx/buffer_pool.h"

#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <new>

namespace pionnx {

int64_t shape_numel(const Shape& s) {
  int64_t n = 1;
  for (int64_t d : s) {
    PIONNX_ENFORCE(d >= 0, InvalidArgument, "negative dimension in shape ", shape_str(s));
    PIONNX_ENFORCE(!__builtin_mul_overflow(n, d, &n), InvalidArgument, "shape ", shape_str(s),
                   ": its element count overflows a 64-bit size");
  }
  return n;
}

std::string shape_str(const Shape& s) {
  std::string out = "[";
  for (size_t i = 0; i < s.size(); ++i) out += str_cat(i ? ", " : "", s[i]);
  return out + "]";
}

uint64_t machine_ram_bytes() {
  static const uint64_t ram = [] {
    const long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE);
    // Unknown: assume 1 TiB rather than refuse everything.
    return pages > 0 && page > 0 ? static_cast<uint64_t>(pages) * static_cast<uint64_t>(page) : uint64_t(1) << 40;
  }();
  return ram;
}

namespace {
thread_local uint64_t tls_tensor_limit = 0;  // 0: machine_ram_bytes()
}  // namespace

uint64_t tensor_byte_limit() { return tls_tensor_limit ? tls_tensor_limit : machine_ram_bytes(); }

ScopedTensorLimit::ScopedTensorLimit(uint64_t bytes) : prev_(tls_tensor_limit) { tls_tensor_limit = bytes; }
ScopedTensorLimit::~ScopedTensorLimit() { tls_tensor_limit = prev_; }

uint64_t checked_tensor_bytes(DType dtype, int64_t numel) {
  size_t elem = dtype_size(dtype);
  PIONNX_ENFORCE(elem > 0, InvalidArgument, "cannot allocate a tensor of dtype ", dtype_name(dtype));
  PIONNX_ENFORCE(numel >= 0, InvalidArgument, "tensor of ", numel, " elements");
  uint64_t bytes = static_cast<uint64_t>(numel) * elem;
  PIONNX_ENFORCE(numel == 0 || bytes / elem == static_cast<uint64_t>(numel), InvalidArgument, "tensor of ", numel,
                 " elements overflows");
  const uint64_t limit = tensor_byte_limit();
  PIONNX_ENFORCE(bytes <= limit, InvalidArgument, "a tensor of ", bytes, " bytes (", numel, " x ", dtype_name(dtype),
                 ") is over the limit of ", limit, " bytes for one tensor (",
                 tls_tensor_limit ? "SessionOptions.max_tensor_bytes" : "this machine's RAM",
                 "; raise it with SessionOptions.max_tensor_bytes)");
  return bytes;
}

namespace {

// Refuse absurd allocations up front with a message instead of bad_alloc (or
// the OOM killer) deep inside a kernel.
std::shared_ptr<void> allocate(DType dtype, int64_t numel, void** data) {
  const uint64_t bytes = checked_tensor_bytes(dtype, numel);
  if (dtype == DType::String) {
    auto* p = new std::string[numel > 0 ? numel : 1];
    *data = p;
    return std::shared_ptr<void>(p, [](void* q) { delete[] static_cast<std::string*>(q); });
  }
  if (BufferPool* pool = current_buffer_pool()) {
    std::shared_ptr<void> owner = pool->acquire(static_cast<size_t>(bytes));
    *data = owner.get();
    return owner;
  }
  void* p = allocate_aligned(static_cast<size_t>(bytes));
  *data = p;
  return std::shared_ptr<void>(p, [](void* q) { std::free(q); });
}

}  // namespace

Tensor::Tensor(DType dtype, Shape shape) : dtype_(dtype), shape_(std::move(shape)) {
  numel_ = shape_numel(shape_);
  owner_ = allocate(dtype_, numel_, &data_);
}

Tensor Tensor::zeros(DType dtype, Shape shape) {
  Tensor t(dtype, std::move(shape));
  if (dtype != DType::String && t.nbytes()) std::memset(t.data_, 0, t.nbytes());
  return t;
}

Tensor Tensor::wrap(DType dtype, Shape shape, void* data, std::shared_ptr<void> owner) {
  Tensor t;
  t.dtype_ = dtype;
  t.shape_ = std::move(shape);
  t.numel_ = shape_numel(t.shape_);
  t.data_ = data;
  t.owner_ = std::move(owner);
  return t;
}

int64_t Tensor::dim(int64_t i) const {
  int64_t r = static_cast<int64_t>(shape_.size());
  if (i < 0) i += r;
  PIONNX_ENFORCE(i >= 0 && i < r, InvalidArgument, "dimension ", i, " out of range for shape ", shape_str(shape_));
  return shape_[static_cast<size_t>(i)];
}

Tensor Tensor::reshaped(Shape shape) const {
  int64_t n = shape_numel(shape);
  PIONNX_ENFORCE(n == numel_, InvalidArgument, "cannot reshape ", shape_str(shape_), " (", numel_, " elements) to ",
                 shape_str(shape), " (", n, " elements)");
  Tensor t = *this;
  t.shape_ = std::move(shape);
  return t;
}

Tensor Tensor::clone() const {
  Tensor t(dtype_, shape_);
  if (dtype_ == DType::String) {
    const auto* s = static_cast<const std::string*>(data_);
    auto* d = static_cast<std::string*>(t.data_);
    for (int64_t i = 0; i < numel_; ++i) d[i] = s[i];
  } else if (nbytes()) {
    std::memcpy(t.data_, data_, nbytes());
  }
  return t;
}

void Tensor::check_type(DType want) const {
  PIONNX_ENFORCE(dtype_ == want, InvalidArgument, "tensor holds ", dtype_name(dtype_), ", accessed as ",
                 dtype_name(want));
}

std::vector<int64_t> tensor_to_int64s(const Tensor& t) {
  std::vector<int64_t> out(static_cast<size_t>(t.numel()));
  switch (t.dtype()) {
#define PIONNX_CASE(DT, T)                                                       \
  case DType::DT: {                                                              \
    const T* p = static_cast<const T*>(t.raw());                                 \
    for (size_t i = 0; i < out.size(); ++i) out[i] = static_cast<int64_t>(p[i]); \
    return out;                                                                  \
  }
    PIONNX_CASE(Int64, int64_t)
    PIONNX_CASE(Int32, int32_t)
    PIONNX_CASE(Int16, int16_t)
    PIONNX_CASE(Int8, int8_t)
    PIONNX_CASE(UInt64, uint64_t)
    PIONNX_CASE(UInt32, uint32_t)
    PIONNX_CASE(UInt16, uint16_t)
    PIONNX_CASE(UInt8, uint8_t)
#undef PIONNX_CASE
    default: throw InvalidArgument(str_cat("expected an integer tensor, got ", dtype_name(t.dtype())));
  }
}

double tensor_scalar_as_double(const Tensor& t) {
  PIONNX_ENFORCE(t.numel() >= 1, InvalidArgument, "expected a scalar, got an empty tensor");
  const void* p = t.raw();
  switch (t.dtype()) {
    case DType::Float: return *static_cast<const float*>(p);
    case DType::Double: return *static_cast<const double*>(p);
    case DType::Float16: return half_to_float(*static_cast<const uint16_t*>(p));
    case DType::BFloat16: return bfloat16_to_float(*static_cast<const uint16_t*>(p));
    case DType::Bool: return *static_cast<const bool*>(p) ? 1.0 : 0.0;
    default: return static_cast<double>(tensor_to_int64s(t.reshaped({t.numel()}))[0]);
  }
}

}  // namespace pionnx
