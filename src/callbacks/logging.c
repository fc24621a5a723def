/* callbacks/logging: the tarmac/logging/<Level> (the seed's spelling) and
 * tarmac/logger/<level> host calls. The operation names the level, the
 * payload is the message. */
#include "callbacks/registry.h"
#include "log/log.h"

static int log_host_call(void *route_data, const tarmac_host_call_t *call,
                         tarmac_buffer_t *response, tarmac_buffer_t *error) {
  int level = tarmac_log_level_parse(call->operation, call->operation_len);
  if (level < 0) {
    if (tarmac_buffer_append_str(error, "unknown log level ") == 0)
      tarmac_callbacks_append_quoted(error, call->operation,
                                     call->operation_len);
    return -1;
  }
  const char *msg = (const char *)call->payload;
  if (call->function_name)
    tarmac_log_fields((tarmac_log_level_t)level, msg, call->payload_len,
                      "function", call->function_name, (const char *)NULL);
  else
    tarmac_log_fields((tarmac_log_level_t)level, msg, call->payload_len,
                      (const char *)NULL);
  return 0;
}

/* On failure the routes added so far stay (the registry owns them). */
int tarmac_callbacks_add_logging(tarmac_callbacks_t *registry) {
  if (tarmac_callbacks_add(registry, "tarmac", "logging", NULL, log_host_call,
                           NULL) != 0)
    return -1;
  return tarmac_callbacks_add(registry, "tarmac", "logger", NULL,
                              log_host_call, NULL);
}
