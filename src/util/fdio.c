#include "util/fdio.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <sys/stat.h>
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

/* Reads until end of file; -1 with errno (EFBIG past max_bytes). */
static int read_to_end(int fd, size_t max_bytes, tarmac_buffer_t *out) {
  for (;;) {
    if (tarmac_buffer_reserve(out, 16384) != 0) {
      errno = ENOMEM;
      return -1;
    }
    ssize_t n = read(fd, out->data + out->len, out->cap - out->len);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return -1;
    if (n == 0) return 0;
    out->len += (size_t)n;
    if (out->len > max_bytes) {
      errno = EFBIG;
      return -1;
    }
  }
}

int tarmac_read_file(const char *path, size_t max_bytes, tarmac_buffer_t *out) {
  tarmac_buffer_clear(out);
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return -1;
  struct stat st;
  int rc = fstat(fd, &st);
  if (rc == 0 && !S_ISREG(st.st_mode)) {
    errno = EINVAL;
    rc = -1;
  }
  if (rc == 0) rc = read_to_end(fd, max_bytes, out);
  int saved = errno;
  close(fd);
  if (rc != 0) tarmac_buffer_clear(out);
  errno = saved;
  return rc;
}

int tarmac_read_file_or_say(const char *path, size_t max_bytes,
                            tarmac_buffer_t *out, char *err, size_t err_size) {
  if (tarmac_read_file(path, max_bytes, out) == 0) return 0;
  if (errno == EFBIG)
    snprintf(err, err_size, "%s: larger than %zu bytes", path, max_bytes);
  else if (errno == EINVAL)
    snprintf(err, err_size, "%s: not a regular file", path);
  else
    snprintf(err, err_size, "%s: cannot open: %s", path, strerror(errno));
  return -1;
}
