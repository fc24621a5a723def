#include "util/bytesize.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>

int tarmac_bytesize_parse(const char *text, uint64_t *out) {
  if (!text || *text < '0' || *text > '9') return -1; /* no blank, sign */
  errno = 0;
  char *end;
  unsigned long long value = strtoull(text, &end, 10);
  bool overflow = errno == ERANGE;
  unsigned shift = 0;
  switch (*end) {
    case 'k': case 'K': shift = 10; end++; break;
    case 'm': case 'M': shift = 20; end++; break;
    case 'g': case 'G': shift = 30; end++; break;
    default: break;
  }
  if (shift && (*end == 'i' || *end == 'I')) end++;
  if (*end == 'b' || *end == 'B') end++;
  if (*end != '\0') return -1;
  if (overflow || value > (UINT64_MAX >> shift)) return -2;
  *out = (uint64_t)value << shift;
  return 0;
}
