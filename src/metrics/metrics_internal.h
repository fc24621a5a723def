/* metrics/metrics_internal: the structures shared by the files of
 * src/metrics (registry, shards, render, process). Not for other modules. */
#ifndef TARMAC_METRICS_INTERNAL_H
#define TARMAC_METRICS_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "metrics/metrics.h"
#include "metrics/table.h"

/* A cell holds a double's bits or a count. */
typedef _Atomic uint64_t metrics_cell_t;

enum {
  METRICS_CHUNK_CELLS = 512,
  METRICS_CHUNKS = TARMAC_METRICS_CELLS_MAX / METRICS_CHUNK_CELLS,
};

/* One thread's cells for one registry. Owned jointly by the registry and
 * the thread using it (refs); freed by whichever lets go last. */
typedef struct metrics_shard {
  _Atomic(metrics_cell_t *) chunks[METRICS_CHUNKS];
  atomic_bool in_use;   /* a live thread owns it */
  atomic_bool orphaned; /* the registry is gone */
  atomic_int refs;
  struct metrics_shard *next; /* the registry's list (under its mutex) */
} metrics_shard_t;

struct tarmac_metric_series {
  metrics_entry_t entry; /* hash of the label values */
  tarmac_metric_family_t *family;
  char **label_values; /* one allocation holding the pointers and text */
  uint32_t cell;       /* first cell index in every shard */
  /* gauges: set() stores base and bumps generation (registry mutex) */
  _Atomic uint64_t gauge_base;
  _Atomic uint64_t generation;
};

struct tarmac_metric_family {
  metrics_entry_t entry; /* hash of the name */
  tarmac_metrics_t *registry;
  tarmac_metric_type_t type;
  char *name;
  char *help;
  char **label_names;
  size_t n_labels;
  double *buckets; /* histograms: finite upper bounds */
  size_t n_buckets;
  uint32_t cells_per_series;
  tarmac_metric_series_t *solo; /* the only series of a label-less family */
  metrics_table_t series_by_labels;
  tarmac_metric_series_t **series; /* creation order (under the mutex) */
  size_t n_series, cap_series;
};

typedef struct {
  tarmac_metrics_collector_fn fn;
  void *data;
} metrics_collector_t;

struct tarmac_metrics {
  uint64_t id; /* unique per registry in the process, never reused */
  pthread_mutex_t mutex;
  metrics_table_t families_by_name;
  tarmac_metric_family_t **families; /* creation order */
  size_t n_families, cap_families;
  uint32_t next_cell;
  metrics_shard_t *shards;
  metrics_collector_t *collectors;
  size_t n_collectors, cap_collectors;
  bool include_process;
};

/* Cell layout of a series: counter 1 (value); gauge 2 (delta,
 * generation); histogram n_buckets + 1 counts (the last is +Inf), then
 * the sum. */
enum { GAUGE_DELTA = 0, GAUGE_GENERATION = 1 };

/* The calling thread's shard of m, registered on first use; NULL when out
 * of memory. Lock-free after the first call per thread and registry. */
metrics_shard_t *metrics_thread_shard(tarmac_metrics_t *m);
/* The cell, allocating its chunk if the shard's owner asks (NULL when it
 * cannot); for readers (owner false) NULL means "never written". */
metrics_cell_t *metrics_shard_cell(metrics_shard_t *shard, uint32_t index,
                                   bool owner);
/* Registry teardown: drops the registry's reference to every shard. */
void metrics_shards_release(tarmac_metrics_t *m);

/* double <-> cell bits */
double metrics_bits_double(uint64_t bits);
uint64_t metrics_double_bits(double v);

/* Render helpers (render.c) used by process.c. */
int metrics_render_header(tarmac_buffer_t *out, const char *name,
                          const char *help, tarmac_metric_type_t type);
int metrics_render_process(tarmac_buffer_t *out);

#endif
