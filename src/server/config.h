/* server/config: the server's settings, read from the environment the way
 * Tarmac does (APP_ + key in upper case). Every setting, its default and
 * its meaning are listed in docs/configuration.md. */
#ifndef TARMAC_SERVER_CONFIG_H
#define TARMAC_SERVER_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct {
  char listen_addr[256];     /* APP_LISTEN_ADDR, 0.0.0.0:8443 */
  bool enable_tls;           /* APP_ENABLE_TLS, true */
  char cert_file[4096];      /* APP_CERT_FILE, /certs/cert.crt */
  char key_file[4096];       /* APP_KEY_FILE, /certs/key.key */
  char wasm_module[4096];    /* APP_WASM_MODULE or APP_WASM_FUNCTION */
  bool debug;                /* APP_DEBUG */
  bool trace;                /* APP_TRACE */
  bool disable_logging;      /* APP_DISABLE_LOGGING */
  bool text_log_format;      /* APP_TEXT_LOG_FORMAT */
  bool maintenance_mode;     /* APP_ENABLE_MAINTENANCE_MODE */
  unsigned event_loops;      /* APP_EVENT_LOOPS, number of CPUs */
  unsigned max_threads_per_loop; /* APP_MAX_THREADS_PER_LOOP, 64 */
  unsigned handoff_ms;       /* APP_HANDOFF_MS, 10 */
  unsigned pool_size;        /* APP_WASM_POOL_SIZE, 2 per event loop */
  uint64_t memory_limit;     /* APP_WASM_MEMORY_LIMIT, 0 = engine default */
  uint64_t max_body_bytes;   /* APP_MAX_BODY_SIZE, 10 MiB */
  uint64_t max_header_bytes; /* APP_MAX_HEADER_SIZE, 64 KiB */
  unsigned idle_timeout_ms;  /* APP_IDLE_TIMEOUT_MS, 10000 */
  unsigned http2_max_streams;  /* APP_HTTP2_MAX_STREAMS, 100 */
  unsigned http2_max_resets;   /* APP_HTTP2_MAX_RESETS, 100 per second */
  unsigned shutdown_timeout_ms; /* APP_SHUTDOWN_TIMEOUT_MS, 10000 */
  unsigned send_timeout_ms;     /* APP_SEND_TIMEOUT_MS, 30000 */
  uint64_t max_buffered_response_bytes; /* APP_MAX_BUFFERED_RESPONSE_BYTES,
                                           256 MiB */
} tarmac_server_config_t;

/* Fills config from the environment. 0, or -1 with one line in err naming
 * the variable and what is wrong with its value. */
int tarmac_server_config_load(tarmac_server_config_t *config, char *err,
                              size_t err_size);

#endif
