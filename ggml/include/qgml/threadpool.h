// qgml/threadpool.h — a fixed set of worker threads that run one function on
// every thread, with a barrier to separate phases.
//
// Built on persistent std::threads (the same code on every platform; OpenMP
// teams spin too long between runs on a shared machine). Waiting threads spin
// only briefly and then sleep, so a pool whose second core is busy with
// another process does not collapse.
#pragma once
#include <functional>
#include <memory>

namespace qgml {

class ThreadPool {
 public:
  explicit ThreadPool(int n_threads);
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  int size() const { return n_threads_; }

  // Runs fn(ith, nth) once on each of nth threads (the caller is thread 0) and
  // returns when all have finished. Not re-entrant.
  void run(const std::function<void(int ith, int nth)>& fn);

  // Inside run(): waits until every thread of the pool reaches the barrier.
  void barrier();

  // Threads a new pool uses by default: QGML_THREADS, else the hardware count.
  static int default_threads();

 private:
  struct Impl;
  int n_threads_;
  std::unique_ptr<Impl> impl_;
};

}  // namespace qgml
