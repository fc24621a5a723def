/* server/config: the server's settings, read from the environment the way
 * Tarmac does (APP_ + key in upper case) and from the settings file
 * APP_CONFIG_FILE names (server/settings_file.h; the environment wins).
 * Every setting, its default and its meaning are listed in
 * docs/configuration.md. */
#ifndef TARMAC_SERVER_CONFIG_H
#define TARMAC_SERVER_CONFIG_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "server/settings_file.h"

typedef struct {
  char config_file[4096];    /* APP_CONFIG_FILE (environment only), "" =
                                none; set once the file was read */
  /* Not a setting: where /ready reads maintenance mode while the server
   * runs (server/live_settings.h sets it; the flag outlives the app).
   * NULL: never in maintenance. */
  const atomic_bool *maintenance_flag;
  char listen_addr[256];     /* APP_LISTEN_ADDR, 0.0.0.0:8443 */
  bool enable_tls;           /* APP_ENABLE_TLS, true */
  char cert_file[4096];      /* APP_CERT_FILE, /certs/cert.crt */
  char key_file[4096];       /* APP_KEY_FILE, /certs/key.key */
  char ca_file[4096];        /* APP_CA_FILE, "": with TLS, client
                                certificates must chain to this bundle */
  bool ignore_client_cert;   /* APP_IGNORE_CLIENT_CERT, false: with a CA
                                file, verify a client certificate only when
                                one is given */
  char wasm_module[4096];    /* APP_WASM_MODULE or APP_WASM_FUNCTION */
  bool wasm_module_is_seed;  /* APP_WASM_MODULE was set: the seed contract */
  char wasm_contract[16];    /* APP_WASM_CONTRACT, "" = by variable */
  char wasm_function_config[4096]; /* APP_WASM_FUNCTION_CONFIG, "" = single
                                      function */
  char run_mode[16];         /* APP_RUN_MODE, daemon or job */
  bool job_mode;             /* run_mode is job */
  bool enable_metrics;       /* APP_ENABLE_METRICS, true */
  unsigned call_depth_limit; /* APP_WASM_CALL_DEPTH_LIMIT, 8 */
  unsigned pool_wait_ms;     /* APP_WASM_POOL_WAIT, 5s */
  bool debug;                /* APP_DEBUG */
  bool trace;                /* APP_TRACE */
  bool disable_logging;      /* APP_DISABLE_LOGGING */
  bool text_log_format;      /* APP_TEXT_LOG_FORMAT */
  bool maintenance_mode;     /* APP_ENABLE_MAINTENANCE_MODE */
  bool watch_config;         /* APP_WATCH_CONFIG, true: reload the service
                                file and modules when they change */
  unsigned event_loops;      /* APP_EVENT_LOOPS, number of CPUs */
  unsigned max_threads_per_loop; /* APP_MAX_THREADS_PER_LOOP, 64 */
  unsigned handoff_ms;       /* APP_HANDOFF_MS, 10 */
  bool handoff_before_wait;  /* APP_HANDOFF_BEFORE_WAIT, true: a guest about
                                to wait (sleep, round trip) hands its loop
                                on at once */
  unsigned pool_size;        /* APP_WASM_POOL_SIZE, 100: instances of a
                                function at most (made on demand) */
  unsigned max_concurrency;  /* APP_WASM_MAX_CONCURRENCY, a quarter of
                                event loops x threads per loop */
  unsigned queue_timeout_ms; /* APP_WASM_QUEUE_TIMEOUT_MS, 100 */
  unsigned timeout_ms;       /* APP_WASM_TIMEOUT, 30s; every guest call's
                                deadline, 1 ms to 1 h */
  uint64_t memory_limit;     /* APP_WASM_MEMORY_LIMIT, 0 = engine default;
                                64 KiB to 65535 pages */
  bool reuse_instances;      /* APP_WASM_REUSE_INSTANCES, false: every
                                request runs on a fresh instance */
  uint64_t memory_total_limit; /* APP_WASM_MEMORY_TOTAL_LIMIT, 3/4 of the
                                  physical or cgroup memory */
  uint64_t max_body_bytes;   /* APP_MAX_BODY_SIZE, 10 MiB; at most 1 GiB */
  uint64_t max_header_bytes; /* APP_MAX_HEADER_SIZE, 64 KiB; at most 1 GiB */
  unsigned max_header_count; /* APP_MAX_HEADER_COUNT, 64 */
  unsigned idle_timeout_ms;  /* APP_IDLE_TIMEOUT_MS, 10000 */
  unsigned http2_max_streams;  /* APP_HTTP2_MAX_STREAMS, 100 */
  unsigned http2_max_resets;   /* APP_HTTP2_MAX_RESETS, 100 per second */
  unsigned shutdown_timeout_ms; /* APP_SHUTDOWN_TIMEOUT_MS, 10000 */
  unsigned send_timeout_ms;     /* APP_SEND_TIMEOUT_MS, 30000 */
  uint64_t max_buffered_response_bytes; /* APP_MAX_BUFFERED_RESPONSE_BYTES,
                                           256 MiB */
  /* Key-value store (tarmac/kvstore; docs/configuration.md, "Key-value
   * store"). */
  bool enable_kvstore;         /* APP_ENABLE_KVSTORE, false */
  char kvstore_type[16];       /* APP_KVSTORE_TYPE, internal: in-memory,
                                  internal (alias boltdb), redis */
  char kvstore_path[4096];     /* APP_KVSTORE_PATH, tarmac.lmdb */
  uint64_t kvstore_map_size;   /* APP_KVSTORE_MAP_SIZE, 1 GiB */
  uint64_t kvstore_memory_limit; /* APP_KVSTORE_MEMORY_LIMIT, 256 MiB */
  char redis_server[512];      /* APP_REDIS_SERVER, localhost:6379 */
  char redis_password[512];    /* APP_REDIS_PASSWORD, "" */
  unsigned redis_database;     /* APP_REDIS_DATABASE, 0 */
  unsigned redis_connect_timeout_ms; /* APP_REDIS_CONNECT_TIMEOUT, 1s */
  unsigned redis_read_timeout_ms;    /* APP_REDIS_READ_TIMEOUT, 3s */
  unsigned redis_write_timeout_ms;   /* APP_REDIS_WRITE_TIMEOUT, 3s */
  unsigned redis_pool_size;          /* APP_REDIS_POOL_SIZE, 16 */
  unsigned redis_check_interval_ms;  /* APP_REDIS_CHECK_INTERVAL, 1s */
  /* HTTP client callback (tarmac/httpclient/call) */
  uint64_t http_client_max_response_bytes; /* APP_HTTP_CLIENT_MAX_RESPONSE_
                                              BODY_SIZE, 10 MiB */
  unsigned http_client_connect_timeout_ms; /* APP_HTTP_CLIENT_CONNECT_TIMEOUT,
                                              5s */
  unsigned http_client_timeout_ms;   /* APP_HTTP_CLIENT_TIMEOUT, 30s */
  unsigned http_client_max_redirects; /* APP_HTTP_CLIENT_MAX_REDIRECTS, 10 */
  char http_client_allow[4096];      /* APP_HTTP_CLIENT_ALLOW, "" = any host */
  /* SQL (tarmac/sql callbacks, src/sql; docs/configuration.md "SQL") */
  bool enable_sql;               /* APP_ENABLE_SQL, false */
  char sql_type[32];             /* APP_SQL_TYPE, sqlite | postgres | mysql */
  char sql_dsn[4096];            /* APP_SQL_DSN, "" (sqlite: in memory) */
  unsigned sql_pool_size;        /* APP_SQL_POOL_SIZE, 10 connections */
  unsigned sql_connect_timeout_ms; /* APP_SQL_CONNECT_TIMEOUT, 5s */
  unsigned sql_query_timeout_ms;   /* APP_SQL_QUERY_TIMEOUT, 30s */
  uint64_t sql_max_result_bytes;   /* APP_SQL_MAX_RESULT_SIZE, 16 MiB */
  unsigned sql_check_interval_ms;  /* APP_SQL_CHECK_INTERVAL, 1s */
} tarmac_server_config_t;

/* Fills config: defaults, then every setting the settings file
 * APP_CONFIG_FILE names sets (when set and not empty), then every APP_*
 * variable of the environment that is set and not empty (the environment
 * wins). 0, or -1 with every problem in err, one line each: a variable's
 * names it, its value and what is wrong; a file's starts "PATH:LINE: "
 * and names the setting (unknown and repeated names, bad lines and bad
 * values, also those the environment overrides). */
int tarmac_server_config_load(tarmac_server_config_t *config, char *err,
                              size_t err_size);

/* As _load, with `path` (NULL or "": none) in place of APP_CONFIG_FILE.
 * When file is not NULL it is emptied and then holds the file's entries
 * as read, also after a failure (the caller frees it). */
int tarmac_server_config_load_file(tarmac_server_config_t *config,
                                   const char *path,
                                   tarmac_settings_file_t *file, char *err,
                                   size_t err_size);

/* The table: how many settings, and the name of the i-th (NULL past the
 * end). For checks that must cover every setting (the fuzz model). */
size_t tarmac_server_config_count(void);
const char *tarmac_server_config_name(size_t i);

/* The defaults (max_concurrency 0: derived from the loops and threads by
 * _load). */
void tarmac_server_config_defaults(tarmac_server_config_t *config);

/* APP_WASM_MAX_CONCURRENCY's default for these loops and threads. */
unsigned tarmac_server_config_default_concurrency(
    const tarmac_server_config_t *config);

/* Sets one setting (name "APP_...") from its text exactly as _load would.
 * 0, or -1 with err as for _load (also for an unknown name). */
int tarmac_server_config_set(tarmac_server_config_t *config, const char *name,
                             const char *value, char *err, size_t err_size);

/* APP_WASM_MEMORY_TOTAL_LIMIT's default: 3/4 of the physical memory, or of
 * the cgroup (v2) memory limit when that is lower. */
uint64_t tarmac_server_config_default_memory_total(void);

/* APP_WASM_MEMORY_LIMIT's text checked as the server checks it (for
 * `tarmac call`): 0 and *out set, or -1 with err set. */
int tarmac_server_config_memory_limit(const char *value, uint64_t *out,
                                      char *err, size_t err_size);

/* APP_WASM_TIMEOUT's text checked as the server checks it (for `tarmac
 * call --timeout`): 0 and *out_ms set, or -1 with err set. */
int tarmac_server_config_timeout(const char *value, unsigned *out_ms,
                                 char *err, size_t err_size);

#endif
