/* server/router: the HTTP route table. Built at start-up (add, set_default),
 * then read-only: any number of threads may match at once without locks.
 * The router owns its nodes and copies of methods and patterns; it does not
 * own the targets (opaque pointers handed back by match).
 *
 * Patterns are those of service/route_pattern.h: "/", literal segments and
 * ":name" parameter segments (a whole segment). There is no wildcard.
 *
 * Matching rules:
 *  - the path (without the query) is matched byte for byte, undecoded and
 *    case-sensitively, segment by segment. No normalisation: "/a/" is not
 *    "/a", and a path with an empty segment ("//") matches no pattern;
 *  - a parameter matches one whole non-empty segment;
 *  - routes are preferred segment by segment, a literal over a parameter:
 *    of the routes whose pattern matches the path and that have the
 *    request's method, the one whose first differing segment is literal
 *    wins ("/users/me" over "/users/:id"). A literal that leads nowhere
 *    for this path and method does not hide a parameter route: with
 *    GET "/users/new" and GET "/users/:id/edit", "/users/new/edit" finds
 *    the second, and with GET "/users/me" and DELETE "/users/:id",
 *    DELETE "/users/me" finds the second;
 *  - HEAD uses the most preferred HEAD route, else the most preferred GET
 *    route (the HTTP layer sends no body);
 *  - a path matched by some pattern but with none for the method:
 *    NOT_ALLOWED, `allow` listing the methods of every pattern that
 *    matches the path;
 *  - a path matched by no pattern: FOUND with the default target when one
 *    is set (whatever the method; pattern and method NULL), else
 *    NOT_FOUND. A wrong method on a known path stays NOT_ALLOWED even with
 *    a default.
 * A match is a depth-first search of a segment trie that visits a node at
 * most once: O(path length + the trie nodes the path reaches), with no
 * allocation; a request for a literal route that has its method goes
 * straight down. */
#ifndef TARMAC_SERVER_ROUTER_H
#define TARMAC_SERVER_ROUTER_H

#include <stddef.h>

#include "service/route_pattern.h"

typedef struct tarmac_router tarmac_router_t;

/* NULL when out of memory. */
tarmac_router_t *tarmac_router_new(void);
void tarmac_router_free(tarmac_router_t *router);

/* Adds a route: method is an HTTP token (case-sensitive, as HTTP methods
 * are; at most 32 bytes). 0, or -1 with err set: a bad method or pattern,
 * a (method, pattern) that matches the same requests as one added before
 * ("/a/:x" and "/a/:y" do), out of memory. Not thread-safe: start-up
 * only. */
int tarmac_router_add(tarmac_router_t *router, const char *method,
                      const char *pattern, void *target, char *err,
                      size_t err_size);

/* The target of requests whose path has no route (NULL: none). */
void tarmac_router_set_default(tarmac_router_t *router, void *target);

#define TARMAC_ROUTER_MAX_PARAMS TARMAC_ROUTE_PATTERN_MAX_PARAMS

typedef struct {
  const char *name; /* points into the router (the pattern's name) */
  size_t name_len;
  const char *value; /* points into the request path, not decoded */
  size_t value_len;
} tarmac_route_param_t;

typedef struct {
  void *target;
  const char *pattern; /* the route's pattern (router-owned), NULL for the
                          default target */
  const char *method;  /* the route's method (router-owned): "GET" for a
                          HEAD served by a GET route; NULL for the default
                          target */
  tarmac_route_param_t params[TARMAC_ROUTER_MAX_PARAMS]; /* pattern order */
  unsigned param_count;
} tarmac_route_match_t;

typedef enum {
  TARMAC_ROUTE_FOUND,
  TARMAC_ROUTE_NOT_FOUND,
  TARMAC_ROUTE_NOT_ALLOWED
} tarmac_route_status_t;

/* Matches a request (see the rules above). FOUND fills m; NOT_ALLOWED
 * writes the path's methods into allow as an Allow header value
 * ("GET, HEAD, POST"; HEAD listed wherever GET is), cut to allow_size;
 * allow may be NULL when allow_size is 0. Thread-safe, no allocation. */
tarmac_route_status_t tarmac_router_match(const tarmac_router_t *router,
                                          const char *method,
                                          size_t method_len, const char *path,
                                          size_t path_len,
                                          tarmac_route_match_t *m, char *allow,
                                          size_t allow_size);

/* Percent-decodes a parameter value into out (room for len bytes: the
 * result is never longer). "%2F" becomes '/', any byte may result (no
 * UTF-8 check); a '%' not followed by two hex digits is kept as it is.
 * '+' stays '+' (paths are not form-encoded). Returns the decoded length. */
size_t tarmac_route_decode(const char *value, size_t len, char *out);

#endif
