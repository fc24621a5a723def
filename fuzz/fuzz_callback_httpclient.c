/* Fuzz target: tarmac/httpclient/call's decoding and validation
 * (src/callbacks/httpclient.c through tarmac_httpclient_check: no network)
 * and the C SDK's reader of its reply (sdk/c/tarmac_http_proto.h). The
 * input is the payload, protobuf or JSON (use -dict=fuzz/json.dict).
 * Properties: no crash or leak; a payload is accepted exactly when the
 * status is 200; a refusal is 400 (bad input) or 403 (a host off the
 * allow-list "localhost, *.example.com") with a text; the SDK reader
 * accepts or refuses any bytes without reading past them. */
#include "callbacks/httpclient.h"
#include "fuzz.h"
#include "tarmac_http_proto.h"

static tarmac_httpclient_t *client(void) {
  static tarmac_httpclient_t *c;
  if (c == NULL) {
    tarmac_httpclient_config_t config = {
        .max_response_bytes = TARMAC_HTTPCLIENT_MAX_RESPONSE_DEFAULT,
        .connect_timeout_ms = 1000, .timeout_ms = 1000, .max_redirects = 1,
        .allow = "localhost, *.example.com"};
    char err[256];
    c = tarmac_httpclient_new(&config, err, sizeof err);
    FUZZ_REQUIRE(c != NULL, "%s", err);
  }
  return c;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  tarmac_callback_status_t status;
  int rc = tarmac_httpclient_check(client(), data, size, &status);
  FUZZ_REQUIRE((rc == 0) == (status.code == 200), "rc %d, status %d \"%s\"",
               rc, status.code, status.text);
  FUZZ_REQUIRE(rc == 0 || status.code == 400 || status.code == 403,
               "refusal %d \"%s\"", status.code, status.text);
  FUZZ_REQUIRE(status.text[0] != '\0', "a status without text");
  tarmac_http_response_t resp;
  tarmac_http_proto_response(data, size, &resp);
  free(resp.headers);
  free(resp.arena_);
  return 0;
}
