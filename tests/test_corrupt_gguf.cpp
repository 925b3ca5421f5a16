// Corrupt-file corpus, GGUF: the committed stories260K.gguf, llama.cpp's own
// files and the vocabulary-only files in ../shared, each truncated at many
// offsets and with seeded random byte changes, loaded the way `qgml run` loads
// them (Model::load, the tokenizer, one forward pass) or, for vocabulary-only
// files, as `qgml tokenize` does. Every variant loads or fails with
// qgml::Error; no crash, hang or unbounded memory (see corrupt_util.h). Plus
// real files rewritten with absurd hyperparameters and counts.
#include <gtest/gtest.h>

#include <cstring>
#include <memory>
#include <string>

#include "corrupt_util.h"
#include "qgml/gguf.h"
#include "qgml/model.h"
#include "qgml/session.h"
#include "qgml/tokenizer.h"

namespace qgml {
namespace {

using test::CampaignOptions;
using test::corrupt_campaign;

// End of the last tensor's data: any truncation before it must fail.
size_t end_of_data(const std::string& path) {
  gguf::Reader r(path);
  size_t end = r.data_offset();
  for (const auto& t : r.tensors()) end = std::max(end, r.data_offset() + static_cast<size_t>(t.offset) + t.nbytes);
  return r.tensors().empty() ? r.file_size() : end;
}

// What `qgml run` does with a file, in miniature.
void load_and_run(const std::string& path) {
  std::unique_ptr<Model> m = Model::load(path);
  std::vector<int32_t> ids = {0};
  if (m->has_tokenizer()) ids = m->tokenizer().encode("Once upon a time", true, false);
  SessionParams sp;
  sp.n_ctx = 8;
  sp.n_threads = 1;
  Session s(*m, sp);
  if (ids.size() > 4) ids.resize(4);
  s.eval(ids);
}

void load_vocab(const std::string& path) {
  gguf::Reader r(path);
  std::unique_ptr<Tokenizer> t = Tokenizer::from_gguf(r);
  (void)t->decode(t->encode("Hello world! \xf0\x9f\x98\x80 12345", true, true));
}

void model_campaign(const std::string& src, uint32_t seed, int flips) {
  test::TempDir dir;
  const std::string target = dir.file("model.gguf");
  const std::string original = read_file(src);
  CampaignOptions o;
  o.seed = seed;
  o.flips = flips;
  o.must_fail_below = end_of_data(src);
  gguf::Reader r(src);
  o.dense = std::min<size_t>(r.data_offset() + 64, 2048);  // metadata and tensor infos, densely
  o.flip_region = r.data_offset();
  const std::string err = corrupt_campaign(original, target, [&] { load_and_run(target); }, o);
  EXPECT_EQ(err, "") << src;
}

TEST(CorruptGguf, CommittedStories260K) {
  model_campaign(test::source_dir() + "/models/stories260K/stories260K.gguf", 1, 200);
}

TEST(CorruptGguf, LlamaCppFiles) {
  for (const char* f : {"stories260K-f16.gguf", "stories260K-f32.gguf"}) {  // (q*_k types: qgml reads none)
    const std::string p = test::shared_file(std::string("data/gguf-llamacpp/") + f);
    if (p.empty()) {
      GTEST_SKIP() << "../shared/data/gguf-llamacpp missing";
    }
    SCOPED_TRACE(f);
    model_campaign(p, 2, 80);
  }
}

TEST(CorruptGguf, VocabularyOnlyFiles) {
  const char* files[] = {"llama-spm", "phi-3", "baichuan", "gpt-2", "gpt-neox", "mpt",
                         "refact", "falcon", "starcoder", "deepseek-llm", "deepseek-coder"};
  int done = 0;
  for (const char* f : files) {
    const std::string p = test::shared_file(std::string("data/vocab-gguf/ggml-vocab-") + f + ".gguf");
    if (p.empty()) continue;
    SCOPED_TRACE(f);
    test::TempDir dir;
    const std::string target = dir.file("vocab.gguf");
    CampaignOptions o;
    o.seed = 10 + static_cast<uint32_t>(done);
    o.dense = 160;   // the header and the first keys
    o.sparse = 24;   // inside the token and merge arrays
    o.flips = 12;    // each one that loads builds a whole tokenizer: keep the count small
    o.must_fail_below = read_file(p).size();
    const std::string err = corrupt_campaign(read_file(p), target, [&] { load_vocab(target); }, o);
    EXPECT_EQ(err, "");
    ++done;
  }
  if (done == 0) {
    GTEST_SKIP() << "../shared/data/vocab-gguf missing";
  }
}

// The committed model rewritten with one key replaced (tensor data copied).
std::string rewrite(const std::string& dir, const char* key, gguf::Value v) {
  gguf::Reader r(test::source_dir() + "/models/stories260K/stories260K.gguf");
  gguf::Writer w;
  for (const auto& kv : r.metadata()) w.set(kv.key, kv.key == key ? v : kv.value);
  w.set(key, v);
  for (const auto& t : r.tensors()) w.add_tensor(t.name, t.type, t.n_dims, t.ne, r.tensor_data(t));
  const std::string out = dir + "/" + key + ".gguf";
  w.write(out);
  return out;
}

// Loads in an isolated, memory-capped child; returns the qgml::Error text
// ("" when it loaded), or a description of what went wrong otherwise.
std::string load_error_isolated(const std::string& path) {
  test::TempDir dir;
  const std::string msg_file = dir.file("msg");
  CampaignOptions o;
  o.timeout_s = 60;
  o.max_rss_mb = 512;
  const std::string problem = test::run_isolated(
      [&](FILE*) {
        std::string msg;
        try {
          load_and_run(path);
        } catch (const Error& e) {
          msg = e.what();
        }
        test::write_bytes(msg_file, msg);
        return 0;
      },
      o);
  if (!problem.empty()) return "PROBLEM: " + problem;
  return read_file(msg_file);
}

TEST(CorruptGguf, AbsurdHyperparametersFailCleanly) {
  test::TempDir dir;
  struct Case {
    const char* key;
    gguf::Value value;
    const char* expect;  // in the error message
  };
  const Case cases[] = {
      {"llama.block_count", gguf::Value::u32(1u << 30), "blk.5"},  // the file has 5 layers: the 6th is missing
      {"llama.block_count", gguf::Value::i64(-1), "block_count"},
      {"llama.context_length", gguf::Value::u64(uint64_t{1} << 40), "context_length"},
      {"llama.context_length", gguf::Value::i32(-5), "context_length"},
      {"llama.embedding_length", gguf::Value::u64(uint64_t{1} << 31), "token_embd"},
      {"llama.embedding_length", gguf::Value::u64(uint64_t{1} << 62), "embedding_length"},
      {"llama.attention.head_count", gguf::Value::u32(0), "head_count"},
      {"llama.attention.head_count_kv", gguf::Value::u32(3), "head_count_kv"},
      {"llama.rope.dimension_count", gguf::Value::u32(1u << 31), "rope.dimension_count"},
      {"llama.attention.layer_norm_rms_epsilon", gguf::Value::f64(1e300), "layer_norm_rms_epsilon"},
      {"llama.rope.freq_base", gguf::Value::f64(-1e300), "freq_base"},
      {"tokenizer.ggml.bos_token_id", gguf::Value::u32(1u << 31), "bos_token_id"},
      {"tokenizer.ggml.scores", gguf::Value::f32_array({1.0f}), "scores"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(std::string(c.key) + " = " + c.value.to_string());
    const std::string err = load_error_isolated(rewrite(dir.path(), c.key, c.value));
    EXPECT_NE(err, "") << "loaded";
    EXPECT_EQ(err.find("PROBLEM"), std::string::npos) << err;
    EXPECT_NE(err.find(c.expect), std::string::npos) << err;
  }
}

TEST(CorruptGguf, HugeCountsInARealHeaderAllocateNothing) {
  // Counts patched in place: tensor count at byte 8, key count at byte 16.
  test::TempDir dir;
  const std::string original = read_file(test::source_dir() + "/models/stories260K/stories260K.gguf");
  for (int field : {8, 16}) {
    for (uint64_t n : {uint64_t{1} << 60, (uint64_t{1} << 32) + 3, uint64_t{0xffffffffffffffff}}) {
      std::string bytes = original;
      std::memcpy(&bytes[static_cast<size_t>(field)], &n, 8);
      const std::string p = dir.file("patched.gguf");
      test::write_bytes(p, bytes);
      const std::string err = load_error_isolated(p);
      EXPECT_NE(err.find("limit"), std::string::npos) << "field " << field << " = " << n << ": " << err;
    }
  }
}

}  // namespace
}  // namespace qgml
