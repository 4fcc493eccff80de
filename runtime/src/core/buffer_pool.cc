#include "pionnx/buffer_pool.h"

#include "platform/aligned_alloc.h"

#include <cstdlib>
#include <iterator>
#include <new>

namespace pionnx {

namespace {
constexpr size_t kAlign = 64;
// Buffers below this size come from malloc's own free lists quickly; pooling
// them would only add locking. (From 4 KiB on, glibc's aligned allocation
// searched and consolidated its bins: an int8 transformer's 32 KiB quantized
// activations cost more there than a pooled hand-back.)
constexpr size_t kMinPooled = 4 * 1024;
thread_local BufferPool* tls_pool = nullptr;
}  // namespace

BufferPool::~BufferPool() {
  for (auto& kv : free_) std::free(kv.second);
}

std::shared_ptr<void> BufferPool::acquire(size_t bytes) {
  size_t want = (bytes + kAlign - 1) / kAlign * kAlign;
  if (want == 0) want = kAlign;
  void* p = nullptr;
  size_t capacity = want;
  if (want >= kMinPooled) {
    std::lock_guard<std::mutex> lk(mu_);
    // Best fit, but never hand out more than twice what was asked: a huge
    // buffer serving a small tensor would pin memory for nothing.
    // Among buffers of the best-fitting size, the one released last: it is
    // the likeliest still in cache (the first released is the coldest).
    auto it = free_.lower_bound(want);
    if (it != free_.end() && it->first <= 2 * want) {
      it = std::prev(free_.upper_bound(it->first));
      capacity = it->first;
      p = it->second;
      cached_ -= capacity;
      free_.erase(it);
    }
  }
  if (!p) p = allocate_aligned(want);
  if (capacity < kMinPooled) return std::shared_ptr<void>(p, [](void* q) { std::free(q); });
  std::shared_ptr<BufferPool> self = shared_from_this();
  return std::shared_ptr<void>(p, [self, capacity](void* q) { self->release(q, capacity); });
}

void BufferPool::release(void* p, size_t capacity) {
  {
    std::lock_guard<std::mutex> lk(mu_);
    if (cached_ + capacity <= max_cached_) {
      free_.emplace(capacity, p);
      cached_ += capacity;
      return;
    }
  }
  std::free(p);
}

size_t BufferPool::cached_bytes() const {
  std::lock_guard<std::mutex> lk(mu_);
  return cached_;
}

BufferPool* current_buffer_pool() { return tls_pool; }

ScopedBufferPool::ScopedBufferPool(BufferPool* p) : prev_(tls_pool) { tls_pool = p; }
ScopedBufferPool::~ScopedBufferPool() { tls_pool = prev_; }

}  // namespace pionnx
