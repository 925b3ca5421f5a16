// Hugging Face import on small model directories written by the test:
// permutation by hand, Qwen2, sharding, dtypes, rope scaling, tokenizer
// variants and every kind of bad input.
#include <gtest/gtest.h>

#include <cstdio>
#include <cstring>
#include <functional>
#include <string>
#include <vector>

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

struct Spec {
  std::string arch = "LlamaForCausalLM";
  int64_t hidden = 8, heads = 2, kv_heads = 1, ff = 6, layers = 2, vocab = 6;
  std::string dtype = "F32";
  bool tied = false;
  bool sharded = false;
  std::string extra_config;      // appended to config.json's object
  std::string tokenizer_json;    // "" → a GPT-2 byte-level one
  std::string drop;              // HF tensor name to leave out
  std::string bad_shape;         // HF tensor name to give a wrong shape
  std::vector<t::StEntry> extra; // more tensors
};

// Tensor k's element e holds k*64 + (e % 64): distinct within a row and
// exactly representable in F16 and BF16 (at most 255 with k < 4, so tensors
// are numbered modulo 4).
std::vector<float> values(int k, int64_t n) {
  std::vector<float> v(static_cast<size_t>(n));
  for (int64_t e = 0; e < n; ++e) v[static_cast<size_t>(e)] = static_cast<float>((k % 4) * 64 + e % 64);
  return v;
}

std::string encode(const std::string& dtype, const std::vector<float>& v) {
  if (dtype == "F16") return t::f16_bytes(v);
  if (dtype == "BF16") return t::bf16_bytes(v);
  return t::f32_bytes(v);
}

const char* kGpt2Tokenizer = R"({
  "added_tokens": [{"id": 4, "content": "<|endoftext|>", "special": true},
                   {"id": 5, "content": "userword", "special": false}],
  "pre_tokenizer": {"type": "ByteLevel", "add_prefix_space": false, "trim_offsets": true, "use_regex": true},
  "model": {"type": "BPE", "vocab": {"a": 0, "b": 1, "ab": 2, "\u0120a": 3, "<|endoftext|>": 4, "userword": 5},
            "merges": ["a b", ["\u0120", "a"]]}})";

std::vector<t::StEntry> tensors_for(const Spec& s) {
  const int64_t hd = s.hidden / s.heads;
  std::vector<std::pair<std::string, std::vector<int64_t>>> shapes = {{"model.embed_tokens.weight", {s.vocab, s.hidden}},
                                                                      {"model.norm.weight", {s.hidden}}};
  if (!s.tied) shapes.push_back({"lm_head.weight", {s.vocab, s.hidden}});
  const bool qwen = s.arch == "Qwen2ForCausalLM";
  for (int64_t l = 0; l < s.layers; ++l) {
    const std::string p = "model.layers." + std::to_string(l) + ".";
    shapes.push_back({p + "input_layernorm.weight", {s.hidden}});
    shapes.push_back({p + "post_attention_layernorm.weight", {s.hidden}});
    shapes.push_back({p + "self_attn.q_proj.weight", {s.heads * hd, s.hidden}});
    shapes.push_back({p + "self_attn.k_proj.weight", {s.kv_heads * hd, s.hidden}});
    shapes.push_back({p + "self_attn.v_proj.weight", {s.kv_heads * hd, s.hidden}});
    shapes.push_back({p + "self_attn.o_proj.weight", {s.hidden, s.heads * hd}});
    shapes.push_back({p + "mlp.gate_proj.weight", {s.ff, s.hidden}});
    shapes.push_back({p + "mlp.up_proj.weight", {s.ff, s.hidden}});
    shapes.push_back({p + "mlp.down_proj.weight", {s.hidden, s.ff}});
    if (qwen) {
      shapes.push_back({p + "self_attn.q_proj.bias", {s.heads * hd}});
      shapes.push_back({p + "self_attn.k_proj.bias", {s.kv_heads * hd}});
      shapes.push_back({p + "self_attn.v_proj.bias", {s.kv_heads * hd}});
    }
  }
  std::vector<t::StEntry> out;
  int k = 0;
  for (auto& [name, shape] : shapes) {
    if (name == s.drop) continue;
    if (name == s.bad_shape) shape[0] += 1;
    int64_t n = 1;
    for (int64_t d : shape) n *= d;
    out.push_back({name, s.dtype, shape, encode(s.dtype, values(k++, n))});
  }
  for (const auto& e : s.extra) out.push_back(e);
  return out;
}

void make_dir(const std::string& dir, const Spec& s) {
  const bool qwen = s.arch == "Qwen2ForCausalLM";
  std::string cfg = "{\"architectures\": [\"" + s.arch + "\"], \"model_type\": \"" + (qwen ? "qwen2" : "llama") +
                    "\", \"hidden_size\": " + std::to_string(s.hidden) +
                    ", \"intermediate_size\": " + std::to_string(s.ff) +
                    ", \"num_hidden_layers\": " + std::to_string(s.layers) +
                    ", \"num_attention_heads\": " + std::to_string(s.heads) +
                    ", \"num_key_value_heads\": " + std::to_string(s.kv_heads) +
                    ", \"vocab_size\": " + std::to_string(s.vocab) +
                    ", \"max_position_embeddings\": 64, \"rms_norm_eps\": 1e-06, \"rope_theta\": 1000000.0"
                    ", \"tie_word_embeddings\": " + (s.tied ? "true" : "false") +
                    ", \"bos_token_id\": 4, \"eos_token_id\": [4, 5]" + s.extra_config + "}";
  t::write_bytes(dir + "/config.json", cfg);
  t::write_bytes(dir + "/tokenizer.json", s.tokenizer_json.empty() ? kGpt2Tokenizer : s.tokenizer_json);
  const auto entries = tensors_for(s);
  if (!s.sharded) {
    t::write_safetensors(dir + "/model.safetensors", entries);
    return;
  }
  const size_t half = entries.size() / 2;
  std::vector<t::StEntry> a(entries.begin(), entries.begin() + half), b(entries.begin() + half, entries.end());
  t::write_safetensors(dir + "/model-00001-of-00002.safetensors", a);
  t::write_safetensors(dir + "/model-00002-of-00002.safetensors", b);
  std::string idx = "{\"metadata\": {}, \"weight_map\": {";
  for (size_t i = 0; i < entries.size(); ++i) {
    idx += (i ? ", \"" : "\"") + entries[i].name + "\": \"model-0000" + (i < half ? "1" : "2") + "-of-00002.safetensors\"";
  }
  t::write_bytes(dir + "/model.safetensors.index.json", idx + "}}");
}

std::vector<float> tensor_f32(const Reader& r, const std::string& name) {
  const auto* ti = r.find_tensor(name);
  if (!ti) throw std::runtime_error("no tensor " + name);
  const int64_t n = ti->ne[0] * ti->ne[1] * ti->ne[2] * ti->ne[3];
  std::vector<float> v(static_cast<size_t>(n));
  qgml::traits(ti->type).to_float(r.tensor_data(*ti), v.data(), n);
  return v;
}

std::string convert_error(const std::string& dir, const std::string& out) {
  try {
    cv::convert_hf(dir, out, Type::F32);
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

}  // namespace

TEST(ConvertSynthetic, LlamaQAndKRowsArePermutedToAdjacentPairs) {
  t::TempDir dir;
  Spec s;
  make_dir(dir.path(), s);
  cv::convert_hf(dir.path(), dir.file("o.gguf"), Type::F32);
  Reader r(dir.file("o.gguf"));
  qgml::safetensors::File st(dir.file("model.safetensors"));
  // head_dim 4: within each head, GGUF rows are HF rows 0, 2, 1, 3.
  const std::vector<int> q_order = {0, 2, 1, 3, 4, 6, 5, 7}, k_order = {0, 2, 1, 3};
  auto check = [&](const std::string& hf, const std::string& gg, const std::vector<int>& order) {
    std::vector<float> src(static_cast<size_t>(st.find(hf)->n_elements()));
    st.read_f32(*st.find(hf), src.data());
    const auto got = tensor_f32(r, gg);
    const auto* ti = r.find_tensor(gg);
    ASSERT_EQ(ti->ne[0], s.hidden);
    ASSERT_EQ(ti->ne[1], static_cast<int64_t>(order.size()));
    for (size_t row = 0; row < order.size(); ++row) {
      for (int64_t c = 0; c < s.hidden; ++c) {
        ASSERT_EQ(got[row * s.hidden + c], src[order[row] * s.hidden + c]) << gg << " row " << row;
      }
    }
  };
  check("model.layers.1.self_attn.q_proj.weight", "blk.1.attn_q.weight", q_order);
  check("model.layers.1.self_attn.k_proj.weight", "blk.1.attn_k.weight", k_order);
  check("model.layers.1.self_attn.v_proj.weight", "blk.1.attn_v.weight", {0, 1, 2, 3});  // v is not rotated
  EXPECT_EQ(r.tensors().size(), 3u + 9u * 2u);
  EXPECT_EQ(r.get_string("general.architecture"), "llama");
  EXPECT_EQ(r.get_int("llama.rope.dimension_count"), 4);
  EXPECT_EQ(r.find("llama.attention.key_length"), nullptr);  // no head_dim in config.json
  EXPECT_EQ(r.get_float("llama.rope.freq_base"), 1000000.0);
  EXPECT_EQ(r.get_int("tokenizer.ggml.bos_token_id"), 4);
  EXPECT_EQ(r.get_int("tokenizer.ggml.eos_token_id"), 4);  // first of a list
}

TEST(ConvertSynthetic, Qwen2KeepsHfOrderAndBiases) {
  t::TempDir dir;
  Spec s;
  s.arch = "Qwen2ForCausalLM";
  s.tokenizer_json = std::string(kGpt2Tokenizer);
  const std::string qwen_pre =
      R"("pre_tokenizer": {"type": "Sequence", "pretokenizers": [{"type": "Split", "pattern": {"Regex": "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"}, "behavior": "Isolated", "invert": false}, {"type": "ByteLevel", "add_prefix_space": false, "trim_offsets": false, "use_regex": false}]},)";
  const size_t at = s.tokenizer_json.find("\"pre_tokenizer\"");
  const size_t end = s.tokenizer_json.find("\n", at);
  s.tokenizer_json.replace(at, end - at, qwen_pre);
  make_dir(dir.path(), s);
  cv::convert_hf(dir.path(), dir.file("o.gguf"), Type::F16);
  Reader r(dir.file("o.gguf"));
  EXPECT_EQ(r.get_string("general.architecture"), "qwen2");
  EXPECT_EQ(r.get_int("qwen2.block_count"), 2);
  EXPECT_EQ(r.get_string("tokenizer.ggml.pre"), "qwen2");
  qgml::safetensors::File st(dir.file("model.safetensors"));
  for (const char* pair : {"self_attn.q_proj.weight|attn_q.weight", "self_attn.k_proj.weight|attn_k.weight",
                           "self_attn.q_proj.bias|attn_q.bias", "self_attn.v_proj.bias|attn_v.bias"}) {
    const std::string p(pair), hf = "model.layers.0." + p.substr(0, p.find('|')), gg = "blk.0." + p.substr(p.find('|') + 1);
    std::vector<float> src(static_cast<size_t>(st.find(hf)->n_elements()));
    st.read_f32(*st.find(hf), src.data());
    EXPECT_EQ(tensor_f32(r, gg), src) << gg;  // small integers: exact in F16 too
    const bool bias = gg.find(".bias") != std::string::npos;
    EXPECT_EQ(r.find_tensor(gg)->type, bias ? Type::F32 : Type::F16) << gg;
  }
  EXPECT_EQ(r.tensors().size(), 3u + 12u * 2u);
}

TEST(ConvertSynthetic, ShardedF16AndBf16SourcesGiveTheSameTensors) {
  t::TempDir a, b, c;
  Spec s;
  make_dir(a.path(), s);
  s.sharded = true;
  s.dtype = "F16";
  make_dir(b.path(), s);
  s.dtype = "BF16";
  make_dir(c.path(), s);
  cv::convert_hf(a.path(), a.file("o.gguf"), Type::F32);
  cv::convert_hf(b.path(), b.file("o.gguf"), Type::F32);
  cv::convert_hf(c.path(), c.file("o.gguf"), Type::F32);
  Reader ra(a.file("o.gguf")), rb(b.file("o.gguf")), rc(c.file("o.gguf"));
  ASSERT_EQ(ra.tensors().size(), rb.tensors().size());
  for (const auto& ti : ra.tensors()) {
    EXPECT_EQ(tensor_f32(ra, ti.name), tensor_f32(rb, ti.name)) << ti.name;
    EXPECT_EQ(tensor_f32(ra, ti.name), tensor_f32(rc, ti.name)) << ti.name;
  }
}

TEST(ConvertSynthetic, TiedModelsMayOmitLmHead) {
  t::TempDir dir;
  Spec s;
  s.tied = true;
  make_dir(dir.path(), s);
  cv::convert_hf(dir.path(), dir.file("o.gguf"), Type::F32);
  Reader r(dir.file("o.gguf"));
  EXPECT_EQ(r.find_tensor("output.weight"), nullptr);
  EXPECT_NE(r.find_tensor("token_embd.weight"), nullptr);
}

TEST(ConvertSynthetic, RopeScaling) {
  t::TempDir dir;
  Spec s;
  s.hidden = 256;  // head_dim 128, as Llama 3.1
  s.extra_config = R"(, "rope_scaling": {"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0,
                      "high_freq_factor": 4.0, "original_max_position_embeddings": 8192}, "rope_theta": 500000.0)";
  make_dir(dir.path(), s);
  cv::convert_hf(dir.path(), dir.file("o.gguf"), Type::F16);
  Reader r(dir.file("o.gguf"));
  const auto* ti = r.find_tensor("rope_freqs.weight");
  ASSERT_NE(ti, nullptr);
  EXPECT_EQ(ti->type, Type::F32);
  ASSERT_EQ(ti->ne[0], 64);
  const auto f = tensor_f32(r, "rope_freqs.weight");
  // Pair i's wavelength 2π·500000^(i/64) passes 8192/4 = 2048 between i = 28
  // and 29 (2π·500000^(28/64) ≈ 1980) and 8192 between i = 34 and 35
  // (≈ 6690 and ≈ 8220), worked out by hand.
  for (int i = 0; i <= 28; ++i) EXPECT_EQ(f[i], 1.0f) << i;
  for (int i = 35; i < 64; ++i) EXPECT_EQ(f[i], 8.0f) << i;
  for (int i = 29; i <= 34; ++i) {
    EXPECT_GT(f[i], 1.0f) << i;
    EXPECT_LT(f[i], 8.0f) << i;
    EXPECT_GT(f[i], f[i - 1]) << i;
  }
  EXPECT_EQ(r.find("llama.rope.scaling.type"), nullptr);  // llama.cpp stores only the tensor

  t::TempDir d2;
  Spec lin;
  lin.extra_config = R"(, "rope_scaling": {"type": "linear", "factor": 4.0})";
  make_dir(d2.path(), lin);
  cv::convert_hf(d2.path(), d2.file("o.gguf"), Type::F32);
  Reader r2(d2.file("o.gguf"));
  EXPECT_EQ(r2.get_string("llama.rope.scaling.type"), "linear");
  EXPECT_EQ(r2.get_float("llama.rope.scaling.factor"), 4.0);
  EXPECT_EQ(r2.find_tensor("rope_freqs.weight"), nullptr);

  t::TempDir d3;
  Spec dyn;
  dyn.extra_config = R"(, "rope_scaling": {"type": "dynamic", "factor": 2.0})";
  make_dir(d3.path(), dyn);
  EXPECT_NE(convert_error(d3.path(), d3.file("o.gguf")).find("'dynamic' is not supported"), std::string::npos);
}

TEST(ConvertSynthetic, Gpt2TokenizerJson) {
  t::TempDir dir;
  Spec s;
  s.vocab = 9;  // config pads three ids past the tokenizer
  make_dir(dir.path(), s);
  cv::convert_hf(dir.path(), dir.file("o.gguf"), Type::F32);
  Reader r(dir.file("o.gguf"));
  EXPECT_EQ(r.get_string("tokenizer.ggml.model"), "gpt2");
  EXPECT_EQ(r.get_string("tokenizer.ggml.pre"), "gpt-2");
  const auto& tokens = r.find("tokenizer.ggml.tokens")->items;
  const auto& types = r.find("tokenizer.ggml.token_type")->items;
  ASSERT_EQ(tokens.size(), 9u);
  EXPECT_EQ(tokens[3].str, "\xc4\xa0" "a");
  EXPECT_EQ(tokens[6].str, "[PAD6]");
  const std::vector<int64_t> want_types = {1, 1, 1, 1, 3, 4, 5, 5, 5};
  for (size_t i = 0; i < 9; ++i) EXPECT_EQ(types[i].num.i, want_types[i]) << i;
  const auto& merges = r.find("tokenizer.ggml.merges")->items;
  ASSERT_EQ(merges.size(), 2u);
  EXPECT_EQ(merges[0].str, "a b");
  EXPECT_EQ(merges[1].str, "\xc4\xa0 a");
  EXPECT_EQ(r.find("tokenizer.ggml.scores"), nullptr);
}

TEST(ConvertSynthetic, SentencePieceStyleTokenizerJson) {
  t::TempDir dir;
  Spec s;
  s.vocab = 7;
  s.tokenizer_json = R"({"added_tokens": [{"id": 1, "content": "<s>", "special": true}],
    "normalizer": {"type": "Sequence", "normalizers": [{"type": "Prepend", "prepend": "\u2581"},
                   {"type": "Replace", "pattern": {"String": " "}, "content": "\u2581"}]},
    "pre_tokenizer": null,
    "model": {"type": "BPE", "byte_fallback": true, "unk_token": "<unk>",
              "vocab": {"<unk>": 0, "<s>": 1, "<0x41>": 2, "\u2581": 3, "a": 4, "\u2581a": 5},
              "merges": ["\u2581 a"]}})";
  make_dir(dir.path(), s);
  cv::convert_hf(dir.path(), dir.file("o.gguf"), Type::F32);
  Reader r(dir.file("o.gguf"));
  EXPECT_EQ(r.get_string("tokenizer.ggml.model"), "llama");
  EXPECT_EQ(r.get_string("tokenizer.ggml.pre"), "default");
  const auto& types = r.find("tokenizer.ggml.token_type")->items;
  const auto& scores = r.find("tokenizer.ggml.scores")->items;
  const std::vector<int64_t> want_types = {2, 3, 6, 1, 1, 1, 5};
  for (size_t i = 0; i < 7; ++i) EXPECT_EQ(types[i].num.i, want_types[i]) << i;
  EXPECT_EQ(scores[5].num.f, -1.0);  // made by merge rank 0
  EXPECT_EQ(scores[4].num.f, 0.0);
  EXPECT_EQ(scores[6].num.f, -1000.0);
  EXPECT_EQ(r.find("tokenizer.ggml.merges"), nullptr);
}

TEST(ConvertSynthetic, SentencePieceModelWithTokenizerConfig) {
  QGML_REQUIRE_SHARED(model, "data/tokenizers/llama2-spm/tokenizer.model");
  t::TempDir dir;
  Spec s;
  s.vocab = 32002;
  make_dir(dir.path(), s);
  std::remove(dir.file("tokenizer.json").c_str());
  t::write_bytes(dir.file("tokenizer.model"), qgml::read_file(model));
  t::write_bytes(dir.file("tokenizer_config.json"), R"({"add_bos_token": false, "add_eos_token": true,
    "bos_token": {"content": "<s>"}, "eos_token": "</s>",
    "added_tokens_decoder": {"32000": {"content": "<|im_start|>", "special": true},
                             "32001": {"content": "extra", "special": false}}})");
  cv::convert_hf(dir.path(), dir.file("o.gguf"), Type::F32);
  Reader r(dir.file("o.gguf"));
  EXPECT_EQ(r.get_string("tokenizer.ggml.model"), "llama");
  const auto& tokens = r.find("tokenizer.ggml.tokens")->items;
  const auto& types = r.find("tokenizer.ggml.token_type")->items;
  ASSERT_EQ(tokens.size(), 32002u);
  EXPECT_EQ(tokens[32000].str, "<|im_start|>");
  EXPECT_EQ(types[32000].num.i, 3);
  EXPECT_EQ(types[32001].num.i, 4);
  EXPECT_EQ(r.get_int("tokenizer.ggml.bos_token_id"), 1);  // "<s>" looked up, not config.json's 4
  EXPECT_EQ(r.get_int("tokenizer.ggml.eos_token_id"), 2);
  EXPECT_EQ(r.get_int("tokenizer.ggml.unknown_token_id"), 0);
  EXPECT_FALSE(r.find("tokenizer.ggml.add_bos_token")->num.u);
  EXPECT_TRUE(r.find("tokenizer.ggml.add_eos_token")->num.u);
}

TEST(ConvertSynthetic, RejectsBadDirectories) {
  auto expect = [](const Spec& s, const char* needle, const std::function<void(const std::string&)>& mutate = {}) {
    t::TempDir dir;
    make_dir(dir.path(), s);
    if (mutate) mutate(dir.path());
    const std::string err = convert_error(dir.path(), dir.file("o.gguf"));
    EXPECT_NE(err.find(needle), std::string::npos) << "wanted '" << needle << "', got: " << err;
    EXPECT_FALSE(t::file_exists(dir.file("o.gguf")));
  };
  Spec s;
  s.drop = "model.layers.1.mlp.up_proj.weight";
  expect(s, "'blk.1.ffn_up.weight' is missing");
  s = Spec();
  s.drop = "lm_head.weight";
  expect(s, "'output.weight' is missing");
  s = Spec();
  s.bad_shape = "model.layers.0.self_attn.k_proj.weight";
  expect(s, "has shape [5, 8], but config.json implies [4, 8]");
  s = Spec();
  s.extra = {{"model.layers.0.mlp.experts.0.weight", "F32", {2}, t::f32_bytes({1, 2})}};
  expect(s, "'model.layers.0.mlp.experts.0.weight' is not part of");
  s = Spec();
  s.extra = {{"model.layers.7.input_layernorm.weight", "F32", {8}, t::f32_bytes(values(0, 8))}};
  expect(s, "layer 7");
  s = Spec();
  s.dtype = "I32";
  expect(s, "dtype I32");
  s = Spec();
  s.arch = "MambaForCausalLM";
  expect(s, "'MambaForCausalLM'");
  s = Spec();
  s.heads = 3;
  expect(s, "multiple");
  s = Spec();
  s.extra_config = R"(, "hidden_size": "eight")";
  expect(s, "'hidden_size' must be a number");
  s = Spec();
  s.tokenizer_json = R"({"model": {"type": "Unigram", "vocab": []}})";
  expect(s, "'Unigram' is not supported");
  s = Spec();
  s.tokenizer_json = R"({"pre_tokenizer": {"type": "Whitespace"}, "model": {"type": "BPE", "vocab": {"a": 0}, "merges": []}})";
  expect(s, "unrecognised byte-level BPE pre-tokenizer");
  s = Spec();
  s.tokenizer_json = R"({"model": {"type": "BPE", "vocab": {"a": 0, "b": 0}}})";
  expect(s, "used twice");
  s = Spec();
  s.tokenizer_json = R"({"model": {"type": "BPE", "vocab": {"a": 99}}})";
  expect(s, "beyond config.json's vocab_size");
  s = Spec();
  s.sharded = true;
  expect(s, "model-00002-of-00002.safetensors: cannot open",
         [](const std::string& d) { std::remove((d + "/model-00002-of-00002.safetensors").c_str()); });
  expect(s, "is not a plain file name", [](const std::string& d) {
    t::write_bytes(d + "/model.safetensors.index.json", R"({"weight_map": {"x": "../etc/passwd"}})");
  });
  expect(s, "is not in", [](const std::string& d) {
    t::write_bytes(d + "/model.safetensors.index.json",
                   R"({"weight_map": {"model.norm.weight": "model-00001-of-00002.safetensors"}})");
  });
  expect(Spec(), "no model.safetensors", [](const std::string& d) { std::remove((d + "/model.safetensors").c_str()); });
  expect(Spec(), "config.json", [](const std::string& d) { t::write_bytes(d + "/config.json", "{\"hidden_size\": 8,"); });
  expect(Spec(), "no tokenizer.json", [](const std::string& d) { std::remove((d + "/tokenizer.json").c_str()); });
}
