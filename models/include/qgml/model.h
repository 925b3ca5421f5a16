// qgml/model.h — a language model loaded from a GGUF file.
//
// The weights stay in the read-only file mapping (no copy), except small 1-D
// tensors stored in half precision, which are widened to F32 once. The
// architecture is chosen from general.architecture through the table in
// models/src/arch/registry.cpp; each family lives in its own file there.
#pragma once
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "qgml/gguf.h"
#include "qgml/ops.h"
#include "qgml/tensor.h"

namespace qgml {

class Tokenizer;
struct Architecture;

struct HParams {
  std::string arch;          // general.architecture
  int64_t n_vocab = 0;
  int64_t n_ctx_train = 0;
  int64_t n_embd = 0;
  int64_t n_ff = 0;
  int64_t n_layer = 0;
  int64_t n_head = 0;
  int64_t n_head_kv = 0;
  int64_t head_dim = 0;       // n_embd / n_head unless the file says otherwise
  float norm_eps = 1e-5f;
  RopeParams rope;            // n_rot, mode, freq_base, freq_scale
  std::vector<float> rope_freq_factors;  // llama3-style scaling; empty when none
};

class Model {
 public:
  // Loads `path`; throws qgml::Error naming the file and what is wrong.
  // use_mmap false reads the file into memory instead of mapping it.
  // n_gpu_layers (llama.cpp's -ngl): the last n layers' weights (all of them
  // and the output when n exceeds the layer count) are uploaded to the GPU and
  // stay there; without a GPU or a CUDA build a message says so and the model
  // runs on the CPU. See qgml/gpu.h.
  static std::unique_ptr<Model> load(const std::string& path, bool use_mmap = true, int n_gpu_layers = 0);
  ~Model();

  const HParams& hparams() const { return hp_; }
  const Architecture& arch() const { return *arch_; }
  const gguf::Reader& file() const { return *file_; }
  // The tokenizer from the file's tokenizer.ggml.* metadata; throws when the
  // file has none (weights-only files still run from token ids, e.g. in bench).
  const Tokenizer& tokenizer() const;
  bool has_tokenizer() const { return tokenizer_ != nullptr; }
  // Bytes of weight data (what one generated token streams from memory).
  size_t weight_bytes() const { return weight_bytes_; }
  // Layers whose weights are resident on the GPU (0 without one).
  int n_gpu_layers() const { return n_gpu_layers_; }

  // The weight named `name`; throws "FILE: missing tensor NAME" when absent.
  Tensor* weight(const std::string& name) const;
  // The weight, or nullptr when the file has none (optional tensors: biases, output).
  Tensor* weight_or_null(const std::string& name) const;
  // Checks that the weight has the given shape (ne0 first); throws naming the tensor.
  Tensor* weight(const std::string& name, std::initializer_list<int64_t> shape) const;

  HParams& mutable_hparams() { return hp_; }  // for the architecture's load step
  // Architecture-private state (bound weight pointers), set by its load step.
  std::shared_ptr<void> arch_state;

 private:
  Model() = default;
  // Registers the weights with qgml/gpu.h (model_gpu.cpp); ~Model releases them.
  void offload(int n_gpu_layers);
  HParams hp_;
  const Architecture* arch_ = nullptr;
  std::unique_ptr<gguf::Reader> file_;
  std::unique_ptr<Tokenizer> tokenizer_;
  Context weights_ctx_{false};   // tensor headers pointing into the mapping
  Context widened_ctx_{true};    // F32 copies of half-precision 1-D tensors
  std::map<std::string, Tensor*> weights_;
  size_t weight_bytes_ = 0;
  int n_gpu_layers_ = 0;
  std::vector<const Tensor*> gpu_weights_;  // registered with qgml/gpu.h
};

}  // namespace qgml
