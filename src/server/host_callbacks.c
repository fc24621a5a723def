/* The host callbacks from the settings. */
#include <stdio.h>
#include <stdlib.h>

#include "callbacks/metrics.h"
#include "callbacks/sql.h"
#include "server/host_callbacks.h"

struct tarmac_host_callbacks {
  tarmac_callbacks_t *registry;
  tarmac_sql_t *sql; /* APP_ENABLE_SQL: the database pool, or NULL */
};

/* SQL: the tarmac/sql callbacks over the configured database. */
static int add_sql(tarmac_host_callbacks_t *host,
                   const tarmac_server_config_t *config, char *err,
                   size_t err_size) {
  if (!config->enable_sql) return 0;
  tarmac_sql_config_t sc = {
      .dsn = config->sql_dsn, .pool_size = config->sql_pool_size,
      .connect_timeout_ms = config->sql_connect_timeout_ms,
      .query_timeout_ms = config->sql_query_timeout_ms,
      .max_result_bytes = (size_t)config->sql_max_result_bytes};
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
  if (add_sql(host, config, err, err_size) != 0) return -1;
  if (tarmac_callbacks_add_logging(host->registry) != 0)
    return snprintf(err, err_size, "out of memory"), -1;
  if (metrics != NULL &&
      (tarmac_callbacks_add_metrics(host->registry, metrics) != 0 ||
       tarmac_callbacks_set_metrics(host->registry, metrics) != 0))
    return snprintf(err, err_size, "out of memory"), -1;
  return 0;
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
  tarmac_sql_close(host->sql); /* after the registry: its routes use it */
  free(host);
}

tarmac_callbacks_t *tarmac_host_callbacks_registry(tarmac_host_callbacks_t *host) {
  return host->registry;
}

bool tarmac_host_callbacks_ready(const tarmac_host_callbacks_t *host) {
  (void)host;
  return true;
}
