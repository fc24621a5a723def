/* metrics_guest: a C guest (sdk/c) that drives the SDK's metric and
 * function-call helpers through the real host (test_guest_metrics.c):
 *   counter    payload <name>: tarmac_metric_counter
 *   gauge      payload "<name> <action>": tarmac_metric_gauge
 *   histogram  payload "<name> <value>": tarmac_metric_histogram
 *   call       payload "<function> <body>": tarmac_call_function
 * Each answers "ok" or "error" ("ok:<response>" / "error:<text>" for
 * call). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tarmac.h"

static int answer(int rc) {
  return tarmac_respond_str(rc == TARMAC_OK ? "ok" : "error");
}

static int counter(const uint8_t *payload, size_t len) {
  return answer(tarmac_metric_counter((const char *)payload));
}

/* Splits "<first> <rest>" in place; rest is "" without a space. */
static char *split(const uint8_t *payload) {
  char *space = strchr((char *)payload, ' ');
  if (!space) return "";
  *space = '\0';
  return space + 1;
}

static int gauge(const uint8_t *payload, size_t len) {
  const char *action = split(payload);
  return answer(tarmac_metric_gauge((const char *)payload, action));
}

static int histogram(const uint8_t *payload, size_t len) {
  double value = strtod(split(payload), NULL);
  return answer(tarmac_metric_histogram((const char *)payload, value));
}

static int call(const uint8_t *payload, size_t len) {
  const char *body = split(payload);
  uint8_t *out = NULL;
  size_t out_len = 0;
  int rc = tarmac_call_function((const char *)payload, body, strlen(body), &out,
                                &out_len);
  size_t text_len = out_len + 8;
  char *text = malloc(text_len);
  if (!text) return tarmac_fail("out of memory");
  snprintf(text, text_len, "%s:%s", rc == TARMAC_OK ? "ok" : "error",
           out ? (const char *)out : "");
  free(out);
  tarmac_respond_str(text);
  free(text);
  return TARMAC_OK;
}

TARMAC_INIT(setup) {
  tarmac_register("counter", counter);
  tarmac_register("gauge", gauge);
  tarmac_register("histogram", histogram);
  tarmac_register("call", call);
}
