#include "qgml/session.h"

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <cstring>

#include "arch/arch.h"
#include "qgml/error.h"
#include "qgml/graph.h"

namespace qgml {

Session::Session(const Model& model, const SessionParams& params) : model_(model) {
  const HParams& hp = model.hparams();
  if (params.kv_type != Type::F16 && params.kv_type != Type::F32) fail("KV cache type must be f16 or f32");
  cache_.n_ctx = params.n_ctx > 0 ? params.n_ctx : hp.n_ctx_train;
  if (cache_.n_ctx <= 0 || cache_.n_ctx > (int64_t{1} << 24)) fail("invalid context size %lld", static_cast<long long>(cache_.n_ctx));
  for (int64_t l = 0; l < hp.n_layer; ++l) {
    cache_.k.push_back(cache_.ctx.new_tensor_3d(params.kv_type, hp.head_dim, hp.n_head_kv, cache_.n_ctx));
    cache_.v.push_back(cache_.ctx.new_tensor_3d(params.kv_type, cache_.n_ctx, hp.head_dim, hp.n_head_kv));
  }
  pool_.reset(new ThreadPool(params.n_threads > 0 ? params.n_threads : ThreadPool::default_threads()));
  const char* env = std::getenv("QGML_ADAPTIVE_THREADS");
  const bool adaptive = params.adaptive_threads && !(env != nullptr && std::strcmp(env, "0") == 0);
  if (adaptive && pool_->size() > 1) tuner_.reset(new ThreadTuner(pool_->size()));
}

Session::~Session() = default;

void Session::rewind(int64_t n_past) {
  if (n_past < 0 || n_past > cache_.n_past) fail("cannot rewind to position %lld", static_cast<long long>(n_past));
  cache_.n_past = n_past;
}

const std::vector<float>& Session::eval(const std::vector<int32_t>& tokens, bool all_logits) {
  const HParams& hp = model_.hparams();
  const int64_t n = static_cast<int64_t>(tokens.size());
  if (n == 0) fail("eval: no tokens");
  if (cache_.n_past + n > cache_.n_ctx)
    fail("context is full: %lld + %lld tokens exceed n_ctx = %lld", static_cast<long long>(cache_.n_past),
         static_cast<long long>(n), static_cast<long long>(cache_.n_ctx));
  for (int32_t t : tokens)
    if (t < 0 || t >= hp.n_vocab) fail("token id %d is outside the vocabulary (%lld)", t, static_cast<long long>(hp.n_vocab));

  Context ctx(true);
  BatchInputs in;
  in.n = n;
  in.all_logits = all_logits;
  in.tokens = ctx.new_tensor_1d(Type::I32, n);
  in.positions = ctx.new_tensor_1d(Type::I32, n);
  std::memcpy(in.tokens->data, tokens.data(), tokens.size() * sizeof(int32_t));
  int32_t* pos = static_cast<int32_t*>(in.positions->data);
  for (int64_t i = 0; i < n; ++i) pos[i] = static_cast<int32_t>(cache_.n_past + i);

  Graph graph;
  Tensor* logits = model_.arch().build(model_, ctx, graph, cache_, in);
  graph.add_output(logits);
  // Prompts (many tokens) always use every thread: their ops are long, so a
  // late thread costs a small fraction; one-token steps are tuned.
  if (tuner_ != nullptr && n == 1) {
    const int nth = tuner_->pick();
    const auto t0 = std::chrono::steady_clock::now();
    graph.compute(*pool_, nth);
    tuner_->record(nth, std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  } else {
    graph.compute(*pool_);
  }

  const int64_t rows = logits->ne[1];
  logits_.resize(static_cast<size_t>(rows * hp.n_vocab));
  for (int64_t r = 0; r < rows; ++r)
    std::memcpy(&logits_[static_cast<size_t>(r * hp.n_vocab)], logits->row(r), static_cast<size_t>(hp.n_vocab) * sizeof(float));
  cache_.n_past += n;
  return logits_;
}

}  // namespace qgml
