// qgml/tensor.h — typed tensors of up to 4 dimensions, and the Context that owns them.
//
// Layout follows ggml: ne[0] is the innermost (contiguous) dimension, nb[i] is
// the byte stride of dimension i, and nb[0] is the size of one element (for
// block types, the block size in bytes covers block_size elements of ne[0]).
// A view shares the data of another tensor at a byte offset with its own
// shape and strides. Tensor data lives in a Context arena, in a file mapping
// (weights), or in a Graph's scratch buffer (intermediate results).
#pragma once
#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <vector>

#include "qgml/types.h"

namespace qgml {

constexpr int kMaxDims = 4;

enum class Op : uint8_t {
  None,  // a leaf: input or weight
  GetRows,
  Add,
  Mul,
  Scale,
  RmsNorm,
  LayerNorm,
  MulMat,
  Rope,
  SoftMax,
  Silu,
  Gelu,
  Relu,
  SwiGlu,
  Cpy,     // copy src[0] into src[1]'s memory (type conversion allowed); result views src[1]
  Cont,    // contiguous copy of a (possibly strided) tensor
  View,    // view, reshape, permute and transpose all produce Op::View nodes
  Concat,
  Attend,  // scores, softmax and weighted values of attention in one op (see ops.h attend)
  Count
};
const char* op_name(Op op);

struct Tensor {
  Type type = Type::F32;
  int64_t ne[kMaxDims] = {1, 1, 1, 1};
  size_t nb[kMaxDims] = {0, 0, 0, 0};
  void* data = nullptr;

  Op op = Op::None;
  Tensor* src[3] = {nullptr, nullptr, nullptr};
  int32_t params[16] = {};  // op parameters; floats are stored with set_param_f32

  Tensor* view_src = nullptr;  // for views: the tensor whose memory this one shares
  size_t view_offset = 0;      // byte offset into view_src's data

  char name[64] = {};

  int64_t nelements() const { return ne[0] * ne[1] * ne[2] * ne[3]; }
  int64_t nrows() const { return ne[1] * ne[2] * ne[3]; }
  // Bytes spanned from the first to one past the last element.
  size_t nbytes() const;
  size_t row_bytes() const { return row_size(type, ne[0]); }
  bool is_contiguous() const;
  // Rows are contiguous (nb[0] is the element size) even if rows are strided.
  bool rows_contiguous() const;
  int n_dims() const;

  void set_name(const std::string& n);
  float param_f32(int i) const;
  void set_param_f32(int i, float v);

  // Address of element row (i1, i2, i3).
  char* row(int64_t i1, int64_t i2 = 0, int64_t i3 = 0) const {
    return static_cast<char*>(data) + i1 * nb[1] + i2 * nb[2] + i3 * nb[3];
  }
};

// Sets ne and the contiguous strides nb for `type` (rows padded to whole blocks).
void set_shape(Tensor* t, Type type, int n_dims, const int64_t* ne);
bool same_shape(const Tensor* a, const Tensor* b);

// Owns tensor headers (stable addresses) and, unless created with
// allocate_data = false, the data of the leaf tensors made through it.
// Op results never get data here: a Graph plans and owns their memory.
class Context {
 public:
  explicit Context(bool allocate_data = true);
  ~Context();
  Context(const Context&) = delete;
  Context& operator=(const Context&) = delete;

  // A leaf tensor. Its data is zero-initialised arena memory (64-byte
  // aligned), or nullptr in a no-allocation context.
  Tensor* new_tensor(Type type, int n_dims, const int64_t* ne);
  Tensor* new_tensor_1d(Type type, int64_t ne0);
  Tensor* new_tensor_2d(Type type, int64_t ne0, int64_t ne1);
  Tensor* new_tensor_3d(Type type, int64_t ne0, int64_t ne1, int64_t ne2);
  Tensor* new_tensor_4d(Type type, int64_t ne0, int64_t ne1, int64_t ne2, int64_t ne3);

  // A result node without data (used by the op builders in qgml/ops.h).
  Tensor* new_node(Type type, int n_dims, const int64_t* ne);

  bool allocates_data() const { return allocate_data_; }
  size_t arena_bytes() const { return arena_used_; }
  // Drops every tensor and all arena memory.
  void reset();

 private:
  void* alloc(size_t bytes);

  bool allocate_data_;
  std::deque<Tensor> tensors_;
  std::vector<std::unique_ptr<char[]>> chunks_;
  size_t chunk_used_ = 0, chunk_size_ = 0, arena_used_ = 0;
};

}  // namespace qgml
