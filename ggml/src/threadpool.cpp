#include "qgml/threadpool.h"

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstdlib>
#include <mutex>
#include <thread>
#include <vector>

#if defined(__x86_64__) || defined(_M_X64)
#include <immintrin.h>
#define QGML_CPU_RELAX() _mm_pause()
#elif defined(__aarch64__)
#define QGML_CPU_RELAX() __asm__ volatile("yield")
#else
#define QGML_CPU_RELAX() ((void)0)
#endif

namespace qgml {
namespace {

// Spins for a short while (phases between ops are usually microseconds
// apart), then sleeps on a condition variable so that a waiting thread gives
// its core back when the machine is busy.
class Barrier {
 public:
  // Called between runs. A thread of the previous run may still be on its
  // way out of wait() (woken, not yet returned): it reads n_ and spins_ only
  // before its arrival, so resizing cannot change what it sees, and both are
  // atomics so that the late read is not a data race either.
  void reset(int n) {
    n_.store(n, std::memory_order_relaxed);
    count_.store(0);
    // With more threads than cores, a spinning waiter only delays the thread
    // it waits for: go straight to yielding and sleeping.
    const unsigned hw = std::thread::hardware_concurrency();
    spins_.store(hw != 0 && static_cast<unsigned>(n) > hw ? 0 : kSpins, std::memory_order_relaxed);
  }

  void wait() {
    const int n = n_.load(std::memory_order_relaxed);
    const int spins = spins_.load(std::memory_order_relaxed);
    if (n <= 1) return;
    const unsigned gen = gen_.load(std::memory_order_acquire);
    if (count_.fetch_add(1, std::memory_order_acq_rel) + 1 == n) {
      count_.store(0, std::memory_order_relaxed);
      {
        std::lock_guard<std::mutex> lock(mu_);
        gen_.fetch_add(1, std::memory_order_release);
      }
      cv_.notify_all();
      return;
    }
    for (int i = 0; i < spins; ++i) {
      if (gen_.load(std::memory_order_acquire) != gen) return;
      QGML_CPU_RELAX();
    }
    // On an oversubscribed machine the late thread may be waiting for this
    // core: offer it before paying for a sleep and a wake-up.
    for (int i = 0; i < kYields; ++i) {
      if (gen_.load(std::memory_order_acquire) != gen) return;
      std::this_thread::yield();
    }
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait(lock, [&] { return gen_.load(std::memory_order_acquire) != gen; });
  }

 private:
  // ~50-150 µs of pausing (a pause is 10-140 cycles depending on the CPU):
  // long enough to cover the imbalance between threads of one op, short
  // enough that a busy machine does not lose a millisecond per barrier.
  static constexpr int kSpins = 1 << 11;
  static constexpr int kYields = 8;
  std::atomic<int> n_{1};
  std::atomic<int> spins_{kSpins};
  std::atomic<int> count_{0};
  std::atomic<unsigned> gen_{0};
  std::mutex mu_;
  std::condition_variable cv_;
};

}  // namespace

// One implementation on every platform: persistent std::threads that sleep
// on a condition variable between runs. An OpenMP team was tried first, but
// libgomp's workers spin for up to ~300k iterations after every parallel
// region; on a 2-core machine shared with other processes that made a run()
// of 2 threads cost 20-30 ms instead of ~0.2 ms (see ThreadPool.RunLatency).

struct ThreadPool::Impl {
  Barrier barrier;
  Barrier done;
  std::vector<std::thread> workers;
  std::mutex mu;
  std::condition_variable cv;
  unsigned job = 0;
  int n_active = 1;
  bool stop = false;
  const std::function<void(int, int)>* fn = nullptr;
};

ThreadPool::ThreadPool(int n_threads) : n_threads_(n_threads > 0 ? n_threads : 1), impl_(new Impl) {
  Impl* im = impl_.get();
  const int n = n_threads_;
  im->barrier.reset(n);
  im->done.reset(n);
  im->n_active = n;
  for (int i = 1; i < n; ++i) {
    im->workers.emplace_back([im, i] {
      unsigned seen = 0;
      for (;;) {
        const std::function<void(int, int)>* fn;
        int nth;
        {
          std::unique_lock<std::mutex> lock(im->mu);
          im->cv.wait(lock, [&] { return im->stop || im->job != seen; });
          if (im->stop) return;
          seen = im->job;
          fn = im->fn;
          nth = im->n_active;
        }
        if (i >= nth) continue;  // this run uses fewer threads
        (*fn)(i, nth);
        im->done.wait();
      }
    });
  }
}

ThreadPool::~ThreadPool() {
  {
    std::lock_guard<std::mutex> lock(impl_->mu);
    impl_->stop = true;
  }
  impl_->cv.notify_all();
  for (std::thread& t : impl_->workers) t.join();
}

void ThreadPool::run(const std::function<void(int, int)>& fn, int n_active) {
  const int nth = n_active > 0 && n_active < n_threads_ ? n_active : n_threads_;
  {
    std::lock_guard<std::mutex> lock(impl_->mu);
    // Every thread of the previous run has passed both barriers' counters
    // (the last arrival reset them), so resizing them here is safe. A run of
    // one thread resizes them too, so that barrier() inside it returns at once.
    if (impl_->n_active != nth) {
      impl_->barrier.reset(nth);
      impl_->done.reset(nth);
      impl_->n_active = nth;
    }
    if (nth > 1) {
      impl_->fn = &fn;
      ++impl_->job;
    }
  }
  if (nth == 1) {
    fn(0, 1);
    return;
  }
  impl_->cv.notify_all();
  fn(0, nth);
  impl_->done.wait();
}

void ThreadPool::barrier() { impl_->barrier.wait(); }

ThreadTuner::ThreadTuner(int max_threads) {
  for (int n = max_threads > 0 ? max_threads : 1;; n /= 2) {
    Candidate c;
    c.n = n;
    candidates_.push_back(c);
    if (n <= 1) break;
  }
}

double ThreadTuner::Candidate::estimate() const {
  const int m = count < kSamples ? count : kSamples;
  double v[kSamples];
  std::copy(recent, recent + m, v);
  std::sort(v, v + m);
  return v[m / 2];  // the median resists one run disturbed by the machine
}

int ThreadTuner::pick() {
  ++runs_;
  // Measure every candidate first, the largest first.
  for (const Candidate& c : candidates_)
    if (c.count < kSamples) return c.n;
  if (candidates_.size() > 1 && runs_ % kExploreEvery == 0) {
    next_explore_ = (next_explore_ + 1) % candidates_.size();
    if (next_explore_ == best_) next_explore_ = (next_explore_ + 1) % candidates_.size();
    return candidates_[next_explore_].n;
  }
  return candidates_[best_].n;
}

void ThreadTuner::record(int n, double seconds) {
  for (Candidate& c : candidates_) {
    if (c.n != n) continue;
    c.recent[c.count % kSamples] = seconds;
    ++c.count;
  }
  for (size_t i = 0; i < candidates_.size(); ++i) {
    const Candidate& c = candidates_[i];
    if (c.count == 0) continue;
    if (candidates_[best_].count == 0 || c.estimate() < candidates_[best_].estimate()) best_ = i;
  }
}

int ThreadPool::default_threads() {
  if (const char* s = std::getenv("QGML_THREADS")) {
    const int n = std::atoi(s);
    if (n > 0) return n;
  }
  const unsigned hw = std::thread::hardware_concurrency();
  return hw > 0 ? static_cast<int>(hw) : 1;
}

}  // namespace qgml
