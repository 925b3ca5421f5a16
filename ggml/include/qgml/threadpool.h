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
#include <vector>

namespace qgml {

class ThreadPool {
 public:
  explicit ThreadPool(int n_threads);
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  int size() const { return n_threads_; }

  // Runs fn(ith, nth) once on each of nth threads (the caller is thread 0) and
  // returns when all have finished. nth is n_active when 0 < n_active <
  // size(), else size(); the other threads stay asleep. Not re-entrant.
  void run(const std::function<void(int ith, int nth)>& fn, int n_active = 0);

  // Inside run(): waits until every thread of the pool reaches the barrier.
  void barrier();

  // Threads a new pool uses by default: QGML_THREADS, else the hardware count.
  static int default_threads();

 private:
  struct Impl;
  int n_threads_;
  std::unique_ptr<Impl> impl_;
};

// Chooses how many threads to run a repeated job with (e.g. one token of
// generation) from the measured time of earlier runs. On a quiet machine more
// threads win; when another process keeps a core busy, threads that must meet
// at a barrier after every op wait for the descheduled one, and fewer threads
// are faster. The tuner tries max, max/2, ..., 1, keeps the fastest (median of
// its last runs), and re-measures another candidate every kExploreEvery runs
// so it follows the machine's load. Results do not depend on the thread
// count (every op is bitwise identical for any split), so switching is safe.
class ThreadTuner {
 public:
  explicit ThreadTuner(int max_threads);

  // Threads for the next run.
  int pick();
  // Reports how long a run with n threads took.
  void record(int n, double seconds);

  int best() const { return candidates_[best_].n; }

  static constexpr int kSamples = 3;        // runs per candidate before choosing
  static constexpr int kExploreEvery = 32;  // runs between re-measurements

 private:
  struct Candidate {
    int n = 1;
    double recent[kSamples] = {};
    int count = 0;  // runs recorded (recent[] is a ring)
    double estimate() const;
  };
  std::vector<Candidate> candidates_;
  size_t best_ = 0;
  size_t next_explore_ = 0;
  long runs_ = 0;
};

}  // namespace qgml
