/* number: the leading run of decimal digits of a text, as configuration
 * values are read (bytesize.c, duration.c): digits first, no blank, no
 * sign. */
#ifndef TARMAC_UTIL_NUMBER_H
#define TARMAC_UTIL_NUMBER_H

#include <stdint.h>

/* 0 with *value and *rest (the first character after the digits) set; -1
 * when text does not start with a digit; -2 when the digits exceed 64 bits
 * (*rest still set). */
int tarmac_number_prefix(const char *text, uint64_t *value, const char **rest);

#endif
