/* Route pattern syntax (see route_pattern.h). */
#include "service/route_pattern.h"

#include <stdio.h>
#include <string.h>

static bool is_alnum(unsigned char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
         (c >= '0' && c <= '9');
}

static bool is_hex(unsigned char c) {
  return (c >= '0' && c <= '9') || ((c | 0x20) >= 'a' && (c | 0x20) <= 'f');
}

/* RFC 3986 pchar without the percent escape (checked apart). */
static bool is_path_char(unsigned char c) {
  return is_alnum(c) || (c != '\0' && strchr("-._~!$&'()*+,;=:@", c) != NULL);
}

static int check_literal(const char *seg, size_t len, char *err,
                         size_t err_size) {
  for (size_t i = 0; i < len; i++) {
    unsigned char c = (unsigned char)seg[i];
    if (c == '%') {
      if (i + 2 >= len || !is_hex((unsigned char)seg[i + 1]) ||
          !is_hex((unsigned char)seg[i + 2])) {
        snprintf(err, err_size, "has a '%%' not followed by two hex digits");
        return -1;
      }
      i += 2;
    } else if (!is_path_char(c)) {
      if (c >= 0x21 && c < 0x7f)
        snprintf(err, err_size, "has the character '%c', not allowed in a path",
                 c);
      else
        snprintf(err, err_size,
                 "has the byte 0x%02x, not allowed in a path (escape it as %%XX)",
                 c);
      return -1;
    }
  }
  return 0;
}

/* Names seen so far, as (start, length) into the pattern. */
typedef struct {
  const char *name[TARMAC_ROUTE_PATTERN_MAX_PARAMS];
  size_t len[TARMAC_ROUTE_PATTERN_MAX_PARAMS];
  unsigned count;
} names_t;

static int check_param(const char *seg, size_t len, names_t *names, char *err,
                       size_t err_size) {
  const char *name = seg + 1;
  size_t n = len - 1;
  for (size_t i = 0; i < n; i++)
    if (!is_alnum((unsigned char)name[i]) && name[i] != '_') {
      snprintf(err, err_size,
               "has a bad parameter \"%.*s\": a name is letters, digits and '_'",
               (int)len, seg);
      return -1;
    }
  for (unsigned i = 0; i < names->count; i++)
    if (names->len[i] == n && memcmp(names->name[i], name, n) == 0) {
      snprintf(err, err_size, "has the parameter \":%.*s\" twice", (int)n, name);
      return -1;
    }
  if (names->count == TARMAC_ROUTE_PATTERN_MAX_PARAMS) {
    snprintf(err, err_size, "has more than %d parameters",
             TARMAC_ROUTE_PATTERN_MAX_PARAMS);
    return -1;
  }
  names->name[names->count] = name;
  names->len[names->count++] = n;
  return 0;
}

static int check_segment(const char *seg, size_t len, names_t *names,
                         char *err, size_t err_size) {
  if (len == 0) {
    snprintf(err, err_size,
             "has an empty segment (\"//\" or a trailing '/')");
    return -1;
  }
  if (seg[0] == ':') {
    if (len == 1) {
      snprintf(err, err_size, "has a parameter without a name (\"/:\")");
      return -1;
    }
    return check_param(seg, len, names, err, err_size);
  }
  return check_literal(seg, len, err, err_size);
}

int tarmac_route_pattern_check(const char *pattern, char *err,
                               size_t err_size) {
  size_t total = strnlen(pattern, TARMAC_ROUTE_PATTERN_MAX_LEN + 1);
  if (total == 0 || pattern[0] != '/') {
    snprintf(err, err_size, "does not start with '/'");
    return -1;
  }
  if (total > TARMAC_ROUTE_PATTERN_MAX_LEN) {
    snprintf(err, err_size, "is longer than %d bytes",
             TARMAC_ROUTE_PATTERN_MAX_LEN);
    return -1;
  }
  if (total == 1) return 0; /* "/" */
  names_t names = {.count = 0};
  unsigned segments = 0;
  for (const char *seg = pattern + 1;; ) {
    const char *end = strchr(seg, '/');
    size_t len = end ? (size_t)(end - seg) : strlen(seg);
    if (++segments > TARMAC_ROUTE_PATTERN_MAX_SEGMENTS) {
      snprintf(err, err_size, "has more than %d segments",
               TARMAC_ROUTE_PATTERN_MAX_SEGMENTS);
      return -1;
    }
    if (check_segment(seg, len, &names, err, err_size) != 0) return -1;
    if (end == NULL) return 0;
    seg = end + 1;
  }
}

void tarmac_route_pattern_shape(const char *pattern, char *out,
                                size_t out_size) {
  size_t w = 0;
  if (out_size == 0) return;
  for (size_t i = 0; pattern[i] != '\0' && w + 1 < out_size;) {
    bool param = pattern[i] == ':' && i > 0 && pattern[i - 1] == '/';
    out[w++] = pattern[i++];
    if (param)
      while (pattern[i] != '\0' && pattern[i] != '/') i++;
  }
  out[w] = '\0';
}

bool tarmac_route_method_known(const char *method) {
  static const char *const known[] = {"GET",     "HEAD",    "POST",
                                      "PUT",     "DELETE",  "PATCH",
                                      "OPTIONS", "CONNECT", "TRACE"};
  for (size_t i = 0; i < sizeof known / sizeof known[0]; i++)
    if (strcmp(method, known[i]) == 0) return true;
  return false;
}
