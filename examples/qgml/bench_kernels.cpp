// qgml bench --kernels: matrix-vector and batched products of quantized
// weights, measured against this machine's own DRAM read bandwidth.
//
// Matrix-vector decoding is memory bound, so its figure of merit is the rate
// at which weight bytes are read, as a fraction of what a plain read loop
// reaches on the same machine, in the same run and thread count. The weight
// set is a few Llama-7B layers (4096×4096 and 11008×4096 matrices), several
// hundred MB, so that it cannot be served from cache.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <functional>
#include <memory>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#if defined(__x86_64__)
#include <immintrin.h>
#endif

#include "args.h"
#include "qgml/cpu.h"
#include "qgml/error.h"
#include "qgml/graph.h"
#include "qgml/ops.h"
#include "qgml/threadpool.h"
#include "qgml/types.h"

namespace qgml::cli {

int run_kernel_bench(const std::vector<std::string>& args);

namespace {

const char* kHelp =
    "usage: qgml bench --kernels [options]\n"
    "\n"
    "Matrix-vector (one token) and batched (prompt) products of quantized weights. Prints weight\n"
    "bytes read per second for one token, as a share of the DRAM read bandwidth a plain read loop\n"
    "measures in the same run, and GFLOPS for a batch.\n"
    "\n"
    "options:\n"
    "  --type T        weight type to measure (repeatable; default: a representative set)\n"
    "  -t, --threads L comma-separated thread counts (default 1,2)\n"
    "  --batch N       tokens of the batched product; 0 skips it (default 512)\n"
    "  --mb N          megabytes of weights streamed per matrix-vector pass (default 320); below\n"
    "                  one 7B layer (~100 MB at 4 bits) a single 4096-wide matrix of that size, which\n"
    "                  stays in cache and shows a kernel's compute ceiling\n"
    "  --seconds S     time spent per measurement (default 0.5)\n"
    "  --isa NAME      kernel level: scalar, avx2, avx512, neon (default: the best here)\n";

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

struct Shape {
  int64_t K, M;
};
// One Llama-7B layer: q, k, v, o; gate, up; down.
const Shape kLayer[] = {{4096, 4096}, {4096, 4096}, {4096, 4096}, {4096, 4096},
                        {4096, 11008}, {4096, 11008}, {11008, 4096}};

struct Buffer {
  std::unique_ptr<uint8_t[]> raw;
  uint8_t* p = nullptr;
  explicit Buffer(size_t n) : raw(new uint8_t[n + 64]) {
    p = raw.get() + (64 - reinterpret_cast<uintptr_t>(raw.get()) % 64) % 64;
  }
};

#if defined(__x86_64__)
__attribute__((target("avx2"))) uint64_t read_sum_avx2(const uint8_t* p, size_t n) {
  __m256i a0 = _mm256_setzero_si256(), a1 = a0, a2 = a0, a3 = a0;
  for (size_t i = 0; i + 128 <= n; i += 128) {
    a0 = _mm256_add_epi64(a0, _mm256_load_si256(reinterpret_cast<const __m256i*>(p + i)));
    a1 = _mm256_add_epi64(a1, _mm256_load_si256(reinterpret_cast<const __m256i*>(p + i + 32)));
    a2 = _mm256_add_epi64(a2, _mm256_load_si256(reinterpret_cast<const __m256i*>(p + i + 64)));
    a3 = _mm256_add_epi64(a3, _mm256_load_si256(reinterpret_cast<const __m256i*>(p + i + 96)));
  }
  const __m256i s = _mm256_add_epi64(_mm256_add_epi64(a0, a1), _mm256_add_epi64(a2, a3));
  // Unsigned sums: the lanes wrap (the value only keeps the loads alive).
  uint64_t sum = 0;
  alignas(32) uint64_t lanes[4];
  _mm256_store_si256(reinterpret_cast<__m256i*>(lanes), s);
  for (uint64_t v : lanes) sum += v;
  return sum;
}
#endif

uint64_t read_sum(const uint8_t* p, size_t n) {
#if defined(__x86_64__)
  if (cpu_features().avx2) return read_sum_avx2(p, n);
#endif
  uint64_t s[4] = {0, 0, 0, 0};
  for (size_t i = 0; i + 32 <= n; i += 32)
    for (int j = 0; j < 4; ++j) {
      uint64_t v;
      std::memcpy(&v, p + i + 8 * j, 8);
      s[j] += v;
    }
  return s[0] + s[1] + s[2] + s[3];
}

// Best-of-passes time of fn() within `budget` seconds (at least 3 passes).
template <typename Fn>
double best_time(double budget, Fn&& fn) {
  double best = 1e30;
  const auto t0 = Clock::now();
  for (int pass = 0; pass < 3 || seconds_since(t0) < budget; ++pass) {
    const auto t = Clock::now();
    fn();
    best = std::min(best, seconds_since(t));
    if (pass > 200) break;
  }
  return best;
}

// One pass of a plain read loop over n bytes, each thread reading its
// contiguous share, as mul_mat's row split does.
void read_pass(ThreadPool& pool, const uint8_t* p, size_t n) {
  static std::atomic<uint64_t> sink{0};  // keeps the loads from being optimised away
  pool.run([&](int ith, int nth) {
    const size_t per = (n / static_cast<size_t>(nth)) & ~size_t(127);
    sink.fetch_add(read_sum(p + per * static_cast<size_t>(ith), per), std::memory_order_relaxed);
  });
}

double dram_read_gbs(ThreadPool& pool, const uint8_t* p, size_t n, double budget) {
  return static_cast<double>(n) / best_time(budget, [&] { read_pass(pool, p, n); }) / 1e9;
}

// The same bytes read as kReadStreams sequential streams per thread (each
// thread's share cut in kReadStreams parts, read 1 KB from each in turn): on
// some machines (the AMD EPYC dev machine: ~28 against ~21 GB/s at 1 thread)
// the hardware prefetcher keeps more reads in flight for several streams than
// for one, so this is the higher bound that the matrix-vector kernels that
// walk several streams (matvec_streams) are also shown against.
constexpr size_t kReadStreams = 4;
constexpr size_t kStreamChunk = 1024;
// Bytes each of one thread's streams reads: whole chunks of its share.
size_t stream_bytes(size_t n, int nth) {
  return n / static_cast<size_t>(nth) / kReadStreams / kStreamChunk * kStreamChunk;
}

void read_pass_streams(ThreadPool& pool, const uint8_t* p, size_t n) {
  static std::atomic<uint64_t> sink{0};
  pool.run([&](int ith, int nth) {
    const size_t part = stream_bytes(n, nth);
    const uint8_t* base = p + part * kReadStreams * static_cast<size_t>(ith);
    uint64_t sum = 0;
    for (size_t off = 0; off < part; off += kStreamChunk)
      for (size_t s = 0; s < kReadStreams; ++s) sum += read_sum(base + s * part + off, kStreamChunk);
    sink.fetch_add(sum, std::memory_order_relaxed);
  });
}

double dram_read_streams_gbs(ThreadPool& pool, const uint8_t* p, size_t n, double budget) {
  const size_t bytes = stream_bytes(n, pool.size()) * kReadStreams * static_cast<size_t>(pool.size());
  return static_cast<double>(bytes) / best_time(budget, [&] { read_pass_streams(pool, p, n); }) / 1e9;
}

// Best-of times of a kernel pass and a read pass over the same weight bytes,
// alternated so that both see the same machine load (the machine is shared).
void alternate(double budget, const std::function<void()>& kernel, const std::function<void()>& read, double* tk,
               double* tr) {
  *tk = *tr = 1e30;
  const auto t0 = Clock::now();
  for (int pass = 0; pass < 3 || seconds_since(t0) < budget; ++pass) {
    auto t = Clock::now();
    kernel();
    *tk = std::min(*tk, seconds_since(t));
    t = Clock::now();
    read();
    *tr = std::min(*tr, seconds_since(t));
    if (pass > 200) break;
  }
}

// Weights of one type for `layers` layers, filled by repeating 32 distinct
// quantized random rows per row length (quantizing hundreds of MB with the
// reference quantizers would take longer than the measurement).
struct WeightSet {
  Context ctx{false};
  std::vector<Tensor*> w;
  std::unique_ptr<Buffer> mem;
  size_t bytes = 0;

  WeightSet(Type t, int layers, const std::vector<Shape>& shapes) {
    for (int l = 0; l < layers; ++l)
      for (const Shape& s : shapes) bytes += row_size(t, s.K) * static_cast<size_t>(s.M);
    mem = std::make_unique<Buffer>(bytes);
    std::mt19937 rng(1);
    std::normal_distribution<float> dist(0.0f, 0.02f);
    size_t off = 0;
    for (int l = 0; l < layers; ++l) {
      for (const Shape& s : shapes) {
        const size_t rs = row_size(t, s.K);
        std::vector<uint8_t> rows(rs * 32);
        std::vector<float> x(static_cast<size_t>(s.K));
        for (int r = 0; r < 32; ++r) {
          if (traits(t).from_float == nullptr) {
            // No reference quantizer (llama.cpp's K-quants): random blocks.
            // Bytes below 0x40 keep every f16 scale finite and every float
            // product normal, so timing is that of real data.
            for (size_t b = 0; b < rs; ++b) rows[rs * r + b] = static_cast<uint8_t>(rng() & 0x3f);
            continue;
          }
          for (float& v : x) v = dist(rng);
          traits(t).from_float(x.data(), rows.data() + rs * r, s.K);
        }
        Tensor* tw = ctx.new_tensor_2d(t, s.K, s.M);
        tw->data = mem->p + off;
        for (int64_t m = 0; m < s.M; ++m) std::memcpy(mem->p + off + rs * m, rows.data() + rs * (rng() % 32), rs);
        off += rs * static_cast<size_t>(s.M);
        w.push_back(tw);
      }
    }
  }
};

// One graph holding a product of every weight with an activation of matching K.
struct Products {
  Context ctx;
  Graph graph;
  Products(const std::vector<Tensor*>& ws, int64_t n_tokens) {
    Tensor* x4096 = ctx.new_tensor_2d(Type::F32, 4096, n_tokens);
    Tensor* x11008 = ctx.new_tensor_2d(Type::F32, 11008, n_tokens);
    std::mt19937 rng(2);
    std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
    for (Tensor* x : {x4096, x11008})
      for (int64_t i = 0; i < x->nelements(); ++i) static_cast<float*>(x->data)[i] = dist(rng);
    for (Tensor* w : ws) graph.add_output(mul_mat(ctx, w, w->ne[0] == 4096 ? x4096 : x11008));
  }
};

std::string loadavg() {
  std::ifstream f("/proc/loadavg");
  std::string a, b, c;
  f >> a >> b >> c;
  return a.empty() ? "?" : a + " " + b + " " + c;
}

std::vector<int> parse_threads(const std::string& s) {
  std::vector<int> v;
  std::stringstream ss(s);
  std::string item;
  while (std::getline(ss, item, ',')) {
    const int n = std::atoi(item.c_str());
    if (n < 1 || n > 256) fail("bad thread count '%s'", item.c_str());
    v.push_back(n);
  }
  if (v.empty()) fail("no thread counts in '%s'", s.c_str());
  return v;
}

}  // namespace

int run_kernel_bench(const std::vector<std::string>& argv) {
  Args args(argv, {{"--type"}, {"-t", "--threads"}, {"--batch"}, {"--mb"}, {"--seconds"}, {"--isa"}},
            {{"-h", "--help"}, {"--kernels"}});
  if (args.has("--help")) {
    std::fputs(kHelp, stdout);
    return 0;
  }
  if (!args.positional().empty()) fail("unexpected argument '%s' (see --help)", args.positional()[0].c_str());
  if (args.has("--isa")) {
    Isa isa;
    if (!parse_isa(args.get("--isa").c_str(), &isa)) fail("unknown instruction set '%s'", args.get("--isa").c_str());
    set_max_isa(isa);
  }
  std::vector<Type> types;
  for (const std::string& name : args.get_all("--type")) {
    Type t;
    if (!type_from_name(name.c_str(), &t)) fail("unknown type '%s'", name.c_str());
    types.push_back(t);
  }
  if (types.empty())
    types = {Type::GPTQ4_G128, Type::GPTQ3_G128, Type::GPTQ2_G128, Type::NF4, Type::NF4_DQ, Type::Q4_0};
  const std::vector<int> threads = parse_threads(args.get("--threads", "1,2"));
  const int64_t batch = args.get_int("--batch", 512);
  const double budget = args.get_float("--seconds", 0.5);
  const size_t target = static_cast<size_t>(args.get_int("--mb", 320)) << 20;

  std::printf("qgml kernel benchmark: kernels %s, load average %s (the machine may be shared)\n",
              isa_name(active_isa()), loadavg().c_str());
  std::vector<double> dram(threads.size()), dram_streams(threads.size());
  {
    Buffer buf(target);
    std::memset(buf.p, 1, target);  // touch every page before timing
    for (size_t i = 0; i < threads.size(); ++i) {
      ThreadPool pool(threads[i]);
      dram[i] = dram_read_gbs(pool, buf.p, target, budget);
      std::printf("DRAM read bandwidth (plain read loop), %d thread%s: %.1f GB/s (%zu MB buffer)\n", threads[i],
                  threads[i] > 1 ? "s" : "", dram[i], target >> 20);
      dram_streams[i] = dram_read_streams_gbs(pool, buf.p, target, budget);
      std::printf("  read as %zu interleaved streams per thread: %.1f GB/s\n", kReadStreams, dram_streams[i]);
    }
  }
  std::printf("\nmatvec: weight bytes read per second for one token; read: a plain read loop over the same\n"
              "bytes, alternated with it; ratio = matvec / read; streams = matvec / the interleaved-streams read\n"
              "above. batch: %lld tokens, 4096x4096 + 11008x4096.\n\n",
              static_cast<long long>(batch));
  std::printf("%-12s %6s %4s %12s %10s %7s %8s %14s\n", "type", "bpw", "thr", "matvec GB/s", "read GB/s", "ratio",
              "streams", batch > 0 ? "batch GFLOPS" : "");
  for (Type t : types) {
    if (traits(t).to_float == nullptr || !traits(t).is_quantized) fail("%s is not a quantized weight type", type_name(t));
    std::vector<Shape> layer(std::begin(kLayer), std::end(kLayer));
    size_t layer_bytes = 0;
    for (const Shape& s : layer) layer_bytes += row_size(t, s.K) * static_cast<size_t>(s.M);
    if (target < layer_bytes) {
      // Less than one layer (e.g. --mb 1): one 4096-wide matrix of about that size, served
      // from cache, which gives the kernel's compute ceiling rather than a DRAM figure.
      const int64_t rows = std::max<int64_t>(16, static_cast<int64_t>(target / row_size(t, 4096)));
      layer = {{4096, rows}};
      layer_bytes = row_size(t, 4096) * static_cast<size_t>(rows);
    }
    const int layers = static_cast<int>((target + layer_bytes - 1) / layer_bytes);
    WeightSet ws(t, layers, layer);
    Products mv(ws.w, 1);
    // The batched product: one 4096×4096 and one 11008×4096 matrix.
    std::vector<Tensor*> gemm_w = {ws.w[0]};
    if (ws.w.size() > 4) gemm_w.push_back(ws.w[4]);
    std::unique_ptr<Products> pp = batch > 0 ? std::make_unique<Products>(gemm_w, batch) : nullptr;
    double gemm_flop = 0.0;
    for (Tensor* w : gemm_w) gemm_flop += 2.0 * static_cast<double>(w->ne[0] * w->ne[1]) * static_cast<double>(batch);
    const double bpw = 8.0 * static_cast<double>(traits(t).type_size) / static_cast<double>(traits(t).block_size);
    for (size_t i = 0; i < threads.size(); ++i) {
      ThreadPool pool(threads[i]);
      double tm, tr;
      alternate(
          budget, [&] { mv.graph.compute(pool); }, [&] { read_pass(pool, ws.mem->p, ws.bytes); }, &tm, &tr);
      const double gbs = static_cast<double>(ws.bytes) / tm / 1e9, rgbs = static_cast<double>(ws.bytes) / tr / 1e9;
      std::printf("%-12s %6.3f %4d %12.1f %10.1f %6.0f%% %7.0f%%", type_name(t), bpw, threads[i], gbs, rgbs,
                  100.0 * gbs / rgbs, 100.0 * gbs / dram_streams[i]);
      if (pp) {
        const double tg = best_time(budget, [&] { pp->graph.compute(pool); });
        std::printf(" %14.1f", gemm_flop / tg / 1e9);
      }
      std::printf("\n");
      std::fflush(stdout);
    }
  }
  std::printf("\nload average at the end: %s\n", loadavg().c_str());
  return 0;
}

}  // namespace qgml::cli
