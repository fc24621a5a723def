#include "util/duration.h"

#include <string.h>

#include "util/number.h"

int tarmac_duration_parse_ms(const char *text, uint64_t *out_ms) {
  static const struct {
    const char *suffix;
    uint64_t ms;
  } units[] = {{"", 1}, {"ms", 1}, {"s", 1000}, {"m", 60000}, {"h", 3600000}};
  uint64_t value = 0;
  const char *end;
  int rc = tarmac_number_prefix(text, &value, &end);
  if (rc == -1) return -1;
  for (size_t i = 0; i < sizeof units / sizeof units[0]; i++) {
    if (strcmp(end, units[i].suffix) != 0) continue;
    if (rc == -2 || value > UINT64_MAX / units[i].ms) return -2;
    *out_ms = value * units[i].ms;
    return 0;
  }
  return -1;
}
