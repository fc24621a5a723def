/* fuzz: what the fuzz targets share. Each target checks properties and
 * stops at the first violation with a message (abort: libFuzzer saves the
 * input as a crash). The reference base64 codec here is deliberately
 * written apart from src/server/envelope.c (which uses OpenSSL), so the
 * two can be compared. */
#ifndef TARMAC_FUZZ_FUZZ_H
#define TARMAC_FUZZ_FUZZ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FUZZ_REQUIRE(cond, ...)                                          \
  do {                                                                   \
    if (!(cond)) {                                                       \
      fprintf(stderr, "%s:%d: property violated: %s: ", __FILE__,        \
              __LINE__, #cond);                                          \
      fprintf(stderr, __VA_ARGS__);                                      \
      fputc('\n', stderr);                                               \
      abort();                                                           \
    }                                                                    \
  } while (0)

/* Splits fuzz input into fields: a two-byte little-endian length, then that
 * many bytes (fewer at the end of the input). */
typedef struct {
  const uint8_t *at;
  size_t left;
} fuzz_input_t;

static inline size_t fuzz_take(fuzz_input_t *in, const uint8_t **out) {
  size_t len = 0;
  for (int i = 0; i < 2 && in->left > 0; i++, in->at++, in->left--)
    len |= (size_t)in->at[0] << (8 * i);
  if (len > in->left) len = in->left;
  *out = in->at;
  in->at += len;
  in->left -= len;
  return len;
}

static inline uint8_t fuzz_byte(fuzz_input_t *in) {
  if (in->left == 0) return 0;
  in->left--;
  return *in->at++;
}

static const char fuzz_b64_alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/* Standard padded base64 of len bytes into out (4 * ((len + 2) / 3) + 1
 * bytes of room); returns the text length. */
static inline size_t fuzz_b64_encode(const uint8_t *data, size_t len,
                                     char *out) {
  size_t n = 0;
  for (size_t i = 0; i < len; i += 3) {
    uint32_t v = (uint32_t)data[i] << 16;
    if (i + 1 < len) v |= (uint32_t)data[i + 1] << 8;
    if (i + 2 < len) v |= data[i + 2];
    out[n++] = fuzz_b64_alphabet[(v >> 18) & 63];
    out[n++] = fuzz_b64_alphabet[(v >> 12) & 63];
    out[n++] = i + 1 < len ? fuzz_b64_alphabet[(v >> 6) & 63] : '=';
    out[n++] = i + 2 < len ? fuzz_b64_alphabet[v & 63] : '=';
  }
  out[n] = '\0';
  return n;
}

/* The contract of tarmac_base64_decode (util/base64.c): length a multiple of 4, only
 * alphabet characters, '=' only as one or two final characters (bits
 * beyond the last byte are ignored). Decodes into out (len / 4 * 3 bytes
 * of room); the byte count, or -1 when the text is refused. */
static inline long fuzz_b64_decode(const char *text, size_t len,
                                   uint8_t *out) {
  if (len % 4 != 0) return -1;
  size_t pad = 0;
  while (pad < 2 && pad < len && text[len - 1 - pad] == '=') pad++;
  size_t n = 0;
  uint32_t v = 0;
  for (size_t i = 0; i < len; i++) {
    const char *p = i < len - pad && text[i] != '\0'
                        ? strchr(fuzz_b64_alphabet, text[i]) : NULL;
    if (i < len - pad && p == NULL) return -1;
    v = v << 6 | (p ? (uint32_t)(p - fuzz_b64_alphabet) : 0);
    if (i % 4 == 3) {
      out[n++] = (uint8_t)(v >> 16);
      out[n++] = (uint8_t)(v >> 8);
      out[n++] = (uint8_t)v;
      v = 0;
    }
  }
  return (long)(n - pad);
}

#endif
