// Reading .safetensors files: an 8-byte little-endian header length, a JSON
// header {name: {dtype, shape, data_offsets}, "__metadata__": {...}}, then the
// tensor bytes. The whole header is validated when the file is opened (every
// dtype known, every byte range inside the file, sized exactly
// elements × element size, no two tensors overlapping), so the data pointers
// handed out afterwards are always safe to read.
#pragma once
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

namespace qgml {

class MappedFile;

namespace safetensors {

enum class Dtype : uint8_t { BOOL, U8, I8, U16, I16, F16, BF16, U32, I32, F32, U64, I64, F64, F8_E4M3, F8_E5M2 };

const char* dtype_name(Dtype d);
size_t dtype_size(Dtype d);
// False for a name safetensors does not define.
bool dtype_from_name(const std::string& name, Dtype* out);

// Refuse headers beyond this; real ones are well under 1 MiB per 1,000 tensors.
constexpr uint64_t kMaxHeaderBytes = uint64_t{100} << 20;
constexpr size_t kMaxDims = 8;

struct TensorView {
  std::string name;
  Dtype dtype = Dtype::F32;
  std::vector<int64_t> shape;  // row-major, outermost first (PyTorch order)
  uint64_t offset = 0;         // from the start of the file
  uint64_t nbytes = 0;
  int64_t n_elements() const;
};

class File {
 public:
  explicit File(const std::string& path);  // throws qgml::Error naming the file
  ~File();
  File(const File&) = delete;
  File& operator=(const File&) = delete;

  const std::string& path() const { return path_; }
  const std::vector<TensorView>& tensors() const { return tensors_; }  // in file-offset order
  const TensorView* find(const std::string& name) const;
  const uint8_t* data(const TensorView& t) const;
  const std::unordered_map<std::string, std::string>& metadata() const { return metadata_; }

  // Converts a F32, F16 or BF16 tensor to float32 (dst holds n_elements());
  // any other dtype throws an error naming the file, the tensor and the dtype.
  void read_f32(const TensorView& t, float* dst) const { read_f32(t, 0, t.n_elements(), dst); }
  // Elements [first, first + count) only (the caller keeps them inside the tensor).
  void read_f32(const TensorView& t, int64_t first, int64_t count, float* dst) const;

  // Hands the pages of elements [first, first + count) back to the kernel once
  // read, so a streaming conversion's resident memory stays near what it is
  // working on rather than growing to the whole mapped checkpoint. The data
  // stays readable (it is read from the file again if touched).
  void release(const TensorView& t, int64_t first, int64_t count) const;

 private:
  std::string path_;
  std::unique_ptr<MappedFile> map_;
  std::vector<TensorView> tensors_;
  std::unordered_map<std::string, size_t> index_;
  std::unordered_map<std::string, std::string> metadata_;
};

}  // namespace safetensors
}  // namespace qgml
