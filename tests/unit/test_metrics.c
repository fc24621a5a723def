/* Unit tests of src/metrics: the exact exposition of a small registry,
 * exact sums from many threads (including threads that exit and whose
 * shards are reused), histogram buckets, label and help escaping, type
 * conflicts, gauges (add, set, add after set), collectors, lookups after
 * the tables grow, and the process metrics. */
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "metrics/metrics.h"
#include "test.h"

static char err[256];

static tarmac_metrics_t *quiet_registry(void) {
  tarmac_metrics_t *m = tarmac_metrics_new();
  CHECK(m != NULL);
  tarmac_metrics_include_process(m, 0);
  return m;
}

/* Renders m and compares the whole text. */
static void check_render(tarmac_metrics_t *m, const char *want) {
  tarmac_buffer_t out = TARMAC_BUFFER_INIT;
  CHECK_EQ_INT(tarmac_metrics_render(m, &out), 0);
  CHECK_BYTES(out.data, out.len, want);
  tarmac_buffer_free(&out);
}

static void test_exposition(void) {
  tarmac_metrics_t *m = quiet_registry();
  const char *labels[] = {"route", "method"};
  tarmac_metric_family_t *requests = tarmac_metrics_family(
      m, TARMAC_METRIC_COUNTER, "requests_total", "Requests served.", labels, 2,
      NULL, 0, err, sizeof err);
  tarmac_metric_family_t *up =
      tarmac_metrics_family(m, TARMAC_METRIC_GAUGE, "up", "Whether it is up.",
                            NULL, 0, NULL, 0, err, sizeof err);
  CHECK(requests != NULL && up != NULL);
  const char *a[] = {"/a", "GET"}, *b[] = {"/b", "POST"};
  tarmac_metric_add(tarmac_metric_series(requests, a), 2);
  tarmac_metric_add(tarmac_metric_series(requests, b), 0.5);
  tarmac_metric_add(tarmac_metric_series(requests, a), 1);
  tarmac_metric_add(tarmac_metric_series(requests, a), -5); /* ignored */
  tarmac_metric_add(tarmac_metric_series(up, NULL), 1);
  check_render(m,
               "# HELP requests_total Requests served.\n"
               "# TYPE requests_total counter\n"
               "requests_total{route=\"/a\",method=\"GET\"} 3\n"
               "requests_total{route=\"/b\",method=\"POST\"} 0.5\n"
               "# HELP up Whether it is up.\n"
               "# TYPE up gauge\n"
               "up 1\n");
  tarmac_metrics_free(m);
}

static void test_histogram(void) {
  tarmac_metrics_t *m = quiet_registry();
  const double buckets[] = {0.1, 1, 10};
  const char *labels[] = {"fn"};
  tarmac_metric_family_t *f = tarmac_metrics_family(
      m, TARMAC_METRIC_HISTOGRAM, "d_seconds", "Durations.", labels, 1, buckets,
      3, err, sizeof err);
  CHECK(f != NULL);
  const char *v[] = {"x"};
  tarmac_metric_series_t *s = tarmac_metric_series(f, v);
  const double observed[] = {0.05, 0.1, 0.5, 5, 50, 1};
  for (size_t i = 0; i < 6; i++) tarmac_metric_observe(s, observed[i]);
  tarmac_metric_add(s, 3); /* not a counter: ignored */
  check_render(m,
               "# HELP d_seconds Durations.\n"
               "# TYPE d_seconds histogram\n"
               "d_seconds_bucket{fn=\"x\",le=\"0.1\"} 2\n"
               "d_seconds_bucket{fn=\"x\",le=\"1\"} 4\n"
               "d_seconds_bucket{fn=\"x\",le=\"10\"} 5\n"
               "d_seconds_bucket{fn=\"x\",le=\"+Inf\"} 6\n"
               "d_seconds_sum{fn=\"x\"} 56.65\n"
               "d_seconds_count{fn=\"x\"} 6\n");
  /* "le" is reserved in histograms; buckets must increase */
  const char *le[] = {"le"};
  const double bad[] = {1, 1};
  CHECK(!tarmac_metrics_family(m, TARMAC_METRIC_HISTOGRAM, "h2", "", le, 1,
                               NULL, 0, err, sizeof err));
  CHECK(!tarmac_metrics_family(m, TARMAC_METRIC_HISTOGRAM, "h3", "", NULL, 0,
                               bad, 2, err, sizeof err));
  CHECK(strstr(err, "strictly increasing") != NULL);
  tarmac_metrics_free(m);
}

static void test_escaping(void) {
  tarmac_metrics_t *m = quiet_registry();
  const char *labels[] = {"path"};
  tarmac_metric_family_t *f = tarmac_metrics_family(
      m, TARMAC_METRIC_COUNTER, "esc_total", "a \\ back\nslash \"q\"", labels,
      1, NULL, 0, err, sizeof err);
  const char *v[] = {"a\"b\\c\nd"};
  tarmac_metric_add(tarmac_metric_series(f, v), 1);
  check_render(m,
               "# HELP esc_total a \\\\ back\\nslash \"q\"\n"
               "# TYPE esc_total counter\n"
               "esc_total{path=\"a\\\"b\\\\c\\nd\"} 1\n");
  tarmac_metrics_free(m);
}

static void test_conflicts(void) {
  tarmac_metrics_t *m = quiet_registry();
  tarmac_metric_family_t *f = tarmac_metrics_family(
      m, TARMAC_METRIC_COUNTER, "x", "", NULL, 0, NULL, 0, err, sizeof err);
  CHECK(f != NULL);
  CHECK(tarmac_metrics_family(m, TARMAC_METRIC_COUNTER, "x", "", NULL, 0, NULL,
                              0, err, sizeof err) == f);
  CHECK(!tarmac_metrics_family(m, TARMAC_METRIC_GAUGE, "x", "", NULL, 0, NULL,
                               0, err, sizeof err));
  CHECK_BYTES(err, strlen(err), "metric \"x\" is a counter, not a gauge");
  const char *labels[] = {"a"};
  CHECK(!tarmac_metrics_family(m, TARMAC_METRIC_COUNTER, "x", "", labels, 1,
                               NULL, 0, err, sizeof err));
  CHECK(!tarmac_metrics_family(m, TARMAC_METRIC_COUNTER, "1x", "", NULL, 0,
                               NULL, 0, err, sizeof err));
  CHECK(!tarmac_metrics_family(m, TARMAC_METRIC_COUNTER, "a-b", "", NULL, 0,
                               NULL, 0, err, sizeof err));
  CHECK(tarmac_metrics_find(m, "x", 1) == f);
  CHECK(tarmac_metrics_find(m, "y", 1) == NULL);
  CHECK(tarmac_metric_name_valid("a:b_C9", 6));
  CHECK(!tarmac_metric_name_valid("", 0));
  tarmac_metrics_free(m);
}

static void test_gauge(void) {
  tarmac_metrics_t *m = quiet_registry();
  tarmac_metric_series_t *g = tarmac_metric_series(
      tarmac_metrics_family(m, TARMAC_METRIC_GAUGE, "g", "G.", NULL, 0, NULL, 0,
                            err, sizeof err),
      NULL);
  tarmac_metric_add(g, 5);
  tarmac_metric_add(g, -2);
  check_render(m, "# HELP g G.\n# TYPE g gauge\ng 3\n");
  tarmac_metric_set(g, 10);
  check_render(m, "# HELP g G.\n# TYPE g gauge\ng 10\n");
  tarmac_metric_add(g, -1);
  check_render(m, "# HELP g G.\n# TYPE g gauge\ng 9\n");
  tarmac_metrics_free(m);
}

enum { THREADS = 8, ADDS = 100000 };

typedef struct {
  tarmac_metric_series_t *counter, *histogram, *gauge;
} shared_t;

static void *adder(void *arg) {
  shared_t *shared = arg;
  for (int i = 0; i < ADDS; i++) {
    tarmac_metric_add(shared->counter, 1);
    tarmac_metric_observe(shared->histogram, 0.001);
    tarmac_metric_add(shared->gauge, i % 2 ? -1 : 2);
  }
  return NULL;
}

/* Runs THREADS adders to completion, `rounds` times (later rounds reuse
 * the shards of exited threads). */
static void run_adders(shared_t *shared, int rounds) {
  for (int r = 0; r < rounds; r++) {
    pthread_t threads[THREADS];
    int started = 0;
    for (; started < THREADS; started++)
      if (pthread_create(&threads[started], NULL, adder, shared) != 0) break;
    CHECK_EQ_INT(started, THREADS);
    for (int i = 0; i < started; i++) pthread_join(threads[i], NULL);
  }
}

static void test_threads(void) {
  tarmac_metrics_t *m = quiet_registry();
  const double buckets[] = {0.01};
  shared_t shared = {
      tarmac_metric_series(
          tarmac_metrics_family(m, TARMAC_METRIC_COUNTER, "c_total", "C.", NULL,
                                0, NULL, 0, err, sizeof err),
          NULL),
      tarmac_metric_series(
          tarmac_metrics_family(m, TARMAC_METRIC_HISTOGRAM, "h", "H.", NULL, 0,
                                buckets, 1, err, sizeof err),
          NULL),
      tarmac_metric_series(
          tarmac_metrics_family(m, TARMAC_METRIC_GAUGE, "g", "G.", NULL, 0,
                                NULL, 0, err, sizeof err),
          NULL)};
  run_adders(&shared, 3);
  char want[1024];
  long total = 3L * THREADS * ADDS;
  snprintf(want, sizeof want,
           "# HELP c_total C.\n# TYPE c_total counter\nc_total %ld\n"
           "# HELP h H.\n# TYPE h histogram\n"
           "h_bucket{le=\"0.01\"} %ld\nh_bucket{le=\"+Inf\"} %ld\n",
           total, total, total);
  tarmac_buffer_t out = TARMAC_BUFFER_INIT;
  CHECK_EQ_INT(tarmac_metrics_render(m, &out), 0);
  CHECK(out.len >= strlen(want) && memcmp(out.data, want, strlen(want)) == 0);
  snprintf(want, sizeof want,
           "h_count %ld\n# HELP g G.\n# TYPE g gauge\ng %ld\n", total,
           total / 2);
  CHECK(tarmac_buffer_append(&out, "", 1) == 0 &&
        strstr((char *)out.data, want) != NULL);
  if (test_failed_) fprintf(stderr, "%s\n", (char *)out.data);
  tarmac_buffer_free(&out);
  tarmac_metrics_free(m);
}

static void test_many_series(void) {
  tarmac_metrics_t *m = quiet_registry();
  const char *labels[] = {"n"};
  tarmac_metric_family_t *f =
      tarmac_metrics_family(m, TARMAC_METRIC_COUNTER, "many_total", "", labels,
                            1, NULL, 0, err, sizeof err);
  tarmac_metric_series_t *first[1000];
  char name[16];
  for (int i = 0; i < 1000; i++) {
    snprintf(name, sizeof name, "%d", i);
    const char *v[] = {name};
    first[i] = tarmac_metric_series(f, v);
    tarmac_metric_add(first[i], i);
  }
  int same = 0;
  for (int i = 0; i < 1000; i++) {
    snprintf(name, sizeof name, "%d", i);
    const char *v[] = {name};
    same += first[i] != NULL && tarmac_metric_series(f, v) == first[i];
  }
  CHECK_EQ_INT(same, 1000);
  char long_value[TARMAC_METRIC_LABEL_VALUE_MAX + 2];
  memset(long_value, 'a', sizeof long_value - 1);
  long_value[sizeof long_value - 1] = '\0';
  const char *v[] = {long_value};
  CHECK(tarmac_metric_series(f, v) == NULL);
  for (int i = 0; i < 300; i++) { /* the family table grows too */
    snprintf(name, sizeof name, "f%d", i);
    CHECK(tarmac_metrics_family(m, TARMAC_METRIC_GAUGE, name, "", NULL, 0, NULL,
                                0, err, sizeof err) ==
          tarmac_metrics_find(m, name, strlen(name)));
  }
  tarmac_metrics_free(m);
}

/* A thread that outlives its registry: it adds, the registry is freed,
 * then it uses another registry and exits (the orphaned shard is
 * released by the thread, not leaked: ASan checks). */
typedef struct {
  tarmac_metric_series_t *first, *second;
  pthread_barrier_t added, freed;
} outliving_t;

static void *outliving(void *arg) {
  outliving_t *o = arg;
  tarmac_metric_add(o->first, 1);
  pthread_barrier_wait(&o->added);
  pthread_barrier_wait(&o->freed);
  tarmac_metric_add(o->second, 2);
  return NULL;
}

static tarmac_metric_series_t *solo_counter(tarmac_metrics_t *m) {
  return tarmac_metric_series(
      tarmac_metrics_family(m, TARMAC_METRIC_COUNTER, "o_total", "O.", NULL, 0,
                            NULL, 0, err, sizeof err),
      NULL);
}

static void test_registry_freed_first(void) {
  tarmac_metrics_t *a = quiet_registry(), *b = quiet_registry();
  outliving_t o = {.first = solo_counter(a), .second = solo_counter(b)};
  pthread_barrier_init(&o.added, NULL, 2);
  pthread_barrier_init(&o.freed, NULL, 2);
  pthread_t thread;
  CHECK_EQ_INT(pthread_create(&thread, NULL, outliving, &o), 0);
  pthread_barrier_wait(&o.added);
  check_render(a, "# HELP o_total O.\n# TYPE o_total counter\no_total 1\n");
  tarmac_metrics_free(a);
  pthread_barrier_wait(&o.freed);
  pthread_join(thread, NULL);
  check_render(b, "# HELP o_total O.\n# TYPE o_total counter\no_total 2\n");
  tarmac_metrics_free(b);
  pthread_barrier_destroy(&o.added);
  pthread_barrier_destroy(&o.freed);
}

static void report_instances(void *data, tarmac_metrics_sink_t *sink) {
  const char *names[] = {"function"};
  const char *a[] = {"hello"}, *b[] = {"wo\"rld"};
  tarmac_metrics_sink_family(sink, TARMAC_METRIC_GAUGE,
                             "tarmac_instances_ready", data);
  tarmac_metrics_sink_sample(sink, names, a, 1, 3);
  tarmac_metrics_sink_sample(sink, names, b, 1, 0);
}

static void bad_collector(void *data, tarmac_metrics_sink_t *sink) {
  tarmac_metrics_sink_sample(sink, NULL, NULL, 0, 1); /* no family */
}

static void test_collector(void) {
  tarmac_metrics_t *m = quiet_registry();
  CHECK_EQ_INT(tarmac_metrics_add_collector(m, report_instances, "Ready."), 0);
  check_render(m,
               "# HELP tarmac_instances_ready Ready.\n"
               "# TYPE tarmac_instances_ready gauge\n"
               "tarmac_instances_ready{function=\"hello\"} 3\n"
               "tarmac_instances_ready{function=\"wo\\\"rld\"} 0\n");
  CHECK_EQ_INT(tarmac_metrics_add_collector(m, bad_collector, NULL), 0);
  tarmac_buffer_t out = TARMAC_BUFFER_INIT;
  CHECK_EQ_INT(tarmac_metrics_render(m, &out), -1);
  CHECK_EQ_INT(out.len, 0);
  tarmac_buffer_free(&out);
  tarmac_metrics_free(m);
}

static void test_process_and_values(void) {
  tarmac_metrics_t *m = tarmac_metrics_new();
  tarmac_buffer_t out = TARMAC_BUFFER_INIT;
  CHECK_EQ_INT(tarmac_metrics_render(m, &out), 0);
  CHECK(tarmac_buffer_append(&out, "", 1) == 0);
  const char *text = (const char *)out.data;
  CHECK(strstr(text, "\ntarmac_build_info{version=\"") != NULL);
  const char *names[] = {"process_cpu_seconds_total ",
                         "process_resident_memory_bytes ",
                         "process_virtual_memory_bytes ",
                         "process_start_time_seconds ",
                         "process_open_fds ",
                         "process_max_fds "};
  for (size_t i = 0; i < 6; i++) CHECK(strstr(text, names[i]) != NULL);
  tarmac_buffer_free(&out);
  tarmac_metrics_free(m);
  const double values[] = {0.1, 1e21, -2.5, INFINITY, -INFINITY, NAN, 0};
  const char *want[] = {"0.1", "1e+21", "-2.5", "+Inf", "-Inf", "NaN", "0"};
  for (size_t i = 0; i < 7; i++) {
    tarmac_buffer_t v = TARMAC_BUFFER_INIT;
    CHECK_EQ_INT(tarmac_metrics_append_value(&v, values[i]), 0);
    CHECK_BYTES(v.data, v.len, want[i]);
    tarmac_buffer_free(&v);
  }
}

int main(void) {
  test_exposition();
  test_histogram();
  test_escaping();
  test_conflicts();
  test_gauge();
  test_threads();
  test_many_series();
  test_registry_freed_first();
  test_collector();
  test_process_and_values();
  TEST_EXIT();
}
