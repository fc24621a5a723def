/* service/route_pattern: the syntax of HTTP route patterns, shared by the
 * service-file validator (src/service/service_file.c) and the router
 * (src/server/router.c), so both accept exactly the same patterns.
 *
 * A pattern is "/" or a sequence of "/segment" (at most
 * TARMAC_ROUTE_PATTERN_MAX_SEGMENTS, at most TARMAC_ROUTE_PATTERN_MAX_LEN
 * bytes). A segment is either literal (RFC 3986 path characters:
 * unreserved, sub-delims, ':', '@' and %XX escapes; it may not start with
 * ':') or a parameter ":name" (name: letters, digits, '_'; unique in the
 * pattern; at most TARMAC_ROUTE_PATTERN_MAX_PARAMS of them). Empty
 * segments ("//", a trailing '/') and wildcards are not patterns. */
#ifndef TARMAC_SERVICE_ROUTE_PATTERN_H
#define TARMAC_SERVICE_ROUTE_PATTERN_H

#include <stdbool.h>
#include <stddef.h>

#define TARMAC_ROUTE_PATTERN_MAX_LEN 2048
#define TARMAC_ROUTE_PATTERN_MAX_SEGMENTS 128
#define TARMAC_ROUTE_PATTERN_MAX_PARAMS 16

/* 0 when pattern (NUL-terminated) is valid; -1 with the problem written
 * into err (no prefix: "does not start with '/'", "parameter \":id\"
 * appears twice", ...). */
int tarmac_route_pattern_check(const char *pattern, char *err,
                               size_t err_size);

/* Whether segment [seg, seg+len) of a valid pattern is a parameter. */
static inline bool tarmac_route_pattern_is_param(const char *seg, size_t len) {
  return len > 1 && seg[0] == ':';
}

/* The pattern's shape, for telling whether two patterns match the same
 * paths: each parameter name replaced by nothing (":"). "/users/:id" and
 * "/users/:uid" both give "/users/:". out gets at most out_size - 1 bytes
 * and a NUL; a valid pattern's shape is never longer than the pattern. */
void tarmac_route_pattern_shape(const char *pattern, char *out,
                                size_t out_size);

/* Whether the HTTP method name is one the service file and router accept:
 * GET, HEAD, POST, PUT, DELETE, PATCH, OPTIONS, CONNECT, TRACE (exact,
 * upper case). */
bool tarmac_route_method_known(const char *method);

#endif
