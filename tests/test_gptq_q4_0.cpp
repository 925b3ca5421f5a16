// Export for llama.cpp (issue #6): `qgml quantize --format q4_0|q4_1`.
//  * qgml's round-to-nearest Q4_0 / Q4_1 / Q8_0 are bit-identical to
//    llama.cpp's (goldens written by llama.cpp's own library, see
//    tests/data/q4_0/README.md);
//  * GPTQ on llama.cpp's grids beats llama.cpp's RTN on the layer objective
//    ‖(W − Ŵ)·X‖² with correlated inputs, and decodes to what it packs;
//  * stories260K end to end: the files use llama.cpp's type ids only (no
//    permutation tensors), K = 172 rows stay F16, and GPTQ Q4_0 has a lower
//    perplexity than llama.cpp's RTN Q4_0 of the same tensors.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "qgml/error.h"
#include "qgml/fp16.h"
#include "qgml/gguf.h"
#include "qgml/io.h"
#include "qgml/model.h"
#include "qgml/perplexity.h"
#include "qgml/types.h"
#include "quantize/gptq.h"
#include "test_util.h"

using namespace qgml;

namespace {

std::string data_file(const std::string& name) { return test::source_dir() + "/tests/data/q4_0/" + name; }
std::string model_path() { return test::source_dir() + "/models/stories260K/stories260K.gguf"; }
std::string calib_path() { return test::source_dir() + "/models/stories260K/calib.txt"; }

constexpr int64_t kGoldenCols = 64;

std::vector<float> golden_input() {
  const std::string b = read_file(data_file("input_f32.bin"));
  std::vector<float> v(b.size() / 4);
  std::memcpy(v.data(), b.data(), v.size() * 4);
  return v;
}

void expect_rtn_matches(Type t, const char* golden) {
  const std::vector<float> x = golden_input();
  const int64_t rows = static_cast<int64_t>(x.size()) / kGoldenCols;
  ASSERT_EQ(rows, 24);
  const std::string want = read_file(data_file(golden));
  const size_t rs = row_size(t, kGoldenCols);
  ASSERT_EQ(want.size(), rs * static_cast<size_t>(rows));
  std::vector<uint8_t> got(want.size());
  for (int64_t r = 0; r < rows; ++r) traits(t).from_float(x.data() + r * kGoldenCols, got.data() + r * rs, kGoldenCols);
  for (int64_t r = 0; r < rows; ++r)
    EXPECT_EQ(0, std::memcmp(got.data() + r * rs, want.data() + r * rs, rs)) << type_name(t) << ": row " << r << " differs from llama.cpp";
}

// Inputs with strongly correlated features (what makes GPTQ's feedback pay).
std::vector<float> correlated_inputs(int64_t n, int64_t K, std::mt19937& rng) {
  std::normal_distribution<float> nd;
  std::vector<float> mix(static_cast<size_t>(K * K)), X(static_cast<size_t>(n * K));
  for (auto& v : mix) v = nd(rng) / std::sqrt(static_cast<float>(K));
  for (int64_t i = 0; i < K; ++i) mix[static_cast<size_t>(i * K + i)] += 1.0f;
  std::vector<float> z(static_cast<size_t>(K));
  for (int64_t t = 0; t < n; ++t) {
    for (auto& v : z) v = nd(rng) * (1.0f + 3.0f * static_cast<float>(&v - z.data() < 8));
    for (int64_t j = 0; j < K; ++j) {
      float s = 0;
      for (int64_t i = 0; i < K; ++i) s += z[static_cast<size_t>(i)] * mix[static_cast<size_t>(i * K + j)];
      X[static_cast<size_t>(t * K + j)] = s;
    }
  }
  return X;
}

// Σ_t Σ_r ((W − Ŵ)·x_t)_r²
double output_error(const std::vector<float>& W, const std::vector<float>& Wq, int64_t rows, int64_t K, const std::vector<float>& X) {
  const int64_t n = static_cast<int64_t>(X.size()) / K;
  double e = 0;
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t t = 0; t < n; ++t) {
      double s = 0;
      for (int64_t j = 0; j < K; ++j)
        s += (static_cast<double>(W[static_cast<size_t>(r * K + j)]) - Wq[static_cast<size_t>(r * K + j)]) * X[static_cast<size_t>(t * K + j)];
      e += s * s;
    }
  return e;
}

}  // namespace

TEST(LlamaCppRtn, Q4_0BitIdenticalToLlamaCpp) { expect_rtn_matches(Type::Q4_0, "q4_0.bin"); }
TEST(LlamaCppRtn, Q4_1BitIdenticalToLlamaCpp) { expect_rtn_matches(Type::Q4_1, "q4_1.bin"); }
TEST(LlamaCppRtn, Q8_0BitIdenticalToLlamaCpp) { expect_rtn_matches(Type::Q8_0, "q8_0.bin"); }

TEST(GptqLlamaGrid, BeatsLlamaCppRtnOnTheLayerObjectiveAndDecodesToWhatItPacks) {
  std::mt19937 rng(7);
  const int64_t rows = 48, K = 128, n = 512;
  std::normal_distribution<float> nd;
  std::vector<float> W(static_cast<size_t>(rows * K));
  for (auto& v : W) v = 0.05f * nd(rng);
  const std::vector<float> X = correlated_inputs(n, K, rng);
  std::vector<float> H(static_cast<size_t>(K * K), 0.0f);
  for (int64_t t = 0; t < n; ++t)
    for (int64_t a = 0; a < K; ++a)
      for (int64_t b = 0; b < K; ++b) H[static_cast<size_t>(a * K + b)] += 2.0f * X[static_cast<size_t>(t * K + a)] * X[static_cast<size_t>(t * K + b)];

  for (Type t : {Type::Q4_0, Type::Q4_1}) {
    // llama.cpp's RTN through the type's from_float (checked bit for bit above).
    const size_t rs = row_size(t, K);
    std::vector<uint8_t> rtn_bytes(rs * static_cast<size_t>(rows));
    std::vector<float> rtn(W.size());
    for (int64_t r = 0; r < rows; ++r) {
      traits(t).from_float(W.data() + r * K, rtn_bytes.data() + r * rs, K);
      traits(t).to_float(rtn_bytes.data() + r * rs, rtn.data() + r * K, K);
    }
    const double e_rtn = output_error(W, rtn, rows, K, X);
    for (bool act_order : {false, true}) {
      quantize::LayerSpec s;
      s.grid = t == Type::Q4_0 ? quantize::Grid::Q4_0 : quantize::Grid::Q4_1;
      s.group = 32;
      s.sym = t == Type::Q4_0;
      s.act_order = act_order;
      s.block = 64;  // blocks of 32 inside lazy batches, and act-order reaching across batches
      const quantize::QuantizedLayer L = quantize::gptq(W.data(), rows, K, H.data(), s, nullptr);
      EXPECT_EQ(L.type, t);
      EXPECT_TRUE(L.perm.empty()) << "llama.cpp cannot store a permutation";
      const std::vector<uint8_t> bytes = L.pack();
      ASSERT_EQ(bytes.size(), rs * static_cast<size_t>(rows));
      std::vector<float> via_type(W.size()), via_layer(W.size());
      for (int64_t r = 0; r < rows; ++r) traits(t).to_float(bytes.data() + r * rs, via_type.data() + r * K, K);
      L.dequantize(via_layer.data());
      EXPECT_EQ(via_type, via_layer);
      // Every block's scale is an f16 value (the one GPTQ rounded against).
      for (float d : L.scale) EXPECT_EQ(d, fp16_to_f32(f32_to_fp16(d)));
      const double e_gptq = output_error(W, via_type, rows, K, X);
      std::fprintf(stderr, "%s act-order %d: ||(W-Q)X||^2 gptq %.4g, llama.cpp rtn %.4g (%.2fx)\n", type_name(t), act_order,
                   e_gptq, e_rtn, e_rtn / e_gptq);
      EXPECT_LT(e_gptq, 0.8 * e_rtn) << type_name(t) << " act-order " << act_order;
    }
  }
}

TEST(GptqLlamaGrid, IdentityHessianIsRoundToNearestOnTheF16Scale) {
  // With H = I there is no feedback: each weight rounds to the nearest point
  // of its block's grid, d = f16(max/−8) chosen as llama.cpp chooses it.
  std::mt19937 rng(3);
  std::normal_distribution<float> nd;
  const int64_t rows = 4, K = 64;
  std::vector<float> W(static_cast<size_t>(rows * K)), H(static_cast<size_t>(K * K), 0.0f);
  for (auto& v : W) v = nd(rng);
  for (int64_t j = 0; j < K; ++j) H[static_cast<size_t>(j * K + j)] = 1.0f;
  quantize::LayerSpec s;
  s.grid = quantize::Grid::Q4_0;
  s.group = 32;
  s.sym = true;
  s.act_order = false;
  s.damp = 0;
  const quantize::QuantizedLayer L = quantize::gptq(W.data(), rows, K, H.data(), s, nullptr);
  std::vector<float> Q(W.size());
  L.dequantize(Q.data());
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t b = 0; b < K / 32; ++b) {
      const float* x = &W[static_cast<size_t>(r * K + b * 32)];
      float amax = 0, mx = 0;
      for (int i = 0; i < 32; ++i)
        if (std::fabs(x[i]) > amax) amax = std::fabs(x[i]), mx = x[i];
      const float d = fp16_to_f32(f32_to_fp16(mx / -8.0f));
      for (int i = 0; i < 32; ++i) {
        const float q = std::fmin(15.0f, std::fmax(0.0f, std::nearbyint(x[i] / d) + 8.0f));
        EXPECT_EQ(Q[static_cast<size_t>(r * K + b * 32 + i)], d * (q - 8.0f)) << "row " << r << " col " << b * 32 + i;
      }
    }
}

TEST(QuantizeLlamaFormat, BadCombinationsAreRefused) {
  test::TempDir dir;
  const std::string out = dir.file("out.gguf");
  const std::string base = "quantize -m '" + model_path() + "' -o '" + out + "' --calib '" + calib_path() + "' ";
  for (const char* a : {"--format q4_0 --bits 3", "--format q4_0 --group 64", "--format q4_1 --sym", "--format q4_0 --method nf4",
                        "--format q5_0", "--format q4_0 --method gptq-nf4"}) {
    EXPECT_NE(test::run_cli(base + a + " 2>/dev/null").exit_code, 0) << a;
    EXPECT_FALSE(test::file_exists(out)) << a;
  }
}

TEST(QuantizeLlamaFormat, Stories260KGptqQ4_0UsesLlamaCppTypesAndBeatsLlamaCppRtn) {
  test::TempDir dir;
  const std::string gptq = dir.file("gptq.gguf"), rtn = dir.file("rtn.gguf"), gptq1 = dir.file("gptq1.gguf");
  const std::string common = " -m '" + model_path() + "' -t 2 ";
  const std::string calib = "--calib '" + calib_path() + "' --calib-samples 32 --calib-ctx 128 ";
  ASSERT_EQ(test::run_cli("quantize" + common + "-o '" + gptq + "' --format q4_0 " + calib + "2>/dev/null").exit_code, 0);
  ASSERT_EQ(test::run_cli("quantize" + common + "-o '" + gptq1 + "' --format q4_1 " + calib + "2>/dev/null").exit_code, 0);
  ASSERT_EQ(test::run_cli("quantize" + common + "-o '" + rtn + "' --format q4_0 --method rtn 2>/dev/null").exit_code, 0);

  const auto f32 = Model::load(model_path());
  const auto q = Model::load(gptq), r = Model::load(rtn), q1 = Model::load(gptq1);
  for (const Model* m : {q.get(), r.get(), q1.get()}) {
    for (const auto& t : m->file().tensors()) {
      EXPECT_LT(traits(t.type).gguf_id, gguf::kQgmlTypeIdBase) << t.name << " is " << type_name(t.type);
      EXPECT_EQ(t.name.find(".perm"), std::string::npos) << t.name;
    }
    EXPECT_EQ(m->file().find_tensor("blk.0.ffn_down.weight")->type, Type::F16);  // K = 172: no 32-block type fits
  }
  EXPECT_EQ(q->file().find_tensor("blk.2.attn_q.weight")->type, Type::Q4_0);
  EXPECT_EQ(q->file().find_tensor("blk.2.ffn_up.weight")->type, Type::Q4_0);
  EXPECT_EQ(q1->file().find_tensor("blk.2.ffn_gate.weight")->type, Type::Q4_1);

  // The RTN file holds exactly llama.cpp's RTN of the float weights.
  const gguf::TensorInfo* src = f32->file().find_tensor("blk.3.attn_output.weight");
  const gguf::TensorInfo* dst = r->file().find_tensor("blk.3.attn_output.weight");
  ASSERT_EQ(src->type, Type::F32);
  ASSERT_EQ(dst->type, Type::Q4_0);
  const int64_t K = src->ne[0], rows = src->ne[1];
  std::vector<uint8_t> want(row_size(Type::Q4_0, K) * static_cast<size_t>(rows));
  traits(Type::Q4_0).from_float(static_cast<const float*>(f32->file().tensor_data(*src)), want.data(), K * rows);
  EXPECT_EQ(0, std::memcmp(want.data(), r->file().tensor_data(*dst), want.size()));

  QGML_REQUIRE_SHARED(text, "data/text/tinystories_train_head2MiB.txt");
  const std::string eval = read_file(text).substr(0, 65536);  // calib.txt comes from offset 1 MiB: no overlap
  PerplexityParams pp;
  pp.n_ctx = 128;
  pp.n_threads = 2;
  const double p_gptq = perplexity_of_text(*q, eval, pp).ppl, p_rtn = perplexity_of_text(*r, eval, pp).ppl;
  const double p_f32 = perplexity_of_text(*f32, eval, pp).ppl;
  std::fprintf(stderr, "stories260K -c 128 on 64 KiB: f32 %.4f, gptq q4_0 %.4f, llama.cpp rtn q4_0 %.4f\n", p_f32, p_gptq, p_rtn);
  EXPECT_LT(p_gptq, p_rtn);
  EXPECT_LT(p_f32, p_gptq);
}
