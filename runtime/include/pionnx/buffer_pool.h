// Reuses tensor buffers between runs of a session. Large buffers come from
// mmap in glibc and go back on free, so without reuse every run pays page
// faults for every big intermediate; a pool keeps them mapped.
//
// The executor makes its session's pool current on the running thread
// (ScopedBufferPool); Tensor's constructor takes buffers from the current
// pool when there is one. A buffer returns to its pool when the last tensor
// viewing it goes, even after the run (outputs handed to Python) or the
// session (the pool lives as long as its buffers).
#pragma once
#include <cstddef>
#include <map>
#include <memory>
#include <mutex>

namespace pionnx {

class BufferPool : public std::enable_shared_from_this<BufferPool> {
 public:
  explicit BufferPool(size_t max_cached_bytes) : max_cached_(max_cached_bytes) {}
  ~BufferPool();
  BufferPool(const BufferPool&) = delete;
  BufferPool& operator=(const BufferPool&) = delete;

  // A buffer of at least `bytes` (64-byte aligned), owned by the returned
  // pointer; dropping it gives the buffer back to the pool.
  std::shared_ptr<void> acquire(size_t bytes);
  size_t cached_bytes() const;

 private:
  void release(void* p, size_t capacity);

  mutable std::mutex mu_;
  std::multimap<size_t, void*> free_;  // capacity -> buffer
  size_t cached_ = 0;
  size_t max_cached_;
};

// The pool used by Tensor allocations on this thread (nullptr: plain heap).
BufferPool* current_buffer_pool();

class ScopedBufferPool {
 public:
  explicit ScopedBufferPool(BufferPool* p);
  ~ScopedBufferPool();
  ScopedBufferPool(const ScopedBufferPool&) = delete;
  ScopedBufferPool& operator=(const ScopedBufferPool&) = delete;

 private:
  BufferPool* prev_;
};

}  // namespace pionnx
