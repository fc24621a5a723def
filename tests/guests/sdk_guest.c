/* sdk_guest: a C guest built with the SDK (sdk/c) that exercises every part
 * of it through the real host:
 *   echo          answers the payload (large payloads: 1 MiB and more)
 *   checksum      answers "<length> <FNV-1a 32 hex>" of the payload
 *   generate      payload N (decimal): answers N bytes, byte i = i % 251
 *   fail          fails with "failed on purpose: <payload>"
 *   unsuccessful  returns TARMAC_ERROR without a message
 *   operation     answers tarmac_operation()
 *   register_twice  answers "rejected" when registering "echo" again fails
 *   host_call     payload "binding/namespace/operation/body": answers
 *                 "ok:<response>" or "error:<host error text>"
 *   log           logs the payload at every level and to the console,
 *                 answers "logged" or which level the host refused */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tarmac.h"

static int echo(const uint8_t *payload, size_t len) {
  return tarmac_respond(payload, len);
}

static int checksum(const uint8_t *payload, size_t len) {
  uint32_t hash = 2166136261u;
  for (size_t i = 0; i < len; i++) hash = (hash ^ payload[i]) * 16777619u;
  char text[48];
  snprintf(text, sizeof(text), "%zu %08x", len, (unsigned)hash);
  return tarmac_respond_str(text);
}

static int generate(const uint8_t *payload, size_t len) {
  char *end = NULL;
  unsigned long n = strtoul((const char *)payload, &end, 10);
  if (len == 0 || *end != '\0') return tarmac_fail("not a byte count: %s", payload);
  uint8_t *bytes = malloc(n ? n : 1);
  if (!bytes) return tarmac_fail("cannot allocate %lu bytes", n);
  for (unsigned long i = 0; i < n; i++) bytes[i] = (uint8_t)(i % 251);
  tarmac_respond(bytes, n);
  free(bytes);
  return TARMAC_OK;
}

static int fail(const uint8_t *payload, size_t len) {
  return tarmac_fail("failed on purpose: %.*s", (int)len, (const char *)payload);
}

static int unsuccessful(const uint8_t *payload, size_t len) {
  return TARMAC_ERROR;
}

static int operation(const uint8_t *payload, size_t len) {
  return tarmac_respond_str(tarmac_operation());
}

static int register_twice(const uint8_t *payload, size_t len) {
  return tarmac_respond_str(tarmac_register("echo", echo) == TARMAC_ERROR
                                ? "rejected" : "accepted");
}

/* Answers `prefix` followed by `len` bytes of `data`. */
static int respond_prefixed(const char *prefix, const uint8_t *data, size_t len) {
  size_t prefix_len = strlen(prefix);
  uint8_t *text = malloc(prefix_len + len + 1);
  if (!text) return tarmac_fail("out of memory");
  memcpy(text, prefix, prefix_len);
  memcpy(text + prefix_len, data, len);
  tarmac_respond(text, prefix_len + len);
  free(text);
  return TARMAC_OK;
}

static int host_call(const uint8_t *payload, size_t len) {
  char *route = strdup((const char *)payload);
  if (!route) return tarmac_fail("out of memory");
  char *binding = strtok(route, "/");
  char *namespace_ = strtok(NULL, "/");
  char *op = strtok(NULL, "/");
  char *body = strtok(NULL, "");
  int rc = TARMAC_OK;
  if (!binding || !namespace_ || !op) {
    rc = tarmac_fail("want binding/namespace/operation[/body], got %s", payload);
  } else {
    uint8_t *out = NULL;
    size_t out_len = 0;
    int called = tarmac_host_call(binding, namespace_, op, body ? body : "",
                                  body ? strlen(body) : 0, &out, &out_len);
    rc = respond_prefixed(called == TARMAC_OK ? "ok:" : "error:", out, out_len);
    free(out);
  }
  free(route);
  return rc;
}

static int log_everywhere(const uint8_t *payload, size_t len) {
  static const char *const levels[] = {"trace", "debug", "info", "warn", "error"};
  for (size_t i = 0; i < sizeof(levels) / sizeof(levels[0]); i++) {
    if (tarmac_log(levels[i], "%s (%s)", (const char *)payload, levels[i]) != TARMAC_OK)
      return tarmac_fail("the host refused a %s log line", levels[i]);
  }
  tarmac_console_log((const char *)payload);
  return tarmac_respond_str("logged");
}

TARMAC_INIT(register_operations) {
  tarmac_register("echo", echo);
  tarmac_register("checksum", checksum);
  tarmac_register("generate", generate);
  tarmac_register("fail", fail);
  tarmac_register("unsuccessful", unsuccessful);
  tarmac_register("operation", operation);
  tarmac_register("register_twice", register_twice);
  tarmac_register("host_call", host_call);
  tarmac_register("log", log_everywhere);
}
