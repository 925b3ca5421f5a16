// GGUF reader: maps the file and validates it completely before handing out
// anything. The file is hostile until proven otherwise: every count, length,
// offset and shape is checked against the bytes that remain (and against the
// limits in gguf.h) before it sizes an allocation or a pointer.
#include <cstring>
#include <limits>
#include <unordered_set>

#include "qgml/error.h"
#include "qgml/gguf.h"
#include "qgml/io.h"

namespace qgml::gguf {
namespace {

// llama.cpp's names for its type ids: only used so that "unsupported type"
// names the type a user would recognise (e.g. from llama-quantize's output).
const char* llama_type_name(uint32_t id) {
  static const char* const kNames[] = {
      "f32",  "f16",    "q4_0",    "q4_1",    "q4_2 (removed)", "q4_3 (removed)", "q5_0",   "q5_1",
      "q8_0", "q8_1",   "q2_K",    "q3_K",    "q4_K",           "q5_K",           "q6_K",   "q8_K",
      "iq2_xxs", "iq2_xs", "iq3_xxs", "iq1_s", "iq4_nl",         "iq3_s",          "iq2_s",  "iq4_xs",
      "i8",   "i16",    "i32",     "i64",     "f64",            "iq1_m",          "bf16",   "q4_0_4_4 (removed)",
      "q4_0_4_8 (removed)", "q4_0_8_8 (removed)", "tq1_0", "tq2_0", "iq4_nl_4_4 (removed)",
      "iq4_nl_4_8 (removed)", "iq4_nl_8_8 (removed)", "mxfp4"};
  return id < sizeof(kNames) / sizeof(kNames[0]) ? kNames[id] : nullptr;
}

constexpr uint32_t bswap32(uint32_t v) {
  return (v >> 24) | ((v >> 8) & 0xff00u) | ((v << 8) & 0xff0000u) | (v << 24);
}

// Smallest encoding of one value of type t, used to reject counts that could
// not possibly fit in the bytes left before allocating anything for them.
uint64_t min_encoded_size(ValueType t) {
  switch (t) {
    case ValueType::U8: case ValueType::I8: case ValueType::BOOL: return 1;
    case ValueType::U16: case ValueType::I16: return 2;
    case ValueType::U32: case ValueType::I32: case ValueType::F32: return 4;
    case ValueType::U64: case ValueType::I64: case ValueType::F64: return 8;
    case ValueType::STRING: return 8;      // length, no bytes
    case ValueType::ARRAY: return 4 + 8;   // element type + count, no items
  }
  return 1;
}

// Reads little-endian fields from the mapping; every failure names the file
// and the offset of the field being read.
class Cursor {
 public:
  Cursor(const std::string& path, const uint8_t* data, size_t size) : path_(path), data_(data), size_(size) {}

  size_t pos() const { return pos_; }
  size_t size() const { return size_; }
  size_t left() const { return size_ - pos_; }

  [[noreturn]] void fail_at(size_t offset, const std::string& what) const {
    throw Error(format("%s: offset %zu: %s", path_.c_str(), offset, what.c_str()));
  }

  void need(uint64_t n, const char* what) const {
    if (n > left()) {
      fail_at(pos_, format("truncated: %s needs %llu bytes, only %zu left in the file", what,
                           static_cast<unsigned long long>(n), left()));
    }
  }

  uint64_t read_uint(size_t bytes, const char* what) {
    need(bytes, what);
    uint64_t v = 0;
    for (size_t i = 0; i < bytes; ++i) v |= static_cast<uint64_t>(data_[pos_ + i]) << (8 * i);
    pos_ += bytes;
    return v;
  }
  uint32_t u32(const char* what) { return static_cast<uint32_t>(read_uint(4, what)); }
  uint64_t u64(const char* what) { return read_uint(8, what); }

  std::string string(const char* what, uint64_t max_len) {
    const size_t at = pos_;
    const uint64_t n = u64(what);
    if (n > max_len) {
      fail_at(at, format("%s length %llu exceeds the limit of %llu bytes", what, static_cast<unsigned long long>(n),
                         static_cast<unsigned long long>(max_len)));
    }
    need(n, what);
    std::string s(reinterpret_cast<const char*>(data_ + pos_), static_cast<size_t>(n));
    pos_ += static_cast<size_t>(n);
    return s;
  }

  // Moves to `offset`, which the caller has checked against size().
  void seek(size_t offset) { pos_ = offset; }

 private:
  const std::string& path_;
  const uint8_t* data_;
  size_t size_;
  size_t pos_ = 0;
};

// Parses metadata values, counting every value against kMaxMetadataValues so
// that memory stays proportional to a sane file, not to what it claims.
class ValueParser {
 public:
  explicit ValueParser(Cursor& c) : c_(c) {}

  ValueType value_type(const char* what) {
    const size_t at = c_.pos();
    const uint32_t t = c_.u32(what);
    if (t > static_cast<uint32_t>(ValueType::F64)) fail_at(at, format("unknown %s %u (valid: 0..12)", what, t));
    return static_cast<ValueType>(t);
  }

  Value value(ValueType t, int depth) {
    const size_t at = c_.pos();
    if (++n_values_ > kMaxMetadataValues) {
      fail_at(at, format("more than %llu metadata values (limit)", static_cast<unsigned long long>(kMaxMetadataValues)));
    }
    Value v;
    v.type = t;
    switch (t) {
      case ValueType::U8: v.num.u = c_.read_uint(1, "u8 value"); break;
      case ValueType::U16: v.num.u = c_.read_uint(2, "u16 value"); break;
      case ValueType::U32: v.num.u = c_.read_uint(4, "u32 value"); break;
      case ValueType::U64: v.num.u = c_.read_uint(8, "u64 value"); break;
      case ValueType::I8: v.num.i = static_cast<int8_t>(c_.read_uint(1, "i8 value")); break;
      case ValueType::I16: v.num.i = static_cast<int16_t>(c_.read_uint(2, "i16 value")); break;
      case ValueType::I32: v.num.i = static_cast<int32_t>(c_.read_uint(4, "i32 value")); break;
      case ValueType::I64: v.num.i = static_cast<int64_t>(c_.read_uint(8, "i64 value")); break;
      case ValueType::F32: {
        const uint32_t bits = static_cast<uint32_t>(c_.read_uint(4, "f32 value"));
        float f;
        std::memcpy(&f, &bits, 4);
        v.num.f = f;
        break;
      }
      case ValueType::F64: {
        const uint64_t bits = c_.read_uint(8, "f64 value");
        std::memcpy(&v.num.f, &bits, 8);
        break;
      }
      case ValueType::BOOL: {
        const uint64_t b = c_.read_uint(1, "bool value");
        if (b > 1) fail_at(at, format("bool value %llu (must be 0 or 1)", static_cast<unsigned long long>(b)));
        v.num.u = b;
        break;
      }
      case ValueType::STRING: v.str = c_.string("string", kMaxStringLength); break;
      case ValueType::ARRAY: read_array(v, depth + 1); break;
    }
    return v;
  }

 private:
  [[noreturn]] void fail_at(size_t offset, const std::string& what) const { c_.fail_at(offset, what); }

  void read_array(Value& v, int depth) {
    const size_t at = c_.pos();
    if (depth > kMaxArrayDepth) fail_at(at, format("arrays nested deeper than %d levels (limit)", kMaxArrayDepth));
    v.elem_type = value_type("array element type");
    const size_t count_at = c_.pos();
    const uint64_t n = c_.u64("array count");
    const uint64_t min_size = min_encoded_size(v.elem_type);
    if (n > c_.left() / min_size) {
      fail_at(count_at, format("array of %llu %s items cannot fit in the %zu bytes left in the file",
                               static_cast<unsigned long long>(n), value_type_name(v.elem_type), c_.left()));
    }
    if (n > kMaxMetadataValues - n_values_) {
      fail_at(count_at, format("array of %llu items exceeds the limit of %llu metadata values",
                               static_cast<unsigned long long>(n), static_cast<unsigned long long>(kMaxMetadataValues)));
    }
    v.items.reserve(static_cast<size_t>(n));
    for (uint64_t i = 0; i < n; ++i) v.items.push_back(value(v.elem_type, depth));
  }

  Cursor& c_;
  uint64_t n_values_ = 0;
};

bool mul_overflows(uint64_t a, uint64_t b, uint64_t* out) {
  if (a != 0 && b > std::numeric_limits<uint64_t>::max() / a) return true;
  *out = a * b;
  return false;
}

}  // namespace

Reader::Reader(const std::string& path, bool use_mmap)
    : path_(path), map_(std::make_unique<MappedFile>(path, use_mmap)) {
  Cursor c(path_, map_->data(), map_->size());

  // --- header ---------------------------------------------------------------
  if (c.size() < 4) c.fail_at(0, format("file is %zu bytes, too small to be GGUF", c.size()));
  const uint8_t* d = map_->data();
  if (std::memcmp(d, "GGUF", 4) != 0) {
    if (std::memcmp(d, "FUGG", 4) == 0) c.fail_at(0, "byte-swapped GGUF magic: a big-endian file (not supported)");
    c.fail_at(0, format("not a GGUF file: magic %02x %02x %02x %02x, expected \"GGUF\"", d[0], d[1], d[2], d[3]));
  }
  c.seek(4);
  version_ = c.u32("version");
  if (version_ != 2 && version_ != 3) {
    const uint32_t swapped = bswap32(version_);
    if (swapped == 2 || swapped == 3) {
      c.fail_at(4, format("big-endian GGUF v%u (version bytes swapped); qgml reads little-endian files only", swapped));
    }
    if (version_ == 1) c.fail_at(4, "GGUF version 1 (32-bit counts) is not supported; re-convert the model");
    c.fail_at(4, format("unsupported GGUF version %u (qgml reads versions 2 and 3)", version_));
  }
  const uint64_t n_tensors = c.u64("tensor count");
  if (n_tensors > kMaxTensors) {
    c.fail_at(8, format("tensor count %llu exceeds the limit of %llu", static_cast<unsigned long long>(n_tensors),
                        static_cast<unsigned long long>(kMaxTensors)));
  }
  const uint64_t n_kv = c.u64("metadata count");
  if (n_kv > kMaxKeys) {
    c.fail_at(16, format("metadata count %llu exceeds the limit of %llu", static_cast<unsigned long long>(n_kv),
                         static_cast<unsigned long long>(kMaxKeys)));
  }
  // Smallest possible entries: key length + 1-byte key + type + 1-byte value,
  // and name length + 1-byte name + n_dims + one dim + type + offset.
  constexpr uint64_t kMinKv = 8 + 1 + 4 + 1, kMinTensorInfo = 8 + 1 + 4 + 8 + 4 + 8;
  if (n_kv * kMinKv + n_tensors * kMinTensorInfo > c.left()) {
    c.fail_at(8, format("header claims %llu tensors and %llu metadata entries, which cannot fit in %zu bytes",
                        static_cast<unsigned long long>(n_tensors), static_cast<unsigned long long>(n_kv), c.left()));
  }

  // --- metadata -------------------------------------------------------------
  ValueParser vp(c);
  std::unordered_set<std::string> keys;
  kv_.reserve(static_cast<size_t>(n_kv));
  for (uint64_t i = 0; i < n_kv; ++i) {
    const size_t key_at = c.pos();
    KeyValue kv;
    kv.key = c.string("key", 65535);
    if (kv.key.empty()) c.fail_at(key_at, "empty metadata key");
    if (!keys.insert(kv.key).second) c.fail_at(key_at, format("duplicate metadata key '%s'", kv.key.c_str()));
    const ValueType t = vp.value_type(("type of key '" + kv.key + "'").c_str());
    const size_t value_at = c.pos();
    kv.value = vp.value(t, 0);
    if (kv.key == "general.alignment") {
      if (t != ValueType::U32) {
        c.fail_at(value_at, format("general.alignment must be a u32, found %s", value_type_name(t)));
      }
      const uint64_t a = kv.value.num.u;
      if (a == 0 || (a & (a - 1)) != 0) {
        c.fail_at(value_at, format("general.alignment %llu is not a power of two", static_cast<unsigned long long>(a)));
      }
      alignment_ = static_cast<size_t>(a);
    }
    kv_.push_back(std::move(kv));
  }

  // --- tensor infos ---------------------------------------------------------
  std::vector<size_t> info_at(static_cast<size_t>(n_tensors));
  tensors_.reserve(static_cast<size_t>(n_tensors));
  tensor_index_.reserve(static_cast<size_t>(n_tensors));
  for (uint64_t i = 0; i < n_tensors; ++i) {
    const size_t at = c.pos();
    info_at[i] = at;
    TensorInfo t;
    t.name = c.string("tensor name", kMaxTensorNameLength);
    if (t.name.empty()) c.fail_at(at, format("tensor %llu has an empty name", static_cast<unsigned long long>(i)));
    const char* name = t.name.c_str();
    const size_t dims_at = c.pos();
    const uint32_t n_dims = c.u32("n_dims");
    if (n_dims < 1 || n_dims > static_cast<uint32_t>(kMaxDims)) {
      c.fail_at(dims_at, format("tensor '%s': n_dims %u (must be 1..%d)", name, n_dims, kMaxDims));
    }
    t.n_dims = static_cast<int>(n_dims);
    uint64_t n_elements = 1;
    for (uint32_t j = 0; j < n_dims; ++j) {
      const size_t ne_at = c.pos();
      const int64_t ne = static_cast<int64_t>(c.u64("dimension"));
      if (ne < 0) c.fail_at(ne_at, format("tensor '%s': ne[%u] = %lld is negative", name, j, static_cast<long long>(ne)));
      t.ne[j] = ne;
      if (mul_overflows(n_elements, static_cast<uint64_t>(ne), &n_elements) ||
          n_elements > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
        c.fail_at(ne_at, format("tensor '%s': element count overflows (shape product too large)", name));
      }
    }
    const size_t type_at = c.pos();
    const uint32_t type_id = c.u32("tensor type");
    if (!type_from_gguf_id(type_id, &t.type)) {
      const char* known = llama_type_name(type_id);
      c.fail_at(type_at, known ? format("tensor '%s': type id %u (llama.cpp %s) is not supported by qgml", name,
                                        type_id, known)
                               : format("tensor '%s': unknown type id %u", name, type_id));
    }
    const TypeTraits& tr = traits(t.type);
    if (t.ne[0] % tr.block_size != 0 && tr.gguf_id < kQgmlTypeIdBase) {
      c.fail_at(type_at, format("tensor '%s': ne[0] = %lld is not a multiple of the %s block size %lld", name,
                                static_cast<long long>(t.ne[0]), tr.name, static_cast<long long>(tr.block_size)));
    }
    uint64_t nbytes = 0;
    // qgml's own types pad a partial last block; this cannot overflow since ne[0] >= 0.
    const uint64_t row_blocks = static_cast<uint64_t>(t.ne[0] / tr.block_size + (t.ne[0] % tr.block_size != 0));
    const uint64_t rows = t.ne[0] == 0 ? 0 : n_elements / static_cast<uint64_t>(t.ne[0]);
    uint64_t row_bytes = 0;
    if (mul_overflows(row_blocks, tr.type_size, &row_bytes) || mul_overflows(row_bytes, rows, &nbytes) ||
        nbytes > std::numeric_limits<size_t>::max()) {
      c.fail_at(type_at, format("tensor '%s': byte size overflows", name));
    }
    t.nbytes = static_cast<size_t>(nbytes);
    t.offset = c.u64("tensor offset");
    if (!tensor_index_.emplace(t.name, tensors_.size()).second) {
      c.fail_at(at, format("duplicate tensor name '%s'", name));
    }
    tensors_.push_back(std::move(t));
  }

  // --- data section ---------------------------------------------------------
  const size_t end_of_infos = c.pos();
  const uint64_t aligned = (static_cast<uint64_t>(end_of_infos) + alignment_ - 1) / alignment_ * alignment_;
  if (tensors_.empty()) {
    // llama.cpp writes no padding when there is no data (vocab-only files).
    data_offset_ = aligned <= c.size() ? static_cast<size_t>(aligned) : c.size();
  } else {
    if (aligned > c.size()) {
      c.fail_at(end_of_infos, format("data section would start at %llu, past the end of the file (%zu bytes)",
                                     static_cast<unsigned long long>(aligned), c.size()));
    }
    data_offset_ = static_cast<size_t>(aligned);
  }
  const uint64_t data_size = c.size() - data_offset_;
  for (size_t i = 0; i < tensors_.size(); ++i) {
    const TensorInfo& t = tensors_[i];
    if (t.offset % alignment_ != 0) {
      c.fail_at(info_at[i], format("tensor '%s': data offset %llu is not a multiple of the alignment %zu",
                                   t.name.c_str(), static_cast<unsigned long long>(t.offset), alignment_));
    }
    if (t.offset > data_size || t.nbytes > data_size - t.offset) {
      c.fail_at(info_at[i], format("tensor '%s': data [%llu, +%zu) relative to the data section at %zu extends past "
                                   "the end of the file (%zu bytes)",
                                   t.name.c_str(), static_cast<unsigned long long>(t.offset), t.nbytes, data_offset_,
                                   c.size()));
    }
  }
}

Reader::~Reader() = default;

size_t Reader::file_size() const { return map_->size(); }
void Reader::release(const void* p, size_t n) const { map_->release(p, n); }

const Value* Reader::find(const std::string& key) const {
  for (const auto& kv : kv_)
    if (kv.key == key) return &kv.value;
  return nullptr;
}

namespace {

template <typename Fn>
auto convert(const std::string& path, const std::string& key, const Value& v, Fn fn) -> decltype(fn(v)) {
  try {
    return fn(v);
  } catch (const Error& e) {
    throw Error(format("%s: key %s: %s", path.c_str(), key.c_str(), e.what()));
  }
}

}  // namespace

std::string Reader::get_string(const std::string& key) const {
  const Value* v = find(key);
  if (v == nullptr) fail("%s: key %s: missing", path_.c_str(), key.c_str());
  if (v->type != ValueType::STRING) {
    fail("%s: key %s: expected a string, found %s", path_.c_str(), key.c_str(), value_type_name(v->type));
  }
  return v->str;
}

int64_t Reader::get_int(const std::string& key) const {
  const Value* v = find(key);
  if (v == nullptr) fail("%s: key %s: missing", path_.c_str(), key.c_str());
  return convert(path_, key, *v, [](const Value& x) { return x.as_int(); });
}

double Reader::get_float(const std::string& key) const {
  const Value* v = find(key);
  if (v == nullptr) fail("%s: key %s: missing", path_.c_str(), key.c_str());
  return convert(path_, key, *v, [](const Value& x) { return x.as_double(); });
}

std::string Reader::get_string(const std::string& key, const std::string& def) const {
  return find(key) ? get_string(key) : def;
}

int64_t Reader::get_int(const std::string& key, int64_t def) const { return find(key) ? get_int(key) : def; }

double Reader::get_float(const std::string& key, double def) const { return find(key) ? get_float(key) : def; }

const TensorInfo* Reader::find_tensor(const std::string& name) const {
  const auto it = tensor_index_.find(name);
  return it == tensor_index_.end() ? nullptr : &tensors_[it->second];
}

const void* Reader::tensor_data(const TensorInfo& t) const {
  // The TensorInfo may be a caller's copy: re-check it so a stale or edited
  // one cannot point outside the mapping.
  const uint64_t data_size = map_->size() - data_offset_;
  if (t.offset > data_size || t.nbytes > data_size - t.offset) {
    fail("%s: tensor '%s': data range [%llu, +%zu) is outside the data section", path_.c_str(), t.name.c_str(),
         static_cast<unsigned long long>(t.offset), t.nbytes);
  }
  return map_->data() + data_offset_ + t.offset;
}

}  // namespace qgml::gguf
