// Perplexity, llama.cpp's protocol (see qgml/perplexity.h). Shared by
// `qgml perplexity` and the quantizer's before/after report.
#include "qgml/perplexity.h"

#include <algorithm>
#include <chrono>
#include <cmath>

#include "qgml/error.h"
#include "qgml/session.h"
#include "qgml/tokenizer.h"

namespace qgml {
namespace {

// −log softmax(logits)[target], in double.
double nll(const float* logits, int64_t n_vocab, int32_t target) {
  float max = logits[0];
  for (int64_t i = 1; i < n_vocab; ++i) max = std::max(max, logits[i]);
  double sum = 0;
  for (int64_t i = 0; i < n_vocab; ++i) sum += std::exp(static_cast<double>(logits[i] - max));
  return std::log(sum) - static_cast<double>(logits[target] - max);
}

}  // namespace

PerplexityResult perplexity(const Model& model, const std::vector<int32_t>& tokens, const PerplexityParams& params) {
  const int64_t n_ctx = params.n_ctx;
  if (n_ctx < 4) fail("perplexity: the context must be at least 4 tokens");
  int64_t n_chunks = static_cast<int64_t>(tokens.size()) / n_ctx;
  if (params.max_chunks >= 0) n_chunks = std::min(n_chunks, params.max_chunks);
  if (n_chunks < 1)
    fail("perplexity: %zu tokens are fewer than one chunk of %lld", tokens.size(), static_cast<long long>(n_ctx));
  const bool add_bos = model.has_tokenizer() && model.tokenizer().add_bos_default();

  SessionParams sp;
  sp.n_ctx = n_ctx;
  sp.n_threads = params.n_threads;
  Session session(model, sp);
  const int64_t n_vocab = model.hparams().n_vocab;
  const int64_t first = n_ctx / 2;
  double nll_sum = 0, nll2_sum = 0;
  int64_t count = 0;
  const auto t0 = std::chrono::steady_clock::now();
  for (int64_t c = 0; c < n_chunks; ++c) {
    std::vector<int32_t> chunk(tokens.begin() + c * n_ctx, tokens.begin() + (c + 1) * n_ctx);
    if (add_bos) chunk[0] = model.tokenizer().bos();
    session.rewind(0);
    const std::vector<float>& logits = session.eval(chunk, true);
    for (int64_t j = first; j < n_ctx - 1; ++j) {
      const double v = nll(&logits[static_cast<size_t>(j * n_vocab)], n_vocab, tokens[static_cast<size_t>(c * n_ctx + j + 1)]);
      nll_sum += v;
      nll2_sum += v * v;
      ++count;
    }
    if (params.on_chunk) params.on_chunk(c, n_chunks, std::exp(nll_sum / static_cast<double>(count)));
  }
  PerplexityResult r;
  const double mean = nll_sum / static_cast<double>(count);
  const double var = nll2_sum / static_cast<double>(count) - mean * mean;
  r.ppl = std::exp(mean);
  r.stderr_ppl = r.ppl * std::sqrt(std::max(var, 0.0) / static_cast<double>(std::max<int64_t>(count - 1, 1)));
  r.n_chunks = n_chunks;
  r.n_scored = count;
  r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return r;
}

PerplexityResult perplexity_of_text(const Model& model, const std::string& text, const PerplexityParams& params) {
  const Tokenizer& tok = model.tokenizer();
  return perplexity(model, tok.encode(text, tok.add_bos_default(), false), params);
}

}  // namespace qgml
