/* Unit tests: base64, the seed's envelopes, response headers, the baton
 * hand-off protocol, and configuration from the environment. */
#include <stdlib.h>

#include <jansson.h>

#include "http/baton.h"
#include "http/http.h"
#include "http/loop.h"
#include "server/config.h"
#include "server/envelope.h"
#include "test.h"

static void test_base64(void) {
  tarmac_buffer_t out = TARMAC_BUFFER_INIT;
  const char *cases[][2] = {{"", ""}, {"f", "Zg=="}, {"fo", "Zm8="},
                            {"foo", "Zm9v"}, {"foob", "Zm9vYg=="}};
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    tarmac_buffer_clear(&out);
    CHECK_EQ_INT(tarmac_base64_encode((const uint8_t *)cases[i][0],
                                      strlen(cases[i][0]), &out), 0);
    CHECK_BYTES(out.data, out.len, cases[i][1]);
    tarmac_buffer_clear(&out);
    CHECK_EQ_INT(tarmac_base64_decode(cases[i][1], strlen(cases[i][1]), &out),
                 0);
    CHECK_BYTES(out.data, out.len, cases[i][0]);
  }
  const char *bad[] = {"Zg=", "Z===", "!!!!", "Zm9v\n", "Zg==Zg==", "=Zm9"};
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    tarmac_buffer_clear(&out);
    CHECK_EQ_INT(tarmac_base64_decode(bad[i], strlen(bad[i]), &out), -1);
  }
  tarmac_buffer_free(&out);
}

static void test_request_envelope(void) {
  tarmac_http_header_t headers[] = {
      {"content-type", 12, "text/plain", 10},
      {"x-multi", 7, "a", 1},
      {"X-MULTI", 7, "b", 1},
  };
  tarmac_http_request_t req = {
      .method = "POST", .method_len = 4, .path = "/p", .path_len = 2,
      .query = "q=1", .query_len = 3, .remote_addr = "127.0.0.1:5555",
      .headers = headers, .header_count = 3,
      .body = (const uint8_t *)"hello", .body_len = 5, .protocol = "HTTP/1.1"};
  tarmac_buffer_t out = TARMAC_BUFFER_INIT;
  CHECK_EQ_INT(tarmac_envelope_request(&req, &out), 0);
  CHECK_BYTES(out.data, out.len,
              "{\"headers\":{\"Content-Type\":\"text/plain\",\"X-Multi\":"
              "\"a, b\",\"REQUEST_TYPE\":\"http\",\"HTTP_METHOD\":\"POST\","
              "\"HTTP_PATH\":\"/p\",\"HTTP_QUERY\":\"q=1\",\"REMOTE_ADDR\":"
              "\"127.0.0.1:5555\"},\"payload\":\"aGVsbG8=\"}");
  /* a request envelope is itself a valid response envelope (the seed's
   * example returns it): status 200, its headers, the body */
  tarmac_http_response_t res;
  tarmac_http_response_init(&res);
  char err[256];
  CHECK_EQ_INT(tarmac_envelope_response(out.data, out.len, &res, err,
                                        sizeof(err)), 0);
  CHECK_EQ_INT(res.status, 200);
  CHECK_BYTES(res.body.data, res.body.len, "hello");
  CHECK_EQ_INT(res.header_count, 7);
  tarmac_http_response_free(&res);
  tarmac_buffer_free(&out);
}

/* Values that need escaping, bytes that are not UTF-8, real UTF-8: the
 * envelope is valid JSON and carries the values exactly (Latin-1 for the
 * invalid bytes). */
static void test_request_envelope_escaping(void) {
  tarmac_http_header_t headers[] = {
      {"x-quote", 7, "a\"b\\c\n\x01", 7},
      {"x-latin1", 8, "caf\xe9", 4},
      {"x-utf8", 6, "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80", 14},
      {"x-bad-utf8", 10, "\xed\xa0\x80\xc0\xaf", 5}, /* surrogate, overlong */
  };
  tarmac_http_request_t req = {
      .method = "GET", .method_len = 3, .path = "/\"", .path_len = 2,
      .query = "", .query_len = 0, .remote_addr = "[::1]:1",
      .headers = headers, .header_count = 4};
  tarmac_buffer_t out = TARMAC_BUFFER_INIT;
  CHECK_EQ_INT(tarmac_envelope_request(&req, &out), 0);
  json_error_t jerr;
  json_t *root = json_loadb((const char *)out.data, out.len, 0, &jerr);
  CHECK(root != NULL);
  json_t *h = json_object_get(root, "headers");
  CHECK(strcmp(json_string_value(json_object_get(h, "X-Quote")),
               "a\"b\\c\n\x01") == 0);
  CHECK(strcmp(json_string_value(json_object_get(h, "X-Latin1")),
               "caf\xc3\xa9") == 0);
  CHECK(strcmp(json_string_value(json_object_get(h, "X-Utf8")),
               "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80") == 0);
  CHECK(strcmp(json_string_value(json_object_get(h, "X-Bad-Utf8")),
               "\xc3\xad\xc2\xa0\xc2\x80\xc3\x80\xc2\xaf") == 0);
  CHECK(strcmp(json_string_value(json_object_get(h, "HTTP_PATH")), "/\"") == 0);
  CHECK(strcmp(json_string_value(json_object_get(root, "payload")), "") == 0);
  json_decref(root);
  tarmac_buffer_free(&out);
}

static int parse(const char *json, tarmac_http_response_t *res, char *err) {
  return tarmac_envelope_response((const uint8_t *)json, strlen(json), res,
                                  err, 256);
}

static void test_response_envelope(void) {
  tarmac_http_response_t res;
  tarmac_http_response_init(&res);
  char err[256];
  CHECK_EQ_INT(parse("{\"status_code\":404,\"headers\":{\"A\":\"b\"},"
                     "\"payload\":\"bm8=\"}", &res, err), 0);
  CHECK_EQ_INT(res.status, 404);
  CHECK_BYTES(res.body.data, res.body.len, "no");
  size_t cursor = 0, nl, vl;
  const char *n, *v;
  CHECK(tarmac_http_response_next_header(&res, &cursor, &n, &nl, &v, &vl));
  CHECK_BYTES(n, nl, "A");
  CHECK_BYTES(v, vl, "b");
  CHECK(!tarmac_http_response_next_header(&res, &cursor, &n, &nl, &v, &vl));
  CHECK_EQ_INT(parse("{\"status_code\":0}", &res, err), 0);
  CHECK_EQ_INT(res.status, 200);
  CHECK_EQ_INT(res.body.len, 0);
  CHECK_EQ_INT(parse("{}", &res, err), 0);
  CHECK_EQ_INT(res.status, 200);
  const char *bad[][2] = {
      {"nope", "not JSON"},
      {"[1]", "not a JSON object"},
      {"{\"status_code\":\"200\"}", "status_code is not an integer"},
      {"{\"status_code\":99}", "status_code is not from 200 to 599"},
      {"{\"headers\":[]}", "headers is not an object"},
      {"{\"headers\":{\"a\":1}}", "a header value is not a string"},
      {"{\"headers\":{\"a b\":\"x\"}}", "not valid HTTP"},
      {"{\"headers\":{\"a\":\"x\\r\\nEvil: 1\"}}", "not valid HTTP"},
      {"{\"payload\":5}", "payload is not a string"},
      {"{\"payload\":\"@@@@\"}", "payload is not valid base64"},
  };
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    CHECK_EQ_INT(parse(bad[i][0], &res, err), -1);
    CHECK(strstr(err, bad[i][1]) != NULL);
    CHECK(strstr(err, "invalid response envelope") != NULL);
  }
  tarmac_http_response_free(&res);
}

static void check_header(const tarmac_http_response_t *res, size_t *cursor,
                         const char *name, const char *value) {
  size_t nl, vl;
  const char *n, *v;
  CHECK(tarmac_http_response_next_header(res, cursor, &n, &nl, &v, &vl));
  CHECK_BYTES(n, nl, name);
  CHECK_BYTES(v, vl, value);
}

/* Documents the streaming parse leaves to the jansson tree, and those it
 * reads itself: the results are jansson's either way. */
static void test_response_envelope_edges(void) {
  tarmac_http_response_t res;
  tarmac_http_response_init(&res);
  char err[256];
  /* duplicate keys: the last value counts, at the first one's place */
  CHECK_EQ_INT(parse("{\"headers\":{\"A\":\"1\",\"B\":\"2\",\"A\":\"3\"},"
                     "\"status_code\":\"x\",\"status_code\":201}", &res, err),
               0);
  CHECK_EQ_INT(res.status, 201);
  size_t cursor = 0;
  check_header(&res, &cursor, "A", "3");
  check_header(&res, &cursor, "B", "2");
  CHECK_EQ_INT(res.header_count, 2);
  /* escapes in names and values; anything under unknown keys */
  CHECK_EQ_INT(parse("{\"x\":{\"y\":[1,2.5,true,null]},\"headers\":{\"X-\\u0041"
                     "\":\"\\u00e9\\ud83d\\ude00\",\"B\":\"\\\\ud\"},\"z\":false,"
                     "\"w\":1.5,\"status_code\":null,\"payload\":null}",
                     &res, err), 0);
  CHECK_EQ_INT(res.status, 200);
  CHECK_EQ_INT(res.body.len, 0);
  cursor = 0;
  check_header(&res, &cursor, "X-A", "\xc3\xa9\xf0\x9f\x98\x80");
  check_header(&res, &cursor, "B", "\\ud");
  /* many headers */
  tarmac_buffer_t doc = TARMAC_BUFFER_INIT;
  CHECK_EQ_INT(tarmac_buffer_append_str(&doc, "{\"headers\":{\"H\":\"0\""), 0);
  for (int i = 1; i < 100; i++)
    CHECK_EQ_INT(tarmac_buffer_appendf(&doc, ",\"H%d\":\"%d\"", i, i), 0);
  CHECK_EQ_INT(tarmac_buffer_append_str(&doc, "}}"), 0);
  CHECK_EQ_INT(tarmac_envelope_response(doc.data, doc.len, &res, err, 256), 0);
  CHECK_EQ_INT(res.header_count, 100);
  tarmac_buffer_free(&doc);
  /* refused by jansson though an event parser may take them */
  const char *bad[][2] = {
      {"", "not JSON"},
      {"5", "not JSON"},
      {"\"x\"", "not JSON"},
      {"{} x", "not JSON"},
      {"{\f}", "not JSON"},
      {"{\v\"status_code\":201}", "not JSON"},
      {"{\"x\":\"\\ud800\"}", "not JSON"},
      {"{\"x\":\"\\udc00\"}", "not JSON"},
      {"{\"x\":\"\\ud800\\u0041\"}", "not JSON"},
      {"{\"headers\":{\"a\":\"\\u0000\"}}", "not JSON"},
      {"{\"\\u0000\":1}", "not JSON"},
      {"{\"x\":\"\xc0\x80\"}", "not JSON"},
      {"{\"x\":\"\xed\xa0\x80\"}", "not JSON"},
      {"{\"x\":\"\xf4\x90\x80\x80\"}", "not JSON"},
      {"{\"x\":1e400}", "not JSON"},
      {"{\"status_code\":200.0}", "status_code is not an integer"},
      {"{\"status_code\":true}", "status_code is not an integer"},
      {"{\"status_code\":600}", "status_code is not from 200 to 599"},
      {"{\"headers\":{\"a\":null}}", "a header value is not a string"},
      {"{\"headers\":{\"a\":{}}}", "a header value is not a string"},
      {"{\"headers\":\"a\"}", "headers is not an object"},
      {"{\"payload\":\"bm8\"}", "payload is not valid base64"},
      {"{\"payload\":{}}", "payload is not a string"},
  };
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    CHECK_EQ_INT(parse(bad[i][0], &res, err), -1);
    CHECK(strstr(err, bad[i][1]) != NULL);
  }
  tarmac_http_response_free(&res);
}

static void test_baton(void) {
  tarmac_baton_t b;
  tarmac_baton_init(&b);
  /* fast path: enter/leave keep the baton; the watchdog sees no stall */
  uint64_t t = tarmac_baton_enter(&b);
  CHECK(!tarmac_baton_stalled(&b)); /* first sight of this handler */
  CHECK(tarmac_baton_leave(&b, t));
  CHECK(!tarmac_baton_stalled(&b));
  /* a new handler is never mistaken for the one seen before */
  t = tarmac_baton_enter(&b);
  CHECK(!tarmac_baton_stalled(&b));
  CHECK(tarmac_baton_leave(&b, t));
  t = tarmac_baton_enter(&b);
  CHECK(!tarmac_baton_stalled(&b));
  /* the same handler on two ticks: stalled, taken; its leave fails */
  CHECK(tarmac_baton_stalled(&b));
  CHECK(tarmac_baton_take(&b));
  CHECK(!tarmac_baton_leave(&b, t));
  /* the new holder runs normally */
  uint64_t t2 = tarmac_baton_enter(&b);
  CHECK(t2 != t);
  CHECK(tarmac_baton_leave(&b, t2));
  /* a stall that ends before the takeover: take fails, leave succeeds */
  t = tarmac_baton_enter(&b);
  CHECK(!tarmac_baton_stalled(&b));
  CHECK(tarmac_baton_stalled(&b));
  CHECK(tarmac_baton_leave(&b, t));
  CHECK(!tarmac_baton_take(&b));
}

/* A handler about to wait gives the baton up itself (util/blocking.h):
 * its leave() then fails, a later handler is unaffected, and a release
 * racing a watchdog takeover lets exactly one of them win. */
static void test_baton_release(void) {
  tarmac_baton_t b;
  tarmac_baton_init(&b);
  uint64_t t = tarmac_baton_enter(&b);
  CHECK(tarmac_baton_release(&b, t));
  CHECK(!tarmac_baton_release(&b, t)); /* once */
  CHECK(!tarmac_baton_stalled(&b));    /* idle: nothing to take */
  CHECK(!tarmac_baton_leave(&b, t));
  uint64_t t2 = tarmac_baton_enter(&b); /* the new driver's handler */
  CHECK(t2 != t);
  CHECK(!tarmac_baton_release(&b, t)); /* a stale token cannot */
  CHECK(tarmac_baton_leave(&b, t2));
  /* the watchdog took it first: the release fails */
  t = tarmac_baton_enter(&b);
  CHECK(!tarmac_baton_stalled(&b));
  CHECK(tarmac_baton_stalled(&b));
  CHECK(tarmac_baton_take(&b));
  CHECK(!tarmac_baton_release(&b, t));
  /* released first: the watchdog's takeover of its observation fails */
  t = tarmac_baton_enter(&b);
  CHECK(!tarmac_baton_stalled(&b));
  CHECK(tarmac_baton_stalled(&b));
  CHECK(tarmac_baton_release(&b, t));
  CHECK(!tarmac_baton_take(&b));
  CHECK(!tarmac_baton_leave(&b, t));
}

static void test_churn(void) {
  static tarmac_http_server_t server;
  static http_loop_t loop;
  server.config.max_resets_per_second = 3;
  loop.server = &server;
  uint64_t t = 5000;
  /* abandoned after their request reached us (first request: claims) */
  CHECK(!tarmac_http_churn_intake(&loop, 7, 1, t));
  for (int i = 0; i < 3; i++) tarmac_http_churn_note(&loop, 7, t + i);
  CHECK(!tarmac_http_churn_exceeded(&loop, 7));
  tarmac_http_churn_note(&loop, 7, t + 4);
  CHECK(tarmac_http_churn_exceeded(&loop, 7));
  CHECK(!tarmac_http_churn_exceeded(&loop, 8)); /* others unaffected */
  /* an offender stays marked in later windows */
  tarmac_http_churn_note(&loop, 7, t + 5000);
  CHECK(tarmac_http_churn_exceeded(&loop, 7));
  /* a connection that stays under the rate in every window is never cut */
  CHECK(!tarmac_http_churn_intake(&loop, 9, 1, t));
  for (int w = 0; w < 5; w++)
    for (int i = 0; i < 3; i++)
      tarmac_http_churn_note(&loop, 9, t + 1000 * (uint64_t)w + i);
  CHECK(!tarmac_http_churn_exceeded(&loop, 9));
  /* streams reset before their request was complete: counted at the next
   * request (settled streams the requests do not account for) */
  CHECK(!tarmac_http_churn_intake(&loop, 11, 4, t)); /* 3 early: at limit */
  CHECK(!tarmac_http_churn_intake(&loop, 11, 5, t + 1)); /* a request */
  CHECK(tarmac_http_churn_intake(&loop, 11, 7, t + 2)); /* 1 more early */
  /* requests alone never count, whatever their number */
  for (uint32_t i = 1; i <= 1000; i++)
    CHECK(!tarmac_http_churn_intake(&loop, 13, i, t + i));
  /* a newer connection takes a colliding slot over; the older one is then
   * no longer tracked (forgotten, never charged) */
  uint64_t older = 21, newer = older + 1;
  while (tarmac_http_conn_slot(newer) != tarmac_http_conn_slot(older)) newer++;
  CHECK(!tarmac_http_churn_intake(&loop, older, 1, t));
  CHECK(!tarmac_http_churn_intake(&loop, newer, 1, t));
  CHECK(!tarmac_http_churn_intake(&loop, older, 500, t));
  tarmac_http_churn_note(&loop, older, t);
  CHECK(!tarmac_http_churn_exceeded(&loop, older));
  CHECK(!tarmac_http_churn_intake(&loop, newer, 2, t));
}

static void test_response_headers(void) {
  tarmac_http_response_t res;
  tarmac_http_response_init(&res);
  CHECK_EQ_INT(tarmac_http_response_add_header(&res, "X-A", 3, "1", 1), 0);
  CHECK_EQ_INT(tarmac_http_response_add_header(&res, "", 0, "1", 1), -1);
  CHECK_EQ_INT(tarmac_http_response_add_header(&res, "a:b", 3, "1", 1), -1);
  CHECK_EQ_INT(tarmac_http_response_add_header(&res, "a", 1, "x\ny", 3), -1);
  CHECK_EQ_INT(res.header_count, 1);
  CHECK_EQ_INT(tarmac_http_response_set_text(&res, 503, "down"), 0);
  CHECK_EQ_INT(res.status, 503);
  CHECK_EQ_INT(res.header_count, 1);
  CHECK_BYTES(res.body.data, res.body.len, "down");
  tarmac_http_response_free(&res);
}

static void test_config(void) {
  char err[512];
  tarmac_server_config_t c;
  unsetenv("APP_LISTEN_ADDR");
  unsetenv("APP_WASM_MODULE");
  setenv("APP_WASM_FUNCTION", "/f.wasm", 1);
  CHECK_EQ_INT(tarmac_server_config_load(&c, err, sizeof(err)), 0);
  CHECK(strcmp(c.listen_addr, "0.0.0.0:8443") == 0);
  CHECK(c.enable_tls);
  CHECK(strcmp(c.cert_file, "/certs/cert.crt") == 0);
  CHECK(strcmp(c.wasm_module, "/f.wasm") == 0);
  CHECK(!c.wasm_module_is_seed); /* APP_WASM_FUNCTION: Tarmac v0.4+ */
  CHECK_EQ_INT(c.max_body_bytes, 10 << 20);
  CHECK_EQ_INT(c.pool_size, 100);
  setenv("APP_WASM_MODULE", "/m.wasm", 1);
  setenv("APP_ENABLE_TLS", "FALSE", 1);
  setenv("APP_MAX_BODY_SIZE", "1M", 1);
  setenv("APP_EVENT_LOOPS", "3", 1);
  CHECK_EQ_INT(tarmac_server_config_load(&c, err, sizeof(err)), 0);
  CHECK(strcmp(c.wasm_module, "/m.wasm") == 0);
  CHECK(c.wasm_module_is_seed); /* APP_WASM_MODULE: the seed's envelopes */
  CHECK(!c.enable_tls);
  CHECK_EQ_INT(c.max_body_bytes, 1 << 20);
  setenv("APP_DEBUG", "sometimes", 1);
  CHECK_EQ_INT(tarmac_server_config_load(&c, err, sizeof(err)), -1);
  CHECK(strstr(err, "APP_DEBUG=sometimes") != NULL);
  unsetenv("APP_DEBUG");
  setenv("APP_EVENT_LOOPS", "0", 1);
  CHECK_EQ_INT(tarmac_server_config_load(&c, err, sizeof(err)), -1);
  CHECK(strstr(err, "APP_EVENT_LOOPS") != NULL);
  unsetenv("APP_EVENT_LOOPS");
  setenv("APP_MAX_BODY_SIZE", "lots", 1);
  CHECK_EQ_INT(tarmac_server_config_load(&c, err, sizeof(err)), -1);
  CHECK(strstr(err, "APP_MAX_BODY_SIZE") != NULL);
}

int main(void) {
  test_base64();
  test_request_envelope();
  test_request_envelope_escaping();
  test_response_envelope();
  test_response_envelope_edges();
  test_response_headers();
  test_baton();
  test_baton_release();
  test_churn();
  test_config();
  TEST_EXIT();
}
