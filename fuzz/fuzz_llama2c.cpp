// llama2.c: a "v0" checkpoint (.bin) and a tokenizer.bin in one input:
//   u32 little-endian length L | L bytes of checkpoint | tokenizer.bin
// (L larger than what follows takes everything, leaving an empty tokenizer).
// The tokenizer.bin part is also read on its own as a 512-token vocabulary so
// its parser is explored even when the checkpoint part is broken.
#include <cstring>
#include <string>
#include <vector>

#include "fuzz_util.h"
#include "qgml/convert.h"
#include "qgml/error.h"
#include "tokenizer_types.h"

using namespace qgml;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static fuzz::MemFile ckpt("fuzz_llama2c_bin"), tok("fuzz_llama2c_tok");
  if (size < 4) return 0;
  uint32_t len;
  std::memcpy(&len, data, 4);
  data += 4;
  size -= 4;
  const size_t n_ckpt = len < size ? len : size;
  ckpt.set(data, n_ckpt);
  tok.set(data + n_ckpt, size - n_ckpt);

  try {
    const convert::LlamaVocab v = convert::read_llama2c_vocab(tok.path(), 512);
    if (v.tokens.size() != 512 || v.scores.size() != 512 || v.types.size() != 512) __builtin_trap();
  } catch (const Error&) {
  }
  try {
    std::unique_ptr<convert::SourceModel> m = convert::open_llama2c(ckpt.path(), tok.path());
    // Every tensor lies inside the checkpoint: read each one back (the file
    // size was checked against the header, so this is bounded by the input).
    int64_t total = 0;
    std::vector<float> buf;
    for (const convert::SourceTensor& t : m->tensors) {
      if (t.n_elements() <= 0) __builtin_trap();
      total += t.n_elements();
      buf.resize(static_cast<size_t>(t.n_elements()));
      t.read(buf.data());
      if (t.n_rows() > 1) t.read_rows(t.n_rows() - 1, 1, buf.data());
    }
    if (total * 4 > static_cast<int64_t>(n_ckpt)) __builtin_trap();
  } catch (const Error&) {
  }
  return 0;
}
