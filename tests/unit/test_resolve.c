/* Unit tests of src/util/resolve through its lookup seam: literals need no
 * lookup; an answer is reused until forgotten; a name server that does not
 * answer costs each caller at most its wait, and one lookup however many
 * callers wait; a failed lookup names the host and the reason; a resolver
 * freed while its lookup hangs is freed by the lookup when it ends. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>

#include "test.h"
#include "util/clock.h"
#include "util/resolve.h"

#define MS 1000000ull
#define WAITERS 4

static atomic_int lookups;

/* Answers every name with 127.0.0.1. */
static int answer_loopback(const char *host, const char *service,
                           const struct addrinfo *hints,
                           struct addrinfo **res) {
  (void)host;
  atomic_fetch_add(&lookups, 1);
  return getaddrinfo("127.0.0.1", service, hints, res);
}

static int answer_noname(const char *host, const char *service,
                         const struct addrinfo *hints,
                         struct addrinfo **res) {
  (void)host, (void)service, (void)hints, (void)res;
  atomic_fetch_add(&lookups, 1);
  return EAI_NONAME;
}

/* A name server that answers only when the test opens the gate. */
static pthread_mutex_t gate_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t gate_cond = PTHREAD_COND_INITIALIZER;
static bool gate_open, hung_returned;

static int answer_when_released(const char *host, const char *service,
                                const struct addrinfo *hints,
                                struct addrinfo **res) {
  atomic_fetch_add(&lookups, 1);
  pthread_mutex_lock(&gate_lock);
  while (!gate_open) pthread_cond_wait(&gate_cond, &gate_lock);
  pthread_mutex_unlock(&gate_lock);
  int rc = answer_loopback(host, service, hints, res);
  pthread_mutex_lock(&gate_lock);
  hung_returned = true;
  pthread_cond_broadcast(&gate_cond);
  pthread_mutex_unlock(&gate_lock);
  return rc;
}

static void test_literals(void) {
  atomic_store(&lookups, 0);
  const char *literals[] = {"127.0.0.1", "::1", "fe80::1"};
  for (size_t i = 0; i < 3; i++) {
    tarmac_resolver_t *r = tarmac_resolver_new(literals[i], answer_noname, 0);
    tarmac_resolved_t out;
    char err[256];
    CHECK(r != NULL);
    CHECK_EQ_INT(tarmac_resolver_get(r, 0, &out, err, sizeof err), 0);
    CHECK_EQ_INT(out.count, 1);
    CHECK(strcmp(out.addr[0], literals[i]) == 0);
    tarmac_resolver_free(r);
  }
  CHECK_EQ_INT(atomic_load(&lookups), 0);
}

static void test_reuse_and_forget(void) {
  atomic_store(&lookups, 0);
  tarmac_resolver_t *r =
      tarmac_resolver_new("redis.test", answer_loopback, 60000);
  tarmac_resolved_t out = {.count = 0};
  char err[256];
  uint64_t until = tarmac_clock_ns() + 5000 * MS;
  CHECK_EQ_INT(tarmac_resolver_get(r, until, &out, err, sizeof err), 0);
  CHECK(out.count == 1 && strcmp(out.addr[0], "127.0.0.1") == 0);
  CHECK_EQ_INT(tarmac_resolver_get(r, until, &out, err, sizeof err), 0);
  CHECK_EQ_INT(atomic_load(&lookups), 1); /* the answer was kept */
  tarmac_resolver_forget(r);
  CHECK_EQ_INT(tarmac_resolver_get(r, until, &out, err, sizeof err), 0);
  CHECK_EQ_INT(atomic_load(&lookups), 2);
  tarmac_resolver_free(r);
}

static void test_no_such_name(void) {
  tarmac_resolver_t *r = tarmac_resolver_new("nowhere.test", answer_noname,
                                             60000);
  tarmac_resolved_t out;
  char err[256] = "";
  CHECK_EQ_INT(tarmac_resolver_get(r, tarmac_clock_ns() + 5000 * MS, &out,
                                   err, sizeof err), -1);
  CHECK(strstr(err, "resolving nowhere.test: ") != NULL);
  CHECK(strstr(err, gai_strerror(EAI_NONAME)) != NULL);
  tarmac_resolver_free(r);
}

typedef struct {
  tarmac_resolver_t *r;
  int rc;
  uint64_t took_ns;
  char err[256];
} waiter_t;

static void *wait_100ms(void *arg) {
  waiter_t *w = arg;
  tarmac_resolved_t out;
  uint64_t t0 = tarmac_clock_ns();
  w->rc = tarmac_resolver_get(w->r, t0 + 100 * MS, &out, w->err,
                              sizeof w->err);
  w->took_ns = tarmac_clock_ns() - t0;
  return NULL;
}

/* WAITERS callers, 100 ms each, against a lookup that hangs: each gives up
 * after its 100 ms (well before a name server's own timeouts), and only
 * one lookup ran. */
static void test_hung_name_server(void) {
  atomic_store(&lookups, 0);
  tarmac_resolver_t *r =
      tarmac_resolver_new("hung.test", answer_when_released, 60000);
  waiter_t w[WAITERS];
  pthread_t t[WAITERS];
  for (int i = 0; i < WAITERS; i++) {
    w[i] = (waiter_t){.r = r};
    CHECK_EQ_INT(pthread_create(&t[i], NULL, wait_100ms, &w[i]), 0);
  }
  for (int i = 0; i < WAITERS; i++) {
    pthread_join(t[i], NULL);
    CHECK_EQ_INT(w[i].rc, -1);
    CHECK(w[i].took_ns >= 100 * MS && w[i].took_ns < 2000 * MS);
    CHECK(strstr(w[i].err, "resolving hung.test took longer than") != NULL);
  }
  printf("a hung lookup: %s (after %.0f ms)\n", w[0].err,
         (double)w[0].took_ns / MS);
  CHECK_EQ_INT(atomic_load(&lookups), 1);
  tarmac_resolver_free(r); /* the lookup still holds it */
  pthread_mutex_lock(&gate_lock);
  gate_open = true;
  pthread_cond_broadcast(&gate_cond);
  while (!hung_returned) pthread_cond_wait(&gate_cond, &gate_lock);
  pthread_mutex_unlock(&gate_lock);
}

int main(void) {
  test_literals();
  test_reuse_and_forget();
  test_no_such_name();
  test_hung_name_server();
  char long_name[300];
  memset(long_name, 'a', sizeof long_name - 1);
  long_name[sizeof long_name - 1] = '\0';
  CHECK(tarmac_resolver_new(long_name, NULL, 0) == NULL);
  TEST_EXIT();
}
