/* tarmac_http_proto.h: the C guest SDK's hand-written protobuf for the
 * HTTP client callback (proto/tarmac.proto): encodes HTTPClient{method = 1,
 * headers = 2 (map<string, Header{repeated values = 1}>), url = 3, body = 4,
 * insecure = 5} and decodes HTTPClientResponse{status = 1 (Status{code = 1,
 * status = 2}), code = 2, headers = 3, body = 4}. Header-only and free of
 * waPC imports, so the host's tests check it against the host's decoder
 * (tests/httpclient/test_httpclient.c). Used by tarmac.c; the types are
 * tarmac.h's. */
#ifndef TARMAC_SDK_TARMAC_HTTP_PROTO_H
#define TARMAC_SDK_TARMAC_HTTP_PROTO_H

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tarmac.h"

/* ---- encoding ---- */

static inline size_t tarmac_hp_varint_size(uint64_t v) {
  size_t n = 1;
  while (v >= 0x80) v >>= 7, n++;
  return n;
}

static inline uint8_t *tarmac_hp_varint(uint8_t *p, uint64_t v) {
  while (v >= 0x80) *p++ = (uint8_t)(v | 0x80), v >>= 7;
  *p++ = (uint8_t)v;
  return p;
}

/* A length-delimited field, written even when empty (map keys, values). */
static inline uint8_t *tarmac_hp_bytes(uint8_t *p, unsigned field,
                                       const void *data, size_t len) {
  *p++ = (uint8_t)(field << 3 | 2);
  p = tarmac_hp_varint(p, len);
  if (len) memcpy(p, data, len);
  return p + len;
}

static inline size_t tarmac_hp_field_size(size_t len) {
  return 1 + tarmac_hp_varint_size(len) + len;
}

/* Whether header i is the first with its name (later ones join its map
 * entry: a protobuf map keeps one entry per key). */
static inline int tarmac_hp_first(const tarmac_http_header_t *h, size_t i) {
  for (size_t j = 0; j < i; j++)
    if (strcmp(h[j].name, h[i].name) == 0) return 0;
  return 1;
}

/* The Header message of every value named like header i. */
static inline size_t tarmac_hp_header_size(const tarmac_http_header_t *h,
                                           size_t n, size_t i) {
  size_t size = 0;
  for (size_t j = i; j < n; j++)
    if (strcmp(h[j].name, h[i].name) == 0)
      size += tarmac_hp_field_size(strlen(h[j].value));
  return size;
}

static inline size_t tarmac_hp_entry_size(const tarmac_http_header_t *h,
                                          size_t n, size_t i) {
  return tarmac_hp_field_size(strlen(h[i].name)) +
         tarmac_hp_field_size(tarmac_hp_header_size(h, n, i));
}

static inline uint8_t *tarmac_hp_entry(uint8_t *p, const tarmac_http_header_t *h,
                                       size_t n, size_t i) {
  *p++ = 2 << 3 | 2; /* HTTPClient.headers */
  p = tarmac_hp_varint(p, tarmac_hp_entry_size(h, n, i));
  p = tarmac_hp_bytes(p, 1, h[i].name, strlen(h[i].name));
  *p++ = 2 << 3 | 2;
  p = tarmac_hp_varint(p, tarmac_hp_header_size(h, n, i));
  for (size_t j = i; j < n; j++)
    if (strcmp(h[j].name, h[i].name) == 0)
      p = tarmac_hp_bytes(p, 1, h[j].value, strlen(h[j].value));
  return p;
}

/* Encodes the request; a malloc()ed buffer and *len, or NULL (no
 * memory). Header names repeat for repeated values. */
static inline uint8_t *tarmac_http_proto_request(const tarmac_http_request_t *r,
                                                 size_t *len) {
  const char *method = r->method ? r->method : "GET";
  size_t size = tarmac_hp_field_size(strlen(method)) +
                tarmac_hp_field_size(strlen(r->url)) +
                tarmac_hp_field_size(r->body_len) + 2;
  for (size_t i = 0; i < r->n_headers; i++)
    if (tarmac_hp_first(r->headers, i))
      size += tarmac_hp_field_size(tarmac_hp_entry_size(r->headers, r->n_headers, i));
  uint8_t *buf = malloc(size), *p = buf;
  if (!buf) return NULL;
  p = tarmac_hp_bytes(p, 1, method, strlen(method));
  for (size_t i = 0; i < r->n_headers; i++)
    if (tarmac_hp_first(r->headers, i))
      p = tarmac_hp_entry(p, r->headers, r->n_headers, i);
  p = tarmac_hp_bytes(p, 3, r->url, strlen(r->url));
  if (r->body_len) p = tarmac_hp_bytes(p, 4, r->body, r->body_len);
  if (r->insecure) *p++ = 5 << 3, *p++ = 1;
  *len = (size_t)(p - buf);
  return buf;
}

/* ---- decoding ---- */

typedef struct {
  const uint8_t *p, *end;
} tarmac_hp_reader_t;

/* 0, or -1 when the varint runs past the end or past 10 bytes. */
static inline int tarmac_hp_read_varint(tarmac_hp_reader_t *r, uint64_t *v) {
  *v = 0;
  for (int shift = 0; shift < 70 && r->p < r->end; shift += 7) {
    uint8_t b = *r->p++;
    *v |= (uint64_t)(b & 0x7f) << shift;
    if (!(b & 0x80)) return 0;
  }
  return -1;
}

/* Reads a field: its number, and (wire type 2) its bytes in *sub or (0)
 * its value in *v; other wire types are skipped. Returns the wire type,
 * or -1 when malformed. */
static inline int tarmac_hp_read_field(tarmac_hp_reader_t *r, unsigned *field,
                                       tarmac_hp_reader_t *sub, uint64_t *v) {
  uint64_t tag;
  if (tarmac_hp_read_varint(r, &tag) != 0) return -1;
  *field = (unsigned)(tag >> 3);
  switch (tag & 7) {
    case 0: return tarmac_hp_read_varint(r, v) == 0 ? 0 : -1;
    case 1: if (r->end - r->p < 8) return -1; r->p += 8; return 1;
    case 5: if (r->end - r->p < 4) return -1; r->p += 4; return 5;
    case 2:
      if (tarmac_hp_read_varint(r, v) != 0 || *v > (uint64_t)(r->end - r->p))
        return -1;
      sub->p = r->p;
      sub->end = r->p + *v;
      r->p += *v;
      return 2;
    default: return -1;
  }
}

/* The field numbers a message reads, each with its wire type: (field,
 * wire) pairs as one number. */
#define TARMAC_HP_KEY(field, wire) ((field) << 3 | (unsigned)(wire))

/* Copies bytes as a NUL-terminated string into the arena. */
static inline char *tarmac_hp_copy(char **arena, const tarmac_hp_reader_t *s) {
  char *out = *arena;
  size_t len = (size_t)(s->end - s->p);
  memcpy(out, s->p, len);
  out[len] = '\0';
  *arena += len + 1;
  return out;
}

static inline int tarmac_hp_add_header(tarmac_http_response_t *resp,
                                       const char *name, const char *value) {
  tarmac_http_header_t *grown =
      realloc(resp->headers, (resp->n_headers + 1) * sizeof *grown);
  if (!grown) return -1;
  resp->headers = grown;
  grown[resp->n_headers].name = name;
  grown[resp->n_headers++].value = value;
  return 0;
}

/* A map entry {key = 1, value = 2 Header{values = 1}}: one header per
 * value. */
static inline int tarmac_hp_read_entry(tarmac_hp_reader_t e, char **arena,
                                       tarmac_http_response_t *resp) {
  tarmac_hp_reader_t sub = {NULL, NULL}, values = {NULL, NULL};
  const char *name = "";
  unsigned field;
  uint64_t v = 0; /* set per wire type; -O3 cannot tell */
  while (e.p < e.end) {
    int wire = tarmac_hp_read_field(&e, &field, &sub, &v);
    if (wire < 0) return -1;
    if (TARMAC_HP_KEY(field, wire) == TARMAC_HP_KEY(1, 2))
      name = tarmac_hp_copy(arena, &sub);
    if (TARMAC_HP_KEY(field, wire) == TARMAC_HP_KEY(2, 2)) values = sub;
  }
  while (values.p && values.p < values.end) {
    int wire = tarmac_hp_read_field(&values, &field, &sub, &v);
    if (wire < 0) return -1;
    if (TARMAC_HP_KEY(field, wire) == TARMAC_HP_KEY(1, 2) &&
        tarmac_hp_add_header(resp, name, tarmac_hp_copy(arena, &sub)) != 0)
      return -1;
  }
  return 0;
}

static inline int tarmac_hp_read_status(tarmac_hp_reader_t s, char **arena,
                                        tarmac_http_response_t *resp) {
  tarmac_hp_reader_t sub = {NULL, NULL}; /* set per wire type: the */
  unsigned field;                        /* optimiser cannot tell */
  uint64_t v = 0;
  while (s.p < s.end) {
    int wire = tarmac_hp_read_field(&s, &field, &sub, &v);
    if (wire < 0) return -1;
    if (TARMAC_HP_KEY(field, wire) == TARMAC_HP_KEY(1, 0))
      resp->status_code = (int)(int32_t)v;
    if (TARMAC_HP_KEY(field, wire) == TARMAC_HP_KEY(2, 2))
      resp->status_text = tarmac_hp_copy(arena, &sub);
  }
  return 0;
}

/* Decodes reply (len bytes) into resp: code, the host's status, headers,
 * body, all pointing into one arena owned by resp (every string's copy
 * is no longer than its encoding). 0, or -1 (malformed, or no memory). */
static inline int tarmac_http_proto_response(const uint8_t *reply, size_t len,
                                             tarmac_http_response_t *resp) {
  char *arena = malloc(len + 8);
  tarmac_hp_reader_t r = {reply, reply + len}, sub = {NULL, NULL};
  unsigned field;
  uint64_t v = 0; /* set per wire type; -O3 cannot tell */
  memset(resp, 0, sizeof *resp);
  if (!arena) return -1;
  resp->arena_ = arena;
  resp->status_text = "";
  resp->body = (const uint8_t *)"";
  while (r.p < r.end) {
    int wire = tarmac_hp_read_field(&r, &field, &sub, &v);
    if (wire < 0) return -1;
    switch (TARMAC_HP_KEY(field, wire)) {
      case TARMAC_HP_KEY(1, 2):
        if (tarmac_hp_read_status(sub, &arena, resp) != 0) return -1;
        break;
      case TARMAC_HP_KEY(2, 0): resp->code = (int)(int32_t)v; break;
      case TARMAC_HP_KEY(3, 2):
        if (tarmac_hp_read_entry(sub, &arena, resp) != 0) return -1;
        break;
      case TARMAC_HP_KEY(4, 2):
        resp->body_len = (size_t)(sub.end - sub.p);
        resp->body = (const uint8_t *)tarmac_hp_copy(&arena, &sub);
        break;
      default: break; /* unknown or mistyped: skipped */
    }
  }
  return 0;
}

#endif
