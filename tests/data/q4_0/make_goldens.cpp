// Writes llama.cpp's own Q4_0/Q4_1/Q8_0 encodings of fixed inputs (goldens for qgml's tests).
#include <cmath>
#include <cstdio>
#include <cstdint>
#include <random>
#include <vector>
#include "ggml.h"
int main(int argc, char** argv) {
  const char* dir = argc > 1 ? argv[1] : ".";
  const int K = 64;
  std::vector<std::vector<float>> rows;
  std::mt19937 rng(20261122);
  std::normal_distribution<float> nd(0.0f, 1.0f);
  std::uniform_real_distribution<float> ud(-1.0f, 1.0f);
  auto row = [&](auto f) { std::vector<float> r(K); for (int j = 0; j < K; ++j) r[j] = f(j); rows.push_back(r); };
  for (int i = 0; i < 8; ++i) { float s = std::pow(10.0f, (float)(i - 4)); row([&](int) { return s * nd(rng); }); }
  for (int i = 0; i < 4; ++i) row([&](int) { return 0.02f * ud(rng); });
  row([&](int) { return 0.0f; });                                         // zeros
  row([&](int j) { return j % 32 == 0 ? -8.0f : (float)((j % 17) - 8) + 0.5f; });  // d = 1: exact .5 ties
  row([&](int j) { return j % 32 == 5 ? 8.0f : 0.5f * (float)((j % 33) - 16); });  // positive max, halves
  row([&](int j) { return j % 32 == 3 ? -3.0f : 0.3f * nd(rng); });       // negative max
  row([&](int) { return 1e-40f * nd(rng); });                              // f32 denormals
  row([&](int) { return 1e-6f * nd(rng); });                               // d is an f16 subnormal
  row([&](int j) { return j < 32 ? 1.25f : -0.75f; });                     // constant blocks (q4_1 d = 0)
  row([&](int j) { return j % 2 ? 7.0f : -7.0f; });                        // |max| ties: first wins
  row([&](int) { return 1000.0f * nd(rng); });                             // large
  row([&](int j) { return (float)(j % 32) / 31.0f * 15.0f - 3.0f; });     // q4_1 exact ramp
  row([&](int j) { return j % 32 == 7 ? 100.0f : 1e-3f * nd(rng); });    // one outlier
  row([&](int j) { return (float)((j * 37) % 255 - 127) / 127.0f; });   // q8_0 ties
  const int n = (int)rows.size();
  std::vector<float> in;
  for (auto& r : rows) in.insert(in.end(), r.begin(), r.end());
  auto put = [&](const char* name, const void* p, size_t bytes) {
    std::string path = std::string(dir) + "/" + name;
    FILE* f = std::fopen(path.c_str(), "wb"); std::fwrite(p, 1, bytes, f); std::fclose(f);
  };
  put("input_f32.bin", in.data(), in.size() * 4);
  const ggml_type types[3] = {GGML_TYPE_Q4_0, GGML_TYPE_Q4_1, GGML_TYPE_Q8_0};
  const char* names[3] = {"q4_0.bin", "q4_1.bin", "q8_0.bin"};
  for (int t = 0; t < 3; ++t) {
    std::vector<uint8_t> out(ggml_row_size(types[t], K) * n);
    const size_t sz = ggml_quantize_chunk(types[t], in.data(), out.data(), 0, n, K, nullptr);
    put(names[t], out.data(), sz);
    std::printf("%s: %zu bytes (%d rows of %d)\n", names[t], sz, n, K);
  }
}
