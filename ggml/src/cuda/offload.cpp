// The offload policy behind qgml/gpu.h, compiled in every build. With
// QGML_CUDA=OFF (no QGML_HAVE_CUDA) nothing here touches a device: every
// question is answered "no, built without CUDA". With it, this file owns the
// weight registry (resident and cached device copies), the row threshold and
// the error handling; backend.h's functions do the CUDA work.
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <list>
#include <mutex>
#include <unordered_map>
#include <vector>

#include "../quants.h"
#include "backend.h"
#include "qgml/gpu.h"

namespace qgml::gpu {
namespace {

bool weight_format(Type t, cuda::WeightFormat* f) {
  using K = cuda::WeightKind;
  switch (t) {
    case Type::F16: f->kind = K::F16; return true;
    case Type::BF16: f->kind = K::BF16; return true;
    case Type::Q8_0: f->kind = K::Q8_0; return true;
    case Type::Q4_0: f->kind = K::Q4_0; return true;
    case Type::NF4: f->kind = K::NF4; return true;
    case Type::NF4_DQ: f->kind = K::NF4_DQ; return true;
    default: break;
  }
  GptqFormat g;
  if (!gptq_format(t, &g)) return false;
  f->kind = K::GPTQ;
  f->bits = g.bits;
  f->group = g.group;
  f->asym = g.asym;
  return true;
}

#ifdef QGML_HAVE_CUDA

// One line on stderr: the library's way of saying where work runs.
void say(const std::string& msg) { std::fprintf(stderr, "qgml: %s\n", msg.c_str()); }

struct Entry {
  void* dev = nullptr;  // device copy, or null while not on the device
  size_t bytes = 0;
  bool resident = false;
  std::list<const Tensor*>::iterator lru;  // position among cached (non-resident) copies
};

struct State {
  std::once_flag once;
  bool ok = false;
  std::string info;
  std::atomic<bool> broken{false};  // a CUDA failure turned offload off
  std::mutex mu;                    // the registry and the device take turns
  std::unordered_map<const Tensor*, Entry> weights;
  std::list<const Tensor*> lru;     // cached copies, most recently used first
  size_t bytes = 0;
  bool oom_said = false;
};
State& state() {
  static State s;
  return s;
}

void init() {
  State& s = state();
  std::call_once(s.once, [&] {
    const char* env = std::getenv("QGML_GPU");
    if (env != nullptr && std::string(env) == "0") {
      s.info = "GPU offload turned off by QGML_GPU=0";
      say(s.info + "; running on the CPU");
      return;
    }
    const cuda::Result r = cuda::init(&s.info);
    s.ok = r.ok();
    if (s.ok) {
      say("offloading large matrix products to " + s.info);
    } else {
      say(s.info + "; running on the CPU");
    }
  });
}

// Turns offload off for good after a failure the device may not recover from.
void fail_for_good(const std::string& what) {
  State& s = state();
  if (!s.broken.exchange(true)) say("CUDA error: " + what + "; matrix products run on the CPU from now on");
}

void drop_copy(State& s, Entry& e) {
  if (e.dev == nullptr) return;
  cuda::device_free(e.dev);
  s.bytes -= e.bytes;
  e.dev = nullptr;
  if (!e.resident) s.lru.erase(e.lru);
}

// Frees cached (not resident) copies until `need` bytes would fit with a
// margin left for the products' scratch; all of them when need is 0.
// `keep` (the weight of the product under way) is never evicted.
void evict(State& s, size_t need, const Tensor* keep = nullptr) {
  constexpr size_t kMargin = size_t{256} << 20;
  std::vector<const Tensor*> victims;
  for (auto it = s.lru.rbegin(); it != s.lru.rend(); ++it)
    if (*it != keep) victims.push_back(*it);
  for (const Tensor* t : victims) {
    if (need != 0 && cuda::free_memory() >= need + kMargin) break;
    drop_copy(s, s.weights[t]);
  }
}

// A device copy of t's rows; out of memory once evicts the cache and tries
// again.
cuda::Result copy_to_device(State& s, const Tensor* t, void** dev) {
  const size_t bytes = t->nbytes();
  cuda::Result r = cuda::device_alloc(bytes, dev);
  if (r.status == cuda::Status::OutOfMemory) {
    evict(s, 0);
    r = cuda::device_alloc(bytes, dev);
  }
  if (r.ok()) {
    r = cuda::upload(*dev, t->data, bytes);
    if (!r.ok()) {
      cuda::device_free(*dev);
      *dev = nullptr;
    }
  }
  return r;
}

void say_oom(State& s, const std::string& what) {
  if (s.oom_said) return;
  s.oom_said = true;
  say("out of GPU memory (" + what + "); products that do not fit run on the CPU");
}

#endif  // QGML_HAVE_CUDA

}  // namespace

bool supports(Type t) {
  cuda::WeightFormat f;
  return weight_format(t, &f);
}

#ifndef QGML_HAVE_CUDA

bool compiled() { return false; }
bool available() { return false; }
std::string description() { return "built without CUDA (configure with -DQGML_CUDA=ON)"; }
bool register_weight(const Tensor*, bool) { return false; }
void unregister_weight(const Tensor*) {}
size_t device_bytes() { return 0; }
bool wants(const Tensor*, const Tensor*) { return false; }
bool mul_mat(const Tensor*, const Tensor*, const Tensor*, Tensor*) { return false; }

#else

bool compiled() { return true; }

bool available() {
  init();
  return state().ok;
}

std::string description() {
  init();
  return state().info;
}

bool register_weight(const Tensor* w, bool resident) {
  State& s = state();
  if (w->ne[2] != 1 || w->ne[3] != 1 || !w->is_contiguous() || !supports(w->type)) return false;
  if (resident && !available()) return false;
  std::lock_guard<std::mutex> lock(s.mu);
  Entry& e = s.weights[w];
  if (!resident || e.resident) return e.resident == resident;
  drop_copy(s, e);  // a cached copy becomes resident: upload it afresh
  const cuda::Result r = copy_to_device(s, w, &e.dev);
  if (!r.ok()) {
    if (r.status == cuda::Status::OutOfMemory) {
      say_oom(s, std::string("uploading ") + w->name);
    } else {
      fail_for_good(r.what);
    }
    return false;
  }
  e.bytes = w->nbytes();
  e.resident = true;
  s.bytes += e.bytes;
  return true;
}

void unregister_weight(const Tensor* w) {
  State& s = state();
  std::lock_guard<std::mutex> lock(s.mu);
  auto it = s.weights.find(w);
  if (it == s.weights.end()) return;
  drop_copy(s, it->second);
  s.weights.erase(it);
}

size_t device_bytes() {
  State& s = state();
  std::lock_guard<std::mutex> lock(s.mu);
  return s.bytes;
}

bool wants(const Tensor* a, const Tensor* b) {
  if (a->ne[2] != 1 || a->ne[3] != 1 || !supports(a->type) || !available()) return false;
  if (b->nrows() >= kMinOffloadRows) return true;
  State& s = state();
  std::lock_guard<std::mutex> lock(s.mu);
  auto it = s.weights.find(a);
  return it != s.weights.end() && it->second.resident;
}

bool mul_mat(const Tensor* a, const Tensor* b, const Tensor* perm, Tensor* dst) {
  State& s = state();
  cuda::WeightFormat fmt;
  // The kernels index within a row in 32 bits.
  if (!available() || s.broken || !weight_format(a->type, &fmt) || a->ne[0] >= (int64_t{1} << 30) ||
      a->ne[2] != 1 || a->ne[3] != 1 || !a->is_contiguous() || b->type != Type::F32 ||
      b->nb[0] != sizeof(float) || dst->nb[0] != sizeof(float) || (perm != nullptr && perm->data == nullptr))
    return false;
  std::lock_guard<std::mutex> lock(s.mu);
  // The weight: resident, cached, or streamed (and cached when registered as
  // immutable; an unregistered tensor may change, so its copy is dropped).
  auto it = s.weights.find(a);
  void* dev = it != s.weights.end() ? it->second.dev : nullptr;
  bool temporary = false;
  if (dev == nullptr) {
    if (it != s.weights.end()) evict(s, a->nbytes());
    const cuda::Result r = copy_to_device(s, a, &dev);
    if (!r.ok()) {
      if (r.status == cuda::Status::OutOfMemory) say_oom(s, std::string("weight ") + a->name);
      else fail_for_good(r.what);
      return false;
    }
    if (it != s.weights.end()) {
      Entry& e = it->second;
      e.dev = dev;
      e.bytes = a->nbytes();
      s.bytes += e.bytes;
      s.lru.push_front(a);
      e.lru = s.lru.begin();
    } else {
      temporary = true;
    }
  } else if (!it->second.resident) {
    s.lru.splice(s.lru.begin(), s.lru, it->second.lru);  // most recently used
  }

  cuda::MatMulArgs args;
  args.fmt = fmt;
  args.K = a->ne[0];
  args.M = a->ne[1];
  args.row_bytes = a->nb[1];
  args.w = dev;
  args.N = b->nrows();
  args.perm = perm != nullptr ? static_cast<const int32_t*>(perm->data) : nullptr;
  std::vector<const float*> xs(static_cast<size_t>(args.N));
  std::vector<float*> outs(xs.size());
  for (int64_t r = 0; r < args.N; ++r) {
    const int64_t i1 = r % b->ne[1], i2 = (r / b->ne[1]) % b->ne[2], i3 = r / (b->ne[1] * b->ne[2]);
    xs[static_cast<size_t>(r)] = reinterpret_cast<const float*>(b->row(i1, i2, i3));
    outs[static_cast<size_t>(r)] = reinterpret_cast<float*>(dst->row(i1, i2, i3));
  }
  args.x = xs.data();
  args.out = outs.data();
  cuda::Result r = cuda::mul_mat(args);
  if (r.status == cuda::Status::OutOfMemory) {  // scratch did not fit: make room once
    evict(s, 0, a);
    r = cuda::mul_mat(args);
  }
  if (temporary) cuda::device_free(dev);
  if (r.ok()) return true;
  if (r.status == cuda::Status::Declined) return false;
  if (r.status == cuda::Status::OutOfMemory) say_oom(s, "product scratch");
  else fail_for_good(r.what);
  return false;
}

#endif  // QGML_HAVE_CUDA

}  // namespace qgml::gpu
