/* callbacks/metrics: tarmac/metrics/counter|gauge|histogram. The hot path
 * (a metric that exists) is a lock-free name lookup and a lock-free update
 * of the calling thread's shard; only the first use of a name takes this
 * module's mutex (to count guest metrics against the cap) and the
 * registry's. */
#include "callbacks/metrics.h"

#include <math.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "callbacks/encoding.h"
#include "metrics/metrics.h"

typedef struct {
  tarmac_metrics_t *metrics; /* borrowed */
  pthread_mutex_t mutex;     /* guest metric creation */
  size_t created;            /* guest metric names so far */
} guest_metrics_t;

static const char *const reserved_prefixes[] = {"tarmac_", "process_"};

/* The name for a status text: quoted, escaped, cut (guest bytes). */
static const char *quoted(const char *name, tarmac_buffer_t *buf) {
  return tarmac_callbacks_quoted(name, buf, "(name)");
}

static bool name_allowed(const char *name, tarmac_callback_status_t *status) {
  size_t len = strlen(name);
  tarmac_buffer_t buf = TARMAC_BUFFER_INIT;
  bool ok = false;
  if (len == 0) {
    tarmac_callback_status_set(status, 400, "metric name is empty");
  } else if (!tarmac_metric_name_valid(name, len)) {
    tarmac_callback_status_set(
        status, 400,
        "metric name %s must match ^[a-zA-Z_:][a-zA-Z0-9_:]*$ and be at most "
        "%d bytes",
        quoted(name, &buf), TARMAC_METRIC_NAME_MAX);
  } else {
    ok = true;
    size_t n = sizeof reserved_prefixes / sizeof reserved_prefixes[0];
    for (size_t i = 0; i < n && ok; i++)
      if (strncmp(name, reserved_prefixes[i], strlen(reserved_prefixes[i])) ==
          0) {
        tarmac_callback_status_set(
            status, 400,
            "metric name %s: names starting with %s are the server's",
            quoted(name, &buf), reserved_prefixes[i]);
        ok = false;
      }
  }
  tarmac_buffer_free(&buf);
  return ok;
}

/* Creates a guest family under the cap; NULL with the status set. */
static tarmac_metric_family_t *create_guest_family(
    guest_metrics_t *gm, tarmac_metric_type_t type, const char *name,
    tarmac_callback_status_t *status) {
  char err[256];
  if (pthread_mutex_lock(&gm->mutex) != 0) {
    tarmac_callback_status_set(status, 500, "metrics lock failed");
    return NULL;
  }
  tarmac_metric_family_t *f =
      tarmac_metrics_find(gm->metrics, name, strlen(name));
  if (!f && gm->created >= TARMAC_GUEST_METRICS_MAX) {
    tarmac_callback_status_set(status, 429,
                               "too many guest metrics (the limit is %d)",
                               TARMAC_GUEST_METRICS_MAX);
  } else if (!f) {
    f = tarmac_metrics_family(gm->metrics, type, name,
                              "A metric of the guest functions.", NULL, 0, NULL,
                              0, err, sizeof err);
    if (f)
      gm->created++;
    else
      tarmac_callback_status_set(status, 500, "%s", err);
  }
  pthread_mutex_unlock(&gm->mutex);
  return f;
}

static tarmac_metric_series_t *guest_series(guest_metrics_t *gm,
                                            tarmac_metric_type_t type,
                                            const char *name,
                                            tarmac_callback_status_t *status) {
  if (!name_allowed(name, status)) return NULL;
  tarmac_metric_family_t *f =
      tarmac_metrics_find(gm->metrics, name, strlen(name));
  if (!f && !(f = create_guest_family(gm, type, name, status))) return NULL;
  if (tarmac_metric_family_type(f) != type) {
    tarmac_buffer_t buf = TARMAC_BUFFER_INIT;
    tarmac_callback_status_set(
        status, 400, "metric %s is a %s, not a %s", quoted(name, &buf),
        tarmac_metric_type_name(tarmac_metric_family_type(f)),
        tarmac_metric_type_name(type));
    tarmac_buffer_free(&buf);
    return NULL;
  }
  tarmac_metric_series_t *s = tarmac_metric_series(f, NULL);
  if (!s) tarmac_callback_status_set(status, 500, "metric series missing");
  return s;
}

/* Replies with the Status in the request's encoding. */
static int finish(ProtobufCMessage *request,
                  const tarmac_callback_status_t *status,
                  tarmac_buffer_t *response, tarmac_buffer_t *error) {
  tarmac_encoding_free(request);
  Tarmac__Status reply;
  tarmac_encoding_status(status, &reply);
  return tarmac_encoding_reply(&reply.base, status, response, error);
}

static int counter_call(void *data, const tarmac_host_call_t *call,
                        tarmac_buffer_t *response, tarmac_buffer_t *error) {
  tarmac_callback_status_t status;
  Tarmac__MetricsCounter *msg =
      (Tarmac__MetricsCounter *)tarmac_encoding_decode(
          &tarmac__metrics_counter__descriptor, call->payload,
          call->payload_len, &status);
  tarmac_metric_series_t *s =
      msg ? guest_series(data, TARMAC_METRIC_COUNTER, msg->name, &status)
          : NULL;
  if (s) tarmac_metric_add(s, 1);
  return finish(msg ? &msg->base : NULL, &status, response, error);
}

static int gauge_call(void *data, const tarmac_host_call_t *call,
                      tarmac_buffer_t *response, tarmac_buffer_t *error) {
  tarmac_callback_status_t status;
  Tarmac__MetricsGauge *msg = (Tarmac__MetricsGauge *)tarmac_encoding_decode(
      &tarmac__metrics_gauge__descriptor, call->payload, call->payload_len,
      &status);
  double delta = 0;
  if (msg && strcmp(msg->action, "inc") == 0) {
    delta = 1;
  } else if (msg && strcmp(msg->action, "dec") == 0) {
    delta = -1;
  } else if (msg) {
    tarmac_buffer_t buf = TARMAC_BUFFER_INIT;
    tarmac_callback_status_set(&status, 400,
                               "gauge action %s is not \"inc\" or \"dec\"",
                               quoted(msg->action, &buf));
    tarmac_buffer_free(&buf);
  }
  tarmac_metric_series_t *s =
      delta != 0 ? guest_series(data, TARMAC_METRIC_GAUGE, msg->name, &status)
                 : NULL;
  if (s) tarmac_metric_add(s, delta);
  return finish(msg ? &msg->base : NULL, &status, response, error);
}

static int histogram_call(void *data, const tarmac_host_call_t *call,
                          tarmac_buffer_t *response, tarmac_buffer_t *error) {
  tarmac_callback_status_t status;
  Tarmac__MetricsHistogram *msg =
      (Tarmac__MetricsHistogram *)tarmac_encoding_decode(
          &tarmac__metrics_histogram__descriptor, call->payload,
          call->payload_len, &status);
  bool finite = msg && isfinite(msg->value);
  if (msg && !finite)
    tarmac_callback_status_set(&status, 400,
                               "histogram value must be a finite number");
  tarmac_metric_series_t *s =
      finite ? guest_series(data, TARMAC_METRIC_HISTOGRAM, msg->name, &status)
             : NULL;
  if (s) tarmac_metric_observe(s, msg->value);
  return finish(msg ? &msg->base : NULL, &status, response, error);
}

static void guest_metrics_free(void *data) {
  guest_metrics_t *gm = data;
  pthread_mutex_destroy(&gm->mutex);
  free(gm);
}

int tarmac_callbacks_add_metrics(tarmac_callbacks_t *registry,
                                 tarmac_metrics_t *m) {
  if (!registry || !m) return -1;
  guest_metrics_t *gm = calloc(1, sizeof *gm);
  if (!gm) return -1;
  if (pthread_mutex_init(&gm->mutex, NULL) != 0) {
    free(gm);
    return -1;
  }
  gm->metrics = m;
  if (tarmac_callbacks_own(registry, gm, guest_metrics_free) != 0) return -1;
  if (tarmac_callbacks_add(registry, "tarmac", "metrics", "counter",
                           counter_call, gm) != 0 ||
      tarmac_callbacks_add(registry, "tarmac", "metrics", "gauge", gauge_call,
                           gm) != 0)
    return -1;
  return tarmac_callbacks_add(registry, "tarmac", "metrics", "histogram",
                              histogram_call, gm);
}
