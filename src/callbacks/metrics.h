/* callbacks/metrics: the tarmac/metrics/counter|gauge|histogram host
 * calls, which let guests create and update metrics in the server's
 * registry (docs/metrics.md, docs/callbacks.md). The routes share one
 * state (the guest-metric count), owned by the callback registry. */
#ifndef TARMAC_CALLBACKS_METRICS_H
#define TARMAC_CALLBACKS_METRICS_H

#include "callbacks/registry.h"
#include "metrics/metrics.h"

/* Registers tarmac/metrics/counter, gauge and histogram (callbacks/
 * metrics.c): payloads MetricsCounter{name}, MetricsGauge{name, action
 * "inc"|"dec"}, MetricsHistogram{name, value} in protobuf or JSON
 * (callbacks/encoding.h); the reply is a Status. Guest metric names match
 * ^[a-zA-Z_:][a-zA-Z0-9_:]*$, are at most TARMAC_METRIC_NAME_MAX bytes,
 * must not start with "tarmac_" or "process_" (the server's), keep the
 * type they were first used with, and number at most
 * TARMAC_GUEST_METRICS_MAX (then 429). Histograms use the default
 * buckets. m must outlive the registry. 0 or -1 (out of memory). */
#define TARMAC_GUEST_METRICS_MAX 1000
int tarmac_callbacks_add_metrics(tarmac_callbacks_t *registry,
                                 tarmac_metrics_t *m);

#endif
