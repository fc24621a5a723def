/* The kvstore front: checks the bounds every backend shares before
 * handing an operation on (opening is in open.c, so that code using one
 * backend, e.g. the fuzz target, links only that one). */
#include <stdio.h>

#include "kvstore/kvstore_internal.h"

void tarmac_kvstore_free(tarmac_kvstore_t *store) {
  if (store) store->ops->free(store);
}

static bool key_ok(size_t key_len, char *err, size_t err_size) {
  if (key_len == 0 || key_len > TARMAC_KV_KEY_MAX) {
    snprintf(err, err_size, "key must be 1 to %d bytes (it is %zu)",
             TARMAC_KV_KEY_MAX, key_len);
    return false;
  }
  return true;
}

tarmac_kv_result_t tarmac_kvstore_get(tarmac_kvstore_t *store, const char *key,
                                      size_t key_len, tarmac_buffer_t *value,
                                      char *err, size_t err_size) {
  if (!key_ok(key_len, err, err_size)) return TARMAC_KV_ERROR;
  return store->ops->get(store, key, key_len, value, err, err_size);
}

tarmac_kv_result_t tarmac_kvstore_set(tarmac_kvstore_t *store, const char *key,
                                      size_t key_len, const uint8_t *data,
                                      size_t len, char *err, size_t err_size) {
  if (!key_ok(key_len, err, err_size)) return TARMAC_KV_ERROR;
  if (len > TARMAC_KV_VALUE_MAX) {
    snprintf(err, err_size, "value of %zu bytes is larger than %u", len,
             TARMAC_KV_VALUE_MAX);
    return TARMAC_KV_ERROR;
  }
  return store->ops->set(store, key, key_len, data, len, err, err_size);
}

tarmac_kv_result_t tarmac_kvstore_delete(tarmac_kvstore_t *store,
                                         const char *key, size_t key_len,
                                         char *err, size_t err_size) {
  if (!key_ok(key_len, err, err_size)) return TARMAC_KV_ERROR;
  return store->ops->del(store, key, key_len, err, err_size);
}

tarmac_kv_result_t tarmac_kvstore_keys(tarmac_kvstore_t *store,
                                       tarmac_kv_key_fn fn, void *ctx,
                                       char *err, size_t err_size) {
  return store->ops->keys(store, fn, ctx, err, err_size);
}

bool tarmac_kvstore_reachable(const tarmac_kvstore_t *store) {
  return store->ops->reachable == NULL || store->ops->reachable(store);
}
