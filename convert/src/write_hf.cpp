// GGUF → Hugging Face directory (qgml dequantize): the way back for users, and
// how tests compare an imported model tensor by tensor with a library's own
// dequantization.
//
// Every tensor is dequantized with its type's to_float (the definition the
// kernels are tested against), then the import's re-layouts are undone:
// act-order columns go back to their places ("<name>.perm"), Llama q/k rows
// back to HF's rotate_half order, and names back to HF's. The directory is
// written under a temporary name beside OUT and renamed into place, so a
// partial export never appears under OUT. Byte-level BPE vocabularies are
// written back as tokenizer.json (write_hf_tokenizer.cpp).
#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <string>
#include <vector>

#include "qgml/convert.h"
#include "qgml/error.h"
#include "qgml/fp16.h"
#include "qgml/gguf.h"
#include "qgml/io.h"
#include "qgml/quant.h"

namespace qgml::convert {
namespace {

// GGUF → HF names of the Llama / Qwen2 layout (the inverse of hf_model.cpp's map).
std::string hf_name(const std::string& g) {
  static const std::map<std::string, std::string> globals = {
      {"token_embd.weight", "model.embed_tokens.weight"},
      {"output_norm.weight", "model.norm.weight"},
      {"output.weight", "lm_head.weight"},
  };
  static const std::map<std::string, std::string> per_layer = {
      {"attn_norm.weight", "input_layernorm.weight"},     {"ffn_norm.weight", "post_attention_layernorm.weight"},
      {"attn_q.weight", "self_attn.q_proj.weight"},       {"attn_k.weight", "self_attn.k_proj.weight"},
      {"attn_v.weight", "self_attn.v_proj.weight"},       {"attn_q.bias", "self_attn.q_proj.bias"},
      {"attn_k.bias", "self_attn.k_proj.bias"},           {"attn_v.bias", "self_attn.v_proj.bias"},
      {"attn_output.weight", "self_attn.o_proj.weight"},  {"ffn_gate.weight", "mlp.gate_proj.weight"},
      {"ffn_up.weight", "mlp.up_proj.weight"},            {"ffn_down.weight", "mlp.down_proj.weight"},
  };
  if (auto it = globals.find(g); it != globals.end()) return it->second;
  if (g.compare(0, 4, "blk.") == 0) {
    const size_t dot = g.find('.', 4);
    if (dot != std::string::npos) {
      if (auto it = per_layer.find(g.substr(dot + 1)); it != per_layer.end())
        return "model.layers." + g.substr(4, dot - 4) + "." + it->second;
    }
  }
  return "";
}

// GGUF stores these as f32: the shortest decimal that reads back as the same
// f32 (1e-05, not 9.99999975e-06), as Python would print the original.
std::string json_number(double x) {
  char buf[64];
  if (std::fabs(x) >= 1 && std::fabs(x) < 1e15 && x == std::floor(x)) {  // 10000.0, not 1e+04
    std::snprintf(buf, sizeof buf, "%.1f", x);
    return buf;
  }
  for (int digits = 1; digits <= 9; ++digits) {
    std::snprintf(buf, sizeof buf, "%.*g", digits, x);
    if (static_cast<float>(std::strtod(buf, nullptr)) == static_cast<float>(x)) break;
  }
  if (!std::strpbrk(buf, ".eEn")) std::strcat(buf, ".0");  // keep it a float in JSON readers that care
  return buf;
}

// Writes `text` as a file under dir.
void write_text(const std::string& path, const std::string& text) {
  AtomicFile f(path);
  f.write(text.data(), text.size());
  f.commit();
}

void remove_tree(const std::string& dir) {
  if (DIR* d = ::opendir(dir.c_str())) {
    while (dirent* e = ::readdir(d)) {
      const std::string n = e->d_name;
      if (n != "." && n != "..") ::unlink((dir + "/" + n).c_str());
    }
    ::closedir(d);
  }
  ::rmdir(dir.c_str());
}

struct OutTensor {
  const gguf::TensorInfo* info;
  std::string name;
  std::vector<int64_t> shape;  // HF order
  size_t nbytes;
};

}  // namespace

// write_hf_tokenizer.cpp: "" when tokenizer.json + tokenizer_config.json were written, else why not.
std::string write_hf_tokenizer(const gguf::Reader& r, const std::string& dir);

std::vector<std::string> write_hf(const std::string& gguf_path, const std::string& out_dir, Type dtype) {
  if (dtype != Type::F32 && dtype != Type::BF16) fail("dequantize: output dtype %s is not supported (f32 or bf16)", type_name(dtype));
  gguf::Reader r(gguf_path);
  const std::string arch = r.get_string("general.architecture");
  if (arch != "llama" && arch != "qwen2")
    fail("%s: architecture '%s' cannot be exported to Hugging Face (llama and qwen2 can)", gguf_path.c_str(), arch.c_str());
  const std::string A = arch + ".";
  std::vector<std::string> notes;
  const int64_t n_head = r.get_int(A + "attention.head_count");
  const int64_t n_head_kv = r.get_int(A + "attention.head_count_kv", n_head);
  const int64_t n_embd = r.get_int(A + "embedding_length");
  const int64_t head_dim = r.get_int(A + "attention.key_length", n_embd / n_head);
  const bool permute_qk = arch == "llama";

  std::vector<OutTensor> outs;
  const gguf::TensorInfo* embd = nullptr;
  bool has_output = false;
  const size_t esize = dtype == Type::F32 ? 4 : 2;
  for (const gguf::TensorInfo& t : r.tensors()) {
    const std::string n = t.name;
    if (n.size() > std::strlen(kPermSuffix) && n.compare(n.size() - std::strlen(kPermSuffix), std::string::npos, kPermSuffix) == 0) continue;
    if (n == "rope_freqs.weight") {
      notes.push_back("rope_freqs.weight (llama3 rope factors) is not exported; set rope_scaling in config.json by hand");
      continue;
    }
    const std::string h = hf_name(n);
    if (h.empty()) fail("%s: tensor '%s' has no Hugging Face name in a %s model", gguf_path.c_str(), n.c_str(), arch.c_str());
    if (traits(t.type).to_float == nullptr)
      fail("%s: tensor '%s' has type %s, which this build cannot dequantize", gguf_path.c_str(), n.c_str(), type_name(t.type));
    if (n == "token_embd.weight") embd = &t;
    if (n == "output.weight") has_output = true;
    OutTensor o{&t, h, {}, 0};
    for (int d = t.n_dims - 1; d >= 0; --d) o.shape.push_back(t.ne[d]);
    int64_t ne = 1;
    for (int d = 0; d < t.n_dims; ++d) ne *= t.ne[d];
    o.nbytes = static_cast<size_t>(ne) * esize;
    outs.push_back(o);
  }
  if (!embd) fail("%s: no token_embd.weight", gguf_path.c_str());

  // config.json: what transformers needs to build the model.
  std::string cfg = "{\n";
  auto kv = [&](const std::string& k, const std::string& v) { cfg += "  \"" + k + "\": " + v + ",\n"; };
  kv("architectures", arch == "llama" ? "[\"LlamaForCausalLM\"]" : "[\"Qwen2ForCausalLM\"]");
  kv("model_type", "\"" + arch + "\"");
  kv("hidden_size", std::to_string(n_embd));
  kv("intermediate_size", std::to_string(r.get_int(A + "feed_forward_length")));
  kv("num_hidden_layers", std::to_string(r.get_int(A + "block_count")));
  kv("num_attention_heads", std::to_string(n_head));
  kv("num_key_value_heads", std::to_string(n_head_kv));
  kv("head_dim", std::to_string(head_dim));
  kv("vocab_size", std::to_string(embd->ne[1]));
  kv("max_position_embeddings", std::to_string(r.get_int(A + "context_length", 2048)));
  kv("rms_norm_eps", json_number(r.get_float(A + "attention.layer_norm_rms_epsilon", 1e-6)));
  kv("rope_theta", json_number(r.get_float(A + "rope.freq_base", 10000.0)));
  if (r.find("tokenizer.ggml.bos_token_id")) kv("bos_token_id", std::to_string(r.get_int("tokenizer.ggml.bos_token_id")));
  if (r.find("tokenizer.ggml.eos_token_id")) kv("eos_token_id", std::to_string(r.get_int("tokenizer.ggml.eos_token_id")));
  kv("tie_word_embeddings", has_output ? "false" : "true");
  kv("torch_dtype", dtype == Type::F32 ? "\"float32\"" : "\"bfloat16\"");
  cfg += "  \"attention_bias\": " + std::string(arch == "qwen2" ? "true" : "false") + "\n}\n";

  // safetensors header: tensors back to back in the order of the GGUF.
  std::string hdr = "{\"__metadata__\":{\"format\":\"pt\"}";
  size_t off = 0;
  for (const OutTensor& o : outs) {
    std::string shape;
    for (int64_t x : o.shape) shape += (shape.empty() ? "" : ",") + std::to_string(x);
    hdr += ",\"" + o.name + "\":{\"dtype\":\"" + (dtype == Type::F32 ? "F32" : "BF16") + "\",\"shape\":[" + shape +
           "],\"data_offsets\":[" + std::to_string(off) + "," + std::to_string(off + o.nbytes) + "]}";
    off += o.nbytes;
  }
  hdr += "}";
  while (hdr.size() % 8 != 0) hdr += ' ';

  // A fresh directory beside out_dir, renamed into place once complete.
  std::string base = out_dir;
  while (base.size() > 1 && base.back() == '/') base.pop_back();
  struct stat st;
  if (::stat(base.c_str(), &st) == 0) {
    bool empty = S_ISDIR(st.st_mode);
    if (DIR* d = empty ? ::opendir(base.c_str()) : nullptr) {
      while (dirent* e = ::readdir(d))
        if (std::strcmp(e->d_name, ".") != 0 && std::strcmp(e->d_name, "..") != 0) empty = false;
      ::closedir(d);
    }
    if (!empty) fail("%s: already exists and is not an empty directory", base.c_str());
  }
  const std::string tmp = base + ".tmp." + std::to_string(::getpid());
  remove_tree(tmp);
  if (::mkdir(tmp.c_str(), 0755) != 0) fail("%s: cannot create directory: %s", tmp.c_str(), std::strerror(errno));
  try {
    write_text(tmp + "/config.json", cfg);
    if (std::string why = write_hf_tokenizer(r, tmp); !why.empty()) notes.push_back(why);
    AtomicFile f(tmp + "/model.safetensors");
    const uint64_t hlen = hdr.size();
    f.write(&hlen, 8);
    f.write(hdr.data(), hdr.size());
    std::vector<float> row, buf;
    std::vector<uint16_t> half;
    for (const OutTensor& o : outs) {
      const gguf::TensorInfo& t = *o.info;
      const int64_t k = t.ne[0], rows = t.ne[1] * t.ne[2] * t.ne[3];
      const gguf::TensorInfo* perm_info = r.find_tensor(t.name + kPermSuffix);
      const int32_t* perm = nullptr;
      if (perm_info) {
        if (perm_info->type != Type::I32 || perm_info->ne[0] != k)
          fail("%s: tensor '%s%s' is not I32 [%lld]", gguf_path.c_str(), t.name.c_str(), kPermSuffix, static_cast<long long>(k));
        perm = static_cast<const int32_t*>(r.tensor_data(*perm_info));
        std::vector<bool> seen(static_cast<size_t>(k));
        for (int64_t j = 0; j < k; ++j) {
          if (perm[j] < 0 || perm[j] >= k || seen[static_cast<size_t>(perm[j])])
            fail("%s: tensor '%s%s' is not a permutation", gguf_path.c_str(), t.name.c_str(), kPermSuffix);
          seen[static_cast<size_t>(perm[j])] = true;
        }
      }
      int64_t hd = 0;
      if (permute_qk && t.name.find(".attn_q.") != std::string::npos) hd = t.ne[1] / n_head;
      if (permute_qk && t.name.find(".attn_k.") != std::string::npos) hd = t.ne[1] / n_head_kv;
      if (t.n_dims < 2) hd = 0;
      buf.assign(static_cast<size_t>(k * rows), 0.0f);
      row.resize(static_cast<size_t>(k));
      const uint8_t* src = static_cast<const uint8_t*>(r.tensor_data(t));
      const size_t rs = row_size(t.type, k);
      for (int64_t i = 0; i < rows; ++i) {
        traits(t.type).to_float(src + static_cast<size_t>(i) * rs, row.data(), k);
        // GGUF row i of a Llama q/k came from HF row h·hd + (w % 2)·hd/2 + w/2 (hf_model.cpp).
        const int64_t dst_row = hd ? (i / hd) * hd + (i % hd % 2) * (hd / 2) + (i % hd) / 2 : i;
        float* d = buf.data() + dst_row * k;
        if (perm) {
          for (int64_t j = 0; j < k; ++j) d[perm[j]] = row[static_cast<size_t>(j)];
        } else {
          std::memcpy(d, row.data(), static_cast<size_t>(k) * sizeof(float));
        }
      }
      if (dtype == Type::F32) {
        f.write(buf.data(), buf.size() * sizeof(float));
      } else {
        half.resize(buf.size());
        for (size_t i = 0; i < buf.size(); ++i) half[i] = f32_to_bf16(buf[i]);
        f.write(half.data(), half.size() * 2);
      }
    }
    f.commit();
    if (::rename(tmp.c_str(), base.c_str()) != 0) fail("%s: cannot rename %s into place: %s", base.c_str(), tmp.c_str(), std::strerror(errno));
  } catch (...) {
    remove_tree(tmp);
    throw;
  }
  return notes;
}

}  // namespace qgml::convert
