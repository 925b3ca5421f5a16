// llama.cpp's Q5_0, Q5_1 and IQ4_NL (and Q8_0 from the same files):
//  - to_float against values computed here, independently, from hand-built
//    blocks of random bytes (bit reads spelled out element by element);
//  - to_float of real tensors of llama.cpp's own stories260K files against
//    llama.cpp's own dequantization, bit for bit;
//  - the reference quantizers against llama.cpp's quantize_row_*_ref on the
//    same input, byte for byte;
//  - every level's dot kernel against the dequantized values in double.
//
// The golden files in tests/data/legacy_quants were written by a small C++
// program outside this repository, linked to llama.cpp's libggml-base
// (commit c392e509, the build in /work/llamacpp/build, compiled without
// -march, i.e. no FMA): for each tensor below it read the tensor's bytes at
// gguf_get_data_offset + gguf_get_tensor_offset and wrote
// ggml_get_type_traits(type)->to_float of the whole tensor as raw
// little-endian f32 (<file>.<tensor>.<type>.<rows>x<cols>.f32); it wrote 64
// blocks of 32 test inputs (rtn_input.2048.f32: an all-zero block, a single
// non-zero, exact halves, a constant block, values below 1e-15, alternating
// signs, then normal values at scales 2^-4..2^4, some offset) and
// ggml_get_type_traits(t)->from_float_ref of them for q5_0, q5_1, iq4_nl and
// q8_0 (rtn_<type>.bin: quantize_row_<type>_ref's bytes).
#include <cfloat>
#include <cmath>
#include <cstring>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include "cpu/kernels.h"
#include "qgml/fp16.h"
#include "qgml/gguf.h"
#include "quant_test_util.h"
#include "quants.h"
#include "test_util.h"

namespace qgml {
namespace {

// llama.cpp's kvalues_iq4nl (ggml-quants.c), typed in from its source.
const int kIq4Values[16] = {-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113};

std::string golden_dir() { return test::source_dir() + "/tests/data/legacy_quants"; }

std::vector<uint8_t> read_bytes(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  EXPECT_TRUE(f.good()) << path;
  return std::vector<uint8_t>((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
}

std::vector<float> read_f32(const std::string& path) {
  const std::vector<uint8_t> b = read_bytes(path);
  std::vector<float> v(b.size() / 4);
  std::memcpy(v.data(), b.data(), v.size() * 4);
  return v;
}

// Bit i of a little-endian bit string.
int bit(const uint8_t* p, int i) { return (p[i / 8] >> (i % 8)) & 1; }
// Element e (0..31) of a 32-block's nibbles: e < 16 low nibble of byte e, else high nibble of byte e − 16.
int nibble(const uint8_t* qs, int e) { return e < 16 ? qs[e] & 15 : qs[e - 16] >> 4; }

// Random blocks of `bytes` bytes whose leading f16 fields (n_f16 of them) are sane scales.
std::vector<uint8_t> random_blocks(int nb, size_t bytes, int n_f16, uint32_t seed) {
  std::mt19937 rng(seed);
  std::vector<uint8_t> v(nb * bytes);
  for (auto& b : v) b = static_cast<uint8_t>(rng());
  std::uniform_real_distribution<float> scale(-0.05f, 0.05f);
  for (int i = 0; i < nb; ++i)
    for (int f = 0; f < n_f16; ++f) {
      const uint16_t h = f32_to_fp16(scale(rng));
      std::memcpy(v.data() + i * bytes + 2 * f, &h, 2);
    }
  return v;
}

float f16_at(const uint8_t* p) {
  uint16_t h;
  std::memcpy(&h, p, 2);
  return fp16_to_f32(h);
}

// Expected values of one block, computed from the documented layout (gguf-spec.md §7).
float expected(Type t, const uint8_t* b, int e) {
  switch (t) {
    case Type::Q5_0: return static_cast<float>((nibble(b + 6, e) | bit(b + 2, e) << 4) - 16) * f16_at(b);
    case Type::Q5_1: {
      const float p = static_cast<float>(nibble(b + 8, e) | bit(b + 4, e) << 4) * f16_at(b);
      return p + f16_at(b + 2);
    }
    case Type::IQ4_NL: return f16_at(b) * static_cast<float>(kIq4Values[nibble(b + 2, e)]);
    default: return NAN;
  }
}

TEST(QuantQ5Iq4, ToFloatOfHandBuiltBlocks) {
  for (Type t : {Type::Q5_0, Type::Q5_1, Type::IQ4_NL}) {
    const TypeTraits& tr = traits(t);
    ASSERT_NE(tr.to_float, nullptr) << tr.name;
    const int nb = 40;
    const std::vector<uint8_t> q = random_blocks(nb, tr.type_size, t == Type::Q5_1 ? 2 : 1, 7 + tr.gguf_id);
    for (Isa isa : test::runnable_isas()) {
      std::vector<float> y(nb * 32, NAN);
      kernels_for(isa)[t].to_float(q.data(), y.data(), nb * 32);
      for (int i = 0; i < nb; ++i)
        for (int e = 0; e < 32; ++e) {
          const float want = expected(t, q.data() + i * tr.type_size, e);
          ASSERT_EQ(std::memcmp(&y[i * 32 + e], &want, 4), 0)
              << tr.name << " " << isa_name(isa) << " block " << i << " element " << e << ": " << y[i * 32 + e]
              << " vs " << want;
        }
    }
    // A row that ends inside a block writes only its own elements.
    std::vector<float> y(40, -7.0f);
    tr.to_float(q.data(), y.data(), 33);
    EXPECT_EQ(y[33], -7.0f) << tr.name;
    EXPECT_EQ(y[32], expected(t, q.data() + tr.type_size, 0)) << tr.name;
  }
}

struct Golden {
  const char* file;  // under ../shared/data/gguf-llamacpp
  const char* golden;
  const char* tensor;
  Type type;
};

const Golden kGoldens[] = {
    {"stories260K-q4_k_m.gguf", "q4_k_m.blk.0.attn_q.weight.q5_0.64x64.f32", "blk.0.attn_q.weight", Type::Q5_0},
    {"stories260K-q4_k_m.gguf", "q4_k_m.blk.2.attn_v.weight.q8_0.32x64.f32", "blk.2.attn_v.weight", Type::Q8_0},
    {"stories260K-q3_k_m.gguf", "q3_k_m.blk.0.attn_v.weight.q5_1.32x64.f32", "blk.0.attn_v.weight", Type::Q5_1},
    {"stories260K-q3_k_m.gguf", "q3_k_m.blk.1.attn_v.weight.q5_1.32x64.f32", "blk.1.attn_v.weight", Type::Q5_1},
    {"stories260K-q3_k_m.gguf", "q3_k_m.blk.0.attn_k.weight.iq4_nl.32x64.f32", "blk.0.attn_k.weight", Type::IQ4_NL},
    {"stories260K-q2_k.gguf", "q2_k.blk.3.attn_output.weight.iq4_nl.64x64.f32", "blk.3.attn_output.weight", Type::IQ4_NL},
};

TEST(QuantQ5Iq4, LlamaCppTensorsDequantizeBitExact) {
  QGML_REQUIRE_SHARED(probe, "data/gguf-llamacpp/stories260K-q3_k_m.gguf");
  for (const Golden& g : kGoldens) {
    const std::string path = test::shared_file(std::string("data/gguf-llamacpp/") + g.file);
    ASSERT_FALSE(path.empty()) << g.file;
    gguf::Reader r(path);
    const gguf::TensorInfo* ti = r.find_tensor(g.tensor);
    ASSERT_NE(ti, nullptr) << g.file << " " << g.tensor;
    ASSERT_EQ(ti->type, g.type) << g.file << " " << g.tensor << " is " << type_name(ti->type);
    const std::vector<float> want = read_f32(golden_dir() + "/" + g.golden);
    const int64_t n = ti->ne[0] * ti->ne[1];
    ASSERT_EQ(static_cast<int64_t>(want.size()), n) << g.golden;
    for (Isa isa : test::runnable_isas()) {
      std::vector<float> got(static_cast<size_t>(n), NAN);
      kernels_for(isa)[g.type].to_float(r.tensor_data(*ti), got.data(), n);
      int64_t bad = 0;
      for (int64_t i = 0; i < n; ++i)
        if (std::memcmp(&got[i], &want[i], 4) != 0 && bad++ < 3)
          ADD_FAILURE() << g.file << " " << g.tensor << " " << isa_name(isa) << " element " << i << ": " << got[i]
                        << " vs llama.cpp's " << want[i];
      EXPECT_EQ(bad, 0) << g.file << " " << g.tensor << " " << isa_name(isa);
    }
  }
}

TEST(QuantQ5Iq4, ReferenceQuantizersMatchLlamaCpp) {
  const std::vector<float> x = read_f32(golden_dir() + "/rtn_input.2048.f32");
  ASSERT_EQ(x.size(), 2048u);
  const int64_t n = static_cast<int64_t>(x.size());
  for (Type t : {Type::Q5_0, Type::Q5_1, Type::Q8_0, Type::IQ4_NL}) {
    const std::vector<uint8_t> want = read_bytes(golden_dir() + "/rtn_" + type_name(t) + ".bin");
    ASSERT_EQ(want.size(), row_size(t, n)) << type_name(t);
    std::vector<uint8_t> got(want.size(), 0xcd);
    traits(t).from_float(x.data(), got.data(), n);
    const size_t bs = traits(t).type_size;
    int bad = 0;
    for (size_t b = 0; b < want.size() / bs; ++b) {
      // llama.cpp leaves the nibbles of an IQ4_NL block with d = 0 (amax <
      // 1e-15) as whatever its stack array L held from the previous block
      // (uninitialised for the first); they decode to 0 whatever they are,
      // and qgml writes zeros. Such blocks compare by their scale only.
      const bool zero_iq4 = t == Type::IQ4_NL && want[b * bs] == 0 && want[b * bs + 1] == 0;
      if (std::memcmp(got.data() + b * bs, want.data() + b * bs, zero_iq4 ? 2 : bs) != 0 && bad++ < 3)
        ADD_FAILURE() << type_name(t) << " block " << b << " differs from llama.cpp's quantize_row_" << type_name(t)
                      << "_ref";
    }
    EXPECT_EQ(bad, 0) << type_name(t);
  }
}

// Every level's vec_dot (and gemm) on real llama.cpp weights against the
// double-precision dot of the dequantized weights with the dequantized
// activations: the kernels sum exact integers per block, so they differ from
// it only by float rounding of the per-block terms.
TEST(QuantQ5Iq4, DotOfLlamaCppTensorsMatchesDequantized) {
  QGML_REQUIRE_SHARED(probe, "data/gguf-llamacpp/stories260K-q3_k_m.gguf");
  for (const Golden& g : kGoldens) {
    gguf::Reader r(test::shared_file(std::string("data/gguf-llamacpp/") + g.file));
    const gguf::TensorInfo* ti = r.find_tensor(g.tensor);
    ASSERT_NE(ti, nullptr);
    const int64_t k = ti->ne[0], rows = ti->ne[1];
    const size_t ws = row_size(g.type, k);
    const std::vector<float> w = read_f32(golden_dir() + "/" + g.golden);
    const Type vdt = traits(g.type).vec_dot_type;
    const std::vector<float> x = test::random_floats(static_cast<size_t>(k), 99, -2.0f, 2.0f);
    std::vector<uint8_t> a(row_size(vdt, k));
    traits(vdt).from_float(x.data(), a.data(), k);
    std::vector<float> av(static_cast<size_t>(k));
    traits(vdt).to_float(a.data(), av.data(), k);
    const uint8_t* wd = static_cast<const uint8_t*>(r.tensor_data(*ti));
    for (Isa isa : test::runnable_isas()) {
      for (int64_t row = 0; row < rows; ++row) {
        double exact = 0.0, mag = 0.0;
        for (int64_t i = 0; i < k; ++i) {
          exact += static_cast<double>(w[row * k + i]) * av[i];
          mag += std::fabs(static_cast<double>(w[row * k + i]) * av[i]);
        }
        const float got = kernels_for(isa)[g.type].vec_dot(k, wd + row * ws, a.data());
        EXPECT_NEAR(got, exact, 8 * FLT_EPSILON * mag + 1e-7)
            << g.file << " " << g.tensor << " row " << row << " " << isa_name(isa);
      }
    }
  }
}

}  // namespace
}  // namespace qgml
