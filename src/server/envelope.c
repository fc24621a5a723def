/* The seed's request/response envelopes. */
#include <ctype.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

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

/* The request envelope is written directly (one pass, no intermediate JSON
 * objects: it is on every request's path); responses are parsed with
 * jansson. */

/* Length of the valid UTF-8 sequence at s (1..4), or 0 when the bytes there
 * are not valid UTF-8 (overlong forms, surrogates and values past U+10FFFF
 * included). */
static size_t utf8_sequence(const unsigned char *s, size_t len) {
  unsigned char c = s[0];
  size_t n;
  uint32_t min, cp;
  if (c < 0x80) return 1;
  if (c >= 0xC2 && c <= 0xDF) n = 2, min = 0x80, cp = c & 0x1F;
  else if (c >= 0xE0 && c <= 0xEF) n = 3, min = 0x800, cp = c & 0x0F;
  else if (c >= 0xF0 && c <= 0xF4) n = 4, min = 0x10000, cp = c & 0x07;
  else return 0;
  if (len < n) return 0;
  for (size_t i = 1; i < n; i++) {
    if ((s[i] & 0xC0) != 0x80) return 0;
    cp = (cp << 6) | (s[i] & 0x3F);
  }
  if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return 0;
  return n;
}

/* Appends the bytes of a JSON string's content: escapes what JSON needs
 * escaped; bytes that are not UTF-8 (possible in header values) are taken
 * as Latin-1. 0 or -1. */
static int append_json_chars(tarmac_buffer_t *out, const char *text,
                             size_t len) {
  const unsigned char *s = (const unsigned char *)text;
  /* worst case: every byte becomes \u00XX */
  if (tarmac_buffer_reserve(out, len * 6) != 0) return -1;
  uint8_t *w = out->data + out->len;
  static const char hex[] = "0123456789abcdef";
  for (size_t i = 0; i < len;) {
    unsigned char c = s[i];
    size_t n = utf8_sequence(s + i, len - i);
    if (n == 0) { /* Latin-1 byte as a two-byte UTF-8 sequence */
      *w++ = (uint8_t)(0xC0 | (c >> 6));
      *w++ = (uint8_t)(0x80 | (c & 0x3F));
      i++;
    } else if (c == '"' || c == '\\') {
      *w++ = '\\';
      *w++ = c;
      i++;
    } else if (c < 0x20) {
      *w++ = '\\';
      *w++ = 'u';
      *w++ = '0';
      *w++ = '0';
      *w++ = (uint8_t)hex[c >> 4];
      *w++ = (uint8_t)hex[c & 15];
      i++;
    } else {
      memcpy(w, s + i, n);
      w += n;
      i += n;
    }
  }
  out->len = (size_t)(w - out->data);
  return 0;
}

static int append_json_string(tarmac_buffer_t *out, const char *text,
                              size_t len) {
  if (tarmac_buffer_append(out, "\"", 1) != 0 ||
      append_json_chars(out, text, len) != 0)
    return -1;
  return tarmac_buffer_append(out, "\"", 1);
}

/* "content-type" -> "Content-Type", as Go's net/http (the seed) did;
 * converted a chunk at a time, then escaped like any string content. */
static int append_canonical_name(tarmac_buffer_t *out, const char *name,
                                 size_t len) {
  char chunk[256];
  bool upper = true;
  for (size_t done = 0; done < len;) {
    size_t n = len - done < sizeof(chunk) ? len - done : sizeof(chunk);
    for (size_t i = 0; i < n; i++) {
      unsigned char c = (unsigned char)name[done + i];
      chunk[i] = (char)(upper ? toupper(c) : tolower(c));
      upper = c == '-';
    }
    if (append_json_chars(out, chunk, n) != 0) return -1;
    done += n;
  }
  return 0;
}

static bool same_name(const tarmac_http_header_t *a,
                      const tarmac_http_header_t *b) {
  return a->name_len == b->name_len &&
         strncasecmp(a->name, b->name, a->name_len) == 0;
}

/* "Name":"value[, value of a repeated header...]" for the first occurrence
 * of header i; nothing for later occurrences. */
static int append_request_header(tarmac_buffer_t *out,
                                 const tarmac_http_request_t *req, size_t i,
                                 bool *first) {
  const tarmac_http_header_t *h = &req->headers[i];
  for (size_t j = 0; j < i; j++)
    if (same_name(&req->headers[j], h)) return 0;
  if ((!*first && tarmac_buffer_append(out, ",", 1) != 0) ||
      tarmac_buffer_append(out, "\"", 1) != 0 ||
      append_canonical_name(out, h->name, h->name_len) != 0 ||
      tarmac_buffer_append(out, "\":\"", 3) != 0 ||
      append_json_chars(out, h->value, h->value_len) != 0)
    return -1;
  *first = false;
  for (size_t j = i + 1; j < req->header_count; j++) {
    const tarmac_http_header_t *next = &req->headers[j];
    if (same_name(next, h) &&
        (tarmac_buffer_append(out, ", ", 2) != 0 ||
         append_json_chars(out, next->value, next->value_len) != 0))
      return -1;
  }
  return tarmac_buffer_append(out, "\"", 1);
}

static int append_field(tarmac_buffer_t *out, const char *key,
                        const char *value, size_t value_len) {
  if (tarmac_buffer_append_str(out, key) != 0) return -1;
  return append_json_string(out, value, value_len);
}

int tarmac_envelope_request(const tarmac_http_request_t *req,
                            tarmac_buffer_t *out) {
  bool first = true;
  if (tarmac_buffer_append_str(out, "{\"headers\":{") != 0) return -1;
  for (size_t i = 0; i < req->header_count; i++)
    if (append_request_header(out, req, i, &first) != 0) return -1;
  if (append_field(out, first ? "\"REQUEST_TYPE\":" : ",\"REQUEST_TYPE\":",
                   "http", 4) != 0 ||
      append_field(out, ",\"HTTP_METHOD\":", req->method, req->method_len) ||
      append_field(out, ",\"HTTP_PATH\":", req->path, req->path_len) ||
      append_field(out, ",\"HTTP_QUERY\":", req->query, req->query_len) ||
      append_field(out, ",\"REMOTE_ADDR\":", req->remote_addr,
                   strlen(req->remote_addr)) ||
      tarmac_buffer_append_str(out, "},\"payload\":\"") != 0 ||
      tarmac_base64_encode(req->body, req->body_len, out) != 0)
    return -1;
  return tarmac_buffer_append(out, "\"}", 2);
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
