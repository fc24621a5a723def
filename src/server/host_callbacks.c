/* The host callbacks from the settings. */
#include <stdio.h>
#include <stdlib.h>

#include "callbacks/httpclient.h"
#include "callbacks/metrics.h"
#include "server/host_callbacks.h"

struct tarmac_host_callbacks {
  tarmac_callbacks_t *registry;
};

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

static int add_routes(tarmac_host_callbacks_t *host,
                      const tarmac_server_config_t *config,
                      tarmac_metrics_t *metrics, char *err, size_t err_size) {
  (void)config;
  if (tarmac_callbacks_add_logging(host->registry) != 0)
    return snprintf(err, err_size, "out of memory"), -1;
  if (metrics != NULL &&
      (tarmac_callbacks_add_metrics(host->registry, metrics) != 0 ||
       tarmac_callbacks_set_metrics(host->registry, metrics) != 0))
    return snprintf(err, err_size, "out of memory"), -1;
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
  free(host);
}

tarmac_callbacks_t *tarmac_host_callbacks_registry(tarmac_host_callbacks_t *host) {
  return host->registry;
}

bool tarmac_host_callbacks_ready(const tarmac_host_callbacks_t *host) {
  (void)host;
  return true;
}
