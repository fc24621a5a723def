/* Fuzz target: configuration values (src/server/config.c,
 * src/util/bytesize.c and src/util/duration.c). Input: one byte choosing a
 * setting, then its value text. Property: the value is accepted exactly
 * when a model of the documented syntax and range (docs/configuration.md,
 * written out again here on purpose) accepts it, and then the setting's
 * field (its offset written out here too) holds the model's value; a
 * refusal names the variable. The model covers every setting: at start
 * the target checks that the table and the model list the same names, so
 * a setting added without its row here fails at once. */
#include <stddef.h>
#include <strings.h>

#include "fuzz.h"
#include "server/config.h"

typedef enum { UINT, SIZE, DURATION, BOOL, STRING } kind_t;

typedef struct {
  const char *name;
  kind_t kind;
  uint64_t min, max; /* strings: max is the longest accepted length */
  size_t offset;     /* of the field it fills */
} documented_t;

#define AT(f) offsetof(tarmac_server_config_t, f)
#define PAGES_MAX (65535ull * 65536)
#define HOUR_MS 3600000
static const documented_t documented[] = {
    /* Serving */
    {"APP_LISTEN_ADDR", STRING, 0, 255, AT(listen_addr)},
    {"APP_ENABLE_TLS", BOOL, 0, 1, AT(enable_tls)},
    {"APP_CERT_FILE", STRING, 0, 4095, AT(cert_file)},
    {"APP_KEY_FILE", STRING, 0, 4095, AT(key_file)},
    {"APP_CA_FILE", STRING, 0, 4095, AT(ca_file)},
    {"APP_IGNORE_CLIENT_CERT", BOOL, 0, 1, AT(ignore_client_cert)},
    {"APP_WASM_FUNCTION_CONFIG", STRING, 0, 4095, AT(wasm_function_config)},
    {"APP_WASM_FUNCTION", STRING, 0, 4095, AT(wasm_module)},
    {"APP_WASM_MODULE", STRING, 0, 4095, AT(wasm_module)},
    {"APP_WASM_CONTRACT", STRING, 0, 15, AT(wasm_contract)},
    {"APP_RUN_MODE", STRING, 0, 15, AT(run_mode)},
    {"APP_ENABLE_METRICS", BOOL, 0, 1, AT(enable_metrics)},
    {"APP_ENABLE_MAINTENANCE_MODE", BOOL, 0, 1, AT(maintenance_mode)},
    /* Logging */
    {"APP_DEBUG", BOOL, 0, 1, AT(debug)},
    {"APP_WATCH_CONFIG", BOOL, 0, 1, AT(watch_config)},
    {"APP_TRACE", BOOL, 0, 1, AT(trace)},
    {"APP_DISABLE_LOGGING", BOOL, 0, 1, AT(disable_logging)},
    {"APP_TEXT_LOG_FORMAT", BOOL, 0, 1, AT(text_log_format)},
    /* Functions */
    {"APP_WASM_POOL_SIZE", UINT, 1, 100000, AT(pool_size)},
    {"APP_WASM_POOL_WAIT", DURATION, 0, 60000, AT(pool_wait_ms)},
    {"APP_WASM_CALL_DEPTH_LIMIT", UINT, 1, 32, AT(call_depth_limit)},
    {"APP_WASM_REUSE_INSTANCES", BOOL, 0, 1, AT(reuse_instances)},
    {"APP_WASM_MEMORY_TOTAL_LIMIT", SIZE, 65536, 1ull << 50,
     AT(memory_total_limit)},
    {"APP_WASM_TIMEOUT", DURATION, 1, HOUR_MS, AT(timeout_ms)},
    {"APP_WASM_MEMORY_LIMIT", SIZE, 65536, PAGES_MAX, AT(memory_limit)},
    {"APP_WASM_MAX_CONCURRENCY", UINT, 1, 1000000, AT(max_concurrency)},
    {"APP_WASM_QUEUE_TIMEOUT_MS", UINT, 0, 60000, AT(queue_timeout_ms)},
    /* Threads */
    {"APP_EVENT_LOOPS", UINT, 1, 256, AT(event_loops)},
    {"APP_HANDOFF_MS", UINT, 1, 60000, AT(handoff_ms)},
    {"APP_HANDOFF_BEFORE_WAIT", BOOL, 0, 1, AT(handoff_before_wait)},
    {"APP_MAX_THREADS_PER_LOOP", UINT, 2, 4096, AT(max_threads_per_loop)},
    /* Limits */
    {"APP_MAX_BODY_SIZE", SIZE, 1, 1ull << 30, AT(max_body_bytes)},
    {"APP_MAX_HEADER_SIZE", SIZE, 1, 1ull << 30, AT(max_header_bytes)},
    {"APP_MAX_HEADER_COUNT", UINT, 1, 100000, AT(max_header_count)},
    {"APP_IDLE_TIMEOUT_MS", UINT, 1, HOUR_MS, AT(idle_timeout_ms)},
    {"APP_HTTP2_MAX_STREAMS", UINT, 1, 256, AT(http2_max_streams)},
    {"APP_HTTP2_MAX_RESETS", UINT, 1, 1000000, AT(http2_max_resets)},
    {"APP_SEND_TIMEOUT_MS", UINT, 1, HOUR_MS, AT(send_timeout_ms)},
    {"APP_MAX_BUFFERED_RESPONSE_BYTES", SIZE, 1ull << 20, 1ull << 40,
     AT(max_buffered_response_bytes)},
    {"APP_SHUTDOWN_TIMEOUT_MS", UINT, 0, HOUR_MS, AT(shutdown_timeout_ms)},
    /* Key-value store */
    {"APP_ENABLE_KVSTORE", BOOL, 0, 1, AT(enable_kvstore)},
    {"APP_KVSTORE_TYPE", STRING, 0, 15, AT(kvstore_type)},
    {"APP_KVSTORE_PATH", STRING, 0, 4095, AT(kvstore_path)},
    {"APP_KVSTORE_MAP_SIZE", SIZE, 1ull << 20, 1ull << 40,
     AT(kvstore_map_size)},
    {"APP_KVSTORE_MEMORY_LIMIT", SIZE, 1024, 1ull << 50,
     AT(kvstore_memory_limit)},
    {"APP_REDIS_SERVER", STRING, 0, 511, AT(redis_server)},
    {"APP_REDIS_PASSWORD", STRING, 0, 511, AT(redis_password)},
    {"APP_REDIS_DATABASE", UINT, 0, 65535, AT(redis_database)},
    {"APP_REDIS_CONNECT_TIMEOUT", DURATION, 1, 60000,
     AT(redis_connect_timeout_ms)},
    {"APP_REDIS_READ_TIMEOUT", DURATION, 1, 60000, AT(redis_read_timeout_ms)},
    {"APP_REDIS_WRITE_TIMEOUT", DURATION, 1, 60000,
     AT(redis_write_timeout_ms)},
    {"APP_REDIS_POOL_SIZE", UINT, 1, 1024, AT(redis_pool_size)},
    {"APP_REDIS_CHECK_INTERVAL", DURATION, 10, 60000,
     AT(redis_check_interval_ms)},
    /* HTTP client */
    {"APP_HTTP_CLIENT_MAX_RESPONSE_BODY_SIZE", SIZE, 1, 1ull << 30,
     AT(http_client_max_response_bytes)},
    {"APP_HTTP_CLIENT_CONNECT_TIMEOUT", DURATION, 1, HOUR_MS,
     AT(http_client_connect_timeout_ms)},
    {"APP_HTTP_CLIENT_TIMEOUT", DURATION, 1, HOUR_MS,
     AT(http_client_timeout_ms)},
    {"APP_HTTP_CLIENT_MAX_REDIRECTS", UINT, 0, 100,
     AT(http_client_max_redirects)},
    {"APP_HTTP_CLIENT_ALLOW", STRING, 0, 4095, AT(http_client_allow)},
    /* SQL */
    {"APP_ENABLE_SQL", BOOL, 0, 1, AT(enable_sql)},
    {"APP_SQL_TYPE", STRING, 0, 31, AT(sql_type)},
    {"APP_SQL_DSN", STRING, 0, 4095, AT(sql_dsn)},
    {"APP_SQL_POOL_SIZE", UINT, 1, 1000, AT(sql_pool_size)},
    {"APP_SQL_CONNECT_TIMEOUT", DURATION, 1, HOUR_MS,
     AT(sql_connect_timeout_ms)},
    {"APP_SQL_QUERY_TIMEOUT", DURATION, 1, HOUR_MS, AT(sql_query_timeout_ms)},
    {"APP_SQL_MAX_RESULT_SIZE", SIZE, 2, 1ull << 28, AT(sql_max_result_bytes)},
    {"APP_SQL_CHECK_INTERVAL", DURATION, 10, 60000,
     AT(sql_check_interval_ms)},
};
#define DOCUMENTED (sizeof documented / sizeof documented[0])

static const documented_t *find_documented(const char *name) {
  for (size_t i = 0; i < DOCUMENTED; i++)
    if (strcmp(documented[i].name, name) == 0) return &documented[i];
  return NULL;
}

/* The model and the table list the same settings. */
int LLVMFuzzerInitialize(int *argc, char ***argv) {
  (void)argc, (void)argv;
  size_t count = tarmac_server_config_count();
  for (size_t i = 0; i < count; i++)
    FUZZ_REQUIRE(find_documented(tarmac_server_config_name(i)) != NULL,
                 "setting %s has no row in fuzz_config's model",
                 tarmac_server_config_name(i));
  FUZZ_REQUIRE(count == DOCUMENTED,
               "the model has %zu rows, the table %zu settings", DOCUMENTED,
               count);
  return 0;
}

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
static uint64_t field(const tarmac_server_config_t *c, const documented_t *d) {
  const char *at = (const char *)c + d->offset;
  unsigned u;
  uint64_t u64;
  bool b;
  switch (d->kind) {
    case UINT:
    case DURATION: memcpy(&u, at, sizeof u); return u;
    case SIZE: memcpy(&u64, at, sizeof u64); return u64;
    case BOOL: memcpy(&b, at, sizeof b); return b;
    case STRING: break;
  }
  abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size == 0) return 0;
  const documented_t *d = &documented[data[0] % DOCUMENTED];
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
    FUZZ_REQUIRE(strcmp((const char *)&c + d->offset, text) == 0,
                 "%s not stored", d->name);
  else
    FUZZ_REQUIRE(field(&c, d) == want, "%s=\"%s\" stored %llu, not %llu",
                 d->name, text, (unsigned long long)field(&c, d),
                 (unsigned long long)want);
  free(text);
  return 0;
}
