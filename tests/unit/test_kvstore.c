/* Unit tests of the embedded key-value stores (kvstore/memory.c,
 * kvstore/lmdb.c) and the tarmac/kvstore callbacks over them
 * (callbacks/kvstore.c): every operation in JSON and protobuf, the
 * statuses (400 empty key / missing data, 404 missing key, 507 full),
 * 1 MiB values, 8 threads x 1000 mixed operations with the final state
 * checked, and LMDB's persistence across close and reopen. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "callbacks/encoding.h"
#include "callbacks/kvstore.h"
#include "kvstore/kvstore.h"
#include "test.h"

#define THREADS 8
#define OPS 1000
#define KEYS_PER_THREAD 50

static tarmac_buffer_t response, error;

static int call(const tarmac_callbacks_t *r, const char *op,
                const void *payload, size_t len) {
  tarmac_host_call_t c = {.binding = "tarmac", .binding_len = 6,
                          .namespace_ = "kvstore", .namespace_len = 7,
                          .operation = op, .operation_len = strlen(op),
                          .payload = payload, .payload_len = len};
  tarmac_buffer_clear(&response);
  tarmac_buffer_clear(&error);
  return tarmac_callbacks_dispatch(r, &c, &response, &error);
}

static int call_json(const tarmac_callbacks_t *r, const char *op,
                     const char *json) {
  return call(r, op, json, strlen(json));
}

static void check_response(const char *want) {
  CHECK_BYTES(response.data, response.len, want);
}

static void test_json(const tarmac_callbacks_t *r) {
  CHECK_EQ_INT(call_json(r, "set", "{\"key\":\"a\",\"data\":\"aGVsbG8=\"}"), 0);
  check_response("{\"status\":{\"code\":200,\"status\":\"OK\"}}");
  CHECK_EQ_INT(call_json(r, "get", "{\"key\":\"a\"}"), 0);
  check_response(
      "{\"status\":{\"code\":200,\"status\":\"OK\"},\"data\":\"aGVsbG8=\"}");
  CHECK_EQ_INT(call(r, "keys", "", 0), 0); /* empty payload: JSON */
  check_response("{\"status\":{\"code\":200,\"status\":\"OK\"},\"keys\":[\"a\"]}");
  CHECK_EQ_INT(call_json(r, "get", "{\"key\":\"\"}"), -1);
  CHECK_BYTES(error.data, error.len, "key is empty");
  CHECK_EQ_INT(call_json(r, "set", "{\"key\":\"b\"}"), -1);
  CHECK_BYTES(error.data, error.len, "data is missing");
  CHECK_EQ_INT(call_json(r, "set", "{\"key\":\"b\",\"data\":\"%%%\"}"), -1);
  CHECK(strstr((const char *)response.data, "\"code\":400") != NULL);
  CHECK_EQ_INT(call_json(r, "get", "{\"key\":\"nope\"}"), -1);
  CHECK_BYTES(error.data, error.len, "key \"nope\" not found");
  CHECK(strstr((const char *)response.data, "\"code\":404") != NULL);
  CHECK_EQ_INT(call_json(r, "delete", "{\"key\":\"a\"}"), 0);
  CHECK_EQ_INT(call_json(r, "delete", "{\"key\":\"a\"}"), -1);
  CHECK_BYTES(error.data, error.len, "key \"a\" not found");
  CHECK_EQ_INT(call_json(r, "get", "{\"key\":\"a\"}"), -1);
}

static void test_protobuf(const tarmac_callbacks_t *r) {
  uint8_t buf[256];
  Tarmac__KVStoreSet set = TARMAC__KVSTORE_SET__INIT;
  set.key = "p";
  set.data.data = (uint8_t *)"\x00\x01\xff";
  set.data.len = 3;
  CHECK_EQ_INT(call(r, "set", buf, tarmac__kvstore_set__pack(&set, buf)), 0);
  Tarmac__KVStoreGet get = TARMAC__KVSTORE_GET__INIT;
  get.key = "p";
  CHECK_EQ_INT(call(r, "get", buf, tarmac__kvstore_get__pack(&get, buf)), 0);
  Tarmac__KVStoreGetResponse *g =
      tarmac__kvstore_get_response__unpack(NULL, response.len, response.data);
  CHECK(g && g->status && g->status->code == 200 && g->data.len == 3 &&
        memcmp(g->data.data, "\x00\x01\xff", 3) == 0);
  if (g) tarmac__kvstore_get_response__free_unpacked(g, NULL);
  Tarmac__KVStoreKeys keys = TARMAC__KVSTORE_KEYS__INIT;
  keys.return_proto = true;
  CHECK_EQ_INT(call(r, "keys", buf, tarmac__kvstore_keys__pack(&keys, buf)), 0);
  Tarmac__KVStoreKeysResponse *k =
      tarmac__kvstore_keys_response__unpack(NULL, response.len, response.data);
  CHECK(k && k->n_keys == 1 && strcmp(k->keys[0], "p") == 0);
  if (k) tarmac__kvstore_keys_response__free_unpacked(k, NULL);
  get.key = "";
  CHECK_EQ_INT(call(r, "get", buf, tarmac__kvstore_get__pack(&get, buf)), -1);
  g = tarmac__kvstore_get_response__unpack(NULL, response.len, response.data);
  CHECK(g && g->status && g->status->code == 400);
  if (g) tarmac__kvstore_get_response__free_unpacked(g, NULL);
  Tarmac__KVStoreDelete del = TARMAC__KVSTORE_DELETE__INIT;
  del.key = "p";
  CHECK_EQ_INT(call(r, "delete", buf, tarmac__kvstore_delete__pack(&del, buf)), 0);
  CHECK_EQ_INT(call(r, "delete", buf, tarmac__kvstore_delete__pack(&del, buf)), -1);
}

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

/* Every test of one backend; the store starts empty. */
static void test_store(tarmac_kvstore_t *s) {
  tarmac_callbacks_t *r = tarmac_callbacks_new();
  CHECK(r != NULL && tarmac_callbacks_add_kvstore(r, s) == 0);
  test_json(r);
  test_protobuf(r);
  test_large_value(s);
  test_threads(s);
  tarmac_callbacks_free(r);
}

static void test_memory(void) {
  char err[TARMAC_KV_ERR_MAX];
  tarmac_kvstore_config_t c = {.type = TARMAC_KV_MEMORY,
                               .memory_limit = 64u << 20};
  tarmac_kvstore_t *s = tarmac_kvstore_open(&c, err, sizeof err);
  CHECK(s != NULL);
  test_store(s);
  tarmac_kvstore_free(s);
  c.memory_limit = 4096; /* full: 507, and room again after a delete */
  s = tarmac_kvstore_open(&c, err, sizeof err);
  tarmac_callbacks_t *r = tarmac_callbacks_new();
  CHECK(s && r && tarmac_callbacks_add_kvstore(r, s) == 0);
  uint8_t value[3000] = {1};
  CHECK_EQ_INT(tarmac_kvstore_set(s, "x", 1, value, 3000, err, sizeof err),
               TARMAC_KV_OK);
  CHECK_EQ_INT(tarmac_kvstore_set(s, "y", 1, value, 3000, err, sizeof err),
               TARMAC_KV_FULL);
  CHECK_EQ_INT(call_json(r, "set", "{\"key\":\"z\",\"data\":\"aGVsbG8=\"}"), 0);
  CHECK_EQ_INT(tarmac_kvstore_set(s, "x", 1, value, 3000, err, sizeof err),
               TARMAC_KV_OK); /* replacing counts the difference */
  CHECK_EQ_INT(tarmac_kvstore_delete(s, "x", 1, err, sizeof err), TARMAC_KV_OK);
  CHECK_EQ_INT(tarmac_kvstore_set(s, "y", 1, value, 3000, err, sizeof err),
               TARMAC_KV_OK);
  tarmac_callbacks_free(r);
  tarmac_kvstore_free(s);
}

static void test_lmdb(void) {
  char dir[] = "/tmp/tarmac-kv-XXXXXX", path[64], err[TARMAC_KV_ERR_MAX];
  CHECK(mkdtemp(dir) != NULL);
  snprintf(path, sizeof path, "%s/store.lmdb", dir);
  tarmac_kvstore_config_t c = {.type = TARMAC_KV_LMDB, .path = path,
                               .map_size = 64u << 20};
  tarmac_kvstore_t *s = tarmac_kvstore_open(&c, err, sizeof err);
  CHECK(s != NULL);
  if (!s) return;
  test_store(s);
  CHECK(tarmac_kvstore_open(&c, err, sizeof err) == NULL); /* one env */
  CHECK(strstr(err, "already open in this process") != NULL);
  CHECK_EQ_INT(tarmac_kvstore_set(s, "kept", 4, (uint8_t *)"yes", 3, err,
                                  sizeof err), TARMAC_KV_OK);
  tarmac_kvstore_free(s);
  struct stat st;
  CHECK(stat(path, &st) == 0 && (st.st_mode & 0777) == 0600);
  s = tarmac_kvstore_open(&c, err, sizeof err); /* reopened: still there */
  tarmac_buffer_t v = TARMAC_BUFFER_INIT;
  CHECK(s && tarmac_kvstore_get(s, "kept", 4, &v, err, sizeof err) ==
                 TARMAC_KV_OK);
  CHECK_BYTES(v.data, v.len, "yes");
  tarmac_buffer_free(&v);
  tarmac_kvstore_free(s);
  c.path = "/nonexistent-dir/x.lmdb";
  CHECK(tarmac_kvstore_open(&c, err, sizeof err) == NULL);
  CHECK(strstr(err, "/nonexistent-dir/x.lmdb") != NULL);
  char lock[80];
  snprintf(lock, sizeof lock, "%s-lock", path);
  unlink(lock);
  unlink(path);
  rmdir(dir);
}

int main(void) {
  test_memory();
  test_lmdb();
  tarmac_buffer_free(&response);
  tarmac_buffer_free(&error);
  TEST_EXIT();
}
