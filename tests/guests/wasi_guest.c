/* wasi_guest: a C guest (SDK + wasi-libc) whose operations use WASI:
 *   print    writes the payload to stdout and "stderr: <payload>" to stderr
 *            (fd_write); answers "printed"
 *   clock    checks the realtime clock is after 2020 and the monotonic one
 *            does not go back (clock_time_get); answers "ok"
 *   random   answers 32 random bytes in hex (random_get)
 *   sleep    payload N ms: sleeps (poll_oneoff) and answers "slept" when at
 *            least N ms passed
 *   environ  answers the environment, one KEY=VALUE per line
 *   stdin    answers how many bytes a read of stdin gave (fd_read)
 *   open     tries to open /etc/passwd; answers "denied: <error>" or
 *            "opened" (no filesystem access is expected) */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "tarmac.h"

extern char **environ;

static int print(const uint8_t *payload, size_t len) {
  fwrite(payload, 1, len, stdout);
  fflush(stdout);
  fprintf(stderr, "stderr: %s\n", (const char *)payload);
  return tarmac_respond_str("printed");
}

static long long clock_ns(clockid_t id) {
  struct timespec ts;
  if (clock_gettime(id, &ts) != 0) return -1;
  return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static int clocks(const uint8_t *payload, size_t len) {
  long long first = clock_ns(CLOCK_MONOTONIC);
  long long now = clock_ns(CLOCK_REALTIME);
  long long second = clock_ns(CLOCK_MONOTONIC);
  if (now < 1577836800LL * 1000000000LL) return tarmac_fail("realtime %lld is before 2020", now);
  if (first < 0 || second < first) return tarmac_fail("monotonic went %lld -> %lld", first, second);
  return tarmac_respond_str("ok");
}

static int random_bytes(const uint8_t *payload, size_t len) {
  unsigned char bytes[32];
  char hex[65];
  if (getentropy(bytes, sizeof(bytes)) != 0) return tarmac_fail("getentropy: %s", strerror(errno));
  for (size_t i = 0; i < sizeof(bytes); i++) snprintf(hex + 2 * i, 3, "%02x", bytes[i]);
  return tarmac_respond_str(hex);
}

static int sleep_ms(const uint8_t *payload, size_t len) {
  long ms = atol((const char *)payload);
  struct timespec wait = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L};
  long long start = clock_ns(CLOCK_MONOTONIC);
  if (nanosleep(&wait, NULL) != 0) return tarmac_fail("nanosleep: %s", strerror(errno));
  long long slept = clock_ns(CLOCK_MONOTONIC) - start;
  if (slept < ms * 1000000LL) return tarmac_fail("slept only %lld ns", slept);
  return tarmac_respond_str("slept");
}

static int environment(const uint8_t *payload, size_t len) {
  size_t total = 0;
  for (char **e = environ; e && *e; e++) total += strlen(*e) + 1;
  char *text = malloc(total + 1);
  if (!text) return tarmac_fail("out of memory");
  size_t at = 0;
  for (char **e = environ; e && *e; e++) at += (size_t)sprintf(text + at, "%s\n", *e);
  tarmac_respond(text, at);
  free(text);
  return TARMAC_OK;
}

static int read_stdin(const uint8_t *payload, size_t len) {
  char buf[64];
  ssize_t n = read(0, buf, sizeof(buf));
  char text[32];
  snprintf(text, sizeof(text), "%zd", n);
  return tarmac_respond_str(text);
}

static int open_file(const uint8_t *payload, size_t len) {
  int fd = open("/etc/passwd", O_RDONLY);
  if (fd < 0) {
    char text[128];
    snprintf(text, sizeof(text), "denied: %s", strerror(errno));
    return tarmac_respond_str(text);
  }
  close(fd);
  return tarmac_respond_str("opened");
}

TARMAC_INIT(register_operations) {
  tarmac_register("print", print);
  tarmac_register("clock", clocks);
  tarmac_register("random", random_bytes);
  tarmac_register("sleep", sleep_ms);
  tarmac_register("environ", environment);
  tarmac_register("stdin", read_stdin);
  tarmac_register("open", open_file);
}
