/* A C guest (sdk/c) for the HTTP client e2e test (e2e_httpclient.py):
 *   raw  the payload goes to tarmac/httpclient/call as it is (the exact
 *        JSON or protobuf bytes of an SDK); the response is the host's
 *        reply, or the guest fails with the host's error text.
 *   sdk  payload "<METHOD> <URL>\n<body>": tarmac_http_call with headers
 *        X-Rep: p, X-Rep: q, X-One: 1; the response is
 *        "code=<c> method=<X-Method> rep=<X-Got-X-Rep> multi=<X-Multi
 *        values> len=<body length> body=<body>", or the guest fails with
 *        "http: <status text>". */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tarmac.h"

static int raw(const uint8_t *payload, size_t len) {
  uint8_t *out = NULL;
  size_t out_len = 0;
  int rc = tarmac_host_call("tarmac", "httpclient", "call", payload, len,
                            &out, &out_len);
  if (rc != TARMAC_OK) rc = tarmac_fail("%s", out ? (char *)out : "no memory");
  else rc = tarmac_respond(out, out_len);
  free(out);
  return rc;
}

static int sdk(const uint8_t *payload, size_t len) {
  char method[32], url[2048];
  const char *nl = memchr(payload, '\n', len);
  if (!nl || sscanf((const char *)payload, "%31s %2047s", method, url) != 2)
    return tarmac_fail("payload is not \"METHOD URL\\nbody\"");
  const char *body = nl + 1;
  static const tarmac_http_header_t headers[] = {
      {"X-Rep", "p"}, {"X-One", "1"}, {"X-Rep", "q"}};
  tarmac_http_request_t req = {.method = method, .url = url,
                               .headers = headers, .n_headers = 3,
                               .body = body,
                               .body_len = len - (size_t)(body - (const char *)payload)};
  tarmac_http_response_t resp;
  if (tarmac_http_call(&req, &resp) != TARMAC_OK) {
    int rc = tarmac_fail("http: %s", resp.status_text);
    tarmac_http_response_free(&resp);
    return rc;
  }
  size_t multi = 0;
  for (size_t i = 0; i < resp.n_headers; i++)
    multi += strcmp(resp.headers[i].name, "X-Multi") == 0;
  const char *m = tarmac_http_header(&resp, "x-method");
  const char *rep = tarmac_http_header(&resp, "X-Got-X-Rep");
  size_t cap = resp.body_len + 256;
  char *out = malloc(cap);
  int rc = TARMAC_ERROR;
  if (out) {
    int n = snprintf(out, cap, "code=%d method=%s rep=%s multi=%zu len=%zu body=",
                     resp.code, m ? m : "-", rep ? rep : "-", multi,
                     resp.body_len);
    memcpy(out + n, resp.body, resp.body_len);
    rc = tarmac_respond(out, (size_t)n + resp.body_len);
    free(out);
  }
  tarmac_http_response_free(&resp);
  return rc;
}

TARMAC_INIT(setup) {
  tarmac_register("raw", raw);
  tarmac_register("sdk", sdk);
}
