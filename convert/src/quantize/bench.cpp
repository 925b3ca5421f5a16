// bench_linalg (qgml/quantize.h): the FMA peak and the Hessian accumulation,
// by wall clock and by thread CPU time.
#include <time.h>

#include <chrono>
#include <vector>

#include "linalg.h"
#include "qgml/quantize.h"

namespace qgml::quantize {
namespace {

double thread_cpu() {
  timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + 1e-9 * static_cast<double>(ts.tv_nsec);
}
double wall() { return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count(); }

template <typename Fn>
void timed(double seconds, Fn&& fn, double flops_per_call, double* gw, double* gc) {
  fn();  // warm-up: packing buffers, caches
  int64_t calls = 0;
  const double w0 = wall(), c0 = thread_cpu();
  do {
    fn();
    ++calls;
  } while (wall() - w0 < seconds);
  *gw = flops_per_call * static_cast<double>(calls) / (wall() - w0) * 1e-9;
  *gc = flops_per_call * static_cast<double>(calls) / (thread_cpu() - c0) * 1e-9;
}

}  // namespace

LinalgBench bench_linalg(int64_t n, int64_t t, double seconds) {
  LinalgBench b{};
  b.kernel = linalg::gemm_kernel_name();
  const double c0 = thread_cpu(), w0 = wall();
  const double g = linalg::measure_peak_gflops(seconds);
  const double cw = thread_cpu() - c0, ww = wall() - w0;
  b.peak_gflops_wall = g;
  b.peak_gflops_cpu = g * (cw > 0 ? ww / cw : 1.0);  // measure_peak_gflops times its last run only; scaled by the CPU share
  std::vector<float> X(static_cast<size_t>(n * t)), C(static_cast<size_t>(n * n), 0.0f);
  for (size_t i = 0; i < X.size(); ++i) X[i] = static_cast<float>(i % 97) * 0.01f - 0.4f;
  timed(seconds, [&] { linalg::syrk_upper(n, t, 1e-3f, X.data(), n, C.data(), n, nullptr); },
        static_cast<double>(t) * static_cast<double>(n) * static_cast<double>(n + 1), &b.syrk_gflops_wall, &b.syrk_gflops_cpu);
  return b;
}

}  // namespace qgml::quantize
