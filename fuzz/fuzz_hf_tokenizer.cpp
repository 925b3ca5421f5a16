// Hugging Face tokenizer.json → tokenizer.ggml.* metadata (vocabulary laid
// out by id, merges, added tokens, pre-tokenizer recognition, special ids),
// then that vocabulary built into a Tokenizer and used once.
#include <string>

#include "fuzz_util.h"
#include "fuzz_vocab.h"
#include "json.h"
#include "qgml/error.h"
#include "tokenizer_types.h"

using namespace qgml;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static fuzz::ScratchDir dir;
  // A config.json that names special ids, as real ones do (vocab_size caps the
  // padding: the converter always passes config.json's vocab_size).
  static const json::Value config = json::parse(R"({"bos_token_id": 1, "eos_token_id": [2, 3]})", "config");
  dir.put("tokenizer.json", data, size);
  convert::SourceModel m;
  try {
    convert::import_hf_tokenizer(dir.path(), config, 4096, false, "", m);
  } catch (const Error&) {
    return 0;
  }
  const gguf::Value* tokens = m.find("tokenizer.ggml.tokens");
  if (tokens == nullptr || tokens->items.size() != 4096) __builtin_trap();  // padded to vocab_size
  try {
    Tokenizer tok(fuzz::vocab_spec_from(m));
    const std::vector<int32_t> ids = tok.encode("Hello world, it's 2024! \xf0\x9f\xa6\x99 <|endoftext|>", true, true);
    (void)tok.decode(ids, true);
  } catch (const Error&) {
  }
  return 0;
}
