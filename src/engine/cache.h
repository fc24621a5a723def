/* engine/cache: where compiled modules live, and the rules for trusting
 * what is found there. The cache holds native code the process will run,
 * so nothing in it is used unless only this user could have put it there:
 *  - the directory must be owned by us (the effective uid) and writable by
 *    no one else; one we create is mode 0700;
 *  - every file read from it (artifacts, failure markers, the wasm2c version
 *    note) is opened with O_NOFOLLOW and must be a regular file owned by us
 *    and writable by no one else. The checks are made on the open
 *    descriptor and the caller uses that same descriptor (artifacts are
 *    dlopen()ed through /proc/self/fd/N), so nothing can be swapped in
 *    between check and use.
 * Strings returned are owned by the caller. */
#ifndef TARMAC_ENGINE_CACHE_H
#define TARMAC_ENGINE_CACHE_H

#include <stddef.h>

#include "engine/engine.h"
#include "util/buffer.h"

/* Hex SHA-256 of a NUL-terminated `text` (the NUL included) followed by
 * `len` bytes: the cache's key. 0, or -1 when hashing fails. */
#define TARMAC_CACHE_KEY_HEX 64
int tarmac_cache_key(const char *text, const void *bytes, size_t len,
                     char key[TARMAC_CACHE_KEY_HEX + 1]);

/* Picks the cache directory: `configured` when not NULL, else
 * $TARMAC_CACHE_DIR, else $XDG_CACHE_HOME/tarmac, else $HOME/.cache/tarmac
 * (there is no fallback: without any, it fails naming the settings).
 * Creates it and missing parents (mode 0700) and checks it is ours and
 * writable by no one else. Returns the path (caller frees) or NULL with
 * err set. */
char *tarmac_cache_dir_prepare(const char *configured, tarmac_error_t *err);

/* Opens a cache file for reading and checks it as above. Returns the
 * descriptor (the caller closes it), or -1 with `why` explaining; errno is
 * ENOENT exactly when there is no file at `path`. */
int tarmac_cache_open(const char *path, char *why, size_t why_size);

/* Reads a whole trusted cache file of at most `limit` bytes into `out`
 * (NUL-terminated, not counted in out->len). 0, or -1 with `why` and errno
 * as tarmac_cache_open (errno EFBIG when larger than limit). */
int tarmac_cache_read(const char *path, size_t limit, tarmac_buffer_t *out,
                      char *why, size_t why_size);

/* Replaces dir/name with `len` bytes atomically: written into a temporary
 * file of the directory (mode 0600), then renamed. 0, or -1 with errno
 * (the temporary file is removed). */
int tarmac_cache_write(const char *dir, const char *name, const void *data,
                       size_t len);

#endif
