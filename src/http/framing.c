/* HTTP/1 message framing checks (framing.h). */
#include <stdbool.h>
#include <string.h>
#include <strings.h>

#include "http/framing.h"

static bool is_named(const struct phr_header *h, const char *lower,
                     size_t len) {
  return h->name_len == len && strncasecmp(h->name, lower, len) == 0;
}

/* The value is exactly `lower`, in any case. */
static bool value_is(const struct phr_header *h, const char *lower,
                     size_t len) {
  return h->value_len == len && strncasecmp(h->value, lower, len) == 0;
}

/* With a literal's compiler-counted length (no hand-counted lengths). */
#define IS_NAMED(h, lit) is_named(h, lit, sizeof(lit) - 1)
#define VALUE_IS(h, lit) value_is(h, lit, sizeof(lit) - 1)

static bool all_digits(const char *s, size_t len) {
  if (len == 0) return false;
  for (size_t i = 0; i < len; i++)
    if (s[i] < '0' || s[i] > '9') return false;
  return true;
}

/* Two digit strings denote the same number. */
static bool same_number(const struct phr_header *a,
                        const struct phr_header *b) {
  const char *x = a->value, *y = b->value;
  size_t xl = a->value_len, yl = b->value_len;
  while (xl > 1 && *x == '0') x++, xl--;
  while (yl > 1 && *y == '0') y++, yl--;
  return xl == yl && memcmp(x, y, xl) == 0;
}

/* RFC 9112 6.1-6.3: the body's length must be unambiguous; obs-fold: 5.2. */
const char *tarmac_http_framing_problem(const struct phr_header *headers,
                                        size_t count, int minor_version) {
  const struct phr_header *length = NULL;
  size_t encodings = 0;
  for (size_t i = 0; i < count; i++) {
    const struct phr_header *h = &headers[i];
    if (h->name_len == 0) return TARMAC_HTTP_OBS_FOLD_PROBLEM;
    if (IS_NAMED(h, "content-length")) {
      if (!all_digits(h->value, h->value_len))
        return "Content-Length is not a number";
      if (length != NULL && !same_number(length, h))
        return "conflicting Content-Length headers";
      length = h;
    } else if (IS_NAMED(h, "transfer-encoding")) {
      if (!VALUE_IS(h, "chunked"))
        return "Transfer-Encoding other than chunked";
      encodings++;
    }
  }
  if (encodings > 1) return "more than one Transfer-Encoding header";
  if (encodings > 0 && length != NULL)
    return "both Content-Length and Transfer-Encoding";
  if (encodings > 0 && minor_version == 0)
    return "Transfer-Encoding in an HTTP/1.0 request";
  return NULL;
}
