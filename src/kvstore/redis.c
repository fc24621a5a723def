/* kvstore/redis: a bounded pool of blocking hiredis connections.
 *
 * A guest thread takes an idle connection, or opens one while fewer than
 * pool_size exist, or waits for one to come back (until its deadline).
 * Every wait (pool, connect, round trip) is bracketed by
 * tarmac_blocking_begin/end and bounded by the configured timeout and the
 * guest's deadline (round trips poll the socket: see wait_ready). A connection that fails is dropped (the next call
 * reconnects); a reused connection that fails is retried once on a fresh
 * one, since a server restart breaks every pooled connection and GET, SET,
 * DEL and SCAN may safely be sent twice. Reachability follows the last
 * outcome of a call or of the background PING (every check_interval_ms on
 * its own connection; util/reachability.h), so /ready needs no round
 * trip. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kvstore/redis_internal.h"
#include "runtime/deadline.h"
#include "util/blocking.h"
#include "util/clock.h"
#include "util/reachability.h"

#define SCAN_COUNT "1000"  /* keys Redis looks at per SCAN round */
#define SCAN_ROUNDS_MAX 10000 /* bounded work even in a sparse keyspace */
#define NS_PER_MS 1000000ull
/* How long a looked-up address of APP_REDIS_SERVER is reused before the
 * name is looked up again (and after any failed connect, at once). */
#define RESOLVE_TTL_MS 10000


static struct timeval to_timeval(uint64_t ns) {
  struct timeval tv = {(time_t)(ns / 1000000000ull),
                       (suseconds_t)(ns % 1000000000ull / 1000)};
  if (tv.tv_sec == 0 && tv.tv_usec == 0) tv.tv_usec = 1; /* 0 = forever */
  return tv;
}

static struct timespec to_timespec(uint64_t ns) {
  struct timespec ts = {(time_t)(ns / 1000000000ull),
                        (long)(ns % 1000000000ull)};
  return ts;
}

/* ns left of `ms` from now, cut at the guest's deadline; 0: none left. */
static uint64_t time_left(unsigned ms) {
  uint64_t now = tarmac_clock_ns();
  uint64_t until = tarmac_rt_deadline_bound(now + ms * NS_PER_MS);
  return until > now ? until - now : 0;
}

/* Waits until fd is ready for `events` or until_ns (cut at the deadline)
 * has passed: on a fiber of an event loop suspended, so the loop's thread
 * goes on; elsewhere with the loop handed on (util/blocking.h). A poll,
 * not socket timeouts: the deadline's signal interrupts a blocking read
 * every millisecond once due, and hiredis retries reads interrupted that
 * way, so a socket timeout would never expire. */
static bool wait_ready(int fd, short events, uint64_t until_ns) {
  return tarmac_blocking_wait(fd, events, until_ns) > 0;
}

/* Writes what is left of the queued command. false with *why: timed out
 * (or the connection failed: c->err). */
static bool write_rest(redis_store_t *r, redisContext *c, const char **why) {
  uint64_t until = tarmac_rt_deadline_bound(tarmac_clock_ns() +
                                            r->write_ms * NS_PER_MS);
  int done = 0;
  while (redisBufferWrite(c, &done) == REDIS_OK && !done)
    if (!wait_ready(c->fd, POLLOUT, until))
      return *why = "write timed out", false;
  return done;
}

/* Reads until a whole reply is in; NULL with *why or c->err. */
static redisReply *read_reply(redis_store_t *r, redisContext *c,
                              const char **why) {
  uint64_t until = tarmac_rt_deadline_bound(tarmac_clock_ns() +
                                            r->read_ms * NS_PER_MS);
  void *reply = NULL;
  for (;;) {
    if (redisGetReplyFromReader(c, &reply) != REDIS_OK) return NULL;
    if (reply) return reply;
    if (!wait_ready(c->fd, POLLIN, until)) return *why = "read timed out", NULL;
    if (redisBufferRead(c) != REDIS_OK) return NULL;
  }
}

/* Writes the queued command, then reads its reply. The first write goes
 * out before any wait and without a poll: a command almost always fits in
 * the socket's buffer (a poll before it would be one system call more per
 * round trip), it does not block (a non-blocking socket), and a thread
 * that takes the loop over, woken before a wait off a fiber, may preempt
 * this one on its core, which would otherwise delay the command by that
 * switch. Only the waits (wait_ready) suspend or hand the loop on. */
static redisReply *exchange(redis_store_t *r, redisContext *c,
                            const char **why) {
  int done = 0;
  if (redisBufferWrite(c, &done) != REDIS_OK) return NULL;
  return done || write_rest(r, c, why) ? read_reply(r, c, why) : NULL;
}

/* Sends one command and reads its reply; NULL with err: the connection
 * failed or timed out (the caller drops it). */
static redisReply *round_trip(redis_store_t *r, redisContext *c, int argc,
                              const char **argv, const size_t *lens,
                              char *err, size_t err_size) {
  const char *why = "out of memory";
  redisReply *reply = NULL;
  if (redisAppendCommandArgv(c, argc, argv, lens) == REDIS_OK)
    reply = exchange(r, c, &why);
  if (!reply)
    snprintf(err, err_size, "redis %s:%d %s: %s", r->host, r->port, argv[0],
             c->err ? c->errstr
             : tarmac_rt_deadline_expired() ? "the call's deadline passed"
                                            : why);
  return reply;
}

/* Runs a setup command (AUTH, SELECT); 0 or -1 with err. */
static int setup_command(redis_store_t *r, redisContext *c, int argc,
                         const char **argv, char *err, size_t err_size) {
  redisReply *reply = round_trip(r, c, argc, argv, NULL, err, err_size);
  int rc = reply && reply->type != REDIS_REPLY_ERROR ? 0 : -1;
  if (reply && rc != 0)
    snprintf(err, err_size, "redis %s:%d %s: %s", r->host, r->port, argv[0],
             reply->str);
  if (reply) freeReplyObject(reply);
  return rc;
}

/* A connection to the first of the host's addresses that answers, within
 * `until` (the connect timeout cut at the deadline). A failure forgets the
 * addresses, so the next connect looks the name up again (the server may
 * have moved). */
static redisContext *connect_any(redis_store_t *r, const tarmac_resolved_t *a,
                                 uint64_t until, char *err, size_t err_size) {
  for (size_t i = 0; i < a->count; i++) {
    uint64_t now = tarmac_clock_ns();
    if (now >= until) {
      snprintf(err, err_size, "redis %s:%d: connect timed out", r->host,
               r->port);
      break;
    }
    redisContext *c =
        redisConnectWithTimeout(a->addr[i], r->port, to_timeval(until - now));
    if (c && !c->err) return c;
    bool named = strcmp(a->addr[i], r->host) != 0;
    snprintf(err, err_size, "redis %s:%d%s%s%s: %s", r->host, r->port,
             named ? " (" : "", named ? a->addr[i] : "", named ? ")" : "",
             c ? c->errstr : "out of memory");
    if (c) redisFree(c);
  }
  tarmac_resolver_forget(r->resolver);
  return NULL;
}

/* Resolves the host (hiredis would call getaddrinfo, which has no timeout)
 * and connects, both within the connect timeout. */
static redisContext *open_socket(redis_store_t *r, char *err,
                                 size_t err_size) {
  uint64_t left = time_left(r->connect_ms);
  if (left == 0) return snprintf(err, err_size, "deadline passed"), NULL;
  uint64_t until = tarmac_clock_ns() + left;
  char why[TARMAC_KV_ERR_MAX];
  tarmac_resolved_t addrs;
  redisContext *c = NULL;
  tarmac_blocking_begin();
  if (tarmac_resolver_get(r->resolver, until, &addrs, why, sizeof why) == 0)
    c = connect_any(r, &addrs, until, err, err_size);
  else
    snprintf(err, err_size, "redis %s:%d: %s", r->host, r->port,
             tarmac_rt_deadline_expired() ? "the call's deadline passed"
                                          : why);
  tarmac_blocking_end();
  return c;
}

redisContext *tarmac_redis_connect(redis_store_t *r, char *err,
                                   size_t err_size) {
  redisContext *c = open_socket(r, err, err_size);
  if (!c) return NULL;
  /* From here on I/O is driven by poll (exchange): a non-blocking socket,
   * and hiredis told so, so a full send buffer never blocks a write. */
  int fl = fcntl(c->fd, F_GETFL);
  if (fl == -1 || fcntl(c->fd, F_SETFL, fl | O_NONBLOCK) == -1) {
    snprintf(err, err_size, "redis %s:%d: fcntl: %s", r->host, r->port,
             strerror(errno));
    redisFree(c);
    return NULL;
  }
  c->flags &= ~REDIS_BLOCK;
  char db[16];
  snprintf(db, sizeof db, "%u", r->database);
  const char *auth[] = {"AUTH", r->password}, *select[] = {"SELECT", db};
  if ((r->password[0] &&
       setup_command(r, c, 2, auth, err, err_size) != 0) ||
      (r->database && setup_command(r, c, 2, select, err, err_size) != 0)) {
    redisFree(c);
    return NULL;
  }
  return c;
}

static bool pool_full(const redis_store_t *r) {
  return r->idle_count == 0 && r->open_count >= r->pool_size;
}

/* Takes an idle connection or the right to open one (*c NULL), waiting
 * until the deadline. 0, or -1 with err (the pool stayed busy). The
 * blocking hook runs outside the pool's mutex. */
static int pool_take(redis_store_t *r, redisContext **c, char *err,
                     size_t err_size) {
  uint64_t now = tarmac_clock_ns();
  struct timespec until = to_timespec(
      tarmac_rt_deadline_bound(now + r->read_ms * NS_PER_MS));
  int rc = 0;
  bool waited = false;
  *c = NULL;
  pthread_mutex_lock(&r->mutex);
  if (pool_full(r)) {
    pthread_mutex_unlock(&r->mutex);
    tarmac_blocking_begin();
    waited = true;
    pthread_mutex_lock(&r->mutex);
    while (rc == 0 && pool_full(r))
      rc = pthread_cond_timedwait(&r->returned, &r->mutex, &until);
  }
  if (r->idle_count > 0) {
    *c = r->idle[--r->idle_count];
    rc = 0;
  } else if (r->open_count < r->pool_size) {
    r->open_count++;
    rc = 0;
  }
  pthread_mutex_unlock(&r->mutex);
  if (waited) tarmac_blocking_end();
  if (rc != 0)
    snprintf(err, err_size, "redis: all %zu connections stayed busy",
             r->pool_size);
  return rc == 0 ? 0 : -1;
}

/* Gives a connection back (c NULL or broken: its slot frees up). */
static void pool_give(redis_store_t *r, redisContext *c, bool healthy) {
  if (c && !healthy) redisFree(c);
  pthread_mutex_lock(&r->mutex);
  if (c && healthy)
    r->idle[r->idle_count++] = c;
  else
    r->open_count--;
  pthread_cond_signal(&r->returned);
  pthread_mutex_unlock(&r->mutex);
}

/* One command on a pooled connection; NULL with err on failure. */
static redisReply *pool_command(redis_store_t *r, int argc, const char **argv,
                                const size_t *lens, char *err,
                                size_t err_size) {
  for (int attempt = 0; attempt < 2; attempt++) {
    redisContext *c;
    if (pool_take(r, &c, err, err_size) != 0) return NULL;
    bool fresh = c == NULL;
    if (fresh && !(c = tarmac_redis_connect(r, err, err_size))) {
      pool_give(r, NULL, false);
      break;
    }
    redisReply *reply = round_trip(r, c, argc, argv, lens, err, err_size);
    if (reply) {
      pool_give(r, c, true);
      tarmac_reachability_report(r->reach, true);
      return reply;
    }
    pool_give(r, c, false);
    if (fresh || tarmac_rt_deadline_expired()) break;
  }
  if (!tarmac_rt_deadline_expired()) tarmac_reachability_report(r->reach, false);
  return NULL;
}

/* One command: on the caller's event loop's pipelined connection, or on a
 * pooled one (off a loop, or when the pipe cannot take it). */
static redisReply *command(redis_store_t *r, int argc, const char **argv,
                           const size_t *lens, char *err, size_t err_size) {
  bool use_pool = false;
  redisReply *reply = tarmac_redis_pipe_command(r, argc, argv, lens,
                                                &use_pool, err, err_size);
  if (reply != NULL || !use_pool) return reply;
  return pool_command(r, argc, argv, lens, err, err_size);
}

static tarmac_kv_result_t reply_error(redisReply *reply, char *err,
                                      size_t err_size) {
  snprintf(err, err_size, "redis: %s",
           reply->type == REDIS_REPLY_ERROR ? reply->str : "unexpected reply");
  freeReplyObject(reply);
  return TARMAC_KV_ERROR;
}

static tarmac_kv_result_t redis_get(tarmac_kvstore_t *base, const char *key,
                                    size_t key_len, tarmac_buffer_t *value,
                                    char *err, size_t err_size) {
  const char *argv[] = {"GET", key};
  size_t lens[] = {3, key_len};
  redisReply *reply = command((redis_store_t *)base, 2, argv, lens, err,
                              err_size);
  if (!reply) return TARMAC_KV_ERROR;
  if (reply->type == REDIS_REPLY_NIL) {
    freeReplyObject(reply);
    return TARMAC_KV_NOT_FOUND;
  }
  if (reply->type != REDIS_REPLY_STRING) return reply_error(reply, err, err_size);
  int rc = tarmac_buffer_append(value, reply->str, reply->len);
  freeReplyObject(reply);
  if (rc != 0) return snprintf(err, err_size, "out of memory"), TARMAC_KV_ERROR;
  return TARMAC_KV_OK;
}

static tarmac_kv_result_t redis_set(tarmac_kvstore_t *base, const char *key,
                                    size_t key_len, const uint8_t *data,
                                    size_t len, char *err, size_t err_size) {
  const char *argv[] = {"SET", key, len ? (const char *)data : ""};
  size_t lens[] = {3, key_len, len};
  redisReply *reply = command((redis_store_t *)base, 3, argv, lens, err,
                              err_size);
  if (!reply) return TARMAC_KV_ERROR;
  if (reply->type != REDIS_REPLY_STATUS) return reply_error(reply, err, err_size);
  freeReplyObject(reply);
  return TARMAC_KV_OK;
}

static tarmac_kv_result_t redis_del(tarmac_kvstore_t *base, const char *key,
                                    size_t key_len, char *err,
                                    size_t err_size) {
  const char *argv[] = {"DEL", key};
  size_t lens[] = {3, key_len};
  redisReply *reply = command((redis_store_t *)base, 2, argv, lens, err,
                              err_size);
  if (!reply) return TARMAC_KV_ERROR;
  if (reply->type != REDIS_REPLY_INTEGER) return reply_error(reply, err, err_size);
  tarmac_kv_result_t rc = reply->integer > 0 ? TARMAC_KV_OK : TARMAC_KV_NOT_FOUND;
  freeReplyObject(reply);
  return rc;
}

/* One SCAN round: hands its keys to fn and the next cursor to `cursor`. */
static tarmac_kv_result_t scan_round(redis_store_t *r, char *cursor,
                                     size_t cursor_size, size_t *n,
                                     tarmac_kv_key_fn fn, void *ctx,
                                     char *err, size_t err_size) {
  const char *argv[] = {"SCAN", cursor, "COUNT", SCAN_COUNT};
  redisReply *reply = command(r, 4, argv, NULL, err, err_size);
  if (!reply) return TARMAC_KV_ERROR;
  if (reply->type != REDIS_REPLY_ARRAY || reply->elements != 2 ||
      reply->element[0]->type != REDIS_REPLY_STRING ||
      reply->element[0]->len >= cursor_size ||
      reply->element[1]->type != REDIS_REPLY_ARRAY)
    return reply_error(reply, err, err_size);
  snprintf(cursor, cursor_size, "%s", reply->element[0]->str);
  redisReply *keys = reply->element[1];
  for (size_t i = 0; i < keys->elements && *n < TARMAC_KV_KEYS_MAX; i++) {
    if (keys->element[i]->type != REDIS_REPLY_STRING) continue;
    if (fn(ctx, keys->element[i]->str, keys->element[i]->len) != 0) {
      freeReplyObject(reply);
      return snprintf(err, err_size, "out of memory"), TARMAC_KV_ERROR;
    }
    (*n)++;
  }
  freeReplyObject(reply);
  return TARMAC_KV_OK;
}

static tarmac_kv_result_t redis_keys(tarmac_kvstore_t *base,
                                     tarmac_kv_key_fn fn, void *ctx,
                                     char *err, size_t err_size) {
  char cursor[32] = "0";
  size_t n = 0;
  for (int round = 0; round < SCAN_ROUNDS_MAX; round++) {
    tarmac_kv_result_t rc = scan_round((redis_store_t *)base, cursor,
                                       sizeof cursor, &n, fn, ctx, err,
                                       err_size);
    if (rc != TARMAC_KV_OK) return rc;
    if (strcmp(cursor, "0") == 0 || n >= TARMAC_KV_KEYS_MAX) break;
  }
  return TARMAC_KV_OK;
}

static bool redis_reachable(const tarmac_kvstore_t *base) {
  return tarmac_reachability_ok(((const redis_store_t *)base)->reach);
}

/* The reachability probe (its thread only, or the opener's before the
 * thread starts): PING on the probe's own connection, reconnecting when
 * it has none. */
static bool probe(void *data) {
  redis_store_t *r = data;
  char err[TARMAC_KV_ERR_MAX];
  if (!r->check_conn) r->check_conn = tarmac_redis_connect(r, err, sizeof err);
  const char *argv[] = {"PING"};
  redisReply *reply = r->check_conn ? round_trip(r, r->check_conn, 1, argv,
                                                 NULL, err, sizeof err)
                                    : NULL;
  bool ok = reply && reply->type != REDIS_REPLY_ERROR;
  if (reply) freeReplyObject(reply);
  if (!ok && r->check_conn) {
    redisFree(r->check_conn);
    r->check_conn = NULL;
  }
  return ok;
}

/* What a store holds once its probing thread is gone (or never started):
 * the probe's connection, the pool's synchronisation, the memory. */
static void release_store(redis_store_t *r) {
  if (r->check_conn) redisFree(r->check_conn);
  tarmac_resolver_free(r->resolver);
  pthread_cond_destroy(&r->returned);
  pthread_mutex_destroy(&r->mutex);
  free(r->idle);
  free(r->password);
  free(r);
}

static void redis_free(tarmac_kvstore_t *base) {
  redis_store_t *r = (redis_store_t *)base;
  tarmac_reachability_stop(r->reach); /* before its connection goes */
  for (size_t i = 0; i < r->idle_count; i++) redisFree(r->idle[i]);
  tarmac_redis_pipes_free(r);
  release_store(r);
}

static const tarmac_kvstore_ops_t redis_ops = {
    redis_get, redis_set, redis_del, redis_keys, redis_reachable, redis_free,
};

/* host:port or [v6]:port into r->host and r->port. */
static int parse_address(redis_store_t *r, const char *addr, char *err,
                         size_t err_size) {
  const char *colon = strrchr(addr, ':');
  const char *host = addr;
  size_t host_len = colon ? (size_t)(colon - addr) : 0;
  if (host_len >= 2 && host[0] == '[' && host[host_len - 1] == ']')
    host++, host_len -= 2;
  char *end = NULL;
  long port = colon ? strtol(colon + 1, &end, 10) : 0;
  if (!colon || host_len == 0 || host_len >= sizeof r->host || !end ||
      *end != '\0' || colon[1] < '0' || colon[1] > '9' || port < 1 ||
      port > 65535) {
    snprintf(err, err_size,
             "APP_REDIS_SERVER=%s is not host:port (e.g. localhost:6379)",
             addr);
    return -1;
  }
  memcpy(r->host, host, host_len);
  r->host[host_len] = '\0';
  r->port = (int)port;
  return 0;
}

static int init_sync(redis_store_t *r) {
  pthread_condattr_t attr;
  if (pthread_condattr_init(&attr) != 0) return -1;
  int rc = pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
  if (rc == 0) rc = pthread_cond_init(&r->returned, &attr);
  pthread_condattr_destroy(&attr);
  if (rc == 0 && (rc = pthread_mutex_init(&r->mutex, NULL)) != 0)
    pthread_cond_destroy(&r->returned);
  return rc == 0 ? 0 : -1;
}

tarmac_kvstore_t *tarmac_kvstore_redis_new(const tarmac_kvstore_config_t *c,
                                           char *err, size_t err_size) {
  redis_store_t *r = calloc(1, sizeof *r);
  if (!r) return snprintf(err, err_size, "out of memory"), NULL;
  r->base.ops = &redis_ops;
  if (parse_address(r, c->redis_server, err, err_size) != 0) {
    free(r);
    return NULL;
  }
  r->database = c->redis_database;
  r->connect_ms = c->connect_timeout_ms;
  r->read_ms = c->read_timeout_ms;
  r->write_ms = c->write_timeout_ms;
  r->pool_size = c->pool_size ? c->pool_size : 1;
  r->password = strdup(c->redis_password ? c->redis_password : "");
  r->idle = calloc(r->pool_size, sizeof *r->idle);
  r->resolver = tarmac_resolver_new(r->host, c->redis_resolve, RESOLVE_TTL_MS);
  if (!r->password || !r->idle || !r->resolver || init_sync(r) != 0) {
    free(r->password);
    free(r->idle);
    tarmac_resolver_free(r->resolver);
    free(r);
    return snprintf(err, err_size, "out of memory"), NULL;
  }
  /* the first PING here: /ready and `tarmac call` are right at once */
  r->reach = tarmac_reachability_start(
      c->check_interval_ms ? c->check_interval_ms : 1000, true, probe, r);
  if (r->reach == NULL) {
    snprintf(err, err_size, "cannot start the redis reachability check");
    release_store(r);
    return NULL;
  }
  return &r->base;
}
