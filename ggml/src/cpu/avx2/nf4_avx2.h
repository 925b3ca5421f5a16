// The AVX2 code-book kernels: qgml's nf4 / nf4_dq and bitsandbytes' nf4_f32 /
// fp4_f32. All are sub-blocks of 64 4-bit codes (element j in the low nibble
// of byte j, j + 32 in the high one) into a 16-entry int16 table (kNF4Int,
// kFP4Int), scaled per sub-block.
//
// Per 64 codes: two pshufb per nibble half look up the low and the high
// bytes of the int16 codes, two unpacks interleave them into 16-bit lanes,
// and four madd_epi16 multiply them with the activations widened to int16
// (8 products per int32 lane: 8·32767·127 < 2^31). The unpacks work within
// 128-bit lanes, so the codes come out in the order [0..7, 16..23],
// [8..15, 24..31], [32..39, 48..55], [40..47, 56..63]. The activations are
// widened into that order once per kernel call (WideRows), which keeps
// lane-crossing shuffles out of the inner loop: vpermq and vpmovsxbw ymm
// issue once per 1.3 cycles on the AMD EPYC dev machine, an unpack twice per
// cycle. Included only by files compiled with AVX2 flags.
#pragma once
#include "../../quants.h"
#include "../../quants_bnb.h"
#include "../code_books.h"
#include "../gemm_tiles.h"
#include "avx2_util.h"

namespace qgml::avx2 {

// A 16-entry int16 code book as its low and high bytes, in both 128-bit lanes.
struct CodeTables {
  __m256i lo, hi;
  explicit CodeTables(const int16_t* codes) {
    const CodeBytes b(codes);
    lo = bcast16(b.lo);
    hi = bcast16(b.hi);
  }
};

// The int16 codes of one 64-code sub-block, in the order above.
struct Codes64 {
  __m256i c[4];
  Codes64(const uint8_t* qs, const CodeTables& t) {
    const __m256i m4 = _mm256_set1_epi8(0x0f);
    const __m256i v = load(qs);
    const __m256i i0 = _mm256_and_si256(v, m4), i1 = _mm256_and_si256(_mm256_srli_epi16(v, 4), m4);
    const __m256i l0 = _mm256_shuffle_epi8(t.lo, i0), h0 = _mm256_shuffle_epi8(t.hi, i0);
    const __m256i l1 = _mm256_shuffle_epi8(t.lo, i1), h1 = _mm256_shuffle_epi8(t.hi, i1);
    c[0] = _mm256_unpacklo_epi8(l0, h0);
    c[1] = _mm256_unpackhi_epi8(l0, h0);
    c[2] = _mm256_unpacklo_epi8(l1, h1);
    c[3] = _mm256_unpackhi_epi8(l1, h1);
  }
  // Σ code·a over the sub-block (a: its 64 widened activations), in 8 int32 lanes.
  __m256i dot(const int16_t* a) const {
    const __m256i* p = reinterpret_cast<const __m256i*>(a);
    return _mm256_add_epi32(
        _mm256_add_epi32(_mm256_madd_epi16(c[0], _mm256_loadu_si256(p)), _mm256_madd_epi16(c[1], _mm256_loadu_si256(p + 1))),
        _mm256_add_epi32(_mm256_madd_epi16(c[2], _mm256_loadu_si256(p + 2)),
                         _mm256_madd_epi16(c[3], _mm256_loadu_si256(p + 3))));
  }
};

// Q8_A activation rows widened to int16 in the code order, into the calling
// thread's own buffer (valid until that thread's next call); each row's k
// elements rounded up to whole weight blocks of `block` (the activation
// row's padding, whole q8_a blocks, covers them).
struct WideRows {
  const int16_t* data;
  int64_t stride;  // elements from one row to the next
  WideRows(const uint8_t* a, size_t a_stride, int64_t nc, int64_t k, int64_t block) {
    stride = (k + block - 1) / block * block;
    int16_t* buf = thread_scratch<int16_t>(static_cast<size_t>(nc * stride));
    for (int64_t c = 0; c < nc; ++c) {
      const BlockQ8A* A = reinterpret_cast<const BlockQ8A*>(a + c * a_stride);
      for (int64_t e0 = 0; e0 < stride; e0 += 64) {
        const int8_t* q = A[e0 / kQK8_A].qs + e0 % kQK8_A;
        int16_t* o = buf + c * stride + e0;
        for (int h = 0; h < 2; ++h) {
          const __m128i x = _mm_loadu_si128(reinterpret_cast<const __m128i*>(q + 32 * h));
          const __m128i y = _mm_loadu_si128(reinterpret_cast<const __m128i*>(q + 32 * h + 16));
          _mm256_storeu_si256(reinterpret_cast<__m256i*>(o + 32 * h), _mm256_cvtepi8_epi16(_mm_unpacklo_epi64(x, y)));
          _mm256_storeu_si256(reinterpret_cast<__m256i*>(o + 32 * h + 16),
                              _mm256_cvtepi8_epi16(_mm_unpackhi_epi64(x, y)));
        }
      }
    }
    data = buf;
  }
};

// Block layouts: kSub sub-blocks of 64 codes per block, each with a float scale.
// scale(b, s) is sub-block s's scale; scales8(b) those of the 8 sub-blocks
// from block b on, with the same float values.
struct Nf4Layout {
  using Block = BlockNF4;
  static constexpr int kSub = 1;
  static float scale(const Block* b, int) { return _cvtsh_ss(b->d); }
  static __m256 scales8(const Block* b) {
    alignas(16) uint16_t h[8];
    for (int i = 0; i < 8; ++i) h[i] = b[i].d;
    return _mm256_cvtph_ps(_mm_load_si128(reinterpret_cast<const __m128i*>(h)));
  }
  static const uint8_t* codes(const Block* b, int) { return b->qs; }
};
struct Nf4DqLayout {
  using Block = BlockNF4DQ;
  static constexpr int kSub = 4;
  static float scale(const Block* b, int s) { return _cvtsh_ss(b->d) * static_cast<float>(b->sc[s]); }
  static __m256 scales8(const Block* b) {
    const __m256 d = _mm256_set_m128(_mm_set1_ps(_cvtsh_ss(b[1].d)), _mm_set1_ps(_cvtsh_ss(b[0].d)));
    const __m256i sc = _mm256_cvtepu8_epi32(_mm_set_epi32(0, 0, static_cast<int>(load32(b[1].sc)), static_cast<int>(load32(b[0].sc))));
    return _mm256_mul_ps(d, _mm256_cvtepi32_ps(sc));
  }
  static const uint8_t* codes(const Block* b, int s) { return b->qs + 32 * s; }
};
struct Bnb4Layout {
  using Block = BlockBnb4;
  static constexpr int kSub = 1;
  static float scale(const Block* b, int) { return b->d; }
  static __m256 scales8(const Block* b) {
    alignas(32) float d[8];
    for (int i = 0; i < 8; ++i) d[i] = b[i].d;
    return _mm256_load_ps(d);
  }
  static const uint8_t* codes(const Block* b, int) { return b->qs; }
};

// vec_dot and gemm of a code-book type: block layout L, code book Book
// (code_books.h).
template <class L, class Book>
struct CodebookKernel {
  using Block = typename L::Block;
  static constexpr int kQK = 64 * L::kSub;

  // One weight row × NA activation rows (wide: their widened values, act:
  // the Q8_A rows, for the scales). Every result takes the same float
  // operations whatever NA, so gemm's tiles and vec_dot agree bit for bit.
  template <int NA>
  static void tile(int64_t k, const uint8_t* w, const int16_t* const* wide, const BlockQ8A* const* act,
                   const CodeTables& t, float* out, int64_t ldo) {
    const Block* blocks = reinterpret_cast<const Block*>(w);
    __m256 acc[NA];
    for (int j = 0; j < NA; ++j) acc[j] = _mm256_setzero_ps();
    int64_t e0 = 0;
    // 512 elements at a time (8 sub-blocks, 2 activation blocks): the 8
    // scales are converted and multiplied by the activation scales as one
    // vector, then broadcast from memory; that costs a sub-block about half
    // the cycles of doing it alone (scalar conversion, multiply, broadcast).
    // Each product scale · activation scale is the same float as in the
    // loop of single sub-blocks below.
    for (; e0 + 512 <= k; e0 += 512) {
      const Block* b = blocks + e0 / kQK;
      for (size_t o = 0; o < 8 / L::kSub * sizeof(Block); o += 64)
        _mm_prefetch(reinterpret_cast<const char*>(b) + kPrefetchBytes + o, _MM_HINT_T0);
      const __m256 sc = L::scales8(b);
      alignas(32) float sd[NA][8];
      for (int j = 0; j < NA; ++j) {
        const __m256 da = _mm256_set_m128(_mm_set1_ps(act[j][e0 / kQK8_A + 1].d * Book::kUnit),
                                          _mm_set1_ps(act[j][e0 / kQK8_A].d * Book::kUnit));
        _mm256_store_ps(sd[j], _mm256_mul_ps(sc, da));
      }
      for (int i = 0; i < 8; ++i) {
        const Codes64 c(L::codes(b + i / L::kSub, i % L::kSub), t);
        for (int j = 0; j < NA; ++j)
          acc[j] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(c.dot(wide[j] + e0 + 64 * i)), _mm256_broadcast_ss(&sd[j][i]),
                                   acc[j]);
      }
    }
    for (; e0 < k; e0 += kQK) {
      const Block* b = blocks + e0 / kQK;
      for (int s = 0; s < L::kSub; ++s) {
        const Codes64 c(L::codes(b, s), t);
        const float ds = L::scale(b, s);
        for (int j = 0; j < NA; ++j)
          acc[j] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(c.dot(wide[j] + e0 + 64 * s)),
                                   _mm256_set1_ps(ds * (act[j][e0 / kQK8_A].d * Book::kUnit)), acc[j]);
      }
    }
    for (int j = 0; j < NA; ++j) out[j * ldo] = hsum(acc[j]);
  }

  // As gemm_tiles (gemm_tiles.h), with the activations widened once per call.
  static void gemm(int64_t k, const void* w, size_t ws, int64_t nr, const void* a, size_t as, int64_t nc, float* out,
                   int64_t ldo) {
    const CodeTables t(Book::codes());
    const WideRows wide(static_cast<const uint8_t*>(a), as, nc, k, kQK);
    const uint8_t* W = static_cast<const uint8_t*>(w);
    const uint8_t* A = static_cast<const uint8_t*>(a);
    for_each_tile(nr, nc, [&](auto cols, int64_t r, int64_t c) {
      constexpr int C = decltype(cols)::value;
      const int16_t* wp[C];
      const BlockQ8A* ap[C];
      for (int j = 0; j < C; ++j) {
        wp[j] = wide.data + (c + j) * wide.stride;
        ap[j] = reinterpret_cast<const BlockQ8A*>(A + (c + j) * as);
      }
      tile<C>(k, W + r * ws, wp, ap, t, out + c * ldo + r, ldo);
    });
  }

  static float vec_dot(int64_t k, const void* w, const void* a) {
    float out = 0.0f;
    gemm(k, w, 0, 1, a, 0, 1, &out, 1);
    return out;
  }
};

using Nf4Kernel = CodebookKernel<Nf4Layout, Nf4Book>;
using Nf4DqKernel = CodebookKernel<Nf4DqLayout, Nf4Book>;
using Nf4F32Kernel = CodebookKernel<Bnb4Layout, Nf4Book>;
using Fp4F32Kernel = CodebookKernel<Bnb4Layout, Fp4Book>;

}  // namespace qgml::avx2
