/* WASI standard descriptors: fd_write cut into log lines (levels, module
 * tag, partial lines, flush, the 64 KiB bound, CRLF), fd_read of an empty
 * stdin, fdstat/filestat in both snapshots' layouts, fd_close, and traps for
 * every bad pointer. */
#include "wasi_test.h"

#define WRITE_SIG "iiii:i"

/* Writes `text` to fd through one iovec; returns the errno. */
static uint32_t write_text(wasi_fixture_t *f, uint32_t fd, const char *text) {
  uint32_t len = poke_str(f, 1024, text), r;
  poke_iovec(f, 0, 1024, len);
  int trap = CALL(f, P1(fd_write), WRITE_SIG, &r, fd, 0, 1, 16);
  CHECK_EQ_INT(trap, WASM_RT_TRAP_NONE);
  if (r == WASI_ESUCCESS) CHECK_EQ_INT(peek_u32(f, 16), len);
  return r;
}

static void test_lines_across_iovecs(wasi_fixture_t *f) {
  poke_str(f, 1000, "hello\nwor");
  poke_str(f, 2000, "ld\n");
  poke_iovec(f, 0, 1000, 3);     /* "hel" */
  poke_iovec(f, 8, 1003, 6);     /* "lo\nwor" */
  uint32_t r;
  CHECK_EQ_INT(CALL(f, P1(fd_write), WRITE_SIG, &r, 1, 0, 2, 100), 0);
  CHECK_EQ_INT(r, WASI_ESUCCESS);
  CHECK_EQ_INT(peek_u32(f, 100), 9);
  const char *log = log_take(f);
  CHECK_EQ_INT(count_lines(log), 1);
  CHECK(strstr(log, "\"level\":\"info\"") != NULL);
  CHECK(strstr(log, "\"msg\":\"hello\",\"function\":\"m\",\"stream\":\"stdout\""));
  /* "wor" waits for the rest of its line, which comes through wasi_unstable */
  poke_iovec(f, 0, 2000, 3);
  CHECK_EQ_INT(CALL(f, U0(fd_write), WRITE_SIG, &r, 1, 0, 1, 100), 0);
  CHECK_EQ_INT(r, WASI_ESUCCESS);
  log = log_take(f);
  CHECK_EQ_INT(count_lines(log), 1);
  CHECK(strstr(log, "\"msg\":\"world\"") != NULL);
}

static void test_stderr_and_crlf(wasi_fixture_t *f) {
  CHECK_EQ_INT(write_text(f, 2, "oops\r\nsecond\n"), WASI_ESUCCESS);
  const char *log = log_take(f);
  CHECK_EQ_INT(count_lines(log), 2);
  CHECK(strstr(log, "\"level\":\"error\",\"msg\":\"oops\",\"function\":\"m\","
                    "\"stream\":\"stderr\"") != NULL);
  CHECK(strstr(log, "\"msg\":\"second\"") != NULL);
}

static void test_flush(wasi_fixture_t *f) {
  CHECK_EQ_INT(write_text(f, 1, "no newline"), WASI_ESUCCESS);
  CHECK_EQ_INT(write_text(f, 2, "err part"), WASI_ESUCCESS);
  CHECK_EQ_INT(count_lines(log_take(f)), 0);
  tarmac_wasi_flush(&f->instance);
  const char *log = log_take(f);
  CHECK_EQ_INT(count_lines(log), 2);
  CHECK(strstr(log, "\"msg\":\"no newline\",\"function\":\"m\",\"stream\":"
                    "\"stdout\"") != NULL);
  CHECK(strstr(log, "\"msg\":\"err part\"") != NULL);
  CHECK(f->instance.stdout_sink.pending.cap == 0);
  CHECK(f->instance.stderr_sink.pending.cap == 0);
  tarmac_wasi_flush(&f->instance); /* nothing pending: nothing logged */
  CHECK_EQ_INT(count_lines(log_take(f)), 0);
}

/* A long line is cut at 64 KiB; a line of exactly 64 KiB is one line. */
static void test_long_lines(wasi_fixture_t *f) {
  const uint32_t limit = 64 * 1024;
  uint32_t r;
  memset(f->memory.data + 4096, 'a', limit + 5000);
  poke_iovec(f, 0, 4096, limit + 5000);
  CHECK_EQ_INT(CALL(f, P1(fd_write), WRITE_SIG, &r, 1, 0, 1, 100), 0);
  CHECK_EQ_INT(r, WASI_ESUCCESS);
  CHECK_EQ_INT(count_lines(log_take(f)), 1);
  CHECK_EQ_INT(f->instance.stdout_sink.pending.len, 5000);
  tarmac_wasi_flush(&f->instance);
  CHECK_EQ_INT(count_lines(log_take(f)), 1);

  /* exactly the limit, in two writes, then the newline */
  poke_iovec(f, 0, 4096, 1000);
  CHECK_EQ_INT(CALL(f, P1(fd_write), WRITE_SIG, &r, 1, 0, 1, 100), 0);
  poke_iovec(f, 0, 4096, limit - 1000);
  CHECK_EQ_INT(CALL(f, P1(fd_write), WRITE_SIG, &r, 1, 0, 1, 100), 0);
  CHECK_EQ_INT(count_lines(log_take(f)), 0);
  CHECK_EQ_INT(write_text(f, 1, "\n"), WASI_ESUCCESS);
  const char *log = log_take(f);
  CHECK_EQ_INT(count_lines(log), 1);
  CHECK_EQ_INT(strspn(strstr(log, "\"msg\":\"") + 7, "a"), limit);
}

static void test_bad_descriptors(wasi_fixture_t *f) {
  CHECK_EQ_INT(write_text(f, 0, "to stdin\n"), WASI_EBADF);
  CHECK_EQ_INT(write_text(f, 3, "to a file\n"), WASI_EBADF);
  CHECK_EQ_INT(count_lines(log_take(f)), 0);
  /* closing stdout succeeds and keeps it working */
  uint32_t r;
  CHECK_EQ_INT(CALL(f, P1(fd_close), "i:i", &r, 1), 0);
  CHECK_EQ_INT(r, WASI_ESUCCESS);
  CHECK_EQ_INT(write_text(f, 1, "still here\n"), WASI_ESUCCESS);
  CHECK_EQ_INT(count_lines(log_take(f)), 1);
  CHECK_EQ_INT(CALL(f, U0(fd_close), "i:i", &r, 3), 0);
  CHECK_EQ_INT(r, WASI_EBADF);
}

static void test_write_traps(wasi_fixture_t *f) {
  uint32_t r, end = f->memory.size;
  /* the iovec array runs past the end */
  CHECK_EQ_INT(CALL(f, P1(fd_write), WRITE_SIG, &r, 1, end - 8, 2, 100),
               WASM_RT_TRAP_OOB);
  CHECK(strstr(tarmac_rt_trap_detail(), "fd_write iovs") != NULL);
  /* the second buffer is outside memory: nothing of the first is logged */
  poke_str(f, 1000, "first\n");
  poke_iovec(f, 0, 1000, 6);
  poke_iovec(f, 8, end - 2, 3);
  CHECK_EQ_INT(CALL(f, P1(fd_write), WRITE_SIG, &r, 1, 0, 2, 100),
               WASM_RT_TRAP_OOB);
  CHECK_EQ_INT(count_lines(log_take(f)), 0);
  /* nwritten outside memory */
  CHECK_EQ_INT(CALL(f, P1(fd_write), WRITE_SIG, &r, 1, 0, 1, end - 3),
               WASM_RT_TRAP_OOB);
  CHECK_EQ_INT(count_lines(log_take(f)), 0);
  /* a count whose array would exceed 4 GiB */
  CHECK_EQ_INT(CALL(f, P1(fd_write), WRITE_SIG, &r, 1, 0, 0x20000000u, 100),
               WASM_RT_TRAP_OOB);
}

/* More than 4 GiB in total (the same buffer many times) is EINVAL. */
static void test_write_total_overflow(void) {
  wasi_fixture_t f;
  fixture_init(&f, 16);
  const uint32_t count = 65537, array = 0x10000;
  for (uint32_t i = 0; i < count; i++)
    poke_iovec(&f, array + i * 8, 0, 65536);
  uint32_t r;
  CHECK_EQ_INT(CALL(&f, P1(fd_write), WRITE_SIG, &r, 1, array, count, 100), 0);
  CHECK_EQ_INT(r, WASI_EINVAL);
  CHECK_EQ_INT(count_lines(log_take(&f)), 0);
  fixture_free(&f);
}

static void test_read_stdin(wasi_fixture_t *f) {
  uint32_t r;
  poke_iovec(f, 0, 1000, 100);
  poke_u32(f, 100, 77);
  CHECK_EQ_INT(CALL(f, P1(fd_read), WRITE_SIG, &r, 0, 0, 1, 100), 0);
  CHECK_EQ_INT(r, WASI_ESUCCESS);
  CHECK_EQ_INT(peek_u32(f, 100), 0);
  CHECK_EQ_INT(CALL(f, U0(fd_read), WRITE_SIG, &r, 1, 0, 1, 100), 0);
  CHECK_EQ_INT(r, WASI_EBADF);
  poke_iovec(f, 0, f->memory.size, 1);
  CHECK_EQ_INT(CALL(f, P1(fd_read), WRITE_SIG, &r, 0, 0, 1, 100),
               WASM_RT_TRAP_OOB);
}

static void test_no_memory(void) {
  wasi_fixture_t f;
  fixture_init(&f, 1);
  f.instance.memory = NULL;
  uint32_t r;
  CHECK_EQ_INT(CALL(&f, P1(fd_write), WRITE_SIG, &r, 1, 0, 1, 100),
               TARMAC_TRAP_HOST_FAULT);
  CHECK(strstr(tarmac_rt_trap_detail(), "exports no memory") != NULL);
  f.instance.memory = &f.memory;
  fixture_free(&f);
}

static void test_fdstat(wasi_fixture_t *f) {
  uint32_t r;
  memset(f->memory.data + 200, 0xEE, 64);
  CHECK_EQ_INT(CALL(f, P1(fd_fdstat_get), "ii:i", &r, 1, 200), 0);
  CHECK_EQ_INT(r, WASI_ESUCCESS);
  CHECK_EQ_INT(f->memory.data[200], WASI_FILETYPE_CHARACTER_DEVICE);
  CHECK_EQ_INT(peek_u16(f, 202), 0);
  uint64_t rights = peek_u64(f, 208);
  CHECK(rights & WASI_RIGHT_FD_WRITE);
  CHECK(!(rights & WASI_RIGHT_FD_READ));
  CHECK_EQ_INT(peek_u64(f, 216), 0);
  CHECK_EQ_INT(f->memory.data[224], 0xEE);
  CHECK_EQ_INT(CALL(f, U0(fd_fdstat_get), "ii:i", &r, 0, 200), 0);
  CHECK(peek_u64(f, 208) & WASI_RIGHT_FD_READ);
  CHECK_EQ_INT(CALL(f, P1(fd_fdstat_get), "ii:i", &r, 3, 200), 0);
  CHECK_EQ_INT(r, WASI_EBADF);
  CHECK_EQ_INT(CALL(f, P1(fd_fdstat_get), "ii:i", &r, 2, f->memory.size - 8),
               WASM_RT_TRAP_OOB);
}

/* preview1: nlink is a u64 at 24, 64 bytes; snapshot 0: a u32 at 20, 56. */
static void test_filestat_layouts(wasi_fixture_t *f) {
  uint32_t r;
  memset(f->memory.data + 300, 0xEE, 80);
  CHECK_EQ_INT(CALL(f, P1(fd_filestat_get), "ii:i", &r, 1, 300), 0);
  CHECK_EQ_INT(r, WASI_ESUCCESS);
  CHECK_EQ_INT(f->memory.data[316], WASI_FILETYPE_CHARACTER_DEVICE);
  CHECK_EQ_INT(peek_u64(f, 324), 1);
  CHECK_EQ_INT(peek_u64(f, 332), 0); /* size */
  CHECK_EQ_INT(peek_u64(f, 356), 0); /* ctim */
  CHECK_EQ_INT(f->memory.data[364], 0xEE);

  memset(f->memory.data + 300, 0xEE, 80);
  CHECK_EQ_INT(CALL(f, U0(fd_filestat_get), "ii:i", &r, 1, 300), 0);
  CHECK_EQ_INT(r, WASI_ESUCCESS);
  CHECK_EQ_INT(f->memory.data[316], WASI_FILETYPE_CHARACTER_DEVICE);
  CHECK_EQ_INT(peek_u32(f, 320), 1);
  CHECK_EQ_INT(peek_u64(f, 348), 0); /* ctim */
  CHECK_EQ_INT(f->memory.data[356], 0xEE);

  CHECK_EQ_INT(CALL(f, U0(fd_filestat_get), "ii:i", &r, 4, 300), 0);
  CHECK_EQ_INT(r, WASI_EBADF);
  /* 56 bytes fit at the end for snapshot 0, not 64 for preview1 */
  uint32_t at = f->memory.size - 56;
  CHECK_EQ_INT(CALL(f, U0(fd_filestat_get), "ii:i", &r, 1, at), 0);
  CHECK_EQ_INT(CALL(f, P1(fd_filestat_get), "ii:i", &r, 1, at),
               WASM_RT_TRAP_OOB);
}

int main(void) {
  wasi_fixture_t f;
  fixture_init(&f, 2);
  test_lines_across_iovecs(&f);
  test_stderr_and_crlf(&f);
  test_flush(&f);
  test_long_lines(&f);
  test_bad_descriptors(&f);
  test_write_traps(&f);
  test_read_stdin(&f);
  test_fdstat(&f);
  test_filestat_layouts(&f);
  fixture_free(&f);
  test_write_total_overflow();
  test_no_memory();
  TEST_EXIT();
}
