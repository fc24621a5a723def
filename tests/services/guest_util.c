#include "guest_util.h"

#include "tarmac.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

char *guest_base64_encode(const uint8_t *data, size_t len) {
  char *out = malloc((len + 2) / 3 * 4 + 1);
  if (out == NULL) return NULL;
  size_t o = 0;
  for (size_t i = 0; i < len; i += 3) {
    uint32_t v = (uint32_t)data[i] << 16;
    if (i + 1 < len) v |= (uint32_t)data[i + 1] << 8;
    if (i + 2 < len) v |= data[i + 2];
    out[o++] = alphabet[(v >> 18) & 63];
    out[o++] = alphabet[(v >> 12) & 63];
    out[o++] = i + 1 < len ? alphabet[(v >> 6) & 63] : '=';
    out[o++] = i + 2 < len ? alphabet[v & 63] : '=';
  }
  out[o] = '\0';
  return out;
}

static int sextet(char c) {
  const char *at = c ? strchr(alphabet, c) : NULL;
  return at ? (int)(at - alphabet) : -1;
}

uint8_t *guest_base64_decode(const char *text, size_t len, size_t *out_len) {
  while (len > 0 && text[len - 1] == '=') len--;
  uint8_t *out = malloc(len * 3 / 4 + 1);
  if (out == NULL) return NULL;
  size_t o = 0;
  uint32_t acc = 0;
  for (size_t i = 0; i < len; i++) {
    int v = sextet(text[i]);
    if (v < 0) {
      free(out);
      return NULL;
    }
    acc = acc << 6 | (uint32_t)v;
    if (i % 4 == 3) {
      out[o++] = (uint8_t)(acc >> 16);
      out[o++] = (uint8_t)(acc >> 8);
      out[o++] = (uint8_t)acc;
    }
  }
  if (len % 4 == 2) out[o++] = (uint8_t)(acc >> 4);
  if (len % 4 == 3) {
    out[o++] = (uint8_t)(acc >> 10);
    out[o++] = (uint8_t)(acc >> 2);
  }
  out[o] = '\0';
  *out_len = o;
  return out;
}

/* Where the value of "key" starts (after the colon and spaces). */
static const char *value_of(const char *json, const char *key) {
  size_t key_len = strlen(key);
  for (const char *at = strchr(json, '"'); at; at = strchr(at + 1, '"')) {
    if (strncmp(at + 1, key, key_len) != 0 || at[1 + key_len] != '"') continue;
    const char *v = at + 2 + key_len;
    while (*v == ' ') v++;
    if (*v != ':') continue;
    v++;
    while (*v == ' ') v++;
    return v;
  }
  return NULL;
}

static char *copy(const char *from, size_t len) {
  char *out = malloc(len + 1);
  if (out == NULL) return NULL;
  memcpy(out, from, len);
  out[len] = '\0';
  return out;
}

char *guest_json_string(const char *json, const char *key) {
  const char *v = value_of(json, key);
  if (v == NULL || *v != '"') return NULL;
  size_t n = 1;
  while (v[n] && v[n] != '"') n += v[n] == '\\' && v[n + 1] ? 2 : 1;
  return copy(v + 1, n - 1);
}

char *guest_json_object(const char *json, const char *key) {
  const char *v = value_of(json, key);
  if (v == NULL || *v != '{') return NULL;
  int depth = 0;
  bool in_string = false;
  for (size_t n = 0; v[n]; n++) {
    char c = v[n];
    if (in_string) {
      if (c == '\\' && v[n + 1]) n++;
      else if (c == '"') in_string = false;
    } else if (c == '"') {
      in_string = true;
    } else if (c == '{') {
      depth++;
    } else if (c == '}' && --depth == 0) {
      return copy(v, n + 1);
    }
  }
  return NULL;
}

uint8_t *guest_request_body(const char *json, size_t *len) {
  char *b64 = guest_json_string(json, "payload");
  uint8_t *body = b64 ? guest_base64_decode(b64, strlen(b64), len)
                      : (uint8_t *)copy("", 0);
  if (b64 == NULL) *len = 0;
  free(b64);
  return body;
}

/* Encodes the answer and hands it to respond. */
static int answer(const uint8_t *data, size_t len, guest_envelope_fn respond) {
  char *b64 = guest_base64_encode(data, len);
  if (b64 == NULL) return tarmac_fail("out of memory");
  int rc = respond(b64);
  free(b64);
  return rc;
}

int guest_serve_envelope(const uint8_t *request, const char *prefix,
                         guest_envelope_fn respond) {
  const char *envelope = (const char *)request;
  char *params = guest_json_object(envelope, "params");
  if (params != NULL && strcmp(params, "{}") != 0) {
    int rc = answer((const uint8_t *)params, strlen(params), respond);
    free(params);
    return rc;
  }
  free(params);
  size_t body_len;
  uint8_t *body = guest_request_body(envelope, &body_len);
  if (body == NULL) return tarmac_fail("request payload is not base64");
  size_t prefix_len = strlen(prefix);
  uint8_t *text = malloc(prefix_len + body_len + 1);
  int rc;
  if (text == NULL) {
    rc = tarmac_fail("out of memory");
  } else {
    memcpy(text, prefix, prefix_len);
    memcpy(text + prefix_len, body, body_len);
    rc = answer(text, prefix_len + body_len, respond);
  }
  free(text);
  free(body);
  return rc;
}
