// Builders for the converter tests: safetensors files and small Hugging Face
// model directories written from C++, so every corner can be exercised
// without real checkpoints.
#pragma once
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "qgml/fp16.h"
#include "qgml/gguf.h"

namespace qgml::test {

inline void write_bytes(const std::string& path, const std::string& bytes) {
  FILE* f = std::fopen(path.c_str(), "wb");
  if (!f) throw std::runtime_error("cannot write " + path);
  std::fwrite(bytes.data(), 1, bytes.size(), f);
  std::fclose(f);
}

struct StEntry {
  std::string name;
  std::string dtype;            // "F32", "F16", "BF16", "I32", ...
  std::vector<int64_t> shape;
  std::string data;             // raw little-endian bytes
};

inline std::string f32_bytes(const std::vector<float>& v) {
  return std::string(reinterpret_cast<const char*>(v.data()), v.size() * 4);
}
inline std::string bf16_bytes(const std::vector<float>& v) {
  std::string s;
  for (float x : v) {
    const uint16_t h = f32_to_bf16(x);
    s.append(reinterpret_cast<const char*>(&h), 2);
  }
  return s;
}
inline std::string f16_bytes(const std::vector<float>& v) {
  std::string s;
  for (float x : v) {
    const uint16_t h = f32_to_fp16(x);
    s.append(reinterpret_cast<const char*>(&h), 2);
  }
  return s;
}

// The JSON header alone (data offsets assigned in order), for tests that
// want to corrupt it.
inline std::string safetensors_header(const std::vector<StEntry>& entries) {
  std::string h = "{\"__metadata__\":{\"format\":\"pt\"}";
  size_t off = 0;
  for (const auto& e : entries) {
    h += ",\"" + e.name + "\":{\"dtype\":\"" + e.dtype + "\",\"shape\":[";
    for (size_t i = 0; i < e.shape.size(); ++i) h += (i ? "," : "") + std::to_string(e.shape[i]);
    h += "],\"data_offsets\":[" + std::to_string(off) + "," + std::to_string(off + e.data.size()) + "]}";
    off += e.data.size();
  }
  return h + "}";
}

inline std::string safetensors_file(const std::string& header, const std::string& data) {
  std::string out;
  uint64_t n = header.size();
  for (int i = 0; i < 8; ++i) out.push_back(static_cast<char>((n >> (8 * i)) & 0xff));
  return out + header + data;
}

inline void write_safetensors(const std::string& path, const std::vector<StEntry>& entries) {
  std::string data;
  for (const auto& e : entries) data += e.data;
  write_bytes(path, safetensors_file(safetensors_header(entries), data));
}

// Deep equality of two GGUF values (floats bit for bit, so -0.0 != 0.0);
// `why` says where they first differ.
inline bool same_value(const gguf::Value& a, const gguf::Value& b, std::string* why) {
  if (a.type != b.type) {
    *why = std::string("type ") + gguf::value_type_name(a.type) + " vs " + gguf::value_type_name(b.type);
    return false;
  }
  switch (a.type) {
    case gguf::ValueType::STRING:
      if (a.str != b.str) *why = "'" + a.str + "' vs '" + b.str + "'";
      return a.str == b.str;
    case gguf::ValueType::ARRAY:
      if (a.elem_type != b.elem_type || a.items.size() != b.items.size()) {
        *why = "array of " + std::to_string(a.items.size()) + " vs " + std::to_string(b.items.size());
        return false;
      }
      for (size_t i = 0; i < a.items.size(); ++i) {
        if (!same_value(a.items[i], b.items[i], why)) {
          *why = "item " + std::to_string(i) + ": " + *why;
          return false;
        }
      }
      return true;
    default:
      if (std::memcmp(&a.num, &b.num, sizeof(a.num)) != 0) {
        *why = a.to_string() + " vs " + b.to_string();
        return false;
      }
      return true;
  }
}

}  // namespace qgml::test
