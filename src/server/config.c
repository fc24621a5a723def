/* Server settings from APP_* environment variables and the settings file.
 * Every setting is one row of a table (name, kind, field, range), so
 * loading from either source, the single-value entry point used by
 * `tarmac call` and the fuzzers, and the checks are one code path. Values
 * are hostile: numbers are plain decimal digits, sizes may not overflow,
 * and anything outside a setting's range (including zero where zero means
 * nothing) is refused naming the variable and value. */
#include <errno.h>
#include <limits.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "runtime/runtime.h"
#include "server/config.h"
#include "util/bytesize.h"
#include "util/duration.h"
#include "util/problems.h"

typedef enum { KIND_STRING, KIND_BOOL, KIND_UINT, KIND_SIZE, KIND_DURATION } kind_t;

typedef struct {
  const char *name;
  kind_t kind;
  size_t offset; /* of the field in tarmac_server_config_t */
  size_t size;   /* strings: the field's capacity */
  uint64_t min, max;
} setting_t;

#define FIELD(f) offsetof(tarmac_server_config_t, f)
#define STRING(n, f) {n, KIND_STRING, FIELD(f), sizeof(((tarmac_server_config_t *)0)->f), 0, 0}
#define BOOL(n, f) {n, KIND_BOOL, FIELD(f), 0, 0, 1}
#define UINT(n, f, lo, hi) {n, KIND_UINT, FIELD(f), 0, lo, hi}
#define SIZE(n, f, lo, hi) {n, KIND_SIZE, FIELD(f), 0, lo, hi}
#define DURATION(n, f, lo, hi) {n, KIND_DURATION, FIELD(f), 0, lo, hi}

/* Guest memory: at least one 64 KiB page, at most what the runtime hands
 * out (TARMAC_RT_MAX_PAGES: wasm-rt.h keeps a memory's byte size in 32
 * bits, so 65536 pages = 4 GiB cannot be represented). */
#define GUEST_PAGE ((uint64_t)65536) /* wasm's page size, fixed by the spec */
#define MEMORY_MIN GUEST_PAGE
#define MEMORY_MAX ((uint64_t)TARMAC_RT_MAX_PAGES * GUEST_PAGE)
/* The process guest memory budget: at least one page; 1 PiB is beyond any
 * machine (and keeps sums of it far from overflow). */
#define TOTAL_MAX ((uint64_t)1 << 50)
/* Default budget: this share of the machine's memory, or of the cgroup's
 * limit when that is lower, leaves the rest to the server, the page cache
 * and whatever else runs there. */
#define TOTAL_SHARE_NUM 3u
#define TOTAL_SHARE_DEN 4u
/* Request bodies and header sections reach the guest base64-encoded in one
 * 32-bit memory, and OpenSSL's base64 takes int lengths: 1 GiB is the most
 * that can be honoured. */
#define REQUEST_MAX ((uint64_t)1 << 30)
/* Response bytes held for slow clients, split over the loops: below 1 MiB
 * a loop could not hold one ordinary response; 1 TiB is beyond any machine
 * this runs on. */
#define BUFFERED_MIN ((uint64_t)1 << 20)
#define BUFFERED_MAX ((uint64_t)1 << 40)
/* A guest's deadline: 1 ms is the finest the watchdog keeps; beyond an
 * hour a request is no longer a request (and a runaway holds its thread
 * that long). */
#define TIMEOUT_MIN_MS 1u
#define TIMEOUT_MAX_MS 3600000u
/* Nested function calls run on the caller's thread and stack: each level
 * holds a guest frame and its host-call frames (docs/architecture.md,
 * "Function calls"). */
#define CALL_DEPTH_MAX 32u
/* A request waiting for an instance holds a thread: beyond a minute it
 * is a hang, not a wait. */
#define POOL_WAIT_MAX_MS 60000u

/* In load order: APP_WASM_MODULE after APP_WASM_FUNCTION (it wins). */
static const setting_t settings[] = {
    STRING("APP_LISTEN_ADDR", listen_addr),
    STRING("APP_CERT_FILE", cert_file),
    STRING("APP_KEY_FILE", key_file),
    /* mutual TLS, as upstream (docs/configuration.md, "Mutual TLS") */
    STRING("APP_CA_FILE", ca_file),
    BOOL("APP_IGNORE_CLIENT_CERT", ignore_client_cert),
    STRING("APP_WASM_FUNCTION", wasm_module),
    STRING("APP_WASM_MODULE", wasm_module),
    STRING("APP_WASM_CONTRACT", wasm_contract),
    STRING("APP_WASM_FUNCTION_CONFIG", wasm_function_config),
    STRING("APP_RUN_MODE", run_mode),
    BOOL("APP_ENABLE_METRICS", enable_metrics),
    UINT("APP_WASM_CALL_DEPTH_LIMIT", call_depth_limit, 1, CALL_DEPTH_MAX),
    DURATION("APP_WASM_POOL_WAIT", pool_wait_ms, 0, POOL_WAIT_MAX_MS),
    BOOL("APP_ENABLE_TLS", enable_tls),
    BOOL("APP_DEBUG", debug),
    BOOL("APP_TRACE", trace),
    BOOL("APP_DISABLE_LOGGING", disable_logging),
    BOOL("APP_TEXT_LOG_FORMAT", text_log_format),
    BOOL("APP_ENABLE_MAINTENANCE_MODE", maintenance_mode),
    BOOL("APP_WATCH_CONFIG", watch_config),
    UINT("APP_EVENT_LOOPS", event_loops, 1, 256),
    UINT("APP_MAX_THREADS_PER_LOOP", max_threads_per_loop, 2, 4096),
    UINT("APP_HANDOFF_MS", handoff_ms, 1, 60000),
    /* waiting without idling a core (issue 9): hand the loop on before a
     * guest's wait instead of after APP_HANDOFF_MS */
    BOOL("APP_HANDOFF_BEFORE_WAIT", handoff_before_wait),
    UINT("APP_WASM_POOL_SIZE", pool_size, 1, 100000),
    UINT("APP_WASM_MAX_CONCURRENCY", max_concurrency, 1, 1000000),
    UINT("APP_WASM_QUEUE_TIMEOUT_MS", queue_timeout_ms, 0, 60000),
    SIZE("APP_WASM_MEMORY_LIMIT", memory_limit, MEMORY_MIN, MEMORY_MAX),
    BOOL("APP_WASM_REUSE_INSTANCES", reuse_instances),
    SIZE("APP_WASM_MEMORY_TOTAL_LIMIT", memory_total_limit, MEMORY_MIN,
         TOTAL_MAX),
    DURATION("APP_WASM_TIMEOUT", timeout_ms, TIMEOUT_MIN_MS, TIMEOUT_MAX_MS),
    SIZE("APP_MAX_BODY_SIZE", max_body_bytes, 1, REQUEST_MAX),
    SIZE("APP_MAX_HEADER_SIZE", max_header_bytes, 1, REQUEST_MAX),
    UINT("APP_MAX_HEADER_COUNT", max_header_count, 1, 100000),
    UINT("APP_SEND_TIMEOUT_MS", send_timeout_ms, 1, 3600000),
    SIZE("APP_MAX_BUFFERED_RESPONSE_BYTES", max_buffered_response_bytes,
         BUFFERED_MIN, BUFFERED_MAX),
    UINT("APP_IDLE_TIMEOUT_MS", idle_timeout_ms, 1, 3600000),
    UINT("APP_HTTP2_MAX_STREAMS", http2_max_streams, 1, 256),
    UINT("APP_HTTP2_MAX_RESETS", http2_max_resets, 1, 1000000),
    UINT("APP_SHUTDOWN_TIMEOUT_MS", shutdown_timeout_ms, 0, 3600000),
    /* Key-value store (tarmac/kvstore). Map size: LMDB needs room for a
     * few pages; 1 TiB of address space per store is plenty. Redis: a
     * timeout above a minute is a hang; 1024 connections is far beyond
     * what one server's threads can use. */
    BOOL("APP_ENABLE_KVSTORE", enable_kvstore),
    STRING("APP_KVSTORE_TYPE", kvstore_type),
    STRING("APP_KVSTORE_PATH", kvstore_path),
    SIZE("APP_KVSTORE_MAP_SIZE", kvstore_map_size, (uint64_t)1 << 20,
         (uint64_t)1 << 40),
    SIZE("APP_KVSTORE_MEMORY_LIMIT", kvstore_memory_limit, (uint64_t)1 << 10,
         TOTAL_MAX),
    STRING("APP_REDIS_SERVER", redis_server),
    STRING("APP_REDIS_PASSWORD", redis_password),
    UINT("APP_REDIS_DATABASE", redis_database, 0, 65535),
    DURATION("APP_REDIS_CONNECT_TIMEOUT", redis_connect_timeout_ms, 1, 60000),
    DURATION("APP_REDIS_READ_TIMEOUT", redis_read_timeout_ms, 1, 60000),
    DURATION("APP_REDIS_WRITE_TIMEOUT", redis_write_timeout_ms, 1, 60000),
    UINT("APP_REDIS_POOL_SIZE", redis_pool_size, 1, 1024),
    DURATION("APP_REDIS_CHECK_INTERVAL", redis_check_interval_ms, 10, 60000),
    /* HTTP client callback (tarmac/httpclient/call, callbacks/httpclient.h) */
    SIZE("APP_HTTP_CLIENT_MAX_RESPONSE_BODY_SIZE", http_client_max_response_bytes,
         1, REQUEST_MAX),
    DURATION("APP_HTTP_CLIENT_CONNECT_TIMEOUT", http_client_connect_timeout_ms,
             1, TIMEOUT_MAX_MS),
    DURATION("APP_HTTP_CLIENT_TIMEOUT", http_client_timeout_ms, 1,
             TIMEOUT_MAX_MS),
    UINT("APP_HTTP_CLIENT_MAX_REDIRECTS", http_client_max_redirects, 0, 100),
    STRING("APP_HTTP_CLIENT_ALLOW", http_client_allow),
    /* SQL (tarmac/sql callbacks): a pool beyond 1000 connections would
     * exhaust any database's connection slots; a result is held in memory
     * twice (rows, then the reply), so at most 256 MiB. */
    BOOL("APP_ENABLE_SQL", enable_sql),
    STRING("APP_SQL_TYPE", sql_type),
    STRING("APP_SQL_DSN", sql_dsn),
    UINT("APP_SQL_POOL_SIZE", sql_pool_size, 1, 1000),
    DURATION("APP_SQL_CONNECT_TIMEOUT", sql_connect_timeout_ms, 1,
             TIMEOUT_MAX_MS),
    DURATION("APP_SQL_QUERY_TIMEOUT", sql_query_timeout_ms, 1, TIMEOUT_MAX_MS),
    SIZE("APP_SQL_MAX_RESULT_SIZE", sql_max_result_bytes, 2, (uint64_t)1 << 28),
    DURATION("APP_SQL_CHECK_INTERVAL", sql_check_interval_ms, 10, 60000),
};

#define SETTING_COUNT (sizeof settings / sizeof settings[0])

static const setting_t *find_setting(const char *name) {
  for (size_t i = 0; i < SETTING_COUNT; i++)
    if (strcmp(settings[i].name, name) == 0) return &settings[i];
  return NULL;
}

static int parse_bool(const setting_t *s, const char *v, bool *out,
                      char *err, size_t err_size) {
  static const char *const yes[] = {"true", "1", "yes", "on", NULL};
  static const char *const no[] = {"false", "0", "no", "off", NULL};
  for (const char *const *t = yes; *t; t++)
    if (strcasecmp(v, *t) == 0) return *out = true, 0;
  for (const char *const *f = no; *f; f++)
    if (strcasecmp(v, *f) == 0) return *out = false, 0;
  snprintf(err, err_size, "%s=%s is not a boolean (true or false)", s->name,
           v);
  return -1;
}

/* Plain decimal digits only: strtoul would also take blanks, '+' and '-'
 * (wrapping "-1" to a huge number). */
static int parse_uint(const setting_t *s, const char *v, unsigned *out,
                      char *err, size_t err_size) {
  char *end;
  errno = 0;
  unsigned long long n = v[0] >= '0' && v[0] <= '9' ? strtoull(v, &end, 10)
                                                     : 0;
  if (v[0] < '0' || v[0] > '9' || errno != 0 || *end != '\0' || n < s->min ||
      n > s->max) {
    snprintf(err, err_size, "%s=%s is not a whole number from %llu to %llu",
             s->name, v, (unsigned long long)s->min,
             (unsigned long long)s->max);
    return -1;
  }
  *out = (unsigned)n;
  return 0;
}

/* "64KiB" for exact multiples, else a plain byte count. */
static void format_size(uint64_t bytes, char *out, size_t size) {
  static const char *const units[] = {"GiB", "MiB", "KiB"};
  for (int i = 0; i < 3; i++) {
    uint64_t unit = (uint64_t)1 << (30 - 10 * i);
    if (bytes >= unit && bytes % unit == 0) {
      snprintf(out, size, "%llu%s", (unsigned long long)(bytes / unit),
               units[i]);
      return;
    }
  }
  snprintf(out, size, "%llu byte%s", (unsigned long long)bytes,
           bytes == 1 ? "" : "s");
}

static int parse_size(const setting_t *s, const char *v, uint64_t *out,
                      char *err, size_t err_size) {
  uint64_t n = UINT64_MAX;
  int rc = tarmac_bytesize_parse(v, &n);
  if (rc == -1) {
    snprintf(err, err_size,
             "%s=%s is not a byte size (e.g. 10485760, 10M, 64KiB)", s->name,
             v);
    return -1;
  }
  if (rc != 0 || n < s->min || n > s->max) { /* -2: beyond 64 bits */
    char lo[32], hi[32];
    format_size(s->min, lo, sizeof lo);
    format_size(s->max, hi, sizeof hi);
    snprintf(err, err_size, "%s=%s is out of range: from %s to %s%s",
             s->name, v, lo, hi,
             s->max == MEMORY_MAX ? " (65535 pages: a 32-bit guest cannot "
                                    "have more)" : "");
    return -1;
  }
  *out = n;
  return 0;
}

/* "250ms", "30s", "1h": the largest unit that divides the value. */
static void format_duration(uint64_t ms, char *out, size_t size) {
  static const struct {
    const char *unit;
    uint64_t ms;
  } units[] = {{"h", 3600000}, {"m", 60000}, {"s", 1000}};
  for (size_t i = 0; i < sizeof units / sizeof units[0]; i++)
    if (ms >= units[i].ms && ms % units[i].ms == 0) {
      snprintf(out, size, "%llu%s", (unsigned long long)(ms / units[i].ms),
               units[i].unit);
      return;
    }
  snprintf(out, size, "%llums", (unsigned long long)ms);
}

static int parse_duration(const setting_t *s, const char *v, unsigned *out,
                          char *err, size_t err_size) {
  uint64_t ms = 0;
  int rc = tarmac_duration_parse_ms(v, &ms);
  if (rc == -1) {
    snprintf(err, err_size,
             "%s=%s is not a duration (e.g. 250ms, 30s, 2m, 1h; a bare "
             "number is milliseconds)", s->name, v);
    return -1;
  }
  if (rc != 0 || ms < s->min || ms > s->max) { /* -2: beyond 64 bits */
    char lo[32], hi[32];
    format_duration(s->min, lo, sizeof lo);
    format_duration(s->max, hi, sizeof hi);
    snprintf(err, err_size, "%s=%s is out of range: from %s to %s", s->name,
             v, lo, hi);
    return -1;
  }
  *out = (unsigned)ms;
  return 0;
}

static int parse_value(const setting_t *s, const char *v,
                       tarmac_server_config_t *c, char *err,
                       size_t err_size) {
  char *field = (char *)c + s->offset;
  switch (s->kind) {
    case KIND_BOOL: return parse_bool(s, v, (bool *)field, err, err_size);
    case KIND_UINT: return parse_uint(s, v, (unsigned *)field, err, err_size);
    case KIND_SIZE: return parse_size(s, v, (uint64_t *)field, err, err_size);
    case KIND_DURATION:
      return parse_duration(s, v, (unsigned *)field, err, err_size);
    case KIND_STRING: break;
  }
  if (strlen(v) >= s->size) {
    snprintf(err, err_size, "%s is too long (%zu bytes; at most %zu)",
             s->name, strlen(v), s->size - 1);
    return -1;
  }
  strcpy(field, v);
  return 0;
}

static unsigned cpu_count(void) {
  long n = sysconf(_SC_NPROCESSORS_ONLN);
  return n < 1 ? 1 : n > 256 ? 256 : (unsigned)n;
}

void tarmac_server_config_defaults(tarmac_server_config_t *c) {
  memset(c, 0, sizeof(*c));
  strcpy(c->listen_addr, "0.0.0.0:8443");
  strcpy(c->cert_file, "/certs/cert.crt");
  strcpy(c->key_file, "/certs/key.key");
  strcpy(c->wasm_module, "/functions/tarmac.wasm");
  strcpy(c->run_mode, "daemon");
  c->enable_metrics = true;
  c->watch_config = true;
  c->call_depth_limit = 8;
  c->pool_wait_ms = 5000;
  c->enable_tls = true;
  c->event_loops = cpu_count();
  c->max_threads_per_loop = 64;
  c->handoff_ms = 10;
  c->handoff_before_wait = true;
  c->pool_size = 100; /* Tarmac's default; instances are made on demand */
  c->max_concurrency = 0; /* a quarter of the threads, once known */
  c->queue_timeout_ms = 100;
  c->memory_limit = 0;
  c->timeout_ms = 30000; /* TARMAC_ENGINE_DEFAULT_TIMEOUT_MS: see engine.h */
  c->max_body_bytes = 10u << 20;
  c->max_header_bytes = 64u << 10;
  c->max_header_count = 64;
  c->send_timeout_ms = 30000;
  c->max_buffered_response_bytes = 256u << 20;
  c->idle_timeout_ms = 10000;
  c->http2_max_streams = 100;
  c->http2_max_resets = 100;
  c->shutdown_timeout_ms = 10000;
  /* Key-value store */
  strcpy(c->kvstore_type, "internal");
  strcpy(c->kvstore_path, "tarmac.lmdb");
  c->kvstore_map_size = (uint64_t)1 << 30;
  c->kvstore_memory_limit = (uint64_t)256 << 20;
  strcpy(c->redis_server, "localhost:6379");
  c->redis_connect_timeout_ms = 1000;
  c->redis_read_timeout_ms = 3000;
  c->redis_write_timeout_ms = 3000;
  c->redis_pool_size = 16;
  c->redis_check_interval_ms = 1000;
  /* HTTP client callback: upstream Tarmac's 10 MiB body cap */
  c->http_client_max_response_bytes = 10u << 20;
  c->http_client_connect_timeout_ms = 5000;
  c->http_client_timeout_ms = 30000;
  c->http_client_max_redirects = 10;
  strcpy(c->sql_type, "sqlite"); /* SQL */
  c->sql_pool_size = 10;
  c->sql_connect_timeout_ms = 5000;
  c->sql_query_timeout_ms = 30000;
  c->sql_max_result_bytes = 16u << 20;
  c->sql_check_interval_ms = 1000;
}

/* A quarter of the HTTP threads: running guests plus as many waiting for a
 * slot then hold at most half of them, leaving the rest to drive the loops
 * and serve other functions and the built-in endpoints. */
unsigned tarmac_server_config_default_concurrency(
    const tarmac_server_config_t *c) {
  uint64_t threads = (uint64_t)c->event_loops * c->max_threads_per_loop;
  uint64_t quarter = threads / 4;
  return quarter < 1 ? 1 : quarter > 1000000 ? 1000000 : (unsigned)quarter;
}

int tarmac_server_config_set(tarmac_server_config_t *c, const char *name,
                             const char *value, char *err, size_t err_size) {
  const setting_t *s = find_setting(name);
  if (s == NULL) {
    snprintf(err, err_size, "%s is not a setting", name);
    return -1;
  }
  return parse_value(s, value, c, err, err_size);
}

/* One setting's text checked alone, exactly as _load checks it. */
static int check_alone(const char *name, const char *value,
                       tarmac_server_config_t *c, char *err, size_t err_size) {
  tarmac_server_config_defaults(c);
  return tarmac_server_config_set(c, name, value, err, err_size);
}

int tarmac_server_config_memory_limit(const char *value, uint64_t *out,
                                      char *err, size_t err_size) {
  tarmac_server_config_t c;
  if (check_alone("APP_WASM_MEMORY_LIMIT", value, &c, err, err_size) != 0)
    return -1;
  *out = c.memory_limit;
  return 0;
}

/* cgroup v2's limit for this process's group ("max" or absent: none). */
static uint64_t cgroup_memory_limit(void) {
  FILE *f = fopen("/sys/fs/cgroup/memory.max", "r");
  unsigned long long limit = 0;
  if (f == NULL) return 0;
  if (fscanf(f, "%llu", &limit) != 1) limit = 0;
  fclose(f);
  return limit;
}

uint64_t tarmac_server_config_default_memory_total(void) {
  long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE);
  uint64_t memory = pages > 0 && page > 0 ? (uint64_t)pages * (uint64_t)page
                                          : (uint64_t)1 << 30;
  uint64_t cgroup = cgroup_memory_limit();
  if (cgroup != 0 && cgroup < memory) memory = cgroup;
  uint64_t total = memory / TOTAL_SHARE_DEN * TOTAL_SHARE_NUM;
  return total < MEMORY_MIN ? MEMORY_MIN : total;
}

int tarmac_server_config_timeout(const char *value, unsigned *out_ms,
                                 char *err, size_t err_size) {
  tarmac_server_config_t c;
  if (check_alone("APP_WASM_TIMEOUT", value, &c, err, err_size) != 0)
    return -1;
  *out_ms = c.timeout_ms;
  return 0;
}

/* parse_value, then the settings with a fixed set of values. */
static int parse_checked(const setting_t *s, const char *v,
                         tarmac_server_config_t *c, char *err,
                         size_t err_size) {
  if (parse_value(s, v, c, err, err_size) != 0) return -1;
  if (strcmp(s->name, "APP_RUN_MODE") == 0 && strcmp(v, "daemon") != 0 &&
      strcmp(v, "job") != 0) {
    snprintf(err, err_size, "APP_RUN_MODE=%s is not a run mode (daemon or "
             "job)", v);
    return -1;
  }
  return 0;
}

/* The file's good values by row, as its entries are checked. */
typedef struct {
  const char *path;
  tarmac_server_config_t *config;
  const char *value[SETTING_COUNT]; /* NULL: not in the file, or refused */
} file_values_t;

/* The row e names, after checking the name is a setting the file may set
 * and appears once. NULL: a problem was added. */
static const setting_t *file_row(const char *path,
                                 const tarmac_settings_file_t *file,
                                 const tarmac_settings_entry_t *e,
                                 tarmac_problems_t *problems) {
  const setting_t *s = find_setting(e->name);
  if (strcmp(e->name, "APP_CONFIG_FILE") == 0) {
    tarmac_problems_add(problems, "%s:%u: APP_CONFIG_FILE is only read from "
                        "the environment", path, e->line);
    return NULL;
  }
  if (s == NULL) {
    tarmac_problems_add(problems, "%s:%u: %.64s is not a setting", path,
                        e->line, e->name);
    return NULL;
  }
  const tarmac_settings_entry_t *first =
      tarmac_settings_file_find(file, e->name);
  if (first != e) {
    tarmac_problems_add(problems, "%s:%u: %s set again (first at line %u)",
                        path, e->line, e->name, first->line);
    return NULL;
  }
  return s;
}

/* A tarmac_settings_check_fn: each entry's name and value, in file order
 * (values the environment overrides too: the file is checked whole). */
static void check_entry(void *data, const tarmac_settings_file_t *file,
                        const tarmac_settings_entry_t *e,
                        tarmac_problems_t *problems) {
  file_values_t *f = data;
  const setting_t *s = file_row(f->path, file, e, problems);
  if (s == NULL || e->value[0] == '\0') return; /* empty: the default */
  char err[1024];
  if (parse_checked(s, e->value, f->config, err, sizeof err) == 0)
    f->value[s - settings] = e->value;
  else
    tarmac_problems_add(problems, "%s:%u: %s", f->path, e->line, err);
}

/* In table order (APP_WASM_MODULE after APP_WASM_FUNCTION), each setting
 * from the environment when set and not empty, else from the file (its
 * values were checked already). */
static void apply_sources(tarmac_server_config_t *c, const file_values_t *f,
                          tarmac_problems_t *problems) {
  for (size_t i = 0; i < SETTING_COUNT; i++) {
    const setting_t *s = &settings[i];
    const char *v = getenv(s->name);
    char err[1024];
    if (v == NULL || *v == '\0') v = f->value[i];
    if (v == NULL) continue;
    if (parse_checked(s, v, c, err, sizeof err) != 0) {
      tarmac_problems_add(problems, "%s", err);
      continue;
    }
    /* which contract the single function speaks by default: the seed's
     * when APP_WASM_MODULE named it (it wins over APP_WASM_FUNCTION) */
    if (strcmp(s->name, "APP_WASM_MODULE") == 0) c->wasm_module_is_seed = true;
  }
}

/* Reads and checks the settings file (path not empty) into f. */
static void read_file(tarmac_server_config_t *c, const char *path,
                      tarmac_settings_file_t *entries, file_values_t *f,
                      tarmac_problems_t *problems) {
  if (strlen(path) >= sizeof c->config_file) {
    tarmac_problems_add(problems, "APP_CONFIG_FILE is too long (at most %zu "
                        "bytes)", sizeof c->config_file - 1);
    return;
  }
  f->path = path;
  f->config = c;
  if (tarmac_settings_file_read(path, check_entry, f, entries, problems) == 0)
    strcpy(c->config_file, path);
}

int tarmac_server_config_load_file(tarmac_server_config_t *c,
                                   const char *path,
                                   tarmac_settings_file_t *file, char *err,
                                   size_t err_size) {
  tarmac_settings_file_t own = TARMAC_SETTINGS_FILE_INIT;
  tarmac_settings_file_t *entries = file != NULL ? file : &own;
  tarmac_problems_t problems = TARMAC_PROBLEMS_INIT;
  file_values_t values = {.path = NULL};
  tarmac_server_config_defaults(c);
  tarmac_settings_file_free(entries);
  if (path != NULL && *path != '\0')
    read_file(c, path, entries, &values, &problems);
  apply_sources(c, &values, &problems);
  c->job_mode = strcmp(c->run_mode, "job") == 0;
  if (c->max_concurrency == 0)
    c->max_concurrency = tarmac_server_config_default_concurrency(c);
  if (c->memory_total_limit == 0)
    c->memory_total_limit = tarmac_server_config_default_memory_total();
  int rc = problems.count == 0 ? 0 : -1;
  if (rc != 0) tarmac_problems_write(&problems, err, err_size);
  tarmac_problems_free(&problems);
  tarmac_settings_file_free(&own);
  return rc;
}

int tarmac_server_config_load(tarmac_server_config_t *c, char *err,
                              size_t err_size) {
  return tarmac_server_config_load_file(c, getenv("APP_CONFIG_FILE"), NULL,
                                        err, err_size);
}

size_t tarmac_server_config_count(void) { return SETTING_COUNT; }

const char *tarmac_server_config_name(size_t i) {
  return i < tarmac_server_config_count() ? settings[i].name : NULL;
}
