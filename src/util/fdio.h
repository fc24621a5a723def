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

/* Appends the whole file at `path` to out, refusing one larger than
 * max_bytes (without reading more than max_bytes + 1 bytes of it). 0, or
 * -1 with err set ("PATH: cannot open: ...", "PATH: larger than N bytes");
 * out may then hold part of the file. */
int tarmac_read_file(const char *path, size_t max_bytes, tarmac_buffer_t *out,
                     char *err, size_t err_size);

#endif
