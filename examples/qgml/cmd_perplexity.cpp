// qgml perplexity — llama.cpp's protocol by default: the text is split into
// chunks of CTX tokens, each chunk starts with BOS, and only the second half
// of each chunk is scored (every scored token has at least CTX/2 of context).
#include <chrono>
#include <cmath>
#include <cstdio>

#include "args.h"
#include "command.h"
#include "qgml/error.h"
#include "qgml/io.h"
#include "qgml/model.h"
#include "qgml/perplexity.h"
#include "qgml/tokenizer.h"

namespace qgml::cli {
namespace {

const char* kUsage =
    "usage: qgml perplexity -m MODEL -f TEXT [-c CTX] [-t THREADS] [--chunks N]\n"
    "  -c, --ctx-size N   tokens per chunk (default 512)\n"
    "      --chunks N     score at most N chunks (default: all)\n";

int perplexity(const std::vector<std::string>& argv) {
  const Args args(argv,
                  {{"-m", "--model"}, {"-f", "--file"}, {"-c", "--ctx-size"}, {"-t", "--threads"}, {"--chunks"},
                   kGpuLayersFlag},
                  {{"-h", "--help"}});
  if (args.has("-h")) {
    std::fputs(kUsage, stdout);
    std::fputs(kGpuLayersHelp, stdout);
    return 0;
  }
  const std::string text_path = args.require("-f");
  const int64_t n_ctx = args.get_int("-c", 512);
  if (n_ctx < 4) fail("-c must be at least 4");
  const std::unique_ptr<Model> model = Model::load(args.require("-m"), true, gpu_layers(args));
  const Tokenizer& tok = model->tokenizer();
  const std::string text = read_file(text_path);
  const bool add_bos = tok.add_bos_default();
  const std::vector<int32_t> tokens = tok.encode(text, add_bos, false);

  int64_t n_chunks = static_cast<int64_t>(tokens.size()) / n_ctx;
  if (args.has("--chunks")) n_chunks = std::min(n_chunks, args.get_int("--chunks", n_chunks));
  if (n_chunks < 1)
    fail("%s: %zu tokens are fewer than one chunk of %lld (-c)", text_path.c_str(), tokens.size(),
         static_cast<long long>(n_ctx));

  PerplexityParams pp;
  pp.n_ctx = n_ctx;
  pp.max_chunks = n_chunks;
  pp.n_threads = static_cast<int>(args.get_int("-t", 0));
  const auto t0 = std::chrono::steady_clock::now();
  pp.on_chunk = [&](int64_t c, int64_t total, double ppl) {
    std::printf("[%lld]%.4f,", static_cast<long long>(c + 1), ppl);
    std::fflush(stdout);
    if (c == 0) {
      const double per = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      std::fprintf(stderr, "perplexity: %.2f s per chunk, about %.1f s in all\n", per, per * total);
    }
  };
  std::fprintf(stderr, "perplexity: %zu tokens, %lld chunks of %lld\n", tokens.size(), static_cast<long long>(n_chunks),
               static_cast<long long>(n_ctx));
  const PerplexityResult r = perplexity(*model, tokens, pp);
  std::printf("\nFinal estimate: PPL = %.4f +/- %.5f\n", r.ppl, r.stderr_ppl);
  return 0;
}

}  // namespace

QGML_COMMAND(perplexity, "perplexity of a text, llama.cpp's protocol", perplexity);

}  // namespace qgml::cli
