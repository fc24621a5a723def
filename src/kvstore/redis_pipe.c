/* kvstore/redis_pipe: one pipelined connection per event loop.
 *
 * The guests of a loop run on its fibers, one at a time on its driver's
 * thread. Each appends its command to the loop's connection, takes the
 * next slot of a FIFO and parks (util/blocking.h); the driver writes what
 * every guest of its pass appended in ONE write (a deferred task, after
 * the pass), and a watch of the socket reads the replies as they come,
 * hands each to the slot's waiter in order and unparks it. Per request
 * that saves the write, the epoll_ctl and the read of a round trip of its
 * own, on our side and on redis-server's.
 *
 * Failures (EOF, a reset, a protocol error, a write error) close the
 * connection and fail every waiter; the next command reconnects. A waiter
 * whose time runs out leaves its slot (the reply is freed when it comes);
 * one that waited its whole read timeout shuts the socket down, so the
 * driver fails the rest (a server that stopped answering). Only the driver
 * closes the connection or unparks (its watch, its task): a guest whose
 * loop was taken over (the watchdog) may still run here on another thread,
 * hence the pipe's mutex, and shuts the socket down instead.
 *
 * Nothing unbounded: at most PIPE_SLOTS commands in flight and
 * PIPE_OBUF_MAX bytes unsent; beyond, while connecting, or while a
 * shut-down connection awaits its driver, callers use the pool. */
#include <errno.h>
#include <hiredis/sds.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "kvstore/redis_internal.h"
#include "runtime/deadline.h"
#include "util/blocking.h"
#include "util/clock.h"

#define PIPE_SLOTS 256                  /* commands in flight per loop */
#define PIPE_OBUF_MAX ((size_t)8 << 20) /* bytes appended, not yet sent */
#define PIPE_READ_CHUNK 65536
#define PIPE_READS_MAX 16 /* per watch callback (1 MiB): then other work */
#define NS_PER_MS 1000000ull

/* A command's waiter, on its guest's stack; known to the pipe through its
 * slot until the reply is handed over, the connection failed or it left. */
typedef struct {
  tarmac_blocking_parking_t park;
  uint64_t seq;      /* its slot's number */
  redisReply *reply; /* handed over by the driver */
  bool done;         /* reply set, or failed (why) */
  bool lost;         /* the connection failed under it */
  char why[128];
} pipe_waiter_t;

struct redis_pipe {
  redis_store_t *store;
  void *domain; /* the loop it belongs to */
  pthread_mutex_t lock;
  redisContext *conn; /* NULL: none (the next command connects) */
  bool connecting;    /* a guest is making conn (lock not held) */
  bool broken;        /* shut down by a guest: the driver closes it */
  bool out_watched;   /* unsent bytes: watching POLLOUT too */
  tarmac_blocking_watch_t watch;
  tarmac_blocking_task_t flush;
  pipe_waiter_t *slots[PIPE_SLOTS]; /* NULL: its waiter left */
  uint64_t head, tail; /* oldest unanswered, next to take */
};

/* ---- the driver's side -------------------------------------------------- */

/* Closes the connection and fails every waiter (lock held; driver). A
 * connection a waiter broke (the server stopped answering) is not worth a
 * retry on the pool; one that failed by itself (a restart) is. */
static void fail_all(redis_pipe_t *p, const char *why) {
  bool lost = !p->broken;
  if (p->broken) why = "an earlier command timed out (connection dropped)";
  for (; p->head != p->tail; p->head++) {
    pipe_waiter_t *w = p->slots[p->head % PIPE_SLOTS];
    p->slots[p->head % PIPE_SLOTS] = NULL;
    if (w == NULL) continue;
    snprintf(w->why, sizeof w->why, "%s", why);
    w->done = true;
    w->lost = lost;
    tarmac_blocking_unpark(&w->park);
  }
  if (p->conn != NULL) {
    tarmac_blocking_unwatch(p->domain, p->conn->fd);
    redisFree(p->conn);
  }
  p->conn = NULL;
  p->head = p->tail = 0;
  p->broken = p->out_watched = false;
}

/* Writes what it can of the output buffer; watches POLLOUT while some is
 * left. 0, or -1 (c->err set, or the watch failed). Lock held. */
static int write_some(redis_pipe_t *p) {
  int done = 0;
  if (redisBufferWrite(p->conn, &done) != REDIS_OK) return -1;
  if (!done == p->out_watched) return 0;
  uint32_t events = done ? POLLIN : POLLIN | POLLOUT;
  if (tarmac_blocking_watch(p->domain, p->conn->fd, events, &p->watch) != 0)
    return -1;
  p->out_watched = !done;
  return 0;
}

/* Hands every complete reply to its waiter, in order. false with *why on a
 * protocol error or a reply nobody asked for. Lock held; driver. */
static bool hand_out(redis_pipe_t *p, const char **why) {
  for (;;) {
    void *reply = NULL;
    if (redisGetReplyFromReader(p->conn, &reply) != REDIS_OK)
      return *why = "protocol error", false;
    if (reply == NULL) return true;
    if (p->head == p->tail) {
      freeReplyObject(reply);
      return *why = "a reply nobody asked for", false;
    }
    pipe_waiter_t *w = p->slots[p->head % PIPE_SLOTS];
    p->slots[p->head % PIPE_SLOTS] = NULL;
    p->head++;
    if (w == NULL) { /* its waiter left (its time ran out) */
      freeReplyObject(reply);
      continue;
    }
    w->reply = reply;
    w->done = true;
    tarmac_blocking_unpark(&w->park);
  }
}

/* Reads what the socket has (at most PIPE_READS_MAX chunks: the rest
 * fires again) and hands the replies out. false with *why. */
static bool read_replies(redis_pipe_t *p, const char **why) {
  char buf[PIPE_READ_CHUNK];
  for (int i = 0; i < PIPE_READS_MAX; i++) {
    ssize_t n = read(p->conn->fd, buf, sizeof buf);
    if (n == 0) return *why = "connection closed", false;
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return true;
    if (n < 0) return *why = strerror(errno), false;
    if (redisReaderFeed(p->conn->reader, buf, (size_t)n) != REDIS_OK)
      return *why = "out of memory", false;
    if (!hand_out(p, why)) return false;
    if ((size_t)n < sizeof buf) return true; /* drained: no EAGAIN read */
  }
  return true;
}

static void on_ready(tarmac_blocking_watch_t *watch, uint32_t events) {
  redis_pipe_t *p = (redis_pipe_t *)(void *)((char *)watch -
                                             offsetof(redis_pipe_t, watch));
  pthread_mutex_lock(&p->lock);
  const char *why = NULL;
  if (p->conn != NULL) {
    bool ok = !(events & POLLOUT) || write_some(p) == 0;
    if (!ok) why = p->conn->err ? p->conn->errstr : "write failed";
    if (ok && (events & (POLLIN | POLLERR | POLLHUP)))
      ok = read_replies(p, &why);
    if (!ok) fail_all(p, why);
  }
  pthread_mutex_unlock(&p->lock);
}

/* The deferred task: what the guests of the pass appended, in one write. */
static void on_flush(tarmac_blocking_task_t *task) {
  redis_pipe_t *p = (redis_pipe_t *)(void *)((char *)task -
                                             offsetof(redis_pipe_t, flush));
  pthread_mutex_lock(&p->lock);
  if (p->conn != NULL && !p->broken && write_some(p) != 0)
    fail_all(p, p->conn->err ? p->conn->errstr : "write failed");
  pthread_mutex_unlock(&p->lock);
}

/* ---- a guest's side ----------------------------------------------------- */

/* Off the driver (a guest whose loop was taken over): the driver alone
 * closes and unparks, so a failure here only shuts the socket down (its
 * watch then sees the end). Lock held. */
static void break_connection(redis_pipe_t *p) {
  if (p->conn == NULL || p->broken) return;
  p->broken = true;
  shutdown(p->conn->fd, SHUT_RDWR);
}

static redis_pipe_t *pipe_new(redis_store_t *r, void *domain) {
  redis_pipe_t *p = calloc(1, sizeof *p);
  if (p == NULL) return NULL;
  if (pthread_mutex_init(&p->lock, NULL) != 0) {
    free(p);
    return NULL;
  }
  p->store = r;
  p->domain = domain;
  p->watch.ready = on_ready;
  p->flush.run = on_flush;
  return p;
}

/* The pipe of loop `index` (made on first use); NULL: use the pool. */
static redis_pipe_t *pipe_of(redis_store_t *r, void *domain, unsigned index) {
  if (index >= REDIS_PIPES_MAX) return NULL;
  redis_pipe_t *p = atomic_load(&r->pipes[index]);
  if (p != NULL) return p;
  pthread_mutex_lock(&r->mutex);
  p = atomic_load(&r->pipes[index]);
  if (p == NULL && (p = pipe_new(r, domain)) != NULL)
    atomic_store(&r->pipes[index], p);
  pthread_mutex_unlock(&r->mutex);
  return p;
}

/* Connects (lock held on entry and on return; released meanwhile: the
 * connect may suspend the guest, and other guests of the loop use the
 * pool while `connecting`). 0, or -1 with err. */
static int pipe_connect(redis_pipe_t *p, char *err, size_t err_size) {
  p->connecting = true;
  pthread_mutex_unlock(&p->lock);
  redisContext *c = tarmac_redis_connect(p->store, err, err_size);
  pthread_mutex_lock(&p->lock);
  p->connecting = false;
  if (c == NULL) return -1;
  if (tarmac_blocking_watch(p->domain, c->fd, POLLIN, &p->watch) != 0) {
    snprintf(err, err_size, "redis: cannot watch the connection: %s",
             strerror(errno));
    redisFree(c);
    return -1;
  }
  p->conn = c;
  p->out_watched = false;
  return 0;
}

/* Whether the pipe takes a command now (lock held). A pipe left by the
 * loop of an earlier server (same number) is taken over once idle. */
static bool pipe_open_to(redis_pipe_t *p, void *domain) {
  if (p->domain != domain) {
    if (p->head != p->tail || p->connecting) return false;
    if (p->conn != NULL) redisFree(p->conn); /* its loop is gone */
    p->conn = NULL;
    p->flush.queued = false; /* on the gone loop's list, never run */
    p->broken = p->out_watched = false;
    p->domain = domain;
  }
  return !p->connecting && !p->broken && p->tail - p->head < PIPE_SLOTS &&
         (p->conn == NULL || sdslen(p->conn->obuf) <= PIPE_OBUF_MAX);
}

/* Appends the command and takes a slot for w. 1: queued; 0: declined (use
 * the pool); -1: failed with err. */
static int enqueue(redis_pipe_t *p, void *domain, pipe_waiter_t *w, int argc,
                   const char **argv, const size_t *lens, char *err,
                   size_t err_size) {
  int rc = 0;
  pthread_mutex_lock(&p->lock);
  if (!pipe_open_to(p, domain)) goto out;
  rc = -1;
  if (p->conn == NULL && pipe_connect(p, err, err_size) != 0) goto out;
  if (p->broken) { /* broken while this guest connected */
    rc = 0;
    goto out;
  }
  if (redisAppendCommandArgv(p->conn, argc, argv, lens) != REDIS_OK) {
    snprintf(err, err_size, "redis: out of memory");
    break_connection(p); /* the buffer may hold half a command */
    goto out;
  }
  w->seq = p->tail++;
  p->slots[w->seq % PIPE_SLOTS] = w;
  rc = 1;
out:
  pthread_mutex_unlock(&p->lock);
  return rc;
}

/* Off the driver: writes the command itself (non-blocking; what is left
 * goes out when the driver's watch sees POLLOUT). */
static void flush_here(redis_pipe_t *p) {
  pthread_mutex_lock(&p->lock);
  if (p->conn != NULL && !p->broken && write_some(p) != 0)
    break_connection(p);
  pthread_mutex_unlock(&p->lock);
}

/* After the park: w's reply or failure, or w leaves its slot. A waiter
 * that waited its whole read timeout (not cut short by its deadline) takes
 * the server for stuck and breaks the connection. */
static void collect(redis_pipe_t *p, pipe_waiter_t *w, uint64_t until,
                    bool full_timeout) {
  pthread_mutex_lock(&p->lock);
  if (!w->done) {
    if (w->seq >= p->head && w->seq < p->tail &&
        p->slots[w->seq % PIPE_SLOTS] == w)
      p->slots[w->seq % PIPE_SLOTS] = NULL;
    snprintf(w->why, sizeof w->why, "%s",
             tarmac_rt_deadline_expired() ? "the call's deadline passed"
                                          : "read timed out");
    if (full_timeout && tarmac_clock_ns() >= until) break_connection(p);
  }
  pthread_mutex_unlock(&p->lock);
}

/* Sends the command on its way: deferred to the driver's end of pass, or
 * written at once off the driver (the loop was taken over). */
static void send_queued(redis_pipe_t *p, void *domain) {
  unsigned index;
  if (tarmac_blocking_domain(&index) != domain ||
      !tarmac_blocking_defer(domain, &p->flush))
    flush_here(p);
}

/* The waiter's outcome: its reply, or NULL with err (and *use_pool when
 * the pool may retry it). */
static redisReply *outcome(redis_store_t *r, pipe_waiter_t *w,
                           const char *cmd, bool *use_pool, char *err,
                           size_t err_size) {
  if (w->reply != NULL) {
    tarmac_reachability_report(r->reach, true);
    return w->reply;
  }
  snprintf(err, err_size, "redis %s:%d %s: %s", r->host, r->port, cmd,
           w->why);
  if (tarmac_rt_deadline_expired()) return NULL;
  /* a connection that failed under a command (a server restart) is
   * retried once on the pool, as the pool retries a reused connection */
  *use_pool = w->lost;
  if (!w->lost) tarmac_reachability_report(r->reach, false);
  return NULL;
}

redisReply *tarmac_redis_pipe_command(redis_store_t *r, int argc,
                                      const char **argv, const size_t *lens,
                                      bool *use_pool, char *err,
                                      size_t err_size) {
  unsigned index;
  void *domain = tarmac_blocking_domain(&index);
  redis_pipe_t *p = domain != NULL ? pipe_of(r, domain, index) : NULL;
  *use_pool = true;
  if (p == NULL) return NULL;
  pipe_waiter_t w = {.reply = NULL};
  tarmac_blocking_parking_init(&w.park);
  int rc = enqueue(p, domain, &w, argc, argv, lens, err, err_size);
  *use_pool = rc == 0;
  redisReply *reply = NULL;
  if (rc == 1) {
    send_queued(p, domain);
    uint64_t now = tarmac_clock_ns();
    uint64_t full = now + r->read_ms * NS_PER_MS;
    uint64_t until = tarmac_rt_deadline_bound(full);
    tarmac_blocking_park(&w.park, until);
    collect(p, &w, until, until == full);
    reply = outcome(r, &w, argv[0], use_pool, err, err_size);
  } else if (rc < 0 && !tarmac_rt_deadline_expired()) {
    tarmac_reachability_report(r->reach, false);
  }
  tarmac_blocking_parking_destroy(&w.park);
  return reply;
}

void tarmac_redis_pipes_free(redis_store_t *r) {
  for (size_t i = 0; i < REDIS_PIPES_MAX; i++) {
    redis_pipe_t *p = atomic_load(&r->pipes[i]);
    if (p == NULL) continue;
    if (p->conn != NULL) redisFree(p->conn); /* the kernel drops its watch */
    pthread_mutex_destroy(&p->lock);
    free(p);
  }
}
