/* utf8: strict UTF-8 checks (no overlong forms, no surrogates, nothing past
 * U+10FFFF), shared by the module reader (wasm names must be UTF-8) and the
 * JSON envelopes. Inline because the request path calls it per byte. */
#ifndef TARMAC_UTIL_UTF8_H
#define TARMAC_UTIL_UTF8_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Length of the valid UTF-8 sequence at s (1..4, len >= 1 bytes
 * available), or 0 when the bytes there are not valid UTF-8. */
static inline size_t tarmac_utf8_sequence(const unsigned char *s, size_t len) {
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

/* Whether all len bytes at s are valid UTF-8 (NUL included as U+0000). */
static inline bool tarmac_utf8_valid(const unsigned char *s, size_t len) {
  for (size_t i = 0; i < len;) {
    size_t n = tarmac_utf8_sequence(s + i, len - i);
    if (n == 0) return false;
    i += n;
  }
  return true;
}

/* Replaces each byte that is not part of valid UTF-8 with '?', in place
 * (the length is kept): for outside text that must reach a JSON string. */
static inline void tarmac_utf8_scrub(unsigned char *s, size_t len) {
  for (size_t i = 0; i < len;) {
    size_t n = tarmac_utf8_sequence(s + i, len - i);
    if (n == 0) s[i++] = '?';
    else i += n;
  }
}

#endif
