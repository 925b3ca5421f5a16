// qgml/convert.h — importing unquantized checkpoints into GGUF.
//
// A checkpoint is first opened as a SourceModel: its GGUF metadata (llama.cpp
// key names: general.*, llama.*, tokenizer.ggml.*) and its tensors, already
// renamed to llama.cpp's names (token_embd.weight, blk.N.attn_q.weight, ...)
// and described in ggml dimension order (ne[0] is the contiguous row length).
// Tensor data is produced on demand, one tensor at a time, as float32 in GGUF
// layout (q/k permutation applied where llama.cpp applies it), so a writer —
// or a quantizer that wants float weights — never holds more than one tensor.
//
// Supported inputs:
//  * llama2.c "v0" checkpoints (.bin) with a llama2.c tokenizer.bin;
//  * Hugging Face directories (config.json + model.safetensors or sharded
//    model-*.safetensors with model.safetensors.index.json) of LlamaForCausalLM,
//    MistralForCausalLM, Qwen2ForCausalLM, OPTForCausalLM, FalconForCausalLM,
//    GPT2LMHeadModel or GPTNeoXForCausalLM (convert/src/hf_family.h), F32/F16/
//    BF16 weights, with tokenizer.json (byte-level BPE or SentencePiece-style
//    BPE), tokenizer.model (SentencePiece protobuf) or GPT-2's vocab.json +
//    merges.txt. Llama/Mistral/Qwen2 checkpoints quantized with GPTQ, AWQ or
//    bitsandbytes 4-bit keep their quantized linears as exact qgml types.
// Every problem with the input is a qgml::Error naming the file and the problem.
#pragma once
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "qgml/gguf.h"
#include "qgml/types.h"

namespace qgml::convert {

struct SourceTensor {
  std::string name;  // llama.cpp's GGUF name
  int n_dims = 0;
  int64_t ne[4] = {1, 1, 1, 1};
  // Fills dst (count·ne[0] floats) with rows [first, first + count) of the
  // tensor in GGUF layout; a row is ne[0] contiguous elements. Reading a large
  // tensor in row ranges keeps memory at one range, not one tensor.
  std::function<void(int64_t first, int64_t count, float* dst)> read_rows;
  // Imported quantized weights (GPTQ, AWQ, bitsandbytes checkpoints) are
  // written as stored_type, whatever the output type, from read_stored (rows
  // [first, first + count), row_size(stored_type, ne[0]) bytes each), with
  // the act-order permutation `perm` (qgml/quant.h) as "<name>.perm" when it
  // is not empty; read_rows still gives their dequantized values, in the
  // original column order. Null read_stored: an ordinary float tensor.
  Type stored_type = Type::F32;
  std::function<void(int64_t first, int64_t count, uint8_t* dst)> read_stored;
  std::vector<int32_t> perm;

  int64_t n_elements() const { return ne[0] * ne[1] * ne[2] * ne[3]; }
  int64_t n_rows() const { return ne[1] * ne[2] * ne[3]; }
  void read(float* dst) const { read_rows(0, n_rows(), dst); }  // the whole tensor
};

class SourceModel {
 public:
  std::string path;                     // what was opened
  std::vector<gguf::KeyValue> metadata; // in the order they will be written
  std::vector<SourceTensor> tensors;    // in the order they will be written

  const gguf::Value* find(const std::string& key) const;  // nullptr when absent
  const SourceTensor* find_tensor(const std::string& name) const;
  void set(const std::string& key, gguf::Value v);  // replaces or appends
};

// Opens a llama2.c checkpoint and its tokenizer.bin.
std::unique_ptr<SourceModel> open_llama2c(const std::string& bin, const std::string& tokenizer_bin);
// Opens a Hugging Face model directory. A non-empty `vocab` (a SentencePiece
// tokenizer.model or a llama2.c tokenizer.bin) replaces the directory's own
// tokenizer files, for checkpoints that ship without one.
std::unique_ptr<SourceModel> open_hf(const std::string& dir, const std::string& vocab = "");
// A directory is opened as Hugging Face, a file as llama2.c (which needs `vocab`).
std::unique_ptr<SourceModel> open_source(const std::string& path, const std::string& vocab = "");

// The type a tensor is stored as when `outtype` (F32, F16 or BF16) is asked
// for: like llama.cpp, 1-D tensors and norm weights stay F32.
Type tensor_out_type(const SourceTensor& t, Type outtype);

// Writes the model as GGUF (atomically), converting one tensor at a time.
// Sets general.file_type and general.quantization_version.
void write_gguf(const SourceModel& m, const std::string& out, Type outtype);

// The way back (qgml dequantize): writes a Llama/Qwen2 GGUF as a Hugging
// Face directory out_dir (config.json and model.safetensors, F32 or BF16,
// HF tensor names, every tensor dequantized, act-order and q/k re-layouts
// undone; tokenizer.json + tokenizer_config.json for byte-level BPE
// vocabularies with a known pre-tokenizer). out_dir must not exist or be
// empty; it appears complete or not at all. Returns notes for the user (what
// was not exported).
std::vector<std::string> write_hf(const std::string& gguf, const std::string& out_dir, Type dtype);

// Convenience wrappers: open + write_gguf.
void convert_llama2c(const std::string& bin, const std::string& tokenizer_bin, const std::string& out, Type outtype);
void convert_hf(const std::string& dir, const std::string& out, Type outtype, const std::string& vocab = "");

}  // namespace qgml::convert
