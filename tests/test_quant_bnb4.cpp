// bitsandbytes' 4-bit blocks with an f32 absmax (nf4_f32, fp4_f32):
//  - the code books against bitsandbytes' own values, typed in here from its
//    source (functional.py's NF4 list; FP4 rebuilt as it builds it, the list
//    {0, 0.0625, 8, 12, 4, 6, 2, 3} and its negatives divided by 12 in
//    float32, and its CUDA dDequantizeFP4Tree literals);
//  - the byte layout the bitsandbytes importer relies on, byte by byte;
//  - to_float of random blocks against values decoded here independently;
//  - every level's dot kernel against the dequantized values in double.
#include <cfloat>
#include <cmath>
#include <cstring>
#include <random>
#include <vector>

#include "cpu/kernels.h"
#include "quant_test_util.h"
#include "quants.h"
#include "quants_bnb.h"
#include "test_util.h"

namespace qgml {
namespace {

// bitsandbytes/functional.py, get_4bit_type("nf4") (Python floats, stored as float32).
const double kBnbNF4[16] = {-1.0,
                            -0.6961928009986877,
                            -0.5250730514526367,
                            -0.39491748809814453,
                            -0.28444138169288635,
                            -0.18477343022823334,
                            -0.09105003625154495,
                            0.0,
                            0.07958029955625534,
                            0.16093020141124725,
                            0.24611230194568634,
                            0.33791524171829224,
                            0.44070982933044434,
                            0.5626170039176941,
                            0.7229568362236023,
                            1.0};

// get_4bit_type("fp4"): this list as a float32 tensor, divided by its largest magnitude.
std::vector<float> bnb_fp4() {
  const float raw[16] = {0, 0.0625f, 8, 12, 4, 6, 2, 3, -0.0f, -0.0625f, -8, -12, -4, -6, -2, -3};
  std::vector<float> v(raw, raw + 16);
  for (float& x : v) x /= 12.0f;
  return v;
}

// csrc/kernels.cu dDequantizeFP4Tree's literals for codes 0..7 (8..15 negate them).
const float kBnbFP4Cuda[8] = {0.0f, 5.208333333e-03f, 0.66666667f, 1.00000000f,
                              0.33333333f, 0.50000000f, 0.16666667f, 0.25000000f};

bool same_bits(float a, float b) { return std::memcmp(&a, &b, 4) == 0; }

TEST(QuantBnb4, CodeBooksAreBitsandbytes) {
  const std::vector<float> fp4 = bnb_fp4();
  for (int c = 0; c < 16; ++c) {
    EXPECT_TRUE(same_bits(kNF4[c], static_cast<float>(kBnbNF4[c]))) << "nf4 code " << c;
    EXPECT_TRUE(same_bits(kFP4[c], fp4[c])) << "fp4 code " << c << ": " << kFP4[c] << " vs " << fp4[c];
    const float cuda = c < 8 ? kBnbFP4Cuda[c] : -kBnbFP4Cuda[c - 8];
    EXPECT_TRUE(same_bits(kFP4[c], cuda)) << "fp4 code " << c;
    // The kernels' integers: the real value k/192 rounds to the float code.
    EXPECT_TRUE(same_bits(static_cast<float>(kFP4Int[c] / 192.0), std::fabs(kFP4[c]) == 0 ? 0.0f : kFP4[c])) << c;
  }
  EXPECT_TRUE(std::signbit(kFP4[8])) << "fp4 code 8 is -0, as bitsandbytes decodes it";
}

TEST(QuantBnb4, ByteLayout) {
  EXPECT_EQ(traits(Type::NF4_F32).gguf_id, 0x51470000u + 21);
  EXPECT_EQ(traits(Type::FP4_F32).gguf_id, 0x51470000u + 22);
  for (Type t : {Type::NF4_F32, Type::FP4_F32}) {
    EXPECT_EQ(traits(t).block_size, 64);
    EXPECT_EQ(traits(t).type_size, 36u);
  }
  // absmax 2.0f little-endian, then element j in the low nibble of byte 4+j,
  // element j+32 in the high nibble.
  uint8_t b[36] = {0x00, 0x00, 0x00, 0x40};
  b[4] = 0x3f;   // element 0: code 15, element 32: code 3
  b[35] = 0xa1;  // element 31: code 1, element 63: code 10
  float y[64];
  nf4_f32_to_float(b, y, 64);
  EXPECT_EQ(y[0], 2.0f);
  EXPECT_EQ(y[32], 2.0f * static_cast<float>(kBnbNF4[3]));
  EXPECT_EQ(y[31], 2.0f * static_cast<float>(kBnbNF4[1]));
  EXPECT_EQ(y[63], 2.0f * static_cast<float>(kBnbNF4[10]));
  EXPECT_EQ(y[5], 2.0f * static_cast<float>(kBnbNF4[0]));  // zero byte: code 0
  fp4_f32_to_float(b, y, 64);
  EXPECT_EQ(y[0], -0.5f);            // code 15 = −3/12
  EXPECT_EQ(y[32], 2.0f);            // code 3 = 12/12
  EXPECT_EQ(y[31], 2.0f / 192.0f);   // code 1 = 0.0625/12
  EXPECT_EQ(y[63], 2.0f * (-8.0f / 12.0f));
}

TEST(QuantBnb4, ToFloatOfRandomBlocks) {
  const std::vector<float> fp4 = bnb_fp4();
  std::mt19937 rng(77);
  std::uniform_real_distribution<float> am(0.0f, 3.0f);
  const int nb = 50;
  std::vector<uint8_t> q(nb * 36);
  for (auto& v : q) v = static_cast<uint8_t>(rng());
  for (int i = 0; i < nb; ++i) {
    const float a = i == 3 ? 0.0f : am(rng);
    std::memcpy(q.data() + 36 * i, &a, 4);
  }
  for (Type t : {Type::NF4_F32, Type::FP4_F32}) {
    for (Isa isa : test::runnable_isas()) {
      std::vector<float> y(nb * 64, NAN);
      kernels_for(isa)[t].to_float(q.data(), y.data(), nb * 64);
      for (int i = 0; i < nb; ++i) {
        const uint8_t* blk = q.data() + 36 * i;
        float absmax;
        std::memcpy(&absmax, blk, 4);
        for (int e = 0; e < 64; ++e) {
          const int code = e < 32 ? blk[4 + e] & 15 : blk[4 + e - 32] >> 4;
          const float want = (t == Type::NF4_F32 ? static_cast<float>(kBnbNF4[code]) : fp4[code]) * absmax;
          ASSERT_TRUE(same_bits(y[i * 64 + e], want))
              << type_name(t) << " " << isa_name(isa) << " block " << i << " element " << e << ": " << y[i * 64 + e]
              << " vs " << want;
        }
      }
    }
  }
}

// Quantizing values that are exactly absmax·code gives those codes back.
TEST(QuantBnb4, FromFloatRecoversExactCodes) {
  std::mt19937 rng(5);
  for (Type t : {Type::NF4_F32, Type::FP4_F32}) {
    std::vector<uint8_t> q(36 * 8);
    for (auto& v : q) v = static_cast<uint8_t>(rng());
    for (int i = 0; i < 8; ++i) {
      const float a = 0.25f * static_cast<float>(i + 1);
      std::memcpy(q.data() + 36 * i, &a, 4);
      q[36 * i + 4] = static_cast<uint8_t>((q[36 * i + 4] & 0xf0) | (t == Type::NF4_F32 ? 15 : 3));  // absmax attained
      if (t == Type::FP4_F32)  // −0 and 0 decode alike; use the +0 code for both
        for (int j = 0; j < 32; ++j) {
          uint8_t& b = q[36 * i + 4 + j];
          if ((b & 15) == 8) b = static_cast<uint8_t>(b & 0xf0);
          if ((b >> 4) == 8) b = static_cast<uint8_t>(b & 0x0f);
        }
    }
    std::vector<float> y(8 * 64);
    traits(t).to_float(q.data(), y.data(), 8 * 64);
    std::vector<uint8_t> back(q.size());
    traits(t).from_float(y.data(), back.data(), 8 * 64);
    EXPECT_EQ(std::memcmp(back.data(), q.data(), q.size()), 0) << type_name(t);
  }
}

// Every level's dot on random weights against the double dot of the
// dequantized values. FP4's integer codes are exact (k/192), so only float
// rounding of per-block terms remains; NF4's kNF4Int is within half a unit,
// 1/65534 of absmax, of each code (test_quant_types).
TEST(QuantBnb4, DotMatchesDequantized) {
  for (Type t : {Type::NF4_F32, Type::FP4_F32}) {
    for (int64_t k : test::odd_lengths()) {
      const std::vector<float> wx = test::random_floats(static_cast<size_t>(k), 3 + static_cast<uint32_t>(k));
      const std::vector<float> ax = test::random_floats(static_cast<size_t>(k), 4 + static_cast<uint32_t>(k), -2, 2);
      std::vector<uint8_t> w(row_size(t, k)), a(row_size(Type::Q8_A, k));
      traits(t).from_float(wx.data(), w.data(), k);
      traits(Type::Q8_A).from_float(ax.data(), a.data(), k);
      std::vector<float> wv(static_cast<size_t>(k)), av(static_cast<size_t>(k));
      traits(t).to_float(w.data(), wv.data(), k);
      traits(Type::Q8_A).to_float(a.data(), av.data(), k);
      double exact = 0.0, mag = 0.0;
      for (int64_t i = 0; i < k; ++i) {
        exact += static_cast<double>(wv[i]) * av[i];
        mag += std::fabs(static_cast<double>(wv[i]) * av[i]);
      }
      double table = 0.0;  // |w| ≤ absmax ≤ 1
      if (t == Type::NF4_F32)
        for (int64_t i = 0; i < k; ++i) table += std::fabs(static_cast<double>(av[i])) * 0.5 / 32767 * 1.01;
      const double tol = table + (k / 64.0 + 8) * 2 * FLT_EPSILON * mag + 1e-7;
      for (Isa isa : test::runnable_isas()) {
        const float got = kernels_for(isa)[t].vec_dot(k, w.data(), a.data());
        EXPECT_NEAR(got, exact, tol) << type_name(t) << " " << isa_name(isa) << " k=" << k;
      }
    }
  }
}

}  // namespace
}  // namespace qgml
