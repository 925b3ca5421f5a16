/* qgml.h — the stable C API of qgml (libqgml.so.0, libqgml.a).
 *
 * Usable from C99, C++, Swift, Rust and any FFI: only C types cross this
 * boundary, no C++ exception ever escapes (every failure is a qg_status code
 * plus a message from qg_last_error()), and every object is an opaque handle
 * created by a qg_*_new / qg_*_load function and released by its qg_*_free.
 *
 * Conventions, true of every function unless its comment says otherwise:
 *  - Functions returning qg_status set *out parameters only on QG_OK.
 *  - On failure they record a message readable with qg_last_error() on the
 *    same thread; they never abort the process.
 *  - Strings passed in are NUL-terminated UTF-8 (or arbitrary bytes where a
 *    length is given) and are only read during the call: the caller keeps
 *    ownership. Strings returned as `const char*` are owned by the library;
 *    their lifetime is stated per function.
 *  - Thread-safety: a qg_model is immutable once loaded; every function taking
 *    a `const qg_model*` may run concurrently from any number of threads. A
 *    qg_context or qg_sampler must be used by one thread at a time (several
 *    contexts over one model may run in parallel), except qg_context_cancel(),
 *    which any thread may call at any time.
 *  - A model must outlive every context created from it.
 *
 * Quick start:
 *   qg_model* m; qg_context* c;
 *   qg_model_params mp = qg_model_default_params();
 *   if (qg_model_load("model.gguf", &mp, &m) != QG_OK) puts(qg_last_error());
 *   qg_context_params cp = qg_context_default_params();
 *   qg_context_new(m, &cp, &c);
 *   qg_generate_params gp = qg_generate_default_params();
 *   qg_generate(c, "Once upon a time", &gp, NULL, on_token, NULL, NULL);
 *   qg_context_free(c); qg_model_free(m);
 */
#ifndef QGML_H
#define QGML_H

#include <stddef.h>
#include <stdint.h>

#if defined(_WIN32)
#  if defined(QG_BUILDING_LIBRARY)
#    define QG_API __declspec(dllexport)
#  elif defined(QG_STATIC)
#    define QG_API
#  else
#    define QG_API __declspec(dllimport)
#  endif
#elif defined(__GNUC__) || defined(__clang__)
/* The library is built with -fvisibility=hidden: only what carries QG_API is exported. */
#  define QG_API __attribute__((visibility("default")))
#else
#  define QG_API
#endif

#ifdef __cplusplus
extern "C" {
#endif

/* ---------------------------------------------------------------- status */

typedef enum qg_status {
  QG_OK = 0,
  QG_ERR_INVALID_ARGUMENT = 1, /* a NULL pointer, a parameter out of range */
  QG_ERR_IO = 2,               /* the model file cannot be opened or read */
  QG_ERR_MODEL = 3,            /* the file is not a usable model (format, architecture, tensors) */
  QG_ERR_CONTEXT_FULL = 4,     /* the tokens do not fit in the context's n_ctx */
  QG_ERR_TOKEN_RANGE = 5,      /* a token id outside [0, n_vocab) */
  QG_ERR_BUFFER_TOO_SMALL = 6, /* the size needed is reported through the out parameter */
  QG_ERR_NOT_FOUND = 7,        /* e.g. a metadata key the file does not have */
  QG_ERR_NO_TOKENIZER = 8,     /* a weights-only file: text functions are unavailable */
  QG_ERR_OUT_OF_MEMORY = 9,
  QG_ERR_INTERNAL = 10         /* a bug in qgml: please report the message */
} qg_status;

/* A static English name of a status ("QG_ERR_IO"); never NULL. Thread-safe. */
QG_API const char* qg_status_string(qg_status status);

/* The message of the last failed qg_ call on the calling thread ("" if none).
 * Thread-local: other threads' failures never change it. The pointer stays
 * valid until the next qg_ call on this thread that fails. */
QG_API const char* qg_last_error(void);

/* The library's version, "MAJOR.MINOR.PATCH" (static string), and the same as
 * MAJOR*10000 + MINOR*100 + PATCH. The shared library's SONAME carries MAJOR. */
QG_API const char* qg_version(void);
QG_API uint32_t qg_version_number(void);

/* ---------------------------------------------------------------- models */

typedef struct qg_model qg_model;
typedef struct qg_context qg_context;
typedef struct qg_sampler qg_sampler;

typedef struct qg_model_params {
  int32_t n_threads;    /* default for contexts that ask for 0 threads; 0: QGML_THREADS or all cores */
  int32_t use_mmap;     /* non-zero: map the file (weights stay in the page cache); 0: read it into memory */
  int32_t n_gpu_layers; /* layers whose weights stay on the GPU (llama.cpp's -ngl; > n_layer: all and the output;
                           <= 0: none). Builds without CUDA, or machines without a GPU, print a message on
                           stderr and run on the CPU. */
} qg_model_params;

/* n_threads 0, use_mmap 1, n_gpu_layers 0. */
QG_API qg_model_params qg_model_default_params(void);

/* Loads a GGUF model. params may be NULL (defaults). On QG_OK *out owns the
 * model: release it with qg_model_free once every context over it is freed.
 * Errors: QG_ERR_INVALID_ARGUMENT, QG_ERR_IO, QG_ERR_MODEL, QG_ERR_OUT_OF_MEMORY. */
QG_API qg_status qg_model_load(const char* path, const qg_model_params* params, qg_model** out);
/* NULL is a no-op. Not while a context over the model still exists. */
QG_API void qg_model_free(qg_model* model);

/* Hyperparameters; 0 (or NULL) for a NULL model. The architecture string
 * ("llama", "qwen2") lives as long as the model. */
QG_API const char* qg_model_arch(const qg_model* model);
QG_API int32_t qg_model_n_vocab(const qg_model* model);
QG_API int32_t qg_model_n_ctx_train(const qg_model* model);
QG_API int32_t qg_model_n_embd(const qg_model* model);
QG_API int32_t qg_model_n_layer(const qg_model* model);
/* The params the model was loaded with (n_gpu_layers as given). */
QG_API qg_model_params qg_model_get_params(const qg_model* model);

/* A GGUF metadata value rendered as text: strings as stored, numbers in
 * decimal, booleans "true"/"false", arrays as "[a, b, ...]" (long arrays
 * abbreviated). Writes at most buf_size bytes including a terminating NUL;
 * *len (optional) receives the full length without the NUL. A buffer too small
 * (or NULL with buf_size 0) gives QG_ERR_BUFFER_TOO_SMALL with *len set, so
 * the call can be repeated with len + 1 bytes. Absent key: QG_ERR_NOT_FOUND. */
QG_API qg_status qg_model_meta_string(const qg_model* model, const char* key, char* buf, size_t buf_size, size_t* len);
/* Number of metadata keys, and the i-th key (lives as long as the model; NULL when out of range). */
QG_API int32_t qg_model_meta_count(const qg_model* model);
QG_API const char* qg_model_meta_key(const qg_model* model, int32_t i);

/* ------------------------------------------------------------- tokenizer */

/* Text to token ids. add_special: BOS/EOS where the vocabulary asks for them;
 * parse_special: control-token text such as "<|endoftext|>" becomes its id.
 * On QG_OK *n_tokens is the count written. If max_tokens is too small the
 * result is QG_ERR_BUFFER_TOO_SMALL and *n_tokens is the count needed. */
QG_API qg_status qg_tokenize(const qg_model* model, const char* text, size_t text_len, int32_t* tokens,
                             int32_t max_tokens, int32_t* n_tokens, int add_special, int parse_special);

/* Token ids to text (the exact inverse of qg_tokenize where the vocabulary
 * allows). Buffer rules as for qg_model_meta_string; the text may contain NUL
 * bytes only if the tokens decode to them, so rely on *len. */
QG_API qg_status qg_detokenize(const qg_model* model, const int32_t* tokens, int32_t n_tokens, char* buf,
                               size_t buf_size, size_t* len, int render_special);

/* BOS / EOS ids (-1 when none), and whether a token ends generation (EOS, EOT...). */
QG_API int32_t qg_token_bos(const qg_model* model);
QG_API int32_t qg_token_eos(const qg_model* model);
QG_API int qg_token_is_eog(const qg_model* model, int32_t token);

/* -------------------------------------------------------------- contexts */

typedef struct qg_context_params {
  int32_t n_ctx;     /* positions the KV cache holds; 0: the model's n_ctx_train */
  int32_t n_batch;   /* prompt tokens evaluated per graph in qg_generate (cancellation is checked between batches) */
  int32_t n_threads; /* 0: the model's n_threads */
  int32_t kv_f32;    /* non-zero: F32 KV cache instead of F16 */
  uint64_t seed;     /* seed of qg_generate's default sampler (used when it is given no sampler) */
} qg_context_params;

/* n_ctx 0, n_batch 512, n_threads 0, kv_f32 0, seed 0. */
QG_API qg_context_params qg_context_default_params(void);

/* A context: a KV cache and a thread pool over a model. params may be NULL.
 * On QG_OK *out owns the context (qg_context_free). The model must outlive it;
 * several contexts may share one model and run on different threads. */
QG_API qg_status qg_context_new(qg_model* model, const qg_context_params* params, qg_context** out);
QG_API void qg_context_free(qg_context* ctx); /* NULL is a no-op */

QG_API int32_t qg_context_n_ctx(const qg_context* ctx);
QG_API int32_t qg_context_n_past(const qg_context* ctx); /* positions filled */
/* Forgets every position from n_past on (0 clears the context). */
QG_API qg_status qg_context_rewind(qg_context* ctx, int32_t n_past);

/* Appends n_tokens at position n_past and runs them through the model.
 * all_logits non-zero keeps one row of logits per token, else only the last.
 * QG_ERR_CONTEXT_FULL and QG_ERR_TOKEN_RANGE leave the context unchanged. */
QG_API qg_status qg_eval(qg_context* ctx, const int32_t* tokens, int32_t n_tokens, int all_logits);

/* The n_vocab logits of row i of the last evaluation (i < 0 counts from the
 * end: -1 is the last token). Owned by the context, valid until its next
 * qg_eval / qg_generate / qg_context_rewind / qg_context_free. NULL on error
 * (no evaluation yet, i out of range) with qg_last_error() set. */
QG_API const float* qg_get_logits(const qg_context* ctx, int32_t i);

/* Asks a qg_generate on this context to stop at the next token (or between
 * prompt batches). Safe from any thread, including signal-free watchdogs and
 * UI threads, at any time. Each request stops one generation: the running one,
 * or the next one if none is running. */
QG_API void qg_context_cancel(qg_context* ctx);

/* -------------------------------------------------------------- sampling */

/* The chain, in llama.cpp's order: repetition penalty, top-k, top-p, min-p,
 * temperature, draw. A seed gives the same tokens on every platform. */
typedef struct qg_sampler_params {
  float temp;             /* <= 0: greedy (argmax) */
  int32_t top_k;          /* <= 0: off */
  float top_p;            /* >= 1: off */
  float min_p;            /* <= 0: off */
  float repeat_penalty;   /* 1: off; must be > 0 */
  int32_t repeat_last_n;  /* recent tokens the penalty looks at */
  uint64_t seed;
} qg_sampler_params;

/* temp 0.8, top_k 40, top_p 0.95, min_p 0.05, repeat_penalty 1, repeat_last_n 64, seed 0 (as `qgml run`). */
QG_API qg_sampler_params qg_sampler_default_params(void);

/* On QG_OK *out owns the sampler (qg_sampler_free). One thread at a time. */
QG_API qg_status qg_sampler_new(const qg_sampler_params* params, qg_sampler** out);
QG_API void qg_sampler_free(qg_sampler* sampler); /* NULL is a no-op */
/* Back to the state right after qg_sampler_new (seed and history). */
QG_API void qg_sampler_reset(qg_sampler* sampler);
/* Picks a token from row i of the context's logits (as qg_get_logits). Does not accept it. */
QG_API qg_status qg_sampler_sample(qg_sampler* sampler, const qg_context* ctx, int32_t i, int32_t* token);
/* Records a token as context for the repetition penalty (prompt and generated tokens). */
QG_API void qg_sampler_accept(qg_sampler* sampler, int32_t token);

/* ------------------------------------------------------------ generation */

/* Called once per generated token with the text it adds (piece_len bytes,
 * not NUL-terminated; may be empty or end inside a UTF-8 character, so
 * concatenate before displaying). Runs on the thread that called qg_generate.
 * Return 0 to continue, non-zero to stop. Must not free the context. */
typedef int (*qg_token_callback)(int32_t token, const char* piece, size_t piece_len, void* user_data);

typedef struct qg_generate_params {
  int32_t n_predict;      /* tokens to generate; < 0: until the context is full */
  int32_t add_bos;        /* < 0: the vocabulary's default on an empty context, no when continuing; 0: no; > 0: yes */
  int32_t parse_special;  /* non-zero: control-token text in the prompt becomes its id */
  int32_t ignore_eos;     /* non-zero: keep going past end-of-generation tokens */
  int32_t keep_context;   /* 0: clear the context first; non-zero: continue after what it holds */
} qg_generate_params;

/* n_predict 128, add_bos -1, parse_special 1, ignore_eos 0, keep_context 0 (as `qgml run`). */
QG_API qg_generate_params qg_generate_default_params(void);

typedef enum qg_stop_reason {
  QG_STOP_NONE = 0,         /* generation did not run (an error) */
  QG_STOP_EOG = 1,          /* the model produced an end-of-generation token */
  QG_STOP_N_PREDICT = 2,    /* n_predict tokens were generated */
  QG_STOP_CONTEXT_FULL = 3, /* the context has no room for another token */
  QG_STOP_CALLBACK = 4,     /* the callback returned non-zero */
  QG_STOP_CANCELLED = 5     /* qg_context_cancel() */
} qg_stop_reason;

typedef struct qg_generate_result {
  int32_t n_prompt;         /* prompt tokens evaluated */
  int32_t n_generated;      /* tokens passed to the callback */
  qg_stop_reason stop_reason;
} qg_generate_result;

/* Tokenizes prompt (NULL or "" starts from BOS), evaluates it and generates,
 * streaming each token to callback (may be NULL). sampler NULL: a fresh
 * sampler with qg_sampler_default_params() seeded with the context's seed;
 * a given sampler is used as is (accept() is called for prompt and generated
 * tokens; the caller keeps ownership). params may be NULL (defaults). Every
 * stop listed in qg_stop_reason returns QG_OK; result (optional) says which.
 * A prompt that does not fit gives QG_ERR_CONTEXT_FULL. On return the context
 * holds the prompt and every token passed to the callback (not an
 * end-of-generation token), so keep_context continues right after them.
 * Greedy output equals `qgml run --temp 0` for the same prompt, model and
 * n_predict. */
QG_API qg_status qg_generate(qg_context* ctx, const char* prompt, const qg_generate_params* params, qg_sampler* sampler,
                             qg_token_callback callback, void* user_data, qg_generate_result* result);

#ifdef __cplusplus
}
#endif

#endif /* QGML_H */
