/* buffer: a growable, owned byte buffer used wherever bytes cross module
 * boundaries (guest responses, host-call replies, log lines). */
#ifndef TARMAC_UTIL_BUFFER_H
#define TARMAC_UTIL_BUFFER_H

#include <stddef.h>
#include <stdint.h>

typedef struct tarmac_buffer {
  uint8_t *data; /* owned; NULL when capacity is 0 */
  size_t len;
  size_t cap;
} tarmac_buffer_t;

#define TARMAC_BUFFER_INIT {NULL, 0, 0}

/* Ensures room for `extra` more bytes. Returns 0, or -1 when out of memory
 * (the buffer is unchanged). */
int tarmac_buffer_reserve(tarmac_buffer_t *buf, size_t extra);
/* Appends bytes; 0 or -1 (out of memory, buffer unchanged). */
int tarmac_buffer_append(tarmac_buffer_t *buf, const void *data, size_t len);
int tarmac_buffer_append_str(tarmac_buffer_t *buf, const char *s);
/* Replaces the content; 0 or -1. */
int tarmac_buffer_set(tarmac_buffer_t *buf, const void *data, size_t len);
/* printf-style append; 0 or -1. */
int tarmac_buffer_appendf(tarmac_buffer_t *buf, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Empties the buffer but keeps its storage. */
static inline void tarmac_buffer_clear(tarmac_buffer_t *buf) { buf->len = 0; }
/* Frees the storage; the buffer is empty and reusable afterwards. */
void tarmac_buffer_free(tarmac_buffer_t *buf);
/* Shrinks storage above `keep` bytes back to nothing (for pooled reuse). */
void tarmac_buffer_trim(tarmac_buffer_t *buf, size_t keep);

#endif
