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
#include "kv_check.h"
#include "test.h"

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
