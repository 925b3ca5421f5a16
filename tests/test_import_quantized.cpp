// Importing quantized Hugging Face checkpoints (GPTQ v1/v2, AWQ, bitsandbytes
// NF4 with double quant) without requantizing, and `qgml dequantize` back.
//
// The references are ../shared/data/quantized-hf/*/reference.safetensors: each
// library's own dequantization (F32, HF layout) of every quantized linear of
// blocks 0 and 7. The imported tensors, decoded by qgml's type definitions
// with act-order and q/k re-layouts undone, must equal them bit for bit.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "convert_test_util.h"
#include "qgml/convert.h"
#include "qgml/error.h"
#include "qgml/gguf.h"
#include "qgml/model.h"
#include "qgml/quant.h"
#include "qgml/session.h"
#include "safetensors.h"
#include "test_util.h"

using namespace qgml;

namespace {

struct Fixture {
  const char* dir;
  Type type;       // what every quantized linear must become
  bool act_order;  // whether .perm tensors are expected
};

const Fixture kFixtures[] = {
    {"house-llama-gptq-4bit-g128-sym-actorder", Type::GPTQ4S_G128, true},
    {"house-llama-gptq-4bit-g128-asym", Type::GPTQ4_G128, false},
    {"house-llama-gptq-3bit-g128-sym-actorder", Type::GPTQ3S_G128, true},
    {"house-llama-gptq-2bit-g64-asym", Type::GPTQ2_G64, false},
    {"house-llama-gptq-8bit-g-1-sym", Type::Q8_0, false},
    {"house-llama-gptqv2-4bit-g128-asym", Type::GPTQ4_G128, false},
    {"house-llama-awq-4bit-g128", Type::GPTQ4_G128, false},
    {"house-llama-bnb-nf4-dq", Type::NF4_F32, false},
};

std::string fixture_path(const char* dir) { return std::string("data/quantized-hf/") + dir; }

const char* kLinears[] = {"self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj", "self_attn.o_proj",
                          "mlp.gate_proj",    "mlp.up_proj",      "mlp.down_proj"};
const char* kGguf[] = {"attn_q", "attn_k", "attn_v", "attn_output", "ffn_gate", "ffn_up", "ffn_down"};

// nf4_f32 blocks decoded from the layout the spec fixes (f32 absmax, element
// j low nibble of byte 4+j, j+32 high), for builds where the type's to_float
// is not registered yet.
void decode_nf4_f32(const uint8_t* src, float* dst, int64_t n) {
  static const float kCodes[16] = {-1.0f, -0.6961928009986877f, -0.5250730514526367f, -0.39491748809814453f,
                                   -0.28444138169288635f, -0.18477343022823334f, -0.09105003625154495f, 0.0f,
                                   0.07958029955625534f, 0.16093020141124725f, 0.24611230194568634f, 0.33791524171829224f,
                                   0.44070982933044434f, 0.5626170039176941f, 0.7229568362236023f, 1.0f};
  for (int64_t b = 0; b < n / 64; ++b, src += 36) {
    float a;
    std::memcpy(&a, src, 4);
    for (int j = 0; j < 32; ++j) {
      dst[64 * b + j] = kCodes[src[4 + j] & 15] * a;
      dst[64 * b + j + 32] = kCodes[src[4 + j] >> 4] * a;
    }
  }
}

void decode_row(Type t, const uint8_t* src, float* dst, int64_t k) {
  if (traits(t).to_float) return traits(t).to_float(src, dst, k);
  ASSERT_EQ(t, Type::NF4_F32) << "no to_float for " << type_name(t);
  decode_nf4_f32(src, dst, k);
}

// HF row of GGUF row r of a Llama q/k weight (the import's permutation).
int64_t hf_row(int64_t r, int64_t hd) { return (r / hd) * hd + (r % hd % 2) * (hd / 2) + (r % hd) / 2; }

// Count of elements where a and b differ (bitwise, so -0 vs 0 counts).
int64_t n_different(const float* a, const float* b, int64_t n) {
  int64_t d = 0;
  for (int64_t i = 0; i < n; ++i) d += std::memcmp(a + i, b + i, 4) != 0;
  return d;
}

class ImportQuantized : public ::testing::TestWithParam<Fixture> {};

}  // namespace

// The stored blocks (what the kernels read) and the float path both equal the
// library's dequantization exactly.
TEST_P(ImportQuantized, StoredBlocksEqualLibraryDequantization) {
  const Fixture fx = GetParam();
  QGML_REQUIRE_SHARED(dir, fixture_path(fx.dir).c_str());
  const auto src = convert::open_hf(dir);
  safetensors::File ref(dir + "/reference.safetensors");
  const int64_t n_head = src->find("llama.attention.head_count")->as_int();
  const int64_t n_head_kv = src->find("llama.attention.head_count_kv")->as_int();
  int n_quantized = 0, n_perm = 0;
  for (const auto& t : src->tensors) {
    if (!t.read_stored) continue;
    ++n_quantized;
    EXPECT_EQ(t.stored_type, fx.type) << t.name;
    n_perm += !t.perm.empty();
  }
  EXPECT_EQ(n_quantized, 56);
  EXPECT_EQ(n_perm, fx.act_order ? 56 : 0);

  for (int layer : {0, 7}) {
    for (int li = 0; li < 7; ++li) {
      const std::string hf = "model.layers." + std::to_string(layer) + "." + kLinears[li] + ".weight";
      const std::string g = "blk." + std::to_string(layer) + "." + kGguf[li] + ".weight";
      SCOPED_TRACE(hf);
      const safetensors::TensorView* rv = ref.find(hf);
      ASSERT_NE(rv, nullptr);
      std::vector<float> want(static_cast<size_t>(rv->n_elements()));
      ref.read_f32(*rv, want.data());
      const convert::SourceTensor* t = src->find_tensor(g);
      ASSERT_NE(t, nullptr);
      ASSERT_TRUE(t->read_stored);
      const int64_t K = t->ne[0], N = t->ne[1];
      ASSERT_EQ(rv->shape, (std::vector<int64_t>{N, K}));
      const int64_t hd = li == 0 ? N / n_head : li == 1 ? N / n_head_kv : 0;

      // Stored bytes → qgml's decoding → columns un-permuted, rows back to HF order.
      const size_t rs = row_size(t->stored_type, K);
      std::vector<uint8_t> bytes(rs * static_cast<size_t>(N));
      t->read_stored(0, N, bytes.data());
      std::vector<float> got(want.size()), row(static_cast<size_t>(K));
      for (int64_t r = 0; r < N; ++r) {
        decode_row(t->stored_type, bytes.data() + rs * static_cast<size_t>(r), row.data(), K);
        float* d = got.data() + (hd ? hf_row(r, hd) : r) * K;
        for (int64_t j = 0; j < K; ++j) d[t->perm.empty() ? j : t->perm[static_cast<size_t>(j)]] = row[static_cast<size_t>(j)];
      }
      EXPECT_EQ(n_different(got.data(), want.data(), N * K), 0);

      // The float path (what `qgml quantize` would read) in GGUF row order.
      std::vector<float> fl(want.size());
      t->read(fl.data());
      for (int64_t r = 0; r < N; ++r)
        std::memcpy(got.data() + (hd ? hf_row(r, hd) : r) * K, fl.data() + r * K, static_cast<size_t>(K) * 4);
      EXPECT_EQ(n_different(got.data(), want.data(), N * K), 0);
    }
  }
}

// convert → GGUF → qgml dequantize → HF directory: every referenced tensor
// equal, through the CLI a user would run.
TEST_P(ImportQuantized, DequantizeCliRoundTripEqualsReference) {
  const Fixture fx = GetParam();
  QGML_REQUIRE_SHARED(dir, fixture_path(fx.dir).c_str());
  if (!traits(fx.type).to_float) GTEST_SKIP() << type_name(fx.type) << " has no to_float in this build yet";
  test::TempDir tmp;
  const std::string gguf = tmp.file("m.gguf"), out = tmp.file("hf");
  auto r = test::run_cli("convert '" + dir + "' -o '" + gguf + "' 2>&1");
  ASSERT_EQ(r.exit_code, 0) << r.out;
  r = test::run_cli("dequantize '" + gguf + "' -o '" + out + "' 2>&1");
  ASSERT_EQ(r.exit_code, 0) << r.out;
  EXPECT_NE(r.out.find("tokenizer"), std::string::npos) << "the missing tokenizer must be said";
  ASSERT_TRUE(test::file_exists(out + "/config.json"));
  safetensors::File ref(dir + "/reference.safetensors"), mine(out + "/model.safetensors");
  for (const auto& rv : ref.tensors()) {
    SCOPED_TRACE(rv.name);
    const safetensors::TensorView* mv = mine.find(rv.name);
    ASSERT_NE(mv, nullptr);
    ASSERT_EQ(mv->shape, rv.shape);
    std::vector<float> a(static_cast<size_t>(rv.n_elements())), b(a.size());
    ref.read_f32(rv, a.data());
    mine.read_f32(*mv, b.data());
    EXPECT_EQ(n_different(a.data(), b.data(), rv.n_elements()), 0);
  }
  // Unquantized tensors come back as the checkpoint's own values (F16 → F32 is exact).
  const auto src = convert::open_hf(dir);
  const convert::SourceTensor* embd = src->find_tensor("token_embd.weight");
  ASSERT_NE(embd, nullptr);
  std::vector<float> a(static_cast<size_t>(embd->n_elements())), b(a.size());
  embd->read(a.data());
  const safetensors::TensorView* mv = mine.find("model.embed_tokens.weight");
  ASSERT_NE(mv, nullptr);
  mine.read_f32(*mv, b.data());
  EXPECT_EQ(n_different(a.data(), b.data(), embd->n_elements()), 0);
}

INSTANTIATE_TEST_SUITE_P(Fixtures, ImportQuantized, ::testing::ValuesIn(kFixtures),
                         [](const ::testing::TestParamInfo<Fixture>& i) {
                           std::string n = i.param.dir + std::strlen("house-llama-");
                           for (char& c : n) c = std::isalnum(static_cast<unsigned char>(c)) ? c : '_';
                           return n;
                         });
