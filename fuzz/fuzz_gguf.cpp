// GGUF: the reader (header, metadata, tensor infos, data ranges), then
// Model::load on the same file (hyperparameters, weight shapes, the
// tokenizer.ggml.* vocabulary), and for a small model that loads, one token
// through a Session — hostile hyperparameters must not reach the kernels.
#include <string>
#include <vector>

#include "fuzz_util.h"
#include "qgml/error.h"
#include "qgml/gguf.h"
#include "qgml/model.h"
#include "qgml/session.h"
#include "qgml/tokenizer.h"

using namespace qgml;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static fuzz::MemFile file("fuzz_gguf");
  const std::string& path = file.set(data, size);
  try {
    gguf::Reader r(path);
    for (const gguf::KeyValue& kv : r.metadata()) (void)kv.value.to_string(4);
    for (const gguf::TensorInfo& t : r.tensors()) fuzz::touch(r.tensor_data(t), t.nbytes);
  } catch (const Error&) {
    return 0;
  }
  try {
    std::unique_ptr<Model> m = Model::load(path);
    std::vector<int32_t> ids;
    if (m->has_tokenizer()) {
      const Tokenizer& tok = m->tokenizer();
      ids = tok.encode("Once upon a time, \xe2\x96\x81 <s>\xff", true, true);
      (void)tok.decode(ids, true);
    }
    const HParams& hp = m->hparams();
    // One forward pass only when it is cheap: the point is the shapes, not the arithmetic.
    if (m->weight_bytes() <= (size_t{1} << 21) && hp.n_layer <= 4 && hp.n_embd <= 1024 && hp.n_vocab > 0) {
      SessionParams sp;
      sp.n_ctx = 4;
      sp.n_threads = 1;
      Session s(*m, sp);
      s.eval({0, static_cast<int32_t>(hp.n_vocab - 1)});
    }
  } catch (const Error&) {
  }
  return 0;
}
