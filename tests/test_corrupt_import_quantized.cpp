// Hostile quantized checkpoints: the real GPTQ (act-order) and bitsandbytes
// fixtures truncated and byte-flipped — config.json's quantization_config,
// the safetensors headers, and the data the importer interprets (g_idx,
// qzeros, quant_state JSON, absmax codes) — opened and packed as `qgml
// convert` does, in a memory-capped, time-limited child. Every variant must
// import or fail with a qgml::Error; never crash, hang or blow up memory.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <memory>
#include <string>
#include <vector>

#include "corrupt_util.h"
#include "qgml/convert.h"
#include "qgml/types.h"

using namespace qgml;

namespace {

// A copy of `src` made of symlinks, except `mutated`, which the campaign writes.
std::string mirror(const test::TempDir& tmp, const std::string& src, const std::string& mutated) {
  const std::string d = tmp.file("model");
  ::mkdir(d.c_str(), 0755);
  for (const char* f : {"config.json", "quantize_config.json", "model.safetensors", "gptq_model-4bit-128g.safetensors",
                        "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json"}) {
    const std::string from = src + "/" + f;
    if (f != mutated && test::file_exists(from)) {
      EXPECT_EQ(::symlink(from.c_str(), (d + "/" + f).c_str()), 0);
    }
  }
  return d;
}

// Opens the directory and packs every imported tensor, as `qgml convert` would.
void import_all(const std::string& dir) {
  const std::unique_ptr<convert::SourceModel> m = convert::open_hf(dir);
  std::vector<uint8_t> buf;
  for (const convert::SourceTensor& t : m->tensors) {
    if (!t.read_stored) continue;
    buf.resize(row_size(t.stored_type, t.ne[0]) * static_cast<size_t>(t.n_rows()));
    t.read_stored(0, t.n_rows(), buf.data());
  }
}

void campaign(const char* fixture, const char* file, test::CampaignOptions o) {
  const std::string src = test::shared_dir() + "/data/quantized-hf/" + fixture;
  if (!test::file_exists(src + "/" + file)) GTEST_SKIP() << "../shared " << fixture << " missing";
  SCOPED_TRACE(std::string(fixture) + "/" + file);
  test::TempDir tmp;
  const std::string d = mirror(tmp, src, file);
  EXPECT_EQ(test::corrupt_campaign(read_file(src + "/" + file), d + "/" + file, [&] { import_all(d); }, o), "");
}

}  // namespace

TEST(CorruptImportQuantized, GptqConfigJson) {
  test::CampaignOptions o;
  o.dense = 1 << 20;  // every truncation of this small file
  o.flips = 200;
  o.seed = 61;
  campaign("house-llama-gptq-4bit-g128-sym-actorder", "config.json", o);
}

TEST(CorruptImportQuantized, GptqSafetensors) {
  test::CampaignOptions o;
  o.dense = 256;
  o.sparse = 6;  // each variant rewrites the whole 11 MB file
  o.flips = 60;  // half in the header, half anywhere (g_idx, qzeros, qweight)
  o.flip_region = 16384;
  o.seed = 62;
  campaign("house-llama-gptq-4bit-g128-sym-actorder", "gptq_model-4bit-128g.safetensors", o);
}

TEST(CorruptImportQuantized, BnbSafetensors) {
  test::CampaignOptions o;
  o.dense = 256;
  o.sparse = 6;
  o.flips = 60;
  o.flip_region = 32768;
  o.seed = 63;
  campaign("house-llama-bnb-nf4-dq", "model.safetensors", o);
}
