#include "qgml/tensor.h"

#include <cstring>

#include "qgml/error.h"

namespace qgml {

const char* op_name(Op op) {
  static const char* const kNames[] = {
      "none", "get_rows", "add", "mul", "scale", "rms_norm", "layer_norm", "mul_mat", "rope", "soft_max",
      "silu", "gelu", "relu", "swiglu", "cpy", "cont", "view", "concat", "attend",
  };
  static_assert(sizeof(kNames) / sizeof(kNames[0]) == static_cast<size_t>(Op::Count), "one name per op");
  const size_t i = static_cast<size_t>(op);
  return i < static_cast<size_t>(Op::Count) ? kNames[i] : "?";
}

size_t Tensor::nbytes() const {
  if (nelements() == 0) return 0;
  // The first row's span plus the furthest row start, which handles any
  // strides. A row whose elements are strided (a transposed view) spans
  // (ne0 − 1)·nb0 + one element, not ne0 elements.
  size_t bytes = traits(type).block_size == 1 ? static_cast<size_t>(ne[0] - 1) * nb[0] + traits(type).type_size
                                              : row_size(type, ne[0]);
  for (int i = 1; i < kMaxDims; ++i) bytes += static_cast<size_t>(ne[i] - 1) * nb[i];
  return bytes;
}

bool Tensor::rows_contiguous() const { return nb[0] == traits(type).type_size; }

bool Tensor::is_contiguous() const {
  if (!rows_contiguous()) return false;
  size_t expect = row_size(type, ne[0]);
  for (int i = 1; i < kMaxDims; ++i) {
    if (ne[i] != 1 && nb[i] != expect) return false;
    expect *= static_cast<size_t>(ne[i]);
  }
  return true;
}

int Tensor::n_dims() const {
  for (int i = kMaxDims - 1; i >= 1; --i)
    if (ne[i] > 1) return i + 1;
  return 1;
}

void Tensor::set_name(const std::string& n) {
  const size_t len = n.size() < sizeof(name) - 1 ? n.size() : sizeof(name) - 1;
  std::memcpy(name, n.data(), len);
  name[len] = '\0';
}

float Tensor::param_f32(int i) const {
  float f;
  std::memcpy(&f, &params[i], sizeof f);
  return f;
}

void Tensor::set_param_f32(int i, float v) { std::memcpy(&params[i], &v, sizeof v); }

void set_shape(Tensor* t, Type type, int n_dims, const int64_t* ne) {
  if (n_dims < 1 || n_dims > kMaxDims) fail("tensor must have 1 to %d dimensions, got %d", kMaxDims, n_dims);
  t->type = type;
  for (int i = 0; i < kMaxDims; ++i) {
    t->ne[i] = i < n_dims ? ne[i] : 1;
    if (t->ne[i] < 0) fail("negative tensor dimension %lld", static_cast<long long>(t->ne[i]));
  }
  t->nb[0] = traits(type).type_size;
  t->nb[1] = row_size(type, t->ne[0]);
  for (int i = 2; i < kMaxDims; ++i) t->nb[i] = t->nb[i - 1] * static_cast<size_t>(t->ne[i - 1]);
}

bool same_shape(const Tensor* a, const Tensor* b) {
  for (int i = 0; i < kMaxDims; ++i)
    if (a->ne[i] != b->ne[i]) return false;
  return true;
}

Context::Context(bool allocate_data) : allocate_data_(allocate_data) {}
Context::~Context() = default;

void* Context::alloc(size_t bytes) {
  constexpr size_t kAlign = 64;
  bytes = (bytes + kAlign - 1) & ~(kAlign - 1);
  if (chunks_.empty() || chunk_used_ + bytes > chunk_size_) {
    const size_t size = bytes > (size_t{1} << 20) ? bytes : (size_t{1} << 20);
    chunks_.emplace_back(new char[size + kAlign]());
    chunk_size_ = size;
    // Start the chunk at an aligned address inside the allocation.
    const uintptr_t base = reinterpret_cast<uintptr_t>(chunks_.back().get());
    chunk_used_ = ((base + kAlign - 1) & ~(kAlign - 1)) - base;
    chunk_size_ += chunk_used_;
  }
  void* p = chunks_.back().get() + chunk_used_;
  chunk_used_ += bytes;
  arena_used_ += bytes;
  return p;
}

Tensor* Context::new_node(Type type, int n_dims, const int64_t* ne) {
  tensors_.emplace_back();
  Tensor* t = &tensors_.back();
  set_shape(t, type, n_dims, ne);
  return t;
}

Tensor* Context::new_tensor(Type type, int n_dims, const int64_t* ne) {
  Tensor* t = new_node(type, n_dims, ne);
  if (allocate_data_) t->data = alloc(t->nbytes());
  return t;
}

Tensor* Context::new_tensor_1d(Type type, int64_t ne0) { return new_tensor(type, 1, &ne0); }
Tensor* Context::new_tensor_2d(Type type, int64_t ne0, int64_t ne1) {
  const int64_t ne[] = {ne0, ne1};
  return new_tensor(type, 2, ne);
}
Tensor* Context::new_tensor_3d(Type type, int64_t ne0, int64_t ne1, int64_t ne2) {
  const int64_t ne[] = {ne0, ne1, ne2};
  return new_tensor(type, 3, ne);
}
Tensor* Context::new_tensor_4d(Type type, int64_t ne0, int64_t ne1, int64_t ne2, int64_t ne3) {
  const int64_t ne[] = {ne0, ne1, ne2, ne3};
  return new_tensor(type, 4, ne);
}

void Context::reset() {
  tensors_.clear();
  chunks_.clear();
  chunk_used_ = chunk_size_ = arena_used_ = 0;
}

}  // namespace qgml
