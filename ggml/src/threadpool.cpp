#include "qgml/threadpool.h"

#include <atomic>
#include <condition_variable>
#include <cstdlib>
#include <mutex>
#include <thread>
#include <vector>

#if defined(QGML_USE_OPENMP)
#include <omp.h>
#endif
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
  void reset(int n) { n_ = n; count_.store(0); }

  void wait() {
    if (n_ <= 1) return;
    const unsigned gen = gen_.load(std::memory_order_acquire);
    if (count_.fetch_add(1, std::memory_order_acq_rel) + 1 == n_) {
      count_.store(0, std::memory_order_relaxed);
      {
        std::lock_guard<std::mutex> lock(mu_);
        gen_.fetch_add(1, std::memory_order_release);
      }
      cv_.notify_all();
      return;
    }
    for (int i = 0; i < kSpins; ++i) {
      if (gen_.load(std::memory_order_acquire) != gen) return;
      QGML_CPU_RELAX();
    }
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait(lock, [&] { return gen_.load(std::memory_order_acquire) != gen; });
  }

 private:
  static constexpr int kSpins = 1 << 14;
  int n_ = 1;
  std::atomic<int> count_{0};
  std::atomic<unsigned> gen_{0};
  std::mutex mu_;
  std::condition_variable cv_;
};

}  // namespace

#if defined(QGML_USE_OPENMP)

struct ThreadPool::Impl {
  Barrier barrier;
};

ThreadPool::ThreadPool(int n_threads) : n_threads_(n_threads > 0 ? n_threads : 1), impl_(new Impl) {}
ThreadPool::~ThreadPool() = default;

void ThreadPool::run(const std::function<void(int, int)>& fn) {
  if (n_threads_ == 1) {
    impl_->barrier.reset(1);
    fn(0, 1);
    return;
  }
  // OpenMP may grant fewer threads than asked; the barrier must count the real team.
  std::atomic<bool> ready{false};
#pragma omp parallel num_threads(n_threads_)
  {
    const int nth = omp_get_num_threads();
    if (omp_get_thread_num() == 0) {
      impl_->barrier.reset(nth);
      ready.store(true, std::memory_order_release);
    }
    while (!ready.load(std::memory_order_acquire)) QGML_CPU_RELAX();
    fn(omp_get_thread_num(), nth);
  }
}

void ThreadPool::barrier() { impl_->barrier.wait(); }

#else  // std::thread pool

struct ThreadPool::Impl {
  Barrier barrier;
  Barrier done;
  std::vector<std::thread> workers;
  std::mutex mu;
  std::condition_variable cv;
  unsigned job = 0;
  bool stop = false;
  const std::function<void(int, int)>* fn = nullptr;
};

ThreadPool::ThreadPool(int n_threads) : n_threads_(n_threads > 0 ? n_threads : 1), impl_(new Impl) {
  Impl* im = impl_.get();
  const int n = n_threads_;
  im->barrier.reset(n);
  im->done.reset(n);
  for (int i = 1; i < n; ++i) {
    im->workers.emplace_back([im, i, n] {
      unsigned seen = 0;
      for (;;) {
        const std::function<void(int, int)>* fn;
        {
          std::unique_lock<std::mutex> lock(im->mu);
          im->cv.wait(lock, [&] { return im->stop || im->job != seen; });
          if (im->stop) return;
          seen = im->job;
          fn = im->fn;
        }
        (*fn)(i, n);
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

void ThreadPool::run(const std::function<void(int, int)>& fn) {
  if (n_threads_ == 1) {
    fn(0, 1);
    return;
  }
  {
    std::lock_guard<std::mutex> lock(impl_->mu);
    impl_->fn = &fn;
    ++impl_->job;
  }
  impl_->cv.notify_all();
  fn(0, n_threads_);
  impl_->done.wait();
}

void ThreadPool::barrier() { impl_->barrier.wait(); }

#endif

int ThreadPool::default_threads() {
  if (const char* s = std::getenv("QGML_THREADS")) {
    const int n = std::atoi(s);
    if (n > 0) return n;
  }
  const unsigned hw = std::thread::hardware_concurrency();
  return hw > 0 ? static_cast<int>(hw) : 1;
}

}  // namespace qgml
