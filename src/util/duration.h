/* duration: parses durations used in configuration and on the command line
 * (APP_WASM_TIMEOUT, `tarmac call --timeout`): whole number, then a unit:
 * "ms", "s", "m" (minutes) or "h"; a bare number is milliseconds. "250",
 * "250ms", "30s", "2m", "1h". No blanks, signs, fractions or combined
 * units ("1m30s"); units are lower case. */
#ifndef TARMAC_UTIL_DURATION_H
#define TARMAC_UTIL_DURATION_H

#include <stdint.h>

/* 0 and *out_ms set; -1 when the text is not a duration; -2 when it is one
 * of more than 2^64-1 milliseconds. */
int tarmac_duration_parse_ms(const char *text, uint64_t *out_ms);

#endif
