// Every misuse of the C API comes back as a qg_status and a message, never an
// abort or an exception: bad paths and files, bad parameters, NULL pointers,
// context overflow, token ids out of range, weights-only files.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

#include "qgml.h"
#include "qgml/gguf.h"
#include "test_util.h"

namespace {

using qgml::test::TempDir;

std::string model_path() { return qgml::test::source_dir() + "/models/stories260K/stories260K.gguf"; }
std::string last_error() { return qg_last_error(); }
bool mentions(const std::string& what) { return last_error().find(what) != std::string::npos; }

struct CApiErrorsF : ::testing::Test {
  void SetUp() override {
    ASSERT_EQ(qg_model_load(model_path().c_str(), nullptr, &model), QG_OK) << qg_last_error();
    qg_context_params p = qg_context_default_params();
    p.n_ctx = 16;
    p.n_threads = 1;
    ASSERT_EQ(qg_context_new(model, &p, &ctx), QG_OK) << qg_last_error();
  }
  void TearDown() override {
    qg_context_free(ctx);
    qg_model_free(model);
  }
  qg_model* model = nullptr;
  qg_context* ctx = nullptr;
};

TEST(CApiErrors, BadPathsAndFiles) {
  qg_model* m = reinterpret_cast<qg_model*>(0x1);  // must stay untouched on failure
  EXPECT_EQ(qg_model_load("/no/such/dir/model.gguf", nullptr, &m), QG_ERR_IO);
  EXPECT_EQ(m, reinterpret_cast<qg_model*>(0x1));
  EXPECT_TRUE(mentions("/no/such/dir/model.gguf")) << last_error();
  EXPECT_TRUE(mentions("No such file")) << last_error();

  TempDir dir;
  EXPECT_EQ(qg_model_load(dir.path().c_str(), nullptr, &m), QG_ERR_IO);
  EXPECT_TRUE(mentions("not a regular file")) << last_error();

  const std::string junk = dir.file("junk.gguf");
  FILE* f = std::fopen(junk.c_str(), "wb");
  ASSERT_NE(f, nullptr);
  std::fputs("this is not a model", f);
  std::fclose(f);
  for (int use_mmap : {1, 0}) {
    qg_model_params p = qg_model_default_params();
    p.use_mmap = use_mmap;
    EXPECT_EQ(qg_model_load(junk.c_str(), &p, &m), QG_ERR_MODEL);
    EXPECT_TRUE(mentions("not a GGUF file")) << last_error();
  }
  // A model whose file is truncated in the middle of the tensor data.
  const std::string cut = dir.file("cut.gguf");
  ASSERT_EQ(std::system(("head -c 600000 '" + model_path() + "' > '" + cut + "'").c_str()), 0);
  EXPECT_EQ(qg_model_load(cut.c_str(), nullptr, &m), QG_ERR_MODEL);
  EXPECT_TRUE(mentions(cut)) << last_error();
}

TEST(CApiErrors, NullPointers) {
  qg_model* m = nullptr;
  EXPECT_EQ(qg_model_load(nullptr, nullptr, &m), QG_ERR_INVALID_ARGUMENT);
  EXPECT_TRUE(mentions("path")) << last_error();
  EXPECT_EQ(qg_model_load(model_path().c_str(), nullptr, nullptr), QG_ERR_INVALID_ARGUMENT);
  qg_context* c = nullptr;
  EXPECT_EQ(qg_context_new(nullptr, nullptr, &c), QG_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(qg_eval(nullptr, nullptr, 1, 0), QG_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(qg_get_logits(nullptr, 0), nullptr);
  EXPECT_EQ(qg_generate(nullptr, "x", nullptr, nullptr, nullptr, nullptr, nullptr), QG_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(qg_sampler_new(nullptr, nullptr), QG_ERR_INVALID_ARGUMENT);
  int32_t n = 0;
  EXPECT_EQ(qg_tokenize(nullptr, "x", 1, nullptr, 0, &n, 1, 0), QG_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(qg_model_meta_string(nullptr, "k", nullptr, 0, nullptr), QG_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(qg_context_rewind(nullptr, 0), QG_ERR_INVALID_ARGUMENT);
  int32_t tok = 0;
  EXPECT_EQ(qg_sampler_sample(nullptr, nullptr, 0, &tok), QG_ERR_INVALID_ARGUMENT);
  // Queries and frees on NULL are harmless.
  EXPECT_EQ(qg_model_arch(nullptr), nullptr);
  EXPECT_EQ(qg_model_n_vocab(nullptr), 0);
  EXPECT_EQ(qg_model_meta_count(nullptr), 0);
  EXPECT_EQ(qg_context_n_ctx(nullptr), 0);
  EXPECT_EQ(qg_token_bos(nullptr), -1);
  EXPECT_EQ(qg_token_is_eog(nullptr, 2), 0);
  qg_context_cancel(nullptr);
  qg_sampler_accept(nullptr, 1);
  qg_sampler_reset(nullptr);
  qg_model_free(nullptr);
  qg_context_free(nullptr);
  qg_sampler_free(nullptr);
}

TEST_F(CApiErrorsF, NullPointersWithLiveHandles) {
  int32_t n = 0;
  EXPECT_EQ(qg_tokenize(model, "x", 1, nullptr, 0, nullptr, 1, 0), QG_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(qg_tokenize(model, nullptr, 3, nullptr, 0, &n, 1, 0), QG_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(qg_tokenize(model, "x", 1, nullptr, 4, &n, 1, 0), QG_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(qg_detokenize(model, nullptr, 2, nullptr, 0, nullptr, 0), QG_ERR_INVALID_ARGUMENT);
  char buf[4];
  EXPECT_EQ(qg_model_meta_string(model, nullptr, buf, sizeof buf, nullptr), QG_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(qg_model_meta_string(model, "general.architecture", nullptr, 8, nullptr), QG_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(qg_eval(ctx, nullptr, 1, 0), QG_ERR_INVALID_ARGUMENT);
  qg_sampler* s = nullptr;
  qg_sampler_params sp = qg_sampler_default_params();
  ASSERT_EQ(qg_sampler_new(&sp, &s), QG_OK);
  EXPECT_EQ(qg_sampler_sample(s, ctx, 0, nullptr), QG_ERR_INVALID_ARGUMENT);
  int32_t tok = 0;
  EXPECT_EQ(qg_sampler_sample(s, ctx, -1, &tok), QG_ERR_INVALID_ARGUMENT);  // nothing evaluated yet
  EXPECT_TRUE(mentions("no logits")) << last_error();
  qg_sampler_free(s);
  // Empty prompt and callback NULL are fine: generation starts from BOS.
  qg_generate_params gp = qg_generate_default_params();
  gp.n_predict = 3;
  qg_generate_result r;
  EXPECT_EQ(qg_generate(ctx, nullptr, &gp, nullptr, nullptr, nullptr, &r), QG_OK) << last_error();
  EXPECT_EQ(r.n_prompt, 1);
}

TEST_F(CApiErrorsF, BadParameters) {
  qg_model* m = nullptr;
  qg_model_params mp = qg_model_default_params();
  mp.n_threads = -1;
  EXPECT_EQ(qg_model_load(model_path().c_str(), &mp, &m), QG_ERR_INVALID_ARGUMENT);
  EXPECT_TRUE(mentions("n_threads")) << last_error();

  qg_context* c = nullptr;
  qg_context_params cp = qg_context_default_params();
  cp.n_ctx = -5;
  EXPECT_EQ(qg_context_new(model, &cp, &c), QG_ERR_INVALID_ARGUMENT);
  EXPECT_TRUE(mentions("n_ctx")) << last_error();
  cp.n_ctx = 1 << 30;  // a KV cache of this size is refused, not allocated
  EXPECT_EQ(qg_context_new(model, &cp, &c), QG_ERR_INVALID_ARGUMENT);
  EXPECT_TRUE(mentions("context size")) << last_error();
  cp = qg_context_default_params();
  cp.n_batch = 0;
  EXPECT_EQ(qg_context_new(model, &cp, &c), QG_ERR_INVALID_ARGUMENT);
  cp = qg_context_default_params();
  cp.n_threads = 100000;
  EXPECT_EQ(qg_context_new(model, &cp, &c), QG_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(c, nullptr);

  qg_sampler* s = nullptr;
  qg_sampler_params sp = qg_sampler_default_params();
  sp.repeat_penalty = 0;
  EXPECT_EQ(qg_sampler_new(&sp, &s), QG_ERR_INVALID_ARGUMENT);
  sp = qg_sampler_default_params();
  sp.temp = std::nanf("");
  EXPECT_EQ(qg_sampler_new(&sp, &s), QG_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(s, nullptr);

  EXPECT_EQ(qg_eval(ctx, nullptr, 0, 0), QG_ERR_INVALID_ARGUMENT);
  const int32_t t = 1;
  EXPECT_EQ(qg_eval(ctx, &t, -3, 0), QG_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(qg_context_rewind(ctx, -1), QG_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(qg_context_rewind(ctx, 1), QG_ERR_INVALID_ARGUMENT);
  int32_t n = 0;
  EXPECT_EQ(qg_tokenize(model, "x", 1, nullptr, -1, &n, 1, 0), QG_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(qg_detokenize(model, &t, -1, nullptr, 0, nullptr, 0), QG_ERR_INVALID_ARGUMENT);
}

TEST_F(CApiErrorsF, ContextOverflowLeavesTheContextUnchanged) {
  std::vector<int32_t> ids(17, 300);
  EXPECT_EQ(qg_eval(ctx, ids.data(), 17, 0), QG_ERR_CONTEXT_FULL);
  EXPECT_TRUE(mentions("n_ctx = 16")) << last_error();
  EXPECT_EQ(qg_context_n_past(ctx), 0);
  ASSERT_EQ(qg_eval(ctx, ids.data(), 10, 0), QG_OK);
  EXPECT_EQ(qg_eval(ctx, ids.data(), 7, 0), QG_ERR_CONTEXT_FULL);
  EXPECT_EQ(qg_context_n_past(ctx), 10);
  EXPECT_NE(qg_get_logits(ctx, -1), nullptr);  // the failed call kept the last logits
  ASSERT_EQ(qg_eval(ctx, ids.data(), 6, 0), QG_OK);
  EXPECT_EQ(qg_context_n_past(ctx), 16);

  // A prompt longer than the context, through generate.
  const std::string long_prompt(400, 'a');
  qg_generate_result r;
  EXPECT_EQ(qg_generate(ctx, long_prompt.c_str(), nullptr, nullptr, nullptr, nullptr, &r), QG_ERR_CONTEXT_FULL);
  EXPECT_EQ(r.stop_reason, QG_STOP_NONE);
  EXPECT_TRUE(mentions("exceeds n_ctx = 16")) << last_error();
}

TEST_F(CApiErrorsF, TokenIdsOutOfRange) {
  for (int32_t bad : {-1, 512, 1 << 30}) {
    const std::vector<int32_t> ids = {1, bad};
    EXPECT_EQ(qg_eval(ctx, ids.data(), 2, 0), QG_ERR_TOKEN_RANGE) << bad;
    EXPECT_TRUE(mentions(std::to_string(bad))) << last_error();
    EXPECT_EQ(qg_context_n_past(ctx), 0);
    char buf[64];
    EXPECT_EQ(qg_detokenize(model, ids.data(), 2, buf, sizeof buf, nullptr, 0), QG_ERR_TOKEN_RANGE);
  }
}

TEST_F(CApiErrorsF, LastErrorIsPerThread) {
  qg_model* m = nullptr;
  ASSERT_EQ(qg_model_load("/no/such/a.gguf", nullptr, &m), QG_ERR_IO);
  std::string other;
  std::thread t([&] {
    other = qg_last_error();  // nothing failed on this thread yet
    qg_model* m2 = nullptr;
    qg_model_load("/no/such/b.gguf", nullptr, &m2);
  });
  t.join();
  EXPECT_EQ(other, "");
  EXPECT_TRUE(mentions("/no/such/a.gguf")) << last_error();
}

TEST(CApiErrors, StatusStrings) {
  EXPECT_STREQ(qg_status_string(QG_OK), "QG_OK");
  EXPECT_STREQ(qg_status_string(QG_ERR_CONTEXT_FULL), "QG_ERR_CONTEXT_FULL");
  EXPECT_STREQ(qg_status_string(static_cast<qg_status>(999)), "QG_ERR_UNKNOWN");
}

// A file with weights but no tokenizer.ggml.* keys: the text functions say so.
TEST(CApiErrors, WeightsOnlyFile) {
  TempDir dir;
  const std::string out = dir.file("weights.gguf");
  {
    const qgml::gguf::Reader in(model_path());
    qgml::gguf::Writer w;
    for (const auto& kv : in.metadata())
      if (kv.key.rfind("tokenizer.", 0) != 0) w.set(kv.key, kv.value);
    for (const auto& t : in.tensors()) w.add_tensor(t.name, t.type, t.n_dims, t.ne, in.tensor_data(t));
    w.write(out);
  }
  qg_model* m = nullptr;
  ASSERT_EQ(qg_model_load(out.c_str(), nullptr, &m), QG_OK) << last_error();
  int32_t n = 0;
  EXPECT_EQ(qg_tokenize(m, "x", 1, nullptr, 0, &n, 1, 0), QG_ERR_NO_TOKENIZER);
  EXPECT_EQ(qg_token_bos(m), -1);
  qg_context* c = nullptr;
  ASSERT_EQ(qg_context_new(m, nullptr, &c), QG_OK);
  EXPECT_EQ(qg_generate(c, "x", nullptr, nullptr, nullptr, nullptr, nullptr), QG_ERR_NO_TOKENIZER);
  const int32_t ids[2] = {1, 42};  // token ids still run
  EXPECT_EQ(qg_eval(c, ids, 2, 0), QG_OK) << last_error();
  qg_context_free(c);
  qg_model_free(m);
}

}  // namespace
