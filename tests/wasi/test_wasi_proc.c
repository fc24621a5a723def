/* WASI args, environment, random_get, proc_exit; the errno answers of the
 * file, path and socket operations; and the import table: every entry of
 * both modules resolves to an exported function that runs. */
#include <dlfcn.h>

#include "engine/host_imports.h"
#include "wasi_test.h"

static void test_args(wasi_fixture_t *f) {
  static const char *const args[] = {"prog", "a b", "", NULL};
  uint32_t r;
  f->instance.wasi_args = args;
  CHECK_EQ_INT(CALL(f, P1(args_sizes_get), "ii:i", &r, 0, 4), 0);
  CHECK_EQ_INT(r, WASI_ESUCCESS);
  CHECK_EQ_INT(peek_u32(f, 0), 3);
  CHECK_EQ_INT(peek_u32(f, 4), 10); /* "prog\0a b\0\0" */
  CHECK_EQ_INT(CALL(f, U0(args_get), "ii:i", &r, 100, 200), 0);
  CHECK_EQ_INT(r, WASI_ESUCCESS);
  CHECK_EQ_INT(peek_u32(f, 100), 200);
  CHECK_EQ_INT(peek_u32(f, 104), 205);
  CHECK_EQ_INT(peek_u32(f, 108), 209);
  CHECK(memcmp(f->memory.data + 200, "prog\0a b\0", 10) == 0);
  /* the strings do not fit at the end of memory */
  CHECK_EQ_INT(CALL(f, P1(args_get), "ii:i", &r, 100, f->memory.size - 9),
               WASM_RT_TRAP_OOB);
  CHECK_EQ_INT(CALL(f, P1(args_get), "ii:i", &r, f->memory.size - 8, 200),
               WASM_RT_TRAP_OOB);
  CHECK_EQ_INT(CALL(f, P1(args_sizes_get), "ii:i", &r, 0, f->memory.size),
               WASM_RT_TRAP_OOB);
  f->instance.wasi_args = NULL;
  CHECK_EQ_INT(CALL(f, P1(args_sizes_get), "ii:i", &r, 0, 4), 0);
  CHECK_EQ_INT(peek_u32(f, 0), 0);
  CHECK_EQ_INT(peek_u32(f, 4), 0);
  CHECK_EQ_INT(CALL(f, P1(args_get), "ii:i", &r, f->memory.size,
                    f->memory.size),
               0);
  CHECK_EQ_INT(r, WASI_ESUCCESS);
}

static void test_environ(wasi_fixture_t *f) {
  static const char *const env[] = {"A=1", "PATH=/x", NULL};
  uint32_t r;
  f->instance.wasi_environ = env;
  CHECK_EQ_INT(CALL(f, U0(environ_sizes_get), "ii:i", &r, 0, 4), 0);
  CHECK_EQ_INT(peek_u32(f, 0), 2);
  CHECK_EQ_INT(peek_u32(f, 4), 12);
  CHECK_EQ_INT(CALL(f, P1(environ_get), "ii:i", &r, 100, 300), 0);
  CHECK_EQ_INT(r, WASI_ESUCCESS);
  CHECK_EQ_INT(peek_u32(f, 104), 304);
  CHECK(memcmp(f->memory.data + 300, "A=1\0PATH=/x\0", 12) == 0);
  f->instance.wasi_environ = NULL;
  CHECK_EQ_INT(CALL(f, P1(environ_sizes_get), "ii:i", &r, 0, 4), 0);
  CHECK_EQ_INT(peek_u32(f, 0), 0);
}

static void test_random(wasi_fixture_t *f) {
  uint32_t r;
  memset(f->memory.data, 0, 128);
  CHECK_EQ_INT(CALL(f, P1(random_get), "ii:i", &r, 0, 64), 0);
  CHECK_EQ_INT(r, WASI_ESUCCESS);
  CHECK_EQ_INT(CALL(f, U0(random_get), "ii:i", &r, 64, 64), 0);
  CHECK(memcmp(f->memory.data, f->memory.data + 64, 64) != 0);
  static const uint8_t zeros[64];
  CHECK(memcmp(f->memory.data, zeros, 64) != 0);
  /* the whole memory at once, and nothing at its very end */
  CHECK_EQ_INT(CALL(f, P1(random_get), "ii:i", &r, 0, f->memory.size), 0);
  CHECK_EQ_INT(r, WASI_ESUCCESS);
  CHECK_EQ_INT(CALL(f, P1(random_get), "ii:i", &r, f->memory.size, 0), 0);
  CHECK_EQ_INT(CALL(f, P1(random_get), "ii:i", &r, 1, f->memory.size),
               WASM_RT_TRAP_OOB);
}

static void test_exit(wasi_fixture_t *f) {
  uint32_t r;
  CHECK_EQ_INT(CALL(f, P1(proc_exit), "i:", &r, 3), TARMAC_TRAP_EXIT);
  CHECK_EQ_INT(tarmac_rt_exit_code(), 3);
  CHECK_EQ_INT(CALL(f, U0(proc_exit), "i:", &r, 0), TARMAC_TRAP_EXIT);
  CHECK_EQ_INT(tarmac_rt_exit_code(), 0);
}

/* No files, no sockets: unknown descriptors are EBADF, the standard ones
 * answer like a terminal. */
static void test_no_files(wasi_fixture_t *f) {
  uint32_t r;
  CALL(f, P1(fd_seek), "iIii:i", &r, 1, 0, 0, 0);
  CHECK_EQ_INT(r, WASI_ESPIPE);
  CALL(f, U0(fd_seek), "iIii:i", &r, 1, 0, 3, 0);
  CHECK_EQ_INT(r, WASI_EINVAL);
  CALL(f, P1(fd_seek), "iIii:i", &r, 9, 0, 0, 0);
  CHECK_EQ_INT(r, WASI_EBADF);
  CALL(f, P1(fd_tell), "ii:i", &r, 2, 0);
  CHECK_EQ_INT(r, WASI_ESPIPE);
  CALL(f, P1(fd_prestat_get), "ii:i", &r, 3, 0);
  CHECK_EQ_INT(r, WASI_EBADF);
  CALL(f, P1(fd_prestat_get), "ii:i", &r, 0, 0);
  CHECK_EQ_INT(r, WASI_EBADF);
  CALL(f, P1(path_open), "iiiiiIIii:i", &r, 3, 0, 0, 0, 0, 0, 0, 0, 0);
  CHECK_EQ_INT(r, WASI_EBADF);
  CALL(f, U0(path_open), "iiiiiIIii:i", &r, 1, 0, 0, 0, 0, 0, 0, 0, 0);
  CHECK_EQ_INT(r, WASI_ENOTDIR);
  CALL(f, P1(path_rename), "iiiiii:i", &r, 1, 0, 0, 5, 0, 0);
  CHECK_EQ_INT(r, WASI_EBADF);
  CALL(f, P1(path_link), "iiiiiii:i", &r, 0, 0, 0, 0, 2, 0, 0);
  CHECK_EQ_INT(r, WASI_ENOTDIR);
  CALL(f, P1(fd_renumber), "ii:i", &r, 1, 2);
  CHECK_EQ_INT(r, WASI_ENOTSUP);
  CALL(f, P1(fd_renumber), "ii:i", &r, 1, 8);
  CHECK_EQ_INT(r, WASI_EBADF);
  CALL(f, P1(fd_fdstat_set_flags), "ii:i", &r, 1, 4); /* nonblock */
  CHECK_EQ_INT(r, WASI_ESUCCESS);
  CALL(f, P1(fd_fdstat_set_flags), "ii:i", &r, 1, 0x40);
  CHECK_EQ_INT(r, WASI_EINVAL);
  CALL(f, P1(fd_sync), "i:i", &r, 1);
  CHECK_EQ_INT(r, WASI_EINVAL);
  CALL(f, P1(fd_readdir), "iiiIi:i", &r, 0, 0, 0, 0, 0);
  CHECK_EQ_INT(r, WASI_ENOTDIR);
  CALL(f, P1(sock_accept), "iii:i", &r, 3, 0, 0);
  CHECK_EQ_INT(r, WASI_ENOTSUP);
  CALL(f, U0(sock_send), "iiiii:i", &r, 1, 0, 0, 0, 0);
  CHECK_EQ_INT(r, WASI_ENOTSUP);
  CALL(f, P1(proc_raise), "i:i", &r, 6);
  CHECK_EQ_INT(r, WASI_ENOTSUP);
}

static size_t table_count(const char *module) {
  size_t n = 0;
  for (const tarmac_host_import_t *e = tarmac_wasi_imports; e->module; e++)
    n += strcmp(e->module, module) == 0;
  return n;
}

/* Every entry resolves (as the loaded guest code would find it) and runs
 * with descriptor (or first argument) 99 and zero pointers without trapping,
 * except proc_exit; called as through a table it answers the same. */
static void test_table(wasi_fixture_t *f) {
  CHECK_EQ_INT(table_count("wasi_snapshot_preview1"), 46);
  CHECK_EQ_INT(table_count("wasi_unstable"), 45);
  for (const tarmac_host_import_t *e = tarmac_wasi_imports; e->module; e++)
    CHECK(strcmp(e->module, "wasi_unstable") != 0 ||
          strcmp(e->field, "sock_accept") != 0);
  for (const tarmac_host_import_t *e = tarmac_wasi_imports; e->module; e++) {
    char symbol[128];
    snprintf(symbol, sizeof symbol, "Z_%sZ_%s", e->module, e->field);
    void *fn = dlsym(RTLD_DEFAULT, symbol);
    CHECK(fn != NULL);
    if (!fn) {
      fprintf(stderr, "missing %s\n", symbol);
      continue;
    }
    wasi_call_t c = {.instance = &f->instance, .fn = fn,
                     .sig = e->signature, .a = {99}, .result = 0xFFFF};
    int trap = tarmac_rt_run_protected(call_body, &c);
    /* Called through a table, wasm2c hands the import the address of a
     * word holding the instance pointer: a lone heap word here, so ASan
     * flags any use of it as the instance itself. */
    struct tarmac_instance **word = malloc(sizeof *word);
    *word = &f->instance;
    wasi_call_t indirect = c;
    indirect.instance = (struct tarmac_instance *)word;
    indirect.result = 0xFFFF;
    int indirect_trap = tarmac_rt_run_protected(call_body, &indirect);
    free(word);
    CHECK_EQ_INT(indirect_trap, trap);
    CHECK_EQ_INT(indirect.result, c.result);
    if (strcmp(e->field, "proc_exit") == 0) {
      CHECK_EQ_INT(trap, TARMAC_TRAP_EXIT);
    } else {
      CHECK_EQ_INT(trap, WASM_RT_TRAP_NONE);
      CHECK(c.result < 100); /* an errno */
    }
  }
  CHECK_EQ_INT(strcmp(tarmac_env_imports[0].signature, "iiii:"), 0);
  CHECK(tarmac_env_imports[1].module == NULL);
}

int main(void) {
  wasi_fixture_t f;
  fixture_init(&f, 1);
  test_args(&f);
  test_environ(&f);
  test_random(&f);
  test_exit(&f);
  test_no_files(&f);
  test_table(&f);
  fixture_free(&f);
  TEST_EXIT();
}
