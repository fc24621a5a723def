#include "util/bytesize.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <strings.h>

int tarmac_bytesize_parse(const char *text, uint64_t *out) {
  if (!text || !isdigit((unsigned char)*text)) return -1;
  errno = 0;
  char *end;
  unsigned long long value = strtoull(text, &end, 10);
  if (errno != 0) return -1;
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
  if (shift && value > (UINT64_MAX >> shift)) return -1;
  *out = (uint64_t)value << shift;
  return 0;
}
