#include "util/buffer.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int tarmac_buffer_reserve(tarmac_buffer_t *buf, size_t extra) {
  if (extra <= buf->cap - buf->len) return 0;
  if (extra > SIZE_MAX - buf->len) return -1;
  size_t need = buf->len + extra;
  size_t cap = buf->cap ? buf->cap : 64;
  while (cap < need) cap = cap > SIZE_MAX / 2 ? need : cap * 2;
  uint8_t *data = realloc(buf->data, cap);
  if (!data) return -1;
  buf->data = data;
  buf->cap = cap;
  return 0;
}

int tarmac_buffer_append(tarmac_buffer_t *buf, const void *data, size_t len) {
  if (len == 0) return 0;
  if (tarmac_buffer_reserve(buf, len) != 0) return -1;
  memcpy(buf->data + buf->len, data, len);
  buf->len += len;
  return 0;
}

int tarmac_buffer_append_str(tarmac_buffer_t *buf, const char *s) {
  return tarmac_buffer_append(buf, s, strlen(s));
}

int tarmac_buffer_set(tarmac_buffer_t *buf, const void *data, size_t len) {
  if (tarmac_buffer_reserve(buf, len > buf->len ? len - buf->len : 0) != 0)
    return -1;
  buf->len = 0;
  return tarmac_buffer_append(buf, data, len);
}

int tarmac_buffer_appendf(tarmac_buffer_t *buf, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(NULL, 0, fmt, ap);
  va_end(ap);
  if (n < 0) return -1;
  if (tarmac_buffer_reserve(buf, (size_t)n + 1) != 0) return -1;
  va_start(ap, fmt);
  vsnprintf((char *)buf->data + buf->len, (size_t)n + 1, fmt, ap);
  va_end(ap);
  buf->len += (size_t)n;
  return 0;
}

void tarmac_buffer_free(tarmac_buffer_t *buf) {
  free(buf->data);
  buf->data = NULL;
  buf->len = buf->cap = 0;
}

void tarmac_buffer_trim(tarmac_buffer_t *buf, size_t keep) {
  if (buf->cap > keep) tarmac_buffer_free(buf);
  else buf->len = 0;
}
