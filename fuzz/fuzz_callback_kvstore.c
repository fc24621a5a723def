/* Fuzz target: the tarmac/kvstore callbacks (callbacks/kvstore.c) through
 * the registry's dispatch against one in-memory store (kvstore/memory.c)
 * that lives across inputs, so gets, deletes and keys meet what earlier
 * sets stored. The first input byte picks the operation, the rest is the
 * payload (protobuf or JSON: use -dict=fuzz/json.dict).
 * Properties: no crash or leak; a failed call has error text and a reply
 * whose status says why (400, 404, 507); a successful call's reply decodes
 * in the encoding the call came in and carries status 200; the store stays
 * within its byte cap. */
#include "callbacks/kvstore.h"
#include "fuzz_callback.h"
#include "metrics/metrics.h"
#include "kvstore/kvstore_internal.h"

/* The registry times calls only after tarmac_callbacks_set_metrics, which
 * this target never calls: these stand in for src/metrics. */
tarmac_metric_family_t *tarmac_metrics_family(
    tarmac_metrics_t *m, tarmac_metric_type_t type, const char *name,
    const char *help, const char *const *label_names, size_t n_labels,
    const double *buckets, size_t n_buckets, char *err, size_t err_size) {
  return NULL;
}
tarmac_metric_series_t *tarmac_metric_series(tarmac_metric_family_t *family,
                                             const char *const *label_values) {
  return NULL;
}
void tarmac_metric_observe(tarmac_metric_series_t *series, double v) {}

static const char *const ops[] = {"get", "set", "delete", "keys"};
static const ProtobufCMessageDescriptor *const replies[] = {
    &tarmac__kvstore_get_response__descriptor,
    &tarmac__kvstore_set_response__descriptor,
    &tarmac__kvstore_delete_response__descriptor,
    &tarmac__kvstore_keys_response__descriptor,
};

static tarmac_callbacks_t *registry(void) {
  static tarmac_callbacks_t *r;
  if (r) return r;
  char err[TARMAC_KV_ERR_MAX];
  /* 1 MiB: full stores get exercised too */
  tarmac_kvstore_t *store = tarmac_kvstore_memory_new(1u << 20, err, sizeof err);
  r = tarmac_callbacks_new();
  FUZZ_REQUIRE(store && r && tarmac_callbacks_add_kvstore(r, store) == 0 &&
                   tarmac_callbacks_own(r, store, (void (*)(void *))
                                                      tarmac_kvstore_free) == 0,
               "setup");
  return r;
}

/* The reply's status code, decoded in either encoding. */
static int32_t reply_code(const ProtobufCMessageDescriptor *desc,
                          const tarmac_buffer_t *reply, bool *json) {
  tarmac_callback_status_t st;
  ProtobufCMessage *msg =
      tarmac_encoding_decode(desc, reply->data, reply->len, &st);
  FUZZ_REQUIRE(msg != NULL, "the reply does not decode: %s", st.text);
  *json = st.encoding == TARMAC_ENCODING_JSON;
  /* every KVStore*Response has Status status = 1 first */
  Tarmac__Status *status = *(Tarmac__Status **)((char *)msg +
                                                desc->fields[0].offset);
  int32_t code = status ? status->code : 0;
  tarmac_encoding_free(msg);
  return code;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  fuzz_input_t in = {data, size};
  unsigned op = fuzz_byte(&in) % 4;
  tarmac_host_call_t call = {.binding = "tarmac", .binding_len = 6,
                             .namespace_ = "kvstore", .namespace_len = 7,
                             .operation = ops[op],
                             .operation_len = strlen(ops[op]),
                             .payload = in.at, .payload_len = in.left};
  tarmac_buffer_t response = TARMAC_BUFFER_INIT, error = TARMAC_BUFFER_INIT;
  int rc = tarmac_callbacks_dispatch(registry(), &call, &response, &error);
  bool json = false;
  int32_t code = response.len || op != 3 ? reply_code(replies[op], &response,
                                                      &json)
                                         : 200;
  if (rc == 0) {
    FUZZ_REQUIRE(code == 200, "success with status %d", code);
  } else {
    FUZZ_REQUIRE(error.len > 0, "a failure without text");
    FUZZ_REQUIRE(code == 400 || code == 404 || code == 507,
                 "status %d: %.*s", code, (int)error.len, error.data);
  }
  tarmac_buffer_free(&response);
  tarmac_buffer_free(&error);
  return 0;
}
