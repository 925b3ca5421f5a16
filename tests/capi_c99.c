/* qgml.h from strict C99 (-std=c99 -pedantic -Werror): the header must not
 * need C++ or compiler extensions. Also a smoke test of the shared library
 * from C: load, metadata, a greedy completion, an error path. Exit status 0
 * on success; the first failed check is printed. */
#include <stdio.h>
#include <string.h>

#include "qgml.h"

static int failures = 0;

#define CHECK(cond)                                                                    \
  do {                                                                                 \
    if (!(cond)) {                                                                     \
      fprintf(stderr, "%s:%d: check failed: %s (last error: %s)\n", __FILE__, __LINE__, \
              #cond, qg_last_error());                                                 \
      ++failures;                                                                      \
    }                                                                                  \
  } while (0)

typedef struct {
  char text[4096];
  size_t len;
  int tokens;
} collected;

static int on_token(int32_t token, const char* piece, size_t piece_len, void* user_data) {
  collected* c = (collected*)user_data;
  (void)token;
  if (c->len + piece_len < sizeof c->text) {
    memcpy(c->text + c->len, piece, piece_len);
    c->len += piece_len;
    c->text[c->len] = '\0';
  }
  c->tokens++;
  return 0;
}

int main(int argc, char** argv) {
  qg_model* model = NULL;
  qg_context* ctx = NULL;
  qg_model_params mp = qg_model_default_params();
  qg_context_params cp = qg_context_default_params();
  qg_generate_params gp = qg_generate_default_params();
  qg_sampler_params sp = qg_sampler_default_params();
  qg_sampler* greedy = NULL;
  qg_generate_result result;
  collected out;
  char arch[32];
  size_t len = 0;

  if (argc != 2) {
    fprintf(stderr, "usage: %s MODEL.gguf\n", argv[0]);
    return 2;
  }
  CHECK(strlen(qg_version()) >= 5);
  CHECK(qg_model_load("/nonexistent/model.gguf", &mp, &model) == QG_ERR_IO);
  CHECK(model == NULL);
  CHECK(strstr(qg_last_error(), "/nonexistent/model.gguf") != NULL);
  CHECK(strcmp(qg_status_string(QG_ERR_IO), "QG_ERR_IO") == 0);

  mp.n_threads = 1;
  if (qg_model_load(argv[1], &mp, &model) != QG_OK) {
    fprintf(stderr, "cannot load %s: %s\n", argv[1], qg_last_error());
    return 1;
  }
  CHECK(qg_model_meta_string(model, "general.architecture", arch, sizeof arch, &len) == QG_OK);
  CHECK(strcmp(arch, "llama") == 0 && len == 5);
  CHECK(qg_model_n_vocab(model) > 0);

  cp.n_ctx = 128;
  CHECK(qg_context_new(model, &cp, &ctx) == QG_OK);
  sp.temp = 0.0f;
  CHECK(qg_sampler_new(&sp, &greedy) == QG_OK);
  memset(&out, 0, sizeof out);
  gp.n_predict = 24;
  CHECK(qg_generate(ctx, "Once upon a time", &gp, greedy, on_token, &out, &result) == QG_OK);
  CHECK(result.n_generated == out.tokens && out.tokens > 0);
  CHECK(out.len > 0);
  printf("%s\n", out.text);

  qg_sampler_free(greedy);
  qg_context_free(ctx);
  qg_model_free(model);
  return failures == 0 ? 0 : 1;
}
