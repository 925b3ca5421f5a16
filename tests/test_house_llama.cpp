// The house model (a small Llama trained here, BF16 Hugging Face checkpoint)
// converted by qgml and run by qgml, against PyTorch's float64 forward pass:
// logits within 1e-3 relative (max |Δ| / max |logit|), greedy continuations
// identical.
#include "json.h"
#include "npy.h"
#include "qgml/convert.h"
#include "qgml/error.h"
#include "qgml/io.h"
#include "qgml/model.h"
#include "qgml/sampling.h"
#include "qgml/session.h"
#include "qgml/tokenizer.h"
#include "golden_util.h"
#include "test_util.h"

using namespace qgml;
using test::read_npy_f64;
using test::relative_error;

namespace {

const char* kDir = "data/models/house-llama";

class HouseLlama : public ::testing::TestWithParam<Type> {};

}  // namespace

TEST_P(HouseLlama, LogitsAndGreedyMatchPyTorch) {
  QGML_REQUIRE_SHARED(dir, kDir);
  test::TempDir tmp;
  const std::string gguf = tmp.file("house.gguf");
  convert::write_gguf(*convert::open_hf(dir), gguf, GetParam());
  const auto model = Model::load(gguf);
  const int64_t V = model->hparams().n_vocab;
  const json::Value golden = json::parse_file(dir + "/golden/prompts_golden.json");

  for (const json::Value& p : golden.get("prompts")->items()) {
    const std::string text = p.get("text")->as_string();
    const std::vector<int32_t> ids = test::ids_of(*p.get("ids"));
    EXPECT_EQ(model->tokenizer().encode(text, true, false), ids) << text;

    SessionParams sp;
    sp.kv_type = Type::F32;
    sp.n_threads = 2;
    Session s(*model, sp);
    const json::Value* all_file = p.get("all_logits_file");
    const bool all = all_file != nullptr && all_file->is_string();
    const std::vector<float> logits = s.eval(ids, all);
    std::vector<int64_t> shape;
    const std::vector<double> last = read_npy_f64(dir + "/golden/" + p.get("last_logits_file")->as_string(), &shape);
    ASSERT_EQ(shape, std::vector<int64_t>{V});
    const float* mine_last = logits.data() + (all ? (ids.size() - 1) * V : 0);
    EXPECT_LT(relative_error(mine_last, last.data(), V), 1e-3) << text;
    if (all) {
      const std::vector<double> every = read_npy_f64(dir + "/golden/" + all_file->as_string(), &shape);
      ASSERT_EQ(shape, (std::vector<int64_t>{static_cast<int64_t>(ids.size()), V}));
      for (size_t i = 0; i < ids.size(); ++i)
        EXPECT_LT(relative_error(logits.data() + i * V, every.data() + i * V, V), 1e-3) << text << " position " << i;
    }

    // Greedy continuation, one token at a time through the KV cache.
    const std::vector<int32_t> want = test::ids_of(*p.get("greedy64_ids"));
    SamplerParams greedy;
    greedy.temp = 0;
    Sampler sampler(greedy);
    std::vector<int32_t> got;
    const float* cur = mine_last;
    std::vector<float> keep(cur, cur + V);
    for (size_t i = 0; i < want.size(); ++i) {
      got.push_back(sampler.sample(keep.data(), V));
      keep = s.eval({got.back()});
    }
    EXPECT_EQ(got, want) << text;
  }
}

INSTANTIATE_TEST_SUITE_P(Storage, HouseLlama, ::testing::Values(Type::F32, Type::BF16, Type::F16),
                         [](const auto& info) { return std::string(type_name(info.param)); });
