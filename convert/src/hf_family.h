// Table-driven import of the Hugging Face families beyond Llama/Qwen2 (OPT,
// Falcon, GPT-2, GPT-NeoX). Each family has one file (hf_<family>.cpp) that
// reads config.json into llama.cpp's {arch}.* keys and lists, in write order,
// which HF tensor becomes which GGUF tensor, with its expected shape and any
// re-layout; the engine in hf_family.cpp checks every tensor against that
// list before anything is written, and refuses tensors nobody claimed.
#pragma once
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "json.h"
#include "qgml/convert.h"
#include "safetensors.h"

namespace qgml::convert::hf {

// Where one HF tensor lives (sharded checkpoints: one of several files).
struct Location {
  std::shared_ptr<safetensors::File> file;
  const safetensors::TensorView* view;
};
// Every tensor of a model directory, from model.safetensors or the shard index.
std::map<std::string, Location> find_tensors(const std::string& dir);

// How the GGUF tensor's rows come from the HF tensor.
enum class Layout {
  Plain,
  // GPT-2's Conv1D stores [in, out]; GGUF wants [out][in] rows.
  Transposed,
  // A fused query_key_value whose rows come in n_group groups of
  // (q_per_group query heads, one key head, one value head), head_dim rows
  // each, reordered to all queries, then all keys, then all values (llama.cpp's
  // attn_qkv). Falcon-7B's multi-query layout is one group; GPT-NeoX's and
  // Falcon-RW's per-head [q, k, v] is n_head groups of one query head.
  QkvGroups,
  // The first `skip` rows dropped (OPT's position table starts at row 2).
  SkipRows,
};

struct TensorRule {
  std::string gguf;
  std::string hf;
  std::vector<int64_t> shape;  // expected HF shape (PyTorch order)
  bool required = true;
  Layout layout = Layout::Plain;
  int64_t n_group = 0, q_per_group = 0, head_dim = 0;  // QkvGroups
  int64_t skip = 0;                                    // SkipRows
};

// config.json accessors that name the file and key in their errors.
class Config {
 public:
  Config(const json::Value& v, std::string path) : v_(v), path_(std::move(path)) {}
  const json::Value& json() const { return v_; }
  const std::string& path() const { return path_; }
  bool has(const char* key) const;  // present and not null
  // A positive integer; the first key present wins; def < 0 means required.
  int64_t integer(std::initializer_list<const char*> keys, int64_t def = -1) const;
  double number(const char* key, double def) const;  // finite, float32 range
  bool boolean(const char* key, bool def) const;
  std::string string(const char* key, const std::string& def) const;
  // Fails "config.json: <what>" for a setting the importer does not support.
  [[noreturn]] void unsupported(const std::string& what) const;

 private:
  const json::Value& v_;
  std::string path_;
};

// What a family's plan() produces besides the metadata it sets directly.
struct Plan {
  std::vector<TensorRule> tensors;  // in write order
  int64_t n_vocab = 0;              // pads the tokenizer
  // HF tensors that hold no weights (causal-mask buffers, cached rotary
  // frequencies), matched as name suffixes.
  std::vector<std::string> ignored_suffixes;
};

struct Family {
  const char* hf_class;    // config.json architectures[0]
  const char* model_type;  // config.json model_type (when architectures is absent)
  // Sets {arch}.* metadata in m and fills plan; `tensors` tells the prefix the
  // checkpoint was saved with (GPT2Model vs GPT2LMHeadModel, say).
  void (*plan)(const Config& cfg, const std::map<std::string, Location>& tensors, SourceModel& m, Plan& plan);
};

// Convenience for plans: a rule for "<hf>.weight" → "<gguf>.weight" (and the
// bias when `bias` says so; `bias_required` false makes it optional).
void add_linear(Plan& p, const std::string& gguf, const std::string& hf, int64_t n_out, int64_t n_in, bool bias,
                bool bias_required = true);
void add_norm(Plan& p, const std::string& gguf, const std::string& hf, int64_t n, bool required = true);

// nullptr when the config is not one of these families.
const Family* find_family(const json::Value& cfg);
// The converter of a directory whose config.json names one of these families;
// nullptr when it names another (the caller handles Llama/Qwen2).
std::unique_ptr<SourceModel> open_family(const std::string& dir, const json::Value& cfg, const std::string& vocab);

}  // namespace qgml::convert::hf
