/* fdio: whole-buffer writes to file descriptors, retried on EINTR and short
 * writes, and bounded whole-file reads. The caller owns the descriptor and
 * the bytes. */
#ifndef TARMAC_UTIL_FDIO_H
#define TARMAC_UTIL_FDIO_H

#include <stddef.h>

#include "util/buffer.h"

/* Writes all `len` bytes; 0, or -1 with errno set. */
int tarmac_write_all(int fd, const void *data, size_t len);

/* Creates (mode 0600, truncating) the file at `path` and writes `len` bytes;
 * 0, or -1 with errno set (a partly written file may remain). */
int tarmac_write_file(const char *path, const void *data, size_t len);

/* Replaces out's content with the whole regular file at `path`, read in one
 * pass; at most max_bytes. 0, or -1 with errno set (EFBIG: larger than
 * max_bytes; EINVAL: not a regular file; out is then emptied). */
int tarmac_read_file(const char *path, size_t max_bytes, tarmac_buffer_t *out);
/* tarmac_read_file with the reason in err as one line naming the file:
 * "PATH: cannot open: ...", "PATH: larger than N bytes", "PATH: not a
 * regular file". */
int tarmac_read_file_or_say(const char *path, size_t max_bytes,
                            tarmac_buffer_t *out, char *err, size_t err_size);

#endif
