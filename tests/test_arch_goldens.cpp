// The Llama-family variants besides plain Llama — Llama 3 (llama3 rope
// scaling), Mistral, SmolLM (tied head, one kv head) and Qwen2 (q/k/v biases)
// — as tiny synthetic Hugging Face checkpoints (tests/data/arch/, written by
// tests/gen/gen_arch_goldens.py) converted by qgml and run by qgml, against a
// float64 PyTorch forward pass written from the HF model definitions: logits
// of every position within 1e-4 relative (max |Δ| / max |logit|), greedy
// continuations identical, and the GGUF metadata llama.cpp expects.
//
// The checkpoints are committed, so this suite needs neither ../shared nor
// Python.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <functional>
#include <ostream>
#include <string>
#include <vector>

#include "json.h"
#include "npy.h"
#include "qgml/convert.h"
#include "qgml/error.h"
#include "qgml/gguf.h"
#include "qgml/model.h"
#include "qgml/sampling.h"
#include "qgml/session.h"
#include "golden_util.h"
#include "test_util.h"

using namespace qgml;
using test::read_npy_f64;
using test::relative_error;

namespace {

// The issue asks for 1e-3; float32 qgml on these small models does far better,
// and a tighter bound catches subtler mistakes (a rope factor off by 1e-3).
constexpr double kTolerance = 1e-4;

struct Variant {
  const char* name;
  const char* gguf_arch;  // general.architecture llama.cpp writes for it
};

const Variant kVariants[] = {
    {"llama3-tiny", "llama"},
    {"mistral-tiny", "llama"},
    {"smollm-tiny", "llama"},
    {"qwen2-tiny", "qwen2"},
};

void PrintTo(const Variant& v, std::ostream* os) { *os << v.name; }

// Worst relative error over the positions of `logits` ([n, V]) against the golden.
double worst_position_error(const std::vector<float>& logits, const std::vector<double>& want, size_t n, int64_t V,
                            size_t* worst_pos) {
  double worst = 0;
  for (size_t i = 0; i < n; ++i) {
    const double e = relative_error(logits.data() + i * V, want.data() + i * V, V);
    if (e > worst || i == 0) {
      worst = e;
      *worst_pos = i;
    }
  }
  return worst;
}

// Converts a checkpoint directory to F32 GGUF at `out`, letting `edit` change
// the source model first (to take a feature away, or describe it differently).
void convert_dir(const std::string& dir, const std::string& out,
                 const std::function<void(convert::SourceModel&)>& edit = nullptr) {
  auto src = convert::open_hf(dir);
  if (edit) edit(*src);
  convert::write_gguf(*src, out, Type::F32);
}

void drop_tensors(convert::SourceModel& m, const std::function<bool(const std::string&)>& which) {
  m.tensors.erase(std::remove_if(m.tensors.begin(), m.tensors.end(),
                                 [&](const convert::SourceTensor& t) { return which(t.name); }),
                  m.tensors.end());
}

// All-position logits of `ids` through a fresh session (F32 KV cache).
std::vector<float> eval_all(const Model& model, const std::vector<int32_t>& ids) {
  SessionParams sp;
  sp.kv_type = Type::F32;
  sp.n_threads = 2;
  Session s(model, sp);
  return s.eval(ids, true);
}

class ArchGolden : public ::testing::TestWithParam<Variant> {
 protected:
  void SetUp() override {
    dir_ = test::arch_variant_dir(GetParam().name);
    golden_ = json::parse_file(dir_ + "/golden.json");
    config_ = json::parse_file(dir_ + "/config.json");
    ids_ = test::ids_of(*golden_.get("ids"));
    std::vector<int64_t> shape;
    logits_ = read_npy_f64(dir_ + "/" + golden_.get("logits_file")->as_string(), &shape);
    ASSERT_EQ(shape.size(), 2u);
    ASSERT_EQ(shape[0], static_cast<int64_t>(ids_.size()));
    n_vocab_ = shape[1];
  }

  std::string convert_to(const test::TempDir& tmp) const {
    const std::string out = tmp.file(std::string(GetParam().name) + ".gguf");
    convert_dir(dir_, out);
    return out;
  }

  std::string dir_;
  json::Value golden_, config_;
  std::vector<int32_t> ids_;
  std::vector<double> logits_;
  int64_t n_vocab_ = 0;
};

}  // namespace

TEST_P(ArchGolden, EveryPositionMatchesPyTorch) {
  test::TempDir tmp;
  const auto model = Model::load(convert_to(tmp));
  ASSERT_EQ(model->hparams().n_vocab, n_vocab_);
  const std::vector<float> logits = eval_all(*model, ids_);
  ASSERT_EQ(logits.size(), ids_.size() * static_cast<size_t>(n_vocab_));
  for (size_t i = 0; i < ids_.size(); ++i)
    EXPECT_LT(relative_error(logits.data() + i * n_vocab_, logits_.data() + i * n_vocab_, n_vocab_), kTolerance)
        << "position " << i;
  size_t pos = 0;
  const double worst = worst_position_error(logits, logits_, ids_.size(), n_vocab_, &pos);
  std::printf("[ %s ] max relative logit error %.3g (position %zu of %zu)\n", GetParam().name, worst, pos, ids_.size());
  RecordProperty("max_relative_error", std::to_string(worst));
}

// Greedy decoding one token at a time through the KV cache, against the
// reference's full re-evaluation at every step.
TEST_P(ArchGolden, GreedyContinuationMatchesPyTorch) {
  test::TempDir tmp;
  const auto model = Model::load(convert_to(tmp));
  SessionParams sp;
  sp.kv_type = Type::F32;
  sp.n_threads = 2;
  Session s(*model, sp);
  std::vector<float> last = s.eval(ids_);
  const std::vector<int32_t> want = test::ids_of(*golden_.get("greedy_ids"));
  ASSERT_FALSE(want.empty());
  SamplerParams greedy;
  greedy.temp = 0;
  Sampler sampler(greedy);
  std::vector<int32_t> got;
  for (size_t i = 0; i < want.size(); ++i) {
    got.push_back(sampler.sample(last.data(), n_vocab_));
    last = s.eval({got.back()});
  }
  EXPECT_EQ(got, want);
}

// What llama.cpp's convert_hf_to_gguf.py writes for these models, checked
// against config.json rather than restated constants.
TEST_P(ArchGolden, MetadataIsWhatLlamaCppExpects) {
  test::TempDir tmp;
  const gguf::Reader f(convert_to(tmp));
  const std::string arch = GetParam().gguf_arch, a = arch + ".";
  const json::Value& c = config_;
  auto cfg_int = [&](const char* k) { return c.get(k)->as_int(); };
  EXPECT_EQ(f.get_string("general.architecture"), arch);
  EXPECT_EQ(f.get_int(a + "block_count"), cfg_int("num_hidden_layers"));
  EXPECT_EQ(f.get_int(a + "embedding_length"), cfg_int("hidden_size"));
  EXPECT_EQ(f.get_int(a + "feed_forward_length"), cfg_int("intermediate_size"));
  EXPECT_EQ(f.get_int(a + "attention.head_count"), cfg_int("num_attention_heads"));
  EXPECT_EQ(f.get_int(a + "attention.head_count_kv"), cfg_int("num_key_value_heads"));
  EXPECT_EQ(f.get_int(a + "context_length"), cfg_int("max_position_embeddings"));
  // llama.cpp stores both as float32.
  ASSERT_NE(f.find(a + "rope.freq_base"), nullptr);
  EXPECT_EQ(f.find(a + "rope.freq_base")->type, gguf::ValueType::F32);
  EXPECT_EQ(f.get_float(a + "rope.freq_base"), static_cast<double>(static_cast<float>(c.get("rope_theta")->as_double())));
  EXPECT_EQ(f.get_float(a + "attention.layer_norm_rms_epsilon"),
            static_cast<double>(static_cast<float>(c.get("rms_norm_eps")->as_double())));
  const int64_t head_dim = cfg_int("hidden_size") / cfg_int("num_attention_heads");
  if (const json::Value* hd = c.get("head_dim"); hd && hd->is_int()) {
    EXPECT_EQ(hd->as_int(), head_dim);
    EXPECT_EQ(f.get_int(a + "attention.key_length"), head_dim);
    EXPECT_EQ(f.get_int(a + "attention.value_length"), head_dim);
  }
  // Plain llama.cpp metadata keys only: nothing under another architecture's prefix.
  for (const gguf::KeyValue& kv : f.metadata()) {
    const std::string& k = kv.key;
    if (k.compare(0, 8, "general.") == 0 || k.compare(0, 10, "tokenizer.") == 0) continue;
    EXPECT_EQ(k.compare(0, a.size(), a), 0) << k;
  }

  const std::string name = GetParam().name;
  const int64_t n_layer = cfg_int("num_hidden_layers");
  const bool tied = c.get("tie_word_embeddings")->as_bool();
  // Tied heads have no output.weight (the embedding is reused).
  EXPECT_EQ(f.find_tensor("output.weight") != nullptr, !tied);
  // The rope scaling of Llama 3 travels as per-frequency divisors in
  // rope_freqs.weight; llama.cpp writes no rope.scaling.* keys for it (a
  // "linear" type there would scale a second time).
  const json::Value* factors = golden_.get("rope_freq_factors");
  const gguf::TensorInfo* rf = f.find_tensor("rope_freqs.weight");
  EXPECT_EQ(rf != nullptr, factors != nullptr);
  EXPECT_EQ(f.find(a + "rope.scaling.type"), nullptr);
  if (rf && factors) {
    ASSERT_EQ(rf->type, Type::F32);
    ASSERT_EQ(rf->n_dims, 1);
    ASSERT_EQ(rf->ne[0], head_dim / 2);
    ASSERT_EQ(factors->items().size(), static_cast<size_t>(head_dim / 2));
    const float* got = static_cast<const float*>(f.tensor_data(*rf));
    bool scaled = false;
    for (int64_t i = 0; i < head_dim / 2; ++i) {
      const double want = factors->items()[static_cast<size_t>(i)].as_double();
      EXPECT_NEAR(got[i], want, 1e-6 * want) << "rope_freqs[" << i << "]";
      scaled = scaled || want != 1.0;
    }
    EXPECT_TRUE(scaled) << "the checkpoint should exercise the scaling";
  }
  // Qwen2 has biases on q, k and v (not on the output projection); the Llama variants none.
  const bool biases = arch == "qwen2";
  for (int64_t l = 0; l < n_layer; ++l) {
    const std::string p = "blk." + std::to_string(l) + ".";
    for (const char* t : {"attn_q.bias", "attn_k.bias", "attn_v.bias"}) {
      const gguf::TensorInfo* b = f.find_tensor(p + t);
      EXPECT_EQ(b != nullptr, biases) << p + t;
      if (b) {
        EXPECT_EQ(b->n_dims, 1);
        EXPECT_EQ(b->ne[0], (t[5] == 'q' ? cfg_int("num_attention_heads") : cfg_int("num_key_value_heads")) * head_dim);
      }
    }
    EXPECT_EQ(f.find_tensor(p + "attn_output.bias"), nullptr);
  }

  // The tokenizer flavour llama.cpp picks for each checkpoint's tokenizer.json.
  auto add_bos = [&] {
    const gguf::Value* v = f.find("tokenizer.ggml.add_bos_token");
    return v != nullptr && v->type == gguf::ValueType::BOOL && v->num.u != 0;
  };
  const std::string model = f.get_string("tokenizer.ggml.model");
  const std::string pre = f.get_string("tokenizer.ggml.pre");
  if (name == "llama3-tiny") {
    EXPECT_EQ(model, "gpt2");
    EXPECT_EQ(pre, "llama-bpe");
    EXPECT_TRUE(add_bos());  // Llama 3's post-processor prepends <|begin_of_text|>
  } else if (name == "mistral-tiny") {
    EXPECT_EQ(model, "llama");
    EXPECT_NE(f.find("tokenizer.ggml.scores"), nullptr);
    EXPECT_TRUE(add_bos());
  } else if (name == "smollm-tiny") {
    EXPECT_EQ(model, "gpt2");
    EXPECT_EQ(pre, "gpt-2");
  } else if (name == "qwen2-tiny") {
    EXPECT_EQ(model, "gpt2");
    EXPECT_EQ(pre, "qwen2");
    EXPECT_FALSE(add_bos());
  }
  EXPECT_EQ(f.get_int("tokenizer.ggml.eos_token_id"), cfg_int("eos_token_id"));
}

// The goldens tell the variants' features apart: dropping what makes a
// variant special puts the logits far outside the tolerance.
TEST(ArchGoldenSensitivity, FeaturesMatter) {
  struct Case {
    const char* variant;
    const char* what;
    std::function<bool(const std::string&)> drop;  // tensor names to remove
  };
  const Case cases[] = {
      {"llama3-tiny", "rope_freqs.weight", [](const std::string& n) { return n == "rope_freqs.weight"; }},
      {"qwen2-tiny", "q/k/v biases", [](const std::string& n) { return n.find(".bias") != std::string::npos; }},
  };
  for (const Case& cs : cases) {
    const std::string dir = test::arch_variant_dir(cs.variant);
    const json::Value golden = json::parse_file(dir + "/golden.json");
    const std::vector<int32_t> ids = test::ids_of(*golden.get("ids"));
    std::vector<int64_t> shape;
    const std::vector<double> want = read_npy_f64(dir + "/" + golden.get("logits_file")->as_string(), &shape);
    test::TempDir tmp;
    const std::string out = tmp.file("edited.gguf");
    size_t dropped = 0;
    convert_dir(dir, out, [&](convert::SourceModel& m) {
      const size_t before = m.tensors.size();
      drop_tensors(m, cs.drop);
      dropped = before - m.tensors.size();
    });
    ASSERT_GT(dropped, 0u) << cs.variant << ": nothing named " << cs.what;
    const auto model = Model::load(out);
    const std::vector<float> logits = eval_all(*model, ids);
    size_t pos = 0;
    const double worst = worst_position_error(logits, want, ids.size(), shape[1], &pos);
    std::printf("[ %s without %s ] max relative logit error %.3g (position %zu)\n", cs.variant, cs.what, worst, pos);
    EXPECT_GT(worst, 100 * kTolerance) << cs.variant << " without " << cs.what;
  }
}

// qgml also runs llama3 scaling described by rope.scaling.* keys alone (files
// from converters that compute no rope_freqs tensor); the factors it derives
// must be HF's too.
TEST(ArchGoldenLlama3, ScalingFromKeysMatchesPyTorch) {
  const std::string dir = test::arch_variant_dir("llama3-tiny");
  const json::Value golden = json::parse_file(dir + "/golden.json");
  const json::Value config = json::parse_file(dir + "/config.json");
  const json::Value& rs = *config.get("rope_scaling");
  const std::vector<int32_t> ids = test::ids_of(*golden.get("ids"));
  std::vector<int64_t> shape;
  const std::vector<double> want = read_npy_f64(dir + "/" + golden.get("logits_file")->as_string(), &shape);
  test::TempDir tmp;
  const std::string out = tmp.file("keys.gguf");
  convert_dir(dir, out, [&](convert::SourceModel& m) {
    drop_tensors(m, [](const std::string& n) { return n == "rope_freqs.weight"; });
    using gguf::Value;
    auto f32 = [&](const char* k) { return Value::f32(static_cast<float>(rs.get(k)->as_double())); };
    m.set("llama.rope.scaling.type", Value::string("llama3"));
    m.set("llama.rope.scaling.factor", f32("factor"));
    m.set("llama.rope.scaling.low_freq_factor", f32("low_freq_factor"));
    m.set("llama.rope.scaling.high_freq_factor", f32("high_freq_factor"));
    m.set("llama.rope.scaling.original_context_length",
          Value::u32(static_cast<uint32_t>(rs.get("original_max_position_embeddings")->as_int())));
  });
  const auto model = Model::load(out);
  ASSERT_EQ(model->file().find_tensor("rope_freqs.weight"), nullptr);
  const std::vector<float> logits = eval_all(*model, ids);
  size_t pos = 0;
  const double worst = worst_position_error(logits, want, ids.size(), shape[1], &pos);
  EXPECT_LT(worst, kTolerance) << "position " << pos;
}

INSTANTIATE_TEST_SUITE_P(Variants, ArchGolden, ::testing::ValuesIn(kVariants),
                         [](const auto& info) {
                           std::string n = info.param.name;
                           for (char& ch : n)
                             if (ch == '-') ch = '_';
                           return n;
                         });
