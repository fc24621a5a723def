/* Regression tests for what the envelope fuzzers found (fuzz/):
 *  - the request writer cut a UTF-8 sequence in a header name at its
 *    256-byte conversion chunk, writing it as four Latin-1 characters
 *    (fuzz_envelope_request);
 *  - the yajl fast reader accepted a document followed by an unfinished
 *    token (`{} "`), which the jansson reference refuses
 *    (fuzz_envelope_response). */
#include <string.h>

#include "server/envelope.h"
#include "server/envelope_internal.h"
#include "test.h"

static void test_long_name_keeps_utf8(void) {
  char name[300];
  memset(name, 'a', sizeof name);
  memcpy(name, "x-", 2);
  memcpy(name + 255, "\xf0\x9f\x98\x80", 4); /* U+1F600 across byte 256 */
  tarmac_http_header_t h = {name, sizeof name, "\xf0\x9f\x98\x80", 4};
  tarmac_http_request_t req = {.method = "GET", .method_len = 3,
                               .path = "/", .path_len = 1, .query = "",
                               .remote_addr = "1.2.3.4:5", .headers = &h,
                               .header_count = 1};
  tarmac_buffer_t out = TARMAC_BUFFER_INIT;
  CHECK_EQ_INT(tarmac_envelope_request(&req, &out), 0);
  CHECK_EQ_INT(tarmac_buffer_append(&out, "", 1), 0);
  char want[310] = "\"X-A";
  memset(want + 4, 'a', 252);
  memcpy(want + 256, "\xf0\x9f\x98\x80", 4);
  memset(want + 260, 'a', 41);
  memcpy(want + 301, "\":\"\xf0\x9f\x98\x80\"", 9);
  CHECK(strstr((const char *)out.data, want) != NULL);
  tarmac_buffer_free(&out);
}

static void expect_refused(const char *doc) {
  tarmac_http_response_t res;
  char err[256] = "";
  tarmac_http_response_init(&res);
  CHECK(!tarmac_envelope_response_fast((const uint8_t *)doc, strlen(doc),
                                       &res));
  CHECK_EQ_INT(tarmac_envelope_response((const uint8_t *)doc, strlen(doc),
                                        &res, err, sizeof err), -1);
  CHECK(strcmp(err, "invalid response envelope: not JSON") == 0);
  tarmac_http_response_free(&res);
}

static void test_trailing_token_refused(void) {
  expect_refused("{} \"");
  expect_refused("{\"status_code\":201} \"}");
  expect_refused("{\"status_code\":201}\"abc");
  expect_refused("{} 1");
  /* white space after the document is fine, and stays on the fast path */
  static const char ok[] = "{\"status_code\":201} \t\r\n";
  tarmac_http_response_t res;
  tarmac_http_response_init(&res);
  CHECK(tarmac_envelope_response_fast((const uint8_t *)ok, strlen(ok), &res));
  CHECK_EQ_INT(res.status, 201);
  tarmac_http_response_free(&res);
}

/* An echoing guest sends the request envelope back, "params" object and
 * all: values under unknown keys are skipped on the fast path, however
 * they nest (within SKIP_DEPTH_MAX), while nesting under a known key, or
 * deeper, is left to the tree parse. */
static void test_unknown_nested_values_skipped(void) {
  static const char echo[] =
      "{\"headers\":{\"A\":\"b\"},\"params\":{\"id\":\"42\",\"l\":[1,[2.5,"
      "{\"x\":null}],true]},\"payload\":\"aGk=\",\"status_code\":201}";
  tarmac_http_response_t res;
  tarmac_http_response_init(&res);
  CHECK(tarmac_envelope_response_fast((const uint8_t *)echo, strlen(echo),
                                      &res));
  CHECK_EQ_INT(res.status, 201);
  CHECK_BYTES(res.body.data, res.body.len, "hi");
  CHECK_EQ_INT(res.header_count, 1);
  tarmac_http_response_reset(&res);
  static const char known[] = "{\"payload\":[\"aGk=\"]}";
  CHECK(!tarmac_envelope_response_fast((const uint8_t *)known, strlen(known),
                                       &res));
  char deep[200] = "{\"x\":";
  for (int i = 0; i < 40; i++) strcat(deep, "[");
  for (int i = 0; i < 40; i++) strcat(deep, "]");
  strcat(deep, "}");
  tarmac_http_response_reset(&res);
  CHECK(!tarmac_envelope_response_fast((const uint8_t *)deep, strlen(deep),
                                       &res));
  char err[256] = "";
  CHECK_EQ_INT(tarmac_envelope_response((const uint8_t *)deep, strlen(deep),
                                        &res, err, sizeof err), 0);
  tarmac_http_response_free(&res);
}

int main(void) {
  test_long_name_keeps_utf8();
  test_trailing_token_refused();
  test_unknown_nested_values_skipped();
  TEST_EXIT();
}
