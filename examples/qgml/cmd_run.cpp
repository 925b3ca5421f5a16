// qgml run — generate text from a prompt, streaming tokens as they come.
#include <chrono>
#include <cstdio>
#include <string>

#include "args.h"
#include "command.h"
#include "qgml/error.h"
#include "qgml/io.h"
#include "qgml/model.h"
#include "qgml/sampling.h"
#include "qgml/session.h"
#include "qgml/tokenizer.h"

namespace qgml::cli {
namespace {

const char* kUsage =
    "usage: qgml run -m MODEL [-p PROMPT | -f FILE] [-n N] [-t THREADS] [-c CTX] [sampling options]\n"
    "  -m, --model FILE        GGUF model\n"
    "  -p, --prompt TEXT       prompt (default: empty, generation starts from BOS)\n"
    "  -f, --file FILE         read the prompt from a file\n"
    "  -n, --n-predict N       tokens to generate (default 128; -1: until the context is full)\n"
    "  -t, --threads N         threads (default: all cores)\n"
    "  -c, --ctx-size N        context size (default: the model's)\n"
    "      --temp T            temperature (default 0.8; 0 = greedy)\n"
    "      --top-k K           (default 40)   --top-p P (default 0.95)   --min-p P (default 0.05)\n"
    "      --repeat-penalty R  (default 1.0)  --repeat-last-n N (default 64)\n"
    "  -s, --seed N            sampling seed (default 0)\n"
    "      --kv-type f16|f32   KV cache precision (default f16)\n"
    "      --no-bos            do not add BOS to the prompt\n"
    "      --ignore-eos        keep generating after end-of-generation tokens\n";

using Clock = std::chrono::steady_clock;
double seconds_since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

int run(const std::vector<std::string>& argv) {
  const Args args(argv,
                  {{"-m", "--model"}, {"-p", "--prompt"}, {"-f", "--file"}, {"-n", "--n-predict"}, {"-t", "--threads"},
                   {"-c", "--ctx-size"}, {"--temp"}, {"--top-k"}, {"--top-p"}, {"--min-p"}, {"--repeat-penalty"},
                   {"--repeat-last-n"}, {"-s", "--seed"}, {"--kv-type"}, kGpuLayersFlag},
                  {{"-h", "--help"}, {"--no-bos"}, {"--ignore-eos"}});
  if (args.has("-h")) {
    std::fputs(kUsage, stdout);
    std::fputs(kGpuLayersHelp, stdout);
    return 0;
  }
  if (args.has("-p") && args.has("-f")) fail("give the prompt with -p or -f, not both");
  const std::string prompt = args.has("-f") ? read_file(args.get("-f")) : args.get("-p");

  SessionParams sp;
  sp.n_ctx = args.get_int("-c", 0);
  sp.n_threads = static_cast<int>(args.get_int("-t", 0));
  const std::string kv = args.get("--kv-type", "f16");
  if (kv != "f16" && kv != "f32") fail("--kv-type must be f16 or f32, got '%s'", kv.c_str());
  sp.kv_type = kv == "f16" ? Type::F16 : Type::F32;
  if (sp.n_ctx < 0) fail("-c must be positive");

  SamplerParams smp;
  smp.temp = static_cast<float>(args.get_float("--temp", smp.temp));
  smp.top_k = static_cast<int32_t>(args.get_int("--top-k", smp.top_k));
  smp.top_p = static_cast<float>(args.get_float("--top-p", smp.top_p));
  smp.min_p = static_cast<float>(args.get_float("--min-p", smp.min_p));
  smp.repeat_penalty = static_cast<float>(args.get_float("--repeat-penalty", smp.repeat_penalty));
  smp.repeat_last_n = static_cast<int32_t>(args.get_int("--repeat-last-n", smp.repeat_last_n));
  smp.seed = static_cast<uint64_t>(args.get_int("-s", 0));
  if (smp.repeat_penalty <= 0) fail("--repeat-penalty must be > 0");

  const auto t_load = Clock::now();
  const std::unique_ptr<Model> model = Model::load(args.require("-m"), true, gpu_layers(args));
  const Tokenizer& tok = model->tokenizer();
  Session session(*model, sp);
  const double load_s = seconds_since(t_load);

  const bool add_bos = tok.add_bos_default() && !args.has("--no-bos");
  std::vector<int32_t> ids = tok.encode(prompt, add_bos, true);
  if (ids.empty()) ids.push_back(tok.bos());  // a model needs at least one token to start from
  if (static_cast<int64_t>(ids.size()) >= session.n_ctx())
    fail("the prompt has %zu tokens, more than the context (%lld) can hold", ids.size(),
         static_cast<long long>(session.n_ctx()));
  int64_t n_predict = args.get_int("-n", 128);
  if (n_predict < 0) n_predict = session.n_ctx() - static_cast<int64_t>(ids.size());
  n_predict = std::min<int64_t>(n_predict, session.n_ctx() - static_cast<int64_t>(ids.size()));

  Sampler sampler(smp);
  for (int32_t t : ids) sampler.accept(t);
  std::fputs(prompt.c_str(), stdout);
  std::fflush(stdout);

  // Printing the difference of whole decodes keeps the tokenizer's rules for
  // spaces after BOS and multi-token UTF-8 characters in one place.
  const size_t n_prompt = ids.size();
  std::string shown = tok.decode(ids);
  const auto t_prompt = Clock::now();
  const std::vector<float>* logits = &session.eval(ids);
  const double prompt_s = seconds_since(t_prompt);

  const auto t_gen = Clock::now();
  int64_t generated = 0;
  while (generated < n_predict) {
    const int32_t next = sampler.sample(logits->data(), model->hparams().n_vocab);
    if (tok.is_eog(next) && !args.has("--ignore-eos")) break;
    ids.push_back(next);
    sampler.accept(next);
    ++generated;
    const std::string text = tok.decode(ids);
    if (text.size() > shown.size() && text.compare(0, shown.size(), shown) == 0) {
      std::fwrite(text.data() + shown.size(), 1, text.size() - shown.size(), stdout);
      std::fflush(stdout);
    }
    shown = text;
    if (generated < n_predict) logits = &session.eval({next});
  }
  const double gen_s = seconds_since(t_gen);
  std::fputc('\n', stdout);
  std::fflush(stdout);
  std::fprintf(stderr, "\nload: %.3f s | prompt: %zu tokens in %.3f s (%.2f tok/s) | generation: %lld tokens in %.3f s (%.2f tok/s)\n",
               load_s, n_prompt, prompt_s, static_cast<double>(n_prompt) / std::max(prompt_s, 1e-9),
               static_cast<long long>(generated), gen_s, static_cast<double>(generated) / std::max(gen_s, 1e-9));
  return 0;
}

}  // namespace

QGML_COMMAND(run, "generate text from a prompt", run);

}  // namespace qgml::cli
