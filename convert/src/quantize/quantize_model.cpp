// quantize_model: plan → (calibration + GPTQ) → atomic GGUF write → report.
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstdarg>
#include <cstdio>
#include <map>

#include "calib.h"
#include "calibrate.h"
#include "plan.h"
#include "qgml/block.h"
#include "qgml/error.h"
#include "qgml/gguf.h"
#include "qgml/model.h"
#include "qgml/quant.h"
#include "qgml/quantize.h"
#include "qgml/threadpool.h"
#include "qgml/tokenizer.h"
#include "source.h"

namespace qgml::quantize {
namespace {

using Clock = std::chrono::steady_clock;
double since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

std::string dir_of(const std::string& path) {
  const size_t s = path.rfind('/');
  return s == std::string::npos ? "." : (s == 0 ? "/" : path.substr(0, s));
}

std::string fmt(const char* f, ...) __attribute__((format(printf, 1, 2)));
std::string fmt(const char* f, ...) {
  char buf[512];
  va_list ap;
  va_start(ap, f);
  std::vsnprintf(buf, sizeof buf, f, ap);
  va_end(ap);
  return buf;
}

struct Done {
  std::vector<uint8_t> bytes;
  std::vector<int32_t> perm;
  double loss = 0;
};

// Rows [first, first+count) of a tensor in its planned type.
void convert_rows(const TensorPlan& tp, const float* src, int64_t count, uint8_t* dst) {
  const int64_t K = tp.src->ne[0];
  if (tp.action == Action::Rtn) {
    const std::vector<uint8_t> b = rtn(src, count, K, tp.spec).pack();
    std::copy(b.begin(), b.end(), dst);
    return;
  }
  const size_t rs = row_size(tp.type, K);
  for (int64_t r = 0; r < count; ++r) traits(tp.type).from_float(src + r * K, dst + static_cast<size_t>(r) * rs, K);
}

// What the file will hold for a tensor that is not GPTQ'd, as floats: the
// calibration runs later blocks with it.
std::vector<float> stored_values(const TensorPlan& tp, const std::vector<float>& W) {
  const int64_t K = tp.src->ne[0], rows = tp.src->n_rows();
  std::vector<uint8_t> bytes(row_size(tp.type, K) * static_cast<size_t>(rows));
  convert_rows(tp, W.data(), rows, bytes.data());
  std::vector<float> out(W.size());
  for (int64_t r = 0; r < rows; ++r)
    traits(tp.type).to_float(bytes.data() + static_cast<size_t>(r) * row_size(tp.type, K), out.data() + r * K, K);
  return out;
}

}  // namespace

std::unique_ptr<Model> load_float_model(const std::string& input, const std::string& vocab, const std::string& scratch_dir) {
  if (is_gguf_file(input)) return Model::load(input);
  auto src = convert::open_source(input, vocab);
  int64_t n = 0;
  for (const auto& t : src->tensors) n += t.n_elements();
  // F32 keeps the embedding exact; past 1 G parameters F16 halves the scratch file.
  const Type type = n < (int64_t{1} << 30) ? Type::F32 : Type::F16;
  const std::string tmp = scratch_dir + "/.qgml-quantize-" + std::to_string(::getpid()) + ".gguf";
  convert::write_gguf(*src, tmp, type);
  std::unique_ptr<Model> m;
  try {
    m = Model::load(tmp);
  } catch (...) {
    ::unlink(tmp.c_str());
    throw;
  }
  ::unlink(tmp.c_str());  // the mapping stays valid; nothing is left behind on exit or crash
  return m;
}

void check(const Params& p) {
  const std::unique_ptr<convert::SourceModel> src = open_input(p.input, p.vocab);
  bool calibrated = false;
  for (const TensorPlan& tp : make_plan(*src, p)) calibrated = calibrated || tp.action == Action::Gptq;
  if (calibrated && p.calib.empty()) fail("--method %s needs calibration text: --calib FILE.txt|FILE.jsonl", method_name(p.method));
  if (::access(dir_of(p.output).c_str(), W_OK) != 0) fail("%s: the output folder is not writable", p.output.c_str());
}

Report quantize_model(const Params& p, const Model* float_model) {
  const auto t_start = Clock::now();
  auto log = [&](const std::string& s, bool transient) {
    if (p.log) p.log(s, transient);
  };
  const std::unique_ptr<convert::SourceModel> src = open_input(p.input, p.vocab);
  const std::vector<TensorPlan> plan = make_plan(*src, p);
  bool calibrate_needed = false;
  for (const TensorPlan& tp : plan) calibrate_needed = calibrate_needed || tp.action == Action::Gptq;
  if (::access(dir_of(p.output).c_str(), W_OK) != 0) fail("%s: the output folder is not writable", p.output.c_str());

  std::unique_ptr<Model> owned;
  const Model* model = float_model;
  std::vector<std::vector<int32_t>> windows;
  if (calibrate_needed) {
    if (p.calib.empty()) fail("--method %s needs calibration text: --calib FILE.txt|FILE.jsonl", method_name(p.method));
    if (model == nullptr) {
      owned = load_float_model(p.input, p.vocab, dir_of(p.output));
      model = owned.get();
    }
    if (!supports_blocks(*model)) fail("GPTQ: architecture %s cannot run single blocks", model->hparams().arch.c_str());
    CalibParams cp;
    cp.path = p.calib;
    cp.n_samples = p.calib_samples;
    cp.n_ctx = p.calib_ctx;
    cp.seed = p.seed;
    cp.force_bos = p.calib_bos;
    windows = calibration_windows(model->tokenizer(), cp);
    log(fmt("calibration: %lld windows of %lld tokens from %s", static_cast<long long>(windows.size()),
            static_cast<long long>(p.calib_ctx), p.calib.c_str()), false);
  }

  ThreadPool pool(p.n_threads > 0 ? p.n_threads : ThreadPool::default_threads());
  Report rep;
  std::map<std::string, Done> done;
  if (calibrate_needed) {
    const auto t_cal = Clock::now();
    std::map<std::string, const TensorPlan*> by_name;
    for (const TensorPlan& tp : plan) by_name[tp.src->name] = &tp;
    CalibrateOptions co;
    co.cache_budget_bytes = p.cache_budget_bytes;
    co.on_progress = [&](int block, int n_blocks, const std::string& what) {
      const double el = since(t_cal);
      const double eta = block > 0 ? el / block * (n_blocks - block) : 0.0;
      log(fmt("block %d/%d: %s  [%.1f s, ETA %s]", block + 1, n_blocks, what.c_str(), el,
              block > 0 ? fmt("%.0f s", eta).c_str() : "?"), true);
    };
    const CalibrationStats cs = calibrate(*model, windows, pool, [&](const LinearInfo& li, const float* H) {
      auto it = by_name.find(li.name);
      if (it == by_name.end()) fail("calibration: %s is not in the input", li.name.c_str());
      const TensorPlan& tp = *it->second;
      std::vector<float> W(static_cast<size_t>(li.rows * li.cols));
      tp.src->read(W.data());
      if (tp.action != Action::Gptq) return stored_values(tp, W);
      const auto t = Clock::now();
      const QuantizedLayer L = gptq(W.data(), li.rows, li.cols, H, tp.spec, &pool);
      log(fmt("%-28s %-12s loss %.6g%s  (%.2f s)%s", li.name.c_str(), type_name(L.type), L.loss,
              L.perm.empty() ? "" : "  act-order", since(t), L.note.empty() ? "" : ("  " + L.note).c_str()), false);
      if (L.dead > 0) log(fmt("%s: %lld dead input columns (never active in calibration)", li.name.c_str(), static_cast<long long>(L.dead)), false);
      Done d{L.pack(), L.perm, L.loss};
      done[li.name] = std::move(d);
      std::vector<float> deq(W.size());
      L.dequantize(deq.data());
      return deq;
    }, co);
    rep.calib_seconds = since(t_cal);
    rep.forward_seconds = cs.forward_seconds;
    rep.linear_seconds = cs.linear_seconds;
    rep.hessian_seconds = cs.hessian_seconds;
    rep.gptq_seconds = cs.quantize_seconds;
    rep.hessian_gflops = cs.hessian_seconds > 0 ? cs.hessian_flops / cs.hessian_seconds * 1e-9 : 0;
    rep.activations_cached = cs.cached;
    for (const TensorPlan& tp : plan)
      if (tp.action == Action::Gptq && done.count(tp.src->name) == 0)
        fail("GPTQ: %s was never reached by the forward pass, so it has no calibration", tp.src->name.c_str());
  }

  gguf::Writer w;
  for (const gguf::KeyValue& kv : src->metadata)
    if (kv.key != "general.file_type") w.set(kv.key, kv.value);
  w.set("general.quantization_version", gguf::Value::u32(2));
  w.set("qgml.quantize.method", gguf::Value::string(method_name(p.method)));
  if (p.format != Format::Gptq) {
    w.set("qgml.quantize.format", gguf::Value::string(format_name(p.format)));
    // llama.cpp's LLAMA_FTYPE_MOSTLY_Q4_0 / _Q4_1: what llama.cpp reports the file as.
    w.set("general.file_type", gguf::Value::u32(p.format == Format::Q4_0 ? 2 : 3));
  }
  if (p.method != Method::NF4 && p.method != Method::NF4_DQ) {
    const bool llama = p.format != Format::Gptq;
    w.set("qgml.quantize.bits", gguf::Value::u32(static_cast<uint32_t>(p.bits)));
    w.set("qgml.quantize.group_size", gguf::Value::i32(llama ? 32 : p.group));
    w.set("qgml.quantize.sym", gguf::Value::boolean(llama ? p.format == Format::Q4_0 : p.sym));
  }
  if (calibrate_needed) {
    w.set("qgml.quantize.act_order", gguf::Value::boolean(p.act_order));
    w.set("qgml.quantize.static_groups", gguf::Value::boolean(p.static_groups));
    w.set("qgml.quantize.damp", gguf::Value::f32(static_cast<float>(p.damp)));
    w.set("qgml.quantize.calib_samples", gguf::Value::u32(static_cast<uint32_t>(windows.size())));
    w.set("qgml.quantize.calib_ctx", gguf::Value::u32(static_cast<uint32_t>(p.calib_ctx)));
  }
  double q_bits = 0, q_elems = 0, all_bits = 0, all_elems = 0;
  for (const TensorPlan& tp : plan) {
    const convert::SourceTensor& t = *tp.src;
    TensorResult tr;
    tr.name = t.name;
    tr.type = tp.type;
    tr.n_elements = t.n_elements();
    tr.bytes = row_size(tp.type, t.ne[0]) * static_cast<size_t>(t.n_rows());
    tr.quantized = tp.target;
    auto it = done.find(t.name);
    if (it != done.end()) {
      QGML_ASSERT(it->second.bytes.size() == tr.bytes);
      w.add_tensor(t.name, tp.type, t.n_dims, t.ne, it->second.bytes.data());
      tr.loss = it->second.loss;
      if (!it->second.perm.empty()) {
        tr.has_perm = true;
        const int64_t ne[1] = {t.ne[0]};
        w.add_tensor(t.name + kPermSuffix, Type::I32, 1, ne, it->second.perm.data());
        tr.bytes += it->second.perm.size() * sizeof(int32_t);
      }
    } else {
      const TensorPlan* tpp = &tp;
      w.add_tensor(t.name, tp.type, t.n_dims, t.ne, [tpp](void* dst, size_t nbytes) {
        const int64_t K = tpp->src->ne[0], rows = tpp->src->n_rows();
        const size_t rs = row_size(tpp->type, K);
        QGML_ASSERT(nbytes == rs * static_cast<size_t>(rows));
        const int64_t chunk = std::max<int64_t>(1, (int64_t{1} << 20) / std::max<int64_t>(K, 1));
        std::vector<float> buf(static_cast<size_t>(std::min(chunk, rows) * K));
        for (int64_t r0 = 0; r0 < rows; r0 += chunk) {
          const int64_t n = std::min(chunk, rows - r0);
          tpp->src->read_rows(r0, n, buf.data());
          convert_rows(*tpp, buf.data(), n, static_cast<uint8_t*>(dst) + static_cast<size_t>(r0) * rs);
        }
      });
    }
    all_bits += 8.0 * static_cast<double>(tr.bytes);
    all_elems += static_cast<double>(tr.n_elements);
    if (tr.quantized) {
      q_bits += 8.0 * static_cast<double>(tr.bytes);
      q_elems += static_cast<double>(tr.n_elements);
    }
    rep.tensors.push_back(tr);
  }
  log(fmt("writing %s", p.output.c_str()), true);
  w.write(p.output);
  struct stat st;
  if (::stat(p.output.c_str(), &st) == 0) rep.file_bytes = static_cast<size_t>(st.st_size);
  rep.bpw_quantized = q_elems > 0 ? q_bits / q_elems : 0;
  rep.bpw_all = all_elems > 0 ? all_bits / all_elems : 0;
  rep.seconds = since(t_start);
  return rep;
}

}  // namespace qgml::quantize
