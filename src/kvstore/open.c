/* kvstore/open: the configured backend. */
#include <stdio.h>

#include "kvstore/kvstore_internal.h"

tarmac_kvstore_t *tarmac_kvstore_open(const tarmac_kvstore_config_t *config,
                                      char *err, size_t err_size) {
  switch (config->type) {
    case TARMAC_KV_MEMORY:
      return tarmac_kvstore_memory_new(config->memory_limit, err, err_size);
    case TARMAC_KV_LMDB: return tarmac_kvstore_lmdb_new(config, err, err_size);
    case TARMAC_KV_REDIS:
      return tarmac_kvstore_redis_new(config, err, err_size);
  }
  snprintf(err, err_size, "unknown key-value store type %d", (int)config->type);
  return NULL;
}
