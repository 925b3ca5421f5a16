// GGUF writer: header and tensor infos are built in memory (they are small),
// then tensor data is streamed one tensor at a time through a single scratch
// buffer, so peak memory is about the largest tensor, not the whole model.
#include <cstring>
#include <limits>

#include "qgml/error.h"
#include "qgml/gguf.h"
#include "qgml/io.h"

namespace qgml::gguf {

struct Writer::PendingTensor {
  std::string name;
  Type type = Type::F32;
  int n_dims = 0;
  int64_t ne[4] = {1, 1, 1, 1};
  size_t nbytes = 0;
  Producer produce;             // set for streamed tensors
  const void* data = nullptr;   // set for in-memory tensors
};

namespace {

constexpr size_t kMaxKeyLength = 65535;

bool is_power_of_two(uint64_t a) { return a != 0 && (a & (a - 1)) == 0; }

uint64_t align_up(uint64_t x, uint64_t a) { return (x + a - 1) / a * a; }

// Rejects values that could not be written faithfully (an out-of-range u8, a
// mixed array) at set() time, where the caller's stack still explains them.
void validate(const std::string& key, const Value& v, int depth) {
  auto bad = [&](const char* what) {
    fail("gguf writer: key '%s': %s value: %s", key.c_str(), value_type_name(v.type), what);
  };
  switch (v.type) {
    case ValueType::U8: if (v.num.u > 0xffu) bad("out of range"); break;
    case ValueType::U16: if (v.num.u > 0xffffu) bad("out of range"); break;
    case ValueType::U32: if (v.num.u > 0xffffffffu) bad("out of range"); break;
    case ValueType::I8: if (v.num.i < -128 || v.num.i > 127) bad("out of range"); break;
    case ValueType::I16: if (v.num.i < -32768 || v.num.i > 32767) bad("out of range"); break;
    case ValueType::I32:
      if (v.num.i < std::numeric_limits<int32_t>::min() || v.num.i > std::numeric_limits<int32_t>::max()) {
        bad("out of range");
      }
      break;
    case ValueType::BOOL: if (v.num.u > 1) bad("must be 0 or 1"); break;
    case ValueType::U64: case ValueType::I64: case ValueType::F32: case ValueType::F64: break;
    case ValueType::STRING: if (v.str.size() > kMaxStringLength) bad("string longer than the limit"); break;
    case ValueType::ARRAY:
      if (depth + 1 > kMaxArrayDepth) bad("arrays nested deeper than the limit");
      if (static_cast<uint32_t>(v.elem_type) > static_cast<uint32_t>(ValueType::F64)) bad("unknown element type");
      for (const Value& item : v.items) {
        if (item.type != v.elem_type) bad("array item of a different type than the array's element type");
        validate(key, item, depth + 1);
      }
      break;
    default: bad("unknown value type");
  }
}

void put_uint(std::string& out, uint64_t v, size_t bytes) {
  for (size_t i = 0; i < bytes; ++i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xffu));
}

void put_string(std::string& out, const std::string& s) {
  put_uint(out, s.size(), 8);
  out += s;
}

void put_value(std::string& out, const Value& v) {
  switch (v.type) {
    case ValueType::U8: case ValueType::I8: case ValueType::BOOL: put_uint(out, v.num.u, 1); break;
    case ValueType::U16: case ValueType::I16: put_uint(out, v.num.u, 2); break;
    case ValueType::U32: case ValueType::I32: put_uint(out, v.num.u, 4); break;
    case ValueType::U64: case ValueType::I64: put_uint(out, v.num.u, 8); break;
    case ValueType::F32: {
      const float f = static_cast<float>(v.num.f);
      uint32_t bits;
      std::memcpy(&bits, &f, 4);
      put_uint(out, bits, 4);
      break;
    }
    case ValueType::F64: {
      uint64_t bits;
      std::memcpy(&bits, &v.num.f, 8);
      put_uint(out, bits, 8);
      break;
    }
    case ValueType::STRING: put_string(out, v.str); break;
    case ValueType::ARRAY:
      put_uint(out, static_cast<uint32_t>(v.elem_type), 4);
      put_uint(out, v.items.size(), 8);
      for (const Value& item : v.items) put_value(out, item);
      break;
  }
}

}  // namespace

Writer::Writer() = default;
Writer::~Writer() = default;

void Writer::set(const std::string& key, Value v) {
  if (key.empty() || key.size() > kMaxKeyLength) fail("gguf writer: key '%.64s' must be 1..65535 bytes", key.c_str());
  validate(key, v, 0);
  if (key == "general.alignment") {
    if (v.type != ValueType::U32 || !is_power_of_two(v.num.u)) {
      fail("gguf writer: general.alignment must be a u32 power of two, got %s %s", value_type_name(v.type),
           v.to_string().c_str());
    }
    alignment_ = static_cast<uint32_t>(v.num.u);
  }
  for (auto& kv : kv_) {
    if (kv.key == key) {
      kv.value = std::move(v);  // keeps its original position, like llama.cpp
      return;
    }
  }
  kv_.push_back({key, std::move(v)});
}

void Writer::set_alignment(uint32_t alignment) {
  if (!is_power_of_two(alignment)) fail("gguf writer: alignment %u is not a power of two", alignment);
  if (alignment == kDefaultAlignment) {
    // Readers assume 32 when the key is absent; omitting it matches llama.cpp.
    for (size_t i = 0; i < kv_.size(); ++i) {
      if (kv_[i].key == "general.alignment") {
        kv_.erase(kv_.begin() + static_cast<std::ptrdiff_t>(i));
        break;
      }
    }
    alignment_ = alignment;
    return;
  }
  set("general.alignment", Value::u32(alignment));
}

void Writer::add_tensor(const std::string& name, Type type, int n_dims, const int64_t* ne, Producer produce) {
  if (name.empty() || name.size() > kMaxTensorNameLength) {
    fail("gguf writer: tensor name '%s' must be 1..%zu bytes (llama.cpp's limit)", name.c_str(), kMaxTensorNameLength);
  }
  for (const auto& t : tensors_) {
    if (t.name == name) fail("gguf writer: duplicate tensor name '%s'", name.c_str());
  }
  if (n_dims < 1 || n_dims > kMaxDims) fail("gguf writer: tensor '%s': n_dims %d (must be 1..%d)", name.c_str(), n_dims, kMaxDims);
  if (!produce) fail("gguf writer: tensor '%s': no data producer", name.c_str());
  PendingTensor p;
  p.name = name;
  p.type = type;
  p.n_dims = n_dims;
  const TypeTraits& tr = traits(type);
  uint64_t n_elements = 1;
  for (int j = 0; j < n_dims; ++j) {
    if (ne[j] < 0) fail("gguf writer: tensor '%s': ne[%d] = %lld is negative", name.c_str(), j, static_cast<long long>(ne[j]));
    p.ne[j] = ne[j];
    const uint64_t d = static_cast<uint64_t>(ne[j]);
    if (d != 0 && n_elements > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()) / d) {
      fail("gguf writer: tensor '%s': element count overflows", name.c_str());
    }
    n_elements *= d;
  }
  // llama.cpp rejects partial blocks in its types; qgml's own types pad them.
  if (p.ne[0] % tr.block_size != 0 && tr.gguf_id < kQgmlTypeIdBase) {
    fail("gguf writer: tensor '%s': ne[0] = %lld is not a multiple of the %s block size %lld", name.c_str(),
         static_cast<long long>(p.ne[0]), tr.name, static_cast<long long>(tr.block_size));
  }
  const uint64_t row_blocks = static_cast<uint64_t>(p.ne[0] / tr.block_size + (p.ne[0] % tr.block_size != 0));
  if (row_blocks > std::numeric_limits<uint64_t>::max() / tr.type_size) {
    fail("gguf writer: tensor '%s': byte size overflows", name.c_str());
  }
  const uint64_t row_bytes = row_blocks * tr.type_size;
  const uint64_t rows = p.ne[0] == 0 ? 0 : n_elements / static_cast<uint64_t>(p.ne[0]);
  if (rows != 0 && row_bytes > std::numeric_limits<size_t>::max() / rows) {
    fail("gguf writer: tensor '%s': byte size overflows", name.c_str());
  }
  p.nbytes = static_cast<size_t>(row_bytes * rows);
  p.produce = std::move(produce);
  tensors_.push_back(std::move(p));
}

void Writer::add_tensor(const std::string& name, Type type, int n_dims, const int64_t* ne, const void* data) {
  // Reuse the checks of the streaming form, then write straight from `data`.
  add_tensor(name, type, n_dims, ne, Producer([](void*, size_t) {}));
  PendingTensor& p = tensors_.back();
  if (data == nullptr && p.nbytes > 0) {
    tensors_.pop_back();
    fail("gguf writer: tensor '%s': null data", name.c_str());
  }
  p.produce = nullptr;
  p.data = data;
}

void Writer::write(const std::string& path) const {
  std::string head;
  put_uint(head, kMagic, 4);
  put_uint(head, 3, 4);
  put_uint(head, tensors_.size(), 8);
  put_uint(head, kv_.size(), 8);
  for (const auto& kv : kv_) {
    put_string(head, kv.key);
    put_uint(head, static_cast<uint32_t>(kv.value.type), 4);
    put_value(head, kv.value);
  }
  // Tensors are laid out in declaration order, each starting on an alignment
  // boundary: llama.cpp requires exactly this packing (offset == running sum).
  uint64_t data_size = 0;
  size_t scratch_size = 0;
  for (const auto& t : tensors_) {
    put_string(head, t.name);
    put_uint(head, static_cast<uint32_t>(t.n_dims), 4);
    for (int j = 0; j < t.n_dims; ++j) put_uint(head, static_cast<uint64_t>(t.ne[j]), 8);
    put_uint(head, traits(t.type).gguf_id, 4);
    put_uint(head, data_size, 8);
    data_size = align_up(data_size + t.nbytes, alignment_);
    if (t.produce && t.nbytes > scratch_size) scratch_size = t.nbytes;
  }

  AtomicFile f(path);
  f.write(head.data(), head.size());
  if (tensors_.empty()) {  // nothing follows: no padding, as llama.cpp writes vocab-only files
    f.commit();
    return;
  }
  f.pad_to(align_up(f.offset(), alignment_));
  const uint64_t data_start = f.offset();
  std::vector<uint8_t> scratch(scratch_size);
  uint64_t offset = 0;
  for (const auto& t : tensors_) {
    f.pad_to(data_start + offset);
    if (t.data != nullptr) {
      f.write(t.data, t.nbytes);
    } else if (t.nbytes > 0) {
      // Zeroed first so a producer that skips bytes still gives a reproducible file.
      std::memset(scratch.data(), 0, t.nbytes);
      t.produce(scratch.data(), t.nbytes);
      f.write(scratch.data(), t.nbytes);
    }
    offset = align_up(offset + t.nbytes, alignment_);
  }
  f.pad_to(data_start + offset);
  f.commit();
}

}  // namespace qgml::gguf
