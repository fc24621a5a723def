/* base64: standard-alphabet, padded base64 (OpenSSL's codec underneath),
 * shared by the seed's envelopes and the callback payload encoding. */
#ifndef TARMAC_UTIL_BASE64_H
#define TARMAC_UTIL_BASE64_H

#include <stddef.h>
#include <stdint.h>

#include "util/buffer.h"

/* Encode appends to out; 0 or -1. Decode appends; -1 when the text is not
 * valid base64 (length not a multiple of 4, a byte outside the alphabet)
 * or memory runs out. */
int tarmac_base64_encode(const uint8_t *data, size_t len, tarmac_buffer_t *out);
int tarmac_base64_decode(const char *text, size_t len, tarmac_buffer_t *out);

#endif
