// Rotary position embedding, in both pairings (adjacent pairs and NeoX halves).
#include <cmath>
#include <vector>

#include "op_impl.h"

namespace qgml {

Tensor* rope(Context& ctx, Tensor* a, Tensor* pos, const RopeParams& rp, Tensor* freq_factors) {
  if (a->type != Type::F32) fail("rope: expects F32 input, got %s", describe(a).c_str());
  if (pos->type != Type::I32 || pos->ne[0] != a->ne[2] || pos->nelements() != pos->ne[0])
    fail("rope: positions must be I32 [%lld], got %s", static_cast<long long>(a->ne[2]), describe(pos).c_str());
  if (rp.n_rot <= 0 || rp.n_rot % 2 != 0 || rp.n_rot > a->ne[0])
    fail("rope: n_rot %d must be even and in (0, %lld]", rp.n_rot, static_cast<long long>(a->ne[0]));
  if (rp.mode != RopeMode::Adjacent && rp.mode != RopeMode::Neox) fail("rope: unknown mode %d", int(rp.mode));
  if (!(rp.freq_base > 0.0f)) fail("rope: freq_base must be > 0");
  if (!(rp.freq_scale > 0.0f) || !std::isfinite(rp.freq_scale)) fail("rope: freq_scale must be finite and > 0");
  if (freq_factors != nullptr &&
      (freq_factors->type != Type::F32 || freq_factors->nelements() < rp.n_rot / 2 || !freq_factors->is_contiguous()))
    fail("rope: freq_factors must be contiguous F32 with at least n_rot/2 = %d values", rp.n_rot / 2);
  Tensor* r = new_result_like(ctx, Op::Rope, a);
  r->src[0] = a;
  r->src[1] = pos;
  r->src[2] = freq_factors;
  r->params[0] = rp.n_rot;
  r->params[1] = static_cast<int32_t>(rp.mode);
  r->set_param_f32(2, rp.freq_base);
  r->set_param_f32(3, rp.freq_scale);
  return r;
}

// cos/sin depend only on (position, pair), not on the head: they are computed
// once per token and reused for its n_heads rows. Angles are computed in
// double because pos·freq reaches 1e4–1e5 radians at long contexts, where a
// float angle would already be off by ~1e-3.
void forward_rope(const ComputeParams& p, Tensor* dst) {
  const Tensor* a = dst->src[0];
  const Tensor* pos = dst->src[1];
  const Tensor* ff = dst->src[2];
  const int n_rot = dst->params[0];
  const bool neox = static_cast<RopeMode>(dst->params[1]) == RopeMode::Neox;
  const double base = dst->param_f32(2), fscale = dst->param_f32(3);
  const int half = n_rot / 2;

  std::vector<double> freq(static_cast<size_t>(half));
  for (int i = 0; i < half; ++i) {
    freq[i] = std::pow(base, -static_cast<double>(2 * i) / n_rot);
    if (ff != nullptr) freq[i] /= static_cast<const float*>(ff->data)[i];
  }
  std::vector<float> cos_sin(static_cast<size_t>(2 * half));

  const int64_t n_heads = dst->ne[1];
  int64_t r0, r1;
  split_range(dst->nrows(), p.ith, p.nth, &r0, &r1);
  int64_t cached_token = -1;
  for (int64_t r = r0; r < r1; ++r) {
    const int64_t i1 = r % n_heads, token = r / n_heads;
    const int64_t i2 = token % dst->ne[2], i3 = token / dst->ne[2];
    if (token != cached_token) {
      const int32_t ps = *reinterpret_cast<const int32_t*>(static_cast<const char*>(pos->data) + i2 * pos->nb[0]);
      const double position = static_cast<double>(ps) * fscale;
      for (int i = 0; i < half; ++i) {
        const double theta = position * freq[i];
        cos_sin[2 * i] = static_cast<float>(std::cos(theta));
        cos_sin[2 * i + 1] = static_cast<float>(std::sin(theta));
      }
      cached_token = token;
    }
    const char* xrow = a->row(i1, i2, i3);
    auto x = [&](int64_t i) { return *reinterpret_cast<const float*>(xrow + i * a->nb[0]); };
    float* out = reinterpret_cast<float*>(dst->row(i1, i2, i3));
    for (int i = 0; i < half; ++i) {
      const float c = cos_sin[2 * i], s = cos_sin[2 * i + 1];
      const int64_t k0 = neox ? i : 2 * i;
      const int64_t k1 = neox ? i + half : 2 * i + 1;
      const float v0 = x(k0), v1 = x(k1);
      out[k0] = v0 * c - v1 * s;
      out[k1] = v0 * s + v1 * c;
    }
    for (int64_t i = n_rot; i < dst->ne[0]; ++i) out[i] = x(i);
  }
}

}  // namespace qgml
