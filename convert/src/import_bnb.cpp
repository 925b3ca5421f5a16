// bitsandbytes 4-bit (NF4 / FP4, as transformers saves them) → qgml's
// nf4_f32 / fp4_f32 blocks, exactly.
//
// A quantized weight "<p>.weight" is U8 holding the flattened [out, in]
// tensor two codes per byte (element 2i in the high nibble of byte i, 2i+1 in
// the low one), with companions "<p>.weight.absmax" (F32 per block, or U8
// codes when double-quantized), ".quant_map" (F32[16], the code values),
// ".nested_absmax" / ".nested_quant_map" (double quant) and
// ".quant_state.bitsandbytes__nf4|fp4" (U8 bytes of a JSON object: quant_type,
// blocksize, shape, nested_blocksize, nested_offset). bitsandbytes
// dequantizes a block's absmax as nested_quant_map[c] · nested_absmax[b /
// nested_blocksize] + nested_offset and an element as quant_map[q] · absmax,
// each step rounded to f32 — reproduced here in that order, and stored as the
// f32 absmax of a 64-element qgml block, so the values are bit-identical.
#include <cstring>

#include "import_quant.h"
#include "qgml/error.h"
#include "qgml/quant.h"
#include "safetensors.h"

namespace qgml::convert::quant {
namespace {

constexpr const char* kStateTag = ".quant_state.bitsandbytes__";

struct BnbSource {
  std::string name, file;  // the weight's HF name, its file
  int64_t n_out = 0, n_in = 0, blocksize = 64, nested_blocksize = 256;
  float nested_offset = 0;
  bool nested = false;
  const uint8_t* codes = nullptr;        // packed weight bytes
  const uint8_t* absmax = nullptr;       // F32 or U8 (nested)
  const uint8_t* nested_absmax = nullptr;
  float quant_map[16] = {};
  float nested_map[256] = {};

  float block_absmax(int64_t b) const {
    float a;
    if (!nested) {
      std::memcpy(&a, absmax + 4 * b, 4);
      return a;
    }
    float na;
    std::memcpy(&na, nested_absmax + 4 * (b / nested_blocksize), 4);
    // Two f32 roundings, as bitsandbytes: volatile keeps the compiler from
    // fusing them into one fma (which targets with FMA may do by default).
    volatile float prod = nested_map[absmax[b]] * na;
    return prod + nested_offset;
  }
  int code(int64_t e) const { return e % 2 == 0 ? codes[e / 2] >> 4 : codes[e / 2] & 15; }
};

const hf::Location& need(const std::map<std::string, hf::Location>& t, const std::string& name, const std::string& file,
                         safetensors::Dtype dtype, int64_t n) {
  auto it = t.find(name);
  if (it == t.end()) fail("%s: tensor '%s' is missing (the bitsandbytes weight needs it)", file.c_str(), name.c_str());
  if (it->second.view->dtype != dtype)
    fail("%s: tensor '%s' has dtype %s, expected %s", it->second.file->path().c_str(), name.c_str(),
         safetensors::dtype_name(it->second.view->dtype), safetensors::dtype_name(dtype));
  if (n >= 0 && it->second.view->n_elements() != n)
    fail("%s: tensor '%s' has %lld elements, expected %lld", it->second.file->path().c_str(), name.c_str(),
         static_cast<long long>(it->second.view->n_elements()), static_cast<long long>(n));
  return it->second;
}

int64_t pos_int(const json::Value& j, const char* key, const std::string& where) {
  const json::Value* v = j.get(key);
  if (!v || !v->is_int() || v->as_int() <= 0 || v->as_int() > (int64_t{1} << 40))
    fail("%s: quant_state '%s' is missing or not a positive integer", where.c_str(), key);
  return v->as_int();
}

// Whether `type` decodes code c of a block with absmax 1 to exactly map[c].
bool table_matches(Type type, const float map[16]) {
  if (traits(type).to_float == nullptr) {
    if (type != Type::NF4_F32) return false;
    // Until the nf4_f32 kernels exist, compare with qgml's NF4 code table
    // through the f16-absmax NF4 type (absmax 1 is exact in f16).
    uint8_t codes[64] = {}, block[34];
    for (int c = 0; c < 16; ++c) codes[c] = static_cast<uint8_t>(c);
    const float one = 1.0f;
    pack_nf4_row(Type::NF4, 64, codes, &one, block);
    float out[64];
    traits(Type::NF4).to_float(block, out, 64);
    return std::memcmp(out, map, 16 * sizeof(float)) == 0;
  }
  uint8_t block[36] = {};
  const float one = 1.0f;
  std::memcpy(block, &one, 4);
  for (int j = 0; j < 16; ++j) block[4 + j] = static_cast<uint8_t>(j);
  float out[64];
  traits(type).to_float(block, out, 64);
  return std::memcmp(out, map, 16 * sizeof(float)) == 0;
}

Linear make_linear(const std::map<std::string, hf::Location>& t, const std::string& w, const std::string& state_name) {
  using safetensors::Dtype;
  auto s = std::make_shared<BnbSource>();
  s->name = w;
  const hf::Location& st = t.at(state_name);
  s->file = st.file->path();
  const std::string where = s->file + ": '" + state_name + "'";
  if (st.view->dtype != Dtype::U8) fail("%s: dtype %s, expected U8 (JSON bytes)", where.c_str(), safetensors::dtype_name(st.view->dtype));
  const json::Value js = json::parse(
      std::string_view(reinterpret_cast<const char*>(st.file->data(*st.view)), static_cast<size_t>(st.view->nbytes)), where);
  if (!js.is_object()) fail("%s: not a JSON object", where.c_str());
  const json::Value* qt = js.get("quant_type");
  const std::string quant_type = qt && qt->is_string() ? qt->as_string() : "";
  if (quant_type != "nf4" && quant_type != "fp4") fail("%s: quant_type '%s' is not nf4 or fp4", where.c_str(), quant_type.c_str());
  s->blocksize = pos_int(js, "blocksize", where);
  const json::Value* shape = js.get("shape");
  if (!shape || !shape->is_array() || shape->items().size() != 2 || !shape->items()[0].is_int() || !shape->items()[1].is_int())
    fail("%s: quant_state 'shape' must be [out, in]", where.c_str());
  s->n_out = shape->items()[0].as_int();
  s->n_in = shape->items()[1].as_int();
  if (s->n_out <= 0 || s->n_in <= 0 || s->n_out > (int64_t{1} << 32) / s->n_in * 16)
    fail("%s: quant_state shape [%lld, %lld] is out of range", where.c_str(), static_cast<long long>(s->n_out), static_cast<long long>(s->n_in));
  if (s->n_in % 64 != 0)
    fail("%s: %lld input columns; qgml's 4-bit blocks need a multiple of 64", where.c_str(), static_cast<long long>(s->n_in));
  const int64_t n = s->n_out * s->n_in, n_blocks = (n + s->blocksize - 1) / s->blocksize;

  const hf::Location& wt = need(t, w, s->file, Dtype::U8, (n + 1) / 2);
  s->codes = wt.file->data(*wt.view);
  const hf::Location& qm = need(t, w + ".quant_map", s->file, Dtype::F32, 16);
  std::memcpy(s->quant_map, qm.file->data(*qm.view), sizeof s->quant_map);
  s->nested = t.count(w + ".nested_absmax") != 0;
  if (s->nested) {
    s->nested_blocksize = pos_int(js, "nested_blocksize", where);
    const json::Value* off = js.get("nested_offset");
    if (!off || !off->is_number()) fail("%s: quant_state 'nested_offset' is missing", where.c_str());
    s->nested_offset = static_cast<float>(off->as_double());
    s->absmax = need(t, w + ".absmax", s->file, Dtype::U8, n_blocks).file->data(*t.at(w + ".absmax").view);
    const hf::Location& na = need(t, w + ".nested_absmax", s->file, Dtype::F32, (n_blocks + s->nested_blocksize - 1) / s->nested_blocksize);
    s->nested_absmax = na.file->data(*na.view);
    const hf::Location& nm = need(t, w + ".nested_quant_map", s->file, Dtype::F32, 256);
    std::memcpy(s->nested_map, nm.file->data(*nm.view), sizeof s->nested_map);
  } else {
    s->absmax = need(t, w + ".absmax", s->file, Dtype::F32, n_blocks).file->data(*t.at(w + ".absmax").view);
  }

  Linear L;
  L.file = s->file;
  L.n_out = s->n_out;
  L.n_in = s->n_in;
  const Type want = quant_type == "nf4" ? Type::NF4_F32 : Type::FP4_F32;
  if (s->blocksize != 64) L.note = "blocksize " + std::to_string(s->blocksize) + " is not 64";
  else if (!table_matches(want, s->quant_map)) L.note = "quant_map differs from qgml's " + quant_type + " table";
  else L.type = want;

  L.float_rows = [s](int64_t r0, int64_t cnt, float* dst) {
    for (int64_t e = r0 * s->n_in, i = 0; i < cnt * s->n_in; ++e, ++i)
      dst[i] = s->quant_map[s->code(e)] * s->block_absmax(e / s->blocksize);
  };
  const Type type = L.type;
  L.pack_rows = [s, type, float_rows = L.float_rows](int64_t r0, int64_t cnt, uint8_t* dst) {
    if (type == Type::F32) {
      float_rows(r0, cnt, reinterpret_cast<float*>(dst));
      return;
    }
    // qgml block: f32 absmax, then element j in the low nibble of byte 4+j, j+32 in the high one.
    for (int64_t b = r0 * s->n_in / 64; b < (r0 + cnt) * s->n_in / 64; ++b, dst += 36) {
      const float a = s->block_absmax(b);
      std::memcpy(dst, &a, 4);
      for (int j = 0; j < 32; ++j) dst[4 + j] = static_cast<uint8_t>(s->code(64 * b + j) | s->code(64 * b + j + 32) << 4);
    }
  };
  return L;
}

}  // namespace

std::map<std::string, Linear> import_bnb(const Config& c, std::map<std::string, hf::Location>& tensors) {
  std::map<std::string, std::string> states;  // weight name → quant_state tensor name
  for (const auto& [name, loc] : tensors) {
    const size_t p = name.find(kStateTag);
    if (p != std::string::npos) states[name.substr(0, p)] = name;
  }
  if (states.empty()) fail("%s: the config says bitsandbytes 4-bit, but no tensor has a quant_state", c.source.c_str());
  std::map<std::string, Linear> out;
  for (const auto& [w, state] : states) {
    if (!tensors.count(w)) fail("%s: '%s' has a quant_state but no weight", tensors.at(state).file->path().c_str(), w.c_str());
    out[w] = make_linear(tensors, w, state);
  }
  for (const auto& [w, state] : states)
    for (const char* suffix : {"", ".absmax", ".quant_map", ".nested_absmax", ".nested_quant_map"}) tensors.erase(w + suffix);
  for (const auto& [w, state] : states) tensors.erase(state);
  return out;
}

}  // namespace qgml::convert::quant
