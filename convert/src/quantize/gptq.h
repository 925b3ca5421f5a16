// GPTQ (Frantar et al. 2022, "GPTQ: Accurate Post-Training Quantization for
// Generative Pre-trained Transformers") for one linear layer, on qgml's
// uniform grids (gptq types) and on the NF4 codebook, plus round-to-nearest
// with the same grids as the baseline.
//
// Weights are [rows × cols] row-major: a row is one output, cols the inputs
// (GGUF layout, ne[0] = cols). H is the cols × cols Hessian 2·X·Xᵀ of the
// layer's inputs.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "qgml/types.h"

namespace qgml {
class ThreadPool;
}

namespace qgml::quantize {

enum class Grid {
  Uniform,  // d·(q − z), q in [0, 2^bits), the gptq block types
  NF4,      // absmax·NF4[code] per 64 columns, the nf4 block type
  // llama.cpp's own 4-bit grids, blocks of 32 contiguous columns in the
  // ORIGINAL column order (llama.cpp has no permutation), so the file runs in
  // stock llama.cpp. Scales are chosen as llama.cpp's quantizer chooses them.
  Q4_0,     // d·(q − 8), d = (value of largest magnitude)/−8
  Q4_1,     // d·q + m, d = (max − min)/15, m = min
};

struct LayerSpec {
  Grid grid = Grid::Uniform;
  int bits = 4;          // uniform: 2, 3, 4
  bool sym = false;      // uniform: zero point fixed at 2^(bits−1)
  int group = 128;       // uniform: 32, 64, 128, or −1 for one scale per row; NF4: always 64; Q4_0/Q4_1: always 32
  bool act_order = true; // quantize columns by decreasing Hessian diagonal
  bool static_groups = false;  // group parameters from the unquantized weights, before any update
  double damp = 0.01;    // λ = damp · mean(diag H)
  int block = 128;       // columns per lazy batch update
};

// Throws qgml::Error when the spec is not one qgml can store.
void validate(const LayerSpec& spec);
// The block type the layer is stored as (group −1: the 128-column type,
// every block repeating the row's scale and zero).
Type storage_type(const LayerSpec& spec);
// Columns per stored block of parameters.
int storage_group(const LayerSpec& spec);

struct QuantizedLayer {
  int64_t rows = 0, cols = 0;
  Type type = Type::F32;
  int group = 0;               // columns per stored group
  std::vector<uint8_t> q;      // rows × cols codes, in storage column order
  std::vector<float> scale;    // rows × n_groups(): d (uniform) or absmax (NF4), already f16 values
  std::vector<uint8_t> zero;   // rows × n_groups(), uniform only
  std::vector<float> min;      // rows × n_groups(), Q4_1 only: m, an f16 value
  std::vector<int32_t> perm;   // storage column j holds original column perm[j]; empty: original order
  double loss = 0;             // GPTQ's Σ (w − ŵ)² / (2·[H⁻¹]_jj²); RTN: 0
  double damp = 0;             // the damping fraction finally used
  int64_t dead = 0;            // input columns never active in calibration (diag H = 0)
  std::string note;            // what had to be adjusted (damping raised), empty when nothing

  int64_t n_groups() const { return (cols + group - 1) / group; }
  // rows × row_size(type, cols) bytes of blocks, as the file stores them.
  std::vector<uint8_t> pack() const;
  // The values the blocks decode to, rows × cols in ORIGINAL column order
  // (what W·x computes with the stored tensor and its permutation).
  void dequantize(float* W) const;
};

// H: cols × cols, symmetric (both triangles). pool may be null (one thread).
QuantizedLayer gptq(const float* W, int64_t rows, int64_t cols, const float* H, const LayerSpec& spec, ThreadPool* pool);
// Round to nearest on the same grid, columns in original order (act_order
// and damping are irrelevant). On the Q4_0/Q4_1 grids this rounds against the
// f16-rounded scale, as GPTQ does; llama.cpp's own RTN (which rounds against
// the unrounded scale) is the types' from_float.
QuantizedLayer rtn(const float* W, int64_t rows, int64_t cols, const LayerSpec& spec);

// The 16 NF4 code values, decoded from the nf4 block format itself.
const float* nf4_codebook();

}  // namespace qgml::quantize
