// qgml/perplexity.h — perplexity of a token stream, llama.cpp's protocol:
// the tokens are split into chunks of n_ctx, each chunk starts with BOS (when
// the tokenizer adds one), and only the second half of each chunk is scored,
// so every scored token has at least n_ctx/2 tokens of context.
#pragma once
#include <cstdint>
#include <functional>
#include <vector>

#include "qgml/model.h"

namespace qgml {

struct PerplexityParams {
  int64_t n_ctx = 512;
  int64_t max_chunks = -1;  // < 0: all
  int n_threads = 0;        // 0: ThreadPool::default_threads()
  // Called after each chunk with the running estimate.
  std::function<void(int64_t chunk, int64_t n_chunks, double ppl)> on_chunk;
};

struct PerplexityResult {
  double ppl = 0;
  double stderr_ppl = 0;  // standard error of exp(mean nll), delta method (as llama.cpp)
  int64_t n_chunks = 0;
  int64_t n_scored = 0;
  double seconds = 0;
};

// tokens: the text encoded with BOS as the tokenizer adds it (encode(text, add_bos_default)).
// Throws qgml::Error when there are fewer tokens than one chunk or n_ctx < 4.
PerplexityResult perplexity(const Model& model, const std::vector<int32_t>& tokens, const PerplexityParams& params);

// Encodes `text` with the model's tokenizer and scores it.
PerplexityResult perplexity_of_text(const Model& model, const std::string& text, const PerplexityParams& params);

}  // namespace qgml
