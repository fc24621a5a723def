/* callbacks/kvstore: decode, check the key and data, call the store, map
 * its result onto a status, reply in the request's encoding. */
#include "callbacks/kvstore.h"

#include <stdlib.h>
#include <string.h>

#include "callbacks/encoding.h"
#include "util/utf8.h"

#define STATUS_FULL 507 /* HTTP's Insufficient Storage */

/* The status for a store result; `what` names the key for 404. */
static void set_result(tarmac_callback_status_t *status, tarmac_kv_result_t rc,
                       const char *key, const char *err) {
  tarmac_buffer_t quoted = TARMAC_BUFFER_INIT;
  switch (rc) {
    case TARMAC_KV_OK: return;
    case TARMAC_KV_NOT_FOUND:
      tarmac_callback_status_set(status, 404, "key %s not found",
                                 tarmac_callbacks_quoted(key, &quoted, "?"));
      break;
    case TARMAC_KV_FULL: tarmac_callback_status_set(status, STATUS_FULL, "%s", err); break;
    case TARMAC_KV_ERROR:
      tarmac_callback_status_set(status, 500, "key-value store: %s", err);
      break;
  }
  tarmac_buffer_free(&quoted);
}

/* 400 unless the key can be stored. */
static bool key_allowed(const char *key, tarmac_callback_status_t *status) {
  size_t len = strlen(key);
  if (len == 0) {
    tarmac_callback_status_set(status, 400, "key is empty");
    return false;
  }
  if (len > TARMAC_KV_KEY_MAX) {
    tarmac_callback_status_set(status, 400,
                               "key is %zu bytes long; at most %d are allowed",
                               len, TARMAC_KV_KEY_MAX);
    return false;
  }
  /* proto3 strings are UTF-8 (the Go SDK refuses others), and keys must
   * come back out of `keys` in JSON too */
  if (!tarmac_utf8_valid((const unsigned char *)key, len)) {
    tarmac_callback_status_set(status, 400, "key is not valid UTF-8");
    return false;
  }
  return true;
}

/* Encodes the reply (whose Status is filled here) and frees the request. */
static int finish(ProtobufCMessage *request, ProtobufCMessage *reply,
                  Tarmac__Status *reply_status,
                  const tarmac_callback_status_t *status,
                  tarmac_buffer_t *response, tarmac_buffer_t *error) {
  tarmac_encoding_status(status, reply_status);
  int rc = tarmac_encoding_reply(reply, status, response, error);
  tarmac_encoding_free(request);
  return rc;
}

static int get_call(void *data, const tarmac_host_call_t *call,
                    tarmac_buffer_t *response, tarmac_buffer_t *error) {
  tarmac_callback_status_t status;
  Tarmac__KVStoreGet *msg = (Tarmac__KVStoreGet *)tarmac_encoding_decode(
      &tarmac__kvstore_get__descriptor, call->payload, call->payload_len,
      &status);
  tarmac_buffer_t value = TARMAC_BUFFER_INIT;
  if (msg && key_allowed(msg->key, &status)) {
    char err[TARMAC_KV_ERR_MAX] = "";
    set_result(&status,
               tarmac_kvstore_get(data, msg->key, strlen(msg->key), &value,
                                  err, sizeof err),
               msg->key, err);
  }
  Tarmac__KVStoreGetResponse reply = TARMAC__KVSTORE_GET_RESPONSE__INIT;
  Tarmac__Status reply_status;
  reply.status = &reply_status;
  if (status.code == 200) {
    reply.data.data = value.data;
    reply.data.len = value.len;
  }
  int rc = finish(msg ? &msg->base : NULL, &reply.base, &reply_status,
                  &status, response, error);
  tarmac_buffer_free(&value);
  return rc;
}

static int set_call(void *data, const tarmac_host_call_t *call,
                    tarmac_buffer_t *response, tarmac_buffer_t *error) {
  tarmac_callback_status_t status;
  Tarmac__KVStoreSet *msg = (Tarmac__KVStoreSet *)tarmac_encoding_decode(
      &tarmac__kvstore_set__descriptor, call->payload, call->payload_len,
      &status);
  if (msg && key_allowed(msg->key, &status)) {
    char err[TARMAC_KV_ERR_MAX] = "";
    if (msg->data.len == 0)
      tarmac_callback_status_set(&status, 400, "data is missing");
    else
      set_result(&status,
                 tarmac_kvstore_set(data, msg->key, strlen(msg->key),
                                    msg->data.data, msg->data.len, err,
                                    sizeof err),
                 msg->key, err);
  }
  Tarmac__KVStoreSetResponse reply = TARMAC__KVSTORE_SET_RESPONSE__INIT;
  Tarmac__Status reply_status;
  reply.status = &reply_status;
  return finish(msg ? &msg->base : NULL, &reply.base, &reply_status, &status,
                response, error);
}

static int delete_call(void *data, const tarmac_host_call_t *call,
                       tarmac_buffer_t *response, tarmac_buffer_t *error) {
  tarmac_callback_status_t status;
  Tarmac__KVStoreDelete *msg = (Tarmac__KVStoreDelete *)tarmac_encoding_decode(
      &tarmac__kvstore_delete__descriptor, call->payload, call->payload_len,
      &status);
  if (msg && key_allowed(msg->key, &status)) {
    char err[TARMAC_KV_ERR_MAX] = "";
    set_result(&status,
               tarmac_kvstore_delete(data, msg->key, strlen(msg->key), err,
                                     sizeof err),
               msg->key, err);
  }
  Tarmac__KVStoreDeleteResponse reply = TARMAC__KVSTORE_DELETE_RESPONSE__INIT;
  Tarmac__Status reply_status;
  reply.status = &reply_status;
  return finish(msg ? &msg->base : NULL, &reply.base, &reply_status, &status,
                response, error);
}

typedef struct {
  char **keys;
  size_t count, cap;
} key_list_t;

/* Collects a key as a string. Keys no guest can set through these
 * callbacks (holding NUL or not UTF-8: another Redis client's) are left
 * out: a proto3 string cannot carry them. */
static int collect_key(void *ctx, const char *key, size_t len) {
  key_list_t *list = ctx;
  if (memchr(key, '\0', len) ||
      !tarmac_utf8_valid((const unsigned char *)key, len))
    return 0;
  char *copy = strndup(key, len);
  if (!copy) return -1;
  if (list->count == list->cap) { /* doubling: linear in the keys */
    size_t cap = list->cap ? list->cap * 2 : 64;
    char **grown = realloc(list->keys, cap * sizeof *grown);
    if (!grown) return free(copy), -1;
    list->keys = grown;
    list->cap = cap;
  }
  list->keys[list->count++] = copy;
  return 0;
}

static int keys_call(void *data, const tarmac_host_call_t *call,
                     tarmac_buffer_t *response, tarmac_buffer_t *error) {
  tarmac_callback_status_t status;
  Tarmac__KVStoreKeys *msg = (Tarmac__KVStoreKeys *)tarmac_encoding_decode(
      &tarmac__kvstore_keys__descriptor, call->payload, call->payload_len,
      &status);
  /* Tarmac's rule: protobuf only when asked for; empty payload = JSON. */
  if (!msg || status.encoding != TARMAC_ENCODING_PROTOBUF ||
      !msg->return_proto)
    status.encoding = TARMAC_ENCODING_JSON;
  key_list_t list = {NULL, 0, 0};
  if (msg) {
    char err[TARMAC_KV_ERR_MAX] = "";
    set_result(&status, tarmac_kvstore_keys(data, collect_key, &list, err,
                                            sizeof err), "", err);
  }
  Tarmac__KVStoreKeysResponse reply = TARMAC__KVSTORE_KEYS_RESPONSE__INIT;
  Tarmac__Status reply_status;
  reply.status = &reply_status;
  if (status.code == 200) {
    reply.keys = list.keys;
    reply.n_keys = list.count;
  }
  int rc = finish(msg ? &msg->base : NULL, &reply.base, &reply_status,
                  &status, response, error);
  for (size_t i = 0; i < list.count; i++) free(list.keys[i]);
  free(list.keys);
  return rc;
}

int tarmac_callbacks_add_kvstore(tarmac_callbacks_t *registry,
                                 tarmac_kvstore_t *store) {
  if (!registry || !store) return -1;
  if (tarmac_callbacks_add(registry, "tarmac", "kvstore", "get", get_call,
                           store) != 0 ||
      tarmac_callbacks_add(registry, "tarmac", "kvstore", "set", set_call,
                           store) != 0 ||
      tarmac_callbacks_add(registry, "tarmac", "kvstore", "delete",
                           delete_call, store) != 0)
    return -1;
  return tarmac_callbacks_add(registry, "tarmac", "kvstore", "keys", keys_call,
                              store);
}
