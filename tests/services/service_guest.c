/* service_guest: a v0.4 function (operation "handler") whose behaviour the
 * request body chooses, so one module can play many functions of a service
 * file:
 *   fail                  fails with "failed on purpose"
 *   call <name> <payload> calls function <name> with <payload> through
 *                         host_call("tarmac", "function", <name>) and
 *                         answers "<name> said: <result>", or fails with
 *                         "<name> failed: <callee's error>"
 *   chain <a>,<b>,...     calls <a> with "chain <b>,..." and answers its
 *                         result; "chain " with no name left answers
 *                         "chain end" (deep chains, and cycles when the
 *                         names repeat); a callee error fails as for call
 *   spin                  logs "spinning" and computes forever (deadlines)
 *   sleep <ms>            logs "sleeping <ms>", sleeps (WASI
 *                         poll_oneoff), answers "slept <ms>"
 *   trap                  traps (unreachable)
 *   metric                sends counter svc_hits_total, gauge svc_level
 *                         (inc) and histogram svc_latency_seconds (0.25)
 *                         to tarmac/metrics as JSON, answers "metrics sent"
 *   anything else         echoes the body */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "tarmac.h"

/* Calls function `name` (name_len bytes) with the payload and answers
 * "<name> said: <result>" when `prefixed`, else the result as is. */
static int call_function(const char *name, size_t name_len,
                         const char *payload, size_t len, int prefixed) {
  char callee[128];
  if (name_len == 0 || name_len >= sizeof(callee))
    return tarmac_fail("bad function name in the request");
  memcpy(callee, name, name_len);
  callee[name_len] = '\0';
  uint8_t *out = NULL;
  size_t out_len = 0;
  int rc = tarmac_host_call("tarmac", "function", callee, payload, len, &out,
                            &out_len);
  if (rc != TARMAC_OK) {
    rc = tarmac_fail("%s failed: %s", callee, out ? (char *)out : "");
  } else if (prefixed) {
    size_t size = name_len + out_len + 16;
    char *answer = malloc(size);
    int n = answer ? snprintf(answer, size, "%s said: %s", callee,
                              out ? (char *)out : "")
                   : -1;
    rc = n < 0 ? tarmac_fail("out of memory") : tarmac_respond(answer, (size_t)n);
    free(answer);
  } else {
    rc = tarmac_respond(out, out_len);
  }
  free(out);
  return rc;
}

static int call(const char *args) {
  size_t name_len = strcspn(args, " ");
  const char *payload = args[name_len] ? args + name_len + 1 : "";
  return call_function(args, name_len, payload, strlen(payload), 1);
}

static int chain(const char *names) {
  if (*names == '\0') return tarmac_respond_str("chain end");
  size_t first = strcspn(names, ",");
  const char *rest = names[first] ? names + first + 1 : "";
  size_t size = strlen(rest) + 8;
  char *payload = malloc(size);
  if (payload == NULL) return tarmac_fail("out of memory");
  int n = snprintf(payload, size, "chain %s", rest);
  int rc = call_function(names, first, payload, (size_t)n, 0);
  free(payload);
  return rc;
}

static void spin_forever(void) {
  volatile unsigned long counter = 0;
  for (;;) counter++;
}

static int sleep_then_answer(const char *ms_text) {
  long ms = strtol(ms_text, NULL, 10);
  if (ms < 0 || ms > 60000) return tarmac_fail("sleep: 0..60000 ms");
  tarmac_log_info("sleeping %ld", ms);
  struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
  nanosleep(&ts, NULL);
  char answer[32];
  snprintf(answer, sizeof(answer), "slept %ld", ms);
  return tarmac_respond_str(answer);
}

static int send_metric(const char *kind, const char *json) {
  uint8_t *out = NULL;
  int rc = tarmac_host_call("tarmac", "metrics", kind, json, strlen(json),
                            &out, NULL);
  if (rc != TARMAC_OK)
    rc = tarmac_fail("metrics %s failed: %s", kind, out ? (char *)out : "");
  free(out);
  return rc;
}

static int metrics(void) {
  if (send_metric("counter", "{\"name\":\"svc_hits_total\"}") != TARMAC_OK ||
      send_metric("gauge", "{\"name\":\"svc_level\",\"action\":\"inc\"}") !=
          TARMAC_OK ||
      send_metric("histogram",
                  "{\"name\":\"svc_latency_seconds\",\"value\":0.25}") !=
          TARMAC_OK)
    return TARMAC_ERROR;
  return tarmac_respond_str("metrics sent");
}

static int handle(const uint8_t *payload, size_t len) {
  const char *body = (const char *)payload; /* NUL-terminated by the SDK */
  if (strcmp(body, "fail") == 0) return tarmac_fail("failed on purpose");
  if (strncmp(body, "call ", 5) == 0) return call(body + 5);
  if (strncmp(body, "chain ", 6) == 0) return chain(body + 6);
  if (strcmp(body, "spin") == 0) {
    tarmac_log_info("spinning");
    spin_forever();
  }
  if (strcmp(body, "trap") == 0) __builtin_trap();
  if (strncmp(body, "sleep ", 6) == 0) return sleep_then_answer(body + 6);
  if (strcmp(body, "metric") == 0) return metrics();
  return tarmac_respond(payload, len);
}

TARMAC_INIT(register_operations) { tarmac_register("handler", handle); }
