/* The C guest SDK's hand-written HTTP client protobuf
 * (sdk/c/tarmac_http_proto.h) against the host's: a request the SDK
 * encodes is what the host decodes (repeated header names gathered into
 * one map entry), and a reply protobuf-c packs is what the SDK reads;
 * truncated replies are refused, never over-read. */
#include <string.h>

#include "callbacks/encoding.h"
#include "tarmac_http_proto.h"
#include "test.h"

static void test_request(void) {
  static const tarmac_http_header_t headers[] = {
      {"X-Rep", "p"}, {"X-One", ""}, {"X-Rep", "q"}};
  tarmac_http_request_t req = {.method = "PATCH", .url = "http://h/x",
                               .headers = headers, .n_headers = 3,
                               .body = "b\0dy", .body_len = 4, .insecure = 1};
  size_t len = 0;
  uint8_t *packed = tarmac_http_proto_request(&req, &len);
  CHECK(packed != NULL);
  tarmac_callback_status_t status;
  Tarmac__HTTPClient *m = (Tarmac__HTTPClient *)tarmac_encoding_decode(
      &tarmac__httpclient__descriptor, packed, len, &status);
  CHECK(m != NULL && status.encoding == TARMAC_ENCODING_PROTOBUF);
  if (m) {
    CHECK(strcmp(m->method, "PATCH") == 0 && strcmp(m->url, "http://h/x") == 0);
    CHECK(m->insecure && m->body.len == 4 && memcmp(m->body.data, "b\0dy", 4) == 0);
    CHECK_EQ_INT(m->n_headers, 2);
    if (m->n_headers == 2) {
      CHECK(strcmp(m->headers[0]->key, "X-Rep") == 0);
      CHECK_EQ_INT(m->headers[0]->value->n_values, 2);
      CHECK(strcmp(m->headers[0]->value->values[1], "q") == 0);
      CHECK(strcmp(m->headers[1]->key, "X-One") == 0 &&
            m->headers[1]->value->n_values == 1 &&
            m->headers[1]->value->values[0][0] == '\0');
    }
  }
  tarmac_encoding_free(m ? &m->base : NULL);
  free(packed);
  req.method = NULL; /* GET */
  req.n_headers = 0;
  req.body_len = 0;
  req.insecure = 0;
  packed = tarmac_http_proto_request(&req, &len);
  m = (Tarmac__HTTPClient *)tarmac_encoding_decode(
      &tarmac__httpclient__descriptor, packed, len, &status);
  CHECK(m && strcmp(m->method, "GET") == 0 && m->n_headers == 0 && !m->insecure);
  tarmac_encoding_free(m ? &m->base : NULL);
  free(packed);
}

static void test_response(void) {
  Tarmac__Status st = TARMAC__STATUS__INIT;
  st.code = 200;
  st.status = "OK";
  char *v2[] = {"a", "b"}, *v1[] = {"text/plain"};
  Tarmac__Header h2 = TARMAC__HEADER__INIT, h1 = TARMAC__HEADER__INIT;
  h2.values = v2, h2.n_values = 2, h1.values = v1, h1.n_values = 1;
  Tarmac__HTTPClientResponse__HeadersEntry e1 =
      TARMAC__HTTPCLIENT_RESPONSE__HEADERS_ENTRY__INIT;
  Tarmac__HTTPClientResponse__HeadersEntry e2 = e1;
  e1.key = "Content-Type", e1.value = &h1, e2.key = "X-Multi", e2.value = &h2;
  Tarmac__HTTPClientResponse__HeadersEntry *entries[] = {&e1, &e2};
  Tarmac__HTTPClientResponse r = TARMAC__HTTPCLIENT_RESPONSE__INIT;
  r.status = &st, r.code = 404, r.headers = entries, r.n_headers = 2;
  r.body.data = (uint8_t *)"gone", r.body.len = 4;
  uint8_t packed[256];
  size_t len = tarmac__httpclient_response__pack(&r, packed);
  tarmac_http_response_t resp;
  CHECK_EQ_INT(tarmac_http_proto_response(packed, len, &resp), 0);
  CHECK(resp.code == 404 && resp.status_code == 200 &&
        strcmp(resp.status_text, "OK") == 0);
  CHECK_BYTES(resp.body, resp.body_len, "gone");
  CHECK_EQ_INT(resp.n_headers, 3);
  if (resp.n_headers == 3) {
    CHECK(strcmp(resp.headers[0].name, "Content-Type") == 0 &&
          strcmp(resp.headers[0].value, "text/plain") == 0);
    CHECK(strcmp(resp.headers[2].name, "X-Multi") == 0 &&
          strcmp(resp.headers[2].value, "b") == 0);
  }
  free(resp.headers);
  free(resp.arena_);
  for (size_t cut = 0; cut < len; cut++) { /* every truncation */
    int rc = tarmac_http_proto_response(packed, cut, &resp);
    CHECK(rc == 0 || rc == -1);
    free(resp.headers);
    free(resp.arena_);
  }
}

int main(void) {
  test_request();
  test_response();
  TEST_EXIT();
}
