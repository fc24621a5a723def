/* tarmac_proto.h: the C guest SDK's hand-written protobuf encoder for the
 * tiny messages of the metrics callbacks (proto/tarmac.proto):
 * MetricsCounter{name = 1}, MetricsGauge{name = 1, action = 2},
 * MetricsHistogram{name = 1, value = 2 (double)}; and SQLQuery/SQLExec
 * {query = 1} with a reader for their replies. Header-only and free of
 * waPC imports, so the host's unit tests check it against the host's
 * decoder (tests/unit/test_sdk_proto.c). Used by tarmac.c. */
#ifndef TARMAC_SDK_TARMAC_PROTO_H
#define TARMAC_SDK_TARMAC_PROTO_H

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* A buffer big enough for the message: the strings plus 2 tags, 2 length
 * varints (at most 10 bytes each) and a double. */
static inline size_t tarmac_proto_bound(const char *name, const char *text) {
  return strlen(name) + (text ? strlen(text) : 0) + 2 * 11 + 9;
}

static inline uint8_t *tarmac_proto_varint(uint8_t *p, uint64_t v) {
  while (v >= 0x80) {
    *p++ = (uint8_t)(v | 0x80);
    v >>= 7;
  }
  *p++ = (uint8_t)v;
  return p;
}

/* A length-delimited field (wire type 2); proto3 leaves empty ones out. */
static inline uint8_t *tarmac_proto_string(uint8_t *p, unsigned field,
                                           const char *s) {
  size_t len = strlen(s);
  if (len == 0) return p;
  *p++ = (uint8_t)(field << 3 | 2);
  p = tarmac_proto_varint(p, len);
  memcpy(p, s, len);
  return p + len;
}

/* A double field (wire type 1: 8 bytes, little-endian). */
static inline uint8_t *tarmac_proto_double(uint8_t *p, unsigned field,
                                           double v) {
  uint64_t bits;
  memcpy(&bits, &v, sizeof bits);
  if (bits == 0) return p; /* +0.0 is the default */
  *p++ = (uint8_t)(field << 3 | 1);
  for (int i = 0; i < 8; i++) *p++ = (uint8_t)(bits >> (8 * i));
  return p;
}

/* Encodes {name = 1, text = 2} (text may be NULL) or, when text is NULL
 * and has_value, {name = 1, value = 2}. Returns a malloc()ed buffer and
 * its length in *len, or NULL when memory runs out. */
static inline uint8_t *tarmac_proto_metric(const char *name, const char *text,
                                           int has_value, double value,
                                           size_t *len) {
  uint8_t *buf = malloc(tarmac_proto_bound(name, text));
  if (!buf) return NULL;
  uint8_t *p = tarmac_proto_string(buf, 1, name);
  if (text)
    p = tarmac_proto_string(p, 2, text);
  else if (has_value)
    p = tarmac_proto_double(p, 2, value);
  *len = (size_t)(p - buf);
  return buf;
}

/* SQL (tarmac/sql): SQLQuery{query = 1} and SQLExec{query = 1} are one
 * bytes field; their replies are read with tarmac_proto_next. */
static inline uint8_t *tarmac_proto_sql(const void *query, size_t query_len,
                                        size_t *len) {
  uint8_t *buf = malloc(query_len + 11);
  if (!buf) return NULL;
  uint8_t *p = buf;
  if (query_len > 0) {
    *p++ = (uint8_t)(1 << 3 | 2);
    p = tarmac_proto_varint(p, query_len);
    memcpy(p, query, query_len);
    p += query_len;
  }
  *len = (size_t)(p - buf);
  return buf;
}

/* One field of a message: its number, wire type, and either its varint
 * (wire type 0) or its bytes (wire type 2). */
typedef struct {
  unsigned field, wire;
  uint64_t varint;
  const uint8_t *data;
  size_t len;
} tarmac_proto_field_t;

static inline int tarmac_proto_read_varint(const uint8_t **p,
                                           const uint8_t *end, uint64_t *v) {
  *v = 0;
  for (unsigned shift = 0; shift < 64 && *p < end; shift += 7) {
    uint8_t b = *(*p)++;
    *v |= (uint64_t)(b & 0x7f) << shift;
    if (!(b & 0x80)) return 0;
  }
  return -1;
}

/* Reads the field at *p (advancing it): 1 read, 0 at the end, -1 when the
 * message is malformed. Fixed-width fields are skipped over (data, len). */
static inline int tarmac_proto_next(const uint8_t **p, const uint8_t *end,
                                    tarmac_proto_field_t *f) {
  uint64_t key;
  if (*p >= end) return 0;
  if (tarmac_proto_read_varint(p, end, &key) != 0) return -1;
  f->field = (unsigned)(key >> 3);
  f->wire = (unsigned)(key & 7);
  f->varint = 0;
  f->data = *p;
  f->len = f->wire == 1 ? 8 : f->wire == 5 ? 4 : 0;
  if (f->wire == 0) return tarmac_proto_read_varint(p, end, &f->varint) ? -1 : 1;
  if (f->wire == 2) {
    uint64_t n;
    if (tarmac_proto_read_varint(p, end, &n) != 0 ||
        n > (uint64_t)(end - *p))
      return -1;
    f->data = *p;
    f->len = (size_t)n;
  } else if (f->wire != 1 && f->wire != 5) {
    return -1;
  }
  if (f->len > (size_t)(end - *p)) return -1;
  *p += f->len;
  return 1;
}

#endif
