/* http/framing: is an HTTP/1 request head's message framing unambiguous?
 * (RFC 9112 6.1-6.3: request smuggling behind proxies.) Pure: reads the
 * header fields picohttpparser found (phr_parse_request, built into libh2o;
 * Debian ships no header for it, so it is declared here) and owns nothing.
 * No h2o types, so the fuzz target can link it alone. */
#ifndef TARMAC_HTTP_FRAMING_H
#define TARMAC_HTTP_FRAMING_H

#include <stddef.h>

struct phr_header {
  const char *name;
  size_t name_len;
  const char *value;
  size_t value_len;
};
int phr_parse_request(const char *buf, size_t len, const char **method,
                      size_t *method_len, const char **path, size_t *path_len,
                      int *minor_version, struct phr_header *headers,
                      size_t *num_headers, size_t last_len);

/* The problem h2o reports as a nameless header line. */
#define TARMAC_HTTP_OBS_FOLD_PROBLEM \
  "a header line without a name (obsolete line folding)"

/* What is wrong with the framing fields of a request head (a static
 * string), or NULL: a Content-Length that is not a number, two that differ,
 * Content-Length together with Transfer-Encoding, a Transfer-Encoding other
 * than exactly one "chunked", any Transfer-Encoding in HTTP/1.0, obs-fold. */
const char *tarmac_http_framing_problem(const struct phr_header *headers,
                                        size_t count, int minor_version);

#endif
