// Loading a model: map the GGUF file, make a tensor header for every weight
// (data stays in the mapping), then let the architecture read its
// hyperparameters and bind the weights it needs.
#include "qgml/model.h"

#include <cstring>

#include "arch/arch.h"
#include "qgml/error.h"
#include "qgml/quant.h"
#include "qgml/tokenizer.h"

namespace qgml {
namespace {

// An act-order companion ("<weight>.perm", qgml/quant.h) must be I32 and a
// permutation: checked once here, as mul_mat_perm does not read it when a
// graph is built.
void check_permutation(const std::string& path, const gguf::TensorInfo& ti, const void* data) {
  const size_t n = ti.name.size(), m = std::strlen(kPermSuffix);
  if (n < m || ti.name.compare(n - m, m, kPermSuffix) != 0) return;
  if (ti.type != Type::I32 || ti.n_dims != 1)
    fail("%s: act-order permutation %s must be a 1-D I32 tensor, got %d-D %s", path.c_str(), ti.name.c_str(),
         ti.n_dims, type_name(ti.type));
  const int32_t* p = static_cast<const int32_t*>(data);
  const int64_t bad = first_non_permutation_entry(p, ti.ne[0]);
  if (bad >= 0)
    fail("%s: act-order permutation %s is not a permutation of 0..%lld: entry %lld is %d", path.c_str(),
         ti.name.c_str(), static_cast<long long>(ti.ne[0] - 1), static_cast<long long>(bad), p[bad]);
}

}  // namespace

std::unique_ptr<Model> Model::load(const std::string& path, bool use_mmap, int n_gpu_layers) {
  std::unique_ptr<Model> m(new Model());
  m->file_.reset(new gguf::Reader(path, use_mmap));
  const gguf::Reader& f = *m->file_;
  m->hp_.arch = f.get_string("general.architecture");
  m->arch_ = find_architecture(m->hp_.arch);
  if (m->arch_ == nullptr)
    fail("%s: unsupported architecture '%s' (qgml runs: %s)", path.c_str(), m->hp_.arch.c_str(),
         supported_architectures().c_str());

  for (const gguf::TensorInfo& ti : f.tensors()) {
    Tensor* t = m->weights_ctx_.new_tensor(ti.type, ti.n_dims, ti.ne);
    t->data = const_cast<void*>(f.tensor_data(ti));  // read-only: weights are never written
    check_permutation(path, ti, t->data);
    t->set_name(ti.name);
    if (ti.n_dims == 1 && ti.type != Type::F32 && traits(ti.type).to_float != nullptr) {
      // Norm weights and biases are used by F32 element-wise ops.
      Tensor* wide = m->widened_ctx_.new_tensor_1d(Type::F32, ti.ne[0]);
      traits(ti.type).to_float(t->data, static_cast<float*>(wide->data), ti.ne[0]);
      wide->set_name(ti.name);
      t = wide;
    }
    m->weights_[ti.name] = t;
    m->weight_bytes_ += ti.nbytes;
  }
  if (f.find("tokenizer.ggml.model") != nullptr) m->tokenizer_ = Tokenizer::from_gguf(f);
  m->arch_->load(*m);
  if (m->tokenizer_ && m->hp_.n_vocab != m->tokenizer_->n_vocab())
    fail("%s: the vocabulary has %d tokens but the embedding has %lld rows", path.c_str(), m->tokenizer_->n_vocab(),
         static_cast<long long>(m->hp_.n_vocab));
  m->offload(n_gpu_layers);
  return m;
}

const Tokenizer& Model::tokenizer() const {
  if (!tokenizer_) fail("%s: the file has no tokenizer (tokenizer.ggml.* metadata)", file_->path().c_str());
  return *tokenizer_;
}

Tensor* Model::weight_or_null(const std::string& name) const {
  auto it = weights_.find(name);
  return it == weights_.end() ? nullptr : it->second;
}

Tensor* Model::weight(const std::string& name) const {
  Tensor* t = weight_or_null(name);
  if (t == nullptr) fail("%s: missing tensor %s", file_->path().c_str(), name.c_str());
  return t;
}

Tensor* Model::weight(const std::string& name, std::initializer_list<int64_t> shape) const {
  Tensor* t = weight(name);
  int i = 0;
  bool ok = static_cast<int>(shape.size()) >= t->n_dims();
  for (int64_t d : shape) ok = ok && t->ne[i++] == d;
  if (!ok) {
    std::string want;
    for (int64_t d : shape) want += (want.empty() ? "" : " ") + std::to_string(d);
    fail("%s: tensor %s has shape %s, expected [%s]", file_->path().c_str(), name.c_str(), [&] {
      std::string s = "[";
      for (int d = 0; d < t->n_dims(); ++d) s += (d ? " " : "") + std::to_string(t->ne[d]);
      return s + "]";
    }().c_str(), want.c_str());
  }
  return t;
}

}  // namespace qgml
