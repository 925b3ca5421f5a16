// C API: contexts (a Session and the bookkeeping around it), evaluation,
// logits and samplers.
#include "capi_internal.h"
#include "qgml/threadpool.h"

namespace qgml::capi {

// Threads beyond this are a caller's mistake (a garbage value), not a machine.
constexpr int32_t kMaxThreads = 1024;

void check_tokens(const qg_context& ctx, const int32_t* tokens, int64_t n) {
  const int64_t n_vocab = ctx.model->model->hparams().n_vocab;
  for (int64_t i = 0; i < n; ++i)
    if (tokens[i] < 0 || tokens[i] >= n_vocab)
      throw_status(QG_ERR_TOKEN_RANGE, "token %lld: id %d is outside the vocabulary (%lld)", static_cast<long long>(i),
                   tokens[i], static_cast<long long>(n_vocab));
  const int64_t n_past = ctx.session->n_past(), n_ctx = ctx.session->n_ctx();
  if (n_past + n > n_ctx)
    throw_status(QG_ERR_CONTEXT_FULL, "context is full: %lld + %lld tokens exceed n_ctx = %lld",
                 static_cast<long long>(n_past), static_cast<long long>(n), static_cast<long long>(n_ctx));
}

void eval_tokens(qg_context& ctx, const std::vector<int32_t>& tokens, bool all_logits) {
  check_tokens(ctx, tokens.data(), static_cast<int64_t>(tokens.size()));
  ctx.logit_rows = 0;  // a failed evaluation leaves no logits to read
  const std::vector<float>& logits = ctx.session->eval(tokens, all_logits);
  ctx.history.insert(ctx.history.end(), tokens.begin(), tokens.end());
  ctx.logit_rows = static_cast<int64_t>(logits.size()) / ctx.model->model->hparams().n_vocab;
}

const float* logits_row(const qg_context& ctx, int32_t i) {
  if (ctx.logit_rows == 0) throw_status(QG_ERR_INVALID_ARGUMENT, "no logits: evaluate tokens first");
  const int64_t row = i < 0 ? ctx.logit_rows + i : i;
  if (row < 0 || row >= ctx.logit_rows)
    throw_status(QG_ERR_INVALID_ARGUMENT, "logits row %d is out of range (the last evaluation kept %lld)", i,
                 static_cast<long long>(ctx.logit_rows));
  return ctx.session->logits().data() + row * ctx.model->model->hparams().n_vocab;
}

}  // namespace qgml::capi

using namespace qgml::capi;

extern "C" {

qg_context_params qg_context_default_params(void) {
  qg_context_params p;
  p.n_ctx = 0;
  p.n_batch = 512;
  p.n_threads = 0;
  p.kv_f32 = 0;
  p.seed = 0;
  return p;
}

qg_status qg_context_new(qg_model* model, const qg_context_params* params, qg_context** out) {
  return guard(QG_ERR_INVALID_ARGUMENT, [&] {
    require_ptr(model, "model");
    require_ptr(out, "out");
    const qg_context_params p = params != nullptr ? *params : qg_context_default_params();
    if (p.n_ctx < 0) throw_status(QG_ERR_INVALID_ARGUMENT, "n_ctx must be >= 0, got %d", p.n_ctx);
    if (p.n_batch <= 0) throw_status(QG_ERR_INVALID_ARGUMENT, "n_batch must be > 0, got %d", p.n_batch);
    if (p.n_threads < 0 || p.n_threads > kMaxThreads)
      throw_status(QG_ERR_INVALID_ARGUMENT, "n_threads must be in [0, %d], got %d", kMaxThreads, p.n_threads);
    qgml::SessionParams sp;
    sp.n_ctx = p.n_ctx;
    sp.kv_type = p.kv_f32 ? qgml::Type::F32 : qgml::Type::F16;
    sp.n_threads = p.n_threads > 0 ? p.n_threads : model->params.n_threads;
    if (sp.n_threads > kMaxThreads) sp.n_threads = kMaxThreads;
    std::unique_ptr<qg_context> c(new qg_context());
    c->model = model;
    c->params = p;
    c->session.reset(new qgml::Session(*model->model, sp));  // qgml::Error here: a bad n_ctx
    *out = c.release();
    return QG_OK;
  });
}

void qg_context_free(qg_context* ctx) { delete ctx; }

int32_t qg_context_n_ctx(const qg_context* ctx) {
  return ctx != nullptr ? static_cast<int32_t>(ctx->session->n_ctx()) : 0;
}

int32_t qg_context_n_past(const qg_context* ctx) {
  return ctx != nullptr ? static_cast<int32_t>(ctx->session->n_past()) : 0;
}

qg_status qg_context_rewind(qg_context* ctx, int32_t n_past) {
  return guard(QG_ERR_INVALID_ARGUMENT, [&] {
    require_ptr(ctx, "ctx");
    if (n_past < 0 || n_past > ctx->session->n_past())
      throw_status(QG_ERR_INVALID_ARGUMENT, "cannot rewind to position %d (the context holds %lld)", n_past,
                   static_cast<long long>(ctx->session->n_past()));
    ctx->session->rewind(n_past);
    ctx->history.resize(static_cast<size_t>(n_past));
    ctx->logit_rows = 0;
    return QG_OK;
  });
}

qg_status qg_eval(qg_context* ctx, const int32_t* tokens, int32_t n_tokens, int all_logits) {
  return guard(QG_ERR_INTERNAL, [&] {
    require_ptr(ctx, "ctx");
    require_ptr(tokens, "tokens");
    if (n_tokens <= 0) throw_status(QG_ERR_INVALID_ARGUMENT, "n_tokens must be > 0, got %d", n_tokens);
    eval_tokens(*ctx, std::vector<int32_t>(tokens, tokens + n_tokens), all_logits != 0);
    return QG_OK;
  });
}

const float* qg_get_logits(const qg_context* ctx, int32_t i) {
  const float* row = nullptr;
  const qg_status s = guard(QG_ERR_INTERNAL, [&] {
    require_ptr(ctx, "ctx");
    row = logits_row(*ctx, i);
    return QG_OK;
  });
  return s == QG_OK ? row : nullptr;
}

void qg_context_cancel(qg_context* ctx) {
  if (ctx != nullptr) ctx->cancel.store(true);
}

qg_sampler_params qg_sampler_default_params(void) {
  const qgml::SamplerParams d;  // one source of truth for the defaults: `qgml run` uses the same struct
  qg_sampler_params p;
  p.temp = d.temp;
  p.top_k = d.top_k;
  p.top_p = d.top_p;
  p.min_p = d.min_p;
  p.repeat_penalty = d.repeat_penalty;
  p.repeat_last_n = d.repeat_last_n;
  p.seed = d.seed;
  return p;
}

qg_status qg_sampler_new(const qg_sampler_params* params, qg_sampler** out) {
  return guard(QG_ERR_INVALID_ARGUMENT, [&] {
    require_ptr(params, "params");
    require_ptr(out, "out");
    // NaN fails every comparison, so these are written to reject it too.
    if (!(params->repeat_penalty > 0))
      throw_status(QG_ERR_INVALID_ARGUMENT, "repeat_penalty must be > 0, got %g", static_cast<double>(params->repeat_penalty));
    if (!(params->temp == params->temp) || !(params->top_p == params->top_p) || !(params->min_p == params->min_p))
      throw_status(QG_ERR_INVALID_ARGUMENT, "temp, top_p and min_p must be numbers");
    std::unique_ptr<qg_sampler> s(new qg_sampler());
    s->params.temp = params->temp;
    s->params.top_k = params->top_k;
    s->params.top_p = params->top_p;
    s->params.min_p = params->min_p;
    s->params.repeat_penalty = params->repeat_penalty;
    s->params.repeat_last_n = params->repeat_last_n;
    s->params.seed = params->seed;
    s->sampler.reset(new qgml::Sampler(s->params));
    *out = s.release();
    return QG_OK;
  });
}

void qg_sampler_free(qg_sampler* sampler) { delete sampler; }

void qg_sampler_reset(qg_sampler* sampler) {
  if (sampler == nullptr) return;
  guard(QG_ERR_INTERNAL, [&] {
    sampler->sampler.reset(new qgml::Sampler(sampler->params));
    return QG_OK;
  });
}

qg_status qg_sampler_sample(qg_sampler* sampler, const qg_context* ctx, int32_t i, int32_t* token) {
  return guard(QG_ERR_INTERNAL, [&] {
    require_ptr(sampler, "sampler");
    require_ptr(ctx, "ctx");
    require_ptr(token, "token");
    const float* row = logits_row(*ctx, i);
    *token = sampler->sampler->sample(row, ctx->model->model->hparams().n_vocab);
    return QG_OK;
  });
}

void qg_sampler_accept(qg_sampler* sampler, int32_t token) {
  if (sampler == nullptr) return;
  guard(QG_ERR_INTERNAL, [&] {
    sampler->sampler->accept(token);
    return QG_OK;
  });
}

}  // extern "C"
