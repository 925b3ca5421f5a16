// Tokenizer encode/decode on arbitrary bytes with fixed real vocabularies:
// stories260K.gguf's SentencePiece-BPE (committed model) and the four
// committed Hugging Face tokenizer.json files of tests/data/arch (byte-level
// BPE with the llama-bpe, qwen2 and gpt-2 pre-tokenizers; SentencePiece-style
// BPE with byte fallback), imported the way the converter imports them.
//
// Input: one flag byte, then the text.
//   bits 0-2: vocabulary (mod 5); bit 3: add_special; bit 4: parse_special;
//   bit 5: render_special.
// Checked: every id is inside the vocabulary; decode is total on any ids; and
// without special-token parsing, decode(encode(text)) == text exactly (these
// vocabularies have byte fallback or full byte coverage and no lossy tokens;
// only a literal U+2581 in SentencePiece-style text reads back as a space).
#include <memory>
#include <string>
#include <vector>

#include "fuzz_util.h"
#include "fuzz_vocab.h"
#include "json.h"
#include "qgml/error.h"
#include "qgml/gguf.h"
#include "tokenizer_types.h"

using namespace qgml;

namespace {

std::unique_ptr<Tokenizer> from_hf(const char* name, int64_t vocab_size) {
  fuzz::ScratchDir dir;
  const std::string src = fuzz::source_file(std::string("tests/data/arch/") + name + "/");
  for (const char* f : {"tokenizer.json", "tokenizer_config.json"}) dir.link(f, src + f);
  const json::Value config = json::parse_file(src + "config.json");
  convert::SourceModel m;
  convert::import_hf_tokenizer(dir.path(), config, vocab_size, false, "", m);
  return std::make_unique<Tokenizer>(fuzz::vocab_spec_from(m));
}

struct Vocabs {
  std::vector<std::unique_ptr<Tokenizer>> tok;
  Vocabs() {
    gguf::Reader r(fuzz::source_file("models/stories260K/stories260K.gguf"));
    tok.push_back(Tokenizer::from_gguf(r));
    tok.push_back(from_hf("llama3-tiny", 300));
    tok.push_back(from_hf("qwen2-tiny", 300));
    tok.push_back(from_hf("smollm-tiny", 300));
    tok.push_back(from_hf("mistral-tiny", 300));
  }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const Vocabs vocabs;
  if (size < 1) return 0;
  const uint8_t flags = data[0];
  const Tokenizer& tok = *vocabs.tok[(flags & 7) % vocabs.tok.size()];
  const bool add_special = flags & 8, parse_special = flags & 16, render_special = flags & 32;
  const std::string text(reinterpret_cast<const char*>(data + 1), size - 1);

  const std::vector<int32_t> ids = tok.encode(text, add_special, parse_special);
  for (int32_t id : ids)
    if (id < 0 || id >= tok.n_vocab()) __builtin_trap();
  const std::string back = tok.decode(ids, render_special);
  // SentencePiece spells spaces as U+2581, so a literal U+2581 in the text
  // comes back as a space (as in SentencePiece and llama.cpp): not a loss to flag.
  const bool spm_space = !tok.is_byte_level() && text.find("\xe2\x96\x81") != std::string::npos;
  if (!add_special && !parse_special && !spm_space && back != text) __builtin_trap();

  // The text reinterpreted as token ids (in range and not): decode must be
  // total on valid ids and reject invalid ones with qgml::Error.
  std::vector<int32_t> raw;
  for (size_t i = 0; i + 2 <= text.size(); i += 2)
    raw.push_back(static_cast<int32_t>(static_cast<uint8_t>(text[i]) | static_cast<uint8_t>(text[i + 1]) << 8) %
                  (tok.n_vocab() + 2));
  try {
    (void)tok.decode(raw, render_special);
    for (int32_t id : raw) (void)tok.token_to_piece(id, render_special);
  } catch (const Error&) {
  }
  return 0;
}
