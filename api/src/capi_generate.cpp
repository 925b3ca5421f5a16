// C API: streaming generation, the loop of `qgml run` behind a callback, with
// cancellation checked between prompt batches and between tokens.
#include <algorithm>

#include "capi_internal.h"
#include "qgml/tokenizer.h"

namespace qgml::capi {
namespace {

// Tokens of left context decoded in front of the new text: enough for the
// tokenizer's spacing rules, cheap enough to decode once per token.
constexpr size_t kLeftContext = 8;

// A request made while no generation runs stops the next one, so a watchdog
// that fires before qg_generate starts is not lost; exchange() consumes it.
bool cancelled(qg_context& ctx) { return ctx.cancel.exchange(false); }

qg_status generate(qg_context& ctx, const char* prompt, const qg_generate_params& p, qg_sampler* user_sampler,
                   qg_token_callback callback, void* user_data, qg_generate_result& result) {
  const Model& model = *ctx.model->model;
  if (!model.has_tokenizer())
    throw_status(QG_ERR_NO_TOKENIZER, "%s: the file has no tokenizer: generate from token ids with qg_eval",
                 model.file().path().c_str());
  const Tokenizer& tok = model.tokenizer();
  Session& session = *ctx.session;

  if (p.keep_context == 0 && session.n_past() > 0) {
    session.rewind(0);
    ctx.history.clear();
    ctx.logit_rows = 0;
  }
  const bool fresh = session.n_past() == 0;
  const bool add_bos = p.add_bos < 0 ? fresh && tok.add_bos_default() : p.add_bos > 0;
  std::vector<int32_t> ids = tok.encode(prompt != nullptr ? prompt : "", add_bos, p.parse_special != 0);
  if (ids.empty() && fresh) {
    // A model needs at least one token to start from.
    if (tok.bos() < 0) throw_status(QG_ERR_INVALID_ARGUMENT, "empty prompt and the vocabulary has no BOS token");
    ids.push_back(tok.bos());
  }
  if (ids.empty() && ctx.logit_rows == 0)
    throw_status(QG_ERR_INVALID_ARGUMENT, "empty prompt and the context has no logits to continue from");
  const int64_t n_ctx = session.n_ctx();
  const int64_t used = session.n_past() + static_cast<int64_t>(ids.size());
  // As `qgml run`: the prompt must leave room for at least one generated token.
  if (used >= n_ctx)
    throw_status(QG_ERR_CONTEXT_FULL, "the prompt has %zu tokens; with %lld already in the context that exceeds n_ctx = %lld",
                 ids.size(), static_cast<long long>(session.n_past()), static_cast<long long>(n_ctx));
  const int64_t room = n_ctx - used;
  const bool limited_by_ctx = p.n_predict < 0 || p.n_predict > room;
  const int64_t n_predict = limited_by_ctx ? room : p.n_predict;

  std::unique_ptr<Sampler> own_sampler;
  Sampler* sampler = user_sampler != nullptr ? user_sampler->sampler.get() : nullptr;
  if (sampler == nullptr) {
    SamplerParams sp;
    sp.seed = ctx.params.seed;
    own_sampler.reset(new Sampler(sp));
    sampler = own_sampler.get();
  }
  for (int32_t t : ids) sampler->accept(t);

  // Streamed text is the growth of a whole decode, as in `qgml run`: the
  // tokenizer's rules for spaces after BOS and for characters spread over
  // several byte tokens then live in one place.
  const size_t left = std::min(kLeftContext, ctx.history.size());
  std::vector<int32_t> text_ids(ctx.history.end() - static_cast<std::ptrdiff_t>(left), ctx.history.end());
  text_ids.insert(text_ids.end(), ids.begin(), ids.end());
  std::string shown = tok.decode(text_ids);

  check_tokens(ctx, ids.data(), static_cast<int64_t>(ids.size()));
  const size_t n_batch = static_cast<size_t>(ctx.params.n_batch);
  for (size_t at = 0; at < ids.size(); at += n_batch) {
    if (cancelled(ctx)) {
      result.stop_reason = QG_STOP_CANCELLED;
      return QG_OK;
    }
    const size_t end = std::min(ids.size(), at + n_batch);
    eval_tokens(ctx, std::vector<int32_t>(ids.begin() + static_cast<std::ptrdiff_t>(at),
                                          ids.begin() + static_cast<std::ptrdiff_t>(end)), false);
    result.n_prompt = static_cast<int32_t>(end);
  }

  const int64_t n_vocab = model.hparams().n_vocab;
  for (;;) {
    if (result.n_generated >= n_predict) {
      result.stop_reason = limited_by_ctx ? QG_STOP_CONTEXT_FULL : QG_STOP_N_PREDICT;
      break;
    }
    if (cancelled(ctx)) {
      result.stop_reason = QG_STOP_CANCELLED;
      break;
    }
    const int32_t next = sampler->sample(logits_row(ctx, -1), n_vocab);
    if (tok.is_eog(next) && p.ignore_eos == 0) {
      result.stop_reason = QG_STOP_EOG;
      break;
    }
    sampler->accept(next);
    ++result.n_generated;
    text_ids.push_back(next);
    const std::string text = tok.decode(text_ids);
    std::string piece;
    if (text.size() > shown.size() && text.compare(0, shown.size(), shown) == 0) piece = text.substr(shown.size());
    shown = text;
    // Text first, then the model: the caller sees a token as soon as it exists.
    const bool stop = callback != nullptr && callback(next, piece.data(), piece.size(), user_data) != 0;
    // Every token the caller was given goes into the context (n_predict never
    // exceeds the room left), so keep_context continues exactly after it.
    eval_tokens(ctx, {next}, false);
    if (stop) {
      result.stop_reason = QG_STOP_CALLBACK;
      break;
    }
  }
  return QG_OK;
}

}  // namespace
}  // namespace qgml::capi

using namespace qgml::capi;

extern "C" {

qg_generate_params qg_generate_default_params(void) {
  qg_generate_params p;
  p.n_predict = 128;
  p.add_bos = -1;
  p.parse_special = 1;
  p.ignore_eos = 0;
  p.keep_context = 0;
  return p;
}

qg_status qg_generate(qg_context* ctx, const char* prompt, const qg_generate_params* params, qg_sampler* sampler,
                      qg_token_callback callback, void* user_data, qg_generate_result* result) {
  qg_generate_result r{0, 0, QG_STOP_NONE};
  const qg_status s = guard(QG_ERR_INTERNAL, [&] {
    require_ptr(ctx, "ctx");
    const qg_generate_params p = params != nullptr ? *params : qg_generate_default_params();
    return generate(*ctx, prompt, p, sampler, callback, user_data, r);
  });
  if (result != nullptr) *result = r;
  return s;
}

}  // extern "C"
