/* problems: the problems found in one input (a settings file, the
 * environment, a service file), one line each, so that a refusal can list
 * every problem at once instead of the first. Lines are kept up to a bound
 * and then only counted: hostile input cannot make megabytes of messages.
 *
 * Owns: the lines (tarmac_problems_free). */
#ifndef TARMAC_UTIL_PROBLEMS_H
#define TARMAC_UTIL_PROBLEMS_H

#include <stdbool.h>
#include <stddef.h>

#include "util/buffer.h"

typedef struct {
  tarmac_buffer_t lines; /* "...\n" each */
  size_t count;          /* problems found, kept or not */
  bool out_of_memory;    /* a line could not be kept (it is still counted) */
} tarmac_problems_t;

#define TARMAC_PROBLEMS_INIT {TARMAC_BUFFER_INIT, 0, false}

/* Adds one problem (printf-style; cut at 1 KiB). Control bytes in the text
 * become '?': text quoted from the input stays one line. */
void tarmac_problems_add(tarmac_problems_t *p, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* The problems into err, whole lines only, one per line, ending with
 * "... and N more problems" when they do not all fit. "" when none. */
void tarmac_problems_write(const tarmac_problems_t *p, char *err,
                           size_t err_size);

void tarmac_problems_free(tarmac_problems_t *p);

#endif
