#include "util/bytesize.h"

#include "util/number.h"

int tarmac_bytesize_parse(const char *text, uint64_t *out) {
  uint64_t value = 0;
  const char *end;
  int rc = tarmac_number_prefix(text, &value, &end);
  if (rc == -1) return -1;
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
  if (rc == -2 || value > (UINT64_MAX >> shift)) return -2;
  *out = value << shift;
  return 0;
}
