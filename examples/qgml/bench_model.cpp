// qgml bench -m MODEL — prompt processing and generation speed, like
// llama-bench: random token ids (no tokenizer needed), several repetitions,
// the median reported, plus the share of memory bandwidth generation reaches.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <random>

#include "args.h"
#include "bench.h"
#include "qgml/cpu.h"
#include "qgml/error.h"
#include "qgml/gpu.h"
#include "qgml/model.h"
#include "qgml/session.h"

namespace qgml::cli {
namespace {

struct Stats {
  double median, mean, stddev;
};

Stats summarize(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  Stats s{};
  s.median = v.size() % 2 ? v[v.size() / 2] : 0.5 * (v[v.size() / 2 - 1] + v[v.size() / 2]);
  for (double x : v) s.mean += x / static_cast<double>(v.size());
  for (double x : v) s.stddev += (x - s.mean) * (x - s.mean);
  s.stddev = v.size() > 1 ? std::sqrt(s.stddev / static_cast<double>(v.size() - 1)) : 0.0;
  return s;
}

double now() { return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count(); }

}  // namespace

int run_model_bench(const std::vector<std::string>& argv) {
  const Args args(argv,
                  {{"-m", "--model"}, {"-p", "--n-prompt"}, {"-n", "--n-gen"}, {"-t", "--threads"}, {"-r", "--repetitions"},
                   {"--bandwidth"}, kGpuLayersFlag},
                  {{"-h", "--help"}});
  if (args.has("-h")) {
    std::printf(
        "usage: qgml bench -m MODEL [-p 512] [-n 128] [-t THREADS] [-r 5] [--bandwidth GB/s]\n"
        "       qgml bench --kernels ...   (kernel benchmark)\n"
        "  --bandwidth GB/s   memory read bandwidth to compare generation against\n%s", kGpuLayersHelp);
    return 0;
  }
  const int64_t n_prompt = args.get_int("-p", 512), n_gen = args.get_int("-n", 128);
  const int reps = static_cast<int>(args.get_int("-r", 5));
  const int threads = static_cast<int>(args.get_int("-t", 0));
  if (n_prompt < 0 || n_gen < 0 || reps < 1) fail("-p and -n must be >= 0 and -r >= 1");
  const auto model = Model::load(args.require("-m"), true, gpu_layers(args));
  const HParams& hp = model->hparams();

  SessionParams sp;
  sp.n_ctx = std::max<int64_t>(n_prompt + n_gen + 1, 16);
  sp.n_threads = threads;
  Session session(*model, sp);
  std::mt19937 rng(42);
  std::uniform_int_distribution<int32_t> tok(0, static_cast<int32_t>(hp.n_vocab - 1));

  std::printf("model: %s, %s, %.2f MiB of weights, %lld layers; kernels: %s; threads: %d\n", args.get("-m").c_str(),
              hp.arch.c_str(), static_cast<double>(model->weight_bytes()) / (1 << 20), static_cast<long long>(hp.n_layer),
              isa_name(active_isa()), threads > 0 ? threads : ThreadPool::default_threads());
  if (gpu::compiled())
    std::printf("gpu: %s; %d layers resident\n", gpu::description().c_str(), model->n_gpu_layers());
  std::printf("| %-8s | %12s | %10s |\n", "test", "t/s (median)", "± std");
  std::printf("|----------|--------------|------------|\n");
  double tg_median = 0;
  for (const auto& [name, n, batched] : {std::tuple<const char*, int64_t, bool>{"pp", n_prompt, true}, {"tg", n_gen, false}}) {
    if (n == 0) continue;
    std::vector<double> rates;
    for (int r = 0; r < reps + 1; ++r) {  // the first run warms caches and is not counted
      session.rewind(0);
      std::vector<int32_t> ids(static_cast<size_t>(n));
      for (int32_t& id : ids) id = tok(rng);
      const double t0 = now();
      if (batched) {
        session.eval(ids);
      } else {
        session.eval({tok(rng)});  // generation starts after one token of context
        const double t1 = now();
        for (int32_t id : ids) session.eval({id});
        if (r > 0) rates.push_back(static_cast<double>(n) / (now() - t1));
        continue;
      }
      if (r > 0) rates.push_back(static_cast<double>(n) / (now() - t0));
    }
    const Stats s = summarize(rates);
    std::printf("| %s%-6lld | %12.2f | %10.2f |\n", name, static_cast<long long>(n), s.median, s.stddev);
    if (!batched) tg_median = s.median;
  }
  if (n_gen > 0) std::printf("generation settled on %d thread(s) (adaptive; QGML_ADAPTIVE_THREADS=0 fixes -t)\n", session.generation_threads());
  if (tg_median > 0) {
    const double gbs = tg_median * static_cast<double>(model->weight_bytes()) / 1e9;
    std::printf("generation streams %.2f GB/s of weights", gbs);
    if (args.has("--bandwidth")) std::printf(" = %.1f %% of %.2f GB/s", 100.0 * gbs / args.get_float("--bandwidth", 1), args.get_float("--bandwidth", 1));
    std::printf("\n");
  }
  return 0;
}

}  // namespace qgml::cli
