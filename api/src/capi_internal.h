// What the C API's handles are, and the one place where C++ exceptions become
// qg_status codes. Private to api/src.
#pragma once
#include <atomic>
#include <cstdint>
#include <memory>
#include <new>
#include <stdexcept>
#include <string>
#include <vector>

#include "qgml.h"
#include "qgml/error.h"
#include "qgml/model.h"
#include "qgml/sampling.h"
#include "qgml/session.h"

struct qg_model {
  std::unique_ptr<qgml::Model> model;
  qg_model_params params{};
};

struct qg_context {
  qg_model* model = nullptr;
  std::unique_ptr<qgml::Session> session;
  qg_context_params params{};
  // Every token in the KV cache, so that streamed text can be decoded with
  // what precedes it (the tokenizer's spacing depends on the left context).
  std::vector<int32_t> history;
  int64_t logit_rows = 0;  // rows of session->logits() that belong to the current state
  std::atomic<bool> cancel{false};
};

struct qg_sampler {
  qgml::SamplerParams params;
  std::unique_ptr<qgml::Sampler> sampler;
};

namespace qgml::capi {

// A failure with a known code; thrown inside the API, caught by guard().
class ApiError : public std::runtime_error {
 public:
  ApiError(qg_status s, const std::string& what) : std::runtime_error(what), status(s) {}
  qg_status status;
};

// Records `message` as this thread's last error and returns `s`. Never throws.
qg_status set_error(qg_status s, const char* message) noexcept;

[[noreturn]] void throw_status(qg_status s, const char* fmt, ...) __attribute__((format(printf, 2, 3)));

// Throws QG_ERR_INVALID_ARGUMENT naming the argument when a pointer is null.
inline void require_ptr(const void* p, const char* what) {
  if (p == nullptr) throw_status(QG_ERR_INVALID_ARGUMENT, "%s must not be NULL", what);
}

// Runs f (returning qg_status) and turns every exception into a code and a
// message. qgml::Error is the library reporting bad input or state; which code
// fits depends on the call, so the caller names it.
template <class F>
qg_status guard(qg_status on_qgml_error, F&& f) noexcept {
  try {
    return f();
  } catch (const ApiError& e) {
    return set_error(e.status, e.what());
  } catch (const qgml::Error& e) {
    return set_error(on_qgml_error, e.what());
  } catch (const std::bad_alloc&) {
    return set_error(QG_ERR_OUT_OF_MEMORY, "out of memory");
  } catch (const std::exception& e) {
    return set_error(QG_ERR_INTERNAL, e.what());
  } catch (...) {
    return set_error(QG_ERR_INTERNAL, "unknown exception");
  }
}

// The checks qg_eval and qg_generate share, so both fail the same way before
// anything is touched.
void check_tokens(const qg_context& ctx, const int32_t* tokens, int64_t n);

// Evaluates tokens, keeps history and logit rows in step with the session.
void eval_tokens(qg_context& ctx, const std::vector<int32_t>& tokens, bool all_logits);

// Row i (negative: from the end) of the context's logits; throws ApiError.
const float* logits_row(const qg_context& ctx, int32_t i);

}  // namespace qgml::capi
