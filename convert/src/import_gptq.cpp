// GPTQ (AutoGPTQ / GPTQModel / transformers, formats "gptq" and "gptq_v2")
// and AWQ (AutoAWQ GEMM) linears → qgml block types, exactly.
//
// Both store, per output row o and input column i, a quant q, and per group
// g an f16 scale s and an integer zero z; the libraries dequantize to
// f32(s) · (q − z) in f32 (checked against their own dequantization in
// ../shared/data/quantized-hf/*/reference.safetensors, where an f16 product
// would differ in up to 77 % of the values, 8-bit). qgml's GPTQ blocks hold the same
// f16 scale and integers and compute the same f32 product, so the values
// carry over bit for bit.
//
// Layouts (PyTorch shapes):
//  GPTQ qweight [n_in·bits/32, n_out] I32: column o is a little-endian bit
//       stream of n_in quants (3-bit values straddle words);
//       qzeros [n_groups, n_out·bits/32] I32: row g a bit stream of n_out
//       zeros, stored minus one in format "gptq" (wrapping: (z + 1) & mask);
//       scales [n_groups, n_out] F16; g_idx [n_in] I32: the group of each
//       column (a permutation of i / group_size with desc_act).
//  AWQ  qweight [n_in, n_out/8] I32: word (i, j) holds outputs 8j..8j+7,
//       output 8j + kAwqOrder[k] in nibble k; qzeros [n_groups, n_out/8]
//       likewise; scales [n_groups, n_out] F16; group of column i = i / group.
#include <algorithm>
#include <cstring>
#include <numeric>

#include "import_quant.h"
#include "qgml/error.h"
#include "qgml/fp16.h"
#include "qgml/quant.h"
#include "safetensors.h"

namespace qgml::convert::quant {
namespace {

constexpr int kAwqOrder[8] = {0, 2, 4, 6, 1, 3, 5, 7};

bool ends_with(const std::string& s, const std::string& x) {
  return s.size() >= x.size() && s.compare(s.size() - x.size(), x.size(), x) == 0;
}

std::string shape_str(const std::vector<int64_t>& s) {
  std::string r;
  for (int64_t x : s) r += (r.empty() ? "" : ", ") + std::to_string(x);
  return "[" + r + "]";
}

uint32_t load_u32(const uint8_t* p) {
  uint32_t v;
  std::memcpy(&v, p, 4);
  return v;
}

// One GPTQ/AWQ linear's companion tensors, validated.
struct Source {
  std::string prefix, file;
  hf::Location qweight, qzeros, scales;
  int bits = 4;
  bool awq = false, minus_one = false;
  int64_t n_out = 0, n_in = 0, n_groups = 0;
  std::vector<int32_t> g_idx;

  const uint8_t* data(const hf::Location& l) const { return l.file->data(*l.view); }
  // Element `idx` of a bit stream of `bits`-bit values in 32-bit words.
  static int stream_get(const uint8_t* words, int bits, int64_t idx, int64_t word_stride) {
    const int64_t bit = idx * bits, w = bit / 32;
    const int s = static_cast<int>(bit % 32);
    uint64_t v = load_u32(words + w * word_stride) >> s;
    if (s + bits > 32) v |= static_cast<uint64_t>(load_u32(words + (w + 1) * word_stride)) << (32 - s);
    return static_cast<int>(v & ((1u << bits) - 1));
  }
  int zero(int64_t g, int64_t o) const {
    const uint8_t* z = data(qzeros);
    if (awq) {
      const int64_t w = g * (n_out / 8) + o / 8;
      const int k = static_cast<int>(std::find(kAwqOrder, kAwqOrder + 8, static_cast<int>(o % 8)) - kAwqOrder);
      return static_cast<int>(load_u32(z + 4 * w) >> (4 * k) & 15);
    }
    const int v = stream_get(z + g * (n_out * bits / 32) * 4, bits, o, 4);
    return minus_one ? (v + 1) & ((1 << bits) - 1) : v;
  }
  uint16_t scale_bits(int64_t g, int64_t o) const {
    uint16_t h;
    std::memcpy(&h, data(scales) + 2 * (g * n_out + o), 2);
    return h;
  }
  // The n_in quants of output row o, in the checkpoint's column order.
  void row_q(int64_t o, uint8_t* q) const {
    const uint8_t* w = data(qweight);
    if (awq) {
      const int k = static_cast<int>(std::find(kAwqOrder, kAwqOrder + 8, static_cast<int>(o % 8)) - kAwqOrder);
      for (int64_t i = 0; i < n_in; ++i) q[i] = static_cast<uint8_t>(load_u32(w + 4 * (i * (n_out / 8) + o / 8)) >> (4 * k) & 15);
      return;
    }
    if (32 % bits == 0) {  // 2, 4, 8 bits: whole values per word, unpacked a word at a time
      const int per = 32 / bits;
      const uint32_t mask = (1u << bits) - 1;
      for (int64_t wi = 0; wi < n_in / per; ++wi) {
        const uint32_t v = load_u32(w + 4 * (wi * n_out + o));
        for (int k = 0; k < per; ++k) q[wi * per + k] = static_cast<uint8_t>(v >> (k * bits) & mask);
      }
      return;
    }
    for (int64_t i = 0; i < n_in; ++i) q[i] = static_cast<uint8_t>(stream_get(w + 4 * o, bits, i, 4 * n_out));
  }
};

const hf::Location& need(const std::map<std::string, hf::Location>& t, const std::string& name, const std::string& file,
                         safetensors::Dtype dtype) {
  auto it = t.find(name);
  if (it == t.end()) fail("%s: tensor '%s' is missing (the quantized linear needs it)", file.c_str(), name.c_str());
  if (it->second.view->dtype != dtype)
    fail("%s: tensor '%s' has dtype %s, expected %s", it->second.file->path().c_str(), name.c_str(),
         safetensors::dtype_name(it->second.view->dtype), safetensors::dtype_name(dtype));
  return it->second;
}

void expect_shape(const hf::Location& l, std::vector<int64_t> want) {
  if (l.view->shape != want)
    fail("%s: tensor '%s' has shape %s, expected %s", l.file->path().c_str(), l.view->name.c_str(),
         shape_str(l.view->shape).c_str(), shape_str(want).c_str());
}

Source open_source(const Config& c, const std::map<std::string, hf::Location>& t, const std::string& prefix) {
  using safetensors::Dtype;
  Source s;
  s.prefix = prefix;
  s.bits = c.bits;
  s.awq = c.method == Method::Awq;
  s.minus_one = c.zeros_minus_one;
  s.qweight = need(t, prefix + ".qweight", "checkpoint", Dtype::I32);
  s.file = s.qweight.file->path();
  s.qzeros = need(t, prefix + ".qzeros", s.file, Dtype::I32);
  s.scales = need(t, prefix + ".scales", s.file, Dtype::F16);
  const auto& ws = s.qweight.view->shape;
  const auto& ss = s.scales.view->shape;
  if (ss.size() != 2 || ws.size() != 2)
    fail("%s: tensors '%s.qweight' and '%s.scales' must be 2-D", s.file.c_str(), prefix.c_str(), prefix.c_str());
  s.n_groups = ss[0];
  s.n_out = ss[1];
  const int pack = 32 / s.bits;  // for AWQ (4-bit): outputs per word; GPTQ: see below
  if (s.awq) {
    s.n_in = ws[0];
    if (s.n_out % 8 != 0) fail("%s: '%s': AWQ needs a multiple of 8 outputs, got %lld", s.file.c_str(), prefix.c_str(), static_cast<long long>(s.n_out));
    expect_shape(s.qweight, {s.n_in, s.n_out / pack});
    expect_shape(s.qzeros, {s.n_groups, s.n_out / pack});
  } else {
    // n_in · bits is a whole number of words (AutoGPTQ packs 32 columns at a time).
    s.n_in = ws[0] * 32 / s.bits;
    if ((s.n_out * s.bits) % 32 != 0)
      fail("%s: '%s': %lld outputs of %d bits do not fill whole 32-bit words", s.file.c_str(), prefix.c_str(),
           static_cast<long long>(s.n_out), s.bits);
    expect_shape(s.qweight, {s.n_in * s.bits / 32, s.n_out});
    expect_shape(s.qzeros, {s.n_groups, s.n_out * s.bits / 32});
  }
  const int64_t want_groups = c.group < 0 ? 1 : (s.n_in + c.group - 1) / c.group;
  if (s.n_groups != want_groups)
    fail("%s: tensor '%s.scales' has %lld groups; %lld input columns in groups of %lld (%s) make %lld", s.file.c_str(),
         prefix.c_str(), static_cast<long long>(s.n_groups), static_cast<long long>(s.n_in), static_cast<long long>(c.group),
         c.source.c_str(), static_cast<long long>(want_groups));
  s.g_idx.resize(static_cast<size_t>(s.n_in));
  auto gi = t.find(prefix + ".g_idx");
  if (!s.awq && gi != t.end()) {
    const hf::Location& g = need(t, prefix + ".g_idx", s.file, Dtype::I32);
    expect_shape(g, {s.n_in});
    std::memcpy(s.g_idx.data(), g.file->data(*g.view), s.g_idx.size() * 4);
    for (int64_t i = 0; i < s.n_in; ++i)
      if (s.g_idx[static_cast<size_t>(i)] < 0 || s.g_idx[static_cast<size_t>(i)] >= s.n_groups)
        fail("%s: tensor '%s.g_idx': entry %lld = %d is not a group (0..%lld)", s.file.c_str(), prefix.c_str(),
             static_cast<long long>(i), s.g_idx[static_cast<size_t>(i)], static_cast<long long>(s.n_groups - 1));
  } else {
    for (int64_t i = 0; i < s.n_in; ++i) s.g_idx[static_cast<size_t>(i)] = static_cast<int32_t>(c.group < 0 ? 0 : i / c.group);
  }
  return s;
}

// The largest block length G in {128, 64, 32} such that, after the stable
// sort by group, every G consecutive columns (from 0) share one group; 0 when
// none does.
int block_length(const std::vector<int32_t>& sorted_groups) {
  for (int G : {128, 64, 32}) {
    bool ok = true;
    for (size_t j = 0; j < sorted_groups.size() && ok; ++j) ok = sorted_groups[j] == sorted_groups[j - j % G];
    if (ok) return G;
  }
  return 0;
}

Linear make_linear(const Config& c, const Source& src) {
  auto s = std::make_shared<Source>(src);
  Linear L;
  L.file = s->file;
  L.n_out = s->n_out;
  L.n_in = s->n_in;
  std::vector<int32_t> perm(static_cast<size_t>(s->n_in));
  std::iota(perm.begin(), perm.end(), 0);
  std::stable_sort(perm.begin(), perm.end(), [&](int32_t a, int32_t b) { return s->g_idx[static_cast<size_t>(a)] < s->g_idx[static_cast<size_t>(b)]; });
  std::vector<int32_t> sorted_groups(perm.size());
  for (size_t j = 0; j < perm.size(); ++j) sorted_groups[j] = s->g_idx[static_cast<size_t>(perm[j])];
  const int G = block_length(sorted_groups);
  bool sym = true;  // every zero is 2^(bits−1): the symmetric types, which store none
  for (int64_t g = 0; g < s->n_groups && sym; ++g)
    for (int64_t o = 0; o < s->n_out && sym; ++o) sym = s->zero(g, o) == 1 << (c.bits - 1);

  if (c.bits == 8) {
    // Q8_0 holds f16 d and int8 q − 128 per 32 columns: exact for symmetric 8-bit.
    if (sym && G != 0 && s->n_in % 32 == 0) L.type = Type::Q8_0;
    else L.note = sym ? "8-bit groups do not fall on 32-column blocks" : "asymmetric 8-bit has no exact block type";
  } else if (G != 0) {
    L.type = gptq_type(c.bits, G, !sym);
  } else {
    L.note = "groups do not fall on 32-column blocks";
  }
  const bool identity = std::is_sorted(s->g_idx.begin(), s->g_idx.end());
  if (L.type != Type::F32 && !identity) L.perm = perm;

  const Type type = L.type;
  L.float_rows = [s](int64_t r0, int64_t cnt, float* dst) {
    std::vector<uint8_t> q(static_cast<size_t>(s->n_in));
    std::vector<float> sc(static_cast<size_t>(s->n_groups));
    std::vector<int> zs(sc.size());
    for (int64_t r = 0; r < cnt; ++r) {
      const int64_t o = r0 + r;
      s->row_q(o, q.data());
      for (int64_t g = 0; g < s->n_groups; ++g) {
        sc[static_cast<size_t>(g)] = fp16_to_f32(s->scale_bits(g, o));
        zs[static_cast<size_t>(g)] = s->zero(g, o);
      }
      for (int64_t i = 0; i < s->n_in; ++i) {
        const size_t g = static_cast<size_t>(s->g_idx[static_cast<size_t>(i)]);
        dst[r * s->n_in + i] = sc[g] * static_cast<float>(q[static_cast<size_t>(i)] - zs[g]);
      }
    }
  };
  auto perm_ptr = std::make_shared<std::vector<int32_t>>(perm);
  L.pack_rows = [s, type, G, perm_ptr, float_rows = L.float_rows](int64_t r0, int64_t cnt, uint8_t* dst) {
    const size_t rs = row_size(type, s->n_in);
    if (type == Type::F32) {
      float_rows(r0, cnt, reinterpret_cast<float*>(dst));
      return;
    }
    const std::vector<int32_t>& p = *perm_ptr;
    const int64_t n_blocks = (s->n_in + G - 1) / G;
    std::vector<uint8_t> q(static_cast<size_t>(s->n_in)), qs(static_cast<size_t>(s->n_in)), zs(static_cast<size_t>(n_blocks));
    std::vector<float> sc(static_cast<size_t>(n_blocks));
    for (int64_t r = 0; r < cnt; ++r) {
      const int64_t o = r0 + r;
      uint8_t* out = dst + static_cast<size_t>(r) * rs;
      s->row_q(o, q.data());
      for (size_t j = 0; j < p.size(); ++j) qs[j] = q[static_cast<size_t>(p[j])];
      if (type == Type::Q8_0) {
        for (int64_t b = 0; b < s->n_in / 32; ++b, out += 34) {
          const uint16_t d = s->scale_bits(s->g_idx[static_cast<size_t>(p[static_cast<size_t>(b * 32)])], o);
          std::memcpy(out, &d, 2);
          for (int e = 0; e < 32; ++e) out[2 + e] = static_cast<uint8_t>(static_cast<int8_t>(qs[static_cast<size_t>(b * 32 + e)] - 128));
        }
        continue;
      }
      for (int64_t b = 0; b < n_blocks; ++b) {
        const int64_t g = s->g_idx[static_cast<size_t>(p[static_cast<size_t>(b * G)])];
        sc[static_cast<size_t>(b)] = fp16_to_f32(s->scale_bits(g, o));
        zs[static_cast<size_t>(b)] = static_cast<uint8_t>(s->zero(g, o));
      }
      pack_gptq_row(type, s->n_in, qs.data(), sc.data(), zs.data(), out);
    }
  };
  return L;
}

// AutoGPTQ writes a bias for every linear of some architectures; an all-zero
// one (what it writes when the model has none) is dropped, others are left
// for the ordinary tensor path.
void drop_zero_bias(std::map<std::string, hf::Location>& t, const std::string& prefix) {
  auto it = t.find(prefix + ".bias");
  if (it == t.end()) return;
  const auto d = it->second.view->dtype;
  if (d != safetensors::Dtype::F16 && d != safetensors::Dtype::BF16 && d != safetensors::Dtype::F32) return;
  std::vector<float> v(static_cast<size_t>(it->second.view->n_elements()));
  it->second.file->read_f32(*it->second.view, v.data());
  for (float x : v)
    if (x != 0.0f) return;
  t.erase(it);
}

}  // namespace

std::map<std::string, Linear> import_gptq(const Config& c, std::map<std::string, hf::Location>& tensors) {
  std::vector<std::string> prefixes;
  for (const auto& [name, loc] : tensors)
    if (ends_with(name, ".qweight")) prefixes.push_back(name.substr(0, name.size() - 8));
  if (prefixes.empty()) fail("%s: the config says %s, but the checkpoint has no '*.qweight' tensors", c.source.c_str(),
                             c.method == Method::Awq ? "AWQ" : "GPTQ");
  std::map<std::string, Linear> out;
  for (const std::string& p : prefixes) {
    const Source s = open_source(c, tensors, p);
    out[p + ".weight"] = make_linear(c, s);
    if (tensors.count(p + ".weight"))
      fail("%s: '%s' has both a float weight and a quantized one", s.file.c_str(), p.c_str());
    for (const char* suffix : {".qweight", ".qzeros", ".scales", ".g_idx"}) tensors.erase(p + suffix);
    drop_zero_bias(tensors, p);
  }
  return out;
}

}  // namespace qgml::convert::quant
