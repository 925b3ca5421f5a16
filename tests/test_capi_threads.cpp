// One model, several contexts on several threads: each thread's tokens must
// be exactly those the same generation gives alone on one thread (the model is
// shared read-only; every context has its own KV cache and thread pool).
#include <gtest/gtest.h>

#include <string>
#include <thread>
#include <vector>

#include "qgml.h"
#include "test_util.h"

namespace {

std::string model_path() { return qgml::test::source_dir() + "/models/stories260K/stories260K.gguf"; }

struct Job {
  std::string prompt;
  float temp;
  uint64_t seed;
};

int collect(int32_t token, const char*, size_t, void* user) {
  static_cast<std::vector<int32_t>*>(user)->push_back(token);
  return 0;
}

// Generates on a fresh context of `model`; callable from any thread.
std::vector<int32_t> run_job(qg_model* model, const Job& job, int32_t n_threads) {
  std::vector<int32_t> tokens;
  qg_context_params cp = qg_context_default_params();
  cp.n_ctx = 256;
  cp.n_threads = n_threads;
  qg_context* ctx = nullptr;
  if (qg_context_new(model, &cp, &ctx) != QG_OK) {
    ADD_FAILURE() << qg_last_error();
    return tokens;
  }
  qg_sampler_params sp = qg_sampler_default_params();
  sp.temp = job.temp;
  sp.seed = job.seed;
  qg_sampler* smp = nullptr;
  EXPECT_EQ(qg_sampler_new(&sp, &smp), QG_OK);
  qg_generate_params gp = qg_generate_default_params();
  gp.n_predict = 80;
  gp.ignore_eos = 1;  // always the full length, so the comparison covers every position
  EXPECT_EQ(qg_generate(ctx, job.prompt.c_str(), &gp, smp, collect, &tokens, nullptr), QG_OK) << qg_last_error();
  qg_sampler_free(smp);
  qg_context_free(ctx);
  return tokens;
}

void check_parallel_equals_serial(int32_t n_threads_per_context) {
  qg_model* model = nullptr;
  ASSERT_EQ(qg_model_load(model_path().c_str(), nullptr, &model), QG_OK) << qg_last_error();
  // One greedy and one sampled generation: two threads, two contexts.
  const std::vector<Job> jobs = {{"Once upon a time", 0.0f, 0}, {"The little dog", 0.9f, 42}};
  std::vector<std::vector<int32_t>> serial;
  for (const Job& j : jobs) serial.push_back(run_job(model, j, n_threads_per_context));
  for (const auto& s : serial) ASSERT_EQ(s.size(), 80u);

  for (int round = 0; round < 2; ++round) {
    std::vector<std::vector<int32_t>> parallel(jobs.size());
    std::vector<std::thread> threads;
    for (size_t i = 0; i < jobs.size(); ++i)
      threads.emplace_back([&, i] { parallel[i] = run_job(model, jobs[i], n_threads_per_context); });
    for (auto& t : threads) t.join();
    for (size_t i = 0; i < jobs.size(); ++i) EXPECT_EQ(parallel[i], serial[i]) << "job " << i << ", round " << round;
  }
  qg_model_free(model);
}

TEST(CApiThreads, ParallelContextsEqualSerialOneThreadEach) { check_parallel_equals_serial(1); }
TEST(CApiThreads, ParallelContextsEqualSerialTwoThreadsEach) { check_parallel_equals_serial(2); }

// Two threads taking turns on one context (never at the same time) is allowed.
TEST(CApiThreads, OneContextHandedBetweenThreads) {
  qg_model* model = nullptr;
  ASSERT_EQ(qg_model_load(model_path().c_str(), nullptr, &model), QG_OK);
  qg_context* ctx = nullptr;
  ASSERT_EQ(qg_context_new(model, nullptr, &ctx), QG_OK);
  std::vector<int32_t> a, b;
  qg_generate_params gp = qg_generate_default_params();
  gp.n_predict = 30;
  std::thread([&] { EXPECT_EQ(qg_generate(ctx, "Once", &gp, nullptr, collect, &a, nullptr), QG_OK); }).join();
  std::thread([&] { EXPECT_EQ(qg_generate(ctx, "Once", &gp, nullptr, collect, &b, nullptr), QG_OK); }).join();
  EXPECT_EQ(a, b);
  EXPECT_FALSE(a.empty());
  qg_context_free(ctx);
  qg_model_free(model);
}

}  // namespace
