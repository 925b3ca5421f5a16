// The sampler: greedy picks the argmax, a seed reproduces the same draws,
// draws follow the softmax at the given temperature, and each cut (top-k,
// top-p, min-p) and the repetition penalty do what they promise.
#include <cmath>
#include <map>
#include <set>

#include "qgml/sampling.h"
#include "test_util.h"

using qgml::Sampler;
using qgml::SamplerParams;

namespace {

SamplerParams plain(float temp) {
  SamplerParams p;
  p.temp = temp;
  p.top_k = 0;
  p.top_p = 1.0f;
  p.min_p = 0.0f;
  return p;
}

}  // namespace

TEST(Sampling, GreedyIsArgmax) {
  const std::vector<float> logits = qgml::test::random_floats(1000, 1, -5, 5);
  size_t best = 0;
  for (size_t i = 1; i < logits.size(); ++i)
    if (logits[i] > logits[best]) best = i;
  Sampler s(plain(0.0f));
  EXPECT_EQ(s.sample(logits.data(), 1000), static_cast<int32_t>(best));
}

TEST(Sampling, SeedReproducesAndSeedsDiffer) {
  const std::vector<float> logits = qgml::test::random_floats(500, 2, -2, 2);
  auto draw = [&](uint64_t seed) {
    SamplerParams p = plain(1.0f);
    p.seed = seed;
    Sampler s(p);
    std::vector<int32_t> out;
    for (int i = 0; i < 50; ++i) out.push_back(s.sample(logits.data(), 500));
    return out;
  };
  EXPECT_EQ(draw(7), draw(7));
  EXPECT_NE(draw(7), draw(8));
}

TEST(Sampling, FrequenciesFollowSoftmaxAtTemperature) {
  const std::vector<float> logits = {1.0f, 2.0f, 0.5f, -1.0f, 1.5f};
  const float temp = 0.7f;
  double z = 0;
  std::vector<double> p(logits.size());
  for (size_t i = 0; i < logits.size(); ++i) z += p[i] = std::exp(logits[i] / temp);
  SamplerParams sp = plain(temp);
  sp.seed = 123;
  Sampler s(sp);
  const int n = 200000;
  std::vector<int> count(logits.size());
  for (int i = 0; i < n; ++i) ++count[static_cast<size_t>(s.sample(logits.data(), 5))];
  for (size_t i = 0; i < logits.size(); ++i) {
    const double expect = p[i] / z;
    const double sigma = std::sqrt(expect * (1 - expect) / n);
    EXPECT_NEAR(static_cast<double>(count[i]) / n, expect, 5 * sigma) << "token " << i;
  }
}

TEST(Sampling, TopKKeepsOnlyTheKBest) {
  const std::vector<float> logits = {0.1f, 3.0f, 2.9f, 2.8f, 0.0f, -1.0f};
  SamplerParams sp = plain(5.0f);  // hot: without the cut every token would appear
  sp.top_k = 3;
  Sampler s(sp);
  std::set<int32_t> seen;
  for (int i = 0; i < 3000; ++i) seen.insert(s.sample(logits.data(), 6));
  EXPECT_EQ(seen, (std::set<int32_t>{1, 2, 3}));
}

TEST(Sampling, TopPKeepsTheSmallestNucleus) {
  // Probabilities at temperature 1: about 0.66, 0.24, 0.09, 0.01.
  const std::vector<float> logits = {3.0f, 2.0f, 1.0f, -1.0f};
  SamplerParams sp = plain(1.0f);
  sp.top_p = 0.8f;  // 0.66 < 0.8 ≤ 0.90: the first two tokens
  Sampler s(sp);
  std::set<int32_t> seen;
  for (int i = 0; i < 3000; ++i) seen.insert(s.sample(logits.data(), 4));
  EXPECT_EQ(seen, (std::set<int32_t>{0, 1}));
}

TEST(Sampling, MinPDropsUnlikelyTokens) {
  const std::vector<float> logits = {3.0f, 2.0f, 1.0f, -1.0f};
  SamplerParams sp = plain(1.0f);
  sp.min_p = 0.2f;  // keeps tokens with p ≥ 0.2·p_max: e^-1 = 0.37 yes, e^-2 = 0.14 no
  Sampler s(sp);
  std::set<int32_t> seen;
  for (int i = 0; i < 3000; ++i) seen.insert(s.sample(logits.data(), 4));
  EXPECT_EQ(seen, (std::set<int32_t>{0, 1}));
}

TEST(Sampling, RepetitionPenaltyDemotesRecentTokens) {
  const std::vector<float> logits = {2.0f, 1.9f, -3.0f};
  SamplerParams sp = plain(0.0f);
  sp.repeat_penalty = 1.5f;  // 2.0 / 1.5 = 1.33 < 1.9
  Sampler s(sp);
  EXPECT_EQ(s.sample(logits.data(), 3), 0);
  s.accept(0);
  EXPECT_EQ(s.sample(logits.data(), 3), 1);
}
