// qgml/gguf.h — the GGUF v3-compatible container (see gguf-spec.md).
//
// Reader: maps the file read-only and validates every length, count, offset
// and shape against the file size before anything is touched; a malformed file
// throws qgml::Error naming the file, the byte offset and the problem.
// Writer: collects metadata and tensor descriptions, then streams tensor data
// one tensor at a time into a temporary file that is renamed on success.
#pragma once
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "qgml/types.h"

namespace qgml {

class MappedFile;

namespace gguf {

constexpr uint32_t kMagic = 0x46554747;  // "GGUF" little-endian
constexpr uint32_t kDefaultAlignment = 32;
// Tensor type ids from here up are qgml's own ("QG" in the high half), far
// from llama.cpp's small sequential ids. Rows of these types may end in a
// partial block (padded to a whole block); llama.cpp's types may not.
constexpr uint32_t kQgmlTypeIdBase = 0x51470000;

// Resource limits: a file beyond them is rejected before anything is
// allocated (see gguf-spec.md, "Resource limits", for the reasoning).
constexpr uint64_t kMaxTensors = uint64_t{1} << 20;         // tensor infos per file
constexpr uint64_t kMaxKeys = uint64_t{1} << 16;            // metadata key/value pairs
constexpr int kMaxDims = 4;                                 // dimensions per tensor (ggml's limit)
constexpr size_t kMaxTensorNameLength = 63;                 // bytes; llama.cpp's GGML_MAX_NAME - 1
constexpr uint64_t kMaxStringLength = uint64_t{1} << 26;    // bytes in one string (64 MiB)
constexpr int kMaxArrayDepth = 8;                           // array-of-array nesting
constexpr uint64_t kMaxMetadataValues = uint64_t{1} << 22;  // values in all metadata, array items included

enum class ValueType : uint32_t {
  U8 = 0, I8 = 1, U16 = 2, I16 = 3, U32 = 4, I32 = 5, F32 = 6, BOOL = 7,
  STRING = 8, ARRAY = 9, U64 = 10, I64 = 11, F64 = 12,
};
const char* value_type_name(ValueType t);

// A metadata value. Scalars live in the unions; arrays hold their element type
// and elements (arrays of arrays nest).
struct Value {
  ValueType type = ValueType::U8;
  union {
    uint64_t u;  // U8..U64, BOOL
    int64_t i;   // I8..I64
    double f;    // F32, F64
  } num{};
  std::string str;              // STRING
  ValueType elem_type = ValueType::U8;  // ARRAY
  std::vector<Value> items;     // ARRAY

  static Value u8(uint8_t v);
  static Value i8(int8_t v);
  static Value u16(uint16_t v);
  static Value i16(int16_t v);
  static Value u32(uint32_t v);
  static Value i32(int32_t v);
  static Value u64(uint64_t v);
  static Value i64(int64_t v);
  static Value f32(float v);
  static Value f64(double v);
  static Value boolean(bool v);
  static Value string(std::string v);
  static Value array(ValueType elem, std::vector<Value> items);
  static Value string_array(const std::vector<std::string>& v);
  static Value f32_array(const std::vector<float>& v);
  static Value i32_array(const std::vector<int32_t>& v);

  bool is_integer() const;
  bool is_float() const;
  // Numeric accessors convert between integer and float kinds; throw on other types.
  int64_t as_int() const;
  double as_double() const;
  // Human-readable rendering (arrays abbreviated after `max_items`).
  std::string to_string(size_t max_items = 8) const;
};

struct KeyValue {
  std::string key;
  Value value;
};

struct TensorInfo {
  std::string name;
  Type type = Type::F32;
  int n_dims = 0;
  int64_t ne[4] = {1, 1, 1, 1};
  uint64_t offset = 0;  // relative to the start of the data section
  size_t nbytes = 0;
};

class Reader {
 public:
  // Throws qgml::Error on any problem, naming `path`. use_mmap false reads
  // the whole file into memory instead of mapping it (see MappedFile).
  explicit Reader(const std::string& path, bool use_mmap = true);
  ~Reader();
  Reader(const Reader&) = delete;
  Reader& operator=(const Reader&) = delete;

  const std::string& path() const { return path_; }
  uint32_t version() const { return version_; }
  size_t alignment() const { return alignment_; }
  size_t data_offset() const { return data_offset_; }
  size_t file_size() const;

  const std::vector<KeyValue>& metadata() const { return kv_; }
  const Value* find(const std::string& key) const;  // nullptr when absent
  // Typed getters: throw qgml::Error "FILE: key K: ..." when missing or of the wrong kind.
  std::string get_string(const std::string& key) const;
  int64_t get_int(const std::string& key) const;
  double get_float(const std::string& key) const;
  // Same, with a default when the key is absent.
  std::string get_string(const std::string& key, const std::string& def) const;
  int64_t get_int(const std::string& key, int64_t def) const;
  double get_float(const std::string& key, double def) const;

  const std::vector<TensorInfo>& tensors() const { return tensors_; }
  const TensorInfo* find_tensor(const std::string& name) const;
  // Pointer into the mapping; valid while the Reader lives.
  const void* tensor_data(const TensorInfo& t) const;
  // MappedFile::release for a range of tensor data already read.
  void release(const void* p, size_t n) const;

 private:
  std::string path_;
  std::unique_ptr<MappedFile> map_;
  uint32_t version_ = 0;
  size_t alignment_ = kDefaultAlignment;
  size_t data_offset_ = 0;
  std::vector<KeyValue> kv_;
  std::vector<TensorInfo> tensors_;
  std::unordered_map<std::string, size_t> tensor_index_;
};

class Writer {
 public:
  // Fills dst (exactly nbytes of the tensor) with the tensor's data.
  using Producer = std::function<void(void* dst, size_t nbytes)>;

  Writer();
  ~Writer();

  // Sets or replaces a key (insertion order is kept, like llama.cpp's writer).
  void set(const std::string& key, Value v);
  // A power of two; general.alignment is written unless it is the default 32.
  void set_alignment(uint32_t alignment);
  // Declares a tensor; its data is produced when write() reaches it.
  void add_tensor(const std::string& name, Type type, int n_dims, const int64_t* ne, Producer produce);
  // Declares a tensor whose data is already in memory (copied at write time).
  void add_tensor(const std::string& name, Type type, int n_dims, const int64_t* ne, const void* data);

  // Writes the file atomically: temp file in the same folder, fsync, rename.
  void write(const std::string& path) const;

 private:
  struct PendingTensor;
  uint32_t alignment_ = kDefaultAlignment;
  std::vector<KeyValue> kv_;
  std::vector<PendingTensor> tensors_;
};

}  // namespace gguf
}  // namespace qgml
