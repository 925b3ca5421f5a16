// ThreadPool: every thread runs, barriers separate phases, a pool is reused
// many times and destroyed cleanly. Runs with more threads than cores too:
// waiting threads must sleep rather than starve the ones doing work.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <vector>

#include "qgml/threadpool.h"

namespace qgml {
namespace {

TEST(ThreadPool, EveryThreadRunsOnce) {
  for (int n = 1; n <= 4; ++n) {
    ThreadPool pool(n);
    EXPECT_EQ(pool.size(), n);
    std::vector<std::atomic<int>> hits(static_cast<size_t>(n));
    std::atomic<int> bad_nth{0};
    pool.run([&](int ith, int nth) {
      if (nth != n || ith < 0 || ith >= nth) {
        ++bad_nth;
        return;
      }
      ++hits[static_cast<size_t>(ith)];
    });
    EXPECT_EQ(bad_nth.load(), 0) << n << " threads";
    for (int i = 0; i < n; ++i) EXPECT_EQ(hits[static_cast<size_t>(i)].load(), 1) << "thread " << i << " of " << n;
  }
}

TEST(ThreadPool, NonPositiveSizeMeansOne) {
  ThreadPool pool(0);
  EXPECT_EQ(pool.size(), 1);
  int runs = 0;
  pool.run([&](int ith, int nth) {
    EXPECT_EQ(ith, 0);
    EXPECT_EQ(nth, 1);
    pool.barrier();  // a no-op with one thread
    ++runs;
  });
  EXPECT_EQ(runs, 1);
}

// Many phases separated by barriers: in phase k every thread adds to
// counter[k]; after the barrier every thread must see the full count, and no
// thread may have started phase k+1 early (counter[k+1] still zero).
void barrier_stress(int n, int phases) {
  ThreadPool pool(n);
  std::vector<std::atomic<int>> counter(static_cast<size_t>(phases) + 1);
  std::atomic<int> errors{0};
  pool.run([&](int, int nth) {
    for (int k = 0; k < phases; ++k) {
      counter[static_cast<size_t>(k)].fetch_add(1);
      pool.barrier();
      if (counter[static_cast<size_t>(k)].load() != nth) ++errors;
      if (counter[static_cast<size_t>(k) + 1].load() != 0) ++errors;
      pool.barrier();
    }
  });
  EXPECT_EQ(errors.load(), 0) << n << " threads";
  for (int k = 0; k < phases; ++k) EXPECT_EQ(counter[static_cast<size_t>(k)].load(), n) << "phase " << k;
}

TEST(ThreadPool, BarrierStress) {
  for (int n = 1; n <= 4; ++n) barrier_stress(n, 2000);
}

TEST(ThreadPool, RunReusedManyTimes) {
  for (int n = 1; n <= 4; ++n) {
    ThreadPool pool(n);
    std::atomic<long> total{0};
    std::atomic<int> errors{0};
    const int kRuns = 500;
    for (int r = 0; r < kRuns; ++r) {
      std::vector<int> slot(static_cast<size_t>(n), -1);  // each thread writes its own slot
      pool.run([&](int ith, int nth) {
        slot[static_cast<size_t>(ith)] = r;
        total += ith + 1;
        pool.barrier();
        // After the barrier every slot of this run is visible to every thread.
        for (int i = 0; i < nth; ++i)
          if (slot[static_cast<size_t>(i)] != r) ++errors;
      });
    }
    EXPECT_EQ(errors.load(), 0) << n << " threads";
    EXPECT_EQ(total.load(), static_cast<long>(kRuns) * n * (n + 1) / 2) << n << " threads";
  }
}

TEST(ThreadPool, ConstructDestroy) {
  // Pools that never run, run once, or run and are destroyed right away.
  for (int i = 0; i < 50; ++i) {
    ThreadPool idle(1 + i % 4);
  }
  for (int i = 0; i < 50; ++i) {
    ThreadPool pool(1 + i % 4);
    std::atomic<int> c{0};
    pool.run([&](int, int) { ++c; });
    EXPECT_EQ(c.load(), pool.size());
  }
  // Several pools alive at once, used alternately.
  ThreadPool a(2), b(3);
  std::atomic<int> c{0};
  for (int i = 0; i < 100; ++i) {
    a.run([&](int, int) { ++c; });
    b.run([&](int, int) {
      b.barrier();
      ++c;
    });
  }
  EXPECT_EQ(c.load(), 500);
}

// A run() must stay cheap when the machine is busy (a graph computes one
// run() per token). libgomp teams once cost 20-30 ms per run here with 2
// threads on a loaded 2-core machine; the bound is ~10x what the pool needs
// under that load.
TEST(ThreadPool, RunLatency) {
  for (int n = 2; n <= 4; ++n) {
    ThreadPool pool(n);
    const int kRuns = 300;
    const auto t0 = std::chrono::steady_clock::now();
    for (int r = 0; r < kRuns; ++r) pool.run([&](int, int) { pool.barrier(); });
    const double us = std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - t0).count() / kRuns;
    std::fprintf(stderr, "run()+barrier with %d threads: %.1f us\n", n, us);
    EXPECT_LT(us, 5000.0) << n << " threads";
  }
}

// Runs with fewer active threads, alternating sizes, with barriers in each:
// exactly the active threads run, and the barrier counts only them.
TEST(ThreadPool, FewerActiveThreads) {
  ThreadPool pool(4);
  for (int round = 0; round < 200; ++round) {
    const int want = 1 + (round * 7) % 5;  // 1..5: 5 means all 4
    const int expect = want < 4 ? want : 4;
    std::vector<std::atomic<int>> hits(4);
    std::atomic<int> bad{0}, phase{0};
    pool.run([&](int ith, int nth) {
      if (nth != expect || ith >= nth) ++bad;
      ++hits[static_cast<size_t>(ith)];
      phase.fetch_add(1);
      pool.barrier();
      if (phase.load() != nth) ++bad;  // every active thread passed phase 1
      pool.barrier();
    }, want);
    ASSERT_EQ(bad.load(), 0) << "round " << round << " active " << want;
    for (int i = 0; i < 4; ++i) ASSERT_EQ(hits[static_cast<size_t>(i)].load(), i < expect ? 1 : 0) << "round " << round;
  }
}

// The tuner measures every candidate (max, max/2, ..., 1), keeps the fastest
// by the median of its last runs, and re-measures others now and then, so it
// moves when the machine's load changes.
TEST(ThreadTuner, PicksTheFastestAndFollowsChanges) {
  ThreadTuner tuner(8);
  auto cost = [](int n, bool busy) { return busy ? 1.0 + 0.5 * n : 8.0 / n; };  // seconds per run
  std::vector<int> picks;
  for (int run = 0; run < 400; ++run) {
    const int n = tuner.pick();
    picks.push_back(n);
    tuner.record(n, cost(n, false));
  }
  EXPECT_EQ(tuner.best(), 8);
  int others = 0;
  for (size_t i = 100; i < picks.size(); ++i) others += picks[i] != 8;
  EXPECT_LE(others, 300 / ThreadTuner::kExploreEvery + 1) << "exploration stays rare";
  // One run disturbed by the machine does not flip the choice.
  tuner.record(8, 100.0);
  EXPECT_EQ(tuner.best(), 8);
  // Now the machine is busy: fewer threads are faster; the tuner must find 1.
  for (int run = 0; run < 2000; ++run) {
    const int n = tuner.pick();
    tuner.record(n, cost(n, true));
  }
  EXPECT_EQ(tuner.best(), 1);
  ThreadTuner single(1);
  EXPECT_EQ(single.pick(), 1);
}

TEST(ThreadPool, DefaultThreads) { EXPECT_GE(ThreadPool::default_threads(), 1); }

}  // namespace
}  // namespace qgml
