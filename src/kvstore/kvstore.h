/* kvstore: the key-value stores behind tarmac/kvstore (docs/callbacks.md,
 * docs/configuration.md): one interface, three backends.
 *   memory: in-process, sharded hash map, a rwlock per shard (readers of
 *           different shards never meet; readers of one shard share it),
 *           bounded by a total byte cap (memory.c).
 *   lmdb:   the "internal" store, persistent (one LMDB environment, a
 *           file with mode 0600), read transactions for get/keys; a
 *           second open of the same file in one process is refused, as
 *           LMDB requires (lmdb.c).
 *   redis:  a bounded pool of hiredis connections with connect/read/write
 *           timeouts, reconnecting after failures, AUTH and SELECT from
 *           the settings, a pipelined connection per event loop, and a
 *           background PING every check interval (util/reachability.h)
 *           (redis.c).
 * Every operation is thread-safe and may run on any guest thread; waits on
 * the outside world (disk syncs, network round trips, pool waits) are
 * bracketed by tarmac_blocking_begin/end and end at the calling guest's
 * deadline (runtime/deadline.h).
 *
 * Keys are 1..TARMAC_KV_KEY_MAX bytes (any bytes but NUL: the callbacks
 * take them from proto3 strings); values 0..TARMAC_KV_VALUE_MAX bytes.
 * keys() returns at most TARMAC_KV_KEYS_MAX keys.
 *
 * Ownership: tarmac_kvstore_open's caller owns the store
 * (tarmac_kvstore_free, after every caller is done). Out-parameters are
 * the caller's buffers; the store keeps nothing of the caller's. */
#ifndef TARMAC_KVSTORE_KVSTORE_H
#define TARMAC_KVSTORE_KVSTORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/buffer.h"
#include "util/resolve.h"

/* LMDB's default largest key (mdb_env_get_maxkeysize): the same bound for
 * every backend, so a service can move between them. */
#define TARMAC_KV_KEY_MAX 511
/* The callback payload bound (callbacks/encoding.h). */
#define TARMAC_KV_VALUE_MAX (64u << 20)
/* keys() stops here: a bounded reply and bounded work per call. */
#define TARMAC_KV_KEYS_MAX 10000
#define TARMAC_KV_ERR_MAX 256

typedef enum {
  TARMAC_KV_OK = 0,
  TARMAC_KV_NOT_FOUND, /* get/delete: no such key */
  TARMAC_KV_FULL,      /* set: the store's size bound is reached */
  TARMAC_KV_ERROR,     /* the backend failed (err says how) */
} tarmac_kv_result_t;

typedef enum {
  TARMAC_KV_MEMORY,
  TARMAC_KV_LMDB,
  TARMAC_KV_REDIS,
} tarmac_kv_type_t;

typedef struct {
  tarmac_kv_type_t type;
  /* memory */
  uint64_t memory_limit;       /* bytes of keys + values at most */
  /* lmdb */
  const char *path;            /* the database file (a "-lock" file sits
                                  next to it) */
  uint64_t map_size;           /* the file's size bound */
  /* redis */
  const char *redis_server;    /* host:port ([v6]:port) */
  const char *redis_password;  /* "" = no AUTH */
  unsigned redis_database;     /* SELECT when not 0 */
  unsigned connect_timeout_ms;
  unsigned read_timeout_ms;
  unsigned write_timeout_ms;
  unsigned pool_size;          /* connections at most */
  unsigned check_interval_ms;  /* background PING period */
  tarmac_resolve_fn redis_resolve; /* how the host name is looked up
                                      (tests); NULL: getaddrinfo */
} tarmac_kvstore_config_t;

typedef struct tarmac_kvstore tarmac_kvstore_t;

/* Opens the configured backend. NULL with err set when it cannot (a bad
 * address, a file that cannot be opened). A Redis server that is down is
 * not an error: the store starts unreachable and connects when it can. */
tarmac_kvstore_t *tarmac_kvstore_open(const tarmac_kvstore_config_t *config,
                                      char *err, size_t err_size);
void tarmac_kvstore_free(tarmac_kvstore_t *store);

/* Appends the value to `value`. */
tarmac_kv_result_t tarmac_kvstore_get(tarmac_kvstore_t *store, const char *key,
                                      size_t key_len, tarmac_buffer_t *value,
                                      char *err, size_t err_size);
tarmac_kv_result_t tarmac_kvstore_set(tarmac_kvstore_t *store, const char *key,
                                      size_t key_len, const uint8_t *data,
                                      size_t len, char *err, size_t err_size);
tarmac_kv_result_t tarmac_kvstore_delete(tarmac_kvstore_t *store,
                                         const char *key, size_t key_len,
                                         char *err, size_t err_size);

/* Receives each key (not NUL-terminated; valid during the call). Nonzero
 * stops the listing with TARMAC_KV_ERROR (out of memory). */
typedef int (*tarmac_kv_key_fn)(void *ctx, const char *key, size_t len);
/* Calls fn for at most TARMAC_KV_KEYS_MAX keys, in no particular order. */
tarmac_kv_result_t tarmac_kvstore_keys(tarmac_kvstore_t *store,
                                       tarmac_kv_key_fn fn, void *ctx,
                                       char *err, size_t err_size);

/* Whether the backend answered the last time it was asked (a call or the
 * background check). Any thread; an atomic load. Always true for the
 * embedded stores. */
bool tarmac_kvstore_reachable(const tarmac_kvstore_t *store);

#endif
