// Block-by-block calibration (convert/src/quantize/calibrate.h) takes one of
// three paths by memory budget: products kept for the whole block, inputs
// kept but products recomputed per window, or nothing kept (the graph's own
// mul_mat). They must hand the quantizer the same Hessians. Large models
// take the cheaper paths, which small test models never reach by default.
//
// Tolerance: the paths differ only in how the linear products are summed
// (linalg::gemm or the dot kernels), so every Hessian entry agrees within
// 1e-4 of the largest diagonal entry of its matrix.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <string>
#include <vector>

#include "qgml/model.h"
#include "qgml/threadpool.h"
#include "quantize/calibrate.h"
#include "test_util.h"

using namespace qgml;

namespace {

// The Hessian each linear was quantized with, by name; the "quantizer"
// rounds every weight to a multiple of 1/16, so later stages see changed
// weights as with a real quantizer.
std::map<std::string, std::vector<float>> run(const Model& m, const std::vector<std::vector<int32_t>>& windows,
                                              size_t budget, bool expect_cached) {
  std::map<std::string, std::vector<float>> hessians;
  ThreadPool pool(2);
  quantize::CalibrateOptions opt;
  opt.cache_budget_bytes = budget;
  const quantize::CalibrationStats st = quantize::calibrate(m, windows, pool, [&](const quantize::LinearInfo& l, const float* H) {
    hessians[l.name].assign(H, H + l.cols * l.cols);
    std::vector<float> w(static_cast<size_t>(l.rows * l.cols));
    traits(l.weight->type).to_float(l.weight->data, w.data(), l.rows * l.cols);
    for (float& x : w) x = std::round(x * 16.0f) / 16.0f;
    return w;
  }, opt);
  EXPECT_EQ(st.cached, expect_cached) << "budget " << budget << " took another path than intended";
  return hessians;
}

TEST(CalibratePaths, EveryMemoryBudgetGivesTheSameHessians) {
  const auto model = Model::load(test::source_dir() + "/models/stories260K/stories260K.gguf");
  const int64_t T = 32;
  std::vector<std::vector<int32_t>> windows(3, std::vector<int32_t>(T));
  for (size_t w = 0; w < windows.size(); ++w)
    for (int64_t t = 0; t < T; ++t) windows[w][static_cast<size_t>(t)] = static_cast<int32_t>((w * 131 + t * 17 + 5) % 512);

  const auto all = run(*model, windows, size_t{1} << 30, true);
  // stories260K's block: inputs 3 windows × 32 × (64 + 64 + 64 + 172) floats ≈ 140 KB,
  // products ≈ 3 × 32 × (64·4 + 172·2 + 64) floats ≈ 255 KB.
  const auto inputs_only = run(*model, windows, 200 * 1024, true);
  const auto none = run(*model, windows, 0, false);
  ASSERT_EQ(all.size(), static_cast<size_t>(model->hparams().n_layer) * 7);
  for (const auto* other : {&inputs_only, &none}) {
    ASSERT_EQ(other->size(), all.size());
    for (const auto& [name, H] : all) {
      const std::vector<float>& G = other->at(name);
      ASSERT_EQ(G.size(), H.size()) << name;
      const int64_t n = static_cast<int64_t>(std::sqrt(static_cast<double>(H.size())));
      double diag = 0, worst = 0;
      for (int64_t i = 0; i < n; ++i) diag = std::max(diag, static_cast<double>(H[static_cast<size_t>(i * n + i)]));
      for (size_t i = 0; i < H.size(); ++i) worst = std::max(worst, std::fabs(static_cast<double>(H[i]) - G[i]));
      EXPECT_GT(diag, 0.0) << name;
      EXPECT_LE(worst, 1e-4 * diag) << name << (other == &none ? " (nothing kept)" : " (inputs kept)");
    }
  }
}

}  // namespace
