/* wasi_test: what the WASI tests share — an instance made by hand with a
 * real guest memory, a way to call any import (by its signature string)
 * under trap protection, and a log captured into a memory file. */
#ifndef TARMAC_TESTS_WASI_TEST_H
#define TARMAC_TESTS_WASI_TEST_H

#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "engine/instance_state.h"
#include "log/log.h"
#include "runtime/runtime.h"
#include "test.h"
#include "wasi/wasi.h"
#include "wasi/wasi_host.h"

typedef struct {
  struct tarmac_instance instance;
  wasm_rt_memory_t memory;
  int log_fd; /* memfd the logger writes to */
  off_t log_read;  /* bytes of it already returned by log_take */
} wasi_fixture_t;

/* An instance named "m" with `pages` pages of memory and the log (all
 * levels, JSON) going to a memory file. */
static inline void fixture_init(wasi_fixture_t *f, uint32_t pages) {
  memset(f, 0, sizeof *f);
  tarmac_rt_init();
  wasm_rt_allocate_memory(&f->memory, pages, pages);
  f->instance.self = &f->instance;
  f->instance.memory = &f->memory;
  f->instance.name = "m";
  f->log_fd = memfd_create("wasi-test-log", 0);
  if (f->log_fd < 0) {
    perror("memfd_create");
    exit(2);
  }
  tarmac_log_config_t config = {f->log_fd, TARMAC_LOG_TRACE, false};
  tarmac_log_configure(&config);
}

static inline void fixture_free(wasi_fixture_t *f) {
  tarmac_wasi_flush(&f->instance);
  wasm_rt_free_memory(&f->memory);
  close(f->log_fd);
}

/* The log written since the last call (NUL-terminated, static storage). */
static inline const char *log_take(wasi_fixture_t *f) {
  static char text[1 << 20];
  ssize_t n = pread(f->log_fd, text, sizeof text - 1, f->log_read);
  if (n < 0) n = 0;
  text[n] = '\0';
  f->log_read += n;
  return text;
}

static inline size_t count_lines(const char *text) {
  size_t n = 0;
  for (; *text; text++) n += *text == '\n';
  return n;
}

/* ---- calling imports --------------------------------------------------- */

typedef struct {
  struct tarmac_instance *instance;
  void *fn;
  const char *sig;
  uint64_t a[9];
  uint32_t result;
} wasi_call_t;

#define I(k) ((uint32_t)c->a[k])
#define L(k) (c->a[k])
static inline void call_body(void *arg) {
  wasi_call_t *c = arg;
  struct tarmac_instance *x = c->instance;
  const char *s = c->sig;
  if (!strcmp(s, ":i")) c->result = ((wasi_sig__i *)c->fn)(x);
  else if (!strcmp(s, "i:")) ((wasi_sig_i_ *)c->fn)(x, I(0));
  else if (!strcmp(s, "i:i")) c->result = ((wasi_sig_i_i *)c->fn)(x, I(0));
  else if (!strcmp(s, "ii:i"))
    c->result = ((wasi_sig_ii_i *)c->fn)(x, I(0), I(1));
  else if (!strcmp(s, "iI:i"))
    c->result = ((wasi_sig_iI_i *)c->fn)(x, I(0), L(1));
  else if (!strcmp(s, "iii:i"))
    c->result = ((wasi_sig_iii_i *)c->fn)(x, I(0), I(1), I(2));
  else if (!strcmp(s, "iIi:i"))
    c->result = ((wasi_sig_iIi_i *)c->fn)(x, I(0), L(1), I(2));
  else if (!strcmp(s, "iII:i"))
    c->result = ((wasi_sig_iII_i *)c->fn)(x, I(0), L(1), L(2));
  else if (!strcmp(s, "iiii:i"))
    c->result = ((wasi_sig_iiii_i *)c->fn)(x, I(0), I(1), I(2), I(3));
  else if (!strcmp(s, "iIii:i"))
    c->result = ((wasi_sig_iIii_i *)c->fn)(x, I(0), L(1), I(2), I(3));
  else if (!strcmp(s, "iIIi:i"))
    c->result = ((wasi_sig_iIIi_i *)c->fn)(x, I(0), L(1), L(2), I(3));
  else if (!strcmp(s, "iiiii:i"))
    c->result = ((wasi_sig_iiiii_i *)c->fn)(x, I(0), I(1), I(2), I(3), I(4));
  else if (!strcmp(s, "iiiIi:i"))
    c->result = ((wasi_sig_iiiIi_i *)c->fn)(x, I(0), I(1), I(2), L(3), I(4));
  else if (!strcmp(s, "iiiiii:i"))
    c->result = ((wasi_sig_iiiiii_i *)c->fn)(x, I(0), I(1), I(2), I(3), I(4),
                                            I(5));
  else if (!strcmp(s, "iiiiIIi:i"))
    c->result = ((wasi_sig_iiiiIIi_i *)c->fn)(x, I(0), I(1), I(2), I(3), L(4),
                                             L(5), I(6));
  else if (!strcmp(s, "iiiiiii:i"))
    c->result = ((wasi_sig_iiiiiii_i *)c->fn)(x, I(0), I(1), I(2), I(3), I(4),
                                             I(5), I(6));
  else if (!strcmp(s, "iiiiiIIii:i"))
    c->result = ((wasi_sig_iiiiiIIii_i *)c->fn)(
        x, I(0), I(1), I(2), I(3), I(4), L(5), L(6), I(7), I(8));
  else if (!strcmp(s, "iiii:"))
    Z_envZ_abort(x, I(0), I(1), I(2), I(3));
  else {
    fprintf(stderr, "call_body: no signature %s\n", s);
    exit(2);
  }
}
#undef I
#undef L

/* CALL(f, P1(fd_write), "iiii:i", &r, 1, iovs, 1, nwritten): every argument
 * is converted to uint64_t. */
#define P1(field) ((void *)WASI_PREVIEW1_NAME(field))
#define U0(field) ((void *)WASI_UNSTABLE_NAME(field))
#define CALL(f, fn, sig, result, ...) \
  call_u64((f), (fn), (sig), (result), (uint64_t[]){__VA_ARGS__}, \
           sizeof((uint64_t[]){__VA_ARGS__}) / sizeof(uint64_t))

static inline int call_u64(wasi_fixture_t *f, void *fn, const char *sig,
                    uint32_t *result, const uint64_t *args, size_t nargs) {
  wasi_call_t c = {.instance = &f->instance, .fn = fn, .sig = sig,
                   .result = 0xFFFF};
  size_t params = strcspn(sig, ":");
  if (nargs != params) {
    fprintf(stderr, "CALL: %zu arguments for %s\n", nargs, sig);
    exit(2);
  }
  memcpy(c.a, args, nargs * sizeof *args);
  int trap = tarmac_rt_run_protected(call_body, &c);
  *result = c.result;
  return trap;
}

/* ---- guest memory ------------------------------------------------------ */

static inline void poke_u32(wasi_fixture_t *f, uint32_t at, uint32_t v) {
  wasi_put_u32(f->memory.data + at, v);
}
static inline void poke_u64(wasi_fixture_t *f, uint32_t at, uint64_t v) {
  wasi_put_u64(f->memory.data + at, v);
}
static inline uint32_t peek_u32(wasi_fixture_t *f, uint32_t at) {
  return wasi_load_u32(f->memory.data + at);
}
static inline uint64_t peek_u64(wasi_fixture_t *f, uint32_t at) {
  return wasi_load_u64(f->memory.data + at);
}
static inline uint16_t peek_u16(wasi_fixture_t *f, uint32_t at) {
  return (uint16_t)(f->memory.data[at] | f->memory.data[at + 1] << 8);
}
/* Copies a C string into guest memory at `at`; returns its length. */
static inline uint32_t poke_str(wasi_fixture_t *f, uint32_t at, const char *s) {
  size_t len = strlen(s);
  memcpy(f->memory.data + at, s, len);
  return (uint32_t)len;
}
/* Writes a ciovec {buf, len} at `at`. */
static inline void poke_iovec(wasi_fixture_t *f, uint32_t at, uint32_t buf,
                       uint32_t len) {
  poke_u32(f, at, buf);
  poke_u32(f, at + 4, len);
}

#endif
