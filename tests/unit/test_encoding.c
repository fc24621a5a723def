/* Unit tests of src/callbacks/encoding: protobuf first, JSON second,
 * every JSON rule (unknown keys, wrong types, base64, maps of Header as a
 * string or an array, NUL, duplicates, counts), replies in the request's
 * encoding, and the status rules (not 200: the call fails with the text,
 * the reply is still built). */
#include <string.h>

#include "callbacks/encoding.h"
#include "test.h"

static tarmac_callback_status_t status;

static ProtobufCMessage *decode_text(const ProtobufCMessageDescriptor *d,
                                     const char *text) {
  return tarmac_encoding_decode(d, (const uint8_t *)text, strlen(text),
                                &status);
}

/* The JSON reply of msg compared with want. */
static void check_json(const ProtobufCMessage *msg, const char *want) {
  tarmac_buffer_t out = TARMAC_BUFFER_INIT;
  CHECK_EQ_INT(tarmac_encoding_encode(msg, TARMAC_ENCODING_JSON, &out), 0);
  CHECK_BYTES(out.data, out.len, want);
  tarmac_buffer_free(&out);
}

static void test_protobuf_first(void) {
  Tarmac__MetricsGauge gauge = TARMAC__METRICS_GAUGE__INIT;
  gauge.name = "jobs";
  gauge.action = "inc";
  tarmac_buffer_t packed = TARMAC_BUFFER_INIT;
  CHECK_EQ_INT(
      tarmac_encoding_encode(&gauge.base, TARMAC_ENCODING_PROTOBUF, &packed),
      0);
  Tarmac__MetricsGauge *got = (Tarmac__MetricsGauge *)tarmac_encoding_decode(
      &tarmac__metrics_gauge__descriptor, packed.data, packed.len, &status);
  CHECK(got != NULL);
  CHECK_EQ_INT(status.encoding, TARMAC_ENCODING_PROTOBUF);
  CHECK_EQ_INT(status.code, 200);
  if (got) {
    CHECK_BYTES(got->name, strlen(got->name), "jobs");
    CHECK_BYTES(got->action, strlen(got->action), "inc");
  }
  tarmac_encoding_free(got ? &got->base : NULL);
  tarmac_buffer_free(&packed);
  /* an empty payload is an empty protobuf message */
  ProtobufCMessage *empty = tarmac_encoding_decode(
      &tarmac__kvstore_keys__descriptor, NULL, 0, &status);
  CHECK(empty != NULL);
  CHECK_EQ_INT(status.encoding, TARMAC_ENCODING_PROTOBUF);
  tarmac_encoding_free(empty);
}

static void test_json_fallback(void) {
  Tarmac__MetricsHistogram *h = (Tarmac__MetricsHistogram *)decode_text(
      &tarmac__metrics_histogram__descriptor,
      "{\"name\":\"lat\",\"value\":0.5,\"unknown\":[1,{}],\"x\":null}");
  CHECK(h != NULL);
  CHECK_EQ_INT(status.encoding, TARMAC_ENCODING_JSON);
  if (h) CHECK(h->value == 0.5 && strcmp(h->name, "lat") == 0);
  tarmac_encoding_free(h ? &h->base : NULL);
  h = (Tarmac__MetricsHistogram *)decode_text(
      &tarmac__metrics_histogram__descriptor, "{\"name\":\"n\",\"value\":3}");
  CHECK(h != NULL && h->value == 3); /* an integer is a number */
  tarmac_encoding_free(h ? &h->base : NULL);
}

/* Decoding text must fail with a 400 whose text contains want. */
static void check_refused(const ProtobufCMessageDescriptor *d, const char *text,
                          const char *want) {
  ProtobufCMessage *msg = decode_text(d, text);
  CHECK(msg == NULL);
  tarmac_encoding_free(msg);
  CHECK_EQ_INT(status.code, 400);
  if (!strstr(status.text, want)) {
    fprintf(stderr, "status \"%s\" lacks \"%s\"\n", status.text, want);
    CHECK(0);
  }
}

static void test_json_errors(void) {
  const ProtobufCMessageDescriptor *counter =
      &tarmac__metrics_counter__descriptor;
  check_refused(counter, "{\"name\":5}", "field \"name\": expected a string");
  check_refused(counter, "[1]", "expected a JSON object");
  check_refused(counter, "\x07garbage",
                "neither a tarmac.MetricsCounter message nor its JSON form");
  CHECK_EQ_INT(status.encoding, TARMAC_ENCODING_PROTOBUF);
  check_refused(counter, "{\"name\":", "invalid JSON");
  CHECK_EQ_INT(status.encoding, TARMAC_ENCODING_JSON);
  check_refused(counter, "{\"name\":\"a\\u0000b\"}", "is not allowed");
  check_refused(counter, "{\"name\":\"a\",\"name\":\"b\"}", "duplicate");
  check_refused(&tarmac__kvstore_set__descriptor,
                "{\"key\":\"k\",\"data\":\"not base64!\"}",
                "field \"data\": not valid base64");
  check_refused(&tarmac__kvstore_keys__descriptor, "{\"return_proto\":1}",
                "expected true or false");
  check_refused(&tarmac__status__descriptor, "{\"code\":4294967296}",
                "out of range");
  /* field number 0 (fuzz/): protobuf-c keeps it, we refuse it */
  ProtobufCMessage *zero =
      tarmac_encoding_decode(&tarmac__sqlexec_response__descriptor,
                             (const uint8_t *)"\x80\x00\x09", 3, &status);
  CHECK(zero == NULL && status.code == 400);
  tarmac_encoding_free(zero);
  check_refused(&tarmac__httpclient__descriptor, "{\"headers\":{\"a\":[1]}}",
                "field \"headers\": expected a string");
}

static void test_counts_bounded(void) {
  tarmac_buffer_t text = TARMAC_BUFFER_INIT;
  tarmac_buffer_append_str(&text, "{\"keys\":[");
  for (int i = 0; i <= TARMAC_ENCODING_COUNT_MAX; i++)
    tarmac_buffer_append_str(&text, i ? ",\"k\"" : "\"k\"");
  tarmac_buffer_append(&text, "]}", 3);
  check_refused(&tarmac__kvstore_keys_response__descriptor,
                (const char *)text.data, "more than 100000 elements");
  tarmac_buffer_free(&text);
}

static void test_maps_and_bytes(void) {
  Tarmac__HTTPClient *req = (Tarmac__HTTPClient *)decode_text(
      &tarmac__httpclient__descriptor,
      "{\"method\":\"GET\",\"headers\":{\"a\":\"v\",\"b\":[\"1\",\"2\"],"
      "\"c\":{\"values\":[\"x\"]}},\"url\":\"http://h/\",\"body\":\"aGk=\","
      "\"insecure\":true}");
  CHECK(req != NULL);
  if (!req) return;
  CHECK_EQ_INT(req->n_headers, 3);
  CHECK_BYTES(req->body.data, req->body.len, "hi");
  CHECK(req->insecure);
  if (req->n_headers == 3) {
    CHECK_BYTES(req->headers[1]->key, strlen(req->headers[1]->key), "b");
    CHECK_EQ_INT(req->headers[1]->value->n_values, 2);
  }
  check_json(&req->base,
             "{\"method\":\"GET\",\"headers\":{\"a\":\"v\",\"b\":[\"1\",\"2\"],"
             "\"c\":\"x\"},\"url\":\"http://h/\",\"body\":\"aGk=\","
             "\"insecure\":true}");
  /* the protobuf form of the same request decodes back alike */
  tarmac_buffer_t packed = TARMAC_BUFFER_INIT;
  CHECK_EQ_INT(
      tarmac_encoding_encode(&req->base, TARMAC_ENCODING_PROTOBUF, &packed), 0);
  Tarmac__HTTPClient *again = (Tarmac__HTTPClient *)tarmac_encoding_decode(
      &tarmac__httpclient__descriptor, packed.data, packed.len, &status);
  CHECK(again != NULL && status.encoding == TARMAC_ENCODING_PROTOBUF);
  if (again) CHECK_EQ_INT(again->n_headers, 3);
  tarmac_encoding_free(again ? &again->base : NULL);
  tarmac_buffer_free(&packed);
  tarmac_encoding_free(&req->base);
}

static void test_replies(void) {
  Tarmac__SQLExecResponse exec = TARMAC__SQLEXEC_RESPONSE__INIT;
  Tarmac__Status st;
  tarmac_callback_status_t outcome = {TARMAC_ENCODING_JSON, 0, ""};
  tarmac_callback_status_set(&outcome, 200, "OK");
  tarmac_encoding_status(&outcome, &st);
  exec.status = &st;
  exec.last_insert_id = 9007199254740993LL; /* beyond a double's integers */
  exec.rows_affected = -1;
  check_json(&exec.base,
             "{\"status\":{\"code\":200,\"status\":\"OK\"},"
             "\"last_insert_id\":9007199254740993,\"rows_affected\":-1}");
  /* not 200: the call fails with the text, the reply is still written */
  Tarmac__KVStoreGetResponse get = TARMAC__KVSTORE_GET_RESPONSE__INIT;
  tarmac_callback_status_set(&outcome, 404, "key %s not found", "\"k\"");
  tarmac_encoding_status(&outcome, &st);
  get.status = &st;
  tarmac_buffer_t response = TARMAC_BUFFER_INIT, error = TARMAC_BUFFER_INIT;
  CHECK_EQ_INT(tarmac_encoding_reply(&get.base, &outcome, &response, &error),
               -1);
  CHECK_BYTES(error.data, error.len, "key \"k\" not found");
  CHECK_BYTES(response.data, response.len,
              "{\"status\":{\"code\":404,\"status\":\"key \\\"k\\\" not "
              "found\"},\"data\":\"\"}");
  /* protobuf replies unpack as the message */
  tarmac_buffer_clear(&response);
  tarmac_buffer_clear(&error);
  outcome.encoding = TARMAC_ENCODING_PROTOBUF;
  tarmac_callback_status_set(&outcome, 200, "OK");
  tarmac_encoding_status(&outcome, &st);
  CHECK_EQ_INT(tarmac_encoding_reply(&get.base, &outcome, &response, &error),
               0);
  CHECK_EQ_INT(error.len, 0);
  Tarmac__KVStoreGetResponse *back =
      tarmac__kvstore_get_response__unpack(NULL, response.len, response.data);
  CHECK(back != NULL && back->status && back->status->code == 200);
  if (back) tarmac__kvstore_get_response__free_unpacked(back, NULL);
  tarmac_buffer_free(&response);
  tarmac_buffer_free(&error);
}

int main(void) {
  test_protobuf_first();
  test_json_fallback();
  test_json_errors();
  test_counts_bounded();
  test_maps_and_bytes();
  test_replies();
  TEST_EXIT();
}
