/* kv_guest: drives tarmac/kvstore for tests/state/e2e_kvstore.py. v0.4
 * contract (raw body in, raw body out; a failure is a 500 with its text).
 * The body is a command:
 *   sdk get KEY            -> the value            (tarmac_kv_get)
 *   sdk set KEY VALUE      -> "ok"                 (tarmac_kv_set)
 *   sdk delete KEY         -> "ok"                 (tarmac_kv_delete)
 *   sdk keys               -> the keys, sorted, one per line (tarmac_kv_keys)
 *   raw OP PAYLOAD         -> the host's reply bytes: PAYLOAD (any bytes,
 *                             after "raw OP ") is sent as is, so the test
 *                             chooses exactly the JSON of older SDKs or the
 *                             protobuf of the current Go SDK
 *   spin N COMMAND         -> COMMAND, after a busy loop of N iterations
 * A failed host call fails the invocation with the host's error text. */
#include <stdlib.h>
#include <string.h>

#include "tarmac.h"

static int fail_with(uint8_t *text, size_t len) {
  int rc = tarmac_fail("%.*s", (int)len, text ? (const char *)text : "");
  free(text);
  return rc;
}

static int by_name(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

static int keys_command(void) {
  char **keys;
  size_t count, len;
  uint8_t *err = NULL;
  if (tarmac_kv_keys(&keys, &count, &err, &len) != TARMAC_OK)
    return fail_with(err, len);
  qsort(keys, count, sizeof *keys, by_name);
  size_t total = 1;
  for (size_t i = 0; i < count; i++) total += strlen(keys[i]) + 1;
  char *text = calloc(1, total);
  if (!text) return tarmac_fail("out of memory");
  for (size_t i = 0; i < count; i++) {
    strcat(text, keys[i]);
    strcat(text, "\n");
  }
  tarmac_kv_keys_free(keys, count);
  int rc = tarmac_respond_str(text);
  free(text);
  return rc;
}

/* "get KEY", "set KEY VALUE", "delete KEY" (args is NUL-terminated). */
static int sdk_command(char *args) {
  char *op = strtok(args, " "), *key = strtok(NULL, " ");
  char *value = strtok(NULL, "");
  uint8_t *out = NULL;
  size_t len = 0;
  int rc;
  if (op && strcmp(op, "keys") == 0) return keys_command();
  if (!op || !key) return tarmac_fail("usage: sdk get|set|delete KEY [VALUE]");
  if (strcmp(op, "get") == 0)
    rc = tarmac_kv_get(key, &out, &len);
  else if (strcmp(op, "set") == 0)
    rc = tarmac_kv_set(key, value ? value : "", value ? strlen(value) : 0,
                       &out, &len);
  else if (strcmp(op, "delete") == 0)
    rc = tarmac_kv_delete(key, &out, &len);
  else
    return tarmac_fail("unknown sdk operation %s", op);
  if (rc != TARMAC_OK) return fail_with(out, len);
  rc = strcmp(op, "get") == 0 ? tarmac_respond(out, len)
                              : tarmac_respond_str("ok");
  free(out);
  return rc;
}

/* "OP PAYLOAD": the payload starts after the first space after OP. */
static int raw_command(const uint8_t *body, size_t len) {
  const uint8_t *space = memchr(body, ' ', len);
  size_t op_len = space ? (size_t)(space - body) : len;
  char op[32];
  if (op_len == 0 || op_len >= sizeof op) return tarmac_fail("usage: raw OP PAYLOAD");
  memcpy(op, body, op_len);
  op[op_len] = '\0';
  const uint8_t *payload = space ? space + 1 : body + len;
  uint8_t *out = NULL;
  size_t out_len = 0;
  if (tarmac_host_call("tarmac", "kvstore", op, payload,
                       (size_t)(body + len - payload), &out,
                       &out_len) != TARMAC_OK)
    return fail_with(out, out_len);
  int rc = tarmac_respond(out, out_len);
  free(out);
  return rc;
}

/* "spin N COMMAND": N iterations of a busy loop first (a guest that
 * computes past the watchdog's period, then uses the store). */
static size_t spin_prefix(const uint8_t *payload, size_t len) {
  if (len < 6 || memcmp(payload, "spin ", 5) != 0) return 0;
  size_t i = 5;
  unsigned long n = 0;
  while (i < len && payload[i] >= '0' && payload[i] <= '9')
    n = n * 10 + (unsigned long)(payload[i++] - '0');
  volatile unsigned long sink = 0;
  for (unsigned long k = 0; k < n; k++) sink = sink + k;
  (void)sink;
  return i < len && payload[i] == ' ' ? i + 1 : i;
}

static int handle(const uint8_t *payload, size_t len) {
  size_t skip = spin_prefix(payload, len);
  payload += skip;
  len -= skip;
  if (len > 4 && memcmp(payload, "raw ", 4) == 0)
    return raw_command(payload + 4, len - 4);
  if (len > 4 && memcmp(payload, "sdk ", 4) == 0) {
    char *args = strndup((const char *)payload + 4, len - 4);
    if (!args) return tarmac_fail("out of memory");
    int rc = sdk_command(args);
    free(args);
    return rc;
  }
  return tarmac_fail("usage: sdk ... | raw ...");
}

TARMAC_INIT(register_operations) { tarmac_register("handler", handle); }
