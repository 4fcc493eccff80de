#include "platform/thread_pool.h"

#include "pionnx/status.h"
#include "platform/file_io.h"

#include <algorithm>
#include <chrono>
#include <set>
#include <string>
#include <utility>

#if defined(__linux__)
#include <sched.h>
#endif

namespace pionnx {

namespace {

// The claim word: generation (32 bits) | first unclaimed chunk (16) | one
// past the last unclaimed chunk (16). The calling thread claims from the
// front, helpers from the back: at two threads the caller's share of every
// region is the front of the range and the helper's the back, so row-wise
// kernels that follow one another (a transformer's LayerNorm, quantize,
// GEMM, activation over the same rows) find their rows in their own core's
// caches instead of the other's. Either end still takes what the other
// leaves, so a descheduled thread delays nothing.
constexpr int64_t kMaxChunks = 0xffff;
uint64_t pack_claim(uint32_t gen, int64_t front, int64_t back) {
  return (uint64_t{gen} << 32) | (static_cast<uint64_t>(front) << 16) | static_cast<uint64_t>(back);
}
uint32_t claim_gen(uint64_t c) { return static_cast<uint32_t>(c >> 32); }
int64_t claim_front(uint64_t c) { return static_cast<int64_t>((c >> 16) & 0xffff); }
int64_t claim_back(uint64_t c) { return static_cast<int64_t>(c & 0xffff); }

inline void cpu_relax() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__) || (defined(__arm__) && defined(__ARM_ARCH) && __ARM_ARCH >= 7)
  __asm__ __volatile__("yield");
#endif
}

// Waits until count reaches target: spinning, then yielding (a thread still
// holding a chunk was descheduled).
void wait_for(const std::atomic<int64_t>& count, int64_t target) {
  for (int spins = 1; count.load(std::memory_order_acquire) < target; ++spins) {
    if (spins < 4096) cpu_relax();
    else std::this_thread::yield();
  }
}

// How long an idle worker keeps watching for the next region before it
// sleeps. Long enough to bridge the serial work between two parallel kernels
// of one run, short enough that an idle session burns next to nothing.
constexpr auto kSpinWindow = std::chrono::microseconds(1500);

// Threads computing in parallel regions right now, over every pool.
std::atomic<int> g_busy{0};
std::atomic<int> g_peak{0};

void note_peak(int busy) {
  int peak = g_peak.load(std::memory_order_relaxed);
  while (busy > peak && !g_peak.compare_exchange_weak(peak, busy, std::memory_order_relaxed)) {
  }
}

// Takes up to `want` helper slots beside the calling thread (which counts as
// busy too); returns how many it got.
int reserve_helpers(int want, int cores) {
  int busy = g_busy.load(std::memory_order_relaxed);
  for (;;) {
    const int got = std::max(0, std::min(want, cores - busy - 1));
    if (g_busy.compare_exchange_weak(busy, busy + 1 + got, std::memory_order_acq_rel)) {
      note_peak(busy + 1 + got);
      return got;
    }
  }
}

int cores() {
  static const int n = ThreadPool::default_threads();
  return n;
}

int current_cpu() {
#if defined(__linux__)
  return sched_getcpu();
#else
  return -1;
#endif
}

// A worker woken from its sleep is often placed on the waking thread's core:
// Linux prefers the waker's CPU when it takes the other one for busy, and
// under a hypervisor a halted (idle) virtual CPU counts as busy. The two
// threads then share one core until the load balancer moves one (a few
// milliseconds: most of a small model's run at 2 threads). So a worker that
// wakes on the caller's CPU moves itself off it at once: its affinity is
// narrowed to the other allowed CPUs (the kernel migrates it there) while it
// works and spins, and restored before it sleeps again, so an idle worker
// stays free to run anywhere.
class CpuSteer {
 public:
  void move_off(int cpu) {
#if defined(__linux__)
    if (narrowed_ || cpu < 0 || cpu >= CPU_SETSIZE || current_cpu() != cpu) return;
    if (sched_getaffinity(0, sizeof(allowed_), &allowed_) != 0 || !CPU_ISSET(cpu, &allowed_)) return;
    cpu_set_t others = allowed_;
    CPU_CLR(cpu, &others);
    narrowed_ = CPU_COUNT(&others) > 0 && sched_setaffinity(0, sizeof(others), &others) == 0;
#else
    (void)cpu;
#endif
  }
  void restore() {
#if defined(__linux__)
    if (narrowed_) sched_setaffinity(0, sizeof(allowed_), &allowed_);
#endif
    narrowed_ = false;
  }

 private:
  bool narrowed_ = false;
#if defined(__linux__)
  cpu_set_t allowed_;
#endif
};

}  // namespace

ThreadPool::ThreadPool(int threads) : threads_(std::max(1, threads)) {
  for (int i = 1; i < threads_; ++i) workers_.emplace_back([this] { worker_loop(); });
}

ThreadPool::~ThreadPool() {
  {
    std::lock_guard<std::mutex> lk(mu_);
    stop_ = true;
    stop_flag_.store(true, std::memory_order_release);
  }
  cv_.notify_all();
  for (auto& t : workers_) t.join();
}

void ThreadPool::run_chunks(uint32_t gen, bool from_back) {
  for (;;) {
    uint64_t c = claim_.load(std::memory_order_acquire);
    const int64_t front = claim_front(c), back = claim_back(c);
    if (claim_gen(c) != gen || front >= back) return;
    const uint64_t taken = from_back ? pack_claim(gen, front, back - 1) : pack_claim(gen, front + 1, back);
    if (!claim_.compare_exchange_weak(c, taken, std::memory_order_acq_rel, std::memory_order_acquire)) continue;
    // The chunk is ours and the region cannot finish without it, so the job
    // fields still describe this generation.
    const int64_t chunk = from_back ? back - 1 : front, chunks = job_chunks_.load(std::memory_order_relaxed);
    const int64_t n = job_n_.load(std::memory_order_relaxed);
    const auto* job = job_.load(std::memory_order_relaxed);
    try {
      (*job)(chunk* n / chunks, (chunk + 1) * n / chunks);
    } catch (...) {
      std::lock_guard<std::mutex> lk(mu_);
      if (!error_) error_ = std::current_exception();
    }
    done_chunks_.fetch_add(1, std::memory_order_acq_rel);
  }
}

void ThreadPool::worker_loop() {
  CpuSteer steer;
  uint32_t seen = claim_gen(claim_.load(std::memory_order_acquire));
  for (;;) {
    uint32_t gen = seen;
    auto give_up = std::chrono::steady_clock::now() + kSpinWindow;
    for (int spins = 1;; ++spins) {
      if (stop_flag_.load(std::memory_order_acquire)) return;
      gen = claim_gen(claim_.load(std::memory_order_acquire));
      if (gen != seen) break;
      cpu_relax();
      if ((spins & 255) == 0 && std::chrono::steady_clock::now() > give_up) break;
    }
    if (gen == seen) {
      steer.restore();
      std::unique_lock<std::mutex> lk(mu_);
      ++sleeping_;
      cv_.wait(lk, [&] { return stop_ || claim_gen(claim_.load(std::memory_order_acquire)) != seen; });
      --sleeping_;
      if (stop_) return;
      gen = claim_gen(claim_.load(std::memory_order_acquire));
      const int waker = waker_cpu_.load(std::memory_order_relaxed);
      lk.unlock();
      steer.move_off(waker);
    }
    seen = gen;
    // Only as many helpers as the region was granted join it.
    int t = tickets_.load(std::memory_order_acquire);
    bool admitted = false;
    while (t > 0 && !(admitted = tickets_.compare_exchange_weak(t, t - 1, std::memory_order_acq_rel))) {
    }
    if (admitted) run_chunks(gen, true);
  }
}

void ThreadPool::parallel_for(int64_t n, int64_t grain, const std::function<void(int64_t, int64_t)>& fn) {
  if (n <= 0) return;
  grain = std::max<int64_t>(1, grain);
  bool idle = false;
  // Nested calls (a kernel inside a parallel region) and a second thread
  // running the same session run inline: no oversubscription, no deadlock.
  if (threads_ == 1 || n < 2 * grain || !in_region_.compare_exchange_strong(idle, true)) {
    fn(0, n);
    return;
  }
  const int helpers = reserve_helpers(threads_ - 1, cores());
  if (helpers == 0) {  // every core is busy in some region: no hand-off
    g_busy.fetch_sub(1, std::memory_order_acq_rel);
    in_region_.store(false, std::memory_order_release);
    fn(0, n);
    return;
  }
  const int64_t chunks = std::min<int64_t>({n / grain, int64_t{helpers + 1} * 4, kMaxChunks});
  const uint32_t gen = claim_gen(claim_.load(std::memory_order_relaxed)) + 1;
  tickets_.store(helpers, std::memory_order_relaxed);
  job_.store(&fn, std::memory_order_relaxed);
  job_n_.store(n, std::memory_order_relaxed);
  job_chunks_.store(chunks, std::memory_order_relaxed);
  done_chunks_.store(0, std::memory_order_relaxed);
  claim_.store(pack_claim(gen, 0, chunks), std::memory_order_release);
  bool woke = false;
  {
    std::lock_guard<std::mutex> lk(mu_);
    if (sleeping_ > 0) {
      waker_cpu_.store(current_cpu(), std::memory_order_relaxed);
      cv_.notify_all();
      woke = true;
    }
  }
  // A worker the kernel queued on this CPU would wait for this thread's time
  // slice to end (milliseconds) before it could move itself: give it the CPU
  // now. With nothing else queued here the yield returns at once.
  if (woke) std::this_thread::yield();
  run_chunks(gen, false);
  wait_for(done_chunks_, chunks);
  tickets_.store(0, std::memory_order_relaxed);
  g_busy.fetch_sub(1 + helpers, std::memory_order_acq_rel);
  std::exception_ptr err;
  {
    std::lock_guard<std::mutex> lk(mu_);
    err = std::exchange(error_, nullptr);
  }
  in_region_.store(false, std::memory_order_release);
  if (err) std::rethrow_exception(err);
}

void ThreadPool::parallel_for_two_passes(int64_t n, int64_t grain, const std::function<void(int64_t, int64_t)>& first,
                                         const std::function<void(int64_t, int64_t)>& second) {
  if (n <= 0) return;
  const int64_t chunks = std::min<int64_t>({n / std::max<int64_t>(1, grain), int64_t{threads_} * 4, 64});
  if (threads_ == 1 || chunks < 2) {
    first(0, n);
    second(0, n);
    return;
  }
  // One task per thread that may join. A task claims first-pass chunks until
  // none is left, the front half of the tasks from the front of the range and
  // the back half from the back (as parallel_for's caller and helpers do, so
  // each thread reads what it wrote in the region before), waits until every
  // claimed one has finished (each is being run by a thread that claimed
  // it, never waiting itself: no deadlock, whether the pool runs the tasks
  // side by side or one after another), then runs the second pass on its own
  // chunks and on any no task has taken. A first pass that throws still
  // counts as finished (no task waits for it forever); the second pass is
  // then skipped and the exception rethrown here.
  const int64_t tasks = std::min<int64_t>(threads_, chunks);
  std::atomic<uint64_t> ends{pack_claim(0, 0, chunks)};  // the unclaimed chunks, as claim_ holds them
  std::atomic<int64_t> done{0};
  std::atomic<bool> failed{false};
  std::exception_ptr first_error;  // written by the task that set `failed`
  std::atomic<bool> taken[64];
  for (int64_t c = 0; c < chunks; ++c) taken[c].store(false, std::memory_order_relaxed);
  auto begin = [&](int64_t c) { return c * n / chunks; };
  auto claim = [&](bool from_back) -> int64_t {
    uint64_t e = ends.load(std::memory_order_relaxed);
    for (;;) {
      const int64_t front = claim_front(e), back = claim_back(e);
      if (front >= back) return int64_t{-1};
      if (ends.compare_exchange_weak(e, from_back ? pack_claim(0, front, back - 1) : pack_claim(0, front + 1, back),
                                     std::memory_order_relaxed))
        return from_back ? back - 1 : front;
    }
  };
  parallel_for(tasks, 1, [&](int64_t t0, int64_t t1) {
    for (int64_t t = t0; t < t1; ++t) {
      uint64_t mine = 0;  // bit c: this task ran chunk c's first pass
      for (int64_t c; (c = claim(2 * t >= tasks)) >= 0;) {
        try {
          first(begin(c), begin(c + 1));
        } catch (...) {
          if (!failed.exchange(true, std::memory_order_acq_rel)) first_error = std::current_exception();
        }
        mine |= uint64_t{1} << c;
        done.fetch_add(1, std::memory_order_acq_rel);
      }
      wait_for(done, chunks);
      if (failed.load(std::memory_order_acquire)) return;
      for (int pass = 0; pass < 2; ++pass)
        for (int64_t c = 0; c < chunks; ++c)
          if ((pass == 1 || (mine >> c & 1)) && !taken[c].exchange(true, std::memory_order_acq_rel))
            second(begin(c), begin(c + 1));
    }
  });
  if (first_error) std::rethrow_exception(first_error);
}

int ThreadPool::busy_threads() { return g_busy.load(std::memory_order_relaxed); }

int ThreadPool::peak_busy_threads(bool reset) {
  return reset ? g_peak.exchange(0, std::memory_order_relaxed) : g_peak.load(std::memory_order_relaxed);
}

int ThreadPool::default_threads() {
  // Count distinct (physical id, core id) pairs: hyper-threads share a core's
  // FMA units and only add contention for GEMM-bound work.
  std::set<std::pair<std::string, std::string>> cores;
  std::string phys = "0";
  std::string text;
  try {
    text = read_file("/proc/cpuinfo", 0, -1);
  } catch (const Error&) {
  }
  size_t pos = 0;
  while (pos < text.size()) {
    size_t eol = text.find('\n', pos);
    if (eol == std::string::npos) eol = text.size();
    std::string line = text.substr(pos, eol - pos);
    pos = eol + 1;
    auto colon = line.find(':');
    if (colon == std::string::npos) continue;
    std::string key = line.substr(0, line.find_first_of(" \t"));
    std::string val = colon + 2 <= line.size() ? line.substr(colon + 2) : "";
    if (key == "physical") phys = val;
    if (line.rfind("core id", 0) == 0) cores.insert({phys, val});
  }
  int hw = static_cast<int>(std::thread::hardware_concurrency());
  int n = cores.empty() ? hw : static_cast<int>(cores.size());
  return std::max(1, std::min(n, hw > 0 ? hw : n));
}

}  // namespace pionnx
