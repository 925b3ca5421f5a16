// A model's weights and the GPU (qgml/gpu.h): with n_gpu_layers the weights
// of the last n layers (llama.cpp's order: the layers nearest the output
// first; n > n_layer also takes the output and other non-layer matrices) are
// uploaded once and stay resident; every other matrix is registered as
// immutable, so a prompt's products may cache it on the device. The weights
// are released before the mapping they point into goes away.
#include <cstdio>
#include <cstdlib>
#include <string>

#include "qgml/gpu.h"
#include "qgml/model.h"
#include "qgml/tokenizer.h"

namespace qgml {
namespace {

// The layer of a weight named "blk.N.…", or -1.
int64_t layer_of(const char* name) {
  if (std::string(name).rfind("blk.", 0) != 0) return -1;
  char* end = nullptr;
  const long long il = std::strtoll(name + 4, &end, 10);
  return end != name + 4 && *end == '.' ? il : -1;
}

}  // namespace

Model::~Model() {
  for (const Tensor* t : gpu_weights_) gpu::unregister_weight(t);
}

void Model::offload(int n_gpu_layers) {
  const std::string& path = file_->path();
  if (n_gpu_layers < 0) n_gpu_layers = 0;
  if (n_gpu_layers > 0 && !gpu::available()) {
    std::fprintf(stderr, "qgml: %s: -ngl %d ignored: %s; running on the CPU\n", path.c_str(), n_gpu_layers,
                 gpu::description().c_str());
    return;
  }
  if (!gpu::compiled()) return;
  const int64_t first = hp_.n_layer - n_gpu_layers;  // first resident layer
  const bool others = n_gpu_layers > hp_.n_layer;
  // Per layer: weights placed on the device, and weights that should have been but were not.
  const size_t n_layer = static_cast<size_t>(hp_.n_layer > 0 ? hp_.n_layer : 0);
  std::vector<int> placed(n_layer, 0), missing(n_layer, 0);
  bool others_ok = true;
  for (const auto& [name, t] : weights_) {
    if (t->n_dims() != 2) continue;
    const int64_t il = layer_of(t->name);
    const bool resident = n_gpu_layers > 0 && (il >= 0 ? il >= first : others);
    const bool ok = gpu::register_weight(t, resident);
    if (!ok && !resident) continue;  // a type the device kernels do not decode: stays on the CPU
    gpu_weights_.push_back(t);
    if (!resident) continue;
    if (il >= 0 && il < static_cast<int64_t>(n_layer)) ++(ok ? placed : missing)[static_cast<size_t>(il)];
    if (il < 0 && !ok) others_ok = false;
  }
  if (n_gpu_layers == 0) return;
  int on_gpu = 0;
  // A layer counts when all its matrices are there (types the kernels do not
  // decode, e.g. F32, leave a layer on the CPU).
  for (size_t il = 0; il < n_layer; ++il) on_gpu += placed[il] > 0 && missing[il] == 0;
  n_gpu_layers_ = on_gpu;
  std::fprintf(stderr, "qgml: %s: %d of %lld layers%s on the GPU (%s), %.1f MiB of weights resident\n", path.c_str(),
               on_gpu, static_cast<long long>(hp_.n_layer), others && others_ok ? " and the output" : "",
               gpu::description().c_str(), static_cast<double>(gpu::device_bytes()) / (1 << 20));
}

}  // namespace qgml
