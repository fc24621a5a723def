/* metrics: a registry of counters, gauges and histograms with label sets,
 * rendered in the Prometheus text exposition format 0.0.4. The registry owns
 * its families, their series and every thread's shard; callers hold
 * borrowed pointers to families and series, valid until
 * tarmac_metrics_free (nothing is ever removed before that).
 *
 * Design (why the request path takes no shared lock and bounces no shared
 * cache line):
 * - Values live in per-thread shards. A shard is an array of 64-bit cells
 *   (in chunks of 512, allocated by the owning thread on first touch), and
 *   every series owns a fixed range of cell indexes, allotted when it is
 *   created. A thread registers one shard per registry on its first update
 *   (under the registry mutex, once) and remembers it in thread-local
 *   storage; afterwards an update is: find the shard (a thread-local
 *   compare), then a relaxed load and a relaxed store of the thread's own
 *   cell. Only the owner writes a cell, so no read-modify-write atomic is
 *   needed, and no other thread writes that cache line.
 * - A scrape (render) takes the registry mutex, walks the shards and sums
 *   each series' cells with relaxed loads. Cells are 64-bit atomics, so no
 *   value is torn; a sum taken while threads update is a value the counter
 *   held at some point of each shard's own history (the usual Prometheus
 *   client guarantee: no cross-series snapshot).
 * - A chunk pointer is published by its owner with a release store and
 *   read by the scraper with an acquire load, so the scraper sees the
 *   zeroed chunk, never uninitialised memory.
 * - When a thread exits, its shards are released (in_use cleared with a
 *   release store) and a thread that registers later reuses them (acquire
 *   load under the mutex): the exited thread's counts stay in the sums and
 *   memory stays bounded by the number of threads alive at once.
 * - Gauges are sums of per-thread deltas plus a base: tarmac_metric_set
 *   (not for hot paths: it takes the registry mutex) stores the base and
 *   bumps the series' generation; a shard cell of an older generation is
 *   ignored by the scrape and reset by its owner on its next add (the owner
 *   stores the delta, then the generation with release; the scraper loads
 *   the generation with acquire, then the delta).
 * - Families and series are found by name / label values in insert-only
 *   open-addressing tables read without locks: an entry is fully built
 *   before a release store publishes it in a slot (readers acquire-load);
 *   a table that grows is copied, the copy published with release, and the
 *   old table kept until the registry is freed, so a reader on it stays
 *   safe (and a miss there falls back to the locked path, which rechecks).
 *   Hot paths should still keep the series handle.
 *
 * Default histogram buckets (seconds, for durations):
 *   0.0005 0.001 0.0025 0.005 0.01 0.025 0.05 0.1 0.25 0.5 1 2.5 5 10 30
 * (+Inf is implicit). */
#ifndef TARMAC_METRICS_METRICS_H
#define TARMAC_METRICS_METRICS_H

#include <stddef.h>

#include "util/buffer.h"

typedef enum {
  TARMAC_METRIC_COUNTER,
  TARMAC_METRIC_GAUGE,
  TARMAC_METRIC_HISTOGRAM,
} tarmac_metric_type_t;

/* Bounds: a family name or label name, a label value, labels per family,
 * buckets per histogram, series per family, cells per registry. */
#define TARMAC_METRIC_NAME_MAX 200
#define TARMAC_METRIC_LABEL_VALUE_MAX 1024
#define TARMAC_METRIC_LABELS_MAX 8
#define TARMAC_METRIC_BUCKETS_MAX 64
#define TARMAC_METRIC_SERIES_MAX 100000
#define TARMAC_METRICS_CELLS_MAX (1u << 20)

/* The Content-Type of the exposition, for the /metrics endpoint. */
#define TARMAC_METRICS_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

typedef struct tarmac_metrics tarmac_metrics_t;
typedef struct tarmac_metric_family tarmac_metric_family_t;
typedef struct tarmac_metric_series tarmac_metric_series_t;
typedef struct tarmac_metrics_sink tarmac_metrics_sink_t;

extern const double tarmac_metrics_default_buckets[];
extern const size_t tarmac_metrics_default_buckets_count;

/* A new, empty registry; NULL when out of memory. */
tarmac_metrics_t *tarmac_metrics_new(void);
/* Frees the registry, its families, series and shards. No thread may use
 * it any more (threads that used it may still be alive). NULL is fine. */
void tarmac_metrics_free(tarmac_metrics_t *m);

/* "counter", "gauge" or "histogram". */
const char *tarmac_metric_type_name(tarmac_metric_type_t type);

/* 1 when name matches ^[a-zA-Z_:][a-zA-Z0-9_:]*$ and is at most
 * TARMAC_METRIC_NAME_MAX bytes long, else 0. */
int tarmac_metric_name_valid(const char *name, size_t len);

/* Finds or creates a family. label_names (n_labels, may be NULL when 0)
 * and help are copied. buckets (strictly increasing, finite; NULL for the
 * default) only for histograms. An existing family is returned when type
 * and label names are the same; otherwise NULL with the problem in err
 * (e.g. `metric "x" is a counter, not a gauge`). Takes the registry mutex:
 * call it at start-up, or use tarmac_metrics_find first. */
tarmac_metric_family_t *tarmac_metrics_family(
    tarmac_metrics_t *m, tarmac_metric_type_t type, const char *name,
    const char *help, const char *const *label_names, size_t n_labels,
    const double *buckets, size_t n_buckets, char *err, size_t err_size);

/* The family of that name, or NULL; lock-free. */
tarmac_metric_family_t *tarmac_metrics_find(const tarmac_metrics_t *m,
                                            const char *name, size_t len);
tarmac_metric_type_t tarmac_metric_family_type(
    const tarmac_metric_family_t *family);

/* The series with these label values (one per label name; NULL when the
 * family has none), created on first use. Lock-free when it exists.
 * NULL when out of memory, when a value exceeds
 * TARMAC_METRIC_LABEL_VALUE_MAX, or past TARMAC_METRIC_SERIES_MAX /
 * TARMAC_METRICS_CELLS_MAX. */
tarmac_metric_series_t *tarmac_metric_series(tarmac_metric_family_t *family,
                                             const char *const *label_values);

/* Counter: adds v (v < 0 and NaN are ignored). Gauge: adds v. Lock-free,
 * touches only the calling thread's shard. Ignored for histograms, NULL,
 * or when the thread's shard cannot be allocated. */
void tarmac_metric_add(tarmac_metric_series_t *series, double v);
/* Gauge only: sets the value. Takes the registry mutex. */
void tarmac_metric_set(tarmac_metric_series_t *series, double v);
/* Histogram only: records one observation. Lock-free. */
void tarmac_metric_observe(tarmac_metric_series_t *series, double v);

/* Collectors run at every render, under the registry mutex, and write
 * counters or gauges of their own into the sink (the server reports
 * ready and busy instances this way). A collector must not call the
 * registry's other functions (the mutex is held). 0 or -1 (out of
 * memory). */
typedef void (*tarmac_metrics_collector_fn)(void *data,
                                            tarmac_metrics_sink_t *sink);
int tarmac_metrics_add_collector(tarmac_metrics_t *m,
                                 tarmac_metrics_collector_fn fn, void *data);
/* In a collector: starts a family (writes # HELP and # TYPE; histograms
 * are refused), then its samples. label_names/label_values have n_labels
 * entries. Sink errors (bad name, out of memory) are remembered and make
 * the render fail. */
void tarmac_metrics_sink_family(tarmac_metrics_sink_t *sink,
                                tarmac_metric_type_t type, const char *name,
                                const char *help);
void tarmac_metrics_sink_sample(tarmac_metrics_sink_t *sink,
                                const char *const *label_names,
                                const char *const *label_values,
                                size_t n_labels, double value);

/* Appends the exposition text (format 0.0.4): the registry's families in
 * creation order, the collectors' output, tarmac_build_info and the
 * process_* metrics. 0, or -1 (out of memory or a collector's error). */
int tarmac_metrics_render(const tarmac_metrics_t *m, tarmac_buffer_t *out);

/* Whether render adds tarmac_build_info and process_* (default: yes; tests
 * turn it off to compare exact text). Call before sharing the registry. */
void tarmac_metrics_include_process(tarmac_metrics_t *m, int include);

/* Formats a sample value as Prometheus does: the shortest text that reads
 * back as the same double, "+Inf", "-Inf", "NaN". Appends; 0 or -1. */
int tarmac_metrics_append_value(tarmac_buffer_t *out, double v);

#endif
