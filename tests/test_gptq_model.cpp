// qgml quantize end to end on stories260K: bad arguments are refused before
// any work (and leave no output), GPTQ 4-bit g32 calibrated on the committed
// text gives a file that loads, generates and has a lower perplexity than
// round-to-nearest on the same grid; --keep rules; calibration windows.
#include <sys/stat.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <dirent.h>
#include <string>
#include <vector>

#include "qgml/error.h"
#include "qgml/gguf.h"
#include "qgml/io.h"
#include "qgml/model.h"
#include "qgml/perplexity.h"
#include "qgml/quantize.h"
#include "qgml/sampling.h"
#include "qgml/session.h"
#include "qgml/tokenizer.h"
#include "quantize/calib.h"
#include "test_util.h"

using namespace qgml;

namespace {

std::string model_path() { return test::source_dir() + "/models/stories260K/stories260K.gguf"; }
std::string calib_path() { return test::source_dir() + "/models/stories260K/calib.txt"; }

int count_files(const std::string& dir) {
  int n = 0;
  if (DIR* d = opendir(dir.c_str())) {
    while (dirent* e = readdir(d)) n += e->d_name[0] != '.' || std::string(e->d_name).size() > 2;
    closedir(d);
  }
  return n;
}

std::string greedy(const Model& m, int steps) {
  SessionParams sp;
  sp.n_ctx = 256;
  sp.n_threads = 1;
  Session s(m, sp);
  const Tokenizer& tok = m.tokenizer();
  std::vector<int32_t> ids = {tok.bos()};
  SamplerParams g;
  g.temp = 0;
  Sampler sampler(g);
  const std::vector<float>* logits = &s.eval(ids);
  for (int i = 0; i < steps; ++i) {
    const int32_t next = sampler.sample(logits->data(), m.hparams().n_vocab);
    ids.push_back(next);
    logits = &s.eval({next});
  }
  return tok.decode(ids);
}

}  // namespace

TEST(QuantizeCli, BadArgumentsFailBeforeAnyWorkAndLeaveNoOutput) {
  test::TempDir dir;
  const std::string out = dir.file("out.gguf");
  const std::string tiny = dir.file("tiny.txt");
  FILE* f = std::fopen(tiny.c_str(), "w");
  std::fputs("Once upon a time.", f);
  std::fclose(f);
  const std::string base = "quantize -m '" + model_path() + "' -o '" + out + "' --calib '" + calib_path() + "' ";
  const char* bad[] = {
      "--group 128",                        // K = 64 < 128 for q/k/v/o/gate/up
      "--bits 5 --group 32",                // no 5-bit grid
      "--group 48",                         // not a stored group size
      "--method awq --group 32",            // unknown method
      "--group 32 --keep 'blk.*'",          // rule without =TYPE
      "--group 32 --keep 'blk.*=q9_9'",     // unknown type
      "--group 32 --keep 'blk.0.ffn_down.weight=q8_0'",  // K = 172 is not a multiple of q8_0's 32
      "--group 32 --damp 1.5",
      "--method nf4 --bits 3",
  };
  for (const char* a : bad) {
    const test::CliResult r = test::run_cli(base + a + " 2>/dev/null");
    EXPECT_NE(r.exit_code, 0) << a;
    EXPECT_FALSE(test::file_exists(out)) << a;
  }
  // Calibration text shorter than one window, and GPTQ without calibration text.
  EXPECT_NE(test::run_cli("quantize -m '" + model_path() + "' -o '" + out + "' --group 32 --calib '" + tiny + "' 2>/dev/null").exit_code, 0);
  EXPECT_NE(test::run_cli("quantize -m '" + model_path() + "' -o '" + out + "' --group 32 2>/dev/null").exit_code, 0);
  EXPECT_FALSE(test::file_exists(out));
  EXPECT_EQ(count_files(dir.path()), 1) << "only tiny.txt: no temporary files left behind";
}

TEST(QuantizeCli, CalibrationWindowsAreSeededAndSized) {
  const auto m = Model::load(model_path());
  quantize::CalibParams p;
  p.path = calib_path();
  p.n_samples = 16;
  p.n_ctx = 64;
  p.seed = 3;
  const auto a = quantize::calibration_windows(m->tokenizer(), p), b = quantize::calibration_windows(m->tokenizer(), p);
  ASSERT_EQ(a.size(), 16u);
  EXPECT_EQ(a, b);
  for (const auto& w : a) EXPECT_EQ(w.size(), 64u);
  p.seed = 4;
  EXPECT_NE(quantize::calibration_windows(m->tokenizer(), p), a);
  // .jsonl: the "text" field of each line; documents no longer than the window are skipped.
  test::TempDir dir;
  const std::string j = dir.file("c.jsonl");
  FILE* f = std::fopen(j.c_str(), "w");
  const std::string story = read_file(calib_path()).substr(0, 3000);
  std::string esc;
  for (char c : story) esc += c == '"' ? std::string("\\\"") : c == '\n' ? std::string("\\n") : c == '\\' ? std::string("\\\\") : std::string(1, c);
  std::fprintf(f, "{\"text\": \"short\", \"url\": \"x\"}\n{\"text\": \"%s\"}\n", esc.c_str());
  std::fclose(f);
  p.path = j;
  const auto c = quantize::calibration_windows(m->tokenizer(), p);
  const auto doc = m->tokenizer().encode(story, m->tokenizer().add_bos_default(), false);
  for (const auto& w : c) EXPECT_NE(std::search(doc.begin(), doc.end(), w.begin(), w.end()), doc.end());
  p.n_ctx = 100000;
  EXPECT_THROW(quantize::calibration_windows(m->tokenizer(), p), Error);
}

TEST(QuantizeCli, GlobsAndKeepRules) {
  EXPECT_TRUE(quantize::glob_match("blk.*.attn_?.weight", "blk.10.attn_q.weight"));
  EXPECT_FALSE(quantize::glob_match("blk.*.attn_?.weight", "blk.1.attn_output.weight"));
  EXPECT_TRUE(quantize::glob_match("*", "x"));
  EXPECT_FALSE(quantize::glob_match("output*", "blk.0.output"));
  EXPECT_EQ(quantize::parse_keep("output.weight=q8_0").type, Type::Q8_0);
  EXPECT_THROW(quantize::parse_keep("=f16"), Error);
}

// Act-order permutations are checked once, when the file is loaded (graphs do
// not read them when built): a repeated or out-of-range entry is an error
// naming the file and the tensor.
TEST(QuantizeEndToEnd, LoadRejectsABrokenActOrderPermutation) {
  test::TempDir dir;
  const std::string good = dir.file("gptq.gguf");
  ASSERT_EQ(test::run_cli("quantize -m '" + model_path() + "' -o '" + good + "' --bits 4 --group 32 -t 2 --calib '" +
                          calib_path() + "' --calib-samples 4 --calib-ctx 64 2>/dev/null").exit_code, 0);
  const std::string name = "blk.1.ffn_down.weight.perm";
  size_t at = 0;
  {
    const gguf::Reader r(good);
    const gguf::TensorInfo* ti = r.find_tensor(name);
    ASSERT_NE(ti, nullptr);
    ASSERT_EQ(ti->type, Type::I32);
    at = r.data_offset() + ti->offset;
  }
  EXPECT_NO_THROW(Model::load(good));
  const std::string bytes = read_file(good);
  auto broken = [&](const char* tag, int32_t entry3) {
    std::string b = bytes;
    std::memcpy(&b[at + 3 * sizeof(int32_t)], &entry3, sizeof entry3);
    const std::string path = dir.file(std::string(tag) + ".gguf");
    FILE* f = std::fopen(path.c_str(), "wb");
    EXPECT_TRUE(f != nullptr && std::fwrite(b.data(), 1, b.size(), f) == b.size());
    if (f != nullptr) std::fclose(f);
    return path;
  };
  int32_t entry0;
  std::memcpy(&entry0, &bytes[at], sizeof entry0);
  using Case = std::pair<const char*, int32_t>;
  for (const auto& [tag, value] : {Case{"repeated", entry0}, Case{"negative", -1}, Case{"past", 172}}) {
    const std::string path = broken(tag, value);
    try {
      Model::load(path);
      ADD_FAILURE() << tag << ": loaded";
    } catch (const Error& e) {
      const std::string msg = e.what();
      EXPECT_NE(msg.find(path), std::string::npos) << msg;
      EXPECT_NE(msg.find(name + " is not a permutation of 0..171: entry 3"), std::string::npos) << msg;
    }
  }
  // The same file with that permutation stored as F32 values instead of I32.
  const std::string f32 = dir.file("f32perm.gguf");
  {
    const gguf::Reader r(good);
    gguf::Writer w;
    for (const gguf::KeyValue& kv : r.metadata()) w.set(kv.key, kv.value);
    std::vector<float> as_floats;
    for (const gguf::TensorInfo& ti : r.tensors()) {
      if (ti.name != name) {
        w.add_tensor(ti.name, ti.type, ti.n_dims, ti.ne, r.tensor_data(ti));
        continue;
      }
      const int32_t* p = static_cast<const int32_t*>(r.tensor_data(ti));
      as_floats.assign(p, p + ti.ne[0]);
      w.add_tensor(ti.name, Type::F32, ti.n_dims, ti.ne, as_floats.data());
    }
    w.write(f32);
  }
  try {
    Model::load(f32);
    ADD_FAILURE() << "an F32 permutation loaded";
  } catch (const Error& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find(f32), std::string::npos) << msg;
    EXPECT_NE(msg.find(name + " must be a 1-D I32 tensor, got 1-D f32"), std::string::npos) << msg;
  }
}

TEST(QuantizeEndToEnd, Stories260KGptq4BitG32LoadsGeneratesAndBeatsRtn) {
  test::TempDir dir;
  const std::string gptq = dir.file("gptq.gguf"), rtn = dir.file("rtn.gguf");
  const std::string common = " -m '" + model_path() + "' --bits 4 --group 32 -t 2 ";
  ASSERT_EQ(test::run_cli("quantize" + common + "-o '" + gptq + "' --calib '" + calib_path() +
                          "' --calib-samples 32 --calib-ctx 128 --keep 'blk.4.attn_v.weight=q8_0' 2>/dev/null").exit_code, 0);
  ASSERT_EQ(test::run_cli("quantize" + common + "-o '" + rtn + "' --method rtn 2>/dev/null").exit_code, 0);

  const auto q = Model::load(gptq);
  const gguf::Reader& f = q->file();
  EXPECT_EQ(f.find_tensor("blk.0.attn_q.weight")->type, Type::GPTQ4_G32);
  EXPECT_EQ(f.find_tensor("blk.0.ffn_down.weight")->type, Type::GPTQ4_G32);  // K = 172: a partial last group
  EXPECT_NE(f.find_tensor("blk.0.attn_q.weight.perm"), nullptr);
  EXPECT_EQ(f.find_tensor("blk.4.attn_v.weight")->type, Type::Q8_0);
  EXPECT_EQ(f.find_tensor("blk.4.attn_v.weight.perm"), nullptr);
  EXPECT_EQ(f.find_tensor("token_embd.weight")->type, Type::F16);
  const std::string story = greedy(*q, 40);
  EXPECT_GT(story.size(), 80u) << story;
  EXPECT_NE(story.find("Once upon a time"), std::string::npos) << story;

  QGML_REQUIRE_SHARED(text, "data/text/tinystories_train_head2MiB.txt");
  const std::string eval = read_file(text).substr(0, 65536);  // calib.txt comes from offset 1 MiB: no overlap
  PerplexityParams pp;
  pp.n_ctx = 128;
  pp.n_threads = 2;
  const double p_gptq = perplexity_of_text(*q, eval, pp).ppl;
  const double p_rtn = perplexity_of_text(*Model::load(rtn), eval, pp).ppl;
  const double p_f32 = perplexity_of_text(*Model::load(model_path()), eval, pp).ppl;
  std::fprintf(stderr, "stories260K -c 128 on 64 KiB: f32 %.4f, gptq4_g32 %.4f, rtn4_g32 %.4f\n", p_f32, p_gptq, p_rtn);
  EXPECT_LT(p_gptq, p_rtn);
  EXPECT_LT(p_f32, p_gptq);
}
