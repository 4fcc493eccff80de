// A fixed pool of workers owned by one session. parallel_for splits [0, n)
// into contiguous chunks that the caller and the workers claim from one
// atomic counter.
//
// Hand-off cost matters more than anything else here: a CNN issues hundreds
// of parallel regions per run, many of them well under a millisecond. So a
// worker that has just finished a region spins (with a CPU pause) for a short
// while watching for the next one before it blocks on the condition variable,
// and the caller only takes the mutex to wake workers that are really
// asleep. A pool that sits idle (between runs, or beside other sessions)
// costs nothing after that spin window.
#pragma once
#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <exception>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace pionnx {

class ThreadPool {
 public:
  // threads: total workers including the caller (1 = run inline).
  explicit ThreadPool(int threads);
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  int size() const { return threads_; }
  // fn(begin, end) over [0, n). Runs inline when n < 2 * grain, the pool has
  // one thread, or the pool is already inside a region (nested or concurrent
  // calls). Exceptions from any chunk are rethrown in the caller. The calling
  // thread runs chunks from the front of [0, n), helpers from the back, so
  // kernels that split the same range one after another keep most of each
  // part on one core (an order, not a guarantee: either end takes what the
  // other leaves).
  void parallel_for(int64_t n, int64_t grain, const std::function<void(int64_t, int64_t)>& fn);
  // Two passes over the same chunks of [0, n) in one region instead of two:
  // every chunk's `first` has returned before any chunk's `second` starts,
  // and each thread takes `second` first on the chunks it ran `first` on
  // (so it reads back what its own core touched), then on any left. For a
  // reduction and the pass that needs its result (DynamicQuantizeLinear's
  // range, then its quantize). Chunks of at least `grain`; inline as
  // parallel_for is.
  void parallel_for_two_passes(int64_t n, int64_t grain, const std::function<void(int64_t, int64_t)>& first,
                               const std::function<void(int64_t, int64_t)>& second);

  // Physical cores of this machine (falls back to hardware_concurrency).
  static int default_threads();

  // Process-wide cap on threads computing inside parallel regions at once,
  // over every pool: a region takes helpers only while fewer than
  // default_threads() threads (callers and helpers) are busy, so sessions
  // running side by side share the cores instead of each bringing its own
  // full set of threads. The calling threads themselves always run.
  static int busy_threads();
  // Highest busy_threads() seen since the last reset (a debug figure).
  static int peak_busy_threads(bool reset = false);

 private:
  void worker_loop();
  // Claims and runs chunks of the region tagged `gen` until none is left:
  // the calling thread from the front of the range, helpers from the back.
  void run_chunks(uint32_t gen, bool from_back);

  int threads_;
  std::vector<std::thread> workers_;

  // The current region. `claim_` packs (generation << 32 | front << 16 |
  // back), the unclaimed chunks [front, back) of job_chunks_, so a late worker can never take a chunk of a newer region
  // with an older region's job: its compare-and-swap fails once the generation moved on.
  std::atomic<uint64_t> claim_{0};
  std::atomic<const std::function<void(int64_t, int64_t)>*> job_{nullptr};
  std::atomic<int64_t> job_n_{0}, job_chunks_{0};
  std::atomic<int64_t> done_chunks_{0};
  std::atomic<int> tickets_{0};  // helpers the current region may still admit
  std::atomic<bool> in_region_{false};
  std::atomic<int> waker_cpu_{-1};  // the CPU the last wake-up came from

  std::mutex mu_;  // guards sleeping_, stop_ and error_; pairs with cv_
  std::condition_variable cv_;
  int sleeping_ = 0;
  bool stop_ = false;
  std::atomic<bool> stop_flag_{false};
  std::exception_ptr error_;
};

// Items per parallel task so that a task holds about `target` units of work
// when each item is `per_item` units; an empty dimension (per_item 0) is no
// division by zero.
inline int64_t grain_size(int64_t target, int64_t per_item) {
  return per_item > 0 ? std::max<int64_t>(1, target / per_item) : target;
}

}  // namespace pionnx
