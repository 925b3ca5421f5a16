// llama2.c "v0" checkpoints and tokenizer.bin vocabularies (formats in
// shared/README.md). llama2.c's RoPE already rotates adjacent pairs, which is
// GGUF's llama convention, so the weights are copied without permutation.
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "qgml/convert.h"
#include "qgml/error.h"
#include "qgml/io.h"
#include "pages.h"
#include "tokenizer_types.h"

namespace qgml::convert {

namespace {

struct Llama2cConfig {
  int32_t dim, hidden_dim, n_layers, n_heads, n_kv_heads, vocab_size, seq_len;
};

std::string base_name(const std::string& path) {
  std::string b = path.substr(path.find_last_of('/') + 1);
  const size_t dot = b.find_last_of('.');
  if (dot != std::string::npos && dot > 0) b.resize(dot);
  return b;
}

Llama2cConfig read_config(const MappedFile& f) {
  const std::string& path = f.path();
  if (f.size() < 28) fail("%s: not a llama2.c checkpoint: %zu bytes, shorter than the 28-byte header", path.c_str(), f.size());
  uint32_t magic;
  std::memcpy(&magic, f.data(), 4);
  if (magic == 0x616b3432) {  // "ak42": llama2.c's export.py version 1/2 formats
    fail("%s: llama2.c export format with the 'ak42' magic is not supported; export with --version 0 (legacy)",
         path.c_str());
  }
  Llama2cConfig c;
  std::memcpy(&c, f.data(), sizeof(c));
  auto check = [&](int64_t v, int64_t lo, int64_t hi, const char* what) {
    if (v < lo || v > hi) {
      fail("%s: header field %s = %lld is out of range [%lld, %lld] (not a llama2.c v0 checkpoint?)", path.c_str(), what,
           static_cast<long long>(v), static_cast<long long>(lo), static_cast<long long>(hi));
    }
  };
  // Bounds keep every size computed below far from overflow.
  check(c.dim, 1, 1 << 16, "dim");
  check(c.hidden_dim, 1, 1 << 18, "hidden_dim");
  check(c.n_layers, 1, 1024, "n_layers");
  check(c.n_heads, 1, c.dim, "n_heads");
  check(c.n_kv_heads, 1, c.n_heads, "n_kv_heads");
  const int64_t vocab = c.vocab_size;
  check(vocab < 0 ? -vocab : vocab, 1, 1 << 22, "|vocab_size|");
  check(c.seq_len, 1, 1 << 24, "seq_len");
  if (c.dim % c.n_heads != 0) fail("%s: dim %d is not a multiple of n_heads %d", path.c_str(), c.dim, c.n_heads);
  if (c.n_heads % c.n_kv_heads != 0) {
    fail("%s: n_heads %d is not a multiple of n_kv_heads %d", path.c_str(), c.n_heads, c.n_kv_heads);
  }
  if ((c.dim / c.n_heads) % 2 != 0) fail("%s: head size %d is odd; RoPE needs pairs", path.c_str(), c.dim / c.n_heads);
  return c;
}

}  // namespace

// Exposed to tests through tokenizer_types.h.
LlamaVocab read_llama2c_vocab(const std::string& path, int64_t n_vocab) {
  MappedFile f(path);
  const uint8_t* p = f.data();
  const size_t size = f.size();
  size_t off = 0;
  auto need = [&](size_t n, const char* what, int64_t id) {
    if (size - off < n) {
      fail("%s: truncated tokenizer.bin: %s of token %lld runs past the end of the %zu-byte file (vocabulary of %lld "
           "tokens expected)", path.c_str(), what, static_cast<long long>(id), size, static_cast<long long>(n_vocab));
    }
  };
  need(4, "max_token_length", -1);
  int32_t max_len;
  std::memcpy(&max_len, p, 4);
  off = 4;
  if (max_len <= 0 || max_len > (1 << 16)) fail("%s: max_token_length %d is out of range", path.c_str(), max_len);
  LlamaVocab v;
  v.tokens.reserve(static_cast<size_t>(n_vocab));
  for (int64_t id = 0; id < n_vocab; ++id) {
    need(8, "score and length", id);
    float score;
    int32_t len;
    std::memcpy(&score, p + off, 4);
    std::memcpy(&len, p + off + 4, 4);
    off += 8;
    // Token 1 and 2 are stored as "\n<s>\n" and "\n</s>\n", so a token may be
    // a few bytes longer than max_token_length; 64 KiB is a sanity bound.
    if (len < 0 || len > (1 << 16)) fail("%s: token %lld has length %d", path.c_str(), static_cast<long long>(id), len);
    need(static_cast<size_t>(len), "text", id);
    std::string text(reinterpret_cast<const char*>(p + off), static_cast<size_t>(len));
    off += static_cast<size_t>(len);
    v.tokens.push_back(std::move(text));
    v.scores.push_back(score);
  }
  if (off != size) {
    fail("%s: %zu bytes left after %lld tokens: the vocabulary does not match the checkpoint's vocab_size", path.c_str(),
         size - off, static_cast<long long>(n_vocab));
  }
  // llama.cpp's spelling: SentencePiece's ▁ for spaces and plain <s>/</s>.
  v.types.resize(v.tokens.size());
  for (size_t i = 0; i < v.tokens.size(); ++i) {
    std::string& t = v.tokens[i];
    if (t == "\n<s>\n") t = "<s>";
    if (t == "\n</s>\n") t = "</s>";
    if (t == "<unk>") {
      v.types[i] = kTokenUnknown;
    } else if (t == "<s>" || t == "</s>") {
      v.types[i] = kTokenControl;
    } else if (is_byte_token(t)) {
      v.types[i] = kTokenByte;
    } else {
      v.types[i] = kTokenNormal;
      t = spaces_to_sentencepiece(t);
    }
  }
  return v;
}

void set_llama2c_vocab(SourceModel& m, const LlamaVocab& v) {
  using gguf::Value;
  m.set("tokenizer.ggml.model", Value::string("llama"));
  m.set("tokenizer.ggml.tokens", Value::string_array(v.tokens));
  m.set("tokenizer.ggml.scores", Value::f32_array(v.scores));
  m.set("tokenizer.ggml.token_type", Value::i32_array(v.types));
  m.set("tokenizer.ggml.unknown_token_id", Value::u32(0));
  m.set("tokenizer.ggml.bos_token_id", Value::u32(1));
  m.set("tokenizer.ggml.eos_token_id", Value::u32(2));
  m.set("tokenizer.ggml.add_bos_token", Value::boolean(true));
  m.set("tokenizer.ggml.add_eos_token", Value::boolean(false));
}

std::unique_ptr<SourceModel> open_llama2c(const std::string& bin, const std::string& tokenizer_bin) {
  auto file = std::make_shared<MappedFile>(bin);
  const Llama2cConfig c = read_config(*file);
  const bool shared_classifier = c.vocab_size > 0;
  const int64_t vocab = shared_classifier ? c.vocab_size : -static_cast<int64_t>(c.vocab_size);
  const int64_t dim = c.dim, hidden = c.hidden_dim, L = c.n_layers;
  const int64_t head_size = dim / c.n_heads;
  const int64_t kv_dim = head_size * c.n_kv_heads;

  // Float offsets of each array, in file order.
  int64_t off = 0;
  auto take = [&](int64_t n) {
    const int64_t at = off;
    off += n;
    return at;
  };
  const int64_t o_embd = take(vocab * dim);
  const int64_t o_att_norm = take(L * dim);
  const int64_t o_wq = take(L * dim * dim);
  const int64_t o_wk = take(L * kv_dim * dim);
  const int64_t o_wv = take(L * kv_dim * dim);
  const int64_t o_wo = take(L * dim * dim);
  const int64_t o_ffn_norm = take(L * dim);
  const int64_t o_w1 = take(L * hidden * dim);
  const int64_t o_w2 = take(L * dim * hidden);
  const int64_t o_w3 = take(L * hidden * dim);
  const int64_t o_out_norm = take(dim);
  take(2 * static_cast<int64_t>(c.seq_len) * head_size / 2);  // unused RoPE tables
  const int64_t o_cls = shared_classifier ? -1 : take(vocab * dim);
  const uint64_t expect = 28 + 4 * static_cast<uint64_t>(off);
  if (file->size() != expect) {
    fail("%s: %zu bytes, but a llama2.c v0 checkpoint with this header (dim %d, hidden %d, %d layers, %d heads, %d kv "
         "heads, vocab %d, seq_len %d) has %llu%s", bin.c_str(), file->size(), c.dim, c.hidden_dim, c.n_layers,
         c.n_heads, c.n_kv_heads, c.vocab_size, c.seq_len, static_cast<unsigned long long>(expect),
         file->size() < expect ? " (truncated?)" : "");
  }

  LlamaVocab voc = read_llama2c_vocab(tokenizer_bin, vocab);

  auto m = std::make_unique<SourceModel>();
  m->path = bin;
  using gguf::Value;
  m->set("general.architecture", Value::string("llama"));
  m->set("general.name", Value::string(base_name(bin)));
  m->set("llama.context_length", Value::u32(static_cast<uint32_t>(c.seq_len)));
  m->set("llama.embedding_length", Value::u32(static_cast<uint32_t>(dim)));
  m->set("llama.feed_forward_length", Value::u32(static_cast<uint32_t>(hidden)));
  m->set("llama.block_count", Value::u32(static_cast<uint32_t>(L)));
  m->set("llama.attention.head_count", Value::u32(static_cast<uint32_t>(c.n_heads)));
  m->set("llama.attention.head_count_kv", Value::u32(static_cast<uint32_t>(c.n_kv_heads)));
  m->set("llama.rope.dimension_count", Value::u32(static_cast<uint32_t>(head_size)));
  m->set("llama.attention.layer_norm_rms_epsilon", Value::f32(1e-5f));  // llama2.c's run.c hard-codes it
  m->set("llama.rope.freq_base", Value::f32(10000.0f));
  set_llama2c_vocab(*m, voc);

  auto add = [&](const std::string& name, int64_t float_off, int64_t ne0, int64_t ne1, int n_dims = 2) {
    SourceTensor t;
    t.name = name;
    t.n_dims = n_dims;
    t.ne[0] = ne0;
    t.ne[1] = ne1;
    const size_t row_bytes = static_cast<size_t>(ne0) * sizeof(float);
    const size_t at = 28 + static_cast<size_t>(float_off) * sizeof(float);
    t.read_rows = [file, at, row_bytes](int64_t first, int64_t count, float* dst) {
      const uint8_t* src = file->data() + at + static_cast<size_t>(first) * row_bytes;
      std::memcpy(dst, src, static_cast<size_t>(count) * row_bytes);
      release_pages(src, static_cast<size_t>(count) * row_bytes);
    };
    m->tensors.push_back(std::move(t));
  };
  // Row-major [rows, cols] in llama2.c is ne = {cols, rows} in GGUF.
  add("token_embd.weight", o_embd, dim, vocab);
  add("output_norm.weight", o_out_norm, dim, 1, 1);
  if (!shared_classifier) add("output.weight", o_cls, dim, vocab);
  for (int64_t l = 0; l < L; ++l) {
    const std::string p = "blk." + std::to_string(l) + ".";
    add(p + "attn_q.weight", o_wq + l * dim * dim, dim, dim);
    add(p + "attn_k.weight", o_wk + l * kv_dim * dim, dim, kv_dim);
    add(p + "attn_v.weight", o_wv + l * kv_dim * dim, dim, kv_dim);
    add(p + "attn_output.weight", o_wo + l * dim * dim, dim, dim);
    add(p + "attn_norm.weight", o_att_norm + l * dim, dim, 1, 1);
    add(p + "ffn_gate.weight", o_w1 + l * hidden * dim, dim, hidden);
    add(p + "ffn_down.weight", o_w2 + l * dim * hidden, hidden, dim);
    add(p + "ffn_up.weight", o_w3 + l * hidden * dim, dim, hidden);
    add(p + "ffn_norm.weight", o_ffn_norm + l * dim, dim, 1, 1);
  }
  return m;
}

}  // namespace qgml::convert
