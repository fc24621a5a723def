/* kvstore/redis internals shared by the pool (redis.c) and the pipelined
 * connection per event loop (redis_pipe.c).
 *
 * Ownership: the store owns its pool's idle connections, its
 * reachability check (and that check's connection), and every loop's pipe
 * (created on first use, freed with the store); a pipe owns its
 * connection and lends its FIFO's slots to the waiters of its loop
 * (redis_pipe.c). */
#ifndef TARMAC_KVSTORE_REDIS_INTERNAL_H
#define TARMAC_KVSTORE_REDIS_INTERNAL_H

#include <hiredis/hiredis.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>

#include "kvstore/kvstore_internal.h"
#include "util/reachability.h"
#include "util/resolve.h"

/* Event loops with a pipe of their own; callers on loops numbered beyond
 * use the pool. */
#define REDIS_PIPES_MAX 64

typedef struct redis_pipe redis_pipe_t;

typedef struct {
  tarmac_kvstore_t base;
  char host[256];
  int port;
  char *password; /* "" = no AUTH */
  unsigned database, connect_ms, read_ms, write_ms;
  pthread_mutex_t mutex;
  pthread_cond_t returned; /* CLOCK_MONOTONIC: a connection came back */
  redisContext **idle;     /* pool_size slots */
  size_t idle_count, open_count, pool_size;
  tarmac_reachability_t *reach; /* owned: the background PING's thread */
  redisContext *check_conn; /* the PING's own (that thread's only) */
  tarmac_resolver_t *resolver; /* host's addresses, looked up with a bound */
  /* per event loop (its domain index), made on first use under mutex */
  _Atomic(redis_pipe_t *) pipes[REDIS_PIPES_MAX];
} redis_store_t;

/* redis.c: a connected, set-up connection (AUTH, SELECT), non-blocking;
 * NULL with err. Waits bracketed as every wait of the store. */
redisContext *tarmac_redis_connect(redis_store_t *r, char *err,
                                   size_t err_size);

/* redis_pipe.c */
/* Runs the command on the shared connection of the caller's event loop.
 * *use_pool is set when the pipe cannot take it (no loop, a full FIFO, a
 * connection being made) or lost it with its connection (a server
 * restart: the pool may retry it once); then NULL. Otherwise the reply,
 * or NULL with err. */
redisReply *tarmac_redis_pipe_command(redis_store_t *r, int argc,
                                      const char **argv, const size_t *lens,
                                      bool *use_pool, char *err,
                                      size_t err_size);
/* Frees every pipe (their loops are gone: no unwatch). */
void tarmac_redis_pipes_free(redis_store_t *r);

#endif
