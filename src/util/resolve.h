/* util/resolve: a host name's addresses, with a bound on the wait.
 *
 * getaddrinfo has no timeout of its own (the resolver's, from
 * resolv.conf, can add up to tens of seconds), so a client that must
 * connect within a timeout (Redis' APP_REDIS_SERVER) resolves through a
 * tarmac_resolver_t: the lookup runs on a thread of its own and the caller
 * waits for it at most until its time is up. One lookup at a time per
 * resolver (callers arriving while it runs wait for the same one, so a
 * hung name server costs one thread, not one per caller), and its answer
 * is kept for `ttl_ms` or until tarmac_resolver_forget. A numeric host
 * (an IPv4 or IPv6 literal) is answered at once, without a thread.
 *
 * Owns: the resolver's state, shared with a lookup thread still running
 * (whichever of the two lets go last frees it; a lookup that outlives
 * tarmac_resolver_free finishes on its own). */
#ifndef TARMAC_UTIL_RESOLVE_H
#define TARMAC_UTIL_RESOLVE_H

#include <netdb.h>
#include <netinet/in.h>
#include <stddef.h>
#include <stdint.h>

/* The lookup function: getaddrinfo's signature. A seam for tests (a name
 * server that does not answer); NULL means getaddrinfo. */
typedef int (*tarmac_resolve_fn)(const char *host, const char *service,
                                 const struct addrinfo *hints,
                                 struct addrinfo **res);

#define TARMAC_RESOLVE_MAX 4 /* addresses kept per name */

/* A name's addresses as numeric strings ("127.0.0.1", "::1"), in
 * getaddrinfo's order. */
typedef struct {
  char addr[TARMAC_RESOLVE_MAX][INET6_ADDRSTRLEN];
  size_t count;
} tarmac_resolved_t;

typedef struct tarmac_resolver tarmac_resolver_t;

/* A resolver for `host` (copied; at most 255 bytes). NULL when out of
 * memory or the name is too long. */
tarmac_resolver_t *tarmac_resolver_new(const char *host, tarmac_resolve_fn fn,
                                       uint64_t ttl_ms);
void tarmac_resolver_free(tarmac_resolver_t *r);

/* The host's addresses into *out: at once for a literal or a fresh
 * answer; otherwise after a lookup, waiting until `until_ns`
 * (tarmac_clock_ns). 0, or -1 with err naming the host and the problem
 * (no such name, or the lookup outlasted the wait). */
int tarmac_resolver_get(tarmac_resolver_t *r, uint64_t until_ns,
                        tarmac_resolved_t *out, char *err, size_t err_size);

/* No address answered: the next get looks the name up again. */
void tarmac_resolver_forget(tarmac_resolver_t *r);

#endif
