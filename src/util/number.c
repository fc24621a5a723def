#include "util/number.h"

#include <errno.h>
#include <stdlib.h>

int tarmac_number_prefix(const char *text, uint64_t *value, const char **rest) {
  if (!text || *text < '0' || *text > '9') return -1; /* no blank, sign */
  errno = 0;
  char *end;
  unsigned long long n = strtoull(text, &end, 10);
  *rest = end;
  if (errno == ERANGE) return -2;
  *value = n;
  return 0;
}
