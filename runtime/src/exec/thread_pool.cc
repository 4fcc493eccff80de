#include "exec/thread_pool.h"

#include "core/file_io.h"
#include "pionnx/status.h"

#include <algorithm>
#include <set>
#include <string>
#include <utility>

namespace pionnx {

ThreadPool::ThreadPool(int threads) : threads_(std::max(1, threads)) {
  for (int i = 1; i < threads_; ++i) workers_.emplace_back([this, i] { worker_loop(i); });
}

ThreadPool::~ThreadPool() {
  {
    std::lock_guard<std::mutex> lk(mu_);
    stop_ = true;
  }
  cv_work_.notify_all();
  for (auto& t : workers_) t.join();
}

void ThreadPool::worker_loop(int) {
  uint64_t seen = 0;
  for (;;) {
    std::unique_lock<std::mutex> lk(mu_);
    cv_work_.wait(lk, [&] { return stop_ || generation_ != seen; });
    if (stop_) return;
    seen = generation_;
    while (next_chunk_ < job_chunks_) {
      int64_t c = next_chunk_++;
      const auto* job = job_;
      int64_t n = job_n_, chunks = job_chunks_;
      lk.unlock();
      std::exception_ptr err;
      try {
        (*job)(c * n / chunks, (c + 1) * n / chunks);
      } catch (...) {
        err = std::current_exception();
      }
      lk.lock();
      if (err && !error_) error_ = err;
      if (++done_chunks_ == job_chunks_) cv_done_.notify_all();
    }
  }
}

void ThreadPool::parallel_for(int64_t n, int64_t grain, const std::function<void(int64_t, int64_t)>& fn) {
  if (n <= 0) return;
  grain = std::max<int64_t>(1, grain);
  // Nested calls (a kernel inside a parallel region) run inline: no
  // oversubscription, no deadlock.
  if (threads_ == 1 || n < 2 * grain || in_parallel_) {
    fn(0, n);
    return;
  }
  int64_t chunks = std::min<int64_t>(n / grain, threads_ * 4);
  std::unique_lock<std::mutex> lk(mu_);
  job_ = &fn;
  job_n_ = n;
  job_chunks_ = chunks;
  next_chunk_ = 0;
  done_chunks_ = 0;
  error_ = nullptr;
  in_parallel_ = true;
  ++generation_;
  cv_work_.notify_all();
  while (next_chunk_ < job_chunks_) {
    int64_t c = next_chunk_++;
    lk.unlock();
    std::exception_ptr err;
    try {
      fn(c * n / chunks, (c + 1) * n / chunks);
    } catch (...) {
      err = std::current_exception();
    }
    lk.lock();
    if (err && !error_) error_ = err;
    ++done_chunks_;
  }
  cv_done_.wait(lk, [&] { return done_chunks_ == job_chunks_; });
  in_parallel_ = false;
  job_ = nullptr;
  std::exception_ptr err = std::exchange(error_, nullptr);
  lk.unlock();
  if (err) std::rethrow_exception(err);
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
