// Hugging Face import of the house model (BF16, sharded, byte-level BPE
// tokenizer.json) checked tensor by tensor against the safetensors source,
// and its tokenizer against the golden token ids; the Llama 2 SentencePiece
// model checked against llama.cpp's vocabulary file made from it.
#include <gtest/gtest.h>

#include <cstring>
#include <map>
#include <string>

#include "convert_test_util.h"
#include "json.h"
#include "qgml/convert.h"
#include "qgml/error.h"
#include "qgml/gguf.h"
#include "qgml/io.h"
#include "qgml/tokenizer.h"
#include "safetensors.h"
#include "test_util.h"
#include "tokenizer_types.h"

using qgml::Type;
using qgml::gguf::Reader;
namespace cv = qgml::convert;
namespace t = qgml::test;

namespace {

const char* kHouseConfig = "data/models/house-llama/config.json";

std::string dir_of(const std::string& file) { return file.substr(0, file.find_last_of('/')); }

// The test's own statement of llama.cpp's names (not the converter's table).
std::string gguf_name(const std::string& hf) {
  static const std::map<std::string, std::string> globals = {{"model.embed_tokens.weight", "token_embd.weight"},
                                                             {"model.norm.weight", "output_norm.weight"},
                                                             {"lm_head.weight", "output.weight"}};
  static const std::map<std::string, std::string> layer = {
      {"input_layernorm.weight", "attn_norm.weight"},    {"post_attention_layernorm.weight", "ffn_norm.weight"},
      {"self_attn.q_proj.weight", "attn_q.weight"},      {"self_attn.k_proj.weight", "attn_k.weight"},
      {"self_attn.v_proj.weight", "attn_v.weight"},      {"self_attn.o_proj.weight", "attn_output.weight"},
      {"mlp.gate_proj.weight", "ffn_gate.weight"},       {"mlp.up_proj.weight", "ffn_up.weight"},
      {"mlp.down_proj.weight", "ffn_down.weight"}};
  if (globals.count(hf)) return globals.at(hf);
  const size_t a = std::strlen("model.layers."), b = hf.find('.', a);
  return "blk." + hf.substr(a, b - a) + "." + layer.at(hf.substr(b + 1));
}

// GGUF row r of a permuted q/k tensor: r = head·hd + 2i + j comes from HF row
// head·hd + j·hd/2 + i (HF keeps each head's pair halves apart).
int64_t source_row(int64_t r, int64_t hd) {
  const int64_t head = r / hd, within = r % hd, i = within / 2, j = within % 2;
  return head * hd + j * (hd / 2) + i;
}

void check_house_conversion(Type outtype) {
  QGML_REQUIRE_SHARED(cfg, kHouseConfig);
  const std::string dir = dir_of(cfg);
  t::TempDir tmp;
  cv::convert_hf(dir, tmp.file("h.gguf"), outtype);
  Reader r(tmp.file("h.gguf"));
  const int64_t hd = 32;  // head_dim in config.json

  size_t checked = 0;
  for (const char* shard : {"model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors"}) {
    qgml::safetensors::File st(dir + "/" + shard);
    for (const auto& src : st.tensors()) {
      const std::string name = gguf_name(src.name);
      const auto* ti = r.find_tensor(name);
      ASSERT_NE(ti, nullptr) << name;
      ASSERT_EQ(src.dtype, qgml::safetensors::Dtype::BF16);
      const bool is_1d = src.shape.size() == 1;
      ASSERT_EQ(ti->type, is_1d ? Type::F32 : outtype) << name;
      ASSERT_EQ(ti->n_dims, static_cast<int>(src.shape.size())) << name;
      const int64_t rows = src.shape[0], cols = is_1d ? 1 : src.shape[1];
      EXPECT_EQ(ti->ne[0], is_1d ? rows : cols) << name;
      EXPECT_EQ(ti->ne[1], is_1d ? 1 : rows) << name;
      const bool permuted = name.find("attn_q.") != std::string::npos || name.find("attn_k.") != std::string::npos;
      const uint8_t* s = st.data(src);
      const uint8_t* g = static_cast<const uint8_t*>(r.tensor_data(*ti));
      for (int64_t row = 0; row < rows; ++row) {
        const int64_t from = permuted ? source_row(row, hd) : row;
        for (int64_t c = 0; c < cols; ++c) {
          uint16_t bits;
          std::memcpy(&bits, s + 2 * (from * cols + c), 2);
          const size_t at = static_cast<size_t>(row * cols + c);
          if (ti->type == Type::BF16) {
            uint16_t got;
            std::memcpy(&got, g + 2 * at, 2);
            ASSERT_EQ(got, bits) << name << " [" << row << ", " << c << "]";
          } else {
            const uint32_t want = static_cast<uint32_t>(bits) << 16;  // BF16 → F32 is exact
            uint32_t got;
            std::memcpy(&got, g + 4 * at, 4);
            ASSERT_EQ(got, want) << name << " [" << row << ", " << c << "]";
          }
        }
      }
      ++checked;
    }
  }
  EXPECT_EQ(checked, r.tensors().size());
  EXPECT_EQ(checked, 2u + 1u + 8u * 9u);  // embd, norm, lm_head + 9 per layer
}

}  // namespace

TEST(ConvertHouseLlama, EveryTensorMatchesSourceF32) { check_house_conversion(Type::F32); }
TEST(ConvertHouseLlama, EveryTensorMatchesSourceBF16) { check_house_conversion(Type::BF16); }

TEST(ConvertHouseLlama, Metadata) {
  QGML_REQUIRE_SHARED(cfg, kHouseConfig);
  t::TempDir tmp;
  cv::convert_hf(dir_of(cfg), tmp.file("h.gguf"), Type::F16);
  Reader r(tmp.file("h.gguf"));
  EXPECT_EQ(r.get_string("general.architecture"), "llama");
  EXPECT_EQ(r.get_int("llama.embedding_length"), 256);
  EXPECT_EQ(r.get_int("llama.feed_forward_length"), 768);
  EXPECT_EQ(r.get_int("llama.block_count"), 8);
  EXPECT_EQ(r.get_int("llama.attention.head_count"), 8);
  EXPECT_EQ(r.get_int("llama.attention.head_count_kv"), 2);
  EXPECT_EQ(r.get_int("llama.rope.dimension_count"), 32);
  EXPECT_EQ(r.get_int("llama.context_length"), 512);
  EXPECT_EQ(r.get_int("llama.vocab_size"), 8192);
  EXPECT_FLOAT_EQ(static_cast<float>(r.get_float("llama.attention.layer_norm_rms_epsilon")), 1e-5f);
  EXPECT_EQ(r.get_float("llama.rope.freq_base"), 10000.0);
  EXPECT_EQ(r.get_int("general.file_type"), 1);
  EXPECT_EQ(r.get_string("tokenizer.ggml.model"), "gpt2");
  EXPECT_EQ(r.get_string("tokenizer.ggml.pre"), "llama-bpe");
  EXPECT_EQ(r.get_int("tokenizer.ggml.bos_token_id"), 0);
  EXPECT_EQ(r.get_int("tokenizer.ggml.eos_token_id"), 1);
  EXPECT_TRUE(r.find("tokenizer.ggml.add_bos_token")->num.u);
  const auto* tokens = r.find("tokenizer.ggml.tokens");
  const auto* types = r.find("tokenizer.ggml.token_type");
  ASSERT_EQ(tokens->items.size(), 8192u);
  EXPECT_EQ(tokens->items[0].str, "<|begin_of_text|>");
  EXPECT_EQ(types->items[0].num.i, 3);  // CONTROL
  EXPECT_EQ(types->items[1].num.i, 3);
  EXPECT_EQ(types->items[100].num.i, 1);
  const auto* merges = r.find("tokenizer.ggml.merges");
  ASSERT_EQ(merges->items.size(), 7934u);
  EXPECT_EQ(merges->items[0].str, "\xc4\xa0 t");  // "Ġ t": tokenizer.json's ["Ġ", "t"]
  EXPECT_EQ(r.find_tensor("blk.0.attn_q.weight")->type, Type::F16);
  EXPECT_EQ(r.find_tensor("blk.0.attn_norm.weight")->type, Type::F32);
}

TEST(ConvertHouseLlama, TokenizerReproducesGoldenIds) {
  QGML_REQUIRE_SHARED(cfg, kHouseConfig);
  QGML_REQUIRE_SHARED(golden_path, "data/models/house-llama/golden/prompts_golden.json");
  t::TempDir tmp;
  cv::convert_hf(dir_of(cfg), tmp.file("h.gguf"), Type::F32);
  Reader r(tmp.file("h.gguf"));
  const auto tok = qgml::Tokenizer::from_gguf(r);
  const qgml::json::Value golden = qgml::json::parse_file(golden_path);
  int n = 0;
  for (const auto& p : golden.find("prompts")->items()) {
    std::vector<int32_t> want;
    for (const auto& id : p.find("ids")->items()) want.push_back(static_cast<int32_t>(id.as_int()));
    EXPECT_EQ(tok->encode(p.find("text")->as_string()), want) << p.find("text")->as_string().substr(0, 60);
    ++n;
  }
  EXPECT_EQ(n, 4);
}

TEST(ConvertTokenizers, Llama2SentencePieceModelMatchesLlamaCppVocab) {
  QGML_REQUIRE_SHARED(model, "data/tokenizers/llama2-spm/tokenizer.model");
  QGML_REQUIRE_SHARED(ref_path, "data/vocab-gguf/ggml-vocab-llama-spm.gguf");
  const cv::SentencePieceModel spm = cv::read_sentencepiece_model(model);
  ASSERT_EQ(spm.vocab.tokens.size(), 32000u);
  EXPECT_EQ(spm.unk_id, 0);
  EXPECT_EQ(spm.bos_id, 1);
  EXPECT_EQ(spm.eos_id, 2);
  EXPECT_EQ(spm.pad_id, -1);
  EXPECT_TRUE(spm.add_dummy_prefix);
  Reader ref(ref_path);
  const auto& tokens = ref.find("tokenizer.ggml.tokens")->items;
  const auto& scores = ref.find("tokenizer.ggml.scores")->items;
  const auto& types = ref.find("tokenizer.ggml.token_type")->items;
  ASSERT_EQ(tokens.size(), 32000u);
  for (size_t i = 0; i < tokens.size(); ++i) {
    ASSERT_EQ(spm.vocab.tokens[i], tokens[i].str) << i;
    ASSERT_EQ(spm.vocab.scores[i], static_cast<float>(scores[i].num.f)) << i;
    ASSERT_EQ(spm.vocab.types[i], types[i].num.i) << i;
  }
}

TEST(ConvertTokenizers, SentencePieceRejectsCorruptFiles) {
  QGML_REQUIRE_SHARED(model, "data/tokenizers/llama2-spm/tokenizer.model");
  const std::string good = qgml::read_file(model);
  t::TempDir tmp;
  const std::string p = tmp.file("t.model");
  // Cuts inside the pieces: each must be an error naming the file (a cut
  // exactly between two fields is a valid, shorter model).
  int errors = 0;
  for (size_t n : {size_t{1}, size_t{2}, size_t{3}, size_t{5}, size_t{9}, good.size() / 3, good.size() / 2 + 1,
                   good.size() - 1}) {
    t::write_bytes(p, good.substr(0, n));
    try {
      cv::read_sentencepiece_model(p);
    } catch (const qgml::Error& e) {
      EXPECT_NE(std::string(e.what()).find(p), std::string::npos) << e.what();
      ++errors;
    }
  }
  EXPECT_GE(errors, 6);
  t::write_bytes(p, std::string("\x0b\x01\x02", 3));  // wire type 3 (group)
  EXPECT_THROW(cv::read_sentencepiece_model(p), qgml::Error);
  t::write_bytes(p, std::string("\x0a\xff\xff\xff\xff\x0f", 6));  // a 4 GiB piece in a 6-byte file
  EXPECT_THROW(cv::read_sentencepiece_model(p), qgml::Error);
  t::write_bytes(p, "");
  EXPECT_THROW(cv::read_sentencepiece_model(p), qgml::Error);  // no pieces
}
