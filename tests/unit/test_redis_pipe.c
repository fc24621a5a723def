/* The pipelined connection per event loop (kvstore/redis_pipe.c) without
 * the HTTP layer: util/blocking hooks of the test's own make every thread
 * a guest of one fake loop, whose driver is a thread here (poll on the
 * watched fd, the deferred tasks run after each wake-up); guests park on
 * their thread (no park hook). Against a real redis-server: 8 threads x
 * 1000 mixed operations checked exactly (kv_check.h) through one
 * connection, 1 MiB values (12 threads at once while Redis is stopped:
 * writes left for POLLOUT),
 * a waiter that leaves at its deadline while
 * Redis stalls (its reply is dropped and the replies after it still match
 * their commands), and Redis killed then restarted (calls fail, then the
 * pipe reconnects). */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>

#include "kv_check.h"
#include "redis_server.h"
#include "runtime/deadline.h"
#include "runtime/runtime.h"
#include "util/blocking.h"

/* The fake loop: its watch, its deferred tasks, a pipe that wakes its
 * driver; under lock. */
static struct {
  pthread_mutex_t lock;
  int fd;
  uint32_t events;
  tarmac_blocking_watch_t *watch;
  tarmac_blocking_task_t *tasks;
  int wake[2];
  atomic_bool stop;
  atomic_bool on; /* callers are its guests */
  atomic_int watches; /* watch calls (connections watched) */
  atomic_int out_watches; /* watches of POLLOUT (a write left bytes) */
} loop = {.lock = PTHREAD_MUTEX_INITIALIZER, .fd = -1};

static void *fake_domain(unsigned *index) {
  *index = 0;
  return atomic_load(&loop.on) ? &loop : NULL;
}

static void poke(void) {
  char b = 1;
  if (write(loop.wake[1], &b, 1) < 0) { /* full: the driver wakes anyway */
  }
}

static int fake_watch(void *domain, int fd, uint32_t events,
                      tarmac_blocking_watch_t *w) {
  (void)domain;
  pthread_mutex_lock(&loop.lock);
  if (loop.fd != fd) atomic_fetch_add(&loop.watches, 1);
  if (events & POLLOUT) atomic_fetch_add(&loop.out_watches, 1);
  loop.fd = fd;
  loop.events = events;
  loop.watch = w;
  pthread_mutex_unlock(&loop.lock);
  poke();
  return 0;
}

static void fake_unwatch(void *domain, int fd) {
  (void)domain;
  pthread_mutex_lock(&loop.lock);
  if (loop.fd == fd) loop.fd = -1;
  pthread_mutex_unlock(&loop.lock);
}

static void fake_defer(void *domain, tarmac_blocking_task_t *task) {
  (void)domain;
  pthread_mutex_lock(&loop.lock);
  if (!task->queued) {
    task->queued = true;
    task->next = loop.tasks;
    loop.tasks = task;
  }
  pthread_mutex_unlock(&loop.lock);
  poke();
}

static void run_tasks(void) {
  pthread_mutex_lock(&loop.lock);
  tarmac_blocking_task_t *t = loop.tasks;
  loop.tasks = NULL;
  for (tarmac_blocking_task_t *q = t; q; q = q->next) q->queued = false;
  pthread_mutex_unlock(&loop.lock);
  while (t != NULL) {
    tarmac_blocking_task_t *next = t->next;
    t->run(t);
    t = next;
  }
}

/* One wait of the driver: the watched fd and the wake-up pipe. */
static void drive_once(void) {
  pthread_mutex_lock(&loop.lock);
  struct pollfd p[2] = {{loop.wake[0], POLLIN, 0},
                        {loop.fd, (short)loop.events, 0}};
  tarmac_blocking_watch_t *w = loop.watch;
  pthread_mutex_unlock(&loop.lock);
  int n = poll(p, p[1].fd >= 0 ? 2 : 1, 50);
  if (n > 0 && (p[0].revents & POLLIN)) {
    char buf[64];
    if (read(loop.wake[0], buf, sizeof buf) < 0) { /* drained */
    }
  }
  run_tasks();
  if (n > 0 && p[1].fd >= 0 && p[1].revents != 0)
    w->ready(w, (uint32_t)p[1].revents);
}

static void *driver_main(void *arg) {
  (void)arg;
  while (!atomic_load(&loop.stop)) drive_once();
  return NULL;
}

static void expect_value(tarmac_kvstore_t *s, const char *key,
                         const char *want) {
  char err[TARMAC_KV_ERR_MAX];
  tarmac_buffer_t v = TARMAC_BUFFER_INIT;
  CHECK_EQ_INT(tarmac_kvstore_get(s, key, strlen(key), &v, err, sizeof err),
               TARMAC_KV_OK);
  CHECK_BYTES(v.data, v.len, want);
  tarmac_buffer_free(&v);
}

/* Redis stalls 1 s; a get with 200 ms left leaves its slot; its reply,
 * when it comes, is dropped: the next commands get their own replies. */
static void test_abandoned(tarmac_kvstore_t *s, int port) {
  char err[TARMAC_KV_ERR_MAX];
  CHECK_EQ_INT(tarmac_kvstore_set(s, "k", 1, (uint8_t *)"K", 1, err,
                                  sizeof err), TARMAC_KV_OK);
  CHECK_EQ_INT(tarmac_kvstore_set(s, "j", 1, (uint8_t *)"J", 1, err,
                                  sizeof err), TARMAC_KV_OK);
  redisContext *c = admin(port);
  redisReply *r = c ? redisCommand(c, "CLIENT PAUSE 1000") : NULL;
  CHECK(r && r->type == REDIS_REPLY_STATUS);
  if (r) freeReplyObject(r);
  deadline_get_t d = {.store = s};
  pthread_t t;
  uint64_t t0 = tarmac_clock_ns();
  CHECK_EQ_INT(pthread_create(&t, NULL, get_under_deadline, &d), 0);
  pthread_join(t, NULL);
  CHECK_EQ_INT(d.rc, TARMAC_KV_ERROR);
  CHECK(strstr(d.err, "deadline") != NULL);
  CHECK(tarmac_clock_ns() - t0 < 900 * MS);
  expect_value(s, "j", "J"); /* queued behind the abandoned get */
  expect_value(s, "k", "K");
  if (c) redisFree(c);
}

#define BIG_THREADS 12
#define BIG_LEN ((size_t)1 << 20)

typedef struct {
  tarmac_kvstore_t *store;
  int id;
  bool ok;
} big_t;

static void *big_main(void *arg) {
  big_t *b = arg;
  char key[16], err[TARMAC_KV_ERR_MAX];
  uint8_t *value = malloc(BIG_LEN);
  tarmac_buffer_t got = TARMAC_BUFFER_INIT;
  size_t key_len = (size_t)snprintf(key, sizeof key, "big%d", b->id);
  if (value == NULL) return NULL;
  memset(value, 'a' + b->id, BIG_LEN);
  b->ok = tarmac_kvstore_set(b->store, key, key_len, value, BIG_LEN, err,
                             sizeof err) == TARMAC_KV_OK &&
          tarmac_kvstore_get(b->store, key, key_len, &got, err,
                             sizeof err) == TARMAC_KV_OK &&
          got.len == BIG_LEN && memcmp(got.data, value, BIG_LEN) == 0 &&
          tarmac_kvstore_delete(b->store, key, key_len, err, sizeof err) ==
              TARMAC_KV_OK;
  tarmac_buffer_free(&got);
  free(value);
  return NULL;
}

/* 1 MiB values from many threads at once while Redis is stopped
 * (SIGSTOP): more than the socket takes (the send buffer and a receive
 * buffer that does not grow while nobody reads), so the rest waits for the
 * watch's POLLOUT. Redis goes on once a POLLOUT watch is seen, and every
 * value comes back whole. (Without the stop, a Redis that reads as fast as
 * the writes come may take everything in one write.) */
static void test_many_large(tarmac_kvstore_t *s, pid_t redis) {
  big_t b[BIG_THREADS];
  pthread_t t[BIG_THREADS];
  CHECK_EQ_INT(kill(redis, SIGSTOP), 0);
  for (int i = 0; i < BIG_THREADS; i++) {
    b[i] = (big_t){.store = s, .id = i};
    CHECK_EQ_INT(pthread_create(&t[i], NULL, big_main, &b[i]), 0);
  }
  uint64_t until = tarmac_clock_ns() + 2000 * MS;
  while (atomic_load(&loop.out_watches) == 0 && tarmac_clock_ns() < until) {
    struct timespec step = {0, 1 * MS};
    nanosleep(&step, NULL);
  }
  CHECK(atomic_load(&loop.out_watches) > 0);
  CHECK_EQ_INT(kill(redis, SIGCONT), 0);
  for (int i = 0; i < BIG_THREADS; i++) {
    pthread_join(t[i], NULL);
    CHECK(b[i].ok);
  }
}

static void test_down_and_up(tarmac_kvstore_t *s, pid_t *pid, int port,
                             const char *dir) {
  char err[TARMAC_KV_ERR_MAX];
  tarmac_buffer_t v = TARMAC_BUFFER_INIT;
  stop_redis(*pid);
  CHECK_EQ_INT(tarmac_kvstore_get(s, "k", 1, &v, err, sizeof err),
               TARMAC_KV_ERROR);
  *pid = start_redis(dir, port);
  CHECK(*pid > 0);
  int before = atomic_load(&loop.watches);
  CHECK_EQ_INT(tarmac_kvstore_set(s, "k", 1, (uint8_t *)"2", 1, err,
                                  sizeof err), TARMAC_KV_OK);
  expect_value(s, "k", "2");
  CHECK(atomic_load(&loop.watches) > before); /* the pipe reconnected */
  tarmac_buffer_free(&v);
}

static void install_hooks(void) {
  tarmac_blocking_hooks_t hooks = {.domain = fake_domain,
                                   .watch = fake_watch,
                                   .unwatch = fake_unwatch,
                                   .defer = fake_defer};
  tarmac_blocking_set_hooks(&hooks);
}

static void run_tests(tarmac_kvstore_t *s, pid_t *pid, int port,
                      const char *dir) {
  pthread_t driver;
  CHECK_EQ_INT(pthread_create(&driver, NULL, driver_main, NULL), 0);
  atomic_store(&loop.on, true);
  test_large_value(s);
  test_many_large(s, *pid);
  test_threads(s);
  CHECK_EQ_INT(atomic_load(&loop.watches), 1); /* all on one connection */
  test_abandoned(s, port);
  test_down_and_up(s, pid, port, dir);
  atomic_store(&loop.on, false);
  atomic_store(&loop.stop, true);
  poke();
  pthread_join(driver, NULL);
}

int main(void) {
  tarmac_rt_init();
  signal(SIGPIPE, SIG_IGN); /* as the server: a write to a dropped peer */
  char dir[] = "/tmp/tarmac-redis-pipe-XXXXXX", addr[64];
  char err[TARMAC_KV_ERR_MAX];
  int port = free_port();
  CHECK(mkdtemp(dir) != NULL && port > 0 && pipe(loop.wake) == 0);
  pid_t pid = start_redis(dir, port);
  CHECK(pid > 0);
  if (pid <= 0) TEST_EXIT();
  install_hooks();
  snprintf(addr, sizeof addr, "127.0.0.1:%d", port);
  tarmac_kvstore_config_t c = redis_test_config(addr);
  tarmac_kvstore_t *s = tarmac_kvstore_open(&c, err, sizeof err);
  CHECK(s != NULL);
  if (s) {
    run_tests(s, &pid, port, dir);
    tarmac_kvstore_free(s);
  }
  stop_redis(pid);
  remove_redis_dir(dir);
  TEST_EXIT();
}
