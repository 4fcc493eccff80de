// Standalone check of ThreadPool::parallel_for_two_passes, for cross builds
// run under qemu (ci/checks/arm_kernels.sh: ARM's weaker memory order) and
// the host: on pools of 1 to 4 threads and ranges of 0 to 200,000 items,
// every item's first pass runs once, before any item's second pass, which
// also runs once and sees every first pass's writes; a first pass that
// throws reaches the caller (no thread waits for it forever) and skips the
// second pass; a call made inside another region runs inline. Exit status
// non-zero on any failure.
#include <atomic>
#include <cstdio>
#include <stdexcept>
#include <string>
#include <vector>

#include "platform/thread_pool.h"

namespace {

int failures = 0;

void expect(bool ok, const std::string& what) {
  if (!ok) {
    std::printf("FAIL: %s\n", what.c_str());
    ++failures;
  }
}

void check_passes(pionnx::ThreadPool& pool, int64_t n, int64_t grain) {
  const std::string at =
      std::to_string(pool.size()) + " threads, n " + std::to_string(n) + ", grain " + std::to_string(grain);
  std::vector<int> first(static_cast<size_t>(n), 0), second(static_cast<size_t>(n), 0);
  std::atomic<int64_t> firsts{0}, early{0}, unseen{0};
  pool.parallel_for_two_passes(
      n, grain,
      [&](int64_t i0, int64_t i1) {
        for (int64_t i = i0; i < i1; ++i) ++first[static_cast<size_t>(i)];
        firsts.fetch_add(i1 - i0, std::memory_order_relaxed);
      },
      [&](int64_t i0, int64_t i1) {
        if (firsts.load(std::memory_order_relaxed) != n) early.fetch_add(1);
        // Every first pass's plain writes are visible here, not just this chunk's.
        for (int64_t i = 0; i < n; i += 97)
          if (first[static_cast<size_t>(i)] != 1) unseen.fetch_add(1);
        for (int64_t i = i0; i < i1; ++i) ++second[static_cast<size_t>(i)];
      });
  int64_t once = 0;
  for (int64_t i = 0; i < n; ++i) once += first[static_cast<size_t>(i)] == 1 && second[static_cast<size_t>(i)] == 1;
  expect(once == n, at + ": every item in each pass exactly once");
  expect(early.load() == 0, at + ": a second pass began before every first pass ended");
  expect(unseen.load() == 0, at + ": a second pass missed a first pass's writes");
}

}  // namespace

int main() {
  for (int threads = 1; threads <= 4; ++threads) {
    pionnx::ThreadPool pool(threads);
    for (int64_t n : {0, 1, 5, 100, 16384, 32768, 40000, 131072, 200000})
      for (int64_t grain : {1, 7, 16384}) check_passes(pool, n, grain);
    // A throwing first pass: the exception arrives, nobody hangs, no second pass.
    for (int round = 0; round < 50; ++round) {
      std::atomic<int> seconds{0};
      bool caught = false;
      try {
        pool.parallel_for_two_passes(
            64, 1,
            [&](int64_t i0, int64_t) {
              if (i0 == 0) throw std::runtime_error("first pass failed");
            },
            [&](int64_t, int64_t) { seconds.fetch_add(1); });
      } catch (const std::runtime_error& e) {
        caught = std::string(e.what()) == "first pass failed";
      }
      expect(caught, std::to_string(threads) + " threads: the first pass's exception reaches the caller");
      expect(seconds.load() == 0, std::to_string(threads) + " threads: the second pass ran after a failed first");
    }
    // Inside a region, inline (and still in order).
    std::atomic<int64_t> inner_ok{0};
    pool.parallel_for(4, 1, [&](int64_t t0, int64_t t1) {
      for (int64_t t = t0; t < t1; ++t) {
        std::vector<int> v(1000, 0);
        bool ordered = true;
        pool.parallel_for_two_passes(
            1000, 10,
            [&](int64_t i0, int64_t i1) {
              for (int64_t i = i0; i < i1; ++i) v[static_cast<size_t>(i)] = 1;
            },
            [&](int64_t i0, int64_t i1) {
              for (int64_t i = 0; i < 1000; ++i) ordered = ordered && v[static_cast<size_t>(i)] != 0;
              for (int64_t i = i0; i < i1; ++i) v[static_cast<size_t>(i)] = 2;
            });
        bool all = ordered;
        for (int x : v) all = all && x == 2;
        inner_ok.fetch_add(all ? 1 : 0);
      }
    });
    expect(inner_ok.load() == 4, std::to_string(threads) + " threads: nested calls in order");
  }
  std::printf("thread_pool_check: %s\n", failures ? "FAILED" : "ok");
  return failures ? 1 : 0;
}
