// qgml quantize — GPTQ (calibrated on the CPU with qgml's own forward pass),
// round-to-nearest and NF4, with an optional perplexity before/after.
#include <sys/resource.h>
#include <unistd.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif

#include <cstdio>
#include <string>
#include <vector>

#include "args.h"
#include "command.h"
#include "qgml/error.h"
#include "qgml/io.h"
#include "qgml/model.h"
#include "qgml/perplexity.h"
#include "qgml/quantize.h"

namespace qgml::cli {
namespace {

const char* kUsage =
    "usage: qgml quantize -m IN -o OUT.gguf [options]\n"
    "IN: a llama2.c checkpoint (with --vocab), a Hugging Face directory, or a GGUF file of f32/f16/bf16 tensors.\n"
    "  --method M          gptq (default), rtn, nf4, nf4-dq, gptq-nf4\n"
    "  --format F          gptq (default: qgml's gptq/nf4 types), q4_0, q4_1: llama.cpp's types, for stock llama.cpp\n"
    "                      (gptq: GPTQ on llama.cpp's grid, blocks of 32, no permutation; rtn: llama.cpp's own RTN;\n"
    "                      linears whose rows are not a multiple of 32 stay f16)\n"
    "  --bits B            4 (default), 3, 2 (gptq, rtn)\n"
    "  --group G           32, 64, 128 (default) or -1 (one scale per row, stored as 128-column blocks)\n"
    "  --sym               symmetric grid (zero point 2^(B-1)); default asymmetric\n"
    "  --act-order         quantize columns by decreasing Hessian diagonal (default on); --no-act-order\n"
    "  --static-groups     fit group parameters before GPTQ's updates (no permutation stored)\n"
    "  --damp F            dampening, fraction of the mean Hessian diagonal (default 0.01)\n"
    "  --block N           columns per lazy batch update (default 128)\n"
    "  --calib FILE        calibration text: .txt (whole file) or .jsonl (\"text\" of each line)\n"
    "  --calib-samples N   windows (default 128)    --calib-ctx N   tokens per window (default 2048)\n"
    "  --calib-bos         start every window with BOS (GPTQ's loaders do not)\n"
    "  --seed S            window sampling seed (default 0)\n"
    "  --keep GLOB=TYPE    store matching tensors as TYPE (f32, f16, bf16, q8_0, q4_0, nf4, gptq4_g32, ...); repeatable\n"
    "  --embd-type TYPE    token embedding and output head (default f16)\n"
    "  --eval FILE         perplexity before and after (llama.cpp protocol), with --eval-ctx N (default 512)\n"
    "  --vocab FILE        tokenizer.bin of a llama2.c checkpoint\n"
    "  --cache-mb N        memory for one block's captured activations; beyond it they are recomputed (default 1024)\n"
    "  -t, --threads N     threads (default: all)\n";

std::string human_bytes(double b) {
  char buf[32];
  if (b >= 1 << 30) std::snprintf(buf, sizeof buf, "%.2f GiB", b / (1 << 30));
  else if (b >= 1 << 20) std::snprintf(buf, sizeof buf, "%.2f MiB", b / (1 << 20));
  else std::snprintf(buf, sizeof buf, "%.1f KiB", b / 1024);
  return buf;
}

double cpu_seconds() {
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  return static_cast<double>(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) + 1e-6 * static_cast<double>(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec);
}

double peak_rss_bytes() {
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  return static_cast<double>(ru.ru_maxrss) * 1024.0;  // Linux reports KiB
}

int cmd_quantize(const std::vector<std::string>& argv) {
#ifdef __GLIBC__
  // Calibration builds and frees a graph per window and stage (thousands of
  // multi-megabyte buffers): glibc would map and unmap each one and fault its
  // pages in again. Keeping freed buffers up to 32 MiB in the heap (and up to
  // 128 MiB of free heap) saves about a tenth of the CPU time of a house-model
  // calibration; larger buffers (a big model's cached inputs) are still
  // returned at once, so the peak memory stays as it was.
  mallopt(M_MMAP_THRESHOLD, 32 << 20);
  mallopt(M_TRIM_THRESHOLD, 128 << 20);
#endif
  const Args args(argv,
                  {{"-m", "--model"}, {"-o", "--outfile"}, {"--method"}, {"--format"}, {"--bits"}, {"--group"}, {"--damp"}, {"--block"},
                   {"--calib"}, {"--calib-samples"}, {"--calib-ctx"}, {"--seed"}, {"--keep"}, {"--embd-type"}, {"--eval"},
                   {"--eval-ctx"}, {"--vocab"}, {"-t", "--threads"}, {"--cache-mb"}},
                  {{"-h", "--help"}, {"--sym"}, {"--act-order"}, {"--no-act-order"}, {"--static-groups"}, {"--calib-bos"}, {"--bench-linalg"}});
  if (args.has("-h")) {
    std::fputs(kUsage, stdout);
    return 0;
  }
  if (args.has("--bench-linalg")) {
    // Hessian accumulation at the shapes of a calibration window: t = 256 tokens, n = 256 and 768 inputs.
    for (int64_t n : {256, 768, 2048}) {
      const quantize::LinalgBench b = quantize::bench_linalg(n, 256, 1.0);
      std::printf("kernel %s: FMA peak %.1f GFLOPS (wall) %.1f (cpu); X^T X n=%lld t=256: %.1f GFLOPS (wall) %.1f (cpu) = %.0f %% of peak (cpu)\n",
                  b.kernel, b.peak_gflops_wall, b.peak_gflops_cpu, static_cast<long long>(n), b.syrk_gflops_wall,
                  b.syrk_gflops_cpu, 100.0 * b.syrk_gflops_cpu / b.peak_gflops_cpu);
    }
    return 0;
  }
  quantize::Params p;
  p.input = args.require("-m");
  p.output = args.require("-o");
  p.method = quantize::parse_method(args.get("--method", "gptq"));
  p.format = quantize::parse_format(args.get("--format", "gptq"));
  p.bits = static_cast<int>(args.get_int("--bits", 4));
  p.group = static_cast<int>(args.get_int("--group", 128));
  p.sym = args.has("--sym");
  if (p.format != quantize::Format::Gptq) {
    // The llama.cpp types fix the grid: refuse options that say otherwise instead of ignoring them.
    const char* f = quantize::format_name(p.format);
    if (p.bits != 4) fail("--format %s is a 4-bit type, not --bits %d", f, p.bits);
    if (args.has("--group") && p.group != 32) fail("--format %s has blocks of 32 columns, not --group %d", f, p.group);
    if (p.sym && p.format == quantize::Format::Q4_1) fail("--format q4_1 is asymmetric (d, m per block): drop --sym or use q4_0");
    p.group = 32;
  }
  if (args.has("--act-order") && args.has("--no-act-order")) fail("--act-order and --no-act-order contradict each other");
  p.act_order = !args.has("--no-act-order");
  p.static_groups = args.has("--static-groups");
  p.damp = args.get_float("--damp", 0.01);
  p.block = static_cast<int>(args.get_int("--block", 128));
  p.calib = args.get("--calib");
  p.calib_samples = args.get_int("--calib-samples", 128);
  p.calib_ctx = args.get_int("--calib-ctx", 2048);
  p.calib_bos = args.has("--calib-bos");
  p.seed = static_cast<uint64_t>(args.get_int("--seed", 0));
  for (const std::string& k : args.get_all("--keep")) p.keep.push_back(quantize::parse_keep(k));
  const std::string embd = args.get("--embd-type", "f16");
  if (!type_from_name(embd.c_str(), &p.embd_type) || traits(p.embd_type).from_float == nullptr)
    fail("--embd-type '%s': unknown type", embd.c_str());
  p.vocab = args.get("--vocab");
  p.n_threads = static_cast<int>(args.get_int("-t", 0));
  if (args.has("--cache-mb")) p.cache_budget_bytes = static_cast<size_t>(args.get_int("--cache-mb", 1024)) << 20;
  if (p.calib_samples < 1 || p.calib_ctx < 2) fail("--calib-samples must be ≥ 1 and --calib-ctx ≥ 2");
  const std::string eval = args.get("--eval");
  const int64_t eval_ctx = args.get_int("--eval-ctx", 512);
  if (!eval.empty() && eval_ctx < 4) fail("--eval-ctx must be at least 4");
  if (!p.calib.empty() && ::access(p.calib.c_str(), R_OK) != 0) fail("%s: cannot read the calibration file", p.calib.c_str());
  if (!eval.empty() && ::access(eval.c_str(), R_OK) != 0) fail("%s: cannot read the evaluation file", eval.c_str());

  const bool tty = ::isatty(STDERR_FILENO);
  bool pending_transient = false;
  p.log = [&](const std::string& line, bool transient) {
    if (tty) {
      std::fprintf(stderr, "\r\033[K%s%s", line.c_str(), transient ? "" : "\n");
      pending_transient = transient;
    } else if (!transient || line.rfind("block ", 0) == 0) {
      std::fprintf(stderr, "%s\n", line.c_str());
    }
    std::fflush(stderr);
  };

  quantize::check(p);  // every argument, before the model is loaded or anything is computed
  std::unique_ptr<Model> float_model;
  if (!eval.empty() || quantize::needs_calibration(p.method)) {
    // Loaded once: the calibration forward pass and the "before" figure share it.
    const size_t slash = p.output.rfind('/');
    float_model = quantize::load_float_model(p.input, p.vocab, slash == std::string::npos ? "." : slash == 0 ? "/" : p.output.substr(0, slash));
  }
  const quantize::Report rep = quantize::quantize_model(p, float_model.get());
  if (pending_transient) std::fputc('\n', stderr);
  std::fprintf(stderr, "qgml quantize: wrote %s (%s, %s)\n", p.output.c_str(), human_bytes(static_cast<double>(rep.file_bytes)).c_str(),
               quantize::method_name(p.method));
  std::fprintf(stderr, "  bits per weight: %.3f over the quantized linears, %.3f over all tensors\n", rep.bpw_quantized, rep.bpw_all);
  std::fprintf(stderr, "  time: %.2f s", rep.seconds);
  if (rep.calib_seconds > 0)
    std::fprintf(stderr, " (calibration %.2f s: forward %.2f s of which linears %.2f s, Hessians %.2f s at %.1f GFLOPS, GPTQ %.2f s%s)", rep.calib_seconds,
                 rep.forward_seconds, rep.linear_seconds, rep.hessian_seconds, rep.hessian_gflops, rep.gptq_seconds,
                 rep.activations_cached ? "" : ", activations recomputed: over --cache-mb");
  // CPU time tells the work apart from waiting on a loaded machine.
  std::fprintf(stderr, "\n  cpu time: %.2f s (whole process so far)\n  peak memory: %s\n", cpu_seconds(), human_bytes(peak_rss_bytes()).c_str());
  if (!eval.empty()) {
    PerplexityParams pp;
    pp.n_ctx = eval_ctx;
    pp.n_threads = p.n_threads;
    const std::string eval_text = read_file(eval);
    const PerplexityResult b = perplexity_of_text(*float_model, eval_text, pp);
    const double ppl_before = b.ppl;
    std::fprintf(stderr, "perplexity before: %.4f +/- %.4f (%lld chunks of %lld)\n", b.ppl, b.stderr_ppl,
                 static_cast<long long>(b.n_chunks), static_cast<long long>(eval_ctx));
    float_model.reset();
    const std::unique_ptr<Model> q = Model::load(p.output);
    const PerplexityResult r = perplexity_of_text(*q, eval_text, pp);
    std::fprintf(stderr, "perplexity after:  %.4f +/- %.4f (before %.4f, %+.2f %%)\n", r.ppl, r.stderr_ppl, ppl_before,
                 100.0 * (r.ppl / ppl_before - 1.0));
    std::printf("ppl_before %.4f\nppl_after %.4f\n", ppl_before, r.ppl);
  }
  return 0;
}

}  // namespace

QGML_COMMAND(quantize, "quantize a model: GPTQ (calibrated), RTN, NF4", cmd_quantize);

}  // namespace qgml::cli
