// Which quantization a Hugging Face checkpoint carries (quantization_config /
// quantize_config.json), where its tensors are, and the import dispatch.
#include <sys/stat.h>

#include <string>

#include "import_quant.h"
#include "qgml/error.h"
#include "safetensors.h"

namespace qgml::convert::quant {
namespace {

bool is_file(const std::string& p) {
  struct stat st;
  return ::stat(p.c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

std::string lower(std::string s) {
  for (char& ch : s) ch = static_cast<char>(ch >= 'A' && ch <= 'Z' ? ch - 'A' + 'a' : ch);
  return s;
}

std::string str(const json::Value& q, const char* key, const std::string& def, const std::string& src) {
  const json::Value* v = q.get(key);
  if (!v) return def;
  if (!v->is_string()) fail("%s: quantization setting '%s' must be a string", src.c_str(), key);
  return v->as_string();
}

bool boolean(const json::Value& q, const char* key, bool def, const std::string& src) {
  const json::Value* v = q.get(key);
  if (!v) return def;
  if (!v->is_bool()) fail("%s: quantization setting '%s' must be true or false", src.c_str(), key);
  return v->as_bool();
}

int64_t integer(const json::Value& q, const char* key, const std::string& src) {
  const json::Value* v = q.get(key);
  if (!v) fail("%s: quantization setting '%s' is missing", src.c_str(), key);
  if (!v->is_int()) fail("%s: quantization setting '%s' must be an integer", src.c_str(), key);
  return v->as_int();
}

Config parse(const json::Value& q, const std::string& src) {
  if (!q.is_object()) fail("%s: the quantization config is not a JSON object", src.c_str());
  Config c;
  c.source = src;
  const std::string method = lower(str(q, "quant_method", "gptq", src));
  if (method == "gptq") {
    c.method = Method::Gptq;
    c.bits = static_cast<int>(integer(q, "bits", src));
    if (c.bits != 2 && c.bits != 3 && c.bits != 4 && c.bits != 8)
      fail("%s: GPTQ with %d bits is not supported (2, 3, 4 and 8 are)", src.c_str(), c.bits);
    c.group = integer(q, "group_size", src);
    c.sym = boolean(q, "sym", true, src);
    c.desc_act = boolean(q, "desc_act", false, src);
    // GPTQModel writes "format", AutoGPTQ / transformers "checkpoint_format".
    std::string fmt = lower(str(q, "checkpoint_format", "", src));
    if (fmt.empty()) fmt = lower(str(q, "format", "gptq", src));
    if (fmt == "gptq") c.zeros_minus_one = true;
    else if (fmt != "gptq_v2")
      fail("%s: GPTQ checkpoint_format '%s' is not supported (gptq and gptq_v2 are)", src.c_str(), fmt.c_str());
  } else if (method == "awq") {
    c.method = Method::Awq;
    c.bits = static_cast<int>(integer(q, "bits", src));
    if (c.bits != 4) fail("%s: AWQ with %d bits is not supported (4 is)", src.c_str(), c.bits);
    c.group = integer(q, "group_size", src);
    const std::string version = lower(str(q, "version", "gemm", src));
    if (version != "gemm") fail("%s: AWQ version '%s' is not supported (GEMM packing is)", src.c_str(), version.c_str());
    if (!boolean(q, "zero_point", true, src)) fail("%s: AWQ without zero points is not supported", src.c_str());
  } else if (method == "bitsandbytes") {
    if (boolean(q, "load_in_8bit", false, src)) fail("%s: bitsandbytes 8-bit (LLM.int8) checkpoints are not supported", src.c_str());
    if (!boolean(q, "load_in_4bit", false, src)) fail("%s: bitsandbytes config without load_in_4bit", src.c_str());
    c.method = Method::Bnb4;
    c.bits = 4;
    c.group = 64;  // the actual blocksize comes from each tensor's quant_state
  } else {
    fail("%s: quant_method '%s' is not supported (gptq, awq and bitsandbytes are)", src.c_str(), method.c_str());
  }
  if (c.method != Method::Bnb4 && c.group != -1 && c.group <= 0)
    fail("%s: group_size %lld is not positive (or -1)", src.c_str(), static_cast<long long>(c.group));
  return c;
}

}  // namespace

Config read_config(const std::string& dir, const json::Value& cfg) {
  if (const json::Value* q = cfg.get("quantization_config")) return parse(*q, dir + "/config.json");
  const std::string qc = dir + "/quantize_config.json";
  if (is_file(qc)) return parse(json::parse_file(qc), qc);
  return {};
}

std::map<std::string, hf::Location> find_tensors(const std::string& dir, const Config& c) {
  if (c.method == Method::Gptq && !is_file(dir + "/model.safetensors") && !is_file(dir + "/model.safetensors.index.json")) {
    // AutoGPTQ saves one file named after quantize_config.json's
    // model_file_base_name, by default gptq_model-<bits>bit-<group>g.
    std::string base;
    const std::string qc = dir + "/quantize_config.json";
    if (is_file(qc)) {
      const json::Value q = json::parse_file(qc);
      if (q.is_object()) base = str(q, "model_file_base_name", "", qc);
    }
    if (base.empty()) base = "gptq_model-" + std::to_string(c.bits) + "bit-" + std::to_string(c.group) + "g";
    if (base.find('/') != std::string::npos) fail("%s: model_file_base_name '%s' is not a plain file name", qc.c_str(), base.c_str());
    const std::string path = dir + "/" + base + ".safetensors";
    if (!is_file(path)) fail("%s: no model.safetensors, model.safetensors.index.json or %s.safetensors", dir.c_str(), base.c_str());
    auto f = std::make_shared<safetensors::File>(path);
    std::map<std::string, hf::Location> where;
    for (const auto& t : f->tensors()) where[t.name] = {f, &t};
    return where;
  }
  return hf::find_tensors(dir);
}

std::map<std::string, Linear> import_linears(const Config& c, std::map<std::string, hf::Location>& tensors) {
  switch (c.method) {
    case Method::Gptq:
    case Method::Awq: return import_gptq(c, tensors);
    case Method::Bnb4: return import_bnb(c, tensors);
    case Method::None: break;
  }
  return {};
}

}  // namespace qgml::convert::quant
