/* metrics: the registry, its families and series, and the lock-free
 * updates (metrics.h explains the design). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "metrics/metrics_internal.h"

const double tarmac_metrics_default_buckets[] = {
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
    0.25,   0.5,   1,      2.5,   5,    10,    30};
const size_t tarmac_metrics_default_buckets_count =
    sizeof tarmac_metrics_default_buckets /
    sizeof tarmac_metrics_default_buckets[0];

/* Registry ids start at 1: 0 marks an empty thread-local cache. */
static atomic_uint_fast64_t next_registry_id = 1;

double metrics_bits_double(uint64_t bits) {
  double v;
  memcpy(&v, &bits, sizeof v);
  return v;
}

uint64_t metrics_double_bits(double v) {
  uint64_t bits;
  memcpy(&bits, &v, sizeof bits);
  return bits;
}

const char *tarmac_metric_type_name(tarmac_metric_type_t type) {
  switch (type) {
    case TARMAC_METRIC_COUNTER:
      return "counter";
    case TARMAC_METRIC_GAUGE:
      return "gauge";
    case TARMAC_METRIC_HISTOGRAM:
      return "histogram";
  }
  return "unknown";
}

tarmac_metrics_t *tarmac_metrics_new(void) {
  tarmac_metrics_t *m = calloc(1, sizeof *m);
  if (!m) return NULL;
  if (pthread_mutex_init(&m->mutex, NULL) != 0) {
    free(m);
    return NULL;
  }
  if (metrics_table_init(&m->families_by_name) != 0) {
    pthread_mutex_destroy(&m->mutex);
    free(m);
    return NULL;
  }
  m->id = atomic_fetch_add(&next_registry_id, 1);
  m->include_process = true;
  return m;
}

static void series_free(tarmac_metric_series_t *series) {
  if (!series) return;
  free(series->label_values);
  free(series);
}

static void family_free(tarmac_metric_family_t *f) {
  if (!f) return;
  for (size_t i = 0; i < f->n_series; i++) series_free(f->series[i]);
  free(f->series);
  metrics_table_free(&f->series_by_labels);
  free(f->name);
  free(f->help);
  free(f->label_names);
  free(f->buckets);
  free(f);
}

void tarmac_metrics_free(tarmac_metrics_t *m) {
  if (!m) return;
  metrics_shards_release(m);
  for (size_t i = 0; i < m->n_families; i++) family_free(m->families[i]);
  free(m->families);
  metrics_table_free(&m->families_by_name);
  free(m->collectors);
  pthread_mutex_destroy(&m->mutex);
  free(m);
}

void tarmac_metrics_include_process(tarmac_metrics_t *m, int include) {
  m->include_process = include != 0;
}

int tarmac_metric_name_valid(const char *name, size_t len) {
  if (len == 0 || len > TARMAC_METRIC_NAME_MAX) return 0;
  for (size_t i = 0; i < len; i++) {
    char c = name[i];
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' ||
              c == ':' || (i > 0 && c >= '0' && c <= '9');
    if (!ok) return 0;
  }
  return 1;
}

/* Label names: ^[a-zA-Z_][a-zA-Z0-9_]*$, not reserved ("__" prefix, and
 * "le" in histograms). */
static bool label_name_valid(const char *name, tarmac_metric_type_t type) {
  size_t len = strlen(name);
  if (!tarmac_metric_name_valid(name, len) || strchr(name, ':')) return false;
  if (len >= 2 && name[0] == '_' && name[1] == '_') return false;
  return !(type == TARMAC_METRIC_HISTOGRAM && strcmp(name, "le") == 0);
}

typedef struct {
  const char *name;
  size_t len;
} name_key_t;

static bool family_matches(const metrics_entry_t *entry, const void *key) {
  const tarmac_metric_family_t *f = (const tarmac_metric_family_t *)entry;
  const name_key_t *k = key;
  return strlen(f->name) == k->len && memcmp(f->name, k->name, k->len) == 0;
}

tarmac_metric_family_t *tarmac_metrics_find(const tarmac_metrics_t *m,
                                            const char *name, size_t len) {
  name_key_t key = {name, len};
  return (tarmac_metric_family_t *)metrics_table_find(
      &m->families_by_name, metrics_hash(METRICS_HASH_SEED, name, len),
      family_matches, &key);
}

tarmac_metric_type_t tarmac_metric_family_type(
    const tarmac_metric_family_t *family) {
  return family->type;
}

/* n strings copied into one allocation: the pointer array, then the text.
 * NULL when out of memory. */
static char **copy_strings(const char *const *src, size_t n) {
  size_t total = (n + 1) * sizeof(char *);
  for (size_t i = 0; i < n; i++) total += strlen(src[i]) + 1;
  char **out = malloc(total);
  if (!out) return NULL;
  char *text = (char *)(out + n + 1);
  for (size_t i = 0; i < n; i++) {
    size_t len = strlen(src[i]) + 1;
    memcpy(text, src[i], len);
    out[i] = text;
    text += len;
  }
  out[n] = NULL;
  return out;
}

static bool same_labels(const tarmac_metric_family_t *f,
                        const char *const *label_names, size_t n_labels) {
  if (f->n_labels != n_labels) return false;
  for (size_t i = 0; i < n_labels; i++)
    if (strcmp(f->label_names[i], label_names[i]) != 0) return false;
  return true;
}

/* Why a family of this shape cannot exist; NULL when it can. */
static const char *family_problem(tarmac_metric_type_t type, const char *name,
                                  const char *const *label_names,
                                  size_t n_labels, const double *buckets,
                                  size_t n_buckets) {
  if (!tarmac_metric_name_valid(name, strlen(name)))
    return "name must match ^[a-zA-Z_:][a-zA-Z0-9_:]*$ (at most 200 bytes)";
  if (n_labels > TARMAC_METRIC_LABELS_MAX) return "too many labels";
  for (size_t i = 0; i < n_labels; i++)
    if (!label_name_valid(label_names[i], type)) return "invalid label name";
  if (type != TARMAC_METRIC_HISTOGRAM || !buckets) return NULL;
  if (n_buckets == 0 || n_buckets > TARMAC_METRIC_BUCKETS_MAX)
    return "a histogram needs 1 to 64 buckets";
  for (size_t i = 0; i < n_buckets; i++)
    if (!isfinite(buckets[i]) || (i > 0 && buckets[i] <= buckets[i - 1]))
      return "buckets must be finite and strictly increasing";
  return NULL;
}

static int family_fill(tarmac_metric_family_t *f, const char *name,
                       const char *help, const char *const *label_names,
                       size_t n_labels, const double *buckets,
                       size_t n_buckets) {
  if (!buckets) {
    buckets = tarmac_metrics_default_buckets;
    n_buckets = tarmac_metrics_default_buckets_count;
  }
  f->name = strdup(name);
  f->help = strdup(help ? help : "");
  f->label_names = copy_strings(label_names, n_labels);
  f->n_labels = n_labels;
  if (!f->name || !f->help || !f->label_names) return -1;
  if (metrics_table_init(&f->series_by_labels) != 0) return -1;
  if (f->type == TARMAC_METRIC_HISTOGRAM) {
    f->buckets = malloc(n_buckets * sizeof *f->buckets);
    if (!f->buckets) return -1;
    memcpy(f->buckets, buckets, n_buckets * sizeof *f->buckets);
    f->n_buckets = n_buckets;
    f->cells_per_series = (uint32_t)n_buckets + 2;
  } else {
    f->cells_per_series = f->type == TARMAC_METRIC_GAUGE ? 2 : 1;
  }
  f->entry.hash = metrics_hash(METRICS_HASH_SEED, name, strlen(name));
  return 0;
}

static tarmac_metric_series_t *series_create_locked(
    tarmac_metric_family_t *f, const char *const *label_values, uint64_t hash);

/* With the mutex held: builds, publishes and returns a new family. */
static tarmac_metric_family_t *family_create_locked(
    tarmac_metrics_t *m, tarmac_metric_type_t type, const char *name,
    const char *help, const char *const *label_names, size_t n_labels,
    const double *buckets, size_t n_buckets) {
  if (m->n_families == m->cap_families) {
    size_t cap = m->cap_families ? m->cap_families * 2 : 16;
    tarmac_metric_family_t **families =
        realloc(m->families, cap * sizeof *families);
    if (!families) return NULL;
    m->families = families;
    m->cap_families = cap;
  }
  tarmac_metric_family_t *f = calloc(1, sizeof *f);
  if (!f) return NULL;
  f->registry = m;
  f->type = type;
  if (family_fill(f, name, help, label_names, n_labels, buckets, n_buckets) !=
          0 ||
      (n_labels == 0 &&
       !(f->solo = series_create_locked(f, NULL, METRICS_HASH_SEED))) ||
      metrics_table_insert(&m->families_by_name, &f->entry) != 0) {
    family_free(f);
    return NULL;
  }
  m->families[m->n_families++] = f;
  return f;
}

static tarmac_metric_family_t *family_existing(tarmac_metric_family_t *f,
                                               tarmac_metric_type_t type,
                                               const char *const *label_names,
                                               size_t n_labels, char *err,
                                               size_t err_size) {
  if (f->type != type) {
    snprintf(err, err_size, "metric \"%s\" is a %s, not a %s", f->name,
             tarmac_metric_type_name(f->type), tarmac_metric_type_name(type));
    return NULL;
  }
  if (!same_labels(f, label_names, n_labels)) {
    snprintf(err, err_size, "metric \"%s\" exists with other label names",
             f->name);
    return NULL;
  }
  return f;
}

tarmac_metric_family_t *tarmac_metrics_family(
    tarmac_metrics_t *m, tarmac_metric_type_t type, const char *name,
    const char *help, const char *const *label_names, size_t n_labels,
    const double *buckets, size_t n_buckets, char *err, size_t err_size) {
  const char *problem =
      family_problem(type, name, label_names, n_labels, buckets, n_buckets);
  if (problem) {
    snprintf(err, err_size, "metric \"%.200s\": %s", name, problem);
    return NULL;
  }
  if (pthread_mutex_lock(&m->mutex) != 0) {
    snprintf(err, err_size, "metrics registry lock failed");
    return NULL;
  }
  tarmac_metric_family_t *f = tarmac_metrics_find(m, name, strlen(name));
  if (f) {
    f = family_existing(f, type, label_names, n_labels, err, err_size);
  } else {
    f = family_create_locked(m, type, name, help, label_names, n_labels,
                             buckets, n_buckets);
    if (!f) snprintf(err, err_size, "metric \"%s\": out of memory", name);
  }
  pthread_mutex_unlock(&m->mutex);
  return f;
}

/* The label values' hash: each value and a separator no value holds. */
static uint64_t labels_hash(const char *const *values, size_t n) {
  uint64_t h = METRICS_HASH_SEED;
  for (size_t i = 0; i < n; i++)
    h = metrics_hash(h, values[i], strlen(values[i]) + 1);
  return h;
}

typedef struct {
  const char *const *values;
  size_t n;
} labels_key_t;

static bool series_matches(const metrics_entry_t *entry, const void *key) {
  const tarmac_metric_series_t *s = (const tarmac_metric_series_t *)entry;
  const labels_key_t *k = key;
  for (size_t i = 0; i < k->n; i++)
    if (strcmp(s->label_values[i], k->values[i]) != 0) return false;
  return true;
}

static tarmac_metric_series_t *series_create_locked(
    tarmac_metric_family_t *f, const char *const *label_values, uint64_t hash) {
  tarmac_metrics_t *m = f->registry;
  if (f->n_series >= TARMAC_METRIC_SERIES_MAX ||
      TARMAC_METRICS_CELLS_MAX - m->next_cell < f->cells_per_series)
    return NULL;
  if (f->n_series == f->cap_series) {
    size_t cap = f->cap_series ? f->cap_series * 2 : 4;
    tarmac_metric_series_t **series = realloc(f->series, cap * sizeof *series);
    if (!series) return NULL;
    f->series = series;
    f->cap_series = cap;
  }
  tarmac_metric_series_t *s = calloc(1, sizeof *s);
  if (!s) return NULL;
  s->label_values = copy_strings(label_values, f->n_labels);
  if (!s->label_values) {
    free(s);
    return NULL;
  }
  s->entry.hash = hash;
  s->family = f;
  s->cell = m->next_cell;
  atomic_init(&s->gauge_base, metrics_double_bits(0));
  atomic_init(&s->generation, 1); /* shard cells start at generation 0 */
  if (f->n_labels > 0 &&
      metrics_table_insert(&f->series_by_labels, &s->entry) != 0) {
    series_free(s);
    return NULL;
  }
  m->next_cell += f->cells_per_series;
  f->series[f->n_series++] = s;
  return s;
}

tarmac_metric_series_t *tarmac_metric_series(tarmac_metric_family_t *f,
                                             const char *const *label_values) {
  if (!f) return NULL;
  if (f->n_labels == 0) return f->solo;
  for (size_t i = 0; i < f->n_labels; i++)
    if (!label_values[i] ||
        strlen(label_values[i]) > TARMAC_METRIC_LABEL_VALUE_MAX)
      return NULL;
  uint64_t hash = labels_hash(label_values, f->n_labels);
  labels_key_t key = {label_values, f->n_labels};
  metrics_entry_t *e =
      metrics_table_find(&f->series_by_labels, hash, series_matches, &key);
  if (e) return (tarmac_metric_series_t *)e;
  if (pthread_mutex_lock(&f->registry->mutex) != 0) return NULL;
  e = metrics_table_find(&f->series_by_labels, hash, series_matches, &key);
  tarmac_metric_series_t *s = e ? (tarmac_metric_series_t *)e
                                : series_create_locked(f, label_values, hash);
  pthread_mutex_unlock(&f->registry->mutex);
  return s;
}

/* Owner-only update of a double cell: no other thread writes it. */
static void cell_add_double(metrics_cell_t *cell, double v) {
  uint64_t bits = atomic_load_explicit(cell, memory_order_relaxed);
  atomic_store_explicit(cell,
                        metrics_double_bits(metrics_bits_double(bits) + v),
                        memory_order_relaxed);
}

/* The calling thread's cell `offset` of series s (NULL when memory for
 * the shard or its chunk cannot be had: the update is dropped). */
static metrics_cell_t *own_cell(metrics_shard_t *shard,
                                const tarmac_metric_series_t *s,
                                uint32_t offset) {
  return shard ? metrics_shard_cell(shard, s->cell + offset, true) : NULL;
}

static metrics_shard_t *own_shard(const tarmac_metric_series_t *s) {
  return metrics_thread_shard(s->family->registry);
}

static void gauge_add(tarmac_metric_series_t *s, double v) {
  metrics_shard_t *shard = own_shard(s);
  metrics_cell_t *delta = own_cell(shard, s, GAUGE_DELTA);
  metrics_cell_t *gen = own_cell(shard, s, GAUGE_GENERATION);
  if (!delta || !gen) return;
  uint64_t current = atomic_load_explicit(&s->generation, memory_order_acquire);
  if (atomic_load_explicit(gen, memory_order_relaxed) == current) {
    cell_add_double(delta, v);
    return;
  }
  /* a set() happened since this thread's last add: start a new delta */
  atomic_store_explicit(delta, metrics_double_bits(v), memory_order_relaxed);
  atomic_store_explicit(gen, current, memory_order_release);
}

void tarmac_metric_add(tarmac_metric_series_t *s, double v) {
  if (!s || isnan(v)) return;
  if (s->family->type == TARMAC_METRIC_GAUGE) {
    gauge_add(s, v);
  } else if (s->family->type == TARMAC_METRIC_COUNTER && v >= 0) {
    metrics_cell_t *cell = own_cell(own_shard(s), s, 0);
    if (cell) cell_add_double(cell, v);
  }
}

void tarmac_metric_set(tarmac_metric_series_t *s, double v) {
  if (!s || s->family->type != TARMAC_METRIC_GAUGE) return;
  tarmac_metrics_t *m = s->family->registry;
  if (pthread_mutex_lock(&m->mutex) != 0) return;
  atomic_store_explicit(&s->gauge_base, metrics_double_bits(v),
                        memory_order_relaxed);
  atomic_fetch_add_explicit(&s->generation, 1, memory_order_release);
  pthread_mutex_unlock(&m->mutex);
}

void tarmac_metric_observe(tarmac_metric_series_t *s, double v) {
  if (!s || s->family->type != TARMAC_METRIC_HISTOGRAM || isnan(v)) return;
  const tarmac_metric_family_t *f = s->family;
  size_t bucket = 0;
  while (bucket < f->n_buckets && v > f->buckets[bucket]) bucket++;
  metrics_shard_t *shard = own_shard(s);
  metrics_cell_t *count = own_cell(shard, s, (uint32_t)bucket);
  metrics_cell_t *sum = own_cell(shard, s, (uint32_t)f->n_buckets + 1);
  if (!count || !sum) return;
  atomic_store_explicit(count,
                        atomic_load_explicit(count, memory_order_relaxed) + 1,
                        memory_order_relaxed);
  cell_add_double(sum, v);
}
