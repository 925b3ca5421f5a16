// qgml/session.h — one conversation with a model: a KV cache, batched
// evaluation of tokens and the logits they produce.
//
// Several sessions may share one Model (the model is read-only); a single
// session must be used by one thread at a time.
#pragma once
#include <cstdint>
#include <memory>
#include <vector>

#include "qgml/model.h"
#include "qgml/threadpool.h"

namespace qgml {

struct SessionParams {
  int64_t n_ctx = 0;          // 0: the model's training context
  Type kv_type = Type::F16;   // F16 or F32
  int n_threads = 0;          // 0: ThreadPool::default_threads()
  // Generation (one token per eval) picks between n_threads, n_threads/2, ...
  // 1 by measured speed (see ThreadTuner): a machine whose other cores are
  // busy then runs as fast as with fewer threads instead of slower. Off:
  // always n_threads. The environment variable QGML_ADAPTIVE_THREADS=0 turns
  // it off too.
  bool adaptive_threads = true;
};

// Per-layer key and value memory. Keys are stored [head_dim, n_head_kv, n_ctx];
// values transposed, [n_ctx, head_dim, n_head_kv], so that both attention
// products read contiguous rows.
struct KvCache {
  Context ctx{true};
  std::vector<Tensor*> k, v;
  int64_t n_ctx = 0;
  int64_t n_past = 0;  // positions filled
};

class Session {
 public:
  Session(const Model& model, const SessionParams& params);
  ~Session();

  // Appends `tokens` at the current position and runs them through the model
  // in one graph. Returns logits for the last token, or for every token when
  // all_logits (row i holds token i's n_vocab logits). Throws qgml::Error when
  // the context would overflow or a token id is out of range.
  const std::vector<float>& eval(const std::vector<int32_t>& tokens, bool all_logits = false);

  // Forgets everything from position `n_past` on (0 clears the cache).
  void rewind(int64_t n_past);

  int64_t n_past() const { return cache_.n_past; }
  int64_t n_ctx() const { return cache_.n_ctx; }
  const Model& model() const { return model_; }
  const std::vector<float>& logits() const { return logits_; }
  // Threads one-token steps use now (the tuner's current choice when adaptive).
  int generation_threads() const { return tuner_ != nullptr ? tuner_->best() : pool_->size(); }

 private:
  const Model& model_;
  KvCache cache_;
  std::unique_ptr<ThreadPool> pool_;
  std::unique_ptr<ThreadTuner> tuner_;  // null: fixed thread count
  std::vector<float> logits_;
};

}  // namespace qgml
