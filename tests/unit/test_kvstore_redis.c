/* The Redis backend (kvstore/redis.c) against a real redis-server started
 * here (Debian package redis-server) on a free port in a temporary folder,
 * with a password and database 2: the shared backend checks through a
 * pool of 2 connections for 8 threads (calls wait for connections), a
 * call cut by the guest's deadline while Redis stalls (CLIENT PAUSE), and
 * Redis killed and restarted on the same port (the store reports
 * unreachable, fails fast, then reconnects by itself); the server by
 * name, resolved, and with a lookup that hangs. Without
 * redis-server the test fails. */
#include <hiredis/hiredis.h>
#include <netdb.h>
#include <pthread.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "kv_check.h"
#include "redis_server.h"
#include "runtime/deadline.h"
#include "runtime/runtime.h"
#include "util/clock.h"

static bool wait_reachable(tarmac_kvstore_t *s, bool want) {
  uint64_t until = tarmac_clock_ns() + 10000 * MS;
  while (tarmac_kvstore_reachable(s) != want && tarmac_clock_ns() < until) {
    struct timespec step = {0, 10 * MS};
    nanosleep(&step, NULL);
  }
  return tarmac_kvstore_reachable(s) == want;
}

/* Redis stalls for 1.5 s; a call with 200 ms left ends near 200 ms. */
static void test_deadline(tarmac_kvstore_t *s, int port) {
  redisContext *c = admin(port);
  redisReply *r = c ? redisCommand(c, "CLIENT PAUSE 1500") : NULL;
  CHECK(r && r->type == REDIS_REPLY_STATUS);
  if (r) freeReplyObject(r);
  deadline_get_t d = {.store = s};
  uint64_t t0 = tarmac_clock_ns();
  get_under_deadline(&d);
  uint64_t took = tarmac_clock_ns() - t0;
  CHECK_EQ_INT(d.rc, TARMAC_KV_ERROR);
  CHECK(strstr(d.err, "deadline") != NULL);
  CHECK(took < 1000 * MS);
  printf("call under a 200 ms deadline ended after %.0f ms: %s\n",
         (double)took / MS, d.err);
  CHECK(tarmac_kvstore_reachable(s)); /* a deadline is not an outage */
  r = c ? redisCommand(c, "CLIENT UNPAUSE") : NULL;
  if (r) freeReplyObject(r);
  if (c) redisFree(c);
}

static void test_down_and_up(tarmac_kvstore_t *s, pid_t *pid, int port,
                             const char *dir) {
  char err[TARMAC_KV_ERR_MAX];
  tarmac_buffer_t v = TARMAC_BUFFER_INIT;
  CHECK_EQ_INT(tarmac_kvstore_set(s, "k", 1, (uint8_t *)"1", 1, err,
                                  sizeof err), TARMAC_KV_OK);
  stop_redis(*pid);
  uint64_t t0 = tarmac_clock_ns();
  CHECK_EQ_INT(tarmac_kvstore_get(s, "k", 1, &v, err, sizeof err),
               TARMAC_KV_ERROR);
  CHECK(tarmac_clock_ns() - t0 < 1000 * MS); /* refused: fails fast */
  CHECK(!tarmac_kvstore_reachable(s));
  *pid = start_redis(dir, port);
  CHECK(*pid > 0);
  CHECK(wait_reachable(s, true)); /* the background PING saw it back */
  CHECK_EQ_INT(tarmac_kvstore_set(s, "k", 1, (uint8_t *)"2", 1, err,
                                  sizeof err), TARMAC_KV_OK);
  CHECK_EQ_INT(tarmac_kvstore_get(s, "k", 1, &v, err, sizeof err),
               TARMAC_KV_OK);
  CHECK_BYTES(v.data, v.len, "2");
  tarmac_buffer_free(&v);
}

/* APP_REDIS_SERVER by name, through the resolver seam: a name that
 * resolves to the test's server works; one whose lookup hangs fails each
 * call within the connect timeout, naming the problem. */
static int resolve_loopback(const char *host, const char *service,
                            const struct addrinfo *hints,
                            struct addrinfo **res) {
  (void)host;
  return getaddrinfo("127.0.0.1", service, hints, res);
}

static pthread_mutex_t gate_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t gate_cond = PTHREAD_COND_INITIALIZER;
static bool gate_open;

static int resolve_hung(const char *host, const char *service,
                        const struct addrinfo *hints, struct addrinfo **res) {
  pthread_mutex_lock(&gate_lock);
  while (!gate_open) pthread_cond_wait(&gate_cond, &gate_lock);
  pthread_mutex_unlock(&gate_lock);
  return resolve_loopback(host, service, hints, res);
}

static void test_names(tarmac_kvstore_config_t c, int port) {
  char addr[64], err[TARMAC_KV_ERR_MAX] = "";
  snprintf(addr, sizeof addr, "redis.test:%d", port);
  c.redis_server = addr;
  c.redis_resolve = resolve_loopback;
  tarmac_kvstore_t *s = tarmac_kvstore_open(&c, err, sizeof err);
  CHECK(s != NULL && tarmac_kvstore_reachable(s));
  CHECK_EQ_INT(tarmac_kvstore_set(s, "n", 1, (uint8_t *)"1", 1, err,
                                  sizeof err), TARMAC_KV_OK);
  tarmac_kvstore_free(s);
  c.redis_resolve = resolve_hung;
  c.connect_timeout_ms = 200;
  s = tarmac_kvstore_open(&c, err, sizeof err);
  CHECK(s != NULL && !tarmac_kvstore_reachable(s));
  tarmac_buffer_t v = TARMAC_BUFFER_INIT;
  uint64_t t0 = tarmac_clock_ns();
  CHECK_EQ_INT(tarmac_kvstore_get(s, "n", 1, &v, err, sizeof err),
               TARMAC_KV_ERROR);
  uint64_t took = tarmac_clock_ns() - t0;
  CHECK(took >= 190 * MS && took < 1500 * MS);
  CHECK(strstr(err, "resolving redis.test took longer than") != NULL);
  printf("a hung lookup of the Redis host: %s (after %.0f ms)\n", err,
         (double)took / MS);
  tarmac_kvstore_free(s);
  pthread_mutex_lock(&gate_lock); /* the lookup ends and frees its state */
  gate_open = true;
  pthread_cond_broadcast(&gate_cond);
  pthread_mutex_unlock(&gate_lock);
}

int main(void) {
  tarmac_rt_init();
  char dir[] = "/tmp/tarmac-redis-XXXXXX", addr[64], err[TARMAC_KV_ERR_MAX];
  int port = free_port();
  CHECK(mkdtemp(dir) != NULL && port > 0);
  pid_t pid = start_redis(dir, port);
  CHECK(pid > 0);
  if (pid <= 0) TEST_EXIT();
  snprintf(addr, sizeof addr, "127.0.0.1:%d", port);
  tarmac_kvstore_config_t c = redis_test_config(addr);
  tarmac_kvstore_t *s = tarmac_kvstore_open(&c, err, sizeof err);
  CHECK(s != NULL && tarmac_kvstore_reachable(s));
  if (s) {
    test_large_value(s);
    test_threads(s);
    test_deadline(s, port);
    test_down_and_up(s, &pid, port, dir);
    tarmac_kvstore_free(s);
  }
  test_names(c, port);
  c.redis_password = "wrong";
  s = tarmac_kvstore_open(&c, err, sizeof err); /* AUTH fails: unreachable */
  CHECK(s != NULL && !tarmac_kvstore_reachable(s));
  tarmac_kvstore_free(s);
  c.redis_server = "no-port";
  CHECK(tarmac_kvstore_open(&c, err, sizeof err) == NULL);
  CHECK(strstr(err, "APP_REDIS_SERVER=no-port") != NULL);
  stop_redis(pid);
  remove_redis_dir(dir);
  TEST_EXIT();
}
