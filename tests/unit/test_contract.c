/* The HTTP contract generations (src/server/contract.c) and the envelope
 * parts they add (route params in the request envelope, the v0.1 response
 * reader): each generation's operation, payload and response, and the bad
 * response envelopes each refuses. */
#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "server/contract.h"
#include "server/envelope.h"
#include "test.h"

static tarmac_http_header_t header = {"content-type", 12, "text/plain", 10};
static const tarmac_http_request_t request = {
    .method = "HEAD", .method_len = 4, .path = "/users/4%2F2", .path_len = 12,
    .query = "a=1", .query_len = 3, .remote_addr = "127.0.0.1:5555",
    .headers = &header, .header_count = 1,
    .body = (const uint8_t *)"hello", .body_len = 5};

/* As the router fills it for HEAD /users/4%2F2 served by GET /users/:id. */
static tarmac_route_match_t routed(void) {
  tarmac_route_match_t m = {.pattern = "/users/:id", .method = "GET",
                            .param_count = 1};
  m.params[0] = (tarmac_route_param_t){"id", 2, "4%2F2", 5};
  return m;
}

static void test_raw_requests(void) {
  tarmac_route_match_t m = routed();
  tarmac_buffer_t scratch = TARMAC_BUFFER_INIT;
  tarmac_contract_call_t call;
  char err[256];
  CHECK_EQ_INT(tarmac_contract_request(TARMAC_CONTRACT_V04, &request, &m,
                                       &scratch, &call, err, sizeof err), 0);
  CHECK_BYTES(call.operation, call.operation_len, "handler");
  CHECK(call.payload == request.body && call.payload_len == 5);
  CHECK_EQ_INT(tarmac_contract_request(TARMAC_CONTRACT_V02, &request, &m,
                                       &scratch, &call, err, sizeof err), 0);
  CHECK_BYTES(call.operation, call.operation_len, "GET"); /* the route's */
  CHECK(call.payload == request.body && call.payload_len == 5);
  CHECK_EQ_INT(tarmac_contract_request(TARMAC_CONTRACT_V02, &request, NULL,
                                       &scratch, &call, err, sizeof err), 0);
  CHECK_BYTES(call.operation, call.operation_len, "HEAD");
  CHECK_EQ_INT(scratch.len, 0); /* raw contracts build nothing */
  tarmac_http_request_t long_method = request;
  long_method.method = "AVERYLONGMETHODNAMEOFMORETHANFORTYEIGHTBYTESXXXXXXX";
  long_method.method_len = strlen(long_method.method);
  CHECK_EQ_INT(tarmac_contract_request(TARMAC_CONTRACT_V01, &long_method,
                                       NULL, &scratch, &call, err, sizeof err),
               -1);
  CHECK(strstr(err, "too long") != NULL);
  tarmac_buffer_free(&scratch);
}

/* The envelope's text as JSON (the payload is NUL-terminated first). */
static json_t *envelope_json(const tarmac_contract_call_t *call) {
  return json_loadb((const char *)call->payload, call->payload_len, 0, NULL);
}

static void test_envelope_requests(void) {
  tarmac_route_match_t m = routed();
  tarmac_buffer_t scratch = TARMAC_BUFFER_INIT;
  tarmac_contract_call_t call;
  char err[256];
  CHECK_EQ_INT(tarmac_buffer_append_str(&scratch, "left alone"), 0);
  CHECK_EQ_INT(tarmac_contract_request(TARMAC_CONTRACT_SEED, &request, &m,
                                       &scratch, &call, err, sizeof err), 0);
  CHECK_BYTES(call.operation, call.operation_len, "request:handler");
  CHECK(call.payload == scratch.data + 10);
  json_t *doc = envelope_json(&call);
  CHECK(doc != NULL);
  CHECK(strcmp(json_string_value(json_object_get(json_object_get(doc,
               "params"), "id")), "4/2") == 0);
  CHECK(strcmp(json_string_value(json_object_get(doc, "payload")),
               "aGVsbG8=") == 0);
  json_t *headers = json_object_get(doc, "headers");
  CHECK(strcmp(json_string_value(json_object_get(headers, "HTTP_METHOD")),
               "HEAD") == 0);
  CHECK(strcmp(json_string_value(json_object_get(headers, "Content-Type")),
               "text/plain") == 0);
  json_decref(doc);
  tarmac_buffer_clear(&scratch);
  CHECK_EQ_INT(tarmac_contract_request(TARMAC_CONTRACT_V01, &request, NULL,
                                       &scratch, &call, err, sizeof err), 0);
  CHECK_BYTES(call.operation, call.operation_len, "http:HEAD");
  doc = envelope_json(&call);
  CHECK(doc != NULL && json_object_get(doc, "params") == NULL);
  CHECK(json_object_get(json_object_get(doc, "headers"), "REMOTE_ADDR"));
  json_decref(doc);
  tarmac_buffer_free(&scratch);
}

/* Params with bytes JSON must escape, and several of them. */
static void test_params_escaped(void) {
  tarmac_route_param_t params[2] = {{"a", 1, "%22%5C%0A%FF", 12},
                                    {"b_2", 3, "x", 1}};
  tarmac_buffer_t out = TARMAC_BUFFER_INIT;
  CHECK_EQ_INT(tarmac_envelope_request_params(&request, params, 2, &out), 0);
  json_t *doc = json_loadb((const char *)out.data, out.len, 0, NULL);
  CHECK(doc != NULL);
  json_t *p = json_object_get(doc, "params");
  CHECK(json_object_size(p) == 2);
  CHECK(strcmp(json_string_value(json_object_get(p, "a")),
               "\"\\\n\xc3\xbf") == 0); /* 0xFF as Latin-1 */
  CHECK(strcmp(json_string_value(json_object_get(p, "b_2")), "x") == 0);
  json_decref(doc);
  tarmac_buffer_free(&out);
}

static const char *header_value(const tarmac_http_response_t *res,
                                const char *name, size_t *len) {
  size_t cursor = 0, nl;
  const char *n, *v;
  while (tarmac_http_response_next_header(res, &cursor, &n, &nl, &v, len))
    if (nl == strlen(name) && memcmp(n, name, nl) == 0) return v;
  return NULL;
}

static int respond(tarmac_contract_t c, const char *result,
                   tarmac_http_response_t *res, char *err, size_t err_size) {
  err[0] = '\0';
  return tarmac_contract_response(c, (const uint8_t *)result, strlen(result),
                                  res, err, err_size);
}

static void test_responses(void) {
  tarmac_http_response_t res;
  tarmac_http_response_init(&res);
  char err[256];
  size_t len;
  CHECK_EQ_INT(respond(TARMAC_CONTRACT_V04, "raw {", &res, err, sizeof err), 0);
  CHECK(res.status == 200 && res.header_count == 0);
  CHECK_BYTES(res.body.data, res.body.len, "raw {");
  CHECK_EQ_INT(respond(TARMAC_CONTRACT_V02, "", &res, err, sizeof err), 0);
  CHECK(res.status == 200 && res.body.len == 0);
  CHECK_EQ_INT(respond(TARMAC_CONTRACT_SEED,
                       "{\"status_code\":201,\"headers\":{\"X-A\":\"1\"},"
                       "\"payload\":\"aGk=\"}", &res, err, sizeof err), 0);
  CHECK(res.status == 201);
  CHECK_BYTES(res.body.data, res.body.len, "hi");
  const char *v = header_value(&res, "X-A", &len);
  CHECK(v != NULL && len == 1 && *v == '1');
  CHECK_EQ_INT(respond(TARMAC_CONTRACT_V01,
                       "{\"status\":{\"code\":404,\"status\":\"Not Found\"},"
                       "\"headers\":{\"X-B\":\"2\"},\"payload\":\"aGk=\"}",
                       &res, err, sizeof err), 0);
  CHECK(res.status == 404 && header_value(&res, "X-B", &len) != NULL);
  CHECK_BYTES(res.body.data, res.body.len, "hi");
  CHECK_EQ_INT(respond(TARMAC_CONTRACT_V01, "{\"payload\":\"\"}", &res, err,
                       sizeof err), 0);
  CHECK(res.status == 200 && res.body.len == 0);
  CHECK_EQ_INT(respond(TARMAC_CONTRACT_V01, "{\"status\":{\"code\":0}}", &res,
                       err, sizeof err), 0);
  CHECK(res.status == 200);
  tarmac_http_response_free(&res);
}

static void expect_bad(tarmac_contract_t c, const char *result,
                       const char *reason) {
  tarmac_http_response_t res;
  tarmac_http_response_init(&res);
  char err[256];
  CHECK_EQ_INT(respond(c, result, &res, err, sizeof err), -1);
  if (strstr(err, reason) == NULL)
    fprintf(stderr, "%s: \"%s\" lacks \"%s\"\n", result, err, reason);
  CHECK(strstr(err, reason) != NULL);
  tarmac_http_response_free(&res);
}

static void test_bad_envelopes(void) {
  expect_bad(TARMAC_CONTRACT_V01, "", "not JSON");
  expect_bad(TARMAC_CONTRACT_V01, "[]", "not a JSON object");
  expect_bad(TARMAC_CONTRACT_V01, "{\"status\":200}", "status is not an object");
  expect_bad(TARMAC_CONTRACT_V01, "{\"status\":{\"code\":\"200\"}}",
             "status.code is not an integer");
  expect_bad(TARMAC_CONTRACT_V01, "{\"status\":{\"code\":99}}",
             "status.code is not from 200 to 599");
  expect_bad(TARMAC_CONTRACT_V01, "{\"headers\":[]}", "headers is not an object");
  expect_bad(TARMAC_CONTRACT_V01, "{\"headers\":{\"a\":1}}",
             "a header value is not a string");
  expect_bad(TARMAC_CONTRACT_V01, "{\"headers\":{\"a b\":\"1\"}}",
             "not valid HTTP");
  expect_bad(TARMAC_CONTRACT_V01, "{\"payload\":\"***\"}",
             "payload is not valid base64");
  expect_bad(TARMAC_CONTRACT_V01, "{\"payload\":1}", "payload is not a string");
  expect_bad(TARMAC_CONTRACT_SEED, "{\"status_code\":\"x\"}",
             "status_code is not an integer");
  expect_bad(TARMAC_CONTRACT_SEED, "nope", "not JSON");
}

static void test_guest_error(void) {
  tarmac_http_response_t res;
  tarmac_http_response_init(&res);
  CHECK(!tarmac_contract_guest_error(TARMAC_CONTRACT_SEED, "boom", 4, &res));
  CHECK(!tarmac_contract_guest_error(TARMAC_CONTRACT_V01, "boom", 4, &res));
  CHECK(!tarmac_contract_guest_error(TARMAC_CONTRACT_V02, "boom", 4, &res));
  CHECK(res.status == 0);
  CHECK(tarmac_contract_guest_error(TARMAC_CONTRACT_V04, "boom", 4, &res));
  CHECK(res.status == 500);
  CHECK_BYTES(res.body.data, res.body.len, "boom");
  tarmac_http_response_free(&res);
}

int main(void) {
  test_raw_requests();
  test_envelope_requests();
  test_params_escaped();
  test_responses();
  test_bad_envelopes();
  test_guest_error();
  TEST_EXIT();
}
