/* kv_check: checks every key-value backend must pass, shared by
 * test_kvstore.c (in-memory, LMDB) and test_kvstore_redis.c: 1 MiB values,
 * and THREADS threads x OPS mixed operations on keys of their own, each
 * thread checking every get against its model, then the final state
 * checked key by key and by `keys`. The store must hold no other keys. */
#ifndef TARMAC_TESTS_KV_CHECK_H
#define TARMAC_TESTS_KV_CHECK_H

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kvstore/kvstore.h"
#include "test.h"

#define THREADS 8
#define OPS 1000
#define KEYS_PER_THREAD 50

static void test_large_value(tarmac_kvstore_t *s) {
  size_t len = 1u << 20;
  uint8_t *big = malloc(len);
  for (size_t i = 0; i < len; i++) big[i] = (uint8_t)(i * 7);
  char err[TARMAC_KV_ERR_MAX];
  CHECK_EQ_INT(tarmac_kvstore_set(s, "big", 3, big, len, err, sizeof err),
               TARMAC_KV_OK);
  tarmac_buffer_t v = TARMAC_BUFFER_INIT;
  CHECK_EQ_INT(tarmac_kvstore_get(s, "big", 3, &v, err, sizeof err),
               TARMAC_KV_OK);
  CHECK(v.len == len && memcmp(v.data, big, len) == 0);
  CHECK_EQ_INT(tarmac_kvstore_delete(s, "big", 3, err, sizeof err),
               TARMAC_KV_OK);
  tarmac_buffer_free(&v);
  free(big);
}

typedef struct {
  tarmac_kvstore_t *store;
  int id;
  int model[KEYS_PER_THREAD]; /* last value set, -1 = absent */
  int wrong;                  /* gets that disagreed with the model */
} worker_t;

static void *worker_main(void *arg) {
  worker_t *w = arg;
  char key[32], value[32], err[TARMAC_KV_ERR_MAX];
  unsigned seed = (unsigned)w->id * 7919u + 1;
  tarmac_buffer_t got = TARMAC_BUFFER_INIT;
  for (int i = 0; i < OPS; i++) {
    int k = rand_r(&seed) % KEYS_PER_THREAD, op = rand_r(&seed) % 4;
    size_t key_len = (size_t)snprintf(key, sizeof key, "t%d-%d", w->id, k);
    if (op <= 1) {
      int n = snprintf(value, sizeof value, "v%d", i);
      if (tarmac_kvstore_set(w->store, key, key_len, (uint8_t *)value,
                             (size_t)n, err, sizeof err) == TARMAC_KV_OK)
        w->model[k] = i;
      else
        w->wrong++;
    } else if (op == 2) {
      tarmac_kv_result_t rc =
          tarmac_kvstore_delete(w->store, key, key_len, err, sizeof err);
      tarmac_kv_result_t want =
          w->model[k] < 0 ? TARMAC_KV_NOT_FOUND : TARMAC_KV_OK;
      w->wrong += rc != want;
      w->model[k] = -1;
    } else {
      tarmac_buffer_clear(&got);
      tarmac_kv_result_t rc =
          tarmac_kvstore_get(w->store, key, key_len, &got, err, sizeof err);
      int n = snprintf(value, sizeof value, "v%d", w->model[k]);
      w->wrong += w->model[k] < 0 ? rc != TARMAC_KV_NOT_FOUND
                                  : rc != TARMAC_KV_OK || got.len != (size_t)n ||
                                        memcmp(got.data, value, (size_t)n) != 0;
    }
  }
  tarmac_buffer_free(&got);
  return NULL;
}

static int count_key(void *ctx, const char *key, size_t len) {
  (void)key;
  (void)len;
  (*(size_t *)ctx)++;
  return 0;
}

static void test_threads(tarmac_kvstore_t *s) {
  worker_t w[THREADS];
  pthread_t t[THREADS];
  size_t expected = 0, listed = 0;
  for (int i = 0; i < THREADS; i++) {
    w[i] = (worker_t){.store = s, .id = i};
    for (int k = 0; k < KEYS_PER_THREAD; k++) w[i].model[k] = -1;
    CHECK_EQ_INT(pthread_create(&t[i], NULL, worker_main, &w[i]), 0);
  }
  for (int i = 0; i < THREADS; i++) pthread_join(t[i], NULL);
  char key[32], value[32], err[TARMAC_KV_ERR_MAX];
  tarmac_buffer_t got = TARMAC_BUFFER_INIT;
  for (int i = 0; i < THREADS; i++) {
    CHECK_EQ_INT(w[i].wrong, 0);
    for (int k = 0; k < KEYS_PER_THREAD; k++) {
      size_t key_len = (size_t)snprintf(key, sizeof key, "t%d-%d", i, k);
      tarmac_buffer_clear(&got);
      tarmac_kv_result_t rc =
          tarmac_kvstore_get(s, key, key_len, &got, err, sizeof err);
      int n = snprintf(value, sizeof value, "v%d", w[i].model[k]);
      if (w[i].model[k] < 0) {
        CHECK_EQ_INT(rc, TARMAC_KV_NOT_FOUND);
      } else {
        expected++;
        CHECK(rc == TARMAC_KV_OK && got.len == (size_t)n &&
              memcmp(got.data, value, (size_t)n) == 0);
      }
    }
  }
  tarmac_buffer_free(&got);
  CHECK_EQ_INT(tarmac_kvstore_keys(s, count_key, &listed, err, sizeof err),
               TARMAC_KV_OK);
  CHECK_EQ_INT(listed, expected);
}

#endif
