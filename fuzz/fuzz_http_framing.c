/* Fuzz target: HTTP/1 request framing (src/http/framing.c) on heads parsed
 * by h2o's own picohttpparser, as the server does. Property: a head is
 * refused exactly when a reference model, written apart from framing.c,
 * finds its framing ambiguous: a nameless line, a Content-Length that is
 * not all digits or two that name different numbers, more than one
 * Transfer-Encoding, one that is not "chunked", Transfer-Encoding with
 * Content-Length, or Transfer-Encoding in HTTP/1.0. */
#include <ctype.h>
#include <strings.h>

#include "fuzz.h"
#include "http/framing.h"

#define MAX_FIELDS 100

static bool named(const struct phr_header *h, const char *lower) {
  size_t n = strlen(lower);
  if (h->name_len != n) return false;
  for (size_t i = 0; i < n; i++)
    if (tolower((unsigned char)h->name[i]) != lower[i]) return false;
  return true;
}

/* The number a digit string names, as digits without leading zeros. */
static void significant(const struct phr_header *h, const char **at,
                        size_t *len) {
  size_t skip = 0;
  while (skip + 1 < h->value_len && h->value[skip] == '0') skip++;
  *at = h->value + skip;
  *len = h->value_len - skip;
}

static bool digits_only(const struct phr_header *h) {
  if (h->value_len == 0) return false;
  for (size_t i = 0; i < h->value_len; i++)
    if (h->value[i] < '0' || h->value[i] > '9') return false;
  return true;
}

static bool model_refuses(const struct phr_header *f, size_t n, int minor) {
  const char *first = NULL;
  size_t first_len = 0, te = 0, cl = 0;
  for (size_t i = 0; i < n; i++) {
    if (f[i].name_len == 0) return true;
    if (named(&f[i], "content-length")) {
      if (!digits_only(&f[i])) return true;
      const char *at;
      size_t len;
      significant(&f[i], &at, &len);
      if (cl++ > 0 && (len != first_len || memcmp(at, first, len) != 0))
        return true;
      first = at, first_len = len;
    } else if (named(&f[i], "transfer-encoding")) {
      te++;
      if (f[i].value_len != 7 || strncasecmp(f[i].value, "chunked", 7) != 0)
        return true;
    }
  }
  return te > 1 || (te > 0 && cl > 0) || (te > 0 && minor == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  struct phr_header fields[MAX_FIELDS];
  size_t count = MAX_FIELDS, method_len, path_len;
  const char *method, *path;
  int minor = -1;
  if (phr_parse_request((const char *)data, size, &method, &method_len, &path,
                        &path_len, &minor, fields, &count, 0) <= 0)
    return 0;
  const char *problem = tarmac_http_framing_problem(fields, count, minor);
  bool refused = problem != NULL;
  FUZZ_REQUIRE(refused == model_refuses(fields, count, minor),
               "framing check says %s, the model says %s",
               problem ? problem : "fine",
               refused ? "fine" : "refuse");
  return 0;
}
