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

namespace {

// cos/sin of position·freq[i] (pairs), computed in double because pos·freq
// reaches 1e4–1e5 radians at long contexts, where a float angle would
// already be off by ~1e-3. Rows for small non-negative positions are kept
// across calls: every layer (and, in calibration, every window) ropes the
// same positions, and these sin/cos were ~1 % of a calibration's time. The
// key is the frequencies and the position scale: any other value of either
// starts a new table.
class AngleTable {
 public:
  const float* row(const std::vector<double>& freq, double fscale, int32_t position) {
    if (freq != freq_ || fscale != fscale_) {
      freq_ = freq;
      fscale_ = fscale;
      rows_.clear();
      have_.clear();
    }
    const size_t width = 2 * freq.size();
    if (position < 0 || position >= kMaxCachedPosition) {
      scratch_.resize(width);
      fill(position, scratch_.data());
      return scratch_.data();
    }
    const size_t p = static_cast<size_t>(position);
    if (p >= have_.size()) {
      have_.resize(p + 1, 0);
      rows_.resize((p + 1) * width);
    }
    float* r = &rows_[p * width];
    if (!have_[p]) {
      fill(position, r);
      have_[p] = 1;
    }
    return r;
  }

 private:
  // At most 16384 rows per thread: 8 MB at 64 pairs (head_dim 128).
  static constexpr int32_t kMaxCachedPosition = 16384;
  void fill(int32_t position, float* cos_sin) const {
    const double scaled = static_cast<double>(position) * fscale_;
    for (size_t i = 0; i < freq_.size(); ++i) {
      const double theta = scaled * freq_[i];
      cos_sin[2 * i] = static_cast<float>(std::cos(theta));
      cos_sin[2 * i + 1] = static_cast<float>(std::sin(theta));
    }
  }
  std::vector<double> freq_;
  double fscale_ = 0.0;
  std::vector<float> rows_, scratch_;
  std::vector<char> have_;
};

}  // namespace

// cos/sin depend only on (position, pair), not on the head: looked up once
// per token and reused for its n_heads rows.
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
  thread_local AngleTable table;
  const float* cos_sin = nullptr;

  const int64_t n_heads = dst->ne[1];
  int64_t r0, r1;
  split_range(dst->nrows(), p.ith, p.nth, &r0, &r1);
  int64_t cached_token = -1;
  for (int64_t r = r0; r < r1; ++r) {
    const int64_t i1 = r % n_heads, token = r / n_heads;
    const int64_t i2 = token % dst->ne[2], i3 = token / dst->ne[2];
    if (token != cached_token) {
      const int32_t ps = *reinterpret_cast<const int32_t*>(static_cast<const char*>(pos->data) + i2 * pos->nb[0]);
      cos_sin = table.row(freq, fscale, ps);
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
