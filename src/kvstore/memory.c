/* kvstore/memory: the in-process store. SHARDS hash tables, each behind
 * its own rwlock: readers never take a global lock, and writers only
 * exclude the readers of their shard. The byte cap is one atomic counter
 * (keys + values + a fixed per-entry overhead), reserved before an insert
 * and released after a delete, so the total never exceeds the cap. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kvstore/kvstore_internal.h"

#define SHARDS 64
#define INITIAL_BUCKETS 16
/* What an entry costs beyond its bytes (the node and a bucket slot),
 * counted against the cap so a flood of empty values is bounded too. */
#define ENTRY_OVERHEAD 64

typedef struct entry {
  struct entry *next;
  uint64_t hash;
  size_t key_len, value_len;
  uint8_t bytes[]; /* key then value */
} entry_t;

typedef struct {
  pthread_rwlock_t lock;
  entry_t **buckets;
  size_t bucket_count; /* a power of two */
  size_t count;
} shard_t;

typedef struct {
  tarmac_kvstore_t base;
  uint64_t limit;
  _Atomic uint64_t used;
  shard_t shards[SHARDS];
} memory_store_t;

/* FNV-1a: keys are short; good enough spread for chaining. */
static uint64_t hash_key(const char *key, size_t len) {
  uint64_t h = 14695981039346656037ull;
  for (size_t i = 0; i < len; i++) {
    h ^= (uint8_t)key[i];
    h *= 1099511628211ull;
  }
  return h;
}

static shard_t *shard_of(memory_store_t *m, uint64_t hash) {
  return &m->shards[(hash >> 58) % SHARDS]; /* top bits: buckets use low */
}

static entry_t **find_slot(shard_t *s, uint64_t hash, const char *key,
                           size_t len) {
  entry_t **slot = &s->buckets[hash & (s->bucket_count - 1)];
  for (; *slot; slot = &(*slot)->next)
    if ((*slot)->hash == hash && (*slot)->key_len == len &&
        memcmp((*slot)->bytes, key, len) == 0)
      break;
  return slot;
}

static uint64_t entry_cost(size_t key_len, size_t value_len) {
  return (uint64_t)key_len + value_len + ENTRY_OVERHEAD;
}

static bool reserve(memory_store_t *m, uint64_t bytes) {
  uint64_t used = atomic_load(&m->used);
  do {
    if (used + bytes > m->limit) return false;
  } while (!atomic_compare_exchange_weak(&m->used, &used, used + bytes));
  return true;
}

static void release(memory_store_t *m, uint64_t bytes) {
  atomic_fetch_sub(&m->used, bytes);
}

static tarmac_kv_result_t mem_get(tarmac_kvstore_t *base, const char *key,
                                  size_t key_len, tarmac_buffer_t *value,
                                  char *err, size_t err_size) {
  memory_store_t *m = (memory_store_t *)base;
  uint64_t h = hash_key(key, key_len);
  shard_t *s = shard_of(m, h);
  tarmac_kv_result_t rc = TARMAC_KV_NOT_FOUND;
  pthread_rwlock_rdlock(&s->lock);
  entry_t *e = *find_slot(s, h, key, key_len);
  if (e) {
    rc = TARMAC_KV_OK;
    if (tarmac_buffer_append(value, e->bytes + e->key_len, e->value_len) != 0) {
      snprintf(err, err_size, "out of memory");
      rc = TARMAC_KV_ERROR;
    }
  }
  pthread_rwlock_unlock(&s->lock);
  return rc;
}

/* Doubles the bucket array (under the write lock) once the load passes 1;
 * failing to grow only makes chains longer. */
static void maybe_grow(shard_t *s) {
  if (s->count < s->bucket_count) return;
  size_t n = s->bucket_count * 2;
  entry_t **b = calloc(n, sizeof *b);
  if (!b) return;
  for (size_t i = 0; i < s->bucket_count; i++)
    for (entry_t *e = s->buckets[i], *next; e; e = next) {
      next = e->next;
      e->next = b[e->hash & (n - 1)];
      b[e->hash & (n - 1)] = e;
    }
  free(s->buckets);
  s->buckets = b;
  s->bucket_count = n;
}

static entry_t *entry_new(uint64_t h, const char *key, size_t key_len,
                          const uint8_t *data, size_t len) {
  entry_t *e = malloc(sizeof *e + key_len + len);
  if (!e) return NULL;
  e->next = NULL;
  e->hash = h;
  e->key_len = key_len;
  e->value_len = len;
  memcpy(e->bytes, key, key_len);
  if (len) memcpy(e->bytes + key_len, data, len);
  return e;
}

/* Replacing an entry counts only the difference against the cap. */
static bool recharge(memory_store_t *m, uint64_t new_cost, uint64_t old_cost) {
  if (new_cost > old_cost) return reserve(m, new_cost - old_cost);
  release(m, old_cost - new_cost);
  return true;
}

static tarmac_kv_result_t mem_set(tarmac_kvstore_t *base, const char *key,
                                  size_t key_len, const uint8_t *data,
                                  size_t len, char *err, size_t err_size) {
  memory_store_t *m = (memory_store_t *)base;
  uint64_t h = hash_key(key, key_len);
  entry_t *e = entry_new(h, key, key_len, data, len);
  if (!e) return snprintf(err, err_size, "out of memory"), TARMAC_KV_ERROR;
  shard_t *s = shard_of(m, h);
  pthread_rwlock_wrlock(&s->lock);
  entry_t **slot = find_slot(s, h, key, key_len), *old = *slot;
  bool room = recharge(m, entry_cost(key_len, len),
                       old ? entry_cost(old->key_len, old->value_len) : 0);
  if (room && old) {
    e->next = old->next;
    *slot = e;
  } else if (room) {
    e->next = s->buckets[h & (s->bucket_count - 1)];
    s->buckets[h & (s->bucket_count - 1)] = e;
    s->count++;
    maybe_grow(s);
  }
  pthread_rwlock_unlock(&s->lock);
  if (!room) {
    free(e);
    snprintf(err, err_size,
             "the in-memory store is full (its limit is %llu bytes)",
             (unsigned long long)m->limit);
    return TARMAC_KV_FULL;
  }
  free(old);
  return TARMAC_KV_OK;
}

static tarmac_kv_result_t mem_del(tarmac_kvstore_t *base, const char *key,
                                  size_t key_len, char *err, size_t err_size) {
  memory_store_t *m = (memory_store_t *)base;
  uint64_t h = hash_key(key, key_len);
  shard_t *s = shard_of(m, h);
  pthread_rwlock_wrlock(&s->lock);
  entry_t **slot = find_slot(s, h, key, key_len), *old = *slot;
  if (old) {
    *slot = old->next;
    s->count--;
  }
  pthread_rwlock_unlock(&s->lock);
  if (!old) return TARMAC_KV_NOT_FOUND;
  release(m, entry_cost(old->key_len, old->value_len));
  free(old);
  return TARMAC_KV_OK;
}

/* Each shard is read under its own lock: the listing is not a snapshot of
 * the whole store (writes to other shards may land meanwhile). */
static tarmac_kv_result_t mem_keys(tarmac_kvstore_t *base, tarmac_kv_key_fn fn,
                                   void *ctx, char *err, size_t err_size) {
  memory_store_t *m = (memory_store_t *)base;
  size_t n = 0;
  for (size_t i = 0; i < SHARDS && n < TARMAC_KV_KEYS_MAX; i++) {
    shard_t *s = &m->shards[i];
    int failed = 0;
    pthread_rwlock_rdlock(&s->lock);
    for (size_t b = 0; b < s->bucket_count && !failed; b++)
      for (entry_t *e = s->buckets[b];
           e && !failed && n < TARMAC_KV_KEYS_MAX; e = e->next, n++)
        failed = fn(ctx, (const char *)e->bytes, e->key_len);
    pthread_rwlock_unlock(&s->lock);
    if (failed) {
      snprintf(err, err_size, "out of memory");
      return TARMAC_KV_ERROR;
    }
  }
  return TARMAC_KV_OK;
}

static void mem_free(tarmac_kvstore_t *base) {
  memory_store_t *m = (memory_store_t *)base;
  for (size_t i = 0; i < SHARDS; i++) {
    shard_t *s = &m->shards[i];
    for (size_t b = 0; s->buckets && b < s->bucket_count; b++)
      for (entry_t *e = s->buckets[b], *next; e; e = next) {
        next = e->next;
        free(e);
      }
    free(s->buckets);
    pthread_rwlock_destroy(&s->lock);
  }
  free(m);
}

static const tarmac_kvstore_ops_t memory_ops = {
    mem_get, mem_set, mem_del, mem_keys, NULL, mem_free,
};

tarmac_kvstore_t *tarmac_kvstore_memory_new(uint64_t limit, char *err,
                                            size_t err_size) {
  memory_store_t *m = calloc(1, sizeof *m);
  if (!m) return snprintf(err, err_size, "out of memory"), NULL;
  m->base.ops = &memory_ops;
  m->limit = limit;
  for (size_t i = 0; i < SHARDS; i++) {
    shard_t *s = &m->shards[i];
    s->bucket_count = INITIAL_BUCKETS;
    s->buckets = calloc(INITIAL_BUCKETS, sizeof *s->buckets);
    if (!s->buckets || pthread_rwlock_init(&s->lock, NULL) != 0) {
      free(s->buckets);
      s->buckets = NULL;
      for (size_t j = 0; j < i; j++) pthread_rwlock_destroy(&m->shards[j].lock);
      for (size_t j = 0; j < i; j++) free(m->shards[j].buckets);
      free(m);
      return snprintf(err, err_size, "out of memory"), NULL;
    }
  }
  return &m->base;
}
