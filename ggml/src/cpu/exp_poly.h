// The exp approximation of the SIMD math kernels (math_<level>.cpp), one set
// of constants for every level: e^x = 2^n · p(r) with n = round(x·log2 e) and
// r = x − n·ln 2, ln 2 split in a short high part (exact products n·hi for
// |n| ≤ 128) and a low correction, so |r| ≤ ln2/2 to within float rounding;
// p(r) = 1 + r + r²·q(r) with q of degree 5 (Cephes' expf minimax
// coefficients). Measured against double-precision exp (test_kernels):
// relative error below 2⁻²² for x in [kMinX, kMaxX]. Outside: x < kMinX
// gives 0 (e^x < FLT_MIN there, so at most a denormal is lost), kMaxX < x ≤
// kOverflowX gives e^kMaxX (~2.4e38, at most 1.42× low), larger
// x gives +inf; NaN stays NaN.
#pragma once

namespace qgml::exp_poly {

constexpr float kLog2e = 1.44269504088896341f;
constexpr float kLn2Hi = 0.693359375f;
constexpr float kLn2Lo = -2.12194440e-4f;
constexpr float kMinX = -87.3365478515625f;  // ≈ ln(FLT_MIN): n stays ≥ −126, a normal power of two
constexpr float kMaxX = 88.37f;  // n stays ≤ 127 (127.5·ln 2 ≈ 88.3763 would round to 128)
constexpr float kOverflowX = 88.72283172607421875f;  // the largest float below ln(FLT_MAX)
// q(r) from the highest degree down.
constexpr float kQ[6] = {1.9875691500e-4f, 1.3981999507e-3f, 8.3334519073e-3f,
                         4.1665795894e-2f, 1.6666665459e-1f, 5.0000001201e-1f};

}  // namespace qgml::exp_poly
