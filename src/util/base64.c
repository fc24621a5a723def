/* base64: thin wrappers over OpenSSL's EVP block codec, which takes int
 * lengths and does not check the alphabet strictly (checked here). */
#include "util/base64.h"

#include <ctype.h>
#include <openssl/evp.h>
#include <stdint.h>

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
