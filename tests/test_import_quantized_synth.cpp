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
