// Hugging Face config.json: architecture, hyperparameters, rope scaling and
// special ids, checked against a fixed real checkpoint (the committed
// tests/data/arch/llama3-tiny safetensors + tokenizer files), then every
// tensor of the resulting SourceModel read as the converter would.
#include <string>
#include <vector>

#include "fuzz_util.h"
#include "qgml/convert.h"
#include "qgml/error.h"

using namespace qgml;

namespace {

const fuzz::ScratchDir& model_dir() {
  static const fuzz::ScratchDir dir;  // removed at exit
  static const bool linked = [] {
    for (const char* f : {"model.safetensors", "tokenizer.json", "tokenizer_config.json"})
      dir.link(f, fuzz::source_file(std::string("tests/data/arch/llama3-tiny/") + f));
    return true;
  }();
  (void)linked;
  return dir;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const fuzz::ScratchDir& dir = model_dir();
  dir.put("config.json", data, size);
  try {
    std::unique_ptr<convert::SourceModel> m = convert::open_hf(dir.path());
    std::vector<float> buf;
    for (const convert::SourceTensor& t : m->tensors) {
      if (t.n_elements() <= 0 || t.n_elements() > (int64_t{1} << 24)) __builtin_trap();
      buf.resize(static_cast<size_t>(t.n_elements()));
      t.read(buf.data());
    }
  } catch (const Error&) {
  }
  return 0;
}
