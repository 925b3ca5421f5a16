// The tiling shared by every level's quantized kernels: a kernel class K
// provides
//   template <int R, int C> static void tile(int64_t k, const uint8_t* w, size_t w_stride,
//                                            const uint8_t* const* act, float* out, int64_t ldo);
// computing R weight rows × C activation rows, and gets vec_dot and gemm from
// it. Each (r, c) result's float operations are the same in every tile shape
// (kernels keep one accumulator per pair and update it group by group), so
// R and C change speed only, never results.
#pragma once
#include <cstddef>
#include <cstdint>
#include <type_traits>
#include <vector>

namespace qgml {

// Matrix-vector: one row at a time. Measured on the AMD EPYC dev machine,
// walking 2, 4 or 8 neighbouring rows at once (sharing activation loads)
// streamed weights from DRAM 25-45% slower than a single sequential stream
// with software prefetch (kPrefetchBytes ahead), although it computes faster
// from cache: one stream jumping to and fro within a page. Kernels that walk
// rows from far-apart parts of the matrix instead use matvec_streams.
// Otherwise: C activation rows share each unpacked weight block.
constexpr int kTileRows = 1;
constexpr int kTileCols = 4;
// How far ahead of the current block matrix-vector kernels prefetch weights.
constexpr int kPrefetchBytes = 2048;

// Matrix-vector kernels that walk kMatvecStreams rows at once, block by
// block, each row from a different part of the matrix (rows far apart, in
// different pages), let the hardware prefetcher run one stream per row:
// together they keep more reads in flight than one sequential stream with
// software prefetch can. Measured on the AMD EPYC dev machine (`qgml bench
// --kernels --type gptq4_g128 -t 1`, 320 MB): 1 stream 77-80 % of the plain
// read loop, 2 streams 82-89 %, 3: 90-93 %, 4: 92-104 %, 8: 80-94 %. With 4
// streams, software prefetch kStreamPrefetchBytes ahead of each is best
// (1024-1536: 92-104 %, 768: 92-98 %, 512: 90 %). Kernels bound by compute
// rather than by memory gain little (Q4_0: +2-5 %) or lose (the NF4 code-book
// kernel, 3-8 % slower as 4 streams, walks one row at a time).
constexpr int kMatvecStreams = 4;
constexpr int kStreamPrefetchBytes = 1024;

// f(streams, r, part) over nr rows for one activation row: streams a
// std::integral_constant of kMatvecStreams, walking rows r, r + part, r +
// 2·part, ... (results part apart), for r < part = nr / kMatvecStreams;
// then streams = 1 for each row left (part = 1).
template <typename F>
void matvec_streams(int64_t nr, const F& f) {
  const int64_t part = nr / kMatvecStreams;
  for (int64_t r = 0; r < part; ++r) f(std::integral_constant<int, kMatvecStreams>{}, r, part);
  for (int64_t r = part * kMatvecStreams; r < nr; ++r) f(std::integral_constant<int, 1>{}, r, int64_t(1));
}

template <class K>
void gemm_tiles(int64_t k, const void* w, size_t ws, int64_t nr, const void* a, size_t as, int64_t nc, float* out,
                int64_t ldo) {
  const uint8_t* W = static_cast<const uint8_t*>(w);
  const uint8_t* A = static_cast<const uint8_t*>(a);
  if (nc == 1) {
    int64_t r = 0;
    if constexpr (kTileRows > 1)
      for (; r + kTileRows <= nr; r += kTileRows) K::template tile<kTileRows, 1>(k, W + r * ws, ws, &A, out + r, ldo);
    for (; r < nr; ++r) K::template tile<1, 1>(k, W + r * ws, ws, &A, out + r, ldo);
    return;
  }
  for (int64_t r = 0; r < nr; ++r) {
    int64_t c = 0;
    for (; c + kTileCols <= nc; c += kTileCols) {
      const uint8_t* ap[kTileCols];
      for (int j = 0; j < kTileCols; ++j) ap[j] = A + (c + j) * as;
      K::template tile<1, kTileCols>(k, W + r * ws, ws, ap, out + c * ldo + r, ldo);
    }
    for (; c < nc; ++c) {
      const uint8_t* ap = A + c * as;
      K::template tile<1, 1>(k, W + r * ws, ws, &ap, out + c * ldo + r, ldo);
    }
  }
}

// The walk of gemm_tiles for kernels that prepare their activation rows once
// per call (widened, rearranged, with per-batch sums): f(cols, r, c) with
// cols a std::integral_constant of kTileCols (then 1 for the columns left),
// for weight row r and first activation column c.
template <typename F>
void for_each_tile(int64_t nr, int64_t nc, const F& f) {
  for (int64_t r = 0; r < nr; ++r) {
    int64_t c = 0;
    for (; c + kTileCols <= nc; c += kTileCols) f(std::integral_constant<int, kTileCols>{}, r, c);
    for (; c < nc; ++c) f(std::integral_constant<int, 1>{}, r, c);
  }
}

// n elements of the calling thread's own buffer for T (grown, never shrunk),
// valid until the thread's next call for the same T: where those kernels
// put what they prepare.
template <typename T>
T* thread_scratch(size_t n) {
  thread_local std::vector<T> buf;
  if (buf.size() < n) buf.resize(n);
  return buf.data();
}

namespace detail {
template <int R, typename F>
void last_row_tile(int64_t rows, int64_t first, const F& f) {
  if constexpr (R > 0) {
    if (rows == R) {
      f(std::integral_constant<int, R>{}, first);
    } else {
      last_row_tile<R - 1>(rows, first, f);
    }
  }
}
}  // namespace detail

// f(std::integral_constant<int, R>{}, first_row) over m rows: tiles of kMax
// rows, then one of the 1 .. kMax−1 left, for kernels that keep R rows of
// accumulators in registers (math.gemm_nn).
template <int kMax, typename F>
void for_row_tiles(int64_t m, const F& f) {
  int64_t r = 0;
  for (; r + kMax <= m; r += kMax) f(std::integral_constant<int, kMax>{}, r);
  if (r < m) detail::last_row_tile<kMax - 1>(m - r, r, f);
}

template <class K>
float vec_dot_tile(int64_t k, const void* w, const void* a) {
  const uint8_t* ap = static_cast<const uint8_t*>(a);
  float out = 0.0f;
  K::template tile<1, 1>(k, static_cast<const uint8_t*>(w), 0, &ap, &out, 1);
  return out;
}

}  // namespace qgml
