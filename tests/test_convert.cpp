// llama2.c import, checked against the GGUF llama.cpp wrote from the same
// checkpoint, and the Hugging Face import of the same weights checked against
// the llama2.c one.
#include <gtest/gtest.h>

#include <cstring>
#include <map>
#include <set>
#include <string>

#include "convert_test_util.h"
#include "qgml/convert.h"
#include "qgml/error.h"
#include "qgml/gguf.h"
#include "qgml/io.h"
#include "safetensors.h"
#include "test_util.h"

using qgml::Error;
using qgml::Type;
using qgml::gguf::Reader;
namespace cv = qgml::convert;
namespace t = qgml::test;

namespace {

const char* kBin = "data/models/stories260K/stories260K.bin";
const char* kTok = "data/models/stories260K/tok512.bin";

bool same_tensor(const Reader& a, const qgml::gguf::TensorInfo& ta, const Reader& b, const qgml::gguf::TensorInfo& tb,
                 std::string* why) {
  if (ta.type != tb.type || ta.n_dims != tb.n_dims) {
    *why = std::string("type/dims ") + qgml::type_name(ta.type) + "/" + std::to_string(ta.n_dims) + " vs " +
           qgml::type_name(tb.type) + "/" + std::to_string(tb.n_dims);
    return false;
  }
  for (int i = 0; i < 4; ++i) {
    if (ta.ne[i] != tb.ne[i]) {
      *why = "ne[" + std::to_string(i) + "] " + std::to_string(ta.ne[i]) + " vs " + std::to_string(tb.ne[i]);
      return false;
    }
  }
  if (ta.nbytes != tb.nbytes || std::memcmp(a.tensor_data(ta), b.tensor_data(tb), ta.nbytes) != 0) {
    *why = "data differs";
    return false;
  }
  return true;
}

// Every tensor of `mine` equals llama.cpp's; llama.cpp's extra output.weight
// (it duplicates a tied classifier) equals our token_embd.
void expect_tensors_match_llamacpp(const Reader& mine, const Reader& ref) {
  EXPECT_EQ(mine.tensors().size() + 1, ref.tensors().size());
  for (const auto& tm : mine.tensors()) {
    const auto* tr = ref.find_tensor(tm.name);
    ASSERT_NE(tr, nullptr) << tm.name << " missing from llama.cpp's file";
    std::string why;
    EXPECT_TRUE(same_tensor(mine, tm, ref, *tr, &why)) << tm.name << ": " << why;
  }
  EXPECT_EQ(mine.find_tensor("output.weight"), nullptr);
  std::string why;
  EXPECT_TRUE(same_tensor(mine, *mine.find_tensor("token_embd.weight"), ref, *ref.find_tensor("output.weight"), &why))
      << why;
}

}  // namespace

TEST(ConvertLlama2c, TensorsAndMetadataEqualLlamaCppF32) {
  QGML_REQUIRE_SHARED(bin, kBin);
  QGML_REQUIRE_SHARED(tok, kTok);
  QGML_REQUIRE_SHARED(ref_path, "data/gguf-llamacpp/stories260K-f32.gguf");
  t::TempDir dir;
  cv::convert_llama2c(bin, tok, dir.file("s.gguf"), Type::F32);
  Reader mine(dir.file("s.gguf")), ref(ref_path);
  expect_tensors_match_llamacpp(mine, ref);

  // Metadata: every key llama.cpp wrote, with the same type and value, except
  // the context length it set by hand (128), the name, and the separator and
  // padding ids it writes as "none" (0xFFFFFFFF).
  const std::set<std::string> skip = {"llama.context_length", "general.name", "tokenizer.ggml.seperator_token_id",
                                      "tokenizer.ggml.padding_token_id"};
  int compared = 0;
  for (const auto& kv : ref.metadata()) {
    if (skip.count(kv.key)) continue;
    const auto* v = mine.find(kv.key);
    ASSERT_NE(v, nullptr) << kv.key << " missing";
    std::string why;
    EXPECT_TRUE(t::same_value(*v, kv.value, &why)) << kv.key << ": " << why;
    ++compared;
  }
  EXPECT_GE(compared, 15);
  EXPECT_EQ(ref.get_int("tokenizer.ggml.padding_token_id"), 0xFFFFFFFFll);
  EXPECT_EQ(ref.get_int("tokenizer.ggml.seperator_token_id"), 0xFFFFFFFFll);
  EXPECT_EQ(ref.get_int("llama.context_length"), 128);
  EXPECT_EQ(mine.get_int("llama.context_length"), 512);  // the checkpoint's seq_len
  EXPECT_EQ(mine.get_string("general.name"), "stories260K");
  EXPECT_EQ(mine.get_float("llama.rope.freq_base"), 10000.0);
  EXPECT_EQ(mine.get_int("general.file_type"), 0);
}

TEST(ConvertLlama2c, F16EqualsLlamaCppF16) {
  QGML_REQUIRE_SHARED(bin, kBin);
  QGML_REQUIRE_SHARED(tok, kTok);
  QGML_REQUIRE_SHARED(ref_path, "data/gguf-llamacpp/stories260K-f16.gguf");
  t::TempDir dir;
  cv::convert_llama2c(bin, tok, dir.file("s16.gguf"), Type::F16);
  Reader mine(dir.file("s16.gguf")), ref(ref_path);
  expect_tensors_match_llamacpp(mine, ref);
  EXPECT_EQ(mine.find_tensor("blk.0.attn_norm.weight")->type, Type::F32);
  EXPECT_EQ(mine.find_tensor("blk.0.attn_q.weight")->type, Type::F16);
  EXPECT_EQ(mine.get_int("general.file_type"), ref.get_int("general.file_type"));
}

TEST(ConvertLlama2c, BF16KeepsNormsF32) {
  QGML_REQUIRE_SHARED(bin, kBin);
  QGML_REQUIRE_SHARED(tok, kTok);
  t::TempDir dir;
  cv::convert_llama2c(bin, tok, dir.file("b.gguf"), Type::BF16);
  Reader r(dir.file("b.gguf"));
  for (const auto& ti : r.tensors()) {
    EXPECT_EQ(ti.type, ti.n_dims == 1 ? Type::F32 : Type::BF16) << ti.name;
  }
  EXPECT_EQ(r.get_int("general.file_type"), 32);
  EXPECT_THROW(cv::convert_llama2c(bin, tok, dir.file("q.gguf"), Type::Q8_0), Error);
  EXPECT_FALSE(t::file_exists(dir.file("q.gguf")));
}

TEST(ConvertLlama2c, CommittedModelEqualsFreshConversion) {
  QGML_REQUIRE_SHARED(bin, kBin);
  QGML_REQUIRE_SHARED(tok, kTok);
  t::TempDir dir;
  // Through the CLI, as the file was made.
  const auto res = t::run_cli("convert " + bin + " --vocab " + tok + " -o " + dir.file("s.gguf"));
  ASSERT_EQ(res.exit_code, 0) << res.out;
  const std::string fresh = qgml::read_file(dir.file("s.gguf"));
  const std::string committed = qgml::read_file(t::source_dir() + "/models/stories260K/stories260K.gguf");
  EXPECT_EQ(fresh.size(), committed.size());
  EXPECT_TRUE(fresh == committed) << "models/stories260K/stories260K.gguf is stale: regenerate it with qgml convert";
}

TEST(ConvertHf, Stories260KHfEqualsLlama2cConversion) {
  QGML_REQUIRE_SHARED(bin, kBin);
  QGML_REQUIRE_SHARED(tok, kTok);
  QGML_REQUIRE_SHARED(hf, "data/models/stories260K-hf/config.json");
  const std::string hf_dir = hf.substr(0, hf.size() - std::string("/config.json").size());
  t::TempDir dir;
  cv::convert_llama2c(bin, tok, dir.file("c.gguf"), Type::F32);
  cv::convert_hf(hf_dir, dir.file("h.gguf"), Type::F32, tok);
  Reader a(dir.file("c.gguf")), b(dir.file("h.gguf"));
  ASSERT_EQ(a.tensors().size(), b.tensors().size());
  for (const auto& ta : a.tensors()) {
    const auto* tb = b.find_tensor(ta.name);
    ASSERT_NE(tb, nullptr) << ta.name;
    std::string why;
    EXPECT_TRUE(same_tensor(a, ta, b, *tb, &why)) << ta.name << ": " << why;
  }
  for (const char* key : {"llama.embedding_length", "llama.feed_forward_length", "llama.block_count",
                          "llama.attention.head_count", "llama.attention.head_count_kv", "llama.rope.dimension_count",
                          "llama.context_length", "llama.attention.layer_norm_rms_epsilon", "llama.rope.freq_base",
                          "tokenizer.ggml.tokens", "tokenizer.ggml.scores", "tokenizer.ggml.token_type",
                          "tokenizer.ggml.bos_token_id", "tokenizer.ggml.eos_token_id"}) {
    std::string why;
    ASSERT_NE(b.find(key), nullptr) << key;
    EXPECT_TRUE(t::same_value(*a.find(key), *b.find(key), &why)) << key << ": " << why;
  }
  EXPECT_EQ(b.get_string("general.name"), "stories260K-hf");

  // The permutation mattered: the HF file's own q rows differ from GGUF's.
  qgml::safetensors::File st(hf_dir + "/model.safetensors");
  const auto* q = st.find("model.layers.0.self_attn.q_proj.weight");
  ASSERT_NE(q, nullptr);
  const auto* gq = a.find_tensor("blk.0.attn_q.weight");
  EXPECT_NE(std::memcmp(st.data(*q), a.tensor_data(*gq), gq->nbytes), 0);
}

// --- bad llama2.c input -------------------------------------------------------

namespace {

std::string convert_error(const std::string& bin, const std::string& tok, const std::string& out) {
  try {
    cv::convert_llama2c(bin, tok, out, Type::F32);
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

}  // namespace

TEST(ConvertLlama2c, RejectsBadCheckpoints) {
  QGML_REQUIRE_SHARED(bin, kBin);
  QGML_REQUIRE_SHARED(tok, kTok);
  t::TempDir dir;
  const std::string good = qgml::read_file(bin);
  const std::string p = dir.file("bad.bin"), out = dir.file("o.gguf");
  auto expect = [&](const std::string& bytes, const char* needle) {
    t::write_bytes(p, bytes);
    const std::string err = convert_error(p, tok, out);
    EXPECT_NE(err.find(needle), std::string::npos) << err;
    EXPECT_NE(err.find(p), std::string::npos) << err;
    EXPECT_FALSE(t::file_exists(out));
  };
  for (size_t n : {size_t{0}, size_t{27}, size_t{28}, good.size() / 2, good.size() - 4}) {
    expect(good.substr(0, n), n < 28 ? "shorter than" : "truncated");
  }
  expect(good + std::string(4, '\0'), "bytes, but");
  auto with_field = [&](int index, int32_t value) {
    std::string b = good;
    std::memcpy(&b[static_cast<size_t>(index) * 4], &value, 4);
    return b;
  };
  expect(with_field(0, -64), "dim");
  expect(with_field(0, 0x7fffffff), "dim");
  expect(with_field(3, 0), "n_heads");
  expect(with_field(3, 7), "multiple");
  expect(with_field(4, 3), "multiple");
  expect(with_field(2, 1000000), "n_layers");
  expect(with_field(5, 0), "vocab_size");
  expect(with_field(6, -1), "seq_len");
  expect(with_field(5, -512), "bytes, but");  // untied: a classifier is missing
  expect(with_field(0, 0x616b3432), "ak42");
  EXPECT_NE(convert_error(dir.file("missing.bin"), tok, out), "");
}

TEST(ConvertLlama2c, RejectsBadTokenizers) {
  QGML_REQUIRE_SHARED(bin, kBin);
  QGML_REQUIRE_SHARED(tok, kTok);
  t::TempDir dir;
  const std::string good = qgml::read_file(tok);
  const std::string p = dir.file("bad_tok.bin"), out = dir.file("o.gguf");
  // Every truncation is an error naming the tokenizer file, never a crash.
  for (size_t n = 0; n < good.size(); n += (n < 64 ? 1 : 37)) {
    t::write_bytes(p, good.substr(0, n));
    const std::string err = convert_error(bin, p, out);
    ASSERT_NE(err.find(p), std::string::npos) << "truncated to " << n << ": " << err;
  }
  t::write_bytes(p, good + "x");
  EXPECT_NE(convert_error(bin, p, out).find("left after"), std::string::npos);
  std::string huge = good;
  const int32_t len = 1 << 30;
  std::memcpy(&huge[4 + 4], &len, 4);  // token 0's length
  t::write_bytes(p, huge);
  EXPECT_NE(convert_error(bin, p, out).find("length"), std::string::npos);
  EXPECT_FALSE(t::file_exists(out));
}

TEST(ConvertCli, ReportsUsageErrors) {
  t::TempDir dir;
  // 2>&1: errors go to stderr.
  auto res = t::run_cli("convert 2>&1");
  EXPECT_NE(res.exit_code, 0);
  res = t::run_cli("convert " + dir.file("nothing.bin") + " -o " + dir.file("o.gguf") + " 2>&1");
  EXPECT_NE(res.exit_code, 0);
  EXPECT_NE(res.out.find("nothing.bin"), std::string::npos) << res.out;
  res = t::run_cli("convert " + dir.path() + " -o " + dir.file("o.gguf") + " --outtype q4_0 2>&1");
  EXPECT_NE(res.exit_code, 0);
  EXPECT_NE(res.out.find("--outtype"), std::string::npos) << res.out;
  res = t::run_cli("convert " + dir.path() + " -o " + dir.file("o.gguf") + " 2>&1");
  EXPECT_NE(res.exit_code, 0);
  EXPECT_NE(res.out.find("config.json"), std::string::npos) << res.out;
}
