// AVX-512 (F, BW; VNNI where present) code-book kernels: qgml's nf4 / nf4_dq
// and bitsandbytes' nf4_f32 / fp4_f32, sub-blocks of 64 4-bit codes (element
// j in the low nibble of byte j, j + 32 in the high one) into a 16-entry
// int16 book (kNF4Int, kFP4Int), scaled per sub-block.
//
// Per 64 codes: the 32 code bytes widened to 16-bit lanes (vpmovzxbw), each
// nibble looked up in the book with one vpermw per 32 codes (a 32-entry int16
// table in one register: AVX2 needs two byte lookups and two unpacks for
// the same), and multiplied with the activations, widened to int16 once per
// call, by vpdpwssd (VNNI) or madd_epi16 and an add. The sub-block's bracket
// is the same exact int32 as on every level (gguf-spec.md Q.5); each int32
// lane adds 4 products (4·32767·127 < 2^31).
#include <immintrin.h>

#include "../../quants.h"
#include "../../quants_bnb.h"
#include "../code_books.h"
#include "../gemm_tiles.h"
#include "../kernels.h"
#include "qgml/cpu.h"
#include "qgml/fp16.h"

namespace qgml {
namespace {

// Block layouts: kSub sub-blocks of 64 codes per block, each with a float scale.
struct Nf4Layout {
  using Block = BlockNF4;
  static constexpr int kSub = 1;
  static float scale(const Block* b, int) { return fp16_to_f32(b->d); }
  static const uint8_t* codes(const Block* b, int) { return b->qs; }
};
struct Nf4DqLayout {
  using Block = BlockNF4DQ;
  static constexpr int kSub = 4;
  static float scale(const Block* b, int s) { return fp16_to_f32(b->d) * static_cast<float>(b->sc[s]); }
  static const uint8_t* codes(const Block* b, int s) { return b->qs + 32 * s; }
};
struct Bnb4Layout {
  using Block = BlockBnb4;
  static constexpr int kSub = 1;
  static float scale(const Block* b, int) { return b->d; }
  static const uint8_t* codes(const Block* b, int) { return b->qs; }
};

// Q8_A activation rows widened to int16 in element order, into the calling
// thread's own buffer; each row's k elements rounded up to whole weight
// blocks of `block` (the activation row's padding, whole q8_a blocks, covers them).
struct WideRows {
  const int16_t* data;
  int64_t stride;  // elements from one row to the next
  WideRows(const uint8_t* a, size_t a_stride, int64_t nc, int64_t k, int64_t block) {
    stride = (k + block - 1) / block * block;
    int16_t* buf = thread_scratch<int16_t>(static_cast<size_t>(nc * stride));
    for (int64_t c = 0; c < nc; ++c) {
      const BlockQ8A* A = reinterpret_cast<const BlockQ8A*>(a + c * a_stride);
      for (int64_t e = 0; e < stride; e += 32) {
        const __m256i q = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(A[e / kQK8_A].qs + e % kQK8_A));
        _mm512_storeu_si512(buf + c * stride + e, _mm512_cvtepi8_epi16(q));
      }
    }
    data = buf;
  }
};

template <bool kVnni, class L, class Book>
struct CodebookKernel {
  using Block = typename L::Block;
  static constexpr int kQK = 64 * L::kSub;

  // One weight row × NA activation rows (wide: their widened values, act: the
  // Q8_A rows, for the scales). Every result takes the same float operations
  // whatever NA, so gemm's tiles and vec_dot agree bit for bit.
  template <int NA>
  static void tile(int64_t k, const uint8_t* w, const int16_t* const* wide, const BlockQ8A* const* act, __m512i book,
                   float* out, int64_t ldo) {
    const Block* blocks = reinterpret_cast<const Block*>(w);
    const __m512i low4 = _mm512_set1_epi16(0x0f);
    __m512 acc[NA];
    for (int j = 0; j < NA; ++j) acc[j] = _mm512_setzero_ps();
    for (int64_t e0 = 0; e0 < k; e0 += kQK) {
      const Block* b = blocks + e0 / kQK;
      _mm_prefetch(reinterpret_cast<const char*>(b) + kPrefetchBytes, _MM_HINT_T0);
      for (int s = 0; s < L::kSub; ++s) {
        const __m512i x = _mm512_cvtepu8_epi16(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(L::codes(b, s))));
        const __m512i lo = _mm512_and_si512(x, low4), hi = _mm512_srli_epi16(x, 4);
        const __m512i c0 = _mm512_permutexvar_epi16(lo, book);  // elements 0..31 of the sub-block
        const __m512i c1 = _mm512_permutexvar_epi16(hi, book);  // elements 32..63
        const float ds = L::scale(b, s);
        const int64_t e = e0 + 64 * s;
        for (int j = 0; j < NA; ++j) {
          const __m512i a0 = _mm512_loadu_si512(wide[j] + e), a1 = _mm512_loadu_si512(wide[j] + e + 32);
          __m512i p;
          if constexpr (kVnni)
            p = _mm512_dpwssd_epi32(_mm512_madd_epi16(c0, a0), c1, a1);
          else
            p = _mm512_add_epi32(_mm512_madd_epi16(c0, a0), _mm512_madd_epi16(c1, a1));
          const float da = act[j][e / kQK8_A].d * Book::kUnit;
          acc[j] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(p), _mm512_set1_ps(ds * da), acc[j]);
        }
      }
    }
    for (int j = 0; j < NA; ++j) out[j * ldo] = _mm512_reduce_add_ps(acc[j]);
  }

  // As gemm_tiles (gemm_tiles.h), with the activations widened once per call.
  static void gemm(int64_t k, const void* w, size_t ws, int64_t nr, const void* a, size_t as, int64_t nc, float* out,
                   int64_t ldo) {
    const __m512i book = _mm512_castsi256_si512(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(Book::codes())));
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
      tile<C>(k, W + r * ws, wp, ap, book, out + c * ldo + r, ldo);
    });
  }

  static float vec_dot(int64_t k, const void* w, const void* a) {
    float out = 0.0f;
    gemm(k, w, 0, 1, a, 0, 1, &out, 1);
    return out;
  }
};

template <bool kVnni>
void register_level(KernelTable& t) {
#define QGML_SET(T, L, Book)                                        \
  t[Type::T].vec_dot = CodebookKernel<kVnni, L, Book>::vec_dot; \
  t[Type::T].gemm = CodebookKernel<kVnni, L, Book>::gemm;
  QGML_SET(NF4, Nf4Layout, Nf4Book)
  QGML_SET(NF4_DQ, Nf4DqLayout, Nf4Book)
  QGML_SET(NF4_F32, Bnb4Layout, Nf4Book)
  QGML_SET(FP4_F32, Bnb4Layout, Fp4Book)
#undef QGML_SET
}

}  // namespace

void register_avx512_codebook_kernels(KernelTable& t) {
  if (cpu_features().avx512vnni)
    register_level<true>(t);
  else
    register_level<false>(t);
}

}  // namespace qgml
