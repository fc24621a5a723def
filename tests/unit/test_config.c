/* Unit tests of configuration values: util/bytesize, util/duration and
 * server/config.
 * Hostile values (signs, blanks, trailing garbage, overflow in suffixes,
 * zero where zero means nothing, values the engine cannot honour) are
 * refused with a message naming the variable and the value. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "server/config.h"
#include "test.h"
#include "util/bytesize.h"
#include "util/duration.h"

static void test_bytesize(void) {
  uint64_t v = 0;
  CHECK_EQ_INT(tarmac_bytesize_parse("0", &v), 0);
  CHECK_EQ_INT(v, 0);
  CHECK_EQ_INT(tarmac_bytesize_parse("64KiB", &v), 0);
  CHECK_EQ_INT(v, 65536);
  CHECK_EQ_INT(tarmac_bytesize_parse("10m", &v), 0);
  CHECK_EQ_INT(v, 10 << 20);
  CHECK_EQ_INT(tarmac_bytesize_parse("3GB", &v), 0);
  CHECK(v == 3ull << 30);
  CHECK_EQ_INT(tarmac_bytesize_parse("17179869183G", &v), 0);
  CHECK(v == 17179869183ull << 30);
  static const char *const bad[] = {"", " 1", "+1", "-1", "1 ", "1K ", "1x",
                                    "1iB", "1KiBB", "0x10", "1T", "K", NULL};
  for (const char *const *b = bad; *b; b++) {
    CHECK_EQ_INT(tarmac_bytesize_parse(*b, &v), -1);
    if (tarmac_bytesize_parse(*b, &v) != -1) fprintf(stderr, "  \"%s\"\n", *b);
  }
  CHECK_EQ_INT(tarmac_bytesize_parse("17179869184G", &v), -2);
  CHECK_EQ_INT(tarmac_bytesize_parse("18446744073709551616", &v), -2);
  CHECK_EQ_INT(tarmac_bytesize_parse("18446744073709551615", &v), 0);
  CHECK(v == UINT64_MAX);
}

static void test_duration(void) {
  static const struct {
    const char *text;
    uint64_t ms;
  } good[] = {{"0", 0},       {"250", 250},         {"250ms", 250},
              {"30s", 30000}, {"2m", 120000},       {"1h", 3600000},
              {"007s", 7000}, {"18446744073709551615", UINT64_MAX},
              {"5124095576030h", 5124095576030ull * 3600000}};
  for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
    uint64_t v = 1;
    CHECK_EQ_INT(tarmac_duration_parse_ms(good[i].text, &v), 0);
    CHECK(v == good[i].ms);
  }
  static const char *const bad[] = {"", " 1s", "+1s", "-1", "1s ", "1 s",
                                    "1.5s", "1S", "1H", "1m30s", "ms", "1sec",
                                    "1us", "0x10", "1d", NULL};
  uint64_t v = 0;
  for (const char *const *b = bad; *b; b++) {
    CHECK_EQ_INT(tarmac_duration_parse_ms(*b, &v), -1);
    if (tarmac_duration_parse_ms(*b, &v) != -1) fprintf(stderr, "  \"%s\"\n", *b);
  }
  CHECK_EQ_INT(tarmac_duration_parse_ms("18446744073709551616", &v), -2);
  CHECK_EQ_INT(tarmac_duration_parse_ms("18446744073709552s", &v), -2);
  CHECK_EQ_INT(tarmac_duration_parse_ms("5124095576031h", &v), -2);
  CHECK_EQ_INT(tarmac_duration_parse_ms("99999999999999999999999ms", &v), -2);
  CHECK_EQ_INT(tarmac_duration_parse_ms("99999999999999999999999x", &v), -1);
}

/* set(name, value) fails and the message names both and holds `text`. */
static void expect_refused(const char *name, const char *value,
                           const char *text, int line) {
  tarmac_server_config_t c;
  char err[512] = "", want[256];
  tarmac_server_config_defaults(&c);
  snprintf(want, sizeof want, "%s=%s ", name, value);
  bool ok = tarmac_server_config_set(&c, name, value, err, sizeof err) == -1 &&
            strstr(err, want) != NULL && strstr(err, text) != NULL;
  CHECK(ok);
  if (!ok) fprintf(stderr, "  line %d: %s=%s gave \"%s\"\n", line, name, value,
                   err);
}

#define REFUSED(n, v, t) expect_refused((n), (v), (t), __LINE__)

static void test_memory_limit(void) {
  uint64_t v = 0;
  char err[512];
  REFUSED("APP_WASM_MEMORY_LIMIT", "5G", "out of range: from 64KiB to "
                                         "4194240KiB (65535 pages");
  REFUSED("APP_WASM_MEMORY_LIMIT", "4GiB", "out of range");
  REFUSED("APP_WASM_MEMORY_LIMIT", "4294901761", "out of range");
  REFUSED("APP_WASM_MEMORY_LIMIT", "65535", "out of range");
  REFUSED("APP_WASM_MEMORY_LIMIT", "0", "out of range");
  REFUSED("APP_WASM_MEMORY_LIMIT", "99999999999G", "out of range");
  REFUSED("APP_WASM_MEMORY_LIMIT", "-1", "is not a byte size");
  REFUSED("APP_WASM_MEMORY_LIMIT", "256MiB of RAM", "is not a byte size");
  CHECK_EQ_INT(tarmac_server_config_memory_limit("4294901760", &v, err,
                                                 sizeof err), 0);
  CHECK(v == 65535ull * 65536);
  CHECK_EQ_INT(tarmac_server_config_memory_limit("64K", &v, err, sizeof err),
               0);
  CHECK_EQ_INT(v, 65536);
  CHECK_EQ_INT(tarmac_server_config_memory_limit("5G", &v, err, sizeof err),
               -1);
}

static void test_numbers(void) {
  REFUSED("APP_MAX_BODY_SIZE", "0", "out of range: from 1 byte to 1GiB");
  REFUSED("APP_MAX_BODY_SIZE", "2G", "out of range");
  REFUSED("APP_MAX_BODY_SIZE", "17179869184G", "out of range");
  REFUSED("APP_MAX_HEADER_SIZE", "0", "out of range");
  REFUSED("APP_MAX_HEADER_SIZE", "64KiBs", "is not a byte size");
  REFUSED("APP_EVENT_LOOPS", "0", "not a whole number from 1 to 256");
  REFUSED("APP_EVENT_LOOPS", "+4", "not a whole number");
  REFUSED("APP_EVENT_LOOPS", " 4", "not a whole number");
  REFUSED("APP_EVENT_LOOPS", "4 ", "not a whole number");
  REFUSED("APP_EVENT_LOOPS", "-1", "not a whole number");
  REFUSED("APP_WASM_POOL_SIZE", "18446744073709551617", "not a whole number");
  REFUSED("APP_WASM_POOL_SIZE", "4294967297", "not a whole number");
  REFUSED("APP_HANDOFF_MS", "0", "from 1 to 60000");
  REFUSED("APP_MAX_THREADS_PER_LOOP", "1", "from 2 to 4096");
  REFUSED("APP_IDLE_TIMEOUT_MS", "10s", "not a whole number");
  REFUSED("APP_HTTP2_MAX_STREAMS", "257", "from 1 to 256");
  REFUSED("APP_SHUTDOWN_TIMEOUT_MS", "3600001", "from 0 to 3600000");
  REFUSED("APP_ENABLE_TLS", "maybe", "is not a boolean");
  tarmac_server_config_t c;
  char err[512];
  tarmac_server_config_defaults(&c);
  CHECK_EQ_INT(tarmac_server_config_set(&c, "APP_MAX_BODY_SIZE", "1GiB", err,
                                        sizeof err), 0);
  CHECK_EQ_INT(c.max_body_bytes, 1 << 30);
  CHECK_EQ_INT(tarmac_server_config_set(&c, "APP_SHUTDOWN_TIMEOUT_MS", "0",
                                        err, sizeof err), 0);
  CHECK_EQ_INT(c.shutdown_timeout_ms, 0);
  CHECK_EQ_INT(tarmac_server_config_set(&c, "APP_NO_SUCH", "1", err,
                                        sizeof err), -1);
  CHECK(strstr(err, "APP_NO_SUCH is not a setting") != NULL);
  char path[5000];
  memset(path, 'a', sizeof path - 1);
  path[sizeof path - 1] = '\0';
  CHECK_EQ_INT(tarmac_server_config_set(&c, "APP_CERT_FILE", path, err,
                                        sizeof err), -1);
  CHECK(strstr(err, "APP_CERT_FILE is too long (4999 bytes; at most 4095)"));
}

/* Loading from the environment: empty means default; the first bad
 * variable stops the load. */
static void test_load(void) {
  tarmac_server_config_t c;
  char err[512];
  setenv("APP_WASM_MEMORY_LIMIT", "", 1);
  setenv("APP_EVENT_LOOPS", "3", 1);
  CHECK_EQ_INT(tarmac_server_config_load(&c, err, sizeof err), 0);
  CHECK_EQ_INT(c.memory_limit, 0);
  CHECK_EQ_INT(c.pool_size, 100);
  CHECK_EQ_INT(c.pool_wait_ms, 5000);
  CHECK_EQ_INT(c.call_depth_limit, 8);
  CHECK(c.enable_metrics);
  CHECK(!c.job_mode);
  /* a quarter of 3 loops x 64 threads */
  CHECK_EQ_INT(c.max_concurrency, 48);
  CHECK_EQ_INT(c.queue_timeout_ms, 100);
  setenv("APP_WASM_MAX_CONCURRENCY", "0", 1);
  CHECK_EQ_INT(tarmac_server_config_load(&c, err, sizeof err), -1);
  CHECK(strstr(err, "APP_WASM_MAX_CONCURRENCY=0 is not a whole number from 1 "
               "to 1000000") != NULL);
  setenv("APP_WASM_MAX_CONCURRENCY", "7", 1);
  setenv("APP_WASM_QUEUE_TIMEOUT_MS", "0", 1);
  CHECK_EQ_INT(tarmac_server_config_load(&c, err, sizeof err), 0);
  CHECK_EQ_INT(c.max_concurrency, 7);
  CHECK_EQ_INT(c.queue_timeout_ms, 0);
  unsetenv("APP_WASM_MAX_CONCURRENCY");
  unsetenv("APP_WASM_QUEUE_TIMEOUT_MS");
  setenv("APP_WASM_MEMORY_LIMIT", "5G", 1);
  CHECK_EQ_INT(tarmac_server_config_load(&c, err, sizeof err), -1);
  CHECK(strstr(err, "APP_WASM_MEMORY_LIMIT=5G is out of range") != NULL);
  setenv("APP_WASM_MEMORY_LIMIT", "1G", 1);
  setenv("APP_WASM_POOL_SIZE", "5", 1);
  CHECK_EQ_INT(tarmac_server_config_load(&c, err, sizeof err), 0);
  CHECK(c.memory_limit == 1ull << 30);
  CHECK_EQ_INT(c.pool_size, 5);
  unsetenv("APP_WASM_MEMORY_LIMIT");
  unsetenv("APP_EVENT_LOOPS");
  unsetenv("APP_WASM_POOL_SIZE");
}

/* Issue 8's settings: run mode is daemon or job, nothing else; the call
 * depth and pool wait have ranges. */
static void test_service_settings(void) {
  tarmac_server_config_t c;
  char err[512];
  setenv("APP_RUN_MODE", "job", 1);
  setenv("APP_WASM_POOL_WAIT", "250ms", 1);
  setenv("APP_WASM_CALL_DEPTH_LIMIT", "3", 1);
  setenv("APP_ENABLE_METRICS", "false", 1);
  CHECK_EQ_INT(tarmac_server_config_load(&c, err, sizeof err), 0);
  CHECK(c.job_mode);
  CHECK_EQ_INT(c.pool_wait_ms, 250);
  CHECK_EQ_INT(c.call_depth_limit, 3);
  CHECK(!c.enable_metrics);
  setenv("APP_RUN_MODE", "cron", 1);
  CHECK_EQ_INT(tarmac_server_config_load(&c, err, sizeof err), -1);
  CHECK(strstr(err, "APP_RUN_MODE=cron is not a run mode (daemon or job)"));
  unsetenv("APP_RUN_MODE");
  setenv("APP_WASM_CALL_DEPTH_LIMIT", "33", 1);
  CHECK_EQ_INT(tarmac_server_config_load(&c, err, sizeof err), -1);
  CHECK(strstr(err, "APP_WASM_CALL_DEPTH_LIMIT=33 is not a whole number "
                    "from 1 to 32"));
  unsetenv("APP_WASM_CALL_DEPTH_LIMIT");
  setenv("APP_WASM_POOL_WAIT", "2m", 1);
  CHECK_EQ_INT(tarmac_server_config_load(&c, err, sizeof err), -1);
  CHECK(strstr(err, "APP_WASM_POOL_WAIT=2m is out of range: from 0ms to 1m"));
  unsetenv("APP_WASM_POOL_WAIT");
  unsetenv("APP_ENABLE_METRICS");
}

/* Fresh instances by default; the process budget defaults to 3/4 of the
 * machine's (or cgroup's) memory and takes a size. */
static void test_fresh_and_budget(void) {
  tarmac_server_config_t c;
  char err[512];
  CHECK_EQ_INT(tarmac_server_config_load(&c, err, sizeof err), 0);
  CHECK(!c.reuse_instances);
  CHECK(c.memory_total_limit == tarmac_server_config_default_memory_total());
  long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE);
  CHECK(c.memory_total_limit <= (uint64_t)pages * (uint64_t)page / 4 * 3);
  setenv("APP_WASM_REUSE_INSTANCES", "true", 1);
  setenv("APP_WASM_MEMORY_TOTAL_LIMIT", "2GiB", 1);
  CHECK_EQ_INT(tarmac_server_config_load(&c, err, sizeof err), 0);
  CHECK(c.reuse_instances);
  CHECK(c.memory_total_limit == 2ull << 30);
  setenv("APP_WASM_MEMORY_TOTAL_LIMIT", "1000", 1);
  CHECK_EQ_INT(tarmac_server_config_load(&c, err, sizeof err), -1);
  CHECK(strstr(err, "APP_WASM_MEMORY_TOTAL_LIMIT=1000") != NULL);
  unsetenv("APP_WASM_REUSE_INSTANCES");
  unsetenv("APP_WASM_MEMORY_TOTAL_LIMIT");
}

static void test_timeout(void) {
  tarmac_server_config_t c;
  char err[512];
  tarmac_server_config_defaults(&c);
  CHECK_EQ_INT(c.timeout_ms, 30000);
  CHECK_EQ_INT(tarmac_server_config_set(&c, "APP_WASM_TIMEOUT", "250ms", err,
                                        sizeof err), 0);
  CHECK_EQ_INT(c.timeout_ms, 250);
  unsigned ms = 0;
  CHECK_EQ_INT(tarmac_server_config_timeout("1h", &ms, err, sizeof err), 0);
  CHECK_EQ_INT(ms, 3600000);
  CHECK_EQ_INT(tarmac_server_config_timeout("1", &ms, err, sizeof err), 0);
  CHECK_EQ_INT(ms, 1);
  REFUSED("APP_WASM_TIMEOUT", "0", "out of range: from 1ms to 1h");
  REFUSED("APP_WASM_TIMEOUT", "3600001", "out of range");
  REFUSED("APP_WASM_TIMEOUT", "61m", "out of range");
  REFUSED("APP_WASM_TIMEOUT", "99999999999999999999h", "out of range");
  REFUSED("APP_WASM_TIMEOUT", "30 s", "is not a duration (e.g. 250ms");
  REFUSED("APP_WASM_TIMEOUT", "-5s", "is not a duration");
  CHECK_EQ_INT(tarmac_server_config_timeout("soon", &ms, err, sizeof err), -1);
  CHECK(strstr(err, "APP_WASM_TIMEOUT=soon") != NULL);
}

int main(void) {
  test_bytesize();
  test_fresh_and_budget();
  test_duration();
  test_timeout();
  test_memory_limit();
  test_numbers();
  test_load();
  test_service_settings();
  TEST_EXIT();
}
