// SourceModel → GGUF: per-tensor output types (llama.cpp's rules) and the
// streaming write. Also the open_source dispatch and the convenience wrappers.
#include <sys/stat.h>

#include <algorithm>
#include <string>
#include <vector>

#include "qgml/convert.h"
#include "qgml/error.h"
#include "qgml/fp16.h"
#include "qgml/quant.h"

namespace qgml::convert {

const gguf::Value* SourceModel::find(const std::string& key) const {
  for (const auto& kv : metadata) {
    if (kv.key == key) return &kv.value;
  }
  return nullptr;
}

const SourceTensor* SourceModel::find_tensor(const std::string& name) const {
  for (const auto& t : tensors) {
    if (t.name == name) return &t;
  }
  return nullptr;
}

void SourceModel::set(const std::string& key, gguf::Value v) {
  for (auto& kv : metadata) {
    if (kv.key == key) {
      kv.value = std::move(v);
      return;
    }
  }
  metadata.push_back({key, std::move(v)});
}

static bool ends_with(const std::string& s, const char* suffix) {
  const std::string x(suffix);
  return s.size() >= x.size() && s.compare(s.size() - x.size(), x.size(), x) == 0;
}

Type tensor_out_type(const SourceTensor& t, Type outtype) {
  // llama.cpp keeps these in F32 because most of its code paths only handle
  // F32 norms, biases and 1-D tensors; we write what it writes.
  if (t.n_dims <= 1 || ends_with(t.name, "_norm.weight") || !ends_with(t.name, ".weight")) return Type::F32;
  return outtype;
}

// llama.cpp's LLAMA_FTYPE values.
static uint32_t file_type_id(Type outtype) {
  switch (outtype) {
    case Type::F32: return 0;
    case Type::F16: return 1;
    case Type::BF16: return 32;
    default: fail("convert: output type %s is not supported (use f32, f16 or bf16)", type_name(outtype));
  }
}

void write_gguf(const SourceModel& m, const std::string& out, Type outtype) {
  const uint32_t ftype = file_type_id(outtype);
  gguf::Writer w;
  for (const auto& kv : m.metadata) w.set(kv.key, kv.value);
  w.set("general.quantization_version", gguf::Value::u32(2));
  w.set("general.file_type", gguf::Value::u32(ftype));

  for (const SourceTensor& t : m.tensors) {
    const SourceTensor* tp = &t;  // SourceModel outlives w.write() below
    if (t.read_stored) {  // an imported quantized weight: its bytes as they are
      w.add_tensor(t.name, t.stored_type, t.n_dims, t.ne, [tp](void* dst, size_t nbytes) {
        QGML_ASSERT(nbytes == row_size(tp->stored_type, tp->ne[0]) * static_cast<size_t>(tp->n_rows()));
        if (nbytes > 0) tp->read_stored(0, tp->n_rows(), static_cast<uint8_t*>(dst));
      });
      if (!t.perm.empty()) {
        const int64_t ne[1] = {static_cast<int64_t>(t.perm.size())};
        w.add_tensor(t.name + kPermSuffix, Type::I32, 1, ne, t.perm.data());
      }
      continue;
    }
    const Type type = tensor_out_type(t, outtype);
    w.add_tensor(t.name, type, t.n_dims, t.ne, [tp, type](void* dst, size_t nbytes) {
      const int64_t n = tp->n_elements(), row = tp->ne[0];
      QGML_ASSERT(nbytes == static_cast<size_t>(n) * (type == Type::F32 ? 4 : 2));
      if (n == 0) return;
      // A few MiB of rows at a time: the float copy of a 16-bit output never
      // costs more than that, and consumed source pages are dropped as we go.
      const int64_t chunk = std::max<int64_t>(1, (int64_t{1} << 20) / row);
      std::vector<float> tmp(type == Type::F32 ? 0 : static_cast<size_t>(std::min(chunk, tp->n_rows()) * row));
      for (int64_t r0 = 0; r0 < tp->n_rows(); r0 += chunk) {
        const int64_t cnt = std::min(chunk, tp->n_rows() - r0);
        if (type == Type::F32) {
          tp->read_rows(r0, cnt, static_cast<float*>(dst) + r0 * row);
          continue;
        }
        tp->read_rows(r0, cnt, tmp.data());
        uint16_t* d = static_cast<uint16_t*>(dst) + r0 * row;
        const size_t m = static_cast<size_t>(cnt * row);
        if (type == Type::F16) {
          for (size_t i = 0; i < m; ++i) d[i] = f32_to_fp16(tmp[i]);
        } else {
          for (size_t i = 0; i < m; ++i) d[i] = f32_to_bf16(tmp[i]);
        }
      }
    });
  }
  w.write(out);
}

std::unique_ptr<SourceModel> open_source(const std::string& path, const std::string& vocab) {
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) fail("%s: no such file or directory", path.c_str());
  if (S_ISDIR(st.st_mode)) return open_hf(path, vocab);
  if (vocab.empty()) fail("%s: a llama2.c checkpoint needs its tokenizer.bin (--vocab)", path.c_str());
  return open_llama2c(path, vocab);
}

void convert_llama2c(const std::string& bin, const std::string& tokenizer_bin, const std::string& out, Type outtype) {
  write_gguf(*open_llama2c(bin, tokenizer_bin), out, outtype);
}

void convert_hf(const std::string& dir, const std::string& out, Type outtype, const std::string& vocab) {
  write_gguf(*open_hf(dir, vocab), out, outtype);
}

}  // namespace qgml::convert
