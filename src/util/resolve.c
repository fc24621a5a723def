#include <arpa/inet.h>
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "util/clock.h"
#include "util/resolve.h"

#define NS_PER_MS 1000000ull

struct tarmac_resolver {
  pthread_mutex_t mutex;
  pthread_cond_t done;   /* CLOCK_MONOTONIC: a lookup finished */
  unsigned refs;         /* the owner, plus a lookup thread while it runs */
  bool busy;             /* a lookup thread runs */
  uint64_t generation;   /* lookups finished so far */
  int gai_rc;            /* the last lookup's result (0: answered) */
  tarmac_resolved_t last; /* its addresses (a literal's, from the start) */
  uint64_t answered_ns;  /* when `last` was filled; 0: nothing to reuse */
  uint64_t ttl_ns;
  tarmac_resolve_fn fn;  /* immutable after new, like host and literal */
  bool literal;
  char host[256];
};

static void destroy(tarmac_resolver_t *r) {
  pthread_cond_destroy(&r->done);
  pthread_mutex_destroy(&r->mutex);
  free(r);
}

/* Drops one reference (mutex held; released here). */
static void unref_unlock(tarmac_resolver_t *r) {
  bool last = --r->refs == 0;
  pthread_mutex_unlock(&r->mutex);
  if (last) destroy(r);
}

static bool parse_literal(const char *host, tarmac_resolved_t *out) {
  unsigned char bytes[sizeof(struct in6_addr)];
  if (inet_pton(AF_INET, host, bytes) != 1 &&
      inet_pton(AF_INET6, host, bytes) != 1)
    return false;
  snprintf(out->addr[0], sizeof out->addr[0], "%s", host);
  out->count = 1;
  return true;
}

static int init_sync(tarmac_resolver_t *r) {
  pthread_condattr_t attr;
  if (pthread_condattr_init(&attr) != 0) return -1;
  int rc = pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
  if (rc == 0) rc = pthread_cond_init(&r->done, &attr);
  pthread_condattr_destroy(&attr);
  if (rc == 0 && (rc = pthread_mutex_init(&r->mutex, NULL)) != 0)
    pthread_cond_destroy(&r->done);
  return rc == 0 ? 0 : -1;
}

tarmac_resolver_t *tarmac_resolver_new(const char *host, tarmac_resolve_fn fn,
                                       uint64_t ttl_ms) {
  if (strlen(host) >= sizeof(((tarmac_resolver_t *)0)->host)) return NULL;
  tarmac_resolver_t *r = calloc(1, sizeof *r);
  if (r == NULL) return NULL;
  if (init_sync(r) != 0) {
    free(r);
    return NULL;
  }
  snprintf(r->host, sizeof r->host, "%s", host);
  r->fn = fn ? fn : getaddrinfo;
  r->ttl_ns = ttl_ms * NS_PER_MS;
  r->refs = 1;
  r->literal = parse_literal(host, &r->last);
  return r;
}

void tarmac_resolver_free(tarmac_resolver_t *r) {
  if (r == NULL) return;
  pthread_mutex_lock(&r->mutex);
  unref_unlock(r);
}

/* Numeric forms of the first TARMAC_RESOLVE_MAX addresses. */
static void collect(const struct addrinfo *ai, tarmac_resolved_t *out) {
  for (; ai != NULL && out->count < TARMAC_RESOLVE_MAX; ai = ai->ai_next) {
    if (ai->ai_family != AF_INET && ai->ai_family != AF_INET6) continue;
    if (getnameinfo(ai->ai_addr, ai->ai_addrlen, out->addr[out->count],
                    sizeof out->addr[0], NULL, 0, NI_NUMERICHOST) == 0)
      out->count++;
  }
}

static void *lookup_main(void *arg) {
  tarmac_resolver_t *r = arg;
  struct addrinfo hints = {.ai_family = AF_UNSPEC,
                           .ai_socktype = SOCK_STREAM};
  struct addrinfo *res = NULL;
  tarmac_resolved_t found = {.count = 0};
  int rc = r->fn(r->host, NULL, &hints, &res);
  if (rc == 0) {
    collect(res, &found);
    freeaddrinfo(res);
    if (found.count == 0) rc = EAI_NONAME;
  }
  pthread_mutex_lock(&r->mutex);
  r->gai_rc = rc;
  if (rc == 0) {
    r->last = found;
    r->answered_ns = tarmac_clock_ns();
  }
  r->busy = false;
  r->generation++;
  pthread_cond_broadcast(&r->done);
  unref_unlock(r);
  return NULL;
}

/* Starts the lookup thread (mutex held). 0 or an errno value. */
static int start_lookup(tarmac_resolver_t *r) {
  pthread_attr_t attr;
  int rc = pthread_attr_init(&attr);
  if (rc != 0) return rc;
  pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
  pthread_t tid;
  r->refs++; /* the thread's, dropped as it ends */
  rc = pthread_create(&tid, &attr, lookup_main, r);
  pthread_attr_destroy(&attr);
  if (rc != 0) {
    r->refs--;
    return rc;
  }
  r->busy = true;
  return 0;
}

static bool fresh(const tarmac_resolver_t *r, uint64_t now) {
  return r->answered_ns != 0 && now < r->answered_ns + r->ttl_ns;
}

/* Waits for the lookup running after `generation` (mutex held). true when
 * it finished in time. */
static bool wait_lookup(tarmac_resolver_t *r, uint64_t generation,
                        uint64_t until_ns) {
  struct timespec until = {(time_t)(until_ns / 1000000000ull),
                           (long)(until_ns % 1000000000ull)};
  int rc = 0;
  while (r->generation == generation && rc == 0)
    rc = pthread_cond_timedwait(&r->done, &r->mutex, &until);
  return r->generation != generation;
}

int tarmac_resolver_get(tarmac_resolver_t *r, uint64_t until_ns,
                        tarmac_resolved_t *out, char *err, size_t err_size) {
  if (r->literal) {
    *out = r->last;
    return 0;
  }
  pthread_mutex_lock(&r->mutex);
  uint64_t start = tarmac_clock_ns();
  int rc = 0;
  if (!fresh(r, start)) {
    uint64_t generation = r->generation;
    rc = r->busy ? 0 : start_lookup(r);
    if (rc != 0) {
      snprintf(err, err_size, "resolving %s: cannot start a thread: %s",
               r->host, strerror(rc));
    } else if (!wait_lookup(r, generation, until_ns)) {
      snprintf(err, err_size,
               "resolving %s took longer than the %llu ms allowed", r->host,
               (unsigned long long)((until_ns > start ? until_ns - start : 0) +
                                    NS_PER_MS / 2) / NS_PER_MS);
      rc = -1;
    } else if (r->gai_rc != 0) {
      snprintf(err, err_size, "resolving %s: %s", r->host,
               gai_strerror(r->gai_rc));
      rc = -1;
    }
  }
  if (rc == 0) *out = r->last;
  pthread_mutex_unlock(&r->mutex);
  return rc == 0 ? 0 : -1;
}

void tarmac_resolver_forget(tarmac_resolver_t *r) {
  if (r->literal) return;
  pthread_mutex_lock(&r->mutex);
  r->answered_ns = 0;
  pthread_mutex_unlock(&r->mutex);
}
