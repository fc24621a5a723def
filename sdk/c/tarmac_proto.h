/* tarmac_proto.h: the C guest SDK's hand-written protobuf encoder for the
 * tiny messages of the metrics callbacks (proto/tarmac.proto):
 * MetricsCounter{name = 1}, MetricsGauge{name = 1, action = 2},
 * MetricsHistogram{name = 1, value = 2 (double)}. Header-only and free of
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

/* Key-value store messages (tarmac/kvstore): KVStoreGet{key = 1},
 * KVStoreSet{key = 1, data = 2 (bytes)}, KVStoreDelete{key = 1},
 * KVStoreKeys{return_proto = 1 (bool)}; replies are read with
 * tarmac_proto_field. */

/* A bytes field (wire type 2) of len bytes; proto3 leaves empty ones out. */
static inline uint8_t *tarmac_proto_bytes(uint8_t *p, unsigned field,
                                          const void *data, size_t len) {
  if (len == 0) return p;
  *p++ = (uint8_t)(field << 3 | 2);
  p = tarmac_proto_varint(p, len);
  memcpy(p, data, len);
  return p + len;
}

/* Encodes {key = 1, data = 2} (data NULL: {key = 1} alone). Returns a
 * malloc()ed buffer and its length in *len, or NULL (no memory). */
static inline uint8_t *tarmac_proto_kv(const char *key, const void *data,
                                       size_t data_len, size_t *len) {
  size_t klen = strlen(key);
  if (klen > SIZE_MAX / 2 - 32 || data_len > SIZE_MAX / 2 - 32) return NULL;
  uint8_t *buf = malloc(klen + data_len + 2 * 11);
  if (!buf) return NULL;
  uint8_t *p = tarmac_proto_bytes(buf, 1, key, klen);
  if (data) p = tarmac_proto_bytes(p, 2, data, data_len);
  *len = (size_t)(p - buf);
  return buf;
}

/* SQL (tarmac/sql): SQLQuery{query = 1} and SQLExec{query = 1} are one
 * bytes field; their replies are read with tarmac_proto_field. Returns a
 * malloc()ed buffer and its length in *len, or NULL (no memory). */
static inline uint8_t *tarmac_proto_sql(const void *query, size_t query_len,
                                        size_t *len) {
  if (query_len > SIZE_MAX - 16) return NULL;
  uint8_t *buf = malloc(query_len + 11);
  if (!buf) return NULL;
  *len = (size_t)(tarmac_proto_bytes(buf, 1, query, query_len) - buf);
  return buf;
}

/* Reads a varint; NULL when it runs past end or beyond 64 bits. */
static inline const uint8_t *tarmac_proto_read_varint(const uint8_t *p,
                                                      const uint8_t *end,
                                                      uint64_t *v) {
  *v = 0;
  for (unsigned shift = 0; p < end && shift < 64; shift += 7) {
    uint8_t b = *p++;
    *v |= (uint64_t)(b & 0x7f) << shift;
    if (!(b & 0x80)) return p;
  }
  return NULL;
}

/* Reads the field at p: its number in *field, and for a length-delimited
 * field its bytes in *data / *len (else *data NULL, a varint's value in
 * *len). Returns the position after it, or NULL when malformed. */
static inline const uint8_t *tarmac_proto_field(const uint8_t *p,
                                                const uint8_t *end,
                                                unsigned *field,
                                                const uint8_t **data,
                                                uint64_t *len) {
  uint64_t tag;
  if (!(p = tarmac_proto_read_varint(p, end, &tag))) return NULL;
  *field = (unsigned)(tag >> 3);
  *data = NULL;
  switch (tag & 7) {
    case 0: return tarmac_proto_read_varint(p, end, len);
    case 1: *len = 8; return (size_t)(end - p) >= 8 ? p + 8 : NULL;
    case 5: *len = 4; return (size_t)(end - p) >= 4 ? p + 4 : NULL;
    case 2:
      if (!(p = tarmac_proto_read_varint(p, end, len)) ||
          *len > (uint64_t)(end - p))
        return NULL;
      *data = p;
      return p + *len;
  }
  return NULL;
}

#endif
