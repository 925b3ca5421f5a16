// Importing already-quantized Hugging Face checkpoints (GPTQ, AWQ,
// bitsandbytes NF4/FP4) without requantizing: the integers and scales the
// checkpoint stores are laid out as qgml block types whose dequantized values
// equal the checkpoint's own dequantization bit for bit (value = f32(scale) ·
// (q − zero), or absmax · code for bitsandbytes, computed in f32 as the
// libraries do). Where no qgml block type can hold a tensor exactly (a group
// size that is not a multiple of 32, asymmetric 8-bit, an irregular g_idx...)
// it is stored as F32, which is exact too, and the reason is recorded.
//
// The HF loader (hf_model.cpp) calls read_config(); when it finds a
// quantization, import_linears() claims the quantized linears and their
// companion tensors (qweight, qzeros, scales, g_idx / absmax, quant_map, ...)
// from the tensor map, leaving only ordinary tensors for the usual path.
#pragma once
#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "hf_family.h"
#include "json.h"
#include "qgml/types.h"

namespace qgml::convert::quant {

enum class Method { None, Gptq, Awq, Bnb4 };

struct Config {
  Method method = Method::None;
  std::string source;  // the file the settings came from, for errors
  int bits = 0;
  int64_t group = 0;        // input columns per scale; -1: the whole row
  bool sym = false;
  bool desc_act = false;
  bool zeros_minus_one = false;  // GPTQ checkpoint_format "gptq" (v1) stores zero − 1
};

// The checkpoint's quantization from config.json's quantization_config or,
// failing that, quantize_config.json; Method::None when there is neither.
// Unsupported settings (bits 5, an unknown checkpoint_format, AWQ GEMV...)
// are errors naming the file.
Config read_config(const std::string& dir, const json::Value& cfg);

// Every tensor of a quantized checkpoint: as hf::find_tensors, plus AutoGPTQ's
// single-file names (quantize_config.json's model_file_base_name, or
// gptq_model-<bits>bit-<group>g.safetensors).
std::map<std::string, hf::Location> find_tensors(const std::string& dir, const Config& c);

// One imported linear. Rows are the checkpoint's output rows, in its order.
struct Linear {
  std::string file;          // checkpoint file, for errors
  int64_t n_out = 0, n_in = 0;
  Type type = Type::F32;     // qgml storage type
  std::vector<int32_t> perm; // act-order (qgml/quant.h): empty when the columns stay in order
  std::string note;          // why F32 was chosen, when it was
  // cnt rows from r0 in `type`, columns in perm order: cnt · row_size(type, n_in) bytes.
  std::function<void(int64_t r0, int64_t cnt, uint8_t* dst)> pack_rows;
  // The same rows dequantized, in the checkpoint's column order: cnt · n_in floats.
  std::function<void(int64_t r0, int64_t cnt, float* dst)> float_rows;
};

// Claims the quantized linears: removes their tensors from `tensors` and
// returns them keyed by the HF weight name they replace ("<prefix>.weight").
// Validates dtypes, shapes and value ranges of every companion tensor first.
std::map<std::string, Linear> import_linears(const Config& c, std::map<std::string, hf::Location>& tensors);

// Per-method halves of import_linears (import_gptq.cpp, import_bnb.cpp).
std::map<std::string, Linear> import_gptq(const Config& c, std::map<std::string, hf::Location>& tensors);
std::map<std::string, Linear> import_bnb(const Config& c, std::map<std::string, hf::Location>& tensors);

}  // namespace qgml::convert::quant
