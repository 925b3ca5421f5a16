// C API: errors, version, models, metadata and the tokenizer.
#include <sys/stat.h>

#include <cerrno>
#include <cstdarg>
#include <cstdio>
#include <cstring>

#include "capi_internal.h"
#include "qgml/gguf.h"
#include "qgml/tokenizer.h"

#ifndef QGML_VERSION_STRING
#error "QGML_VERSION_STRING must come from the build (the project version)"
#endif

namespace qgml::capi {
namespace {

thread_local std::string t_last_error;

// Copies `text` into a caller's buffer under the rules of qg_model_meta_string.
qg_status copy_out(const std::string& text, char* buf, size_t buf_size, size_t* len) {
  if (len != nullptr) *len = text.size();
  if (buf == nullptr && buf_size != 0) throw_status(QG_ERR_INVALID_ARGUMENT, "buf is NULL but buf_size is %zu", buf_size);
  if (buf_size < text.size() + 1)
    throw_status(QG_ERR_BUFFER_TOO_SMALL, "the result needs %zu bytes (with the NUL), the buffer has %zu", text.size() + 1,
          buf_size);
  std::memcpy(buf, text.data(), text.size());
  buf[text.size()] = '\0';
  return QG_OK;
}

const Tokenizer& tokenizer_of(const qg_model* model) {
  require_ptr(model, "model");
  if (!model->model->has_tokenizer())
    throw_status(QG_ERR_NO_TOKENIZER, "%s: the file has no tokenizer (tokenizer.ggml.* metadata)",
          model->model->file().path().c_str());
  return model->model->tokenizer();
}

// Saturates: a C int32_t cannot show more, and no real model comes close.
int32_t to_i32(int64_t v) { return v > INT32_MAX ? INT32_MAX : static_cast<int32_t>(v); }

}  // namespace

qg_status set_error(qg_status s, const char* message) noexcept {
  try {
    t_last_error = message;
  } catch (...) {
    t_last_error.clear();  // no memory for the message: the code still tells the story
  }
  return s;
}

void throw_status(qg_status s, const char* fmt, ...) {
  char buf[1024];
  va_list ap;
  va_start(ap, fmt);
  std::vsnprintf(buf, sizeof buf, fmt, ap);
  va_end(ap);
  throw ApiError(s, buf);
}

}  // namespace qgml::capi

using namespace qgml::capi;

extern "C" {

const char* qg_status_string(qg_status status) {
  switch (status) {
    case QG_OK: return "QG_OK";
    case QG_ERR_INVALID_ARGUMENT: return "QG_ERR_INVALID_ARGUMENT";
    case QG_ERR_IO: return "QG_ERR_IO";
    case QG_ERR_MODEL: return "QG_ERR_MODEL";
    case QG_ERR_CONTEXT_FULL: return "QG_ERR_CONTEXT_FULL";
    case QG_ERR_TOKEN_RANGE: return "QG_ERR_TOKEN_RANGE";
    case QG_ERR_BUFFER_TOO_SMALL: return "QG_ERR_BUFFER_TOO_SMALL";
    case QG_ERR_NOT_FOUND: return "QG_ERR_NOT_FOUND";
    case QG_ERR_NO_TOKENIZER: return "QG_ERR_NO_TOKENIZER";
    case QG_ERR_OUT_OF_MEMORY: return "QG_ERR_OUT_OF_MEMORY";
    case QG_ERR_INTERNAL: return "QG_ERR_INTERNAL";
  }
  return "QG_ERR_UNKNOWN";  // a value from a newer header, or garbage
}

const char* qg_last_error(void) { return t_last_error.c_str(); }

const char* qg_version(void) { return QGML_VERSION_STRING; }

uint32_t qg_version_number(void) {
  return QGML_VERSION_MAJOR * 10000u + QGML_VERSION_MINOR * 100u + QGML_VERSION_PATCH;
}

qg_model_params qg_model_default_params(void) {
  qg_model_params p;
  p.n_threads = 0;
  p.use_mmap = 1;
  p.n_gpu_layers = 0;
  return p;
}

qg_status qg_model_load(const char* path, const qg_model_params* params, qg_model** out) {
  return guard(QG_ERR_MODEL, [&] {
    require_ptr(path, "path");
    require_ptr(out, "out");
    const qg_model_params p = params != nullptr ? *params : qg_model_default_params();
    if (p.n_threads < 0) throw_status(QG_ERR_INVALID_ARGUMENT, "n_threads must be >= 0, got %d", p.n_threads);
    // I/O problems get their own code, so an app can tell "wrong path" from "bad file".
    struct stat st;
    if (::stat(path, &st) != 0) throw_status(QG_ERR_IO, "%s: cannot open: %s", path, std::strerror(errno));
    if (!S_ISREG(st.st_mode)) throw_status(QG_ERR_IO, "%s: not a regular file", path);
    std::unique_ptr<qg_model> m(new qg_model());
    m->model = qgml::Model::load(path, p.use_mmap != 0, p.n_gpu_layers);
    m->params = p;
    *out = m.release();
    return QG_OK;
  });
}

void qg_model_free(qg_model* model) { delete model; }

const char* qg_model_arch(const qg_model* model) {
  return model != nullptr ? model->model->hparams().arch.c_str() : nullptr;
}
int32_t qg_model_n_vocab(const qg_model* model) {
  return model != nullptr ? to_i32(model->model->hparams().n_vocab) : 0;
}
int32_t qg_model_n_ctx_train(const qg_model* model) {
  return model != nullptr ? to_i32(model->model->hparams().n_ctx_train) : 0;
}
int32_t qg_model_n_embd(const qg_model* model) {
  return model != nullptr ? to_i32(model->model->hparams().n_embd) : 0;
}
int32_t qg_model_n_layer(const qg_model* model) {
  return model != nullptr ? to_i32(model->model->hparams().n_layer) : 0;
}
qg_model_params qg_model_get_params(const qg_model* model) {
  return model != nullptr ? model->params : qg_model_default_params();
}

qg_status qg_model_meta_string(const qg_model* model, const char* key, char* buf, size_t buf_size, size_t* len) {
  return guard(QG_ERR_INTERNAL, [&] {
    require_ptr(model, "model");
    require_ptr(key, "key");
    const qgml::gguf::Value* v = model->model->file().find(key);
    if (v == nullptr) throw_status(QG_ERR_NOT_FOUND, "no metadata key '%s'", key);
    // Strings as stored: to_string() quotes and escapes them for display.
    return copy_out(v->type == qgml::gguf::ValueType::STRING ? v->str : v->to_string(), buf, buf_size, len);
  });
}

int32_t qg_model_meta_count(const qg_model* model) {
  return model != nullptr ? to_i32(static_cast<int64_t>(model->model->file().metadata().size())) : 0;
}

const char* qg_model_meta_key(const qg_model* model, int32_t i) {
  if (model == nullptr || i < 0) return nullptr;
  const auto& kv = model->model->file().metadata();
  return static_cast<size_t>(i) < kv.size() ? kv[static_cast<size_t>(i)].key.c_str() : nullptr;
}

qg_status qg_tokenize(const qg_model* model, const char* text, size_t text_len, int32_t* tokens, int32_t max_tokens,
                      int32_t* n_tokens, int add_special, int parse_special) {
  return guard(QG_ERR_INTERNAL, [&] {
    const qgml::Tokenizer& tok = tokenizer_of(model);
    require_ptr(n_tokens, "n_tokens");
    if (text == nullptr && text_len != 0) throw_status(QG_ERR_INVALID_ARGUMENT, "text is NULL but text_len is %zu", text_len);
    if (max_tokens < 0) throw_status(QG_ERR_INVALID_ARGUMENT, "max_tokens must be >= 0, got %d", max_tokens);
    if (tokens == nullptr && max_tokens != 0) throw_status(QG_ERR_INVALID_ARGUMENT, "tokens is NULL but max_tokens is %d", max_tokens);
    const std::vector<int32_t> ids =
        tok.encode(std::string(text != nullptr ? text : "", text_len), add_special != 0, parse_special != 0);
    if (ids.size() > static_cast<size_t>(INT32_MAX)) throw_status(QG_ERR_INVALID_ARGUMENT, "the text has too many tokens");
    *n_tokens = static_cast<int32_t>(ids.size());
    if (ids.size() > static_cast<size_t>(max_tokens))
      throw_status(QG_ERR_BUFFER_TOO_SMALL, "the text has %zu tokens, the buffer holds %d", ids.size(), max_tokens);
    if (!ids.empty()) std::memcpy(tokens, ids.data(), ids.size() * sizeof(int32_t));
    return QG_OK;
  });
}

qg_status qg_detokenize(const qg_model* model, const int32_t* tokens, int32_t n_tokens, char* buf, size_t buf_size,
                        size_t* len, int render_special) {
  return guard(QG_ERR_INTERNAL, [&] {
    const qgml::Tokenizer& tok = tokenizer_of(model);
    if (n_tokens < 0) throw_status(QG_ERR_INVALID_ARGUMENT, "n_tokens must be >= 0, got %d", n_tokens);
    if (tokens == nullptr && n_tokens != 0) throw_status(QG_ERR_INVALID_ARGUMENT, "tokens is NULL but n_tokens is %d", n_tokens);
    const std::vector<int32_t> ids(tokens, tokens + n_tokens);
    for (int32_t t : ids)
      if (t < 0 || t >= tok.n_vocab()) throw_status(QG_ERR_TOKEN_RANGE, "token id %d is outside the vocabulary (%d)", t, tok.n_vocab());
    return copy_out(tok.decode(ids, render_special != 0), buf, buf_size, len);
  });
}

int32_t qg_token_bos(const qg_model* model) {
  return model != nullptr && model->model->has_tokenizer() ? model->model->tokenizer().bos() : -1;
}
int32_t qg_token_eos(const qg_model* model) {
  return model != nullptr && model->model->has_tokenizer() ? model->model->tokenizer().eos() : -1;
}
int qg_token_is_eog(const qg_model* model, int32_t token) {
  if (model == nullptr || !model->model->has_tokenizer()) return 0;
  const qgml::Tokenizer& tok = model->model->tokenizer();
  return token >= 0 && token < tok.n_vocab() && tok.is_eog(token) ? 1 : 0;
}

}  // extern "C"
