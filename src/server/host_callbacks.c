/* The host callbacks from the settings. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "callbacks/httpclient.h"
#include "callbacks/kvstore.h"
#include "callbacks/metrics.h"
#include "callbacks/sql.h"
#include "server/host_callbacks.h"

struct tarmac_host_callbacks {
  tarmac_callbacks_t *registry;
  tarmac_kvstore_t *kvstore; /* APP_ENABLE_KVSTORE; NULL when off */
  tarmac_sql_t *sql; /* APP_ENABLE_SQL: the database pool, or NULL */
};

/* Key-value store: APP_KVSTORE_TYPE onto a backend. 0, or -1 with err. */
static int kvstore_type(const char *name, tarmac_kv_type_t *type, char *err,
                        size_t err_size) {
  if (strcmp(name, "in-memory") == 0) {
    *type = TARMAC_KV_MEMORY;
  } else if (strcmp(name, "internal") == 0 || strcmp(name, "boltdb") == 0) {
    *type = TARMAC_KV_LMDB;
  } else if (strcmp(name, "redis") == 0) {
    *type = TARMAC_KV_REDIS;
  } else {
    snprintf(err, err_size, "APP_KVSTORE_TYPE=%s is not a key-value store "
             "type (in-memory, internal, boltdb or redis)", name);
    return -1;
  }
  return 0;
}

static int add_kvstore(tarmac_host_callbacks_t *host,
                       const tarmac_server_config_t *c, char *err,
                       size_t err_size) {
  tarmac_kvstore_config_t kv = {
      .memory_limit = c->kvstore_memory_limit,
      .path = c->kvstore_path,
      .map_size = c->kvstore_map_size,
      .redis_server = c->redis_server,
      .redis_password = c->redis_password,
      .redis_database = c->redis_database,
      .connect_timeout_ms = c->redis_connect_timeout_ms,
      .read_timeout_ms = c->redis_read_timeout_ms,
      .write_timeout_ms = c->redis_write_timeout_ms,
      .pool_size = c->redis_pool_size,
      .check_interval_ms = c->redis_check_interval_ms,
  };
  if (!c->enable_kvstore) return 0;
  if (kvstore_type(c->kvstore_type, &kv.type, err, err_size) != 0) return -1;
  host->kvstore = tarmac_kvstore_open(&kv, err, err_size);
  if (host->kvstore == NULL) return -1;
  if (tarmac_callbacks_add_kvstore(host->registry, host->kvstore) != 0)
    return snprintf(err, err_size, "out of memory"), -1;
  return 0;
}

/* tarmac/httpclient/call: always present (the contracts table). */
static int add_httpclient(tarmac_host_callbacks_t *host,
                          const tarmac_server_config_t *config, char *err,
                          size_t err_size) {
  tarmac_httpclient_config_t hc = {
      .max_response_bytes = config->http_client_max_response_bytes,
      .connect_timeout_ms = config->http_client_connect_timeout_ms,
      .timeout_ms = config->http_client_timeout_ms,
      .max_redirects = config->http_client_max_redirects,
      .allow = config->http_client_allow,
  };
  tarmac_httpclient_t *client = tarmac_httpclient_new(&hc, err, err_size);
  if (client == NULL) return -1;
  if (tarmac_callbacks_add_httpclient(host->registry, client) != 0)
    return snprintf(err, err_size, "out of memory"), -1;
  return 0;
}

/* SQL: the tarmac/sql callbacks over the configured database. */
static int add_sql(tarmac_host_callbacks_t *host,
                   const tarmac_server_config_t *config, char *err,
                   size_t err_size) {
  if (!config->enable_sql) return 0;
  tarmac_sql_config_t sc = {
      .dsn = config->sql_dsn, .pool_size = config->sql_pool_size,
      .connect_timeout_ms = config->sql_connect_timeout_ms,
      .query_timeout_ms = config->sql_query_timeout_ms,
      .max_result_bytes = (size_t)config->sql_max_result_bytes,
      .check_interval_ms = config->sql_check_interval_ms};
  if (tarmac_sql_type_parse(config->sql_type, &sc.type) != 0)
    return snprintf(err, err_size, "APP_SQL_TYPE=%s is not sqlite, postgres "
                    "or mysql", config->sql_type), -1;
  host->sql = tarmac_sql_open(&sc, err, err_size);
  if (host->sql == NULL) return -1;
  if (tarmac_callbacks_add_sql(host->registry, host->sql) != 0)
    return snprintf(err, err_size, "out of memory"), -1;
  return 0;
}

static int add_routes(tarmac_host_callbacks_t *host,
                      const tarmac_server_config_t *config,
                      tarmac_metrics_t *metrics, char *err, size_t err_size) {
  if (tarmac_callbacks_add_logging(host->registry) != 0)
    return snprintf(err, err_size, "out of memory"), -1;
  if (metrics != NULL &&
      (tarmac_callbacks_add_metrics(host->registry, metrics) != 0 ||
       tarmac_callbacks_set_metrics(host->registry, metrics) != 0))
    return snprintf(err, err_size, "out of memory"), -1;
  if (add_kvstore(host, config, err, err_size) != 0) return -1;
  if (add_sql(host, config, err, err_size) != 0) return -1;
  return add_httpclient(host, config, err, err_size);
}

tarmac_host_callbacks_t *tarmac_host_callbacks_new(
    const tarmac_server_config_t *config, tarmac_metrics_t *metrics,
    char *err, size_t err_size) {
  tarmac_host_callbacks_t *host = calloc(1, sizeof(*host));
  if (host == NULL) return snprintf(err, err_size, "out of memory"), NULL;
  host->registry = tarmac_callbacks_new();
  if (host->registry == NULL) {
    snprintf(err, err_size, "out of memory");
  } else if (add_routes(host, config, metrics, err, err_size) == 0) {
    return host;
  }
  tarmac_host_callbacks_free(host);
  return NULL;
}

void tarmac_host_callbacks_free(tarmac_host_callbacks_t *host) {
  if (host == NULL) return;
  tarmac_callbacks_free(host->registry);
  tarmac_kvstore_free(host->kvstore); /* after the routes that borrow it */
  tarmac_sql_close(host->sql); /* after the registry: its routes use it */
  free(host);
}

tarmac_callbacks_t *tarmac_host_callbacks_registry(tarmac_host_callbacks_t *host) {
  return host->registry;
}

const char *tarmac_host_callbacks_unready(const tarmac_host_callbacks_t *host) {
  if (host->kvstore != NULL && !tarmac_kvstore_reachable(host->kvstore))
    return "key-value store unreachable";
  if (host->sql != NULL && !tarmac_sql_reachable(host->sql))
    return "sql database unreachable";
  return NULL;
}
