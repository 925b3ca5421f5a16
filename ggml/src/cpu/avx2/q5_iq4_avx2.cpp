// AVX2 kernels for llama.cpp's Q5_0 and IQ4_NL (against Q8_0 activations)
// and Q5_1 (against Q8_A). Same integer sums as the scalar reference
// (q5_iq4_scalar.cpp); only the float summation order differs.
//
// Signed weights (Q5_0's q − 16 ∈ [−16, 15], IQ4_NL's table values in
// [−127, 113]) use maddubs through |w| · sign(a, w): pairs stay within
// 2·127·127 < 2^15. Q5_1's quants 0..31 are unsigned already.
#include "../../quants.h"
#include "../../quants_q5_iq4.h"
#include "../gemm_tiles.h"
#include "../kernels.h"
#include "avx2_util.h"
#include "block32_avx2.h"

namespace qgml {
namespace {

using namespace avx2;

// Byte e = 0x10 where bit e of the 32-bit word qh is set, else 0.
inline __m256i high_bits(const uint8_t* qh) {
  const __m256i bytes = _mm256_shuffle_epi8(
      bcast4(qh), _mm256_setr_epi8(0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 2, 2, 2, 2, 2, 2, 3, 3, 3, 3, 3,
                                   3, 3, 3));
  const __m256i bit = _mm256_set1_epi64x(static_cast<int64_t>(0x8040201008040201ull));
  return _mm256_and_si256(_mm256_cmpeq_epi8(_mm256_and_si256(bytes, bit), bit), _mm256_set1_epi8(0x10));
}

// Weight decoders for Q8_0-activation kernels: 32 signed int8 weights and the f16 scale.
struct Q5_0Decode {
  using Block = BlockQ5_0;
  static constexpr int kPrefetchEvery = 4;
  struct Tables {};
  static __m256i weights(const Block* x, const Tables&) {
    // q − 16 = nibble − 16 where bit 4 is clear, nibble where it is set.
    return _mm256_sub_epi8(nibbles32(x->qs), _mm256_xor_si256(high_bits(x->qh), _mm256_set1_epi8(0x10)));
  }
};

struct IQ4NLDecode {
  using Block = BlockIQ4NL;
  static constexpr int kPrefetchEvery = 4;
  struct Tables {
    __m256i values = bcast16(reinterpret_cast<const uint8_t*>(kIQ4NL));
  };
  static __m256i weights(const Block* x, const Tables& t) { return _mm256_shuffle_epi8(t.values, nibbles32(x->qs)); }
};

// Q5_1: quants 0..31 (nibble | bit 4), value = d·q + m.
struct Q5_1Decode {
  using Block = BlockQ5_1;
  static __m256i weights(const Block* x) { return _mm256_or_si256(nibbles32(x->qs), high_bits(x->qh)); }
};

}  // namespace

void register_avx2_q5_iq4_kernels(KernelTable& t) {
  t[Type::Q5_0].vec_dot = vec_dot_tile<Q8_0ActKernel<Q5_0Decode>>;
  t[Type::Q5_0].gemm = gemm_tiles<Q8_0ActKernel<Q5_0Decode>>;
  t[Type::IQ4_NL].vec_dot = vec_dot_tile<Q8_0ActKernel<IQ4NLDecode>>;
  t[Type::IQ4_NL].gemm = gemm_tiles<Q8_0ActKernel<IQ4NLDecode>>;
  t[Type::Q5_1].vec_dot = vec_dot_tile<MinKernel<Q5_1Decode>>;
  t[Type::Q5_1].gemm = gemm_tiles<MinKernel<Q5_1Decode>>;
}

}  // namespace qgml
