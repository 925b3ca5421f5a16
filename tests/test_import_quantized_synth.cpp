// The GPTQ importer's choices on synthetic checkpoints the real fixtures do
// not cover: group sizes that are multiples of a block (256 → g128 blocks
// repeating the scale), groups no block holds (16 → exact F32), whole-row
// groups with a partial last block, act-order with a random permutation,
// zero points that wrap in the v1 "zero − 1" storage, asymmetric 8-bit.
// Every case must decode to f32(scale) · (q − zero) exactly, computed here
// from the integers the test packed, independently of the importer.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <numeric>
#include <random>
#include <string>
#include <vector>

#include "convert_test_util.h"
#include "import_quant.h"
#include "qgml/fp16.h"
#include "qgml/types.h"
#include "safetensors.h"
#include "test_util.h"

using namespace qgml;
using convert::quant::Config;
using convert::quant::Method;

namespace {

struct Case {
  const char* what;
  int bits;
  int64_t group;  // -1: whole row
  bool sym, act_order;
  int64_t n_in, n_out;
  Type want;
};

// Appends `v` (bits wide) at position idx of a bit stream of 32-bit words
// whose consecutive words are `stride` words apart.
void stream_put(std::vector<uint32_t>& w, int bits, int64_t idx, int64_t stride, int64_t base, uint32_t v) {
  const int64_t bit = idx * bits, k = bit / 32;
  const int s = static_cast<int>(bit % 32);
  w[static_cast<size_t>(base + k * stride)] |= v << s;
  if (s + bits > 32) w[static_cast<size_t>(base + (k + 1) * stride)] |= v >> (32 - s);
}

std::string bytes_of(const void* p, size_t n) { return std::string(static_cast<const char*>(p), n); }

class Synth : public ::testing::TestWithParam<Case> {};

}  // namespace

TEST_P(Synth, ImportsExactly) {
  const Case c = GetParam();
  std::mt19937 rng(1234 + c.bits * 7 + static_cast<unsigned>(c.group));
  const int maxq = (1 << c.bits) - 1;
  const int64_t G = c.group < 0 ? c.n_in : c.group, n_groups = (c.n_in + G - 1) / G;

  // g_idx: i / group, or with act-order the group of the column's rank in a random order.
  std::vector<int32_t> order(static_cast<size_t>(c.n_in)), g_idx(order.size());
  std::iota(order.begin(), order.end(), 0);
  if (c.act_order) std::shuffle(order.begin(), order.end(), rng);
  for (int64_t r = 0; r < c.n_in; ++r) g_idx[static_cast<size_t>(order[static_cast<size_t>(r)])] = static_cast<int32_t>(r / G);

  std::vector<int> q(static_cast<size_t>(c.n_out * c.n_in)), z(static_cast<size_t>(n_groups * c.n_out));
  std::vector<uint16_t> s(z.size());
  for (int& x : q) x = static_cast<int>(rng() % (maxq + 1));
  for (size_t i = 0; i < z.size(); ++i) {
    z[i] = c.sym ? 1 << (c.bits - 1) : static_cast<int>(rng() % (maxq + 1));  // includes 0: wraps in v1 storage
    s[i] = f32_to_fp16(std::uniform_real_distribution<float>(1e-3f, 0.1f)(rng));
  }
  // AutoGPTQ v1 packing: qweight [n_in·bits/32, n_out], qzeros [n_groups, n_out·bits/32] holding z − 1.
  std::vector<uint32_t> qw(static_cast<size_t>(c.n_in * c.bits / 32 * c.n_out)), qz(static_cast<size_t>(n_groups * c.n_out * c.bits / 32));
  for (int64_t o = 0; o < c.n_out; ++o)
    for (int64_t i = 0; i < c.n_in; ++i) stream_put(qw, c.bits, i, c.n_out, o, static_cast<uint32_t>(q[static_cast<size_t>(o * c.n_in + i)]));
  for (int64_t g = 0; g < n_groups; ++g)
    for (int64_t o = 0; o < c.n_out; ++o)
      stream_put(qz, c.bits, o, 1, g * (c.n_out * c.bits / 32), static_cast<uint32_t>((z[static_cast<size_t>(g * c.n_out + o)] - 1) & maxq));

  test::TempDir tmp;
  const std::string p = "model.layers.0.self_attn.q_proj";
  test::write_safetensors(tmp.file("m.safetensors"),
                          {{p + ".g_idx", "I32", {c.n_in}, bytes_of(g_idx.data(), g_idx.size() * 4)},
                           {p + ".qweight", "I32", {c.n_in * c.bits / 32, c.n_out}, bytes_of(qw.data(), qw.size() * 4)},
                           {p + ".qzeros", "I32", {n_groups, c.n_out * c.bits / 32}, bytes_of(qz.data(), qz.size() * 4)},
                           {p + ".scales", "F16", {n_groups, c.n_out}, bytes_of(s.data(), s.size() * 2)}});
  auto file = std::make_shared<safetensors::File>(tmp.file("m.safetensors"));
  std::map<std::string, convert::hf::Location> tensors;
  for (const auto& t : file->tensors()) tensors[t.name] = {file, &t};
  Config cfg;
  cfg.method = Method::Gptq;
  cfg.source = "test";
  cfg.bits = c.bits;
  cfg.group = c.group;
  cfg.sym = c.sym;
  cfg.desc_act = c.act_order;
  cfg.zeros_minus_one = true;
  const auto lin = convert::quant::import_linears(cfg, tensors);
  EXPECT_TRUE(tensors.empty()) << "every companion tensor is claimed";
  ASSERT_EQ(lin.size(), 1u);
  const convert::quant::Linear& L = lin.at(p + ".weight");
  EXPECT_EQ(L.type, c.want) << type_name(L.type) << " " << L.note;
  EXPECT_EQ(L.perm.empty(), !(c.act_order && L.type != Type::F32));
  EXPECT_EQ(L.note.empty(), L.type != Type::F32);

  std::vector<float> want(q.size());
  for (int64_t o = 0; o < c.n_out; ++o)
    for (int64_t i = 0; i < c.n_in; ++i) {
      const size_t gz = static_cast<size_t>(g_idx[static_cast<size_t>(i)] * c.n_out + o);
      want[static_cast<size_t>(o * c.n_in + i)] = fp16_to_f32(s[gz]) * static_cast<float>(q[static_cast<size_t>(o * c.n_in + i)] - z[gz]);
    }
  std::vector<float> got(want.size());
  L.float_rows(0, c.n_out, got.data());
  EXPECT_EQ(std::memcmp(got.data(), want.data(), got.size() * 4), 0) << "float path";

  const size_t rs = row_size(L.type, c.n_in);
  std::vector<uint8_t> bytes(rs * static_cast<size_t>(c.n_out));
  L.pack_rows(0, c.n_out, bytes.data());
  std::vector<float> row(static_cast<size_t>(c.n_in));
  for (int64_t o = 0; o < c.n_out; ++o) {
    traits(L.type).to_float(bytes.data() + rs * static_cast<size_t>(o), row.data(), c.n_in);
    for (int64_t j = 0; j < c.n_in; ++j)
      got[static_cast<size_t>(o * c.n_in + (L.perm.empty() ? j : L.perm[static_cast<size_t>(j)]))] = row[static_cast<size_t>(j)];
  }
  EXPECT_EQ(std::memcmp(got.data(), want.data(), got.size() * 4), 0) << "stored blocks";
}

INSTANTIATE_TEST_SUITE_P(
    Cases, Synth,
    ::testing::Values(Case{"g256_as_g128", 4, 256, false, false, 512, 32, Type::GPTQ4_G128},
                      Case{"g16_to_f32", 4, 16, false, false, 256, 32, Type::F32},
                      Case{"g96_as_g32", 2, 96, false, false, 192, 32, Type::GPTQ2_G32},
                      Case{"whole_row_partial_block", 3, -1, true, false, 320, 32, Type::GPTQ3S_G128},
                      Case{"act_order_2bit_g32", 2, 32, false, true, 128, 32, Type::GPTQ2_G32},
                      Case{"act_order_8bit_sym", 8, 64, true, true, 128, 32, Type::Q8_0},
                      Case{"asym_8bit_to_f32", 8, 64, false, false, 128, 32, Type::F32}),
    [](const ::testing::TestParamInfo<Case>& i) { return std::string(i.param.what); });

namespace {

struct BnbCase {
  const char* what;
  const char* quant_type;
  int64_t blocksize;
  Type want;
};

// bitsandbytes' FP4 and NF4 code values (functional.py get_4bit_type; FP4 as
// k/192, sign in bit 3), written out here rather than taken from qgml.
std::vector<float> bnb_map(const std::string& type) {
  if (type == "nf4")
    return {-1.0f, -0.6961928009986877f, -0.5250730514526367f, -0.39491748809814453f, -0.28444138169288635f,
            -0.18477343022823334f, -0.09105003625154495f, 0.0f, 0.07958029955625534f, 0.16093020141124725f,
            0.24611230194568634f, 0.33791524171829224f, 0.44070982933044434f, 0.5626170039176941f,
            0.7229568362236023f, 1.0f};
  const int k[8] = {0, 1, 128, 192, 64, 96, 32, 48};
  std::vector<float> m(16);
  for (int i = 0; i < 8; ++i) {
    m[static_cast<size_t>(i)] = static_cast<float>(k[i] / 192.0);
    m[static_cast<size_t>(i + 8)] = -m[static_cast<size_t>(i)];
  }
  return m;
}

class SynthBnb : public ::testing::TestWithParam<BnbCase> {};

}  // namespace

// Plain (not double-quantized) absmax, FP4 and NF4, block sizes 64 and 128.
TEST_P(SynthBnb, ImportsExactly) {
  const BnbCase c = GetParam();
  const int64_t n_out = 4, n_in = 256, n = n_out * n_in, n_blocks = n / c.blocksize;
  std::mt19937 rng(99);
  std::vector<uint8_t> codes(static_cast<size_t>(n)), packed(static_cast<size_t>(n / 2));
  for (auto& x : codes) x = static_cast<uint8_t>(rng() % 16);
  for (int64_t i = 0; i < n / 2; ++i) packed[static_cast<size_t>(i)] = static_cast<uint8_t>(codes[static_cast<size_t>(2 * i)] << 4 | codes[static_cast<size_t>(2 * i + 1)]);
  std::vector<float> absmax = test::random_floats(static_cast<size_t>(n_blocks), 5, 0.01f, 2.0f);
  const std::vector<float> map = bnb_map(c.quant_type);
  const std::string w = "model.layers.0.mlp.up_proj.weight";
  const std::string state = std::string("{\"quant_type\": \"") + c.quant_type + "\", \"blocksize\": " + std::to_string(c.blocksize) +
                            ", \"dtype\": \"float16\", \"shape\": [4, 256]}";
  test::TempDir tmp;
  test::write_safetensors(tmp.file("m.safetensors"),
                          {{w, "U8", {n / 2, 1}, bytes_of(packed.data(), packed.size())},
                           {w + ".absmax", "F32", {n_blocks}, test::f32_bytes(absmax)},
                           {w + ".quant_map", "F32", {16}, test::f32_bytes(map)},
                           {w + ".quant_state.bitsandbytes__" + c.quant_type, "U8", {static_cast<int64_t>(state.size())}, state}});
  auto file = std::make_shared<safetensors::File>(tmp.file("m.safetensors"));
  std::map<std::string, convert::hf::Location> tensors;
  for (const auto& t : file->tensors()) tensors[t.name] = {file, &t};
  Config cfg;
  cfg.method = Method::Bnb4;
  cfg.source = "test";
  const auto lin = convert::quant::import_linears(cfg, tensors);
  EXPECT_TRUE(tensors.empty());
  ASSERT_EQ(lin.size(), 1u);
  const convert::quant::Linear& L = lin.at(w);
  EXPECT_EQ(L.type, c.want) << L.note;
  ASSERT_EQ(L.n_in, n_in);

  std::vector<float> want(static_cast<size_t>(n)), got(want.size());
  for (int64_t e = 0; e < n; ++e) want[static_cast<size_t>(e)] = map[codes[static_cast<size_t>(e)]] * absmax[static_cast<size_t>(e / c.blocksize)];
  L.float_rows(0, n_out, got.data());
  EXPECT_EQ(std::memcmp(got.data(), want.data(), got.size() * 4), 0) << "float path";
  const size_t rs = row_size(L.type, n_in);
  std::vector<uint8_t> bytes(rs * n_out);
  L.pack_rows(0, n_out, bytes.data());
  for (int64_t o = 0; o < n_out; ++o) traits(L.type).to_float(bytes.data() + rs * static_cast<size_t>(o), got.data() + o * n_in, n_in);
  EXPECT_EQ(std::memcmp(got.data(), want.data(), got.size() * 4), 0) << "stored blocks";
}

INSTANTIATE_TEST_SUITE_P(Cases, SynthBnb,
                         ::testing::Values(BnbCase{"fp4_b64", "fp4", 64, Type::FP4_F32}, BnbCase{"nf4_b64", "nf4", 64, Type::NF4_F32},
                                           BnbCase{"nf4_b128_to_f32", "nf4", 128, Type::F32}),
                         [](const ::testing::TestParamInfo<BnbCase>& i) { return std::string(i.param.what); });
