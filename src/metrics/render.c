/* metrics/render: the Prometheus text exposition (format 0.0.4) of a
 * registry: sums of the shards' cells, collectors, then process metrics. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "metrics/metrics_internal.h"
#include "version.h"

struct tarmac_metrics_sink {
  tarmac_buffer_t *out;
  char name[TARMAC_METRIC_NAME_MAX + 1]; /* the family being written */
  int failed;
};

/* The shortest of 15..17 digits that reads back as the same double. */
static void format_value(double v, char text[40]) {
  if (isnan(v)) {
    strcpy(text, "NaN");
  } else if (isinf(v)) {
    strcpy(text, v > 0 ? "+Inf" : "-Inf");
  } else {
    for (int digits = 15; digits <= 17; digits++) {
      snprintf(text, 40, "%.*g", digits, v);
      if (strtod(text, NULL) == v) break;
    }
  }
}

int tarmac_metrics_append_value(tarmac_buffer_t *out, double v) {
  char text[40];
  format_value(v, text);
  return tarmac_buffer_append_str(out, text);
}

/* Label values escape \, " and newline; HELP text escapes \ and newline. */
static int append_escaped(tarmac_buffer_t *out, const char *text, bool quote) {
  for (const char *p = text; *p; p++) {
    const char *esc = *p == '\\'             ? "\\\\"
                      : *p == '\n'           ? "\\n"
                      : (*p == '"' && quote) ? "\\\""
                                             : NULL;
    int rc = esc ? tarmac_buffer_append_str(out, esc)
                 : tarmac_buffer_append(out, p, 1);
    if (rc != 0) return -1;
  }
  return 0;
}

int metrics_render_header(tarmac_buffer_t *out, const char *name,
                          const char *help, tarmac_metric_type_t type) {
  if (tarmac_buffer_appendf(out, "# HELP %s ", name) != 0 ||
      append_escaped(out, help, false) != 0)
    return -1;
  return tarmac_buffer_appendf(out, "\n# TYPE %s %s\n", name,
                               tarmac_metric_type_name(type));
}

/* name{l1="v1",...[,le="bound"]} value\n; le is NULL outside buckets. */
static int append_sample(tarmac_buffer_t *out, const char *name,
                         const char *suffix, const char *const *label_names,
                         const char *const *label_values, size_t n,
                         const char *le, double value) {
  if (tarmac_buffer_appendf(out, "%s%s", name, suffix) != 0) return -1;
  for (size_t i = 0; i < n; i++) {
    if (tarmac_buffer_appendf(out, "%s%s=\"", i ? "," : "{", label_names[i]) !=
            0 ||
        append_escaped(out, label_values[i], true) != 0 ||
        tarmac_buffer_append_str(out, "\"") != 0)
      return -1;
  }
  if (le && tarmac_buffer_appendf(out, "%sle=\"%s\"", n ? "," : "{", le) != 0)
    return -1;
  if ((n || le) && tarmac_buffer_append_str(out, "}") != 0) return -1;
  if (tarmac_buffer_append_str(out, " ") != 0 ||
      tarmac_metrics_append_value(out, value) != 0)
    return -1;
  return tarmac_buffer_append_str(out, "\n");
}

/* The cell's value summed over every shard (bits read as double or as a
 * count); gauge generation cells filter stale deltas. */
static double sum_cells(const tarmac_metrics_t *m, uint32_t index,
                        bool as_double, const uint64_t *generation) {
  double total = 0;
  for (metrics_shard_t *shard = m->shards; shard; shard = shard->next) {
    metrics_cell_t *cell = metrics_shard_cell(shard, index, false);
    if (!cell) continue;
    if (generation) {
      metrics_cell_t *gen = metrics_shard_cell(shard, index + 1, false);
      if (!gen ||
          atomic_load_explicit(gen, memory_order_acquire) != *generation)
        continue;
    }
    uint64_t bits = atomic_load_explicit(cell, memory_order_relaxed);
    total += as_double ? metrics_bits_double(bits) : (double)bits;
  }
  return total;
}

static int render_histogram(tarmac_buffer_t *out, const tarmac_metrics_t *m,
                            const tarmac_metric_family_t *f,
                            const tarmac_metric_series_t *s) {
  const char *const *names = (const char *const *)f->label_names;
  const char *const *values = (const char *const *)s->label_values;
  double count = 0;
  char le[40];
  for (size_t b = 0; b <= f->n_buckets; b++) {
    count += sum_cells(m, s->cell + (uint32_t)b, false, NULL);
    format_value(b < f->n_buckets ? f->buckets[b] : INFINITY, le);
    if (append_sample(out, f->name, "_bucket", names, values, f->n_labels, le,
                      count) != 0)
      return -1;
  }
  double sum = sum_cells(m, s->cell + (uint32_t)f->n_buckets + 1, true, NULL);
  if (append_sample(out, f->name, "_sum", names, values, f->n_labels, NULL,
                    sum) != 0)
    return -1;
  return append_sample(out, f->name, "_count", names, values, f->n_labels, NULL,
                       count);
}

static double series_value(const tarmac_metrics_t *m,
                           const tarmac_metric_series_t *s) {
  if (s->family->type == TARMAC_METRIC_COUNTER)
    return sum_cells(m, s->cell, true, NULL);
  uint64_t generation =
      atomic_load_explicit(&s->generation, memory_order_acquire);
  double base = metrics_bits_double(
      atomic_load_explicit(&s->gauge_base, memory_order_relaxed));
  return base + sum_cells(m, s->cell + GAUGE_DELTA, true, &generation);
}

static int render_family(tarmac_buffer_t *out, const tarmac_metrics_t *m,
                         const tarmac_metric_family_t *f) {
  if (metrics_render_header(out, f->name, f->help, f->type) != 0) return -1;
  for (size_t i = 0; i < f->n_series; i++) {
    const tarmac_metric_series_t *s = f->series[i];
    int rc = f->type == TARMAC_METRIC_HISTOGRAM
                 ? render_histogram(out, m, f, s)
                 : append_sample(out, f->name, "",
                                 (const char *const *)f->label_names,
                                 (const char *const *)s->label_values,
                                 f->n_labels, NULL, series_value(m, s));
    if (rc != 0) return -1;
  }
  return 0;
}

int tarmac_metrics_add_collector(tarmac_metrics_t *m,
                                 tarmac_metrics_collector_fn fn, void *data) {
  if (!m || !fn || pthread_mutex_lock(&m->mutex) != 0) return -1;
  int rc = 0;
  if (m->n_collectors == m->cap_collectors) {
    size_t cap = m->cap_collectors ? m->cap_collectors * 2 : 4;
    metrics_collector_t *c = realloc(m->collectors, cap * sizeof *c);
    if (c) {
      m->collectors = c;
      m->cap_collectors = cap;
    } else {
      rc = -1;
    }
  }
  if (rc == 0)
    m->collectors[m->n_collectors++] = (metrics_collector_t){fn, data};
  pthread_mutex_unlock(&m->mutex);
  return rc;
}

void tarmac_metrics_sink_family(tarmac_metrics_sink_t *sink,
                                tarmac_metric_type_t type, const char *name,
                                const char *help) {
  sink->name[0] = '\0';
  if (sink->failed) return;
  if (type == TARMAC_METRIC_HISTOGRAM ||
      !tarmac_metric_name_valid(name, strlen(name)) ||
      metrics_render_header(sink->out, name, help ? help : "", type) != 0) {
    sink->failed = 1;
    return;
  }
  snprintf(sink->name, sizeof sink->name, "%s", name);
}

void tarmac_metrics_sink_sample(tarmac_metrics_sink_t *sink,
                                const char *const *label_names,
                                const char *const *label_values,
                                size_t n_labels, double value) {
  if (sink->failed || !sink->name[0]) {
    sink->failed = 1; /* a sample before its family */
    return;
  }
  if (append_sample(sink->out, sink->name, "", label_names, label_values,
                    n_labels, NULL, value) != 0)
    sink->failed = 1;
}

static int render_build_info(tarmac_buffer_t *out);

static int render_locked(const tarmac_metrics_t *m, tarmac_buffer_t *out) {
  for (size_t i = 0; i < m->n_families; i++)
    if (render_family(out, m, m->families[i]) != 0) return -1;
  tarmac_metrics_sink_t sink = {.out = out};
  for (size_t i = 0; i < m->n_collectors && !sink.failed; i++) {
    sink.name[0] = '\0'; /* each collector starts its own families */
    m->collectors[i].fn(m->collectors[i].data, &sink);
  }
  if (sink.failed) return -1;
  if (!m->include_process) return 0;
  if (render_build_info(out) != 0) return -1;
  return metrics_render_process(out);
}

int tarmac_metrics_render(const tarmac_metrics_t *m, tarmac_buffer_t *out) {
  /* the mutex guards the family, series and shard lists, not the cells */
  tarmac_metrics_t *mutable_m = (tarmac_metrics_t *)m;
  if (pthread_mutex_lock(&mutable_m->mutex) != 0) return -1;
  size_t start = out->len;
  int rc = render_locked(m, out);
  pthread_mutex_unlock(&mutable_m->mutex);
  if (rc != 0) out->len = start;
  return rc;
}

static int render_build_info(tarmac_buffer_t *out) {
  static const char *const names[] = {"version"};
  const char *const values[] = {TARMAC_VERSION};
  if (metrics_render_header(out, "tarmac_build_info",
                            "The version of tarmac that is running.",
                            TARMAC_METRIC_GAUGE) != 0)
    return -1;
  return append_sample(out, "tarmac_build_info", "", names, values, 1, NULL, 1);
}
