// AVX2 kernels for GPTQ weights (int4/int3/int2, any group size) against Q8_A
// activations, and the Q8_A activation quantizer.
//
// Per group and activation row: quants are unpacked to bytes (one shift and
// mask per 32, see plane_raw), multiplied with the int8 activations by
// maddubs (u8 × s8, no saturation: 2·15·127 < 2^15) and summed in int16
// across the group (4 chunks · 3810 < 2^15).
//
// The per-group work after that (widen, zero point, convert, scale, FMA) used
// to cost as much as the group's own products at 2 and 3 bits. Groups are
// therefore taken 8 at a time: the 8 int16 sums are reduced into one int32
// vector with a lane per group (hadd tree; the first level stays in int16,
// 2·15240 < 2^15), and the zero point term z·Σa, the scales d (8 headers
// gathered by 32-bit inserts) and the activation scales are vectors with the
// same lanes. One convert, one multiply and one FMA then serve 8 groups, and
// each lane's float sum is the same whatever the tile shape.
#include "../../quants.h"
#include "../gemm_tiles.h"
#include "../kernels.h"
#include "avx2_util.h"

namespace qgml {
namespace {

using namespace avx2;

template <int B, int G, int C, int NA>
inline void accumulate_chunks(const uint8_t* qs, const int8_t* const* qa, __m256i* is) {
  if constexpr (C < G / 32) {
    const __m256i q = gptq_chunk<B, G, C>(qs);
    for (int j = 0; j < NA; ++j) {
      const __m256i m = _mm256_maddubs_epi16(q, load(qa[j] + 32 * C));
      is[j] = C == 0 ? m : _mm256_add_epi16(is[j], m);
    }
    accumulate_chunks<B, G, C + 1, NA>(qs, qa, is);
  }
}

// Σ q·a of one 128-group at 2 or 3 bits, by masks in place of most shifts:
// chunks 1 and 3 are taken where their 2-bit fields lie (bits 2-3 of a byte,
// i.e. 4·q) and their products divided by 4 after the int16 sum (exact: each
// is a multiple of 4; the sum of both chunks is at most 2·2·28·127 < 2^15).
// The 2-bit plane is shifted once (for chunks 2, 3), the 1-bit plane twice
// (its bits moved to bit 2 for chunks 0, 2 and to bit 4 for chunks 1, 3).
template <int B, int NA>
inline void group128_low_bits(const uint8_t* qs, const int8_t* const* qa, __m256i* is) {
  const __m256i l0 = load(qs), l4 = _mm256_srli_epi64(l0, 4);
  const __m256i m3 = _mm256_set1_epi8(3), m12 = _mm256_set1_epi8(12);
  __m256i c0 = _mm256_and_si256(l0, m3), c1 = _mm256_and_si256(l0, m12);
  __m256i c2 = _mm256_and_si256(l4, m3), c3 = _mm256_and_si256(l4, m12);
  if constexpr (B == 3) {
    // Element e's bit: byte e mod 16, bit e div 16 (chunk c: bit 2c in the low lane, 2c+1 in the high).
    const __m256i h = bcast16(qs + 32);
    const __m256i h01 = _mm256_sllv_epi64(h, _mm256_setr_epi64x(2, 2, 1, 1));
    const __m256i h23 = _mm256_srlv_epi64(h, _mm256_setr_epi64x(2, 2, 3, 3));
    const __m256i m4 = _mm256_set1_epi8(4), m16 = _mm256_set1_epi8(16);
    c0 = _mm256_or_si256(c0, _mm256_and_si256(h01, m4));
    c1 = _mm256_or_si256(c1, _mm256_and_si256(h01, m16));
    c2 = _mm256_or_si256(c2, _mm256_and_si256(h23, m4));
    c3 = _mm256_or_si256(c3, _mm256_and_si256(h23, m16));
  }
  for (int j = 0; j < NA; ++j) {
    const __m256i x1 = _mm256_add_epi16(_mm256_maddubs_epi16(c0, load(qa[j])), _mm256_maddubs_epi16(c2, load(qa[j] + 64)));
    const __m256i x4 =
        _mm256_add_epi16(_mm256_maddubs_epi16(c1, load(qa[j] + 32)), _mm256_maddubs_epi16(c3, load(qa[j] + 96)));
    is[j] = _mm256_add_epi16(x1, _mm256_srai_epi16(x4, 2));
  }
}

template <int B, int G, bool Z>
struct GptqKernel {
  static constexpr const GptqFormat& kF = kGptqFormat<B, G, Z>;
  static constexpr int kBatch = 8;              // groups per batch, one int32 / float lane each
  static constexpr int kBlocks = kBatch * G / kQK8_A;  // activation blocks per batch (1, 2 or 4)
  static_assert(kBatch * G % kQK8_A == 0, "a batch starts on an activation block");

  // Σ q·a of group i of the batch (int16 lanes), zero where the group is past the row.
  template <int NA, bool kFull>
  static void group_sum(int i, int n, const uint8_t* w, const BlockQ8A* const* A, __m256i* is) {
    if (!kFull && i >= n) {
      for (int j = 0; j < NA; ++j) is[j] = _mm256_setzero_si256();
      return;
    }
    const uint8_t* p = w + i * kF.bytes();
    const int8_t* qa[NA];
    for (int j = 0; j < NA; ++j) qa[j] = A[j][i * G / kQK8_A].qs + i * G % kQK8_A;
    if constexpr (G == 128 && B < 4)
      group128_low_bits<B, NA>(p + kF.header(), qa, is);
    else
      accumulate_chunks<B, G, 0, NA>(p + kF.header(), qa, is);
  }

  // S[j] lane i = Σ q·a of group i (i < n); weights are prefetched kAhead bytes ahead.
  template <int NA, bool kFull, int kAhead>
  static void batch_sums(int n, const uint8_t* w, const BlockQ8A* const* A, __m256i* S) {
    const __m256i ones = _mm256_set1_epi16(1);
    // One prefetch per cache line of the batch's weights (groups are not line aligned).
    for (int o = 0; o < kBatch * kF.bytes(); o += 64)
      _mm_prefetch(reinterpret_cast<const char*>(w) + kAhead + o, _MM_HINT_T0);
    __m256i q[2][NA];
    for (int h = 0; h < 2; ++h) {
      __m256i p[2][NA];
      for (int t = 0; t < 2; ++t) {
        __m256i x0[NA], x1[NA];
        group_sum<NA, kFull>(4 * h + 2 * t, n, w, A, x0);
        group_sum<NA, kFull>(4 * h + 2 * t + 1, n, w, A, x1);
        // Per 128-bit lane: 2 int32 of each group's lane-half sum.
        for (int j = 0; j < NA; ++j) p[t][j] = _mm256_madd_epi16(_mm256_hadd_epi16(x0[j], x1[j]), ones);
      }
      // Per 128-bit lane: groups 4h .. 4h+3, each the half sum over that lane.
      for (int j = 0; j < NA; ++j) q[h][j] = _mm256_hadd_epi32(p[0][j], p[1][j]);
    }
    for (int j = 0; j < NA; ++j)
      S[j] = _mm256_add_epi32(_mm256_permute2x128_si256(q[0][j], q[1][j], 0x20),
                              _mm256_permute2x128_si256(q[0][j], q[1][j], 0x31));
  }

  // Per group of a full batch: d (f32) and z (int32) from the headers.
  static void headers(const uint8_t* w, __m256* d, __m256i* z) {
    constexpr int S = kF.bytes();
    __m128i lo = _mm_cvtsi32_si128(load32(w));
    lo = _mm_insert_epi32(lo, load32(w + S), 1);
    lo = _mm_insert_epi32(lo, load32(w + 2 * S), 2);
    lo = _mm_insert_epi32(lo, load32(w + 3 * S), 3);
    __m128i hi = _mm_cvtsi32_si128(load32(w + 4 * S));
    hi = _mm_insert_epi32(hi, load32(w + 5 * S), 1);
    hi = _mm_insert_epi32(hi, load32(w + 6 * S), 2);
    hi = _mm_insert_epi32(hi, load32(w + 7 * S), 3);
    const __m256i h = _mm256_set_m128i(hi, lo);
    // f16 scales (bytes 0-1 of each) packed into the low 8 bytes of each 128-bit lane.
    const __m256i dpk = _mm256_shuffle_epi8(
        h, _mm256_setr_epi8(0, 1, 4, 5, 8, 9, 12, 13, -1, -1, -1, -1, -1, -1, -1, -1, 0, 1, 4, 5, 8, 9, 12, 13, -1, -1,
                            -1, -1, -1, -1, -1, -1));
    *d = _mm256_cvtph_ps(_mm256_castsi256_si128(_mm256_permute4x64_epi64(dpk, 0x08)));
    if constexpr (Z)
      *z = _mm256_shuffle_epi8(h, _mm256_setr_epi8(2, -1, -1, -1, 6, -1, -1, -1, 10, -1, -1, -1, 14, -1, -1, -1, 2, -1,
                                                   -1, -1, 6, -1, -1, -1, 10, -1, -1, -1, 14, -1, -1, -1));
    else
      *z = _mm256_setzero_si256();
  }

  // Σa per group of a full batch from the blocks' per-32 sums.
  static __m256i asums(const BlockQ8A* A) {
    const __m256i ones = _mm256_set1_epi16(1);
    auto bs = [&](int b) { return _mm_loadu_si128(reinterpret_cast<const __m128i*>(A[b].bsums)); };
    if constexpr (G == 32) {
      return _mm256_cvtepi16_epi32(bs(0));
    } else if constexpr (G == 64) {
      return _mm256_madd_epi16(_mm256_set_m128i(bs(1), bs(0)), ones);
    } else {
      static_assert(G == 128, "group of 32, 64 or 128");
      const __m256i x = _mm256_madd_epi16(_mm256_set_m128i(bs(2), bs(0)), ones);
      const __m256i y = _mm256_madd_epi16(_mm256_set_m128i(bs(3), bs(1)), ones);
      return _mm256_hadd_epi32(x, y);  // blocks 0, 1 | 2, 3: groups in order
    }
  }

  // The activation scale of each group's lane.
  static __m256 act_scales(const BlockQ8A* A) {
    if constexpr (kBlocks == 1) {
      return _mm256_set1_ps(A[0].d);
    } else if constexpr (kBlocks == 2) {
      return _mm256_set_m128(_mm_set1_ps(A[1].d), _mm_set1_ps(A[0].d));
    } else {
      const __m128 v = _mm_setr_ps(A[0].d, A[1].d, A[2].d, A[3].d);
      return _mm256_permutevar8x32_ps(_mm256_castps128_ps256(v), _mm256_setr_epi32(0, 0, 1, 1, 2, 2, 3, 3));
    }
  }

  // The same vectors for the last, partial batch (n < 8 groups), lane by lane;
  // lanes past the row get d = 0 and read nothing. The weight side:
  static void tail_headers(int n, const uint8_t* w, __m256* d, __m256i* z) {
    alignas(32) uint16_t dh[8] = {};
    alignas(32) int32_t zz[8] = {};
    for (int i = 0; i < n; ++i) {
      const uint8_t* p = w + i * kF.bytes();
      std::memcpy(&dh[i], p, 2);
      zz[i] = Z ? p[2] : 0;
    }
    *d = _mm256_cvtph_ps(_mm_load_si128(reinterpret_cast<const __m128i*>(dh)));
    *z = _mm256_load_si256(reinterpret_cast<const __m256i*>(zz));
  }
  // and the activation side.
  static void tail_act(int n, const BlockQ8A* A, __m256i* asum, __m256* da) {
    alignas(32) int32_t as[8] = {};
    alignas(32) float ds[8] = {};
    for (int i = 0; i < n; ++i) {
      const BlockQ8A& b = A[i * G / kQK8_A];
      for (int s = 0; s < G / 32; ++s) as[i] += b.bsums[i * G % kQK8_A / 32 + s];
      ds[i] = b.d;
    }
    *asum = _mm256_load_si256(reinterpret_cast<const __m256i*>(as));
    *da = _mm256_load_ps(ds);
  }

  // What a full batch needs from one activation row alone.
  struct ActBatch {
    __m256i asum;
    __m256 da;
  };

  // kPre: the activation vectors come precomputed, pre[j][bi] for activation row j.
  template <int NA, bool kFull, bool kPre, int kAhead>
  static void batch(int n, const uint8_t* w, const BlockQ8A* const* A, const ActBatch* const* pre, int64_t bi,
                    __m256* acc) {
    __m256i S[NA];
    batch_sums<NA, kFull, kAhead>(n, w, A, S);
    __m256 d;
    __m256i z;
    if constexpr (kFull)
      headers(w, &d, &z);
    else
      tail_headers(n, w, &d, &z);
    for (int j = 0; j < NA; ++j) {
      __m256i as;
      __m256 da;
      if constexpr (kPre) {
        as = pre[j][bi].asum;
        da = pre[j][bi].da;
      } else if constexpr (kFull) {
        as = asums(A[j]);
        da = act_scales(A[j]);
      } else {
        tail_act(n, A[j], &as, &da);
      }
      const __m256i zs = Z ? _mm256_mullo_epi32(z, as) : _mm256_slli_epi32(as, B - 1);
      const __m256 x = _mm256_cvtepi32_ps(_mm256_sub_epi32(S[j], zs));
      acc[j] = _mm256_fmadd_ps(x, _mm256_mul_ps(d, da), acc[j]);
    }
  }

  // NR weight rows against NA activation rows, walked batch by batch so that
  // each row is its own sequential stream (see kMatvecStreams); pre: null, or per
  // activation row the vectors of every batch, the partial last one included.
  // Each (row, activation row) pair has its own accumulator and sees the same
  // operations as when walked alone.
  template <int NR, int NA>
  static void rows(int64_t nb, const uint8_t* wr, size_t ws, const uint8_t* const* act, const ActBatch* const* pre,
                   float* out, int64_t os, int64_t ldo) {
    constexpr int kAhead = NR == 1 ? kPrefetchBytes : kStreamPrefetchBytes;
    __m256 acc[NR][NA];
    for (int s = 0; s < NR; ++s)
      for (int j = 0; j < NA; ++j) acc[s][j] = _mm256_setzero_ps();
    const BlockQ8A* A[NA];
    int64_t g = 0;
    for (; g + kBatch <= nb; g += kBatch) {
      for (int j = 0; j < NA; ++j) A[j] = reinterpret_cast<const BlockQ8A*>(act[j]) + g * G / kQK8_A;
      for (int s = 0; s < NR; ++s) {
        const uint8_t* w = wr + s * ws + g * kF.bytes();
        if (pre != nullptr)
          batch<NA, true, true, kAhead>(kBatch, w, A, pre, g / kBatch, acc[s]);
        else
          batch<NA, true, false, kAhead>(kBatch, w, A, nullptr, 0, acc[s]);
      }
    }
    if (g < nb) {
      for (int j = 0; j < NA; ++j) A[j] = reinterpret_cast<const BlockQ8A*>(act[j]) + g * G / kQK8_A;
      for (int s = 0; s < NR; ++s) {
        const uint8_t* w = wr + s * ws + g * kF.bytes();
        if (pre != nullptr)
          batch<NA, false, true, kAhead>(static_cast<int>(nb - g), w, A, pre, g / kBatch, acc[s]);
        else
          batch<NA, false, false, kAhead>(static_cast<int>(nb - g), w, A, nullptr, 0, acc[s]);
      }
    }
    for (int s = 0; s < NR; ++s)
      for (int j = 0; j < NA; ++j) out[s * os + j * ldo] = hsum(acc[s][j]);
  }

  template <int R, int NA>
  static void tile(int64_t k, const uint8_t* w, size_t ws, const uint8_t* const* act, float* out, int64_t ldo) {
    rows<R, NA>((k + G - 1) / G, w, ws, act, nullptr, out, 1, ldo);
  }

  // As gemm_tiles, but each activation row's per-batch vectors (Σa per
  // group, activation scales) are computed once per call for all weight rows
  // (a thread's own buffer) rather than once per row and tile; they are the
  // same values, so results stay those of vec_dot bit for bit.
  static void gemm(int64_t k, const void* w, size_t ws, int64_t nr, const void* a, size_t as, int64_t nc, float* out,
                   int64_t ldo) {
    const int64_t nb = (k + G - 1) / G, nbat = (nb + kBatch - 1) / kBatch;
    ActBatch* buf = thread_scratch<ActBatch>(static_cast<size_t>(nc * nbat));
    const uint8_t* ab = static_cast<const uint8_t*>(a);
    for (int64_t c = 0; c < nc; ++c) {
      const BlockQ8A* A = reinterpret_cast<const BlockQ8A*>(ab + c * as);
      ActBatch* pre = buf + c * nbat;
      for (int64_t b = 0; b < nb / kBatch; ++b) pre[b] = {asums(A + b * kBlocks), act_scales(A + b * kBlocks)};
      if (nb % kBatch != 0)
        tail_act(static_cast<int>(nb % kBatch), A + nb / kBatch * kBlocks, &pre[nb / kBatch].asum, &pre[nb / kBatch].da);
    }
    const uint8_t* W = static_cast<const uint8_t*>(w);
    if (nc == 1) {
      matvec_streams(nr, [&](auto streams, int64_t r, int64_t part) {
        constexpr int NR = decltype(streams)::value;
        rows<NR, 1>(nb, W + r * ws, part * ws, &ab, &buf, out + r, part, ldo);
      });
      return;
    }
    for_each_tile(nr, nc, [&](auto cols, int64_t r, int64_t c) {
      constexpr int C = decltype(cols)::value;
      const uint8_t* ap[C];
      const ActBatch* pp[C];
      for (int j = 0; j < C; ++j) {
        ap[j] = ab + (c + j) * as;
        pp[j] = buf + (c + j) * nbat;
      }
      rows<1, C>(nb, W + r * ws, ws, ap, pp, out + c * ldo + r, 1, ldo);
    });
  }
};

// Bit-exact with q8_a_from_float: same amax, d, id and round-to-nearest-even.
void quantize_q8_a(const float* x, void* dst, int64_t k) {
  BlockQ8A* out = static_cast<BlockQ8A*>(dst);
  alignas(32) float tmp[kQK8_A];
  for (int64_t i = 0; i < k; i += kQK8_A, ++out) {
    const float* src = block_floats(x, i, k, tmp, kQK8_A);
    const float d = absmax(src, kQK8_A) / 127.0f;
    const __m256 id = _mm256_set1_ps(d != 0.0f ? 1.0f / d : 0.0f);
    out->d = d;
    for (int s = 0; s < kQK8_A / 32; ++s) {
      const float* p = src + 32 * s;
      const __m256i i0 = _mm256_cvtps_epi32(_mm256_mul_ps(_mm256_loadu_ps(p), id));
      const __m256i i1 = _mm256_cvtps_epi32(_mm256_mul_ps(_mm256_loadu_ps(p + 8), id));
      const __m256i i2 = _mm256_cvtps_epi32(_mm256_mul_ps(_mm256_loadu_ps(p + 16), id));
      const __m256i i3 = _mm256_cvtps_epi32(_mm256_mul_ps(_mm256_loadu_ps(p + 24), id));
      out->bsums[s] = static_cast<int16_t>(hsum_i32(_mm256_add_epi32(_mm256_add_epi32(i0, i1), _mm256_add_epi32(i2, i3))));
      store_i8(out->qs + 32 * s, i0, i1, i2, i3);
    }
  }
}

}  // namespace

void register_avx2_gptq_kernels(KernelTable& t) {
  t[Type::Q8_A].quantize_act = quantize_q8_a;
#define QGML_GPTQ_SLOT(T, G, B, Z)                                     \
  t[Type::T##_G##G].vec_dot = vec_dot_tile<GptqKernel<B, G, Z>>;       \
  t[Type::T##_G##G].gemm = GptqKernel<B, G, Z>::gemm;
#define QGML_GPTQ_SLOTS(T, B, Z) QGML_GPTQ_SLOT(T, 32, B, Z) QGML_GPTQ_SLOT(T, 64, B, Z) QGML_GPTQ_SLOT(T, 128, B, Z)
  QGML_GPTQ_SLOTS(GPTQ4, 4, true)
  QGML_GPTQ_SLOTS(GPTQ3, 3, true)
  QGML_GPTQ_SLOTS(GPTQ2, 2, true)
  QGML_GPTQ_SLOTS(GPTQ4S, 4, false)
  QGML_GPTQ_SLOTS(GPTQ3S, 3, false)
  QGML_GPTQ_SLOTS(GPTQ2S, 2, false)
#undef QGML_GPTQ_SLOTS
#undef QGML_GPTQ_SLOT
}

}  // namespace qgml
