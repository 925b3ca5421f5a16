/* embed — a C program using qgml through its C API (qgml.h): load a model,
 * stream a completion to stdout, and cancel it from a watchdog thread when a
 * timeout passes or, when stdin is a terminal, when Enter is pressed.
 *
 *   embed -m MODEL.gguf [-p PROMPT] [-n N] [-t THREADS] [-c CTX] [--temp T]
 *         [--seed S] [--timeout-ms MS]
 *
 * stdout: the prompt and the generated text, then a newline (like `qgml run`).
 * stderr: one line saying why generation stopped. Exit status 0 on success
 * (a cancelled generation included), 1 on an error, 2 on bad usage.
 * POSIX (threads, poll); the library itself needs no more than C99. */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "qgml.h"

typedef struct {
  qg_context* ctx;
  long timeout_ms; /* < 0: none */
  int watch_stdin;
  pthread_mutex_t lock;
  int done; /* set by main when generation returns; guarded by lock */
} watchdog;

static double now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static int is_done(watchdog* w) {
  int d;
  pthread_mutex_lock(&w->lock);
  d = w->done;
  pthread_mutex_unlock(&w->lock);
  return d;
}

/* Polls in short steps so that it notices the end of generation quickly. */
static void* watch(void* arg) {
  watchdog* w = (watchdog*)arg;
  const double deadline = w->timeout_ms >= 0 ? now_ms() + (double)w->timeout_ms : -1.0;
  while (!is_done(w)) {
    if (deadline >= 0 && now_ms() >= deadline) {
      qg_context_cancel(w->ctx); /* safe from any thread */
      break;
    }
    if (w->watch_stdin) {
      struct pollfd p;
      p.fd = STDIN_FILENO;
      p.events = POLLIN;
      p.revents = 0;
      if (poll(&p, 1, 10) > 0) {
        qg_context_cancel(w->ctx);
        break;
      }
    } else {
      struct timespec step = {0, 1000000}; /* 1 ms */
      nanosleep(&step, NULL);
    }
  }
  return NULL;
}

static int on_token(int32_t token, const char* piece, size_t len, void* user_data) {
  (void)token;
  (void)user_data;
  fwrite(piece, 1, len, stdout);
  fflush(stdout);
  return 0; /* non-zero would stop generation here */
}

static const char* stop_name(qg_stop_reason r) {
  switch (r) {
    case QG_STOP_EOG: return "end of text";
    case QG_STOP_N_PREDICT: return "n_predict reached";
    case QG_STOP_CONTEXT_FULL: return "context full";
    case QG_STOP_CALLBACK: return "stopped by callback";
    case QG_STOP_CANCELLED: return "cancelled";
    default: return "none";
  }
}

static void usage(void) {
  fputs("usage: embed -m MODEL.gguf [-p PROMPT] [-n N] [-t THREADS] [-c CTX] [--temp T] [--seed S]"
        " [--timeout-ms MS]\n",
        stderr);
}

int main(int argc, char** argv) {
  const char* model_path = NULL;
  const char* prompt = "";
  qg_model_params mp = qg_model_default_params();
  qg_context_params cp = qg_context_default_params();
  qg_sampler_params sp = qg_sampler_default_params();
  qg_generate_params gp = qg_generate_default_params();
  qg_model* model = NULL;
  qg_context* ctx = NULL;
  qg_sampler* sampler = NULL;
  qg_generate_result result;
  qg_status st;
  watchdog w;
  pthread_t thread;
  int i;

  w.timeout_ms = -1;
  for (i = 1; i < argc; ++i) {
    const char* a = argv[i];
    const char* v = i + 1 < argc ? argv[i + 1] : NULL;
    if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
      usage();
      return 0;
    }
    if (v == NULL) {
      usage();
      return 2;
    }
    if (strcmp(a, "-m") == 0) model_path = v;
    else if (strcmp(a, "-p") == 0) prompt = v;
    else if (strcmp(a, "-n") == 0) gp.n_predict = atoi(v);
    else if (strcmp(a, "-t") == 0) mp.n_threads = atoi(v);
    else if (strcmp(a, "-c") == 0) cp.n_ctx = atoi(v);
    else if (strcmp(a, "--temp") == 0) sp.temp = (float)atof(v);
    else if (strcmp(a, "--seed") == 0) sp.seed = strtoull(v, NULL, 10);
    else if (strcmp(a, "--timeout-ms") == 0) w.timeout_ms = atol(v);
    else {
      usage();
      return 2;
    }
    ++i;
  }
  if (model_path == NULL) {
    usage();
    return 2;
  }

  st = qg_model_load(model_path, &mp, &model);
  if (st != QG_OK) {
    fprintf(stderr, "embed: %s: %s\n", qg_status_string(st), qg_last_error());
    return 1;
  }
  if (qg_context_new(model, &cp, &ctx) != QG_OK || qg_sampler_new(&sp, &sampler) != QG_OK) {
    fprintf(stderr, "embed: %s\n", qg_last_error());
    qg_context_free(ctx);
    qg_model_free(model);
    return 1;
  }

  w.ctx = ctx;
  w.watch_stdin = isatty(STDIN_FILENO);
  w.done = 0;
  pthread_mutex_init(&w.lock, NULL);
  if (w.watch_stdin) fputs("(press Enter to stop)\n", stderr);
  if (pthread_create(&thread, NULL, watch, &w) != 0) {
    fprintf(stderr, "embed: cannot start the watchdog thread: %s\n", strerror(errno));
    return 1;
  }

  fputs(prompt, stdout);
  fflush(stdout);
  st = qg_generate(ctx, prompt, &gp, sampler, on_token, NULL, &result);
  putchar('\n');
  fflush(stdout);

  pthread_mutex_lock(&w.lock);
  w.done = 1;
  pthread_mutex_unlock(&w.lock);
  pthread_join(thread, NULL);
  pthread_mutex_destroy(&w.lock);

  if (st != QG_OK)
    fprintf(stderr, "embed: %s: %s\n", qg_status_string(st), qg_last_error());
  else
    fprintf(stderr, "embed: %s after %d tokens (prompt: %d tokens; qgml %s)\n", stop_name(result.stop_reason),
            result.n_generated, result.n_prompt, qg_version());

  qg_sampler_free(sampler);
  qg_context_free(ctx);
  qg_model_free(model);
  return st == QG_OK ? 0 : 1;
}
