/* Prints the exposition of a registry holding one of everything (labels
 * with escapes, histogram, gauge, collector, process metrics) so that
 * `promtool check metrics` can judge it (the unit_metrics_promtool test). */
#include <stdio.h>

#include "metrics/metrics.h"

static void collect(void *data, tarmac_metrics_sink_t *sink) {
  const char *names[] = {"function"};
  const char *values[] = {"hello"};
  tarmac_metrics_sink_family(sink, TARMAC_METRIC_GAUGE, "tarmac_instances_busy",
                             "Busy instances.");
  tarmac_metrics_sink_sample(sink, names, values, 1, 2);
}

int main(void) {
  char err[256];
  tarmac_metrics_t *m = tarmac_metrics_new();
  if (!m) return 1;
  const char *labels[] = {"route", "method", "status"};
  const char *values[] = {"/a\"b\\c\nd", "GET", "200"};
  tarmac_metric_family_t *h = tarmac_metrics_family(
      m, TARMAC_METRIC_HISTOGRAM, "tarmac_http_request_duration_seconds",
      "HTTP request durations in seconds.", labels, 3, NULL, 0, err,
      sizeof err);
  tarmac_metric_family_t *c =
      tarmac_metrics_family(m, TARMAC_METRIC_COUNTER, "tarmac_traps_total",
                            "Guest traps.", NULL, 0, NULL, 0, err, sizeof err);
  if (!h || !c || tarmac_metrics_add_collector(m, collect, NULL) != 0) {
    fprintf(stderr, "metrics_dump: %s\n", err);
    return 1;
  }
  tarmac_metric_observe(tarmac_metric_series(h, values), 0.003);
  tarmac_metric_add(tarmac_metric_series(c, NULL), 2);
  tarmac_buffer_t out = TARMAC_BUFFER_INIT;
  int rc = tarmac_metrics_render(m, &out);
  if (rc == 0) fwrite(out.data, 1, out.len, stdout);
  tarmac_buffer_free(&out);
  tarmac_metrics_free(m);
  return rc == 0 ? 0 : 1;
}
