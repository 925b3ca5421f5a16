// qgml/sampling.h — choosing the next token from logits.
//
// The chain follows llama.cpp's order: repetition penalty, top-k, top-p,
// min-p, temperature, then a draw. temp <= 0 is greedy (argmax). Draws use a
// portable generator, so a seed gives the same tokens on every platform.
#pragma once
#include <cstdint>
#include <deque>
#include <vector>

namespace qgml {

struct SamplerParams {
  float temp = 0.8f;
  int32_t top_k = 40;          // <= 0: off
  float top_p = 0.95f;         // >= 1: off
  float min_p = 0.05f;         // <= 0: off
  float repeat_penalty = 1.0f; // 1: off
  int32_t repeat_last_n = 64;  // how many recent tokens the penalty looks at
  uint64_t seed = 0;
};

class Sampler {
 public:
  explicit Sampler(const SamplerParams& p);

  // Picks a token from n_vocab logits (not modified).
  int32_t sample(const float* logits, int64_t n_vocab);
  // Records a token as part of the context (for the repetition penalty).
  void accept(int32_t token);

 private:
  double uniform();  // [0, 1) from the seeded generator
  SamplerParams p_;
  uint64_t state_;
  std::deque<int32_t> recent_;
  std::vector<std::pair<float, int32_t>> cand_;
};

}  // namespace qgml
