/* metrics/shard: per-thread shards. A thread keeps, in thread-local
 * storage, the list of (registry id, shard) pairs it uses plus the last
 * one looked up; a pthread key's destructor releases the shards when the
 * thread exits. The key and the id counter are process-wide by nature
 * (thread-local storage is); everything else lives in the registry. */
#include <stdlib.h>
#include <string.h>

#include "metrics/metrics_internal.h"

typedef struct {
  uint64_t registry_id;
  metrics_shard_t *shard;
} thread_entry_t;

typedef struct {
  thread_entry_t *entries;
  size_t count, cap;
  thread_entry_t last; /* the last lookup: the hot path's one compare */
} thread_shards_t;

static _Thread_local thread_shards_t *thread_shards;
static pthread_key_t thread_key;
static pthread_once_t thread_key_once = PTHREAD_ONCE_INIT;
static int thread_key_error;

static void shard_free(metrics_shard_t *shard) {
  for (size_t i = 0; i < METRICS_CHUNKS; i++)
    free(atomic_load_explicit(&shard->chunks[i], memory_order_relaxed));
  free(shard);
}

/* Drops one reference; the last one frees. */
static void shard_unref(metrics_shard_t *shard) {
  if (atomic_fetch_sub_explicit(&shard->refs, 1, memory_order_acq_rel) == 1)
    shard_free(shard);
}

/* The thread's side of letting go: the registry may hand the shard to
 * another thread afterwards (release: our writes come first). */
static void shard_leave(metrics_shard_t *shard) {
  atomic_store_explicit(&shard->in_use, false, memory_order_release);
  shard_unref(shard);
}

static void thread_exit(void *value) {
  thread_shards_t *ts = value;
  for (size_t i = 0; i < ts->count; i++) shard_leave(ts->entries[i].shard);
  free(ts->entries);
  free(ts);
  thread_shards = NULL;
}

static void make_thread_key(void) {
  thread_key_error = pthread_key_create(&thread_key, thread_exit);
}

static thread_shards_t *thread_state(void) {
  if (thread_shards) return thread_shards;
  if (pthread_once(&thread_key_once, make_thread_key) != 0 ||
      thread_key_error != 0)
    return NULL;
  thread_shards_t *ts = calloc(1, sizeof *ts);
  if (!ts) return NULL;
  if (pthread_setspecific(thread_key, ts) != 0) {
    free(ts);
    return NULL;
  }
  thread_shards = ts;
  return ts;
}

/* A released shard of m, or a new one; with m's mutex held. */
static metrics_shard_t *claim_shard(tarmac_metrics_t *m) {
  for (metrics_shard_t *s = m->shards; s; s = s->next)
    if (!atomic_load_explicit(&s->in_use, memory_order_acquire)) {
      atomic_store_explicit(&s->in_use, true, memory_order_relaxed);
      atomic_fetch_add_explicit(&s->refs, 1, memory_order_relaxed);
      return s;
    }
  metrics_shard_t *s = calloc(1, sizeof *s);
  if (!s) return NULL;
  for (size_t i = 0; i < METRICS_CHUNKS; i++) atomic_init(&s->chunks[i], NULL);
  atomic_init(&s->in_use, true);
  atomic_init(&s->orphaned, false);
  atomic_init(&s->refs, 2); /* the registry and this thread */
  s->next = m->shards;
  m->shards = s;
  return s;
}

/* Forgets entries whose registry is gone (keeps the list short when
 * registries come and go, as in tests). */
static void prune_orphans(thread_shards_t *ts) {
  size_t kept = 0;
  for (size_t i = 0; i < ts->count; i++) {
    if (atomic_load_explicit(&ts->entries[i].shard->orphaned,
                             memory_order_acquire))
      shard_leave(ts->entries[i].shard);
    else
      ts->entries[kept++] = ts->entries[i];
  }
  ts->count = kept;
  ts->last.registry_id = 0;
}

static metrics_shard_t *register_thread(thread_shards_t *ts,
                                        tarmac_metrics_t *m) {
  prune_orphans(ts);
  if (ts->count == ts->cap) {
    size_t cap = ts->cap ? ts->cap * 2 : 4;
    thread_entry_t *entries = realloc(ts->entries, cap * sizeof *entries);
    if (!entries) return NULL;
    ts->entries = entries;
    ts->cap = cap;
  }
  if (pthread_mutex_lock(&m->mutex) != 0) return NULL;
  metrics_shard_t *shard = claim_shard(m);
  pthread_mutex_unlock(&m->mutex);
  if (!shard) return NULL;
  ts->entries[ts->count++] = (thread_entry_t){m->id, shard};
  return shard;
}

metrics_shard_t *metrics_thread_shard(tarmac_metrics_t *m) {
  thread_shards_t *ts = thread_shards;
  if (ts && ts->last.registry_id == m->id) return ts->last.shard;
  if (!ts && !(ts = thread_state())) return NULL;
  metrics_shard_t *shard = NULL;
  for (size_t i = 0; i < ts->count && !shard; i++)
    if (ts->entries[i].registry_id == m->id) shard = ts->entries[i].shard;
  if (!shard && !(shard = register_thread(ts, m))) return NULL;
  ts->last = (thread_entry_t){m->id, shard};
  return shard;
}

metrics_cell_t *metrics_shard_cell(metrics_shard_t *shard, uint32_t index,
                                   bool owner) {
  size_t chunk_index = index / METRICS_CHUNK_CELLS;
  metrics_cell_t *chunk =
      atomic_load_explicit(&shard->chunks[chunk_index], memory_order_acquire);
  if (!chunk && owner) {
    chunk = calloc(METRICS_CHUNK_CELLS, sizeof *chunk);
    if (!chunk) return NULL;
    for (size_t i = 0; i < METRICS_CHUNK_CELLS; i++) atomic_init(&chunk[i], 0);
    /* only the owner allocates its chunks: a plain release store */
    atomic_store_explicit(&shard->chunks[chunk_index], chunk,
                          memory_order_release);
  }
  return chunk ? &chunk[index % METRICS_CHUNK_CELLS] : NULL;
}

void metrics_shards_release(tarmac_metrics_t *m) {
  for (metrics_shard_t *s = m->shards, *next; s; s = next) {
    next = s->next;
    atomic_store_explicit(&s->orphaned, true, memory_order_release);
    shard_unref(s);
  }
  m->shards = NULL;
}
