/* redis_server: a redis-server of the test's own (Debian package
 * redis-server) on a free port in a folder, with a password, started and
 * waited for (readiness polled), and killed; an authenticated admin
 * connection; a get of "k" under a guest's deadline. Shared by
 * test_kvstore_redis.c and test_redis_pipe.c. */
#ifndef TARMAC_TESTS_REDIS_SERVER_H
#define TARMAC_TESTS_REDIS_SERVER_H

#include <hiredis/hiredis.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <stdbool.h>
#include <stdio.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "kvstore/kvstore.h"
#include "runtime/deadline.h"
#include "runtime/runtime.h"
#include "util/buffer.h"
#include "util/clock.h"

extern char **environ;

#define PASSWORD "pw for test"
#define MS 1000000ull

static int free_port(void) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in a = {.sin_family = AF_INET,
                          .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  socklen_t len = sizeof a;
  int port = -1;
  if (fd >= 0 && bind(fd, (struct sockaddr *)&a, sizeof a) == 0 &&
      getsockname(fd, (struct sockaddr *)&a, &len) == 0)
    port = ntohs(a.sin_port);
  if (fd >= 0) close(fd);
  return port;
}

/* A connection that has authenticated, or NULL. */
static redisContext *admin(int port) {
  struct timeval tv = {0, 200000};
  redisContext *c = redisConnectWithTimeout("127.0.0.1", port, tv);
  redisReply *r = c && !c->err ? redisCommand(c, "AUTH %s", PASSWORD) : NULL;
  bool ok = r && r->type == REDIS_REPLY_STATUS;
  if (r) freeReplyObject(r);
  if (!ok && c) redisFree(c);
  return ok ? c : NULL;
}

static pid_t start_redis(const char *dir, int port) {
  char port_text[16];
  snprintf(port_text, sizeof port_text, "%d", port);
  char *argv[] = {"redis-server", "--port", port_text, "--bind", "127.0.0.1",
                  "--dir", (char *)dir, "--save", "", "--appendonly", "no",
                  "--requirepass", PASSWORD, "--logfile", "redis.log", NULL};
  pid_t pid;
  if (posix_spawnp(&pid, "redis-server", NULL, NULL, argv, environ) != 0) {
    fprintf(stderr, "cannot run redis-server (install redis-server)\n");
    return -1;
  }
  uint64_t until = tarmac_clock_ns() + 20000 * MS;
  redisContext *c = NULL;
  while (!(c = admin(port)) && tarmac_clock_ns() < until &&
         waitpid(pid, NULL, WNOHANG) == 0) { /* readiness, polled */
    struct timespec step = {0, 20 * MS};
    nanosleep(&step, NULL);
  }
  if (c) redisFree(c);
  return c ? pid : -1;
}

static void stop_redis(pid_t pid) {
  if (pid <= 0) return;
  kill(pid, SIGKILL);
  waitpid(pid, NULL, 0);
}

/* The store's settings for the test server at addr ("127.0.0.1:PORT"):
 * database 2, a pool of 2, its checker every 20 ms. */
static tarmac_kvstore_config_t redis_test_config(const char *addr) {
  return (tarmac_kvstore_config_t){
      .type = TARMAC_KV_REDIS, .redis_server = addr,
      .redis_password = PASSWORD, .redis_database = 2,
      .connect_timeout_ms = 1000, .read_timeout_ms = 3000,
      .write_timeout_ms = 3000, .pool_size = 2, .check_interval_ms = 20};
}

/* The server's folder, once it is stopped: its log, then the folder. */
static void remove_redis_dir(const char *dir) {
  char log[96];
  snprintf(log, sizeof log, "%s/redis.log", dir);
  unlink(log);
  rmdir(dir);
}

/* A get of "k" with 200 ms left before the guest's deadline, as a guest's
 * call runs (protected); its result and error land in the struct. */
typedef struct {
  tarmac_kvstore_t *store;
  tarmac_kv_result_t rc;
  char err[TARMAC_KV_ERR_MAX];
} deadline_get_t;

static void deadline_get_run(void *arg) {
  deadline_get_t *d = arg;
  tarmac_buffer_t v = TARMAC_BUFFER_INIT;
  d->rc = tarmac_kvstore_get(d->store, "k", 1, &v, d->err, sizeof d->err);
  tarmac_buffer_free(&v);
}

static void *get_under_deadline(void *arg) { /* deadline_get_t; a thread main */
  uint64_t saved = tarmac_rt_deadline_arm(200 * MS);
  tarmac_rt_run_protected(deadline_get_run, arg);
  tarmac_rt_deadline_restore(saved);
  return NULL;
}

#endif
