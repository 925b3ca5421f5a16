// llama.cpp's K-quants (Q2_K..Q6_K) and their activation block Q8_K.
//
// Three independent references:
//  1. Hand-built random blocks decoded here from the layout description
//     (llama.cpp's ggml-common.h / dequantize_row_qN_K, re-derived in this
//     file's own loops, not through ggml/src/quants_k.h), bit for bit.
//  2. Goldens from llama.cpp itself (tests/data/kquants/): a C program outside
//     the repository linked /work/llamacpp/build/bin/libggml-base.so, built a
//     fixed 6-super-block input (input.npy: gaussian, all-positive, mixed
//     magnitudes with zeros, a negative outlier, all-negative, all-zero),
//     quantized it with llama.cpp's quantize_row_{q2..q6,q8}_K_ref (the raw
//     blocks: <type>.bin) and dequantized those with dequantize_row_<type>
//     (<type>.npy, float64 holding the exact float32 values). The dst buffer
//     was zeroed first: llama.cpp leaves an all-zero Q8_K block's bsums unwritten.
//  3. Dot kernels against the dequantized values summed in double, and every
//     SIMD level against the scalar integer reference; gemm tiles against
//     the same level's vec_dot bit for bit.
#include <cfloat>
#include <algorithm>
#include <cmath>
#include <cstring>
#include <random>
#include <vector>

#include "cpu/kernels.h"
#include "npy.h"
#include "qgml/fp16.h"
#include "qgml/graph.h"
#include "qgml/io.h"
#include "qgml/ops.h"
#include "quant_test_util.h"
#include "quants.h"
#include "test_util.h"

namespace qgml {
namespace {

const Type kKTypes[] = {Type::Q2_K, Type::Q3_K, Type::Q4_K, Type::Q5_K, Type::Q6_K};

float h2f(const uint8_t* p) {
  uint16_t h;
  std::memcpy(&h, p, 2);
  return fp16_to_f32(h);
}

// Random bytes with finite, moderate f16 super-block scales at the offsets
// each layout keeps them (the quants and sub-block scales take every bit
// pattern).
std::vector<uint8_t> random_blocks(Type t, int64_t nblocks, uint32_t seed) {
  std::mt19937 rng(seed);
  const size_t bs = traits(t).type_size;
  std::vector<uint8_t> v(bs * static_cast<size_t>(nblocks));
  for (auto& b : v) b = static_cast<uint8_t>(rng());
  std::uniform_real_distribution<float> scale(1e-4f, 2e-2f);
  auto put = [&](size_t off) {
    const uint16_t h = f32_to_fp16(scale(rng));
    std::memcpy(&v[off], &h, 2);
  };
  for (int64_t b = 0; b < nblocks; ++b) {
    const size_t o = bs * static_cast<size_t>(b);
    switch (t) {
      case Type::Q2_K: put(o + 80), put(o + 82); break;
      case Type::Q3_K: put(o + 108); break;
      case Type::Q4_K:
      case Type::Q5_K: put(o), put(o + 2); break;
      case Type::Q6_K: put(o + 208); break;
      default: break;
    }
  }
  return v;
}

// --- The independent decoders: llama.cpp's loop structure, written out here.

void ref_q2(const uint8_t* b, float* y) {
  const uint8_t* sc = b;
  const uint8_t* q = b + 16;
  const float d = h2f(b + 80), m = h2f(b + 82);
  int is = 0;
  for (int half = 0; half < 2; ++half, q += 32)
    for (int shift = 0; shift < 8; shift += 2)
      for (int part = 0; part < 2; ++part, ++is) {
        const float dl = d * static_cast<float>(sc[is] & 0xF), ml = m * static_cast<float>(sc[is] >> 4);
        for (int l = 0; l < 16; ++l) *y++ = dl * static_cast<float>((q[l + 16 * part] >> shift) & 3) - ml;
      }
}

void ref_q3(const uint8_t* b, float* y) {
  const uint8_t* hm = b;
  const uint8_t* q = b + 32;
  const uint8_t* s = b + 96;
  const float d = h2f(b + 108);
  // The 16 6-bit scales through 32-bit words, as llama.cpp unpacks them.
  uint32_t a[4];
  std::memcpy(a, s, 12);
  const uint32_t m2 = 0x0f0f0f0f, m1 = 0x03030303, t = a[2];
  const uint32_t w[4] = {(a[0] & m2) | (((t >> 0) & m1) << 4), (a[1] & m2) | (((t >> 2) & m1) << 4),
                         ((a[0] >> 4) & m2) | (((t >> 4) & m1) << 4), ((a[1] >> 4) & m2) | (((t >> 6) & m1) << 4)};
  int8_t scales[16];
  std::memcpy(scales, w, 16);
  int is = 0, bit = 0;
  for (int half = 0; half < 2; ++half, q += 32)
    for (int shift = 0; shift < 8; shift += 2, ++bit)
      for (int part = 0; part < 2; ++part, ++is) {
        const float dl = d * static_cast<float>(scales[is] - 32);
        for (int l = 0; l < 16; ++l) {
          const int lo = (q[l + 16 * part] >> shift) & 3;
          const int hi = (hm[l + 16 * part] >> bit) & 1;
          *y++ = dl * static_cast<float>(lo - (hi ? 0 : 4));
        }
      }
}

void scale_min_k4(int j, const uint8_t* q, int* d, int* m) {
  if (j < 4) {
    *d = q[j] & 63, *m = q[j + 4] & 63;
  } else {
    *d = (q[j + 4] & 0xF) | ((q[j - 4] >> 6) << 4);
    *m = (q[j + 4] >> 4) | ((q[j] >> 6) << 4);
  }
}

// Q4_K (qh == nullptr) and Q5_K.
void ref_q45(const uint8_t* b, const uint8_t* qh, const uint8_t* ql, float* y) {
  const float d = h2f(b), dmin = h2f(b + 2);
  for (int j = 0; j < 4; ++j, ql += 32) {
    int sc, m;
    for (int hi = 0; hi < 2; ++hi) {
      scale_min_k4(2 * j + hi, b + 4, &sc, &m);
      const float dl = d * static_cast<float>(sc), ml = dmin * static_cast<float>(m);
      for (int l = 0; l < 32; ++l) {
        int q = hi ? ql[l] >> 4 : ql[l] & 0xF;
        if (qh != nullptr && ((qh[l] >> (2 * j + hi)) & 1)) q += 16;
        *y++ = dl * static_cast<float>(q) - ml;
      }
    }
  }
}

void ref_q6(const uint8_t* b, float* y) {
  const uint8_t* ql = b;
  const uint8_t* qh = b + 128;
  const int8_t* sc = reinterpret_cast<const int8_t*>(b + 192);
  const float d = h2f(b + 208);
  for (int half = 0; half < 2; ++half, y += 128, ql += 64, qh += 32, sc += 8)
    for (int l = 0; l < 32; ++l) {
      const int is = l / 16;
      const int q[4] = {(ql[l] & 0xF) | (((qh[l] >> 0) & 3) << 4), (ql[l + 32] & 0xF) | (((qh[l] >> 2) & 3) << 4),
                        (ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4), (ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)};
      for (int r = 0; r < 4; ++r)
        y[l + 32 * r] = d * static_cast<float>(sc[is + 2 * r]) * static_cast<float>(q[r] - 32);
    }
}

void ref_decode(Type t, const uint8_t* b, float* y) {
  switch (t) {
    case Type::Q2_K: return ref_q2(b, y);
    case Type::Q3_K: return ref_q3(b, y);
    case Type::Q4_K: return ref_q45(b, nullptr, b + 16, y);
    case Type::Q5_K: return ref_q45(b, b + 16, b + 48, y);
    case Type::Q6_K: return ref_q6(b, y);
    default: FAIL() << "not a K type";
  }
}

bool same_bits(float a, float b) { return std::memcmp(&a, &b, 4) == 0; }

TEST(KQuants, ToFloatMatchesIndependentDecoding) {
  for (Type t : kKTypes) {
    const int64_t nb = 40;
    const auto w = random_blocks(t, nb, 7 + static_cast<uint32_t>(t));
    std::vector<float> got(static_cast<size_t>(nb * 256)), want(got.size());
    traits(t).to_float(w.data(), got.data(), nb * 256);
    for (int64_t b = 0; b < nb; ++b) ref_decode(t, w.data() + b * traits(t).type_size, want.data() + b * 256);
    for (size_t i = 0; i < got.size(); ++i)
      ASSERT_TRUE(same_bits(got[i], want[i])) << type_name(t) << " element " << i << ": " << got[i] << " vs " << want[i];
    // A row ending inside a super-block writes exactly its n values.
    std::vector<float> part(300, -7.0f);
    traits(t).to_float(w.data(), part.data(), 290);
    for (int i = 0; i < 290; ++i) ASSERT_TRUE(same_bits(part[i], want[i])) << type_name(t) << " partial " << i;
    for (int i = 290; i < 300; ++i) ASSERT_EQ(part[i], -7.0f) << type_name(t) << " wrote past n";
  }
}

std::string golden(const std::string& name) { return test::source_dir() + "/tests/data/kquants/" + name; }

TEST(KQuants, ToFloatIsBitExactWithLlamaCpp) {
  for (Type t : {Type::Q2_K, Type::Q3_K, Type::Q4_K, Type::Q5_K, Type::Q6_K, Type::Q8_K}) {
    const std::string name = type_name(t);
    const std::string bytes = read_file(golden(name + ".bin"));
    std::vector<int64_t> shape;
    const std::vector<double> want = test::read_npy_f64(golden(name + ".npy"), &shape);
    ASSERT_EQ(bytes.size(), want.size() / 256 * traits(t).type_size) << name;
    std::vector<float> got(want.size());
    traits(t).to_float(bytes.data(), got.data(), static_cast<int64_t>(got.size()));
    for (size_t i = 0; i < got.size(); ++i)
      ASSERT_TRUE(same_bits(got[i], static_cast<float>(want[i]))) << name << " element " << i;
  }
}

TEST(KQuants, ActivationQuantizerIsBitExactWithLlamaCpp) {
  std::vector<int64_t> shape;
  const std::vector<double> in = test::read_npy_f64(golden("input.npy"), &shape);
  const std::vector<float> x(in.begin(), in.end());
  const std::string want = read_file(golden("q8_K.bin"));
  const int64_t k = static_cast<int64_t>(x.size());
  ASSERT_EQ(want.size(), row_size(Type::Q8_K, k));
  for (Isa isa : test::runnable_isas()) {
    std::vector<uint8_t> got(want.size(), 0xcd);
    kernels_for(isa)[Type::Q8_K].quantize_act(x.data(), got.data(), k);
    EXPECT_EQ(0, std::memcmp(got.data(), want.data(), want.size())) << isa_name(isa);
  }
  std::vector<uint8_t> ref(want.size(), 0xcd);
  traits(Type::Q8_K).from_float(x.data(), ref.data(), k);
  EXPECT_EQ(0, std::memcmp(ref.data(), want.data(), want.size()));
}

TEST(KQuants, ActivationQuantizersAgreeOnEveryLevel) {
  for (int64_t k : {256, 512, 300, 4096 + 256}) {
    auto x = test::random_floats(static_cast<size_t>(k), 40 + static_cast<uint32_t>(k), -3.0f, 3.0f);
    x[5] = 3.5f;                   // the largest magnitude, positive: d < 0
    x[1] = 3.5f * 7.5f / 127.0f;   // a rounding tie in x/d: round to nearest even
    std::vector<uint8_t> ref(row_size(Type::Q8_K, k));
    traits(Type::Q8_K).from_float(x.data(), ref.data(), k);
    for (Isa isa : test::runnable_isas()) {
      std::vector<uint8_t> got(ref.size(), 0xcd);
      kernels_for(isa)[Type::Q8_K].quantize_act(x.data(), got.data(), k);
      EXPECT_EQ(0, std::memcmp(got.data(), ref.data(), ref.size())) << isa_name(isa) << " k=" << k;
    }
  }
}

struct Act {
  std::vector<uint8_t> bytes;
  std::vector<float> values;
};

Act make_act(int64_t k, uint32_t seed) {
  Act a;
  const auto x = test::random_floats(static_cast<size_t>(k), seed, -2.0f, 2.0f);
  a.bytes.resize(row_size(Type::Q8_K, k));
  traits(Type::Q8_K).from_float(x.data(), a.bytes.data(), k);
  a.values.resize(static_cast<size_t>(k));
  traits(Type::Q8_K).to_float(a.bytes.data(), a.values.data(), k);
  return a;
}

// Scalar and SIMD levels sum the same exact integers per super-block; they
// differ in the order (and FMA) of the float sums: a few roundings of the
// sum of magnitudes per super-block.
double reorder_tolerance(int64_t k, const std::vector<float>& w, const std::vector<float>& a) {
  double mag = 0.0;
  for (int64_t i = 0; i < k; ++i) mag += std::fabs(static_cast<double>(w[i]) * a[i]);
  return 8.0 * (static_cast<double>(k) / 256 + 4) * FLT_EPSILON * mag + 1e-30;
}

TEST(KQuants, DotMatchesDequantizedValuesAndScalarReference) {
  const KernelTable& scalar = kernels_for(Isa::Scalar);
  for (Type t : kKTypes) {
    for (int64_t k : {256, 512, 768, 1792, 4096, 300}) {
      for (uint32_t seed = 0; seed < 3; ++seed) {
        const int64_t nb = (k + 255) / 256;
        const auto w = random_blocks(t, nb, 100 * seed + static_cast<uint32_t>(k));
        std::vector<float> wv(static_cast<size_t>(nb * 256));
        traits(t).to_float(w.data(), wv.data(), nb * 256);
        const Act a = make_act(k, seed + 1000);
        double exact = 0.0, mag = 0.0;
        for (int64_t i = 0; i < k; ++i) {
          exact += static_cast<double>(wv[i]) * a.values[i];
          mag += std::fabs(static_cast<double>(wv[i]) * a.values[i]);
        }
        const float ref = scalar[t].vec_dot(k, w.data(), a.bytes.data());
        // The integer sums are exact; what remains is float rounding of the
        // dequantized products and the per-block scale products.
        EXPECT_NEAR(ref, exact, 2e-6 * mag + 1e-7) << type_name(t) << " k=" << k;
        for (Isa isa : test::runnable_isas()) {
          const float got = kernels_for(isa)[t].vec_dot(k, w.data(), a.bytes.data());
          EXPECT_NEAR(got, ref, reorder_tolerance(k, wv, a.values)) << isa_name(isa) << " " << type_name(t) << " k=" << k;
          // NEON reduces each super-block to the scalar integer and then
          // evaluates the scalar float expression: bit-identical.
          if (isa == Isa::Neon) {
            EXPECT_EQ(got, ref) << type_name(t) << " k=" << k;
          }
        }
      }
    }
  }
}

TEST(KQuants, GemmTilesEqualVecDotBitForBit) {
  for (Isa isa : test::runnable_isas()) {
    const KernelTable& kt = kernels_for(isa);
    for (Type t : kKTypes) {
      if (kt[t].gemm == nullptr) {
        std::fprintf(stderr, "note: %s has no %s gemm slot (mul_mat uses vec_dot)\n", isa_name(isa), type_name(t));
        continue;
      }
      for (int64_t k : {256, 1280}) {
        const int64_t nr = 11, nc = 7;  // odd: not multiples of any tile
        const size_t ws = row_size(t, k), as = row_size(Type::Q8_K, k);
        const auto w = random_blocks(t, nr * (k / 256), 77 + static_cast<uint32_t>(k));
        std::vector<uint8_t> a;
        for (int64_t c = 0; c < nc; ++c) {
          const Act one = make_act(k, 300 + static_cast<uint32_t>(c));
          a.insert(a.end(), one.bytes.begin(), one.bytes.end());
        }
        const int64_t ldo = nr + 3;
        std::vector<float> all(static_cast<size_t>(ldo * nc), -1.0f), single(all);
        kt[t].gemm(k, w.data(), ws, nr, a.data(), as, nc, all.data(), ldo);
        for (int64_t c = 0; c < nc; ++c) kt[t].gemm(k, w.data(), ws, nr, a.data() + c * as, as, 1, single.data() + c * ldo, ldo);
        for (int64_t c = 0; c < nc; ++c) {
          for (int64_t r = 0; r < nr; ++r) {
            const float d = kt[t].vec_dot(k, w.data() + r * ws, a.data() + c * as);
            ASSERT_EQ(all[c * ldo + r], d) << isa_name(isa) << " " << type_name(t) << " r=" << r << " c=" << c;
            ASSERT_EQ(single[c * ldo + r], d) << isa_name(isa) << " " << type_name(t) << " r=" << r << " c=" << c;
          }
          for (int64_t r = nr; r < ldo; ++r) ASSERT_EQ(all[c * ldo + r], -1.0f) << "wrote outside the tile";
        }
      }
    }
  }
}

std::vector<float> run_graph(Tensor* out, int threads) {
  Graph g;
  g.add_output(out);
  g.compute(threads);
  std::vector<float> v(static_cast<size_t>(out->nelements()));
  for (int64_t n = 0; n < out->ne[1]; ++n) std::memcpy(&v[n * out->ne[0]], out->row(n), out->ne[0] * sizeof(float));
  return v;
}

// mul_mat through the graph (activations quantized to Q8_K, vec_dot or gemm
// by shape, rows split among threads) against the dequantized weights times
// the float activations in double. Q8_K rounds each activation by at most
// amax(block)/254; plus float summation slack.
TEST(KQuants, MulMatMatchesDequantizedDoubleReference) {
  const struct {
    int64_t K, M, N;
  } cases[] = {{512, 37, 1}, {256, 9, 70}, {1280, 5, 3}};
  for (Isa isa : test::runnable_isas()) {
    set_max_isa(isa);
    for (Type t : kKTypes) {
      for (const auto& c : cases) {
        Context ctx;
        Tensor* w = ctx.new_tensor_2d(t, c.K, c.M);
        const auto bytes = random_blocks(t, c.M * c.K / 256, 5 + static_cast<uint32_t>(c.K));
        std::memcpy(w->data, bytes.data(), bytes.size());
        Tensor* x = ctx.new_tensor_2d(Type::F32, c.K, c.N);
        const auto xv = test::random_floats(static_cast<size_t>(c.K * c.N), 23, -2.0f, 2.0f);
        std::memcpy(x->data, xv.data(), xv.size() * sizeof(float));
        Tensor* y = mul_mat(ctx, w, x);
        const std::vector<float> y1 = run_graph(y, 1), y2 = run_graph(y, 2);
        ASSERT_EQ(0, std::memcmp(y1.data(), y2.data(), y1.size() * sizeof(float))) << isa_name(isa) << " " << type_name(t);
        std::vector<float> wr(static_cast<size_t>(c.K));
        for (int64_t m = 0; m < c.M; ++m) {
          traits(t).to_float(w->row(m), wr.data(), c.K);
          for (int64_t n = 0; n < c.N; ++n) {
            const float* xr = xv.data() + n * c.K;
            double ref = 0.0, err = 0.0, mag = 0.0;
            for (int64_t b = 0; b < c.K; b += 256) {
              double amax = 0.0;
              for (int64_t k = b; k < b + 256; ++k) amax = std::max(amax, std::fabs(static_cast<double>(xr[k])));
              for (int64_t k = b; k < b + 256; ++k) {
                ref += static_cast<double>(wr[k]) * xr[k];
                err += std::fabs(static_cast<double>(wr[k])) * amax / 254 * 1.001;
                mag += std::fabs(static_cast<double>(wr[k]) * xr[k]);
              }
            }
            ASSERT_NEAR(y1[n * c.M + m], ref, err + 1e-5 * mag + 1e-6)
                << isa_name(isa) << " " << type_name(t) << " K=" << c.K << " m=" << m << " n=" << n;
          }
        }
      }
    }
  }
  set_max_isa(best_isa());
}

// The K types' activation partner is Q8_K, and every level fills the slots.
TEST(KQuants, TraitsAndSlots) {
  const size_t bytes[] = {84, 110, 144, 176, 210};
  const uint32_t ids[] = {10, 11, 12, 13, 14};
  for (size_t i = 0; i < 5; ++i) {
    const TypeTraits& tr = traits(kKTypes[i]);
    EXPECT_EQ(tr.type_size, bytes[i]);
    EXPECT_EQ(tr.gguf_id, ids[i]);
    EXPECT_EQ(tr.block_size, 256);
    EXPECT_EQ(tr.vec_dot_type, Type::Q8_K);
    for (Isa isa : test::runnable_isas()) EXPECT_NE(kernels_for(isa)[kKTypes[i]].vec_dot, nullptr) << isa_name(isa);
  }
  EXPECT_EQ(traits(Type::Q8_K).type_size, 292u);
  EXPECT_EQ(traits(Type::Q8_K).gguf_id, 15u);
}

}  // namespace
}  // namespace qgml
