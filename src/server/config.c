/* Server settings from APP_* environment variables. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "server/config.h"
#include "util/bytesize.h"

/* The variable's value, or NULL when unset or empty. */
static const char *env(const char *name) {
  const char *value = getenv(name);
  return value && *value ? value : NULL;
}

static int get_bool(const char *name, bool fallback, bool *out, char *err,
                    size_t err_size) {
  const char *v = env(name);
  *out = fallback;
  if (v == NULL) return 0;
  static const char *const yes[] = {"true", "1", "yes", "on", NULL};
  static const char *const no[] = {"false", "0", "no", "off", NULL};
  for (const char *const *t = yes; *t; t++)
    if (strcasecmp(v, *t) == 0) return *out = true, 0;
  for (const char *const *f = no; *f; f++)
    if (strcasecmp(v, *f) == 0) return *out = false, 0;
  snprintf(err, err_size, "%s=%s is not a boolean (true or false)", name, v);
  return -1;
}

static int get_uint(const char *name, unsigned fallback, unsigned min,
                    unsigned max, unsigned *out, char *err, size_t err_size) {
  const char *v = env(name);
  *out = fallback;
  if (v == NULL) return 0;
  char *end;
  errno = 0;
  unsigned long n = strtoul(v, &end, 10);
  if (errno != 0 || *end != '\0' || v[0] == '-' || n < min || n > max) {
    snprintf(err, err_size, "%s=%s is not a whole number from %u to %u", name,
             v, min, max);
    return -1;
  }
  *out = (unsigned)n;
  return 0;
}

static int get_size(const char *name, uint64_t fallback, uint64_t *out,
                    char *err, size_t err_size) {
  const char *v = env(name);
  *out = fallback;
  if (v == NULL) return 0;
  if (tarmac_bytesize_parse(v, out) != 0 || *out == 0) {
    snprintf(err, err_size,
             "%s=%s is not a byte size (e.g. 10485760, 10M, 64KiB)", name, v);
    return -1;
  }
  return 0;
}

static int get_string(const char *name, const char *fallback, char *out,
                      size_t size, char *err, size_t err_size) {
  const char *v = env(name);
  if (v == NULL) v = fallback;
  if (strlen(v) >= size) {
    snprintf(err, err_size, "%s is too long", name);
    return -1;
  }
  strcpy(out, v);
  return 0;
}

static unsigned cpu_count(void) {
  long n = sysconf(_SC_NPROCESSORS_ONLN);
  return n < 1 ? 1 : n > 256 ? 256 : (unsigned)n;
}

int tarmac_server_config_load(tarmac_server_config_t *c, char *err,
                              size_t err_size) {
  memset(c, 0, sizeof(*c));
  const char *module_var =
      env("APP_WASM_MODULE") ? "APP_WASM_MODULE" : "APP_WASM_FUNCTION";
  if (get_string("APP_LISTEN_ADDR", "0.0.0.0:8443", c->listen_addr,
                 sizeof(c->listen_addr), err, err_size) ||
      get_string("APP_CERT_FILE", "/certs/cert.crt", c->cert_file,
                 sizeof(c->cert_file), err, err_size) ||
      get_string("APP_KEY_FILE", "/certs/key.key", c->key_file,
                 sizeof(c->key_file), err, err_size) ||
      get_string(module_var, "/module/tarmac_module.wasm", c->wasm_module,
                 sizeof(c->wasm_module), err, err_size) ||
      get_bool("APP_ENABLE_TLS", true, &c->enable_tls, err, err_size) ||
      get_bool("APP_DEBUG", false, &c->debug, err, err_size) ||
      get_bool("APP_TRACE", false, &c->trace, err, err_size) ||
      get_bool("APP_DISABLE_LOGGING", false, &c->disable_logging, err,
               err_size) ||
      get_bool("APP_TEXT_LOG_FORMAT", false, &c->text_log_format, err,
               err_size) ||
      get_bool("APP_ENABLE_MAINTENANCE_MODE", false, &c->maintenance_mode,
               err, err_size) ||
      get_uint("APP_EVENT_LOOPS", cpu_count(), 1, 256, &c->event_loops, err,
               err_size) ||
      get_uint("APP_MAX_THREADS_PER_LOOP", 64, 2, 4096,
               &c->max_threads_per_loop, err, err_size) ||
      get_uint("APP_HANDOFF_MS", 10, 1, 60000, &c->handoff_ms, err,
               err_size) ||
      get_uint("APP_WASM_POOL_SIZE", 2 * c->event_loops, 1, 100000,
               &c->pool_size, err, err_size) ||
      get_size("APP_WASM_MEMORY_LIMIT", 0, &c->memory_limit, err, err_size) ||
      get_size("APP_MAX_BODY_SIZE", 10u << 20, &c->max_body_bytes, err,
               err_size) ||
      get_size("APP_MAX_HEADER_SIZE", 64u << 10, &c->max_header_bytes, err,
               err_size) ||
      get_uint("APP_IDLE_TIMEOUT_MS", 10000, 1, 3600000, &c->idle_timeout_ms,
               err, err_size) ||
      get_uint("APP_HTTP2_MAX_STREAMS", 100, 1, 256, &c->http2_max_streams,
               err, err_size) ||
      get_uint("APP_HTTP2_MAX_RESETS", 100, 1, 1000000, &c->http2_max_resets,
               err, err_size) ||
      get_uint("APP_SHUTDOWN_TIMEOUT_MS", 10000, 0, 3600000,
               &c->shutdown_timeout_ms, err, err_size))
    return -1;
  /* slow readers: send timeout and the bound on buffered responses */
  if (get_uint("APP_SEND_TIMEOUT_MS", 30000, 1, 3600000, &c->send_timeout_ms,
               err, err_size) ||
      get_size("APP_MAX_BUFFERED_RESPONSE_BYTES", 256u << 20,
               &c->max_buffered_response_bytes, err, err_size))
    return -1;
  return 0;
}
