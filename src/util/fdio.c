#include "util/fdio.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

int tarmac_write_all(int fd, const void *data, size_t len) {
  const uint8_t *p = data;
  while (len > 0) {
    ssize_t n = write(fd, p, len);
    if (n < 0) {
      if (errno == EINTR) continue;
      return -1;
    }
    p += n;
    len -= (size_t)n;
  }
  return 0;
}

int tarmac_write_file(const char *path, const void *data, size_t len) {
  int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return -1;
  if (tarmac_write_all(fd, data, len) != 0) {
    int saved = errno;
    close(fd);
    errno = saved;
    return -1;
  }
  return close(fd);
}

/* Reads into out until end of file or past max_bytes. */
static int read_bounded(int fd, const char *path, size_t max_bytes,
                        tarmac_buffer_t *out, char *err, size_t err_size) {
  size_t start = out->len;
  for (;;) {
    if (tarmac_buffer_reserve(out, 65536) != 0) {
      snprintf(err, err_size, "%s: out of memory", path);
      return -1;
    }
    ssize_t n = read(fd, out->data + out->len, 65536);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      snprintf(err, err_size, "%s: cannot read: %s", path, strerror(errno));
      return -1;
    }
    if (n == 0) return 0;
    out->len += (size_t)n;
    if (out->len - start > max_bytes) {
      snprintf(err, err_size, "%s: larger than %zu bytes", path, max_bytes);
      return -1;
    }
  }
}

int tarmac_read_file(const char *path, size_t max_bytes, tarmac_buffer_t *out,
                     char *err, size_t err_size) {
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    snprintf(err, err_size, "%s: cannot open: %s", path, strerror(errno));
    return -1;
  }
  int rc = read_bounded(fd, path, max_bytes, out, err, err_size);
  close(fd);
  return rc;
}
