// GGUF inputs as SourceModels; everything else through convert::open_source.
#include "source.h"

#include <sys/stat.h>

#include <cstdio>
#include <cstring>

#include "qgml/error.h"
#include "qgml/gguf.h"

namespace qgml::quantize {

bool is_gguf_file(const std::string& path) {
  struct stat st;
  if (::stat(path.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) return false;
  FILE* f = std::fopen(path.c_str(), "rb");
  if (f == nullptr) return false;
  uint32_t magic = 0;
  const bool ok = std::fread(&magic, 4, 1, f) == 1 && magic == gguf::kMagic;
  std::fclose(f);
  return ok;
}

std::unique_ptr<convert::SourceModel> open_input(const std::string& path, const std::string& vocab) {
  if (!is_gguf_file(path)) return convert::open_source(path, vocab);
  auto reader = std::make_shared<gguf::Reader>(path);
  auto m = std::make_unique<convert::SourceModel>();
  m->path = path;
  for (const gguf::KeyValue& kv : reader->metadata())
    if (kv.key != "general.alignment") m->metadata.push_back(kv);
  for (const gguf::TensorInfo& ti : reader->tensors()) {
    if (ti.type != Type::F32 && ti.type != Type::F16 && ti.type != Type::BF16)
      fail("%s: tensor %s is %s: the input must hold unquantized (f32, f16, bf16) tensors", path.c_str(), ti.name.c_str(),
           type_name(ti.type));
    convert::SourceTensor t;
    t.name = ti.name;
    t.n_dims = ti.n_dims;
    std::memcpy(t.ne, ti.ne, sizeof t.ne);
    const Type type = ti.type;
    const int64_t row = ti.ne[0];
    const char* base = static_cast<const char*>(reader->tensor_data(ti));
    t.read_rows = [reader, base, type, row](int64_t first, int64_t count, float* dst) {
      const size_t rs = row_size(type, row);
      for (int64_t r = 0; r < count; ++r) traits(type).to_float(base + static_cast<size_t>(first + r) * rs, dst + r * row, row);
      // Each tensor is read once per use (GPTQ, then writing): a 1.1B model's
      // whole mapped input would otherwise stay resident (+2.2 GB at the end).
      reader->release(base + static_cast<size_t>(first) * rs, static_cast<size_t>(count) * rs);
    };
    m->tensors.push_back(std::move(t));
  }
  return m;
}

}  // namespace qgml::quantize
