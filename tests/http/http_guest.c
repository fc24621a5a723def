/* http_guest: the test suite's function for the server. Operation
 * "request:handler" looks at the request envelope's HTTP_PATH and:
 *   /status        answers 201 with headers X-Test and Content-Type
 *   /error         fails (guest error "deliberate failure")
 *   /trap/<kind>   traps: unreachable, oob, div, stack
 *   /not-json      answers bytes that are not an envelope
 *   /bad-base64    answers an envelope whose payload is not base64
 *   /bad-status    answers status_code 42
 *   /slow          sleeps 2 s in WASI poll_oneoff, then echoes
 *   /spin          computes for about 1.5 s without host calls, then echoes
 *   /forever       computes for a day (a guest that does not return)
 *   /sleep/<ms>    sleeps <ms> milliseconds in WASI poll_oneoff, then echoes
 *   /spin/<ms>     computes for <ms> milliseconds, then echoes
 *   /respond/<N>   answers status_code N with header X-Route: respond and
 *                  the request's body as its payload (N in 100..599 is
 *                  passed as is, so the server's checks can be tested)
 *   /repeat/<n>    answers n copies of "abc" (3n bytes; a large response)
 *   /previous      answers the body the previous /previous request left in
 *                  a global (empty the first time), and leaves this one's:
 *                  with fresh instances it must always answer empty
 *   /runaway/<kind> never returns, for the deadline tests: spin (a loop with
 *                  no host call), recurse (unbounded recursion: stack
 *                  exhaustion), deep (recursion 2000 frames deep, then a
 *                  loop at the bottom), grow (memory.grow in a loop,
 *                  touching each new page, going on after -1), sleep
 *                  (WASI poll_oneoff for a day, again and again)
 *   anything else  echoes the request envelope (the seed's example)
 * The long-running ones (/slow, /spin, /forever, /sleep/, /spin/, /runaway/)
 * first log
 * "started <path>" at info level: tests wait for that line to know that the
 * guest runs, instead of sleeping and hoping. */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "tarmac.h"

static char path[256];

/* Copies the value of "HTTP_PATH" into path ("" when absent). */
static void find_path(const char *envelope) {
  static const char key[] = "\"HTTP_PATH\":\"";
  const char *at = strstr(envelope, key);
  path[0] = '\0';
  if (at == NULL) return;
  at += sizeof(key) - 1;
  size_t n = 0;
  while (at[n] && at[n] != '"' && n + 1 < sizeof(path)) n++;
  memcpy(path, at, n);
  path[n] = '\0';
}

/* Unbounded recursion on the native stack: the call goes through a
 * volatile pointer so the compiler cannot turn it into a loop, and no local
 * lives in linear memory (which would overflow the shadow stack first). */
static int recurse(int depth);
static int (*volatile recurse_ptr)(int) = recurse;
static int recurse(int depth) {
  if (depth == -1) return 0;
  return recurse_ptr(depth + 1) + 1;
}

static int trap(const char *kind) {
  volatile int zero = 0, hundred = 100;
  if (strcmp(kind, "oob") == 0) return *(volatile int *)(uintptr_t)0xFFFFFFF0u;
  if (strcmp(kind, "div") == 0) return hundred / zero;
  if (strcmp(kind, "stack") == 0) return recurse(0);
  __builtin_trap();
}

static double seconds_now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void spin(double seconds) {
  double until = seconds_now() + seconds;
  volatile unsigned long counter = 0;
  /* clock_gettime is a host call; poll it rarely so the guest mostly runs */
  while (seconds_now() < until)
    for (int i = 0; i < 1000000; i++) counter++;
}

/* The decimal number of milliseconds at text (at most a day). */
static long parse_ms(const char *text) {
  long ms = 0;
  for (; *text >= '0' && *text <= '9' && ms < 86400000; text++)
    ms = ms * 10 + (*text - '0');
  return ms;
}

static void sleep_ms(long ms) {
  struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
  nanosleep(&ts, NULL);
}

static bool long_running(const char *p) {
  return strcmp(p, "/slow") == 0 || strcmp(p, "/spin") == 0 ||
         strcmp(p, "/forever") == 0 || strncmp(p, "/sleep/", 7) == 0 ||
         strncmp(p, "/spin/", 6) == 0 || strncmp(p, "/runaway/", 9) == 0;
}

/* A loop with no host call and no memory access but a volatile counter:
 * only a deadline ends it. */
static void spin_forever(void) {
  volatile unsigned long counter = 0;
  for (;;) counter++;
}

/* Recursion 2000 frames deep, through a volatile pointer, then a loop at
 * the bottom: the deadline stops it deep in its stack. */
static int deep(int depth);
static int (*volatile deep_ptr)(int) = deep;
static int deep(int depth) {
  if (depth == 2000) spin_forever();
  return deep_ptr(depth + 1) + 1;
}

/* memory.grow one page at a time, writing into each new page; at the
 * ceiling it gets -1 and keeps asking. */
static void grow_forever(void) {
  for (;;) {
    size_t page = __builtin_wasm_memory_grow(0, 1);
    if (page != (size_t)-1) ((volatile char *)(page * 65536))[0] = 1;
  }
}

static void runaway(const char *kind) {
  if (strcmp(kind, "spin") == 0) spin_forever();
  if (strcmp(kind, "recurse") == 0) recurse(0);
  if (strcmp(kind, "deep") == 0) deep(0);
  if (strcmp(kind, "grow") == 0) grow_forever();
  if (strcmp(kind, "sleep") == 0)
    for (;;) sleep_ms(86400000L);
}

/* /respond/<N>: status N, the request body (its base64 text, copied from
 * the request envelope's "payload") as the payload. */
/* The request body's base64 text in the envelope, and its length. */
static const char *request_body(const char *envelope, size_t *len) {
  static const char key[] = "\"payload\":\"";
  const char *body = strstr(envelope, key);
  body = body ? body + sizeof(key) - 1 : "";
  *len = strcspn(body, "\"");
  return body;
}

static int respond_with_status(const char *envelope, const char *status) {
  static char out[256 * 1024];
  size_t body_len;
  const char *body = request_body(envelope, &body_len);
  int n = snprintf(out, sizeof(out),
                   "{\"status_code\":%d,\"headers\":{\"X-Route\":\"respond\"},"
                   "\"payload\":\"%.*s\"}",
                   atoi(status), (int)body_len, body);
  if (n < 0 || (size_t)n >= sizeof(out)) return tarmac_fail("body too large");
  return tarmac_respond_str(out);
}

/* /previous: the stored body is the data a later request must not see. */
static int previous(const char *envelope) {
  static char stored[4096];
  static char out[sizeof(stored) + 64];
  size_t body_len;
  const char *body = request_body(envelope, &body_len);
  if (body_len >= sizeof(stored)) return tarmac_fail("body too large");
  snprintf(out, sizeof(out), "{\"payload\":\"%s\"}", stored);
  memcpy(stored, body, body_len);
  stored[body_len] = '\0';
  return tarmac_respond_str(out);
}

/* Answers n copies of "abc": its base64 is n copies of "YWJj". */
static int repeat(const char *count) {
  static const char head[] = "{\"payload\":\"", tail[] = "\"}";
  size_t n = strtoul(count, NULL, 10);
  size_t len = sizeof(head) - 1 + 4 * n + sizeof(tail) - 1;
  char *envelope = malloc(len);
  if (envelope == NULL) return tarmac_fail("out of memory");
  memcpy(envelope, head, sizeof(head) - 1);
  for (size_t i = 0; i < n; i++)
    memcpy(envelope + sizeof(head) - 1 + 4 * i, "YWJj", 4);
  memcpy(envelope + len - (sizeof(tail) - 1), tail, sizeof(tail) - 1);
  int result = tarmac_respond(envelope, len);
  free(envelope);
  return result;
}

static int handle(const uint8_t *payload, size_t len) {
  find_path((const char *)payload);
  if (strcmp(path, "/status") == 0)
    return tarmac_respond_str(
        "{\"status_code\":201,\"headers\":{\"X-Test\":\"yes\","
        "\"Content-Type\":\"text/plain\"},\"payload\":\"Y3JlYXRlZA==\"}");
  if (strcmp(path, "/error") == 0) return tarmac_fail("deliberate failure");
  if (strncmp(path, "/trap/", 6) == 0) return trap(path + 6);
  if (strcmp(path, "/not-json") == 0) return tarmac_respond_str("nope");
  if (strcmp(path, "/bad-base64") == 0)
    return tarmac_respond_str("{\"payload\":\"!!!!\"}");
  if (strcmp(path, "/bad-status") == 0)
    return tarmac_respond_str("{\"status_code\":42}");
  if (long_running(path)) tarmac_log_info("started %s", path);
  if (strcmp(path, "/slow") == 0) {
    struct timespec two = {2, 0};
    nanosleep(&two, NULL);
  }
  if (strcmp(path, "/spin") == 0) spin(1.5);
  if (strcmp(path, "/forever") == 0) spin(86400.0);
  if (strncmp(path, "/sleep/", 7) == 0) sleep_ms(parse_ms(path + 7));
  if (strncmp(path, "/spin/", 6) == 0) spin((double)parse_ms(path + 6) / 1e3);
  if (strncmp(path, "/runaway/", 9) == 0) runaway(path + 9);

  if (strncmp(path, "/respond/", 9) == 0)
    return respond_with_status((const char *)payload, path + 9);
  if (strncmp(path, "/repeat/", 8) == 0) return repeat(path + 8);
  if (strcmp(path, "/previous") == 0) return previous((const char *)payload);
  return tarmac_respond(payload, len);
}

TARMAC_INIT(register_operations) {
  tarmac_register("request:handler", handle);
}
