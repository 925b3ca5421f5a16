// Packing already-quantized checkpoints into qgml block types (qgml/quant.h).
#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

#include "qgml/error.h"
#include "qgml/quant.h"
#include "quants.h"

namespace qgml {

Type gptq_type(int bits, int group, bool asym) {
  for (int i = static_cast<int>(Type::GPTQ4_G32); i <= static_cast<int>(Type::GPTQ2S_G128); ++i) {
    GptqFormat f;
    if (gptq_format(static_cast<Type>(i), &f) && f.bits == bits && f.group == group && f.asym == asym)
      return static_cast<Type>(i);
  }
  fail("no GPTQ type for %d bits, group %d, %s", bits, group, asym ? "asymmetric" : "symmetric");
}

bool is_gptq_type(Type t, int* bits, int* group, bool* asym) {
  GptqFormat f;
  if (!gptq_format(t, &f)) return false;
  *bits = f.bits;
  *group = f.group;
  *asym = f.asym;
  return true;
}

void pack_gptq_row(Type t, int64_t k, const uint8_t* q, const float* scales, const uint8_t* zeros, void* dst) {
  GptqFormat f;
  if (!gptq_format(t, &f)) fail("pack_gptq_row: %s is not a GPTQ type", type_name(t));
  if (f.asym && zeros == nullptr) fail("pack_gptq_row: %s needs zero points", type_name(t));
  const int maxq = (1 << f.bits) - 1;
  uint8_t* p = static_cast<uint8_t*>(dst);
  for (int64_t g = 0; g * f.group < k; ++g, p += f.bytes()) {
    const uint16_t d = f32_to_fp16(scales[g]);
    const int z = f.asym ? zeros[g] : 1 << (f.bits - 1);
    if (z > maxq) fail("pack_gptq_row: zero point %d does not fit %d bits", z, f.bits);
    std::memcpy(p, &d, 2);
    if (f.asym) p[2] = static_cast<uint8_t>(z);
    uint8_t* qs = p + f.header();
    std::memset(qs, 0, static_cast<size_t>(f.bytes() - f.header()));
    for (int e = 0; e < f.group; ++e) {
      const int64_t col = g * f.group + e;
      const int v = col < k ? q[col] : z;  // padding decodes to d·(z − z) = 0
      if (v > maxq) fail("pack_gptq_row: quant %d of column %lld does not fit %d bits", v, static_cast<long long>(col), f.bits);
      if (f.bits == 3) {
        plane_set(qs, 2, f.group, e, v & 3);
        plane_set(qs + f.group / 4, 1, f.group, e, v >> 2);
      } else {
        plane_set(qs, f.bits, f.group, e, v);
      }
    }
  }
}

namespace {

constexpr int kZeroCode = 7;  // kNF4[7] == 0

void pack_codes64(const uint8_t* codes, int64_t avail, uint8_t* qs) {
  auto code = [&](int j) -> int {
    if (j >= avail) return kZeroCode;
    if (codes[j] > 15) fail("pack_nf4_row: code %d is not 4-bit", codes[j]);
    return codes[j];
  };
  for (int j = 0; j < 32; ++j) qs[j] = static_cast<uint8_t>(code(j) | code(j + 32) << 4);
}

}  // namespace

void pack_nf4_row(Type t, int64_t k, const uint8_t* codes, const float* absmax, void* dst) {
  if (t == Type::NF4) {
    BlockNF4* out = static_cast<BlockNF4*>(dst);
    for (int64_t b = 0; b * kQKNF4 < k; ++b) {
      out[b].d = f32_to_fp16(absmax[b]);
      pack_codes64(codes + b * kQKNF4, k - b * kQKNF4, out[b].qs);
    }
    return;
  }
  if (t != Type::NF4_DQ) fail("pack_nf4_row: %s is not an NF4 type", type_name(t));
  BlockNF4DQ* out = static_cast<BlockNF4DQ*>(dst);
  const int64_t nsub = (k + kQKNF4 - 1) / kQKNF4;
  for (int64_t b = 0; b * kQKNF4DQ < k; ++b) {
    float am[4], top = 0.0f;
    for (int s = 0; s < 4; ++s) top = std::fmax(top, am[s] = 4 * b + s < nsub ? std::fabs(absmax[4 * b + s]) : 0.0f);
    out[b].d = f32_to_fp16(top / 255.0f);
    const float d = fp16_to_f32(out[b].d);
    for (int s = 0; s < 4; ++s) {
      int c = d > 0.0f ? static_cast<int>(std::nearbyint(am[s] / d)) : 0;
      if (am[s] > 0.0f && d > 0.0f) c = std::max(1, c);
      out[b].sc[s] = static_cast<uint8_t>(std::min(255, c));
      const int64_t e0 = b * kQKNF4DQ + 64 * s;
      pack_codes64(codes + std::min(e0, k), k - e0, out[b].qs + 32 * s);
    }
  }
}

int64_t first_non_permutation_entry(const int32_t* p, int64_t n) {
  std::vector<bool> seen(static_cast<size_t>(n), false);
  for (int64_t i = 0; i < n; ++i) {
    if (p[i] < 0 || p[i] >= n || seen[static_cast<size_t>(p[i])]) return i;
    seen[static_cast<size_t>(p[i])] = true;
  }
  return -1;
}

}  // namespace qgml
