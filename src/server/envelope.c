/* The seed's request/response envelopes. */
#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include <jansson.h>
#include <openssl/evp.h>

#include "server/envelope.h"

int tarmac_base64_encode(const uint8_t *data, size_t len,
                         tarmac_buffer_t *out) {
  if (len > (size_t)INT32_MAX / 4 * 3) return -1;
  size_t need = 4 * ((len + 2) / 3) + 1; /* EVP writes a NUL */
  if (tarmac_buffer_reserve(out, need) != 0) return -1;
  int n = len ? EVP_EncodeBlock(out->data + out->len, data, (int)len) : 0;
  out->len += (size_t)n;
  return 0;
}

static int base64_value(unsigned char c) {
  return isalnum(c) || c == '+' || c == '/';
}

int tarmac_base64_decode(const char *text, size_t len, tarmac_buffer_t *out) {
  if (len % 4 != 0 || len > (size_t)INT32_MAX) return -1;
  size_t pad = 0;
  if (len >= 4 && text[len - 1] == '=') pad = text[len - 2] == '=' ? 2 : 1;
  for (size_t i = 0; i < len - pad; i++)
    if (!base64_value((unsigned char)text[i])) return -1;
  if (tarmac_buffer_reserve(out, len / 4 * 3) != 0) return -1;
  if (len == 0) return 0;
  int n = EVP_DecodeBlock(out->data + out->len, (const unsigned char *)text,
                          (int)len);
  if (n < 0 || (size_t)n < pad) return -1;
  out->len += (size_t)n - pad;
  return 0;
}

/* "content-type" -> "Content-Type", as Go's net/http (the seed) did. */
static void canonical_name(const char *name, size_t len, char *out) {
  bool upper = true;
  for (size_t i = 0; i < len; i++) {
    unsigned char c = (unsigned char)name[i];
    out[i] = (char)(upper ? toupper(c) : tolower(c));
    upper = c == '-';
  }
  out[len] = '\0';
}

/* A JSON string from bytes that may not be UTF-8 (header values): invalid
 * bytes are taken as Latin-1. */
static json_t *string_from_bytes(const char *s, size_t len) {
  json_t *str = json_stringn(s, len);
  if (str != NULL) return str;
  tarmac_buffer_t utf8 = TARMAC_BUFFER_INIT;
  if (tarmac_buffer_reserve(&utf8, len * 2) != 0) return NULL;
  for (size_t i = 0; i < len; i++) {
    unsigned char c = (unsigned char)s[i];
    if (c < 0x80) {
      utf8.data[utf8.len++] = c;
    } else {
      utf8.data[utf8.len++] = (uint8_t)(0xC0 | (c >> 6));
      utf8.data[utf8.len++] = (uint8_t)(0x80 | (c & 0x3F));
    }
  }
  str = json_stringn((const char *)utf8.data, utf8.len);
  tarmac_buffer_free(&utf8);
  return str;
}

static int set_string(json_t *obj, const char *key, const char *s,
                      size_t len) {
  json_t *value = string_from_bytes(s, len);
  return value ? json_object_set_new(obj, key, value) : -1;
}

/* Adds a request header; repeated headers are joined with ", ". */
static int add_request_header(json_t *headers, const tarmac_http_header_t *h) {
  char name[256];
  if (h->name_len >= sizeof(name)) return 0; /* not representable; skip */
  canonical_name(h->name, h->name_len, name);
  json_t *old = json_object_get(headers, name);
  if (old == NULL) return set_string(headers, name, h->value, h->value_len);
  tarmac_buffer_t joined = TARMAC_BUFFER_INIT;
  int rc = -1;
  if (tarmac_buffer_append_str(&joined, json_string_value(old)) == 0 &&
      tarmac_buffer_append(&joined, ", ", 2) == 0 &&
      tarmac_buffer_append(&joined, h->value, h->value_len) == 0)
    rc = set_string(headers, name, (const char *)joined.data, joined.len);
  tarmac_buffer_free(&joined);
  return rc;
}

static int add_request_headers(json_t *headers,
                               const tarmac_http_request_t *req) {
  for (size_t i = 0; i < req->header_count; i++)
    if (add_request_header(headers, &req->headers[i]) != 0) return -1;
  if (set_string(headers, "REQUEST_TYPE", "http", 4) != 0 ||
      set_string(headers, "HTTP_METHOD", req->method, req->method_len) != 0 ||
      set_string(headers, "HTTP_PATH", req->path, req->path_len) != 0 ||
      set_string(headers, "HTTP_QUERY", req->query, req->query_len) != 0 ||
      set_string(headers, "REMOTE_ADDR", req->remote_addr,
                 strlen(req->remote_addr)) != 0)
    return -1;
  return 0;
}

static int dump_to_buffer(const char *chunk, size_t size, void *data) {
  return tarmac_buffer_append(data, chunk, size);
}

int tarmac_envelope_request(const tarmac_http_request_t *req,
                            tarmac_buffer_t *out) {
  json_t *root = json_object();
  json_t *headers = json_object();
  tarmac_buffer_t payload = TARMAC_BUFFER_INIT;
  int rc = -1;
  if (root == NULL || headers == NULL) goto done;
  if (add_request_headers(headers, req) != 0 ||
      json_object_set(root, "headers", headers) != 0)
    goto done;
  if (tarmac_base64_encode(req->body, req->body_len, &payload) != 0 ||
      json_object_set_new(root, "payload",
                          json_stringn_nocheck(payload.data
                                                   ? (const char *)payload.data
                                                   : "",
                                               payload.len)) != 0)
    goto done;
  rc = json_dump_callback(root, dump_to_buffer, out, JSON_COMPACT);
done:
  tarmac_buffer_free(&payload);
  json_decref(headers);
  json_decref(root);
  return rc;
}

static int fail(char *err, size_t err_size, const char *reason) {
  snprintf(err, err_size, "invalid response envelope: %s", reason);
  return -1;
}

static int parse_status(json_t *root, tarmac_http_response_t *res, char *err,
                        size_t err_size) {
  json_t *status = json_object_get(root, "status_code");
  res->status = 200;
  if (status == NULL || json_is_null(status)) return 0;
  if (!json_is_integer(status))
    return fail(err, err_size, "status_code is not an integer");
  json_int_t code = json_integer_value(status);
  if (code == 0) return 0;
  if (code < 200 || code > 599)
    return fail(err, err_size, "status_code is not from 200 to 599");
  res->status = (int)code;
  return 0;
}

static int parse_headers(json_t *root, tarmac_http_response_t *res,
                         char *err, size_t err_size) {
  json_t *headers = json_object_get(root, "headers");
  if (headers == NULL || json_is_null(headers)) return 0;
  if (!json_is_object(headers))
    return fail(err, err_size, "headers is not an object");
  const char *name;
  json_t *value;
  json_object_foreach(headers, name, value) {
    if (!json_is_string(value))
      return fail(err, err_size, "a header value is not a string");
    if (tarmac_http_response_add_header(res, name, strlen(name),
                                        json_string_value(value),
                                        json_string_length(value)) != 0)
      return fail(err, err_size, "a header name or value is not valid HTTP");
  }
  return 0;
}

int tarmac_envelope_response(const uint8_t *data, size_t len,
                             tarmac_http_response_t *res, char *err,
                             size_t err_size) {
  tarmac_http_response_reset(res);
  json_error_t jerr;
  json_t *root = json_loadb((const char *)data, len, 0, &jerr);
  if (root == NULL) return fail(err, err_size, "not JSON");
  int rc = -1;
  if (!json_is_object(root)) {
    fail(err, err_size, "not a JSON object");
    goto done;
  }
  if (parse_status(root, res, err, err_size) != 0 ||
      parse_headers(root, res, err, err_size) != 0)
    goto done;
  json_t *payload = json_object_get(root, "payload");
  if (payload != NULL && !json_is_null(payload)) {
    if (!json_is_string(payload)) {
      fail(err, err_size, "payload is not a string");
      goto done;
    }
    if (tarmac_base64_decode(json_string_value(payload),
                             json_string_length(payload), &res->body) != 0) {
      fail(err, err_size, "payload is not valid base64");
      goto done;
    }
  }
  rc = 0;
done:
  json_decref(root);
  return rc;
}
