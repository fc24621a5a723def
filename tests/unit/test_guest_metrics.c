/* A real guest (metrics_guest.c, built with sdk/c) calling the metrics
 * callbacks and tarmac/function through the engine: the SDK's protobuf
 * reaches the host, errors come back as failed host calls, and the
 * registry shows the guest's metrics and the callback durations. */
#include <string.h>

#include "callbacks/metrics.h"
#include "engine/engine_fixture.h"
#include "metrics/metrics.h"
#include "test.h"
#include "render_check.h"

/* Stands in for the server's tarmac/function route: answers
 * "<operation>(<payload>)", and fails for operation "broken". */
static int fake_function(void *data, const tarmac_host_call_t *call,
                         tarmac_buffer_t *response, tarmac_buffer_t *error) {
  if (call->operation_len == 6 && memcmp(call->operation, "broken", 6) == 0) {
    tarmac_buffer_append_str(error, "callee failed");
    return -1;
  }
  if (tarmac_buffer_append(response, call->operation, call->operation_len) ||
      tarmac_buffer_append_str(response, "(") ||
      tarmac_buffer_append(response, call->payload, call->payload_len) ||
      tarmac_buffer_append_str(response, ")"))
    return -1;
  return 0;
}

static void check_invoke(tarmac_instance_t *instance, const char *op,
                         const char *payload, const char *want) {
  tarmac_call_result_t result;
  CHECK_EQ_INT(
      tarmac_instance_invoke(instance, op, strlen(op), (const uint8_t *)payload,
                             strlen(payload), &result),
      TARMAC_CALL_OK);
  CHECK_BYTES(result.data, result.len, want);
}

int main(void) {
  engine_fixture_t f;
  fixture_open(&f, 0);
  tarmac_metrics_t *m = tarmac_metrics_new();
  CHECK(m != NULL);
  tarmac_metrics_include_process(m, 0);
  CHECK_EQ_INT(tarmac_callbacks_add_metrics(f.callbacks, m), 0);
  CHECK_EQ_INT(tarmac_callbacks_add(f.callbacks, "tarmac", "function", NULL,
                                    fake_function, NULL),
               0);
  CHECK_EQ_INT(tarmac_callbacks_set_metrics(f.callbacks, m), 0);
  tarmac_module_t *module =
      fixture_load(&f, "TARMAC_GUEST_DIR", "metrics_guest");
  tarmac_error_t err;
  tarmac_instance_t *instance = tarmac_instance_new(module, &err);
  CHECK(instance != NULL);
  if (instance) {
    check_invoke(instance, "counter", "orders", "ok");
    check_invoke(instance, "counter", "orders", "ok");
    check_invoke(instance, "counter", "bad-name", "error");
    check_invoke(instance, "counter", "tarmac_x", "error");
    check_invoke(instance, "gauge", "queue inc", "ok");
    check_invoke(instance, "gauge", "queue up", "error");
    check_invoke(instance, "gauge", "orders inc", "error"); /* a counter */
    check_invoke(instance, "histogram", "latency 0.25", "ok");
    check_invoke(instance, "call", "other hello", "ok:other(hello)");
    check_invoke(instance, "call", "broken x", "error:callee failed");
    check_rendered(m, "\norders 2\n");
    check_rendered(m, "\nqueue 1\n");
    check_rendered(m, "latency_bucket{le=\"0.25\"} 1\n");
    check_rendered(m,
                   "tarmac_callback_duration_seconds_count{callback="
                   "\"metrics/counter\"} 4\n");
    check_rendered(m,
                   "tarmac_callback_duration_seconds_count{callback="
                   "\"function/*\"} 2\n");
    tarmac_instance_free(instance);
  }
  tarmac_module_release(module);
  fixture_close(&f);
  tarmac_metrics_free(m);
  TEST_EXIT();
}
