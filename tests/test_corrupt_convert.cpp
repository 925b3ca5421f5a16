// Corrupt-file corpus, converter inputs: safetensors shards, config.json,
// model.safetensors.index.json, tokenizer.json, tokenizer_config.json,
// tokenizer.model and llama2.c checkpoints/tokenizer.bin from ../shared, each
// truncated at many offsets and with seeded random byte changes, opened the
// way `qgml convert` opens them. Every variant loads or fails with
// qgml::Error; no crash, hang or unbounded memory (see corrupt_util.h).
#include <gtest/gtest.h>

#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "corrupt_util.h"
#include "json.h"
#include "qgml/convert.h"
#include "qgml/tokenizer.h"
#include "safetensors.h"
#include "tokenizer_types.h"

namespace qgml {
namespace {

using test::CampaignOptions;
using test::corrupt_campaign;

// Reads what the converter reads: every float tensor (small ones converted,
// large ones touched at both ends), so a bad range shows up under ASan.
void read_safetensors(const std::string& path) {
  safetensors::File f(path);
  std::vector<float> buf;
  volatile uint8_t sink = 0;
  for (const auto& t : f.tensors()) {
    if (t.nbytes > 0) sink = static_cast<uint8_t>(sink ^ f.data(t)[0] ^ f.data(t)[t.nbytes - 1]);
    const auto d = t.dtype;
    if ((d == safetensors::Dtype::F32 || d == safetensors::Dtype::F16 || d == safetensors::Dtype::BF16) &&
        t.n_elements() <= 65536) {
      buf.resize(static_cast<size_t>(t.n_elements()));
      f.read_f32(t, buf.data());
    }
  }
}

size_t safetensors_data_end(const std::string& path, size_t* header_end) {
  safetensors::File f(path);
  const std::string b = read_file(path);
  uint64_t n = 0;
  std::memcpy(&n, b.data(), 8);
  *header_end = 8 + static_cast<size_t>(n);
  size_t end = *header_end;
  for (const auto& t : f.tensors()) end = std::max(end, static_cast<size_t>(t.offset + t.nbytes));
  return end;
}

void safetensors_campaign(const std::string& src, uint32_t seed) {
  test::TempDir dir;
  const std::string target = dir.file("x.safetensors");
  CampaignOptions o;
  size_t header_end = 0;
  o.must_fail_below = safetensors_data_end(src, &header_end);
  o.dense = std::min<size_t>(header_end + 16, 4096);
  o.sparse = 12;  // each variant past the header rewrites the whole (10 MB) file
  o.flips = 40;
  o.flip_region = header_end;
  o.seed = seed;
  EXPECT_EQ(corrupt_campaign(read_file(src), target, [&] { read_safetensors(target); }, o), "") << src;
}

TEST(CorruptConvert, SafetensorsShards) {
  const char* files[] = {"data/models/house-llama/model-00001-of-00002.safetensors",
                         "data/models/house-llama/model-00002-of-00002.safetensors",
                         "data/models/stories260K-hf/model.safetensors",
                         "data/quantized-hf/house-llama-gptq-4bit-g128-asym/gptq_model-4bit-128g.safetensors"};
  uint32_t seed = 20;
  for (const char* f : files) {
    const std::string p = test::shared_file(f);
    if (p.empty()) {
      GTEST_SKIP() << "../shared/" << f << " missing";
    }
    SCOPED_TRACE(f);
    safetensors_campaign(p, seed++);
  }
}

// A model directory of symlinks to `src`, except `mutated`, which the campaign writes.
std::string mirror_dir(const test::TempDir& dir, const std::string& src, const std::string& mutated) {
  const std::string d = dir.file("model");
  ::mkdir(d.c_str(), 0755);
  for (const char* f : {"config.json", "model.safetensors", "model-00001-of-00002.safetensors",
                        "model-00002-of-00002.safetensors", "model.safetensors.index.json", "tokenizer.json",
                        "tokenizer_config.json"}) {
    const std::string from = src + "/" + f;
    if (f != mutated && test::file_exists(from)) {
      EXPECT_EQ(::symlink(from.c_str(), (d + "/" + f).c_str()), 0);
    }
  }
  return d;
}

// Opens the directory as `qgml convert` does and reads a few tensors.
void open_dir(const std::string& dir, const std::string& vocab) {
  std::unique_ptr<convert::SourceModel> m = convert::open_hf(dir, vocab);
  std::vector<float> buf;
  for (size_t i = 0; i < m->tensors.size(); i += 7) {
    const convert::SourceTensor& t = m->tensors[i];
    buf.resize(static_cast<size_t>(t.ne[0]));
    t.read_rows(t.n_rows() - 1, 1, buf.data());
  }
}

void dir_campaign(const std::string& src, const char* file, const std::string& vocab, CampaignOptions o) {
  SCOPED_TRACE(file);
  test::TempDir tmp;
  const std::string d = mirror_dir(tmp, src, file);
  const std::string original = read_file(src + "/" + file);
  o.must_fail_below = 0;  // JSON may survive truncation only at its trailing whitespace: checked below
  EXPECT_EQ(corrupt_campaign(original, d + "/" + file, [&] { open_dir(d, vocab); }, o), "");
}

TEST(CorruptConvert, HouseLlamaJsonFiles) {
  const std::string src = test::shared_dir() + "/data/models/house-llama";
  if (!test::file_exists(src + "/config.json")) {
    GTEST_SKIP() << "../shared house-llama missing";
  }
  CampaignOptions small;
  small.dense = 1 << 20;  // every truncation of these small files
  small.flips = 60;
  small.seed = 30;
  dir_campaign(src, "config.json", "", small);
  small.seed = 31;
  dir_campaign(src, "tokenizer_config.json", "", small);
  CampaignOptions index = small;
  index.dense = 1024;
  index.sparse = 40;
  index.seed = 32;
  dir_campaign(src, "model.safetensors.index.json", "", index);
  CampaignOptions tok;  // 549 KB: every variant that parses builds an 8192-token vocabulary
  tok.dense = 160;
  tok.sparse = 24;
  tok.flips = 30;
  tok.seed = 33;
  dir_campaign(src, "tokenizer.json", "", tok);
}

TEST(CorruptConvert, Stories260KHfConfigWithLlama2cVocab) {
  const std::string src = test::shared_dir() + "/data/models/stories260K-hf";
  const std::string vocab = test::shared_file("data/models/stories260K/tok512.bin");
  if (!test::file_exists(src + "/config.json") || vocab.empty()) {
    GTEST_SKIP() << "../shared stories260K missing";
  }
  CampaignOptions o;
  o.dense = 1 << 20;
  o.flips = 100;
  o.seed = 40;
  dir_campaign(src, "config.json", vocab, o);
}

TEST(CorruptConvert, EveryTruncationOfAJsonFileFails) {
  // Truncation keeps a prefix; a JSON document's proper prefix never parses
  // unless only trailing whitespace was cut.
  const std::string p = test::shared_file("data/models/house-llama/config.json");
  if (p.empty()) {
    GTEST_SKIP() << "../shared house-llama missing";
  }
  std::string text = read_file(p);
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.back()))) text.pop_back();
  for (size_t n = 0; n < text.size(); ++n) EXPECT_THROW(json::parse(text.substr(0, n), "cut"), Error) << n;
}

TEST(CorruptConvert, SentencePieceModel) {
  const std::string p = test::shared_file("data/tokenizers/llama2-spm/tokenizer.model");
  if (p.empty()) {
    GTEST_SKIP() << "../shared llama2-spm missing";
  }
  test::TempDir dir;
  const std::string target = dir.file("tokenizer.model");
  CampaignOptions o;
  o.dense = 300;
  o.sparse = 40;
  o.flips = 40;  // each variant that parses builds a 32,000-piece tokenizer
  o.seed = 50;
  auto load = [&] {
    const convert::SentencePieceModel m = convert::read_sentencepiece_model(target);
    VocabSpec spec;
    spec.tokens = m.vocab.tokens;
    spec.scores = m.vocab.scores;
    spec.token_types = m.vocab.types;
    spec.unk_id = m.unk_id;
    spec.bos_id = m.bos_id;
    spec.eos_id = m.eos_id;
    Tokenizer t(spec);
    (void)t.decode(t.encode("Hello world \xc3\x28", true, true));
  };
  EXPECT_EQ(corrupt_campaign(read_file(p), target, load, o), "");
}

TEST(CorruptConvert, Llama2cCheckpointAndTokenizer) {
  const std::string bin = test::shared_file("data/models/stories260K/stories260K.bin");
  const std::string tok = test::shared_file("data/models/stories260K/tok512.bin");
  if (bin.empty() || tok.empty()) {
    GTEST_SKIP() << "../shared stories260K missing";
  }
  test::TempDir dir;
  auto load = [](const std::string& b, const std::string& t) {
    std::unique_ptr<convert::SourceModel> m = convert::open_llama2c(b, t);
    std::vector<float> buf;
    for (const auto& st : m->tensors) {
      buf.resize(static_cast<size_t>(st.n_elements()));
      st.read(buf.data());
    }
  };
  CampaignOptions o;
  o.dense = 64;
  o.sparse = 40;
  o.flips = 60;
  o.flip_region = 28;  // the header
  o.seed = 60;
  o.must_fail_below = read_file(bin).size();  // the size must match the header exactly
  const std::string b = dir.file("model.bin");
  EXPECT_EQ(corrupt_campaign(read_file(bin), b, [&] { load(b, tok); }, o), "");

  o.dense = 256;
  o.flip_region = 0;
  o.seed = 61;
  o.must_fail_below = read_file(tok).size();  // every token must be there
  const std::string t = dir.file("tok.bin");
  EXPECT_EQ(corrupt_campaign(read_file(tok), t, [&] { load(bin, t); }, o), "");
}

// Regressions found while hardening (see gguf-spec.md, "Resource limits").
TEST(CorruptConvert, SafetensorsByteSizeCannotWrap) {
  // 2^31 x 2^31 F32 elements: 2^62 elements passed the old element-count
  // bound and their byte size wrapped to 0, matching data_offsets [0, 0].
  test::TempDir dir;
  const std::string header = R"({"w":{"dtype":"F32","shape":[2147483648,2147483648],"data_offsets":[0,0]}})";
  std::string bytes(8, '\0');
  const uint64_t n = header.size();
  std::memcpy(&bytes[0], &n, 8);
  bytes += header;
  test::write_bytes(dir.file("w.safetensors"), bytes);
  try {
    safetensors::File f(dir.file("w.safetensors"));
    ADD_FAILURE() << "opened a tensor of " << f.tensors()[0].n_elements() << " elements and " << f.tensors()[0].nbytes
                  << " bytes";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("shape too large"), std::string::npos) << e.what();
  }
}

TEST(CorruptConvert, ConfigVocabSizeNeedsTheEmbedding) {
  // A 200-byte config claiming 2^24 tokens over a checkpoint without an
  // embedding must fail before the tokenizer import pads the vocabulary to
  // 2^24 entries (about a gigabyte of padding strings).
  test::TempDir d;
  const std::string header = "{}      ";
  std::string st(8, '\0');
  const uint64_t n = header.size();
  std::memcpy(&st[0], &n, 8);
  test::write_bytes(d.file("model.safetensors"), st + header);
  test::write_bytes(d.file("tokenizer.json"),
                    R"({"model":{"type":"BPE","vocab":{"a":0},"merges":[]},"pre_tokenizer":{"type":"ByteLevel"}})");
  test::write_bytes(d.file("config.json"),
                    R"({"architectures":["LlamaForCausalLM"],"hidden_size":64,"intermediate_size":172,)"
                    R"("num_hidden_layers":1,"num_attention_heads":8,"vocab_size":16777216})");
  CampaignOptions o;
  o.max_rss_mb = 256;
  o.timeout_s = 60;
  const std::string problem = test::run_isolated(
      [&](FILE* log) {
        try {
          convert::open_hf(d.path());
          std::fprintf(log, "opened\n");
          return 1;
        } catch (const Error& e) {
          if (std::string(e.what()).find("token_embd.weight") == std::string::npos) {
            std::fprintf(log, "unexpected error: %s\n", e.what());
            return 1;
          }
        }
        return 0;
      },
      o);
  EXPECT_EQ(problem, "");
}

}  // namespace
}  // namespace qgml
