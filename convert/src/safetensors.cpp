// safetensors header validation and float conversion.
#include "safetensors.h"

#include <algorithm>
#include <cstring>
#include <string_view>

#include "json.h"
#include "pages.h"
#include "qgml/error.h"
#include "qgml/fp16.h"
#include "qgml/io.h"

namespace qgml::safetensors {

namespace {

struct DtypeInfo {
  Dtype dtype;
  const char* name;
  size_t size;
};

constexpr DtypeInfo kDtypes[] = {
    {Dtype::BOOL, "BOOL", 1}, {Dtype::U8, "U8", 1},     {Dtype::I8, "I8", 1},
    {Dtype::U16, "U16", 2},   {Dtype::I16, "I16", 2},   {Dtype::F16, "F16", 2},
    {Dtype::BF16, "BF16", 2}, {Dtype::U32, "U32", 4},   {Dtype::I32, "I32", 4},
    {Dtype::F32, "F32", 4},   {Dtype::U64, "U64", 8},   {Dtype::I64, "I64", 8},
    {Dtype::F64, "F64", 8},   {Dtype::F8_E4M3, "F8_E4M3", 1}, {Dtype::F8_E5M2, "F8_E5M2", 1},
};

const DtypeInfo& info(Dtype d) {
  for (const auto& i : kDtypes) {
    if (i.dtype == d) return i;
  }
  fail("internal error: unknown safetensors dtype %d", static_cast<int>(d));
}

}  // namespace

const char* dtype_name(Dtype d) { return info(d).name; }
size_t dtype_size(Dtype d) { return info(d).size; }

bool dtype_from_name(const std::string& name, Dtype* out) {
  for (const auto& i : kDtypes) {
    if (name == i.name) {
      *out = i.dtype;
      return true;
    }
  }
  return false;
}

int64_t TensorView::n_elements() const {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;  // validated not to overflow when the file was opened
  return n;
}

File::File(const std::string& path) : path_(path), map_(std::make_unique<MappedFile>(path)) {
  const uint8_t* base = map_->data();
  const uint64_t size = map_->size();
  if (size < 8) fail("%s: not a safetensors file: %llu bytes, too short for the header length", path.c_str(),
                     static_cast<unsigned long long>(size));
  uint64_t header_len = 0;
  for (int i = 7; i >= 0; --i) header_len = (header_len << 8) | base[i];
  if (header_len > kMaxHeaderBytes) {
    fail("%s: safetensors header length %llu exceeds the %llu-byte limit (corrupt file?)", path.c_str(),
         static_cast<unsigned long long>(header_len), static_cast<unsigned long long>(kMaxHeaderBytes));
  }
  if (header_len > size - 8) {
    fail("%s: safetensors header length %llu runs past the end of the %llu-byte file", path.c_str(),
         static_cast<unsigned long long>(header_len), static_cast<unsigned long long>(size));
  }
  const uint64_t data_start = 8 + header_len;
  const uint64_t data_size = size - data_start;
  const std::string source = path + " header";
  const json::Value header =
      json::parse(std::string_view(reinterpret_cast<const char*>(base + 8), header_len), source);
  if (!header.is_object()) fail("%s: safetensors header is not a JSON object", path.c_str());

  for (const auto& [name, entry] : header.members()) {
    if (name == "__metadata__") {
      if (!entry.is_object()) fail("%s: __metadata__ is not an object", path.c_str());
      for (const auto& [k, v] : entry.members()) {
        if (!v.is_string()) fail("%s: __metadata__ value for '%s' is not a string", path.c_str(), k.c_str());
        metadata_[k] = v.as_string();
      }
      continue;
    }
    const char* n = name.c_str();
    if (!entry.is_object()) fail("%s: tensor '%s': entry is not an object", path.c_str(), n);
    const json::Value* dtype = entry.find("dtype");
    const json::Value* shape = entry.find("shape");
    const json::Value* offsets = entry.find("data_offsets");
    if (!dtype || !dtype->is_string()) fail("%s: tensor '%s': missing or non-string dtype", path.c_str(), n);
    if (!shape || !shape->is_array()) fail("%s: tensor '%s': missing or non-array shape", path.c_str(), n);
    if (!offsets || !offsets->is_array() || offsets->items().size() != 2) {
      fail("%s: tensor '%s': data_offsets must be an array of two integers", path.c_str(), n);
    }
    TensorView t;
    t.name = name;
    if (!dtype_from_name(dtype->as_string(), &t.dtype)) {
      fail("%s: tensor '%s': unknown dtype '%s'", path.c_str(), n, dtype->as_string().c_str());
    }
    if (shape->items().size() > kMaxDims) fail("%s: tensor '%s': %zu dimensions (at most %zu)", path.c_str(), n,
                                               shape->items().size(), kMaxDims);
    // The byte size (elements x element size) must stay below 2^62, so
    // nothing computed from it overflows. (Bounding only the element count let
    // 2^62 F32 elements wrap to a byte size of 0.)
    const uint64_t es = dtype_size(t.dtype);
    uint64_t count = 1;
    for (const json::Value& d : shape->items()) {
      if (!d.is_int() || d.as_int() < 0) fail("%s: tensor '%s': shape entries must be non-negative integers", path.c_str(), n);
      const uint64_t dim = static_cast<uint64_t>(d.as_int());
      if (dim != 0 && count > (uint64_t{1} << 62) / es / dim) fail("%s: tensor '%s': shape too large", path.c_str(), n);
      count *= dim;
      t.shape.push_back(d.as_int());
    }
    const json::Value& b = offsets->items()[0];
    const json::Value& e = offsets->items()[1];
    if (!b.is_int() || !e.is_int() || b.as_int() < 0 || e.as_int() < b.as_int()) {
      fail("%s: tensor '%s': data_offsets must be non-negative integers [begin, end] with begin <= end", path.c_str(), n);
    }
    const uint64_t begin = static_cast<uint64_t>(b.as_int()), end = static_cast<uint64_t>(e.as_int());
    if (end > data_size) {
      fail("%s: tensor '%s': data_offsets [%llu, %llu] run past the %llu bytes of data (truncated file?)", path.c_str(), n,
           static_cast<unsigned long long>(begin), static_cast<unsigned long long>(end),
           static_cast<unsigned long long>(data_size));
    }
    const uint64_t expect = count * es;
    if (end - begin != expect) {
      fail("%s: tensor '%s': %llu bytes at data_offsets, but shape and dtype %s need %llu", path.c_str(), n,
           static_cast<unsigned long long>(end - begin), dtype_name(t.dtype), static_cast<unsigned long long>(expect));
    }
    t.offset = data_start + begin;
    t.nbytes = expect;
    if (index_.count(name)) fail("%s: tensor '%s' appears twice", path.c_str(), n);
    index_[name] = tensors_.size();
    tensors_.push_back(std::move(t));
  }

  std::sort(tensors_.begin(), tensors_.end(), [](const TensorView& a, const TensorView& b) { return a.offset < b.offset; });
  for (size_t i = 0; i < tensors_.size(); ++i) {
    index_[tensors_[i].name] = i;
    if (i > 0 && tensors_[i].offset < tensors_[i - 1].offset + tensors_[i - 1].nbytes) {
      fail("%s: tensors '%s' and '%s' overlap", path.c_str(), tensors_[i - 1].name.c_str(), tensors_[i].name.c_str());
    }
  }
}

File::~File() = default;

const TensorView* File::find(const std::string& name) const {
  auto it = index_.find(name);
  return it == index_.end() ? nullptr : &tensors_[it->second];
}

const uint8_t* File::data(const TensorView& t) const { return map_->data() + t.offset; }

void File::read_f32(const TensorView& t, int64_t first, int64_t count, float* dst) const {
  QGML_ASSERT(first >= 0 && count >= 0 && first + count <= t.n_elements());
  const uint8_t* src = data(t) + static_cast<size_t>(first) * dtype_size(t.dtype);
  const size_t n = static_cast<size_t>(count);
  if (n == 0) return;  // an empty tensor may have no data pointer (memcpy of null is undefined)
  // The mapping gives no alignment guarantee beyond the header's length, so
  // every element is read with memcpy.
  switch (t.dtype) {
    case Dtype::F32:
      std::memcpy(dst, src, n * 4);
      return;
    case Dtype::F16:
      for (size_t i = 0; i < n; ++i) {
        uint16_t h;
        std::memcpy(&h, src + 2 * i, 2);
        dst[i] = fp16_to_f32(h);
      }
      return;
    case Dtype::BF16:
      for (size_t i = 0; i < n; ++i) {
        uint16_t h;
        std::memcpy(&h, src + 2 * i, 2);
        dst[i] = bf16_to_f32(h);
      }
      return;
    default:
      fail("%s: tensor '%s' has dtype %s; only F32, F16 and BF16 can be converted", path_.c_str(), t.name.c_str(),
           dtype_name(t.dtype));
  }
}

void File::release(const TensorView& t, int64_t first, int64_t count) const {
  const size_t es = dtype_size(t.dtype);
  convert::release_pages(data(t) + static_cast<size_t>(first) * es, static_cast<size_t>(count) * es);
}

}  // namespace qgml::safetensors
