/* Fuzz target: configuration values (src/server/config.c,
 * src/util/bytesize.c and src/util/duration.c). Input: one byte choosing a setting, then its value
 * text. Property: the value is accepted exactly when a model of the
 * documented syntax and range (docs/configuration.md, written out again
 * here on purpose) accepts it, and then the setting holds the model's
 * value; a refusal names the variable. */
#include <strings.h>

#include "fuzz.h"
#include "server/config.h"

typedef enum { UINT, SIZE, DURATION, BOOL, STRING } kind_t;

typedef struct {
  const char *name;
  kind_t kind;
  uint64_t min, max; /* strings: max is the longest accepted length */
} documented_t;

#define PAGES_MAX (65535ull * 65536)
static const documented_t documented[] = {
    {"APP_EVENT_LOOPS", UINT, 1, 256},
    {"APP_MAX_THREADS_PER_LOOP", UINT, 2, 4096},
    {"APP_HANDOFF_MS", UINT, 1, 60000},
    {"APP_WASM_POOL_SIZE", UINT, 1, 100000},
    {"APP_IDLE_TIMEOUT_MS", UINT, 1, 3600000},
    {"APP_HTTP2_MAX_STREAMS", UINT, 1, 256},
    {"APP_HTTP2_MAX_RESETS", UINT, 1, 1000000},
    {"APP_SHUTDOWN_TIMEOUT_MS", UINT, 0, 3600000},
    {"APP_WASM_MEMORY_LIMIT", SIZE, 65536, PAGES_MAX},
    {"APP_MAX_BODY_SIZE", SIZE, 1, 1ull << 30},
    {"APP_MAX_HEADER_SIZE", SIZE, 1, 1ull << 30},
    {"APP_WASM_TIMEOUT", DURATION, 1, 3600000},
    {"APP_ENABLE_TLS", BOOL, 0, 1},
    {"APP_DEBUG", BOOL, 0, 1},
    {"APP_LISTEN_ADDR", STRING, 0, 255},
    {"APP_WASM_MODULE", STRING, 0, 4095},
};

/* Digits, saturating at UINT64_MAX; *end at the first non-digit. */
static uint64_t digits(const char *s, const char **end) {
  uint64_t v = 0;
  bool over = false;
  for (; *s >= '0' && *s <= '9'; s++) {
    if (v > (UINT64_MAX - (uint64_t)(*s - '0')) / 10) over = true;
    v = over ? UINT64_MAX : v * 10 + (uint64_t)(*s - '0');
  }
  *end = s;
  return v;
}

/* The model: true and *value when the text is valid and in range. */
static bool model_number(const documented_t *d, const char *text,
                         uint64_t *value) {
  const char *end;
  if (*text < '0' || *text > '9') return false;
  uint64_t v = digits(text, &end);
  unsigned shift = 0;
  uint64_t scale = 1; /* durations: milliseconds per unit */
  if (d->kind == DURATION) {
    scale = !strcmp(end, "s") ? 1000 : !strcmp(end, "m") ? 60000
          : !strcmp(end, "h") ? 3600000 : 1;
    end += !strcmp(end, "ms") ? 2 : scale > 1 ? 1 : 0;
  }
  if (d->kind == SIZE) {
    char c = (char)(*end | 0x20);
    shift = c == 'k' ? 10 : c == 'm' ? 20 : c == 'g' ? 30 : 0;
    if (shift && (*++end | 0x20) == 'i') end++;
    if ((*end | 0x20) == 'b') end++;
  }
  if (*end != '\0' || v == UINT64_MAX || v > (UINT64_MAX >> shift) ||
      v > UINT64_MAX / scale)
    return false;
  *value = (v << shift) * scale;
  return *value >= d->min && *value <= d->max;
}

static bool model_bool(const char *text, bool *value) {
  static const char *const words[] = {"false", "0", "no",  "off",
                                      "true",  "1", "yes", "on"};
  for (int i = 0; i < 8; i++)
    if (strcasecmp(text, words[i]) == 0) return *value = i >= 4, true;
  return false;
}

/* The field the setting fills, read back as a number. */
static uint64_t field(const tarmac_server_config_t *c, const char *name) {
  if (!strcmp(name, "APP_EVENT_LOOPS")) return c->event_loops;
  if (!strcmp(name, "APP_MAX_THREADS_PER_LOOP")) return c->max_threads_per_loop;
  if (!strcmp(name, "APP_HANDOFF_MS")) return c->handoff_ms;
  if (!strcmp(name, "APP_WASM_POOL_SIZE")) return c->pool_size;
  if (!strcmp(name, "APP_IDLE_TIMEOUT_MS")) return c->idle_timeout_ms;
  if (!strcmp(name, "APP_HTTP2_MAX_STREAMS")) return c->http2_max_streams;
  if (!strcmp(name, "APP_HTTP2_MAX_RESETS")) return c->http2_max_resets;
  if (!strcmp(name, "APP_SHUTDOWN_TIMEOUT_MS")) return c->shutdown_timeout_ms;
  if (!strcmp(name, "APP_WASM_MEMORY_LIMIT")) return c->memory_limit;
  if (!strcmp(name, "APP_MAX_BODY_SIZE")) return c->max_body_bytes;
  if (!strcmp(name, "APP_MAX_HEADER_SIZE")) return c->max_header_bytes;
  if (!strcmp(name, "APP_WASM_TIMEOUT")) return c->timeout_ms;
  if (!strcmp(name, "APP_ENABLE_TLS")) return c->enable_tls;
  if (!strcmp(name, "APP_DEBUG")) return c->debug;
  abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size == 0) return 0;
  const documented_t *d =
      &documented[data[0] % (sizeof documented / sizeof documented[0])];
  char *text = strndup((const char *)data + 1, size - 1); /* to a NUL */
  FUZZ_REQUIRE(text != NULL, "out of memory");
  tarmac_server_config_t c;
  char err[512] = "";
  tarmac_server_config_defaults(&c);
  int rc = tarmac_server_config_set(&c, d->name, text, err, sizeof err);
  uint64_t want = 0;
  bool flag = false, ok;
  switch (d->kind) {
    case BOOL: ok = model_bool(text, &flag); want = flag; break;
    case STRING: ok = strlen(text) <= d->max; break;
    default: ok = model_number(d, text, &want); break;
  }
  FUZZ_REQUIRE((rc == 0) == ok, "%s=\"%s\": set says %d, the model %d (%s)",
               d->name, text, rc, ok, err);
  if (rc != 0)
    FUZZ_REQUIRE(strstr(err, d->name) != NULL, "message \"%s\"", err);
  else if (d->kind == STRING)
    FUZZ_REQUIRE(strcmp(!strcmp(d->name, "APP_LISTEN_ADDR") ? c.listen_addr
                                                            : c.wasm_module,
                        text) == 0, "%s not stored", d->name);
  else
    FUZZ_REQUIRE(field(&c, d->name) == want, "%s=\"%s\" stored %llu, not %llu",
                 d->name, text, (unsigned long long)field(&c, d->name),
                 (unsigned long long)want);
  free(text);
  return 0;
}
