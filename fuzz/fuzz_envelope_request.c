/* Fuzz target: the request-envelope writer (src/server/envelope.c).
 * Input: method, path, query, peer address, up to 15 headers (name, value),
 * up to 4 route parameters (name, raw value) and the body, each a
 * length-prefixed field (fuzz.h).
 * Property: the output is valid JSON (RFC 8259, \u0000 included) that
 * jansson parses back, without duplicate keys, to exactly the request:
 * REQUEST_TYPE "http", the method, path, query and address, every header
 * under its canonical name with repeated ones joined by ", ", the
 * parameters percent-decoded under "params" (absent when none), and the
 * base64 body. Bytes that are not UTF-8 come back as Latin-1 characters. Header
 * names hold no NUL byte (see below); everything else is arbitrary. */
#include <jansson.h>

#include "fuzz.h"
#include "server/envelope.h"

/* Expected decoded string: valid UTF-8 sequences as they are, any other
 * byte as the Latin-1 character (two UTF-8 bytes). Written apart from the
 * writer's own check. */
static void expect_text(tarmac_buffer_t *out, const uint8_t *s, size_t len) {
  for (size_t i = 0; i < len;) {
    size_t n = s[i] < 0x80 ? 1 : (s[i] & 0xE0) == 0xC0 ? 2
               : (s[i] & 0xF0) == 0xE0 ? 3 : (s[i] & 0xF8) == 0xF0 ? 4 : 0;
    uint32_t cp = n == 1 ? s[i] : n == 2 ? s[i] & 0x1F : n == 3 ? s[i] & 0x0F
                                                                : s[i] & 0x07;
    for (size_t k = 1; k < n; k++) {
      if (i + k >= len || (s[i + k] & 0xC0) != 0x80) { n = 0; break; }
      cp = cp << 6 | (s[i + k] & 0x3F);
    }
    static const uint32_t least[5] = {0, 0, 0x80, 0x800, 0x10000};
    if (n == 0 || cp < least[n] || cp > 0x10FFFF ||
        (cp >= 0xD800 && cp <= 0xDFFF)) {
      uint8_t latin1[2] = {(uint8_t)(0xC0 | s[i] >> 6),
                           (uint8_t)(0x80 | (s[i] & 0x3F))};
      FUZZ_REQUIRE(tarmac_buffer_append(out, latin1, 2) == 0, "oom");
      i++;
    } else {
      FUZZ_REQUIRE(tarmac_buffer_append(out, s + i, n) == 0, "oom");
      i += n;
    }
  }
}

static bool same_name(const tarmac_http_header_t *a,
                      const tarmac_http_header_t *b) {
  if (a->name_len != b->name_len) return false;
  for (size_t i = 0; i < a->name_len; i++) {
    char x = a->name[i], y = b->name[i];
    if (x >= 'A' && x <= 'Z') x = (char)(x + 32);
    if (y >= 'A' && y <= 'Z') y = (char)(y + 32);
    if (x != y) return false;
  }
  return true;
}

static void require_string(json_t *obj, const char *key,
                           const tarmac_buffer_t *want) {
  json_t *v = json_object_get(obj, key);
  FUZZ_REQUIRE(json_is_string(v), "\"%s\" missing or not a string", key);
  FUZZ_REQUIRE(json_string_length(v) == want->len &&
                   (want->len == 0 ||
                    memcmp(json_string_value(v), want->data, want->len) == 0),
               "\"%s\" is \"%s\"", key, json_string_value(v));
}

static void require_field(json_t *obj, const char *key, const char *s,
                          size_t len) {
  tarmac_buffer_t want = TARMAC_BUFFER_INIT;
  expect_text(&want, (const uint8_t *)s, len);
  require_string(obj, key, &want);
  tarmac_buffer_free(&want);
}

/* Header i (its first occurrence): canonical name, joined values. */
static void require_header(json_t *headers, const tarmac_http_request_t *req,
                           size_t i) {
  const tarmac_http_header_t *h = &req->headers[i];
  char *name = malloc(h->name_len + 1);
  FUZZ_REQUIRE(name != NULL, "oom");
  bool upper = true;
  for (size_t k = 0; k < h->name_len; k++) {
    char c = h->name[k];
    if (upper && c >= 'a' && c <= 'z') c = (char)(c - 32);
    if (!upper && c >= 'A' && c <= 'Z') c = (char)(c + 32);
    name[k] = c;
    upper = h->name[k] == '-';
  }
  tarmac_buffer_t key = TARMAC_BUFFER_INIT, value = TARMAC_BUFFER_INIT;
  expect_text(&key, (const uint8_t *)name, h->name_len);
  FUZZ_REQUIRE(tarmac_buffer_append(&key, "", 1) == 0, "oom");
  for (size_t j = i; j < req->header_count; j++) {
    if (!same_name(&req->headers[j], h)) continue;
    if (j != i) FUZZ_REQUIRE(tarmac_buffer_append(&value, ", ", 2) == 0, "oom");
    expect_text(&value, (const uint8_t *)req->headers[j].value,
                req->headers[j].value_len);
  }
  require_string(headers, (const char *)key.data, &value);
  tarmac_buffer_free(&key);
  tarmac_buffer_free(&value);
  free(name);
}

static void require_payload(json_t *root, const tarmac_http_request_t *req) {
  tarmac_buffer_t want = TARMAC_BUFFER_INIT;
  FUZZ_REQUIRE(tarmac_buffer_reserve(&want, 4 * ((req->body_len + 2) / 3) + 1)
                   == 0, "oom");
  want.len = fuzz_b64_encode(req->body ? req->body : (const uint8_t *)"",
                             req->body_len, (char *)want.data);
  require_string(root, "payload", &want);
  tarmac_buffer_free(&want);
}

typedef struct {
  tarmac_route_param_t at[4];
  unsigned count;
  char names[4][16];
} params_t;

static int hex_digit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

/* Percent-decoding, written apart from tarmac_route_decode: "%XX" with two
 * hex digits is one byte, anything else stays. */
static void expect_decoded(tarmac_buffer_t *out, const char *s, size_t len) {
  tarmac_buffer_t raw = TARMAC_BUFFER_INIT;
  for (size_t i = 0; i < len; i++) {
    uint8_t byte = (uint8_t)s[i];
    if (s[i] == '%' && i + 2 < len && hex_digit(s[i + 1]) >= 0 &&
        hex_digit(s[i + 2]) >= 0) {
      byte = (uint8_t)(hex_digit(s[i + 1]) * 16 + hex_digit(s[i + 2]));
      i += 2;
    }
    FUZZ_REQUIRE(tarmac_buffer_append(&raw, &byte, 1) == 0, "oom");
  }
  expect_text(out, raw.data ? raw.data : (const uint8_t *)"", raw.len);
  tarmac_buffer_free(&raw);
}

static void require_params(json_t *root, const params_t *params) {
  json_t *obj = json_object_get(root, "params");
  if (params->count == 0) {
    FUZZ_REQUIRE(obj == NULL, "\"params\" without parameters");
    return;
  }
  FUZZ_REQUIRE(json_is_object(obj) && json_object_size(obj) == params->count,
               "\"params\" shape");
  for (unsigned i = 0; i < params->count; i++) {
    tarmac_buffer_t want = TARMAC_BUFFER_INIT;
    expect_decoded(&want, params->at[i].value, params->at[i].value_len);
    require_string(obj, params->names[i], &want);
    tarmac_buffer_free(&want);
  }
}

static void check(const tarmac_http_request_t *req, const params_t *params,
                  const tarmac_buffer_t *out) {
  json_error_t jerr;
  json_t *root = json_loadb((const char *)out->data, out->len,
                            JSON_ALLOW_NUL | JSON_REJECT_DUPLICATES, &jerr);
  FUZZ_REQUIRE(root != NULL, "not JSON: %s at %d: %.*s", jerr.text,
               jerr.position, (int)out->len, (const char *)out->data);
  json_t *headers = json_object_get(root, "headers");
  FUZZ_REQUIRE(json_is_object(root) &&
                   json_object_size(root) == 2 + (params->count > 0) &&
                   json_is_object(headers), "envelope shape");
  size_t distinct = 0;
  for (size_t i = 0; i < req->header_count; i++) {
    bool first = true;
    for (size_t j = 0; j < i && first; j++)
      first = !same_name(&req->headers[j], &req->headers[i]);
    if (!first) continue;
    distinct++;
    require_header(headers, req, i);
  }
  FUZZ_REQUIRE(json_object_size(headers) == distinct + 5,
               "%zu header keys for %zu headers", json_object_size(headers),
               distinct);
  require_field(headers, "REQUEST_TYPE", "http", 4);
  require_field(headers, "HTTP_METHOD", req->method, req->method_len);
  require_field(headers, "HTTP_PATH", req->path, req->path_len);
  require_field(headers, "HTTP_QUERY", req->query, req->query_len);
  require_field(headers, "REMOTE_ADDR", req->remote_addr,
                strlen(req->remote_addr));
  require_payload(root, req);
  require_params(root, params);
  json_decref(root);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  uint8_t *copy = malloc(size + 1); /* header names are edited below */
  FUZZ_REQUIRE(copy != NULL, "oom");
  if (size) memcpy(copy, data, size);
  fuzz_input_t in = {copy, size};
  tarmac_http_request_t req = {0};
  tarmac_http_header_t headers[15]; /* header_count < 16 */
  const uint8_t *p;
  req.method_len = fuzz_take(&in, &p), req.method = (const char *)p;
  req.path_len = fuzz_take(&in, &p), req.path = (const char *)p;
  req.query_len = fuzz_take(&in, &p), req.query = (const char *)p;
  size_t addr_len = fuzz_take(&in, &p);
  char *addr = strndup((const char *)p, addr_len); /* a C string */
  FUZZ_REQUIRE(addr != NULL, "oom");
  req.remote_addr = addr;
  req.header_count = fuzz_byte(&in) % 16;
  for (size_t i = 0; i < req.header_count; i++) {
    headers[i].name_len = fuzz_take(&in, &p), headers[i].name = (const char *)p;
    /* The HTTP layer delivers names without NUL (h2o takes HTTP tokens
     * only), and jansson cannot read keys holding \u0000. */
    for (size_t k = 0; k < headers[i].name_len; k++)
      if (p[k] == 0) ((uint8_t *)p)[k] = '0';
    headers[i].value_len = fuzz_take(&in, &p);
    headers[i].value = (const char *)p;
  }
  req.headers = headers;
  params_t params = {.count = fuzz_byte(&in) % 5};
  for (unsigned i = 0; i < params.count; i++) {
    /* names as route patterns allow them, distinct by their first letter */
    size_t n = fuzz_take(&in, &p) % 15;
    params.names[i][0] = (char)('a' + i);
    for (size_t k = 1; k < n; k++)
      params.names[i][k] = "abcdefghijklmnopqrstuvwxyz0123456789_"[p[k] % 37];
    params.names[i][n ? n : 1] = '\0';
    params.at[i].name = params.names[i];
    params.at[i].name_len = strlen(params.names[i]);
    params.at[i].value_len = fuzz_take(&in, &p);
    params.at[i].value = (const char *)p;
  }
  req.body_len = in.left;
  req.body = in.left ? in.at : NULL;
  tarmac_buffer_t out = TARMAC_BUFFER_INIT;
  FUZZ_REQUIRE(tarmac_envelope_request_params(&req, params.at, params.count,
                                              &out) == 0, "writer failed");
  check(&req, &params, &out);
  tarmac_buffer_free(&out);
  free(addr);
  free(copy);
  return 0;
}
