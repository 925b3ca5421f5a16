// The type-traits table: one row per storage type. Kernels for each type are
// registered separately per instruction-set level (ggml/src/cpu/).
#include "qgml/types.h"

#include <cstring>

#include "qgml/error.h"
#include "quants.h"

namespace qgml {
namespace {

void f32_to_float(const void* src, float* dst, int64_t n) { std::memcpy(dst, src, static_cast<size_t>(n) * 4); }
void f32_from_float(const float* src, void* dst, int64_t n) { std::memcpy(dst, src, static_cast<size_t>(n) * 4); }

const TypeTraits kTraits[kTypeCount] = {
    // name    gguf  block bytes quant  to_float          from_float          vec_dot_type
    {"f32",    0,    1,    4,    false, f32_to_float,     f32_from_float,     Type::F32},
    {"f16",    1,    1,    2,    false, f16_to_float,     f16_from_float,     Type::F32},
    {"bf16",   30,   1,    2,    false, bf16_to_float,    bf16_from_float,    Type::F32},
    {"i32",    26,   1,    4,    false, nullptr,          nullptr,            Type::I32},
    {"q8_0",   8,    32,   34,   true,  q8_0_to_float,    q8_0_from_float,    Type::Q8_0},
    {"q4_0",   2,    32,   18,   true,  q4_0_to_float,    q4_0_from_float,    Type::Q8_0},
};

}  // namespace

const TypeTraits& traits(Type t) {
  const int i = static_cast<int>(t);
  if (i < 0 || i >= kTypeCount) fail("unknown tensor type %d", i);
  return kTraits[i];
}

bool type_from_gguf_id(uint32_t id, Type* out) {
  for (int i = 0; i < kTypeCount; ++i) {
    if (kTraits[i].gguf_id == id) {
      *out = static_cast<Type>(i);
      return true;
    }
  }
  return false;
}

bool type_from_name(const char* name, Type* out) {
  for (int i = 0; i < kTypeCount; ++i) {
    if (std::strcmp(kTraits[i].name, name) == 0) {
      *out = static_cast<Type>(i);
      return true;
    }
  }
  return false;
}

size_t row_size(Type t, int64_t n) {
  const TypeTraits& tr = traits(t);
  return static_cast<size_t>((n + tr.block_size - 1) / tr.block_size) * tr.type_size;
}

}  // namespace qgml
