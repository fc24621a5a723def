#include "engine/cache.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/fdio.h"

int tarmac_cache_key(const char *text, const void *bytes, size_t len,
                     char key[TARMAC_CACHE_KEY_HEX + 1]) {
  unsigned char digest[32];
  unsigned int digest_len = 0;
  EVP_MD_CTX *ctx = EVP_MD_CTX_new();
  int ok = ctx && EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) &&
           EVP_DigestUpdate(ctx, text, strlen(text) + 1) &&
           EVP_DigestUpdate(ctx, bytes, len) &&
           EVP_DigestFinal_ex(ctx, digest, &digest_len) && digest_len == 32;
  EVP_MD_CTX_free(ctx);
  if (!ok) return -1;
  for (int i = 0; i < 32; i++) snprintf(key + 2 * i, 3, "%02x", digest[i]);
  return 0;
}

static char *copy_or_oom(const char *text, tarmac_error_t *err) {
  char *copy = strdup(text);
  if (!copy) snprintf(err->message, sizeof err->message, "out of memory");
  return copy;
}

/* The configured or conventional location; NULL with err set when no
 * setting names one (a guessable shared default like /tmp would let
 * another local user plant code there first). */
static char *choose_cache_dir(const char *configured, tarmac_error_t *err) {
  const char *dir = configured ? configured : getenv("TARMAC_CACHE_DIR");
  if (dir && *dir) return copy_or_oom(dir, err);
  const char *xdg = getenv("XDG_CACHE_HOME");
  const char *home = getenv("HOME");
  const char *base = xdg && *xdg ? xdg : home && *home ? home : NULL;
  if (!base) {
    snprintf(err->message, sizeof err->message,
             "no cache directory: set TARMAC_CACHE_DIR (or XDG_CACHE_HOME "
             "or HOME) to where compiled modules may be kept");
    return NULL;
  }
  char path[4096];
  snprintf(path, sizeof path, base == xdg ? "%s/tarmac" : "%s/.cache/tarmac",
           base);
  return copy_or_oom(path, err);
}

/* mkdir -p, mode 0700 for what it creates. */
static int make_directories(const char *path) {
  char buf[4096];
  if (snprintf(buf, sizeof buf, "%s", path) >= (int)sizeof buf) {
    errno = ENAMETOOLONG;
    return -1;
  }
  for (char *p = buf + 1; *p; p++) {
    if (*p != '/') continue;
    *p = '\0';
    if (mkdir(buf, 0700) != 0 && errno != EEXIST) return -1;
    *p = '/';
  }
  if (mkdir(buf, 0700) != 0 && errno != EEXIST) return -1;
  return 0;
}

/* Why `st` may not be trusted (NULL when it may): not ours, or writable
 * by group or others. */
static const char *distrust(const struct stat *st, char *why, size_t size) {
  if (st->st_uid != geteuid()) {
    snprintf(why, size, "owned by uid %u, not by this user (uid %u)",
             (unsigned)st->st_uid, (unsigned)geteuid());
    return why;
  }
  if (st->st_mode & (S_IWGRP | S_IWOTH)) {
    snprintf(why, size, "writable by %s (mode %04o)",
             st->st_mode & S_IWOTH ? "others" : "its group",
             (unsigned)(st->st_mode & 07777));
    return why;
  }
  return NULL;
}

char *tarmac_cache_dir_prepare(const char *configured, tarmac_error_t *err) {
  char *dir = choose_cache_dir(configured, err);
  if (!dir) return NULL;
  struct stat st;
  char why[256];
  if (strlen(dir) > 3000) { /* leaves room for file names */
    snprintf(err->message, sizeof err->message,
             "the cache directory path is longer than 3000 bytes");
  } else if (make_directories(dir) != 0 || stat(dir, &st) != 0) {
    snprintf(err->message, sizeof err->message,
             "cannot create the cache directory %s: %s", dir, strerror(errno));
  } else if (!S_ISDIR(st.st_mode)) {
    snprintf(err->message, sizeof err->message,
             "the cache directory %s is not a directory", dir);
  } else if (distrust(&st, why, sizeof why)) {
    snprintf(err->message, sizeof err->message,
             "refusing the cache directory %s: it is %s, so others could "
             "plant code in it (use a directory of your own, mode 0700, via "
             "TARMAC_CACHE_DIR)", dir, why);
  } else {
    return dir;
  }
  free(dir);
  return NULL;
}

int tarmac_cache_open(const char *path, char *why, size_t why_size) {
  int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
  if (fd < 0) {
    int saved = errno;
    snprintf(why, why_size, "%s", saved == ELOOP ? "it is a symbolic link"
                                                 : strerror(saved));
    errno = saved;
    return -1;
  }
  struct stat st;
  char detail[128];
  const char *problem = NULL;
  if (fstat(fd, &st) != 0)
    problem = strerror(errno);
  else if (!S_ISREG(st.st_mode))
    problem = "not a regular file";
  else if (distrust(&st, detail, sizeof detail))
    problem = detail;
  if (!problem) return fd;
  snprintf(why, why_size, "it is %s", problem);
  close(fd);
  errno = EPERM;
  return -1;
}

int tarmac_cache_read(const char *path, size_t limit, tarmac_buffer_t *out,
                      char *why, size_t why_size) {
  int fd = tarmac_cache_open(path, why, why_size);
  if (fd < 0) return -1;
  tarmac_buffer_clear(out);
  char chunk[4096];
  int rc = 0;
  for (;;) {
    ssize_t n = read(fd, chunk, sizeof chunk);
    if (n < 0 && errno == EINTR) continue;
    if (n == 0) break;
    if (n < 0 || out->len + (size_t)n > limit ||
        tarmac_buffer_append(out, chunk, (size_t)n) != 0) {
      int saved = n < 0 ? errno : out->len + (size_t)n > limit ? EFBIG : ENOMEM;
      snprintf(why, why_size, "%s", strerror(saved));
      errno = saved;
      rc = -1;
      break;
    }
  }
  close(fd);
  if (rc == 0 && (tarmac_buffer_append(out, "", 1) != 0)) {
    snprintf(why, why_size, "out of memory");
    errno = ENOMEM;
    return -1;
  }
  if (rc == 0) out->len--;
  return rc;
}

int tarmac_cache_write(const char *dir, const char *name, const void *data,
                       size_t len) {
  char tmp[4096], final[4096];
  if (snprintf(tmp, sizeof tmp, "%s/%s.tmp-XXXXXX", dir, name) >=
          (int)sizeof tmp ||
      snprintf(final, sizeof final, "%s/%s", dir, name) >= (int)sizeof final) {
    errno = ENAMETOOLONG;
    return -1;
  }
  int fd = mkostemp(tmp, O_CLOEXEC); /* mode 0600 */
  if (fd < 0) return -1;
  int rc = tarmac_write_all(fd, data, len);
  int saved = errno;
  if (close(fd) != 0 && rc == 0) {
    rc = -1;
    saved = errno;
  }
  if (rc == 0 && rename(tmp, final) != 0) {
    rc = -1;
    saved = errno;
  }
  if (rc != 0) {
    unlink(tmp);
    errno = saved;
  }
  return rc;
}
