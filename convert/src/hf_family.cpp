// The engine behind the table-driven families (hf_family.h): finds the
// checkpoint's tensors, checks them against a family's plan, and produces
// SourceTensors that re-lay rows out on demand (transposed Conv1D weights,
// reordered fused q/k/v, OPT's offset position rows) without ever holding a
// float copy of a whole tensor.
#include "hf_family.h"

#include <sys/stat.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <limits>
#include <set>

#include "qgml/error.h"
#include "tokenizer_types.h"

namespace qgml::convert::hf {

extern const Family kFamilyOpt;
extern const Family kFamilyFalcon;
extern const Family kFamilyGpt2;
extern const Family kFamilyGptNeox;

namespace {

const Family* const kFamilies[] = {&kFamilyOpt, &kFamilyFalcon, &kFamilyGpt2, &kFamilyGptNeox};

bool file_exists(const std::string& p) {
  struct stat st;
  return ::stat(p.c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

std::string dir_name(const std::string& dir) {
  std::string d = dir;
  while (d.size() > 1 && d.back() == '/') d.pop_back();
  return d.substr(d.find_last_of('/') + 1);
}

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

std::string shape_str(const std::vector<int64_t>& s) {
  std::string out;
  for (int64_t x : s) out += (out.empty() ? "" : ", ") + std::to_string(x);
  return "[" + out + "]";
}

// Row r of llama.cpp's [all q; all k; all v] comes from this row of the
// grouped HF layout [group][q heads..., k, v][head_dim].
int64_t qkv_source_row(int64_t r, const TensorRule& t) {
  const int64_t hd = t.head_dim, per = t.q_per_group + 2, n_q = t.n_group * t.q_per_group * hd;
  const int64_t kv = t.n_group * hd;
  int64_t group, slot;
  if (r < n_q) {
    const int64_t head = r / hd;
    group = head / t.q_per_group;
    slot = head % t.q_per_group;
  } else {
    const int64_t which = (r - n_q) / kv;  // 0: key, 1: value
    group = ((r - n_q) % kv) / hd;
    slot = t.q_per_group + which;
  }
  return (group * per + slot) * hd + r % hd;
}

SourceTensor make_tensor(const TensorRule& rule, const Location& loc) {
  SourceTensor t;
  t.name = rule.gguf;
  const std::vector<int64_t>& shape = loc.view->shape;
  t.n_dims = static_cast<int>(shape.size());
  for (int i = 0; i < t.n_dims; ++i) t.ne[i] = shape[static_cast<size_t>(t.n_dims - 1 - i)];
  const std::shared_ptr<safetensors::File> file = loc.file;
  const safetensors::TensorView* view = loc.view;
  switch (rule.layout) {
    case Layout::Plain:
      t.read_rows = [file, view, row = t.ne[0]](int64_t first, int64_t count, float* dst) {
        file->read_f32(*view, first * row, count * row, dst);
        file->release(*view, first * row, count * row);
      };
      break;
    case Layout::Transposed: {
      std::swap(t.ne[0], t.ne[1]);
      const int64_t n_in = t.ne[0], n_out = t.ne[1];
      // GGUF rows [first, first + count) are a column band of the HF matrix:
      // read it one HF row (one input) at a time, count contiguous values each.
      t.read_rows = [file, view, n_in, n_out](int64_t first, int64_t count, float* dst) {
        std::vector<float> band(static_cast<size_t>(count));
        for (int64_t i = 0; i < n_in; ++i) {
          file->read_f32(*view, i * n_out + first, count, band.data());
          for (int64_t r = 0; r < count; ++r) dst[r * n_in + i] = band[static_cast<size_t>(r)];
        }
        // Every call touches every page of the tensor: hand them back after the last band.
        if (count > 0 && first + count == n_out) file->release(*view, 0, n_in * n_out);
      };
      break;
    }
    case Layout::QkvGroups:
    case Layout::SkipRows: {
      if (rule.layout == Layout::SkipRows) t.ne[t.n_dims - 1] -= rule.skip;
      std::function<int64_t(int64_t)> src;
      if (rule.layout == Layout::SkipRows) src = [skip = rule.skip](int64_t r) { return r + skip; };
      else src = [rule](int64_t r) { return qkv_source_row(r, rule); };
      // A 1-D bias is remapped element by element (rows of length 1).
      const int64_t row = t.n_dims == 1 ? 1 : t.ne[0];
      const int64_t n_rows = t.n_dims == 1 ? t.ne[0] : t.n_rows();
      t.read_rows = [file, view, src, row, n_rows, one_d = t.n_dims == 1](int64_t first, int64_t count, float* dst) {
        if (count <= 0) return;
        const int64_t rows = one_d ? n_rows : count, start = one_d ? 0 : first;
        for (int64_t r = 0; r < rows; ++r) file->read_f32(*view, src(start + r) * row, row, dst + r * row);
        if (start + rows == n_rows) file->release(*view, 0, view->n_elements());
      };
      break;
    }
  }
  return t;
}

}  // namespace

std::map<std::string, Location> find_tensors(const std::string& dir) {
  std::map<std::string, std::shared_ptr<safetensors::File>> files;
  std::map<std::string, Location> where;
  const std::string index_path = dir + "/model.safetensors.index.json";
  auto open_file = [&](const std::string& name) {
    if (name.empty() || name.find('/') != std::string::npos || name == "." || name == "..")
      fail("%s: shard name '%s' is not a plain file name", index_path.c_str(), name.c_str());
    auto& f = files[name];
    if (!f) f = std::make_shared<safetensors::File>(dir + "/" + name);
    return f;
  };
  if (file_exists(index_path)) {
    const json::Value idx = json::parse_file(index_path);
    const json::Value* wm = idx.get("weight_map");
    if (!wm || !wm->is_object()) fail("%s: no weight_map object", index_path.c_str());
    for (const auto& [name, file] : wm->members()) {
      if (!file.is_string()) fail("%s: weight_map['%s'] is not a string", index_path.c_str(), name.c_str());
      auto f = open_file(file.as_string());
      const safetensors::TensorView* t = f->find(name);
      if (!t) fail("%s: tensor '%s' listed in %s is missing", f->path().c_str(), name.c_str(), index_path.c_str());
      where[name] = {f, t};
    }
    for (const auto& [fname, f] : files)
      for (const auto& t : f->tensors())
        if (!where.count(t.name)) fail("%s: tensor '%s' is not in %s", f->path().c_str(), t.name.c_str(), index_path.c_str());
  } else if (file_exists(dir + "/model.safetensors")) {
    auto f = open_file("model.safetensors");
    for (const auto& t : f->tensors()) where[t.name] = {f, &t};
  } else {
    fail("%s: no model.safetensors or model.safetensors.index.json (PyTorch .bin checkpoints are not supported)",
         dir.c_str());
  }
  return where;
}

bool Config::has(const char* key) const { return v_.get(key) != nullptr; }

int64_t Config::integer(std::initializer_list<const char*> keys, int64_t def) const {
  for (const char* key : keys) {
    const json::Value* v = v_.get(key);
    if (!v) continue;
    if (!v->is_int()) fail("%s: '%s' must be an integer", path_.c_str(), key);
    const int64_t x = v->as_int();
    if (x <= 0 || x > (int64_t{1} << 24)) fail("%s: '%s' = %lld is out of range", path_.c_str(), key, static_cast<long long>(x));
    return x;
  }
  if (def < 0) fail("%s: missing required key '%s'", path_.c_str(), *keys.begin());
  return def;
}

double Config::number(const char* key, double def) const {
  const json::Value* v = v_.get(key);
  if (!v) return def;
  if (!v->is_number()) fail("%s: '%s' must be a number", path_.c_str(), key);
  const double x = v->as_double();
  if (!(std::fabs(x) <= std::numeric_limits<float>::max()))
    fail("%s: '%s' = %g is out of range for a 32-bit float", path_.c_str(), key, x);
  return x;
}

bool Config::boolean(const char* key, bool def) const {
  const json::Value* v = v_.get(key);
  if (!v) return def;
  if (!v->is_bool()) fail("%s: '%s' must be true or false", path_.c_str(), key);
  return v->as_bool();
}

std::string Config::string(const char* key, const std::string& def) const {
  const json::Value* v = v_.get(key);
  if (!v) return def;
  if (!v->is_string()) fail("%s: '%s' must be a string", path_.c_str(), key);
  return v->as_string();
}

void Config::unsupported(const std::string& what) const { fail("%s: %s is not supported", path_.c_str(), what.c_str()); }

void add_linear(Plan& p, const std::string& gguf, const std::string& hf, int64_t n_out, int64_t n_in, bool bias,
                bool bias_required) {
  p.tensors.push_back({gguf + ".weight", hf + ".weight", {n_out, n_in}});
  if (bias) {
    TensorRule b{gguf + ".bias", hf + ".bias", {n_out}};
    b.required = bias_required;
    p.tensors.push_back(b);
  }
}

void add_norm(Plan& p, const std::string& gguf, const std::string& hf, int64_t n, bool required) {
  for (const char* part : {".weight", ".bias"}) {
    TensorRule t{gguf + part, hf + part, {n}};
    t.required = required;
    p.tensors.push_back(t);
  }
}

const Family* find_family(const json::Value& cfg) {
  std::string cls, mt;
  if (const json::Value* arr = cfg.get("architectures");
      arr && arr->is_array() && !arr->items().empty() && arr->items()[0].is_string())
    cls = arr->items()[0].as_string();
  if (const json::Value* v = cfg.get("model_type"); v && v->is_string()) mt = v->as_string();
  for (const Family* f : kFamilies)
    if (cls == f->hf_class || (cls.empty() && mt == f->model_type)) return f;
  return nullptr;
}

std::unique_ptr<SourceModel> open_family(const std::string& dir, const json::Value& cfg_json, const std::string& vocab) {
  const Family* fam = find_family(cfg_json);
  if (fam == nullptr) return nullptr;
  const Config cfg(cfg_json, dir + "/config.json");
  const std::map<std::string, Location> where = find_tensors(dir);

  auto m = std::make_unique<SourceModel>();
  m->path = dir;
  Plan plan;
  m->set("general.name", gguf::Value::string(dir_name(dir)));
  fam->plan(cfg, where, *m, plan);

  // Every planned tensor present with its shape; every stored tensor planned.
  std::set<std::string> claimed;
  for (const TensorRule& r : plan.tensors) {
    auto it = where.find(r.hf);
    if (it == where.end()) {
      if (r.required) fail("%s: tensor '%s' (for %s) is missing from the checkpoint", dir.c_str(), r.hf.c_str(), r.gguf.c_str());
      continue;
    }
    claimed.insert(r.hf);
    const safetensors::TensorView& v = *it->second.view;
    if (v.dtype != safetensors::Dtype::F32 && v.dtype != safetensors::Dtype::F16 && v.dtype != safetensors::Dtype::BF16)
      fail("%s: tensor '%s' has dtype %s; only F32, F16 and BF16 can be converted", it->second.file->path().c_str(),
           r.hf.c_str(), safetensors::dtype_name(v.dtype));
    if (v.shape != r.shape)
      fail("%s: tensor '%s' has shape %s, but config.json implies %s", it->second.file->path().c_str(), r.hf.c_str(),
           shape_str(v.shape).c_str(), shape_str(r.shape).c_str());
  }
  for (const auto& [name, loc] : where) {
    if (claimed.count(name)) continue;
    const bool ignored = std::any_of(plan.ignored_suffixes.begin(), plan.ignored_suffixes.end(),
                                     [&n = name](const std::string& s) { return ends_with(n, s); });
    if (!ignored)
      fail("%s: tensor '%s' is not part of a %s model this converter knows", loc.file->path().c_str(), name.c_str(),
           fam->hf_class);
  }

  import_hf_tokenizer(dir, cfg_json, plan.n_vocab, false, vocab, *m);
  for (const TensorRule& r : plan.tensors) {
    auto it = where.find(r.hf);
    if (it != where.end()) m->tensors.push_back(make_tensor(r, it->second));
  }
  return m;
}

}  // namespace qgml::convert::hf
