// The LayerNorm families — OPT (pre-LN, and opt-350m's post-LN with embedding
// projections), Falcon (RW with ALiBi, 7B with rotary multi-query parallel
// blocks, 40B with grouped kv heads and two norms), GPT-2 and GPT-NeoX
// (parallel and sequential residual, partial rotary) — as tiny synthetic
// Hugging Face checkpoints (tests/data/arch/, written by
// tests/gen/gen_arch_goldens_more.py) converted and run by qgml, against
// float64 PyTorch forward passes written from the HF model definitions:
// logits of every position within 1e-4 relative (max |Δ| / max |logit|),
// greedy continuations through the KV cache identical, GGUF metadata and
// tensor names as llama.cpp writes them, and the importer's refusals.
//
// The checkpoints are committed, so this suite needs neither ../shared nor Python.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <functional>
#include <ostream>
#include <string>
#include <vector>

#include "json.h"
#include "npy.h"
#include "qgml/convert.h"
#include "qgml/block.h"
#include "qgml/error.h"
#include "qgml/gguf.h"
#include "qgml/graph.h"
#include "qgml/threadpool.h"
#include "qgml/model.h"
#include "qgml/sampling.h"
#include "qgml/session.h"
#include "qgml/tokenizer.h"
#include "golden_util.h"
#include "test_util.h"
#include "tokenizer_types.h"

using namespace qgml;
using test::read_npy_f64;
using test::relative_error;

namespace {

// The issue asks for 1e-3; float32 qgml on these small models does far better.
constexpr double kTolerance = 1e-4;

struct Variant {
  const char* name;
  const char* gguf_arch;
  const char* pre;       // tokenizer.ggml.pre
  const char* qkv;       // "fused" (attn_qkv) or "split" (attn_q/k/v)
};

const Variant kVariants[] = {
    {"opt-tiny", "opt", "gpt-2", "split"},
    {"opt-350m-style-tiny", "opt", "gpt-2", "split"},
    {"gpt2-tiny", "gpt2", "gpt-2", "fused"},
    {"gptneox-tiny", "gptneox", "gpt-2", "fused"},
    {"gptneox-sequential-tiny", "gptneox", "gpt-2", "fused"},
    {"falcon-rw-tiny", "falcon", "gpt-2", "fused"},
    {"falcon-7b-style-tiny", "falcon", "falcon", "fused"},
    {"falcon-40b-style-tiny", "falcon", "falcon", "fused"},
};

void PrintTo(const Variant& v, std::ostream* os) { *os << v.name; }

struct Golden {
  std::vector<int32_t> ids, greedy;
  std::vector<double> logits;
  int64_t n_vocab = 0;
};

Golden load_golden(const std::string& dir) {
  const json::Value g = json::parse_file(dir + "/golden.json");
  Golden out;
  out.ids = test::ids_of(*g.get("ids"));
  out.greedy = test::ids_of(*g.get("greedy_ids"));
  std::vector<int64_t> shape;
  out.logits = read_npy_f64(dir + "/" + g.get("logits_file")->as_string(), &shape);
  if (shape.size() != 2 || shape[0] != static_cast<int64_t>(out.ids.size())) throw Error(dir + ": logits shape");
  out.n_vocab = shape[1];
  return out;
}

void convert_dir(const std::string& dir, const std::string& out,
                 const std::function<void(convert::SourceModel&)>& edit = nullptr) {
  auto src = convert::open_hf(dir);
  if (edit) edit(*src);
  convert::write_gguf(*src, out, Type::F32);
}

std::vector<float> eval_all(const Model& model, const std::vector<int32_t>& ids) {
  SessionParams sp;
  sp.kv_type = Type::F32;
  sp.n_threads = 2;
  Session s(model, sp);
  return s.eval(ids, true);
}

double worst_error(const std::vector<float>& got, const Golden& g, size_t* pos) {
  double worst = -1;
  for (size_t i = 0; i < g.ids.size(); ++i) {
    const double e = relative_error(got.data() + i * g.n_vocab, g.logits.data() + i * g.n_vocab, g.n_vocab);
    if (e > worst) {
      worst = e;
      *pos = i;
    }
  }
  return worst;
}

// A copy of a variant's directory whose config.json is edited, for refusals.
std::string edited_copy(const test::TempDir& tmp, const std::string& variant,
                        const std::function<void(std::string&)>& edit_config) {
  const std::string src = test::arch_variant_dir(variant), dst = tmp.file(variant);
  EXPECT_EQ(std::system(("cp -r '" + src + "' '" + dst + "'").c_str()), 0);
  std::string cfg = read_file(dst + "/config.json");
  edit_config(cfg);
  std::ofstream(dst + "/config.json", std::ios::binary) << cfg;
  return dst;
}

void replace(std::string& s, const std::string& from, const std::string& to) {
  const size_t p = s.find(from);
  ASSERT_NE(p, std::string::npos) << from;
  s.replace(p, from.size(), to);
}

class ArchGoldenMore : public ::testing::TestWithParam<Variant> {
 protected:
  void SetUp() override {
    dir_ = test::arch_variant_dir(GetParam().name);
    golden_ = load_golden(dir_);
    gguf_ = tmp_.file(std::string(GetParam().name) + ".gguf");
    convert_dir(dir_, gguf_);
  }
  test::TempDir tmp_;
  std::string dir_, gguf_;
  Golden golden_;
};

}  // namespace

TEST_P(ArchGoldenMore, EveryPositionMatchesPyTorch) {
  const auto model = Model::load(gguf_);
  ASSERT_EQ(model->hparams().n_vocab, golden_.n_vocab);
  const std::vector<float> logits = eval_all(*model, golden_.ids);
  ASSERT_EQ(logits.size(), golden_.ids.size() * static_cast<size_t>(golden_.n_vocab));
  size_t pos = 0;
  const double worst = worst_error(logits, golden_, &pos);
  std::printf("[ %s ] max relative logit error %.3g (position %zu of %zu)\n", GetParam().name, worst, pos,
              golden_.ids.size());
  EXPECT_LT(worst, kTolerance) << "position " << pos;
  RecordProperty("max_relative_error", std::to_string(worst));
}

// One token at a time through the KV cache, against the reference's full
// re-evaluation at every step.
TEST_P(ArchGoldenMore, GreedyContinuationMatchesPyTorch) {
  const auto model = Model::load(gguf_);
  SessionParams sp;
  sp.kv_type = Type::F32;
  sp.n_threads = 2;
  Session s(*model, sp);
  std::vector<float> last = s.eval(golden_.ids);
  SamplerParams greedy;
  greedy.temp = 0;
  Sampler sampler(greedy);
  std::vector<int32_t> got;
  for (size_t i = 0; i < golden_.greedy.size(); ++i) {
    got.push_back(sampler.sample(last.data(), golden_.n_vocab));
    last = s.eval({got.back()});
  }
  EXPECT_EQ(got, golden_.greedy);
}

// llama.cpp's key and tensor names for the family, checked against config.json.
TEST_P(ArchGoldenMore, MetadataAndNamesAreLlamaCpps) {
  const gguf::Reader f(gguf_);
  const json::Value c = json::parse_file(dir_ + "/config.json");
  const std::string arch = GetParam().gguf_arch, a = arch + ".";
  auto cfg = [&](std::initializer_list<const char*> keys) {
    for (const char* k : keys)
      if (const json::Value* v = c.get(k)) return v->as_int();
    ADD_FAILURE() << "config lacks " << *keys.begin();
    return int64_t{-1};
  };
  EXPECT_EQ(f.get_string("general.architecture"), arch);
  const int64_t E = cfg({"hidden_size", "n_embd"}), L = cfg({"num_hidden_layers", "n_layer"});
  const int64_t H = cfg({"num_attention_heads", "n_head"});
  EXPECT_EQ(f.get_int(a + "block_count"), L);
  EXPECT_EQ(f.get_int(a + "embedding_length"), E);
  EXPECT_EQ(f.get_int(a + "attention.head_count"), H);
  EXPECT_NE(f.find(a + "attention.layer_norm_epsilon"), nullptr);
  EXPECT_NE(f.find(a + "feed_forward_length"), nullptr);
  for (const gguf::KeyValue& kv : f.metadata()) {
    const std::string& k = kv.key;
    if (k.compare(0, 8, "general.") == 0 || k.compare(0, 10, "tokenizer.") == 0) continue;
    EXPECT_EQ(k.compare(0, a.size(), a), 0) << k;
  }
  for (int64_t l = 0; l < L; ++l) {
    const std::string p = "blk." + std::to_string(l) + ".";
    EXPECT_NE(f.find_tensor(p + "attn_norm.weight"), nullptr);
    EXPECT_NE(f.find_tensor(p + "attn_norm.bias"), nullptr);
    EXPECT_NE(f.find_tensor(p + "attn_output.weight"), nullptr);
    EXPECT_NE(f.find_tensor(p + "ffn_up.weight"), nullptr);
    EXPECT_NE(f.find_tensor(p + "ffn_down.weight"), nullptr);
    const bool fused = std::string(GetParam().qkv) == "fused";
    EXPECT_EQ(f.find_tensor(p + "attn_qkv.weight") != nullptr, fused);
    EXPECT_EQ(f.find_tensor(p + "attn_q.weight") != nullptr, !fused);
  }
  const bool learned_pos = arch == "gpt2" || arch == "opt";
  const gguf::TensorInfo* pos = f.find_tensor("position_embd.weight");
  ASSERT_EQ(pos != nullptr, learned_pos);
  if (pos) {  // OPT's two offset rows are gone: one row per position
    EXPECT_EQ(pos->ne[0], E);
    EXPECT_EQ(pos->ne[1], f.get_int(a + "context_length"));
  }
  EXPECT_EQ(f.find_tensor("output.weight") != nullptr, arch == "gptneox");  // the others tie the head

  EXPECT_EQ(f.get_string("tokenizer.ggml.model"), "gpt2");
  EXPECT_EQ(f.get_string("tokenizer.ggml.pre"), GetParam().pre);
  EXPECT_EQ(f.get_int("tokenizer.ggml.eos_token_id"), c.get("eos_token_id")->as_int());

  if (arch == "gptneox") {
    const int64_t D = E / H;
    EXPECT_EQ(f.get_int(a + "rope.dimension_count"),
              static_cast<int64_t>(static_cast<double>(D) * c.get("rotary_pct")->as_double()));
    const gguf::Value* par = f.find(a + "use_parallel_residual");
    ASSERT_NE(par, nullptr);
    EXPECT_EQ(par->num.u != 0, c.get("use_parallel_residual")->as_bool());
  }
  if (arch == "falcon") {
    const bool alibi = c.get("alibi")->as_bool();
    EXPECT_EQ(f.find(a + "attention.max_alibi_bias") != nullptr, alibi);
    EXPECT_EQ(f.get_string(a + "tensor_data_layout"), "jploski");
  }
}

namespace {

// Records the linears a block routes through qgml::linear, in build order,
// with the input each one reads (GPTQ's true-sequential groups are runs of
// linears sharing an input).
struct RecordingHook : LinearHook {
  Tensor* linear(Context&, Graph&, Tensor* w, Tensor* x) override {
    const std::string name = w->name;
    if (inputs.empty() || inputs.back() != x) groups.emplace_back();
    groups.back() += (groups.back().empty() ? "" : "+") + name.substr(name.find('.', 4) + 1);
    inputs.push_back(x);
    return nullptr;
  }
  std::vector<Tensor*> inputs;
  std::vector<std::string> groups;
};

}  // namespace

// What GPTQ calibration runs: build_input, then each block on its own (its
// own KV cache), then the head, computed here from the file's tensors. It must
// give the golden logits, and each block must show its linears in the
// true-sequential order AutoGPTQ uses for the family.
TEST_P(ArchGoldenMore, BlockByBlockMatchesAndOrdersLinears) {
  const auto model = Model::load(gguf_);
  ASSERT_TRUE(supports_blocks(*model));
  const HParams& hp = model->hparams();
  const int64_t T = static_cast<int64_t>(golden_.ids.size());
  ThreadPool pool(2);
  Context ctx(true);
  Tensor* ids = ctx.new_tensor_1d(Type::I32, T);
  Tensor* pos = ctx.new_tensor_1d(Type::I32, T);
  for (int64_t t = 0; t < T; ++t) {
    static_cast<int32_t*>(ids->data)[t] = golden_.ids[static_cast<size_t>(t)];
    static_cast<int32_t*>(pos->data)[t] = static_cast<int32_t>(t);
  }
  // Graph results live as long as their graph: each stage's output is copied into a leaf.
  auto run = [&](const std::function<Tensor*(Graph&)>& build) {
    Graph g;
    Tensor* r = build(g);
    g.add_output(r);
    g.compute(pool);
    Tensor* leaf = ctx.new_tensor_2d(Type::F32, r->ne[0], r->ne[1]);
    for (int64_t t = 0; t < r->ne[1]; ++t)
      std::copy_n(reinterpret_cast<const float*>(r->row(t)), r->ne[0], static_cast<float*>(leaf->data) + t * r->ne[0]);
    return leaf;
  };
  Tensor* x = run([&](Graph&) { return build_input(*model, ctx, ids, pos); });
  std::vector<std::string> want_groups;
  const std::string arch = GetParam().gguf_arch;
  if (arch == "opt") want_groups = {"attn_q.weight+attn_k.weight+attn_v.weight", "attn_output.weight", "ffn_up.weight", "ffn_down.weight"};
  else want_groups = {"attn_qkv.weight", "attn_output.weight", "ffn_up.weight", "ffn_down.weight"};
  std::vector<std::unique_ptr<KvCache>> caches;
  for (int l = 0; l < hp.n_layer; ++l) {
    auto cache = std::make_unique<KvCache>();
    cache->n_ctx = T;
    cache->k.assign(static_cast<size_t>(hp.n_layer), nullptr);
    cache->v.assign(static_cast<size_t>(hp.n_layer), nullptr);
    cache->k[static_cast<size_t>(l)] = cache->ctx.new_tensor_3d(Type::F32, hp.head_dim, hp.n_head_kv, T);
    cache->v[static_cast<size_t>(l)] = cache->ctx.new_tensor_3d(Type::F32, T, hp.head_dim, hp.n_head_kv);
    {  // GPTQ first builds each block in a no-allocation context only to list its linears.
      Context bare(false);
      Graph g;
      build_block(*model, bare, g, *cache, pos, l, bare.new_tensor_2d(Type::F32, hp.n_embd, T), nullptr);
    }
    RecordingHook hook;
    x = run([&](Graph& g) { return build_block(*model, ctx, g, *cache, pos, l, x, &hook); });
    EXPECT_EQ(hook.groups, want_groups) << "layer " << l;
    caches.push_back(std::move(cache));
  }
  // The head: [final norm], [output projection], tied or separate output.
  const float eps = static_cast<float>(model->file().get_float(arch + ".attention.layer_norm_epsilon"));
  Tensor* logits = run([&](Graph&) {
    Tensor* h = x;
    if (Tensor* w = model->weight_or_null("output_norm.weight"))
      h = add(ctx, mul(ctx, layer_norm(ctx, h, eps), w), model->weight("output_norm.bias"));
    if (Tensor* w = model->weight_or_null("output_proj.weight")) h = mul_mat(ctx, w, h);
    Tensor* out = model->weight_or_null("output.weight");
    return mul_mat(ctx, out ? out : model->weight("token_embd.weight"), h);
  });
  const float* l0 = static_cast<const float*>(logits->data);
  const std::vector<float> got(l0, l0 + T * golden_.n_vocab);
  size_t worst_pos = 0;
  EXPECT_LT(worst_error(got, golden_, &worst_pos), kTolerance) << "position " << worst_pos;
}

// The tokenizer of each checkpoint loads and round-trips text through qgml.
TEST_P(ArchGoldenMore, TokenizerRoundTrips) {
  const auto model = Model::load(gguf_);
  const Tokenizer& tok = model->tokenizer();
  const std::string text = "Once upon a time, the little girl saw 12345 foxes.";
  const std::vector<int32_t> ids = tok.encode(text, false);
  ASSERT_FALSE(ids.empty());
  std::string back;
  for (int32_t id : ids) back += tok.token_to_piece(id);
  EXPECT_EQ(back, text);
}

// OPT's slow-tokenizer files: GPT-2 BPE, </s> (id 2) as BOS and prepended,
// the vocabulary padded to config.json's vocab_size.
TEST(ArchGoldenMoreTokenizer, OptVocabJsonAndMerges) {
  test::TempDir tmp;
  const std::string out = tmp.file("opt.gguf");
  convert_dir(test::arch_variant_dir("opt-tiny"), out);
  const gguf::Reader f(out);
  EXPECT_EQ(f.get_int("tokenizer.ggml.bos_token_id"), 2);
  EXPECT_EQ(f.get_int("tokenizer.ggml.padding_token_id"), 1);
  const gguf::Value* add_bos = f.find("tokenizer.ggml.add_bos_token");
  ASSERT_NE(add_bos, nullptr);
  EXPECT_NE(add_bos->num.u, 0u);
  const gguf::Value* tokens = f.find("tokenizer.ggml.tokens");
  ASSERT_NE(tokens, nullptr);
  EXPECT_EQ(tokens->items.size(), 300u);
  EXPECT_EQ(tokens->items[2].str, "</s>");
  EXPECT_EQ(tokens->items[299].str, "[PAD299]");
  const auto model = Model::load(out);
  const std::vector<int32_t> ids = model->tokenizer().encode("Once upon a time", true);
  ASSERT_FALSE(ids.empty());
  EXPECT_EQ(ids[0], 2);
}

// OPT's tokenizer files are GPT-2's slow-tokenizer files: imported from the
// real GPT-2 vocab.json + merges.txt, the vocabulary is llama.cpp's gpt-2 one,
// token for token and merge for merge, and encodes llama.cpp's test strings
// to its ids.
TEST(ArchGoldenMoreTokenizer, Gpt2VocabJsonEqualsLlamaCpps) {
  QGML_REQUIRE_SHARED(vocab, "data/tokenizers/gpt2-bpe/vocab.json");
  QGML_REQUIRE_SHARED(merges, "data/tokenizers/gpt2-bpe/merges.txt");
  QGML_REQUIRE_SHARED(ref, "data/vocab-gguf/ggml-vocab-gpt-2.gguf");
  QGML_REQUIRE_SHARED(inp, "data/vocab-gguf/ggml-vocab-gpt-2.gguf.inp");
  QGML_REQUIRE_SHARED(outp, "data/vocab-gguf/ggml-vocab-gpt-2.gguf.out");
  test::TempDir tmp;
  const std::string dir = tmp.file("gpt2-slow");
  ASSERT_EQ(std::system(("mkdir -p '" + dir + "' && cp '" + vocab + "' '" + merges + "' '" + dir + "/'").c_str()), 0);
  const json::Value cfg = json::parse(R"({"bos_token_id": 50256, "eos_token_id": 50256})", "config");
  convert::SourceModel m;
  convert::import_hf_tokenizer(dir, cfg, 50257, false, "", m);
  const std::string out = tmp.file("vocab.gguf");
  m.set("general.architecture", gguf::Value::string("gpt2"));
  convert::write_gguf(m, out, Type::F32);

  const gguf::Reader got(out), want(ref);
  for (const char* key : {"tokenizer.ggml.tokens", "tokenizer.ggml.merges"}) {
    const gguf::Value* g = got.find(key);
    const gguf::Value* w = want.find(key);
    ASSERT_TRUE(g && w) << key;
    ASSERT_EQ(g->items.size(), w->items.size()) << key;
    size_t diff = 0;
    for (size_t i = 0; i < g->items.size(); ++i) diff += g->items[i].str != w->items[i].str;
    EXPECT_EQ(diff, 0u) << key;
  }
  EXPECT_EQ(got.get_string("tokenizer.ggml.pre"), "gpt-2");
  EXPECT_EQ(got.get_int("tokenizer.ggml.bos_token_id"), 50256);

  const auto tok = Tokenizer::from_gguf(got);
  const std::string all = read_file(inp), sep = "\n__ggml_vocab_test__\n";
  std::vector<std::string> texts;
  for (size_t p = 0, q; (q = all.find(sep, p)) != std::string::npos; p = q + sep.size()) texts.push_back(all.substr(p, q - p));
  std::vector<std::vector<int32_t>> expected;
  const std::string ids = read_file(outp);
  for (size_t p = 0; p < ids.size();) {
    size_t e = ids.find('\n', p);
    if (e == std::string::npos) e = ids.size();
    std::vector<int32_t> line;
    for (size_t i = p; i < e;) {
      while (i < e && ids[i] == ' ') ++i;
      if (i >= e) break;
      line.push_back(static_cast<int32_t>(std::stol(ids.substr(i))));
      while (i < e && ids[i] != ' ') ++i;
    }
    expected.push_back(line);
    p = e + 1;
  }
  ASSERT_EQ(texts.size(), expected.size());
  for (size_t i = 0; i < texts.size(); ++i) EXPECT_EQ(tok->encode(texts[i], false), expected[i]) << "string " << i;
}

// What makes each variant special changes the logits far beyond the tolerance.
TEST(ArchGoldenMoreSensitivity, FeaturesMatter) {
  using gguf::Value;
  struct Case {
    const char* variant;
    const char* what;
    std::function<void(convert::SourceModel&)> edit;
  };
  const Case cases[] = {
      {"falcon-rw-tiny", "ALiBi (rotary instead)",
       [](convert::SourceModel& m) { m.set("falcon.attention.max_alibi_bias", Value::f32(0.0f)); }},
      {"gptneox-tiny", "the parallel residual",
       [](convert::SourceModel& m) { m.set("gptneox.use_parallel_residual", Value::boolean(false)); }},
      {"gptneox-tiny", "partial rotary (full instead)",
       [](convert::SourceModel& m) { m.set("gptneox.rope.dimension_count", Value::u32(16)); }},
      {"opt-350m-style-tiny", "post-LN (pre-LN instead)",
       [](convert::SourceModel& m) { m.set("opt.layer_norm_before", Value::boolean(true)); }},
  };
  for (const Case& cs : cases) {
    const std::string dir = test::arch_variant_dir(cs.variant);
    const Golden g = load_golden(dir);
    test::TempDir tmp;
    const std::string out = tmp.file("edited.gguf");
    convert_dir(dir, out, cs.edit);
    const auto model = Model::load(out);
    size_t pos = 0;
    const double worst = worst_error(eval_all(*model, g.ids), g, &pos);
    std::printf("[ %s without %s ] max relative logit error %.3g (position %zu)\n", cs.variant, cs.what, worst, pos);
    EXPECT_GT(worst, 10 * kTolerance) << cs.variant << " without " << cs.what;
  }
}

// HF's Falcon rounds the ALiBi slopes and bias to bfloat16; the generator
// records how much exact slopes would move the logits, which must be far more
// than qgml's tolerance for EveryPositionMatchesPyTorch to show qgml rounds too.
TEST(ArchGoldenMoreSensitivity, FalconAlibiRoundingIsVisible) {
  const json::Value g = json::parse_file(test::arch_variant_dir("falcon-rw-tiny") + "/golden.json");
  const json::Value* change = g.get("alibi_unrounded_max_relative_change");
  ASSERT_NE(change, nullptr);
  std::printf("[ falcon-rw-tiny with unrounded ALiBi ] reference moves by %.3g\n", change->as_double());
  EXPECT_GT(change->as_double(), 10 * kTolerance);
}

// Learned position tables end: a session longer than the table is refused
// with the reason, not read out of bounds.
TEST(ArchGoldenMoreErrors, LearnedPositionsBoundTheContext) {
  test::TempDir tmp;
  const std::string out = tmp.file("gpt2.gguf");
  convert_dir(test::arch_variant_dir("gpt2-tiny"), out);
  const auto model = Model::load(out);
  SessionParams sp;
  sp.kv_type = Type::F32;
  sp.n_ctx = 100;  // the table has 64 rows
  Session s(*model, sp);
  s.eval(std::vector<int32_t>(60, 5));
  try {
    s.eval(std::vector<int32_t>(8, 5));
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("learned position embeddings"), std::string::npos) << e.what();
  }
}

TEST(ArchGoldenMoreErrors, UnsupportedSettingsAreNamed) {
  struct Case {
    const char* variant;
    const char* from;
    const char* to;
    const char* message;
  };
  const Case cases[] = {
      {"gpt2-tiny", "\"scale_attn_by_inverse_layer_idx\": false", "\"scale_attn_by_inverse_layer_idx\": true",
       "scale_attn_by_inverse_layer_idx"},
      {"gpt2-tiny", "\"activation_function\": \"gelu_new\"", "\"activation_function\": \"relu\"", "activation_function"},
      {"opt-tiny", "\"activation_function\": \"relu\"", "\"activation_function\": \"gelu\"", "activation_function"},
      {"gptneox-tiny", "\"hidden_act\": \"gelu\"", "\"hidden_act\": \"gelu_fast\"", "hidden_act"},
      {"gptneox-tiny", "\"rotary_pct\": 0.25", "\"rotary_pct\": 0.03", "rotary_pct"},
      {"falcon-7b-style-tiny", "\"rope_scaling\": null", "\"rope_scaling\": {\"type\": \"linear\", \"factor\": 2.0}",
       "rope_scaling"},
      // The fused q/k/v's shape follows multi_query: flipping it is caught.
      {"falcon-7b-style-tiny", "\"multi_query\": true", "\"multi_query\": false", "query_key_value.weight"},
      {"opt-tiny", "\"word_embed_proj_dim\": 64", "\"word_embed_proj_dim\": 32", "embed_tokens.weight"},
  };
  for (const Case& cs : cases) {
    test::TempDir tmp;
    const std::string dir = edited_copy(tmp, cs.variant, [&](std::string& c) { replace(c, cs.from, cs.to); });
    try {
      convert::open_hf(dir);
      ADD_FAILURE() << cs.variant << ": " << cs.to << " was accepted";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find(cs.message), std::string::npos) << e.what();
    }
  }
}

// A tensor no rule claims is refused by name rather than silently dropped.
TEST(ArchGoldenMoreErrors, UnknownTensorIsNamed) {
  test::TempDir tmp;
  const std::string dir = edited_copy(tmp, "gptneox-tiny", [](std::string& c) {
    replace(c, "\"num_hidden_layers\": 2", "\"num_hidden_layers\": 1");
  });
  try {
    convert::open_hf(dir);
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("gpt_neox.layers.1."), std::string::npos) << e.what();
  }
}

INSTANTIATE_TEST_SUITE_P(Variants, ArchGoldenMore, ::testing::ValuesIn(kVariants), [](const auto& info) {
  std::string n = info.param.name;
  for (char& ch : n)
    if (ch == '-') ch = '_';
  return n;
});
