// The per-tensor plan: --keep rules, the method's target tensors, and every
// shape check that must fail before the work starts.
#include "plan.h"

#include <cstring>

#include "qgml/error.h"
#include "qgml/gguf.h"
#include "qgml/quant.h"

namespace qgml::quantize {

Method parse_method(const std::string& s) {
  if (s == "gptq") return Method::GPTQ;
  if (s == "rtn") return Method::RTN;
  if (s == "nf4") return Method::NF4;
  if (s == "nf4-dq") return Method::NF4_DQ;
  if (s == "gptq-nf4") return Method::GPTQ_NF4;
  fail("unknown method '%s' (expected gptq, rtn, nf4, nf4-dq or gptq-nf4)", s.c_str());
}

const char* method_name(Method m) {
  switch (m) {
    case Method::GPTQ: return "gptq";
    case Method::RTN: return "rtn";
    case Method::NF4: return "nf4";
    case Method::NF4_DQ: return "nf4-dq";
    case Method::GPTQ_NF4: return "gptq-nf4";
  }
  return "?";
}

bool needs_calibration(Method m) { return m == Method::GPTQ || m == Method::GPTQ_NF4; }

Format parse_format(const std::string& s) {
  if (s == "gptq") return Format::Gptq;
  if (s == "q4_0") return Format::Q4_0;
  if (s == "q4_1") return Format::Q4_1;
  fail("unknown format '%s' (expected gptq, q4_0 or q4_1)", s.c_str());
}

const char* format_name(Format f) {
  switch (f) {
    case Format::Gptq: return "gptq";
    case Format::Q4_0: return "q4_0";
    case Format::Q4_1: return "q4_1";
  }
  return "?";
}

bool glob_match(const std::string& glob, const std::string& name) {
  // Iterative wildcard match with backtracking to the last '*'.
  size_t g = 0, n = 0, star = std::string::npos, mark = 0;
  while (n < name.size()) {
    if (g < glob.size() && (glob[g] == '?' || glob[g] == name[n])) {
      ++g, ++n;
    } else if (g < glob.size() && glob[g] == '*') {
      star = g++;
      mark = n;
    } else if (star != std::string::npos) {
      g = star + 1;
      n = ++mark;
    } else {
      return false;
    }
  }
  while (g < glob.size() && glob[g] == '*') ++g;
  return g == glob.size();
}

KeepRule parse_keep(const std::string& arg) {
  const size_t eq = arg.rfind('=');
  if (eq == std::string::npos || eq == 0 || eq + 1 == arg.size())
    fail("--keep '%s': expected TENSOR-GLOB=TYPE, e.g. 'output.weight=q8_0'", arg.c_str());
  KeepRule r;
  r.glob = arg.substr(0, eq);
  const std::string t = arg.substr(eq + 1);
  if (!type_from_name(t.c_str(), &r.type) || traits(r.type).to_float == nullptr || r.type == Type::Q8_A)
    fail("--keep '%s': unknown tensor type '%s'", arg.c_str(), t.c_str());
  return r;
}

namespace {

bool ends_with(const std::string& s, const char* suffix) {
  const size_t n = std::strlen(suffix);
  return s.size() >= n && s.compare(s.size() - n, n, suffix) == 0;
}

// The weights of the decoder blocks' linear layers: what the methods quantize.
bool is_block_linear(const convert::SourceTensor& t) {
  return t.n_dims == 2 && t.name.compare(0, 4, "blk.") == 0 && ends_with(t.name, ".weight") && !ends_with(t.name, "_norm.weight");
}

LayerSpec base_spec(const Params& p) {
  LayerSpec s;
  s.grid = p.method == Method::NF4 || p.method == Method::GPTQ_NF4 ? Grid::NF4 : Grid::Uniform;
  s.bits = p.bits;
  s.sym = p.sym;
  s.group = p.group;
  if (p.format != Format::Gptq) {
    s.grid = p.format == Format::Q4_0 ? Grid::Q4_0 : Grid::Q4_1;
    s.group = 32;
    s.sym = p.format == Format::Q4_0;
  }
  s.act_order = p.act_order;
  s.static_groups = p.static_groups;
  s.damp = p.damp;
  s.block = p.block;
  return s;
}

}  // namespace

std::vector<TensorPlan> make_plan(const convert::SourceModel& m, const Params& p) {
  const LayerSpec base = base_spec(p);
  if (p.format != Format::Gptq && p.method != Method::GPTQ && p.method != Method::RTN)
    fail("--format %s takes --method gptq or rtn, not %s", format_name(p.format), method_name(p.method));
  if (p.method != Method::NF4_DQ) validate(base);
  if (p.method == Method::NF4_DQ && p.bits != 4) fail("NF4 is a 4-bit code, not %d bits", p.bits);
  const bool calibrated = needs_calibration(p.method);
  std::vector<TensorPlan> plan;
  for (const convert::SourceTensor& t : m.tensors) {
    if (t.n_dims > 2) fail("%s: %d-dimensional tensors are not supported", t.name.c_str(), t.n_dims);
    TensorPlan tp;
    tp.src = &t;
    const KeepRule* rule = nullptr;
    for (const KeepRule& r : p.keep)
      // A quantized type only applies to matrices: "blk.1.*=q8_0" leaves the norms alone.
      if (glob_match(r.glob, t.name) && (t.n_dims >= 2 || !traits(r.type).is_quantized)) {
        rule = &r;
        break;
      }
    int bits, group;
    bool asym;
    if (rule != nullptr && is_gptq_type(rule->type, &bits, &group, &asym)) {
      tp.spec = base;
      tp.spec.grid = Grid::Uniform;
      tp.spec.bits = bits;
      tp.spec.group = group;
      tp.spec.sym = !asym;
      tp.action = calibrated ? Action::Gptq : Action::Rtn;
    } else if (rule != nullptr && rule->type == Type::NF4) {
      tp.spec = base;
      tp.spec.grid = Grid::NF4;
      tp.spec.bits = 4;
      tp.action = calibrated ? Action::Gptq : Action::Rtn;
    } else if (rule != nullptr) {
      tp.type = rule->type;
    } else if (t.name == "token_embd.weight" || t.name == "output.weight") {
      tp.type = p.embd_type;
    } else if (is_block_linear(t)) {
      tp.target = true;
      if (p.method == Method::NF4_DQ) {
        tp.type = Type::NF4_DQ;
      } else if (p.format != Format::Gptq && t.ne[0] % 32 != 0) {
        tp.type = Type::F16;  // llama.cpp's own fallback for rows no 32-block type divides
      } else if (p.format != Format::Gptq && p.method == Method::RTN) {
        tp.type = p.format == Format::Q4_0 ? Type::Q4_0 : Type::Q4_1;  // the type's from_float: llama.cpp's RTN
      } else {
        tp.spec = base;
        tp.action = calibrated ? Action::Gptq : Action::Rtn;
      }
    } else {
      tp.type = convert::tensor_out_type(t, Type::F16);
    }
    if (tp.action == Action::Gptq && !is_block_linear(t))
      fail("--keep: %s is not a linear layer of a block, so GPTQ cannot calibrate it; give it a non-GPTQ type",
           t.name.c_str());
    if (tp.action != Action::Convert) {
      tp.type = storage_type(tp.spec);
      const int g = tp.spec.grid == Grid::NF4 ? 64 : tp.spec.group;
      if (g > t.ne[0])
        fail("%s has %lld input columns, fewer than the group size %d: use a smaller --group (or -1), or --keep it",
             t.name.c_str(), static_cast<long long>(t.ne[0]), g);
    } else {
      const TypeTraits& tr = traits(tp.type);
      if (tr.from_float == nullptr) fail("%s: qgml cannot convert floats to %s", t.name.c_str(), tr.name);
      const bool llama_cpp_type = tr.gguf_id < gguf::kQgmlTypeIdBase;
      if (tr.is_quantized && llama_cpp_type && t.ne[0] % tr.block_size != 0)
        fail("%s: rows of %lld are not a multiple of %s's block of %lld", t.name.c_str(), static_cast<long long>(t.ne[0]),
             tr.name, static_cast<long long>(tr.block_size));
      if (tr.is_quantized && t.n_dims < 2) fail("%s: a 1-D tensor cannot be stored as %s", t.name.c_str(), tr.name);
    }
    plan.push_back(tp);
  }
  return plan;
}

}  // namespace qgml::quantize
