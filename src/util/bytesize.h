/* bytesize: parses human byte sizes used in configuration ("268435456",
 * "256M", "256MiB", "1G", "64k"): K/M/G are powers of 1024, with an optional
 * "i", "B" or "iB" after them. */
#ifndef TARMAC_UTIL_BYTESIZE_H
#define TARMAC_UTIL_BYTESIZE_H

#include <stdint.h>

/* 0 and *out set; -1 when the text is not a size (only digits, then an
 * optional suffix: no blanks, signs or other characters); -2 when it is a
 * size beyond 64 bits. */
int tarmac_bytesize_parse(const char *text, uint64_t *out);

#endif
