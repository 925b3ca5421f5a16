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

// qgml's own GGUF type ids: 0x51470000 + n ("QG" in the high half).
constexpr uint32_t kQ = 0x51470000u;

// block bytes are spelled out (and checked against GptqFormat by the tests).
#define GPTQ_ROW(name, id, b, g, bytes, z) \
  {name, id, g, bytes, true, gptq_to_float<b, g, z>, gptq_from_float<b, g, z>, Type::Q8_A}

const TypeTraits kTraits[kTypeCount] = {
    // name    gguf  block bytes quant  to_float          from_float          vec_dot_type
    {"f32",    0,    1,    4,    false, f32_to_float,     f32_from_float,     Type::F32},
    {"f16",    1,    1,    2,    false, f16_to_float,     f16_from_float,     Type::F32},
    {"bf16",   30,   1,    2,    false, bf16_to_float,    bf16_from_float,    Type::F32},
    {"i32",    26,   1,    4,    false, nullptr,          nullptr,            Type::I32},
    {"q8_0",   8,    32,   34,   true,  q8_0_to_float,    q8_0_from_float,    Type::Q8_0},
    {"q4_0",   2,    32,   18,   true,  q4_0_to_float,    q4_0_from_float,    Type::Q8_0},
    {"q4_1",   3,    32,   20,   true,  q4_1_to_float,    q4_1_from_float,    Type::Q8_A},
    {"q8_a",   kQ + 0, 256, 276, true,  q8_a_to_float,    q8_a_from_float,    Type::Q8_A},
    GPTQ_ROW("gptq4_g32",    kQ +  1, 4, 32, 19, true),
    GPTQ_ROW("gptq4_g64",    kQ +  2, 4, 64, 35, true),
    GPTQ_ROW("gptq4_g128",   kQ +  3, 4, 128, 67, true),
    GPTQ_ROW("gptq3_g32",    kQ +  4, 3, 32, 15, true),
    GPTQ_ROW("gptq3_g64",    kQ +  5, 3, 64, 27, true),
    GPTQ_ROW("gptq3_g128",   kQ +  6, 3, 128, 51, true),
    GPTQ_ROW("gptq2_g32",    kQ +  7, 2, 32, 11, true),
    GPTQ_ROW("gptq2_g64",    kQ +  8, 2, 64, 19, true),
    GPTQ_ROW("gptq2_g128",   kQ +  9, 2, 128, 35, true),
    GPTQ_ROW("gptq4s_g32",   kQ + 10, 4, 32, 18, false),
    GPTQ_ROW("gptq4s_g64",   kQ + 11, 4, 64, 34, false),
    GPTQ_ROW("gptq4s_g128",  kQ + 12, 4, 128, 66, false),
    GPTQ_ROW("gptq3s_g32",   kQ + 13, 3, 32, 14, false),
    GPTQ_ROW("gptq3s_g64",   kQ + 14, 3, 64, 26, false),
    GPTQ_ROW("gptq3s_g128",  kQ + 15, 3, 128, 50, false),
    GPTQ_ROW("gptq2s_g32",   kQ + 16, 2, 32, 10, false),
    GPTQ_ROW("gptq2s_g64",   kQ + 17, 2, 64, 18, false),
    GPTQ_ROW("gptq2s_g128",  kQ + 18, 2, 128, 34, false),
    {"nf4",    kQ + 19, 64,  34,  true,  nf4_to_float,     nf4_from_float,     Type::Q8_A},
    {"nf4_dq", kQ + 20, 256, 134, true,  nf4_dq_to_float,  nf4_dq_from_float,  Type::Q8_A},
    {"q5_0",   6,    32,   22,   true,  q5_0_to_float, q5_0_from_float,    Type::Q8_0},
    {"q5_1",   7,    32,   24,   true,  q5_1_to_float, q5_1_from_float,    Type::Q8_A},
    {"iq4_nl", 20,   32,   18,   true,  iq4_nl_to_float, iq4_nl_from_float,  Type::Q8_0},
    {"q2_K",   10,   256,  84,   true,  q2_k_to_float, nullptr /*q2_k_from_float*/,    Type::Q8_K},
    {"q3_K",   11,   256,  110,  true,  q3_k_to_float, nullptr /*q3_k_from_float*/,    Type::Q8_K},
    {"q4_K",   12,   256,  144,  true,  q4_k_to_float, nullptr /*q4_k_from_float*/,    Type::Q8_K},
    {"q5_K",   13,   256,  176,  true,  q5_k_to_float, nullptr /*q5_k_from_float*/,    Type::Q8_K},
    {"q6_K",   14,   256,  210,  true,  q6_k_to_float, nullptr /*q6_k_from_float*/,    Type::Q8_K},
    {"q8_K",   15,   256,  292,  true,  q8_k_to_float, q8_k_from_float,    Type::Q8_K},
    {"nf4_f32", kQ + 21, 64, 36,  true,  nf4_f32_to_float, nf4_f32_from_float, Type::Q8_A},
    {"fp4_f32", kQ + 22, 64, 36,  true,  fp4_f32_to_float, fp4_f32_from_float, Type::Q8_A},
};
#undef GPTQ_ROW

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
