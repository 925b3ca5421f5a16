// Helpers for the GGUF suites: a byte builder for hand-made (often hostile)
// files, and exact comparison of metadata values.
#pragma once
#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <fstream>
#include <string>

#include "qgml/error.h"
#include "qgml/gguf.h"

namespace qgml::test {

// Little-endian bytes, written by hand from gguf-spec.md rather than by the
// Writer, so the reader is tested against the spec and not against itself.
struct Bytes {
  std::string b;
  Bytes& u8(uint8_t v) { b.push_back(static_cast<char>(v)); return *this; }
  Bytes& uint(uint64_t v, int n) {
    for (int i = 0; i < n; ++i) b.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
    return *this;
  }
  Bytes& u32(uint32_t v) { return uint(v, 4); }
  Bytes& u64(uint64_t v) { return uint(v, 8); }
  Bytes& f32(float f) { uint32_t u; std::memcpy(&u, &f, 4); return u32(u); }
  Bytes& str(const std::string& s) { u64(s.size()); b += s; return *this; }
  Bytes& raw(const std::string& s) { b += s; return *this; }
  Bytes& header(uint64_t n_tensors, uint64_t n_kv, uint32_t version = 3) {
    raw("GGUF");
    u32(version);
    u64(n_tensors);
    return u64(n_kv);
  }
  Bytes& kv_u32(const std::string& key, uint32_t v) { str(key); u32(4); return u32(v); }
  Bytes& kv_str(const std::string& key, const std::string& v) { str(key); u32(8); return str(v); }
  Bytes& tensor(const std::string& name, std::initializer_list<int64_t> ne, uint32_t type, uint64_t offset) {
    str(name);
    u32(static_cast<uint32_t>(ne.size()));
    for (int64_t d : ne) u64(static_cast<uint64_t>(d));
    u32(type);
    return u64(offset);
  }
  Bytes& pad(size_t align) {
    while (b.size() % align != 0) b.push_back(0);
    return *this;
  }
  Bytes& zeros(size_t n) { b.append(n, '\0'); return *this; }
};

inline void write_bytes(const std::string& path, const std::string& bytes) {
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  f.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  ASSERT_TRUE(f.good()) << path;
}

// Bitwise equality (floats compared by bits, so NaN payloads and -0 count).
inline bool values_equal(const gguf::Value& a, const gguf::Value& b) {
  using gguf::ValueType;
  if (a.type != b.type) return false;
  switch (a.type) {
    case ValueType::STRING: return a.str == b.str;
    case ValueType::ARRAY:
      if (a.elem_type != b.elem_type || a.items.size() != b.items.size()) return false;
      for (size_t i = 0; i < a.items.size(); ++i)
        if (!values_equal(a.items[i], b.items[i])) return false;
      return true;
    case ValueType::F32: {
      const float x = static_cast<float>(a.num.f), y = static_cast<float>(b.num.f);
      return std::memcmp(&x, &y, 4) == 0;
    }
    case ValueType::F64: return std::memcmp(&a.num.f, &b.num.f, 8) == 0;
    case ValueType::I8: case ValueType::I16: case ValueType::I32: case ValueType::I64: return a.num.i == b.num.i;
    default: return a.num.u == b.num.u;
  }
}

// Expects opening `path` to fail with a message naming the file, an offset
// and `what`.
inline void expect_reader_error(const std::string& path, const std::string& what) {
  try {
    gguf::Reader r(path);
    ADD_FAILURE() << "expected an error containing '" << what << "' for " << path;
  } catch (const Error& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find(path), std::string::npos) << msg;
    EXPECT_NE(msg.find("offset"), std::string::npos) << msg;
    EXPECT_NE(msg.find(what), std::string::npos) << "expected '" << what << "' in: " << msg;
  }
}

}  // namespace qgml::test
