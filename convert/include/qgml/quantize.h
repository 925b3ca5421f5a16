// qgml/quantize.h — quantizing a model: GPTQ with calibration on the CPU
// (qgml's own forward pass, block by block), GPTQ's error feedback on the
// NF4 grid, and the calibration-free baselines (round-to-nearest on the GPTQ
// grid, NF4 with and without double quantization).
//
// Every argument is checked before any work (bits, group against each
// tensor's columns, --keep rules, the calibration text against the window);
// the output is written atomically (temporary file + rename).
#pragma once
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "qgml/types.h"

namespace qgml {
class Model;
}

namespace qgml::quantize {

enum class Method { GPTQ, RTN, NF4, NF4_DQ, GPTQ_NF4 };
// "gptq", "rtn", "nf4", "nf4-dq", "gptq-nf4"; throws on anything else.
Method parse_method(const std::string& s);
const char* method_name(Method m);
bool needs_calibration(Method m);

// What the method's target tensors are stored as. Gptq: qgml's gptq/nf4
// types. Q4_0 / Q4_1: llama.cpp's types and type ids, so stock llama.cpp runs
// the file: --method gptq runs GPTQ on llama.cpp's grid (blocks of 32, no
// permutation), --method rtn is llama.cpp's own round-to-nearest, bit for
// bit. Linears whose rows are not a multiple of 32 stay F16, which is where
// llama.cpp's own fallback ends for such rows (Q8_0 needs 32 as well).
enum class Format { Gptq, Q4_0, Q4_1 };
// "gptq", "q4_0", "q4_1"; throws on anything else.
Format parse_format(const std::string& s);
const char* format_name(Format f);

// --keep GLOB=TYPE: tensors whose GGUF name matches GLOB (* and ? wildcards,
// whole name) are stored as TYPE (any type name qgml knows: f32, f16, bf16,
// q8_0, q4_0, q4_1, nf4, nf4_dq, gptq4_g32, ...). The first matching rule wins;
// rules with a quantized type skip 1-D tensors (norms, biases).
struct KeepRule {
  std::string glob;
  Type type = Type::F16;
};
KeepRule parse_keep(const std::string& arg);  // throws qgml::Error naming the rule
bool glob_match(const std::string& glob, const std::string& name);

struct Params {
  std::string input;   // any input `qgml convert` reads, or a GGUF file with F32/F16/BF16 tensors
  std::string vocab;   // tokenizer.bin for llama2.c inputs
  std::string output;
  Method method = Method::GPTQ;
  Format format = Format::Gptq;
  int bits = 4;
  int group = 128;     // 32, 64, 128 or −1 (whole row)
  bool sym = false;
  bool act_order = true;
  bool static_groups = false;
  double damp = 0.01;
  int block = 128;
  std::string calib;   // .txt or .jsonl
  int64_t calib_samples = 128;
  int64_t calib_ctx = 2048;
  uint64_t seed = 0;
  bool calib_bos = false;  // force BOS at the start of every window
  std::vector<KeepRule> keep;
  Type embd_type = Type::F16;  // token embedding and output head, unless a rule says otherwise
  int n_threads = 0;           // 0: ThreadPool::default_threads()
  // Captured linear inputs (and products) kept per block: 1 GiB keeps every
  // product of a small model cached and a 1.1B model's calibration under
  // 4 GB peak (its full set of products would be ~3.9 GB on top of the weights).
  size_t cache_budget_bytes = size_t{1} << 30;
  // Progress and log lines; `transient` lines may be overwritten by the next one.
  std::function<void(const std::string& line, bool transient)> log;
};

struct TensorResult {
  std::string name;
  Type type = Type::F32;
  int64_t n_elements = 0;
  size_t bytes = 0;
  bool quantized = false;  // one of the method's targets (not a kept or float tensor)
  bool has_perm = false;
  double loss = -1;        // GPTQ's loss, −1 when not run through GPTQ
};

struct Report {
  std::vector<TensorResult> tensors;
  double seconds = 0;             // whole run
  double calib_seconds = 0;       // block-by-block calibration + GPTQ
  double forward_seconds = 0, hessian_seconds = 0, gptq_seconds = 0;
  double linear_seconds = 0;      // part of forward_seconds: linear products (gemm from captured inputs)
  double hessian_gflops = 0;      // achieved in the Hessian accumulation
  bool activations_cached = true;
  size_t file_bytes = 0;
  double bpw_quantized = 0;       // bits per weight over the method's target tensors
  double bpw_all = 0;             // over every tensor
};

// The unquantized model as qgml runs it: a GGUF input is loaded as is, any
// other input is converted to a temporary F32 GGUF next to `scratch_dir` that
// is unlinked as soon as it is mapped.
std::unique_ptr<Model> load_float_model(const std::string& input, const std::string& vocab, const std::string& scratch_dir);

// Throughput of the quantizer's linear algebra on the calling thread, for
// benchmarks: the FMA units' peak (independent vector FMAs) and the Hessian
// accumulation Xᵀ·X (upper triangle) for t rows of n columns, in GFLOPS by
// wall clock and by the thread's CPU time (the latter is what a loaded machine
// still lets one measure).
struct LinalgBench {
  const char* kernel;
  double peak_gflops_wall, peak_gflops_cpu;
  double syrk_gflops_wall, syrk_gflops_cpu;
};
LinalgBench bench_linalg(int64_t n, int64_t t, double seconds);

// The checks quantize_model makes before any work (input readable, every
// tensor's plan valid, calibration text given when needed), for callers that
// do work of their own first. Throws qgml::Error.
void check(const Params& p);

// float_model: the input as loaded by load_float_model (reused for calibration
// when given; loaded here when calibration needs it and it is null).
Report quantize_model(const Params& p, const Model* float_model = nullptr);

}  // namespace qgml::quantize
