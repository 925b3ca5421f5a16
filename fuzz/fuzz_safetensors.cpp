// safetensors: the 8-byte header length, the JSON header and its validation
// (dtypes, shapes, data_offsets inside the file, no overlaps), then every
// tensor read back as float32 where the dtype allows it.
#include <string>
#include <vector>

#include "fuzz_util.h"
#include "qgml/error.h"
#include "safetensors.h"

using namespace qgml;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static fuzz::MemFile file("fuzz_safetensors");
  const std::string& path = file.set(data, size);
  try {
    safetensors::File f(path);
    for (const safetensors::TensorView& t : f.tensors()) {
      // What File promises: byte size = elements x element size, inside the file.
      unsigned __int128 bytes = safetensors::dtype_size(t.dtype);
      for (int64_t d : t.shape) bytes *= static_cast<unsigned __int128>(d);
      if (bytes != t.nbytes || t.offset + t.nbytes > size) __builtin_trap();
      if (f.find(t.name) != &t) __builtin_trap();
      fuzz::touch(f.data(t), t.nbytes);
      const auto d = t.dtype;
      if ((d == safetensors::Dtype::F32 || d == safetensors::Dtype::F16 || d == safetensors::Dtype::BF16) &&
          t.n_elements() <= (int64_t{1} << 20)) {
        std::vector<float> out(static_cast<size_t>(t.n_elements()));
        f.read_f32(t, out.data());
        if (t.n_elements() > 1) f.read_f32(t, 1, t.n_elements() - 1, out.data());
      }
    }
    for (const auto& [k, v] : f.metadata()) fuzz::touch(v.data(), v.size());
  } catch (const Error&) {
  }
  return 0;
}
