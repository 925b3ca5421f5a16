// AVX2 kernels for bitsandbytes' nf4_f32 / fp4_f32 against Q8_A activations.
// Both run the shared 64-block tile loop of nf4_avx2.h: nf4_f32 with qgml's
// NF4 digit arithmetic unchanged (only the scale is an f32), fp4_f32 with
// FP4's exact integer codes kFP4Int = ±k (units of 1/192, |k| ≤ 192) as two
// digits, k = 2·hi + lo (hi ≤ 96, lo ≤ 1), so that maddubs cannot saturate
// (2·96·127 < 2^15, where 2·192·127 would). A separate ±1 table carries the
// sign onto the activations, since hi is 0 for the smallest code 1/192.
// One int32 lane sums 8 products of at most 192·127: no overflow.
#include "../../quants.h"
#include "../../quants_bnb.h"
#include "../gemm_tiles.h"
#include "../kernels.h"
#include "avx2_util.h"
#include "nf4_avx2.h"

namespace qgml {
namespace {

using namespace avx2;

struct Fp4Tables {
  __m256i sign, hi, lo;  // sign ∈ {−1, 0, 1}; hi, lo as magnitudes
  Fp4Tables() {
    int8_t s[16];
    for (int i = 0; i < 16; ++i) s[i] = static_cast<int8_t>(kFP4Int[i] > 0 ? 1 : kFP4Int[i] < 0 ? -1 : 0);
    sign = bcast16(reinterpret_cast<const uint8_t*>(s));
    hi = _mm256_abs_epi8(bcast16(reinterpret_cast<const uint8_t*>(kFP4Digits.hi)));
    lo = _mm256_abs_epi8(bcast16(reinterpret_cast<const uint8_t*>(kFP4Digits.lo)));
  }
};

struct Fp4Code {
  using Tables = Fp4Tables;
  static constexpr float kUnit = kFP4IntUnit;
  template <int NA>
  static void sub(const uint8_t* qs, const int8_t* const* qa, int off, const Tables& t, __m256i* i32) {
    const __m256i two = _mm256_set1_epi16(2), ones = _mm256_set1_epi16(1), m4 = _mm256_set1_epi8(0x0f);
    const __m256i v = load(qs);
    for (int j = 0; j < NA; ++j) i32[j] = _mm256_setzero_si256();
    for (int h = 0; h < 2; ++h) {  // elements 0..31 (low nibbles), then 32..63 (high nibbles)
      const __m256i idx = _mm256_and_si256(h == 0 ? v : _mm256_srli_epi16(v, 4), m4);
      const __m256i s = _mm256_shuffle_epi8(t.sign, idx);
      const __m256i uh = _mm256_shuffle_epi8(t.hi, idx);
      const __m256i ul = _mm256_shuffle_epi8(t.lo, idx);
      for (int j = 0; j < NA; ++j) {
        const __m256i sa = _mm256_sign_epi8(load(qa[j] + off + 32 * h), s);
        const __m256i ph = _mm256_madd_epi16(_mm256_maddubs_epi16(uh, sa), two);
        const __m256i pl = _mm256_madd_epi16(_mm256_maddubs_epi16(ul, sa), ones);
        i32[j] = _mm256_add_epi32(i32[j], _mm256_add_epi32(ph, pl));
      }
    }
  }
};

using Nf4F32Kernel = Code64Kernel<BlockBnb4, Nf4Code>;
using Fp4F32Kernel = Code64Kernel<BlockBnb4, Fp4Code>;

}  // namespace

void register_avx2_bnb4_kernels(KernelTable& t) {
  t[Type::NF4_F32].vec_dot = vec_dot_tile<Nf4F32Kernel>;
  t[Type::NF4_F32].gemm = gemm_tiles<Nf4F32Kernel>;
  t[Type::FP4_F32].vec_dot = vec_dot_tile<Fp4F32Kernel>;
  t[Type::FP4_F32].gemm = gemm_tiles<Fp4F32Kernel>;
}

}  // namespace qgml
