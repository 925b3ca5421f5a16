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
#include "qgml/session.h"
#include "qgml/tokenizer.h"

namespace qgml::cli {
namespace {

const char* kUsage =
    "usage: qgml perplexity -m MODEL -f TEXT [-c CTX] [-t THREADS] [--chunks N]\n"
    "  -c, --ctx-size N   tokens per chunk (default 512)\n"
    "      --chunks N     score at most N chunks (default: all)\n";

// −log softmax(logits)[target], in double.
double nll(const float* logits, int64_t n_vocab, int32_t target) {
  float max = logits[0];
  for (int64_t i = 1; i < n_vocab; ++i) max = std::max(max, logits[i]);
  double sum = 0;
  for (int64_t i = 0; i < n_vocab; ++i) sum += std::exp(static_cast<double>(logits[i] - max));
  return std::log(sum) - static_cast<double>(logits[target] - max);
}

int perplexity(const std::vector<std::string>& argv) {
  const Args args(argv, {{"-m", "--model"}, {"-f", "--file"}, {"-c", "--ctx-size"}, {"-t", "--threads"}, {"--chunks"}},
                  {{"-h", "--help"}});
  if (args.has("-h")) {
    std::fputs(kUsage, stdout);
    return 0;
  }
  const std::string text_path = args.require("-f");
  const int64_t n_ctx = args.get_int("-c", 512);
  if (n_ctx < 4) fail("-c must be at least 4");
  const std::unique_ptr<Model> model = Model::load(args.require("-m"));
  const Tokenizer& tok = model->tokenizer();
  const std::string text = read_file(text_path);
  const bool add_bos = tok.add_bos_default();
  const std::vector<int32_t> tokens = tok.encode(text, add_bos, false);

  int64_t n_chunks = static_cast<int64_t>(tokens.size()) / n_ctx;
  if (args.has("--chunks")) n_chunks = std::min(n_chunks, args.get_int("--chunks", n_chunks));
  if (n_chunks < 1)
    fail("%s: %zu tokens are fewer than one chunk of %lld (-c)", text_path.c_str(), tokens.size(),
         static_cast<long long>(n_ctx));

  SessionParams sp;
  sp.n_ctx = n_ctx;
  sp.n_threads = static_cast<int>(args.get_int("-t", 0));
  Session session(*model, sp);
  std::fprintf(stderr, "perplexity: %zu tokens, %lld chunks of %lld\n", tokens.size(), static_cast<long long>(n_chunks),
               static_cast<long long>(n_ctx));

  const int64_t n_vocab = model->hparams().n_vocab;
  const int64_t first = n_ctx / 2;
  double nll_sum = 0, nll2_sum = 0;
  int64_t count = 0;
  const auto t0 = std::chrono::steady_clock::now();
  for (int64_t c = 0; c < n_chunks; ++c) {
    std::vector<int32_t> chunk(tokens.begin() + c * n_ctx, tokens.begin() + (c + 1) * n_ctx);
    if (add_bos) chunk[0] = tok.bos();
    session.rewind(0);
    const std::vector<float>& logits = session.eval(chunk, true);
    for (int64_t j = first; j < n_ctx - 1; ++j) {
      const double v = nll(&logits[static_cast<size_t>(j * n_vocab)], n_vocab, tokens[c * n_ctx + j + 1]);
      nll_sum += v;
      nll2_sum += v * v;
      ++count;
    }
    std::printf("[%lld]%.4f,", static_cast<long long>(c + 1), std::exp(nll_sum / count));
    std::fflush(stdout);
    if (c == 0) {
      const double per = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      std::fprintf(stderr, "perplexity: %.2f s per chunk, about %.1f s in all\n", per, per * n_chunks);
    }
  }
  const double mean = nll_sum / count;
  const double var = nll2_sum / count - mean * mean;
  const double ppl = std::exp(mean);
  // Standard error of exp(mean nll) by the delta method, as llama.cpp reports it.
  const double err = ppl * std::sqrt(std::max(var, 0.0) / std::max<int64_t>(count - 1, 1));
  std::printf("\nFinal estimate: PPL = %.4f +/- %.5f\n", ppl, err);
  return 0;
}

}  // namespace

QGML_COMMAND(perplexity, "perplexity of a text, llama.cpp's protocol", perplexity);

}  // namespace qgml::cli
