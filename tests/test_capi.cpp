// The C API (qgml.h) through libqgml.so: metadata, tokenizer, evaluation
// against qgml::Session, greedy output against `qgml run --temp 0`,
// sampling, streaming, cancellation, and every error path returning a code.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstring>
#include <fstream>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include "qgml.h"
#include "qgml/gguf.h"
#include "qgml/model.h"
#include "qgml/session.h"
#include "qgml/tokenizer.h"
#include "test_util.h"

namespace {

using qgml::test::TempDir;

std::string model_path() { return qgml::test::source_dir() + "/models/stories260K/stories260K.gguf"; }

// RAII over the C handles, so a failed ASSERT does not leak into ASan's report.
struct ModelH {
  qg_model* m = nullptr;
  ~ModelH() { qg_model_free(m); }
};
struct ContextH {
  qg_context* c = nullptr;
  ~ContextH() { qg_context_free(c); }
};
struct SamplerH {
  qg_sampler* s = nullptr;
  ~SamplerH() { qg_sampler_free(s); }
};

qg_model* load(ModelH& h, int use_mmap = 1) {
  qg_model_params p = qg_model_default_params();
  p.n_threads = 1;  // contexts default to it; a loaded 2-core machine runs one thread per context best
  p.use_mmap = use_mmap;
  EXPECT_EQ(qg_model_load(model_path().c_str(), &p, &h.m), QG_OK) << qg_last_error();
  return h.m;
}

qg_context* new_context(ContextH& h, qg_model* m, int32_t n_ctx = 256, uint64_t seed = 0) {
  qg_context_params p = qg_context_default_params();
  p.n_ctx = n_ctx;
  p.seed = seed;
  EXPECT_EQ(qg_context_new(m, &p, &h.c), QG_OK) << qg_last_error();
  return h.c;
}

qg_sampler* greedy(SamplerH& h) {
  qg_sampler_params p = qg_sampler_default_params();
  p.temp = 0;
  EXPECT_EQ(qg_sampler_new(&p, &h.s), QG_OK) << qg_last_error();
  return h.s;
}

struct Stream {
  std::string text;
  std::vector<int32_t> tokens;
  int stop_after = -1;  // callback returns non-zero once this many tokens arrived
  std::function<void()> on_first;
};

int collect(int32_t token, const char* piece, size_t len, void* user) {
  Stream& s = *static_cast<Stream*>(user);
  s.text.append(piece, len);
  s.tokens.push_back(token);
  if (s.tokens.size() == 1 && s.on_first) s.on_first();
  return s.stop_after >= 0 && static_cast<int>(s.tokens.size()) >= s.stop_after ? 1 : 0;
}

qg_generate_result generate(qg_context* c, const char* prompt, int32_t n_predict, qg_sampler* smp, Stream& out,
                            qg_status expect = QG_OK) {
  qg_generate_params gp = qg_generate_default_params();
  gp.n_predict = n_predict;
  qg_generate_result r;
  EXPECT_EQ(qg_generate(c, prompt, &gp, smp, collect, &out, &r), expect) << qg_last_error();
  return r;
}

TEST(CApi, VersionMatchesTheProject) {
  EXPECT_STREQ(qg_version(), QGML_PROJECT_VERSION);
  unsigned major = 0, minor = 0, patch = 0;
  ASSERT_EQ(std::sscanf(qg_version(), "%u.%u.%u", &major, &minor, &patch), 3);
  EXPECT_EQ(qg_version_number(), major * 10000 + minor * 100 + patch);
}

TEST(CApi, ModelMetadataMatchesTheFile) {
  ModelH mh;
  qg_model* m = load(mh);
  ASSERT_NE(m, nullptr);
  const qgml::gguf::Reader file(model_path());
  EXPECT_STREQ(qg_model_arch(m), file.get_string("general.architecture").c_str());
  EXPECT_EQ(qg_model_n_vocab(m), 512);
  EXPECT_EQ(qg_model_n_embd(m), file.get_int("llama.embedding_length"));
  EXPECT_EQ(qg_model_n_layer(m), file.get_int("llama.block_count"));
  EXPECT_EQ(qg_model_n_ctx_train(m), file.get_int("llama.context_length"));
  EXPECT_EQ(qg_model_get_params(m).n_threads, 1);

  char buf[64];
  size_t len = 0;
  ASSERT_EQ(qg_model_meta_string(m, "general.architecture", buf, sizeof buf, &len), QG_OK);
  EXPECT_STREQ(buf, "llama");
  EXPECT_EQ(len, 5u);
  ASSERT_EQ(qg_model_meta_string(m, "llama.block_count", buf, sizeof buf, &len), QG_OK);
  EXPECT_EQ(std::string(buf), std::to_string(file.get_int("llama.block_count")));
  // Too small: the length needed comes back, and the call works with len + 1.
  ASSERT_EQ(qg_model_meta_string(m, "general.architecture", buf, 5, &len), QG_ERR_BUFFER_TOO_SMALL);
  EXPECT_EQ(len, 5u);
  ASSERT_EQ(qg_model_meta_string(m, "general.architecture", nullptr, 0, &len), QG_ERR_BUFFER_TOO_SMALL);
  EXPECT_EQ(len, 5u);
  EXPECT_EQ(qg_model_meta_string(m, "no.such.key", buf, sizeof buf, &len), QG_ERR_NOT_FOUND);
  EXPECT_NE(std::string(qg_last_error()).find("no.such.key"), std::string::npos);

  ASSERT_EQ(qg_model_meta_count(m), static_cast<int32_t>(file.metadata().size()));
  for (int32_t i = 0; i < qg_model_meta_count(m); ++i)
    EXPECT_EQ(qg_model_meta_key(m, i), file.metadata()[static_cast<size_t>(i)].key);
  EXPECT_EQ(qg_model_meta_key(m, qg_model_meta_count(m)), nullptr);
  EXPECT_EQ(qg_model_meta_key(m, -1), nullptr);
}

TEST(CApi, TokenizeRoundTripsAndReportsTheSizeNeeded) {
  ModelH mh;
  qg_model* m = load(mh);
  const std::string text = "Once upon a time, there was a cat.";
  int32_t n = 0;
  ASSERT_EQ(qg_tokenize(m, text.data(), text.size(), nullptr, 0, &n, 1, 0), QG_ERR_BUFFER_TOO_SMALL);
  ASSERT_GT(n, 2);
  std::vector<int32_t> ids(static_cast<size_t>(n));
  int32_t n2 = 0;
  ASSERT_EQ(qg_tokenize(m, text.data(), text.size(), ids.data(), n, &n2, 1, 0), QG_OK) << qg_last_error();
  EXPECT_EQ(n2, n);
  EXPECT_EQ(ids[0], qg_token_bos(m));
  EXPECT_EQ(qg_token_bos(m), 1);
  EXPECT_EQ(qg_token_eos(m), 2);
  EXPECT_TRUE(qg_token_is_eog(m, 2));
  EXPECT_FALSE(qg_token_is_eog(m, ids[1]));
  EXPECT_FALSE(qg_token_is_eog(m, 100000));

  size_t len = 0;
  ASSERT_EQ(qg_detokenize(m, ids.data(), n, nullptr, 0, &len, 0), QG_ERR_BUFFER_TOO_SMALL);
  EXPECT_EQ(len, text.size());
  std::vector<char> buf(len + 1);
  ASSERT_EQ(qg_detokenize(m, ids.data(), n, buf.data(), buf.size(), &len, 0), QG_OK) << qg_last_error();
  EXPECT_EQ(std::string(buf.data(), len), text);

  // Same ids as the C++ tokenizer.
  const auto model = qgml::Model::load(model_path());
  EXPECT_EQ(ids, model->tokenizer().encode(text, true, false));
}

TEST(CApi, EvalLogitsEqualTheSessionsBitForBit) {
  ModelH mh;
  qg_model* m = load(mh);
  ContextH ch;
  qg_context_params cp = qg_context_default_params();
  cp.n_ctx = 64;
  cp.n_threads = 2;
  ASSERT_EQ(qg_context_new(m, &cp, &ch.c), QG_OK);
  const std::vector<int32_t> ids = {1, 403, 407, 261, 378};
  ASSERT_EQ(qg_eval(ch.c, ids.data(), static_cast<int32_t>(ids.size()), 1), QG_OK) << qg_last_error();
  EXPECT_EQ(qg_context_n_past(ch.c), 5);

  const auto model = qgml::Model::load(model_path());
  qgml::SessionParams sp;
  sp.n_ctx = 64;
  sp.n_threads = 2;
  qgml::Session session(*model, sp);
  const std::vector<float> want = session.eval(ids, true);
  ASSERT_EQ(want.size(), 5u * 512);
  for (int32_t row = 0; row < 5; ++row) {
    const float* got = qg_get_logits(ch.c, row);
    ASSERT_NE(got, nullptr) << qg_last_error();
    EXPECT_EQ(std::memcmp(got, &want[static_cast<size_t>(row) * 512], 512 * sizeof(float)), 0) << "row " << row;
  }
  EXPECT_EQ(qg_get_logits(ch.c, -1), qg_get_logits(ch.c, 4));
  EXPECT_EQ(qg_get_logits(ch.c, 5), nullptr);
  EXPECT_EQ(qg_get_logits(ch.c, -6), nullptr);

  // One more token: only its row is kept, and it continues the same sequence.
  const int32_t next = 300;
  ASSERT_EQ(qg_eval(ch.c, &next, 1, 0), QG_OK);
  const std::vector<float> want2 = session.eval({next});
  EXPECT_EQ(std::memcmp(qg_get_logits(ch.c, 0), want2.data(), 512 * sizeof(float)), 0);
  EXPECT_EQ(qg_get_logits(ch.c, 1), nullptr);

  ASSERT_EQ(qg_context_rewind(ch.c, 2), QG_OK);
  EXPECT_EQ(qg_context_n_past(ch.c), 2);
  EXPECT_EQ(qg_get_logits(ch.c, -1), nullptr);  // the rewound state has no logits yet
  EXPECT_EQ(qg_context_rewind(ch.c, 3), QG_ERR_INVALID_ARGUMENT);
}

// The C API's streamed text must be what `qgml run --temp 0` prints.
void expect_matches_cli(const char* prompt, int n, int use_mmap) {
  ModelH mh;
  qg_model* m = load(mh, use_mmap);
  ContextH ch;
  qg_context* c = new_context(ch, m, 0);  // the model's context, as `qgml run`
  SamplerH sh;
  Stream out;
  const qg_generate_result r = generate(c, prompt, n, greedy(sh), out);
  const auto cli = qgml::test::run_cli("run -m " + model_path() + " -n " + std::to_string(n) + " --temp 0 -t 1 -p '" +
                                       prompt + "' 2>/dev/null");
  ASSERT_EQ(cli.exit_code, 0);
  EXPECT_EQ(std::string(prompt) + out.text + "\n", cli.out);
  EXPECT_EQ(r.n_generated, static_cast<int32_t>(out.tokens.size()));
  EXPECT_TRUE(r.stop_reason == QG_STOP_N_PREDICT || r.stop_reason == QG_STOP_EOG) << r.stop_reason;
  if (r.stop_reason == QG_STOP_N_PREDICT) {
    EXPECT_EQ(r.n_generated, n);
  }
  EXPECT_EQ(qg_context_n_past(c), r.n_prompt + r.n_generated);
}

TEST(CApi, GreedyEqualsQgmlRun) { expect_matches_cli("Once upon a time", 100, 1); }
TEST(CApi, GreedyFromEmptyPromptEqualsQgmlRun) { expect_matches_cli("", 150, 1); }
TEST(CApi, GreedyWithoutMmapEqualsQgmlRun) { expect_matches_cli("The cat sat", 64, 0); }

TEST(CApi, SeededSamplingRepeatsAndDependsOnTheSeed) {
  ModelH mh;
  qg_model* m = load(mh);
  ContextH ch;
  qg_context* c = new_context(ch, m);
  auto run = [&](uint64_t seed, qg_sampler* reuse = nullptr) {
    qg_sampler_params p = qg_sampler_default_params();
    p.temp = 1.5f;
    p.top_k = 0;
    p.top_p = 1.0f;
    p.min_p = 0;
    p.repeat_penalty = 1.1f;
    p.seed = seed;
    SamplerH sh;
    if (reuse == nullptr) {
      EXPECT_EQ(qg_sampler_new(&p, &sh.s), QG_OK);
    }
    Stream out;
    generate(c, "Once", 60, reuse != nullptr ? reuse : sh.s, out);
    return out.tokens;
  };
  const auto a = run(7), b = run(7), d = run(8);
  EXPECT_EQ(a, b);
  EXPECT_NE(a, d);

  // The context's own seed drives the default sampler (sampler NULL).
  auto run_default = [&](uint64_t seed) {
    ContextH ch2;
    qg_context* c2 = new_context(ch2, m, 256, seed);
    Stream out;
    generate(c2, "Once", 60, nullptr, out);
    return out.tokens;
  };
  EXPECT_EQ(run_default(3), run_default(3));
  EXPECT_NE(run_default(3), run_default(4));

  // reset() returns a sampler to its seed.
  qg_sampler_params p = qg_sampler_default_params();
  p.temp = 1.5f;
  p.seed = 11;
  SamplerH sh;
  ASSERT_EQ(qg_sampler_new(&p, &sh.s), QG_OK);
  const auto first = run(0, sh.s);
  qg_sampler_reset(sh.s);
  EXPECT_EQ(run(0, sh.s), first);
}

TEST(CApi, SamplerSampleAndAcceptByHand) {
  ModelH mh;
  qg_model* m = load(mh);
  ContextH ch;
  qg_context* c = new_context(ch, m);
  SamplerH sh;
  qg_sampler* s = greedy(sh);
  const int32_t bos = 1;
  ASSERT_EQ(qg_eval(c, &bos, 1, 0), QG_OK);
  int32_t tok = -1;
  ASSERT_EQ(qg_sampler_sample(s, c, -1, &tok), QG_OK) << qg_last_error();
  const float* l = qg_get_logits(c, -1);
  EXPECT_EQ(tok, std::max_element(l, l + 512) - l);
  qg_sampler_accept(s, tok);
  EXPECT_EQ(qg_sampler_sample(s, c, 1, &tok), QG_ERR_INVALID_ARGUMENT);
}

TEST(CApi, KeepContextContinuesExactlyWhereGenerationStopped) {
  ModelH mh;
  qg_model* m = load(mh);
  ContextH c1h, c2h;
  qg_context* c1 = new_context(c1h, m);
  qg_context* c2 = new_context(c2h, m);
  SamplerH s1, s2;
  Stream whole;
  generate(c1, "Once upon a time", 40, greedy(s1), whole);

  Stream parts;
  parts.stop_after = 15;  // stop from the callback, then continue from the context
  const qg_generate_result r = generate(c2, "Once upon a time", 40, greedy(s2), parts);
  EXPECT_EQ(r.stop_reason, QG_STOP_CALLBACK);
  EXPECT_EQ(qg_context_n_past(c2), r.n_prompt + 15);
  parts.stop_after = -1;
  qg_generate_params gp = qg_generate_default_params();
  gp.n_predict = 25;
  gp.keep_context = 1;
  qg_generate_result r2;
  ASSERT_EQ(qg_generate(c2, "", &gp, s2.s, collect, &parts, &r2), QG_OK) << qg_last_error();
  EXPECT_EQ(r2.n_prompt, 0);
  EXPECT_EQ(parts.tokens, whole.tokens);
  EXPECT_EQ(parts.text, whole.text);
}

TEST(CApi, CallbackStopsGeneration) {
  ModelH mh;
  qg_model* m = load(mh);
  ContextH ch;
  qg_context* c = new_context(ch, m);
  SamplerH sh;
  Stream out;
  out.stop_after = 5;
  const qg_generate_result r = generate(c, "Once upon a time", 100, greedy(sh), out);
  EXPECT_EQ(r.stop_reason, QG_STOP_CALLBACK);
  EXPECT_EQ(r.n_generated, 5);
  EXPECT_EQ(out.tokens.size(), 5u);
}

TEST(CApi, CancelFromAnotherThreadStopsAtTheNextToken) {
  ModelH mh;
  qg_model* m = load(mh);
  ContextH ch;
  qg_context* c = new_context(ch, m, 512);
  SamplerH sh;
  std::atomic<bool> first{false}, sent{false};
  std::thread watcher([&] {
    while (!first.load()) std::this_thread::yield();
    qg_context_cancel(c);
    sent.store(true);
  });
  Stream out;
  // The first token's callback waits until the other thread has cancelled,
  // so exactly one token comes out whatever the scheduling.
  out.on_first = [&] {
    first.store(true);
    while (!sent.load()) std::this_thread::yield();
  };
  const qg_generate_result r = generate(c, "Once upon a time", -1, greedy(sh), out);
  watcher.join();
  EXPECT_EQ(r.stop_reason, QG_STOP_CANCELLED);
  EXPECT_EQ(r.n_generated, 1);

  // The request was consumed: the next generation runs to its end.
  Stream again;
  const qg_generate_result r2 = generate(c, "Once upon a time", 10, sh.s, again);
  EXPECT_EQ(r2.stop_reason, QG_STOP_N_PREDICT);
  EXPECT_EQ(r2.n_generated, 10);
}

TEST(CApi, CancelWhileRunningWithoutHandshake) {
  ModelH mh;
  qg_model* m = load(mh);
  ContextH ch;
  qg_context* c = new_context(ch, m, 512);
  SamplerH sh;
  Stream out;
  std::thread watcher([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
    qg_context_cancel(c);
  });
  qg_generate_params gp = qg_generate_default_params();
  gp.n_predict = -1;
  gp.ignore_eos = 1;  // ~500 tokens: far longer than 2 ms
  qg_generate_result r;
  ASSERT_EQ(qg_generate(c, "Once", &gp, greedy(sh), collect, &out, &r), QG_OK);
  watcher.join();
  EXPECT_EQ(r.stop_reason, QG_STOP_CANCELLED);
  EXPECT_LT(r.n_generated, qg_context_n_ctx(c) - r.n_prompt);
}

TEST(CApi, CancelBeforeGenerateStopsTheNextOne) {
  ModelH mh;
  qg_model* m = load(mh);
  ContextH ch;
  qg_context* c = new_context(ch, m);
  qg_context_cancel(c);
  Stream out;
  const qg_generate_result r = generate(c, "Once upon a time", 50, nullptr, out);
  EXPECT_EQ(r.stop_reason, QG_STOP_CANCELLED);
  EXPECT_EQ(r.n_generated, 0);
  EXPECT_TRUE(out.tokens.empty());
}

TEST(CApi, GenerationStopsWhenTheContextIsFull) {
  ModelH mh;
  qg_model* m = load(mh);
  ContextH ch;
  qg_context* c = new_context(ch, m, 16);
  SamplerH sh;
  qg_generate_params gp = qg_generate_default_params();
  gp.n_predict = 100;
  gp.ignore_eos = 1;
  Stream out;
  qg_generate_result r;
  ASSERT_EQ(qg_generate(c, "Once upon a time", &gp, greedy(sh), collect, &out, &r), QG_OK) << qg_last_error();
  EXPECT_EQ(r.stop_reason, QG_STOP_CONTEXT_FULL);
  EXPECT_EQ(r.n_prompt + r.n_generated, 16);
  EXPECT_EQ(qg_context_n_past(c), 16);
  // Nothing fits any more: a code, not a crash.
  gp.keep_context = 1;
  EXPECT_EQ(qg_generate(c, "more", &gp, sh.s, collect, &out, &r), QG_ERR_CONTEXT_FULL);
  const int32_t t = 5;
  EXPECT_EQ(qg_eval(c, &t, 1, 0), QG_ERR_CONTEXT_FULL);
  EXPECT_NE(std::string(qg_last_error()).find("n_ctx = 16"), std::string::npos) << qg_last_error();
}

}  // namespace
