// Running a model block by block over calibration windows, with qgml's own
// forward pass (Architecture::build_block), to give each linear layer the
// Hessian of its inputs, true-sequentially: inside a block the linears are
// quantized group by group in forward order (a group = the linears that read
// the same input: q/k/v, then o, then gate/up, then down for Llama), and each
// group's inputs are computed with the earlier groups already quantized. The
// next block is fed the outputs of the quantized block. Only one block's
// activations are alive at a time.
//
// How a block runs in stages: a LinearHook (models/src/arch/arch.h) sees each
// linear while the graph is built. Stage s captures the input of group s
// (added as a graph output) and answers every later linear with a zero
// placeholder, so the graph stops there; earlier groups are answered with
// their quantized weights. Their products are computed by linalg::gemm from
// the inputs captured in their own stage (kept while the block runs, within a
// memory budget) and enter the graph as ready-made leaves — the graph then
// only computes the glue (norms, rope, attention, activations, residuals) and
// never recomputes what an earlier stage already did. Beyond the budget the
// products go through the graph's mul_mat instead (same values, slower).
#pragma once
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "qgml/model.h"

namespace qgml {
class ThreadPool;
}

namespace qgml::quantize {

struct LinearInfo {
  int layer;
  std::string name;    // GGUF weight name
  const Tensor* weight;
  int64_t rows, cols;  // outputs, inputs
};

// Called once per linear when its group's Hessian is complete. H: cols × cols
// (full symmetric) = 2/N · Σ x·xᵀ over the N windows (GPTQ's running average).
// Returns the weights to run the rest of the calibration with (rows × cols,
// original column order): the dequantized quantized weights.
using QuantizeLinearFn = std::function<std::vector<float>(const LinearInfo& l, const float* H)>;

struct CalibrationStats {
  double hessian_seconds = 0;  // accumulating X·Xᵀ
  double hessian_flops = 0;    // useful flops of the accumulation (upper triangle: t·n·(n+1))
  double forward_seconds = 0;  // graph glue + linear products
  double linear_seconds = 0;   // of which: the linear products from cached inputs (linalg::gemm)
  double quantize_seconds = 0; // inside the callback
  bool cached = true;          // linear products from captured inputs (false: over the memory budget)
};

struct CalibrateOptions {
  // Captured linear inputs (and products) kept per block: 1 GiB keeps every
  // product of a small model cached and a 1.1B model's calibration under
  // 4 GB peak (its full set of products would be ~3.9 GB on top of the weights).
  size_t cache_budget_bytes = size_t{1} << 30;
  // Progress: block, number of blocks, what is happening.
  std::function<void(int block, int n_blocks, const std::string& what)> on_progress;
};

// windows: token windows (all of the same length). Throws qgml::Error when the
// architecture cannot run single blocks.
CalibrationStats calibrate(const Model& model, const std::vector<std::vector<int32_t>>& windows, ThreadPool& pool,
                           const QuantizeLinearFn& quantize, const CalibrateOptions& opt);

}  // namespace qgml::quantize
