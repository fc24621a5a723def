/* kvstore internals: the table of operations each backend fills. A
 * backend's object starts with a tarmac_kvstore_t (its `ops`). */
#ifndef TARMAC_KVSTORE_INTERNAL_H
#define TARMAC_KVSTORE_INTERNAL_H

#include "kvstore/kvstore.h"

typedef struct {
  tarmac_kv_result_t (*get)(tarmac_kvstore_t *s, const char *key,
                            size_t key_len, tarmac_buffer_t *value,
                            char *err, size_t err_size);
  tarmac_kv_result_t (*set)(tarmac_kvstore_t *s, const char *key,
                            size_t key_len, const uint8_t *data, size_t len,
                            char *err, size_t err_size);
  tarmac_kv_result_t (*del)(tarmac_kvstore_t *s, const char *key,
                            size_t key_len, char *err, size_t err_size);
  tarmac_kv_result_t (*keys)(tarmac_kvstore_t *s, tarmac_kv_key_fn fn,
                             void *ctx, char *err, size_t err_size);
  bool (*reachable)(const tarmac_kvstore_t *s); /* NULL: always */
  void (*free)(tarmac_kvstore_t *s);
} tarmac_kvstore_ops_t;

struct tarmac_kvstore {
  const tarmac_kvstore_ops_t *ops;
};

tarmac_kvstore_t *tarmac_kvstore_memory_new(uint64_t limit, char *err,
                                            size_t err_size);
tarmac_kvstore_t *tarmac_kvstore_lmdb_new(const tarmac_kvstore_config_t *c,
                                          char *err, size_t err_size);
tarmac_kvstore_t *tarmac_kvstore_redis_new(const tarmac_kvstore_config_t *c,
                                           char *err, size_t err_size);

#endif
