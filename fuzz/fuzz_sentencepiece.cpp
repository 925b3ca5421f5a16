// SentencePiece tokenizer.model (protobuf wire format, read by hand), then
// the vocabulary it yields built into a Tokenizer and used once.
#include <string>

#include "fuzz_util.h"
#include "qgml/error.h"
#include "qgml/tokenizer.h"
#include "tokenizer_types.h"

using namespace qgml;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static fuzz::MemFile file("fuzz_spm");
  const std::string& path = file.set(data, size);
  convert::SentencePieceModel m;
  try {
    m = convert::read_sentencepiece_model(path);
  } catch (const Error&) {
    return 0;
  }
  if (m.vocab.tokens.size() != m.vocab.scores.size() || m.vocab.tokens.size() != m.vocab.types.size()) __builtin_trap();
  if (m.vocab.tokens.size() > size) __builtin_trap();  // every piece costs at least one byte
  try {
    VocabSpec spec;
    spec.model = "llama";
    spec.tokens = m.vocab.tokens;
    spec.scores = m.vocab.scores;
    spec.token_types = m.vocab.types;
    spec.unk_id = m.unk_id;
    spec.bos_id = m.bos_id;
    spec.eos_id = m.eos_id;
    spec.add_space_prefix = m.add_dummy_prefix ? 1 : 0;
    Tokenizer tok(spec);
    const std::vector<int32_t> ids = tok.encode("Hello world \xe2\x96\x81<0x41> \xc3\x28", true, true);
    (void)tok.decode(ids, true);
  } catch (const Error&) {
  }
  return 0;
}
