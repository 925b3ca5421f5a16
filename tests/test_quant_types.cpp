// The quantized block types: traits rows agree with the documented layouts,
// quantize → dequantize stays within each type's documented error bound,
// and the packers reproduce checkpoint integers exactly.
#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "qgml/error.h"
#include "qgml/fp16.h"
#include "qgml/quant.h"
#include "qgml/types.h"
#include "quant_test_util.h"
#include "quants.h"
#include "test_util.h"

namespace qgml {
namespace {

std::vector<float> gaussian(size_t n, uint32_t seed, float sigma) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> dist(0.0f, sigma);
  std::vector<float> v(n);
  for (float& x : v) x = dist(rng);
  return v;
}

std::vector<float> roundtrip(Type t, const std::vector<float>& x) {
  std::vector<uint8_t> q(row_size(t, static_cast<int64_t>(x.size())));
  traits(t).from_float(x.data(), q.data(), static_cast<int64_t>(x.size()));
  std::vector<float> y(x.size());
  traits(t).to_float(q.data(), y.data(), static_cast<int64_t>(x.size()));
  return y;
}

float group_amax(const std::vector<float>& x, size_t i, size_t g) {
  const size_t b = i / g * g;
  float a = 0.0f;
  for (size_t j = b; j < std::min(x.size(), b + g); ++j) a = std::max(a, std::fabs(x[j]));
  return a;
}

float group_range(const std::vector<float>& x, size_t i, size_t g) {
  const size_t b = i / g * g;
  float lo = 0.0f, hi = 0.0f;
  for (size_t j = b; j < std::min(x.size(), b + g); ++j) {
    lo = std::min(lo, x[j]);
    hi = std::max(hi, x[j]);
  }
  return hi - lo;
}

// The largest half-gap between neighbouring NF4 code values.
float nf4_half_gap() {
  float g = 0.0f;
  for (int i = 0; i < 15; ++i) g = std::max(g, (kNF4[i + 1] - kNF4[i]) / 2);
  return g;
}

// Documented bound of |x − dequantize(quantize(x))| for element i (gguf-spec.md).
// 2^-9 · amax covers the f16 rounding of stored scales/minimums.
float error_bound(Type t, const std::vector<float>& x, size_t i) {
  GptqFormat f;
  if (gptq_format(t, &f)) {
    const int maxq = (1 << f.bits) - 1;
    const float d = f.asym ? group_range(x, i, f.group) / maxq : 2 * group_amax(x, i, f.group) / maxq;
    return 0.5f * d + std::ldexp(group_amax(x, i, f.group), -9) + 1e-7f;
  }
  switch (t) {
    case Type::Q8_0: return group_amax(x, i, 32) / 254 + std::ldexp(group_amax(x, i, 32), -9) + 1e-7f;
    case Type::Q4_0: return group_amax(x, i, 32) / 8 + std::ldexp(group_amax(x, i, 32), -9) + 1e-7f;
    case Type::Q4_1:
    case Type::Q5_1: {
      const size_t b = i / 32 * 32;
      float lo = x[b], hi = x[b];
      for (size_t j = b; j < std::min(x.size(), b + 32); ++j) lo = std::min(lo, x[j]), hi = std::max(hi, x[j]);
      if (b + 32 > x.size()) lo = std::min(lo, 0.0f), hi = std::max(hi, 0.0f);  // zero padding joins the block
      return 0.5f * (hi - lo) / (t == Type::Q4_1 ? 15 : 31) + std::ldexp(group_amax(x, i, 32), -9) + 1e-7f;
    }
    // The opposite sign of the largest value clamps one step short: d = amax/16.
    case Type::Q5_0: return group_amax(x, i, 32) / 16 + std::ldexp(group_amax(x, i, 32), -9) + 1e-7f;
    // d ≈ amax/127 (refit by least squares); the widest steps: 113 → 127·d and 89 → 113.
    case Type::IQ4_NL: return group_amax(x, i, 32) * 16 / 127 + std::ldexp(group_amax(x, i, 32), -9) + 1e-7f;
    case Type::NF4_F32: return nf4_half_gap() * group_amax(x, i, 64) * 1.0001f + 1e-7f;  // exact f32 absmax
    case Type::FP4_F32: return group_amax(x, i, 64) / 6 * 1.0001f + 1e-7f;  // half of FP4's widest gap, 2/3 → 1
    case Type::Q8_A: return group_amax(x, i, 256) / 254 * 1.0001f + 1e-7f;
    case Type::NF4: return nf4_half_gap() * group_amax(x, i, 64) + std::ldexp(group_amax(x, i, 64), -9) + 1e-7f;
    case Type::NF4_DQ: {
      // The sub-block scale d·sc is within d/2 of its absmax, d = super-block max / 255.
      const float d = group_amax(x, i, 256) / 255;
      return nf4_half_gap() * (group_amax(x, i, 64) + d) + 0.5f * d + std::ldexp(group_amax(x, i, 256), -8) + 1e-7f;
    }
    default: return 0.0f;
  }
}

std::vector<Type> all_quant_types() {
  std::vector<Type> v = test::quant_weight_types();
  v.push_back(Type::Q8_A);
  return v;
}

TEST(QuantTypes, TraitsMatchTheLayouts) {
  std::set<uint32_t> ids;
  std::set<std::string> names;
  for (int i = 0; i < kTypeCount; ++i) {
    const TypeTraits& tr = traits(static_cast<Type>(i));
    EXPECT_TRUE(ids.insert(tr.gguf_id).second) << tr.name;
    EXPECT_TRUE(names.insert(tr.name).second) << tr.name;
    Type back;
    ASSERT_TRUE(type_from_name(tr.name, &back));
    EXPECT_EQ(static_cast<int>(back), i);
  }
  int n_gptq = 0;
  for (int i = 0; i < kTypeCount; ++i) {
    const Type t = static_cast<Type>(i);
    GptqFormat f;
    if (!gptq_format(t, &f)) continue;
    ++n_gptq;
    EXPECT_EQ(traits(t).block_size, f.group) << type_name(t);
    EXPECT_EQ(traits(t).type_size, static_cast<size_t>(2 + (f.asym ? 1 : 0) + f.group * f.bits / 8)) << type_name(t);
    EXPECT_EQ(traits(t).vec_dot_type, Type::Q8_A);
    EXPECT_EQ(gptq_type(f.bits, f.group, f.asym), t);
    EXPECT_EQ(traits(t).gguf_id >> 16, 0x5147u) << type_name(t);
    EXPECT_EQ(std::string(type_name(t)),
              "gptq" + std::to_string(f.bits) + (f.asym ? "" : "s") + "_g" + std::to_string(f.group));
  }
  EXPECT_EQ(n_gptq, 18);
  EXPECT_EQ(traits(Type::Q4_1).gguf_id, 3u);  // llama.cpp's GGML_TYPE_Q4_1
  EXPECT_EQ(traits(Type::Q4_1).type_size, 20u);
  EXPECT_EQ(row_size(Type::GPTQ4_G128, 172), 2 * 67u);  // padded to whole groups
  EXPECT_THROW(gptq_type(5, 128, true), Error);
}

TEST(QuantTypes, Nf4IntegerTableIsTheRoundedCodes) {
  const double unit = 32767.0;
  EXPECT_EQ(static_cast<double>(kNF4IntUnit), static_cast<double>(1.0f / static_cast<float>(unit)));
  int max_code = 0;
  for (int i = 0; i < 16; ++i) {
    EXPECT_EQ(kNF4Int[i], std::lround(unit * kNF4[i])) << i;
    // What the kernels' error bound (gguf-spec.md Q.5) rests on: every code
    // within half a unit (1/65534 of absmax) of the float code.
    EXPECT_LE(std::fabs(kNF4Int[i] - unit * kNF4[i]), 0.5) << i;
    max_code = std::max(max_code, std::abs(static_cast<int>(kNF4Int[i])));
  }
  // A 64-code sub-block's integer sum fits int32 (every level sums it there).
  EXPECT_LT(64.0 * max_code * 127, 2147483648.0);
  for (int i = 0; i < 15; ++i) EXPECT_LT(kNF4[i], kNF4[i + 1]);
  EXPECT_EQ(kNF4[7], 0.0f);
}

TEST(QuantTypes, RoundTripWithinDocumentedBounds) {
  for (Type t : all_quant_types()) {
    for (int64_t k : test::odd_lengths()) {
      for (int dist = 0; dist < 3; ++dist) {
        std::vector<float> x = dist == 0   ? test::random_floats(static_cast<size_t>(k), 7 + static_cast<uint32_t>(k))
                               : dist == 1 ? gaussian(static_cast<size_t>(k), 11 + static_cast<uint32_t>(k), 0.02f)
                                           : test::random_floats(static_cast<size_t>(k), 5, 0.5f, 3.0f);  // one-signed
        if (dist == 1 && k > 40) x[37] = 0.5f;  // an outlier
        const std::vector<float> y = roundtrip(t, x);
        double sq = 0.0, ref = 0.0;
        int bad = 0;
        for (size_t i = 0; i < x.size(); ++i) {
          const float err = std::fabs(x[i] - y[i]);
          sq += static_cast<double>(err) * err;
          ref += static_cast<double>(x[i]) * x[i];
          if (err > error_bound(t, x, i) && bad++ < 3)
            ADD_FAILURE() << type_name(t) << " k=" << k << " dist=" << dist << " i=" << i << " x=" << x[i]
                          << " y=" << y[i] << " bound=" << error_bound(t, x, i);
        }
        EXPECT_LT(sq, ref) << type_name(t) << ": quantization lost the signal";
      }
    }
  }
}

TEST(QuantTypes, GptqByteLayoutIsTheDocumentedOne) {
  // gptq4_g128: element e in byte 3 + e % 64, low nibble for e < 64.
  std::vector<uint8_t> q(128);
  for (int e = 0; e < 128; ++e) q[e] = static_cast<uint8_t>(e % 16);
  const float scale = 0.5f;
  const uint8_t zero = 9;
  std::vector<uint8_t> blk(row_size(Type::GPTQ4_G128, 128));
  pack_gptq_row(Type::GPTQ4_G128, 128, q.data(), &scale, &zero, blk.data());
  uint16_t d;
  std::memcpy(&d, blk.data(), 2);
  EXPECT_EQ(d, f32_to_fp16(0.5f));
  EXPECT_EQ(blk[2], 9);
  EXPECT_EQ(blk[3 + 5], 5 | (69 % 16) << 4);
  // gptq3s_g32: 8 bytes of 2-bit plane (element e: byte e % 8, bits 2·(e/8)),
  // then 4 bytes of 1-bit plane (element e: byte e % 4, bit e / 4).
  std::vector<uint8_t> q3(32, 0);
  q3[13] = 7;  // low bits 3 → byte 5, bits 2-3; high bit → byte 1, bit 3
  std::vector<uint8_t> b3(row_size(Type::GPTQ3S_G32, 32));
  pack_gptq_row(Type::GPTQ3S_G32, 32, q3.data(), &scale, nullptr, b3.data());
  EXPECT_EQ(b3.size(), 14u);
  for (size_t i = 2; i < b3.size(); ++i) {
    const int expect = i == 2 + 5 ? 3 << 2 : i == 2 + 8 + 1 ? 1 << 3 : 0;
    EXPECT_EQ(b3[i], expect) << "byte " << i;
  }
}

TEST(QuantTypes, PackGptqReproducesCheckpointIntegers) {
  std::mt19937 rng(3);
  for (int i = static_cast<int>(Type::GPTQ4_G32); i <= static_cast<int>(Type::GPTQ2S_G128); ++i) {
    const Type t = static_cast<Type>(i);
    GptqFormat f;
    ASSERT_TRUE(gptq_format(t, &f));
    for (int64_t k : {int64_t(172), int64_t(256), int64_t(33)}) {
      const int64_t ng = (k + f.group - 1) / f.group;
      std::vector<uint8_t> q(static_cast<size_t>(k)), z(static_cast<size_t>(ng));
      std::vector<float> s(static_cast<size_t>(ng));
      for (auto& v : q) v = static_cast<uint8_t>(rng() % (1u << f.bits));
      for (auto& v : z) v = static_cast<uint8_t>(rng() % (1u << f.bits));
      for (auto& v : s) v = 0.001f + static_cast<float>(rng() % 1000) * 1e-5f;
      std::vector<uint8_t> row(row_size(t, k));
      pack_gptq_row(t, k, q.data(), s.data(), z.data(), row.data());
      std::vector<float> y(static_cast<size_t>(ng * f.group));
      traits(t).to_float(row.data(), y.data(), ng * f.group);
      for (int64_t c = 0; c < ng * f.group; ++c) {
        const int64_t g = c / f.group;
        const int zz = f.asym ? z[g] : 1 << (f.bits - 1);
        const float expect = c < k ? fp16_to_f32(f32_to_fp16(s[g])) * static_cast<float>(q[c] - zz) : 0.0f;
        ASSERT_EQ(y[c], expect) << type_name(t) << " k=" << k << " column " << c;
      }
    }
  }
  const uint8_t bad = 16;
  const float s = 1.0f;
  std::vector<uint8_t> row(row_size(Type::GPTQ4_G32, 32));
  std::vector<uint8_t> q(32, 0);
  EXPECT_THROW(pack_gptq_row(Type::GPTQ4_G32, 32, q.data(), &s, &bad, row.data()), Error);
  q[3] = 16;
  const uint8_t z = 1;
  EXPECT_THROW(pack_gptq_row(Type::GPTQ4_G32, 32, q.data(), &s, &z, row.data()), Error);
}

TEST(QuantTypes, PackNf4ReproducesCodesAndAbsmax) {
  std::mt19937 rng(9);
  const int64_t k = 300;  // 5 blocks of 64, the last partial
  std::vector<uint8_t> codes(k);
  for (auto& c : codes) c = static_cast<uint8_t>(rng() % 16);
  std::vector<float> absmax = {0.5f, 0.25f, 0.125f, 0.3f, 0.01f};
  std::vector<uint8_t> row(row_size(Type::NF4, k));
  pack_nf4_row(Type::NF4, k, codes.data(), absmax.data(), row.data());
  std::vector<float> y(320);
  traits(Type::NF4).to_float(row.data(), y.data(), 320);
  for (int64_t i = 0; i < 320; ++i) {
    const float expect = i < k ? fp16_to_f32(f32_to_fp16(absmax[i / 64])) * kNF4[codes[i]] : 0.0f;
    ASSERT_EQ(y[i], expect) << i;
  }
  // NF4_DQ: each absmax within half a step (top/255/2) of the original.
  std::vector<uint8_t> row2(row_size(Type::NF4_DQ, k));
  pack_nf4_row(Type::NF4_DQ, k, codes.data(), absmax.data(), row2.data());
  std::vector<float> y2(512);
  traits(Type::NF4_DQ).to_float(row2.data(), y2.data(), 512);
  for (int64_t i = 0; i < k; ++i) {
    const float top = i < 256 ? 0.5f : 0.01f;
    EXPECT_NEAR(y2[i], absmax[i / 64] * kNF4[codes[i]], top / 255 * 0.5f * 1.01f + top * 1e-3f) << i;
  }
  for (int64_t i = k; i < 512; ++i) EXPECT_EQ(y2[i], 0.0f) << i;
}

}  // namespace
}  // namespace qgml
