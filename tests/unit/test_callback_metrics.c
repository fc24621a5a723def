/* Unit tests of the tarmac/metrics host calls (callbacks/metrics.c) and
 * the callback duration histogram (callbacks/registry.c): JSON and
 * protobuf payloads and replies, name rules, reserved prefixes, type
 * conflicts, the guest metric cap, and labels that never carry a guest's
 * text. */
#include <string.h>

#include "callbacks/encoding.h"
#include "callbacks/metrics.h"
#include "metrics/metrics.h"
#include "test.h"
#include "render_check.h"

static tarmac_buffer_t response, error;

static int call(const tarmac_callbacks_t *registry, const char *namespace_,
                const char *operation, const void *payload, size_t len) {
  tarmac_host_call_t c = {.binding = "tarmac",
                          .binding_len = 6,
                          .namespace_ = namespace_,
                          .namespace_len = strlen(namespace_),
                          .operation = operation,
                          .operation_len = strlen(operation),
                          .payload = payload,
                          .payload_len = len};
  tarmac_buffer_clear(&response);
  tarmac_buffer_clear(&error);
  return tarmac_callbacks_dispatch(registry, &c, &response, &error);
}

static int call_json(const tarmac_callbacks_t *registry, const char *op,
                     const char *json) {
  return call(registry, "metrics", op, json, strlen(json));
}

static void check_error(const char *want) {
  CHECK_BYTES(error.data, error.len, want);
}

static void test_json_calls(tarmac_callbacks_t *r, tarmac_metrics_t *m) {
  CHECK_EQ_INT(call_json(r, "counter", "{\"name\":\"orders\"}"), 0);
  CHECK_BYTES(response.data, response.len, "{\"code\":200,\"status\":\"OK\"}");
  CHECK_EQ_INT(call_json(r, "counter", "{\"name\":\"orders\"}"), 0);
  check_rendered(m, "\norders 2\n");
  CHECK_EQ_INT(call_json(r, "gauge", "{\"name\":\"q\",\"action\":\"inc\"}"), 0);
  CHECK_EQ_INT(call_json(r, "gauge", "{\"name\":\"q\",\"action\":\"inc\"}"), 0);
  CHECK_EQ_INT(call_json(r, "gauge", "{\"name\":\"q\",\"action\":\"dec\"}"), 0);
  check_rendered(m, "# TYPE q gauge\nq 1\n");
  CHECK_EQ_INT(call_json(r, "histogram", "{\"name\":\"h\",\"value\":0.5}"), 0);
  check_rendered(m, "h_bucket{le=\"0.5\"} 1\n");
  check_rendered(m, "h_sum 0.5\nh_count 1\n");
}

static void test_protobuf_calls(tarmac_callbacks_t *r, tarmac_metrics_t *m) {
  Tarmac__MetricsCounter counter = TARMAC__METRICS_COUNTER__INIT;
  counter.name = "orders";
  uint8_t packed[64];
  size_t len = tarmac__metrics_counter__pack(&counter, packed);
  CHECK_EQ_INT(call(r, "metrics", "counter", packed, len), 0);
  Tarmac__Status *st =
      tarmac__status__unpack(NULL, response.len, response.data);
  CHECK(st != NULL && st->code == 200 && strcmp(st->status, "OK") == 0);
  if (st) tarmac__status__free_unpacked(st, NULL);
  check_rendered(m, "\norders 3\n");
  counter.name = "";
  len = tarmac__metrics_counter__pack(&counter, packed);
  CHECK_EQ_INT(call(r, "metrics", "counter", packed, len), -1);
  check_error("metric name is empty");
  st = tarmac__status__unpack(NULL, response.len, response.data);
  CHECK(st != NULL && st->code == 400); /* the reply is still built */
  if (st) tarmac__status__free_unpacked(st, NULL);
}

static void test_refusals(tarmac_callbacks_t *r) {
  CHECK_EQ_INT(
      call_json(r, "gauge", "{\"name\":\"orders\",\"action\":\"inc\"}"), -1);
  check_error("metric \"orders\" is a counter, not a gauge");
  CHECK_EQ_INT(call_json(r, "gauge", "{\"name\":\"q\",\"action\":\"up\"}"), -1);
  check_error("gauge action \"up\" is not \"inc\" or \"dec\"");
  CHECK_EQ_INT(call_json(r, "counter", "{\"name\":\"a-b\"}"), -1);
  check_error(
      "metric name \"a-b\" must match ^[a-zA-Z_:][a-zA-Z0-9_:]*$ and "
      "be at most 200 bytes");
  CHECK_EQ_INT(call_json(r, "counter", "{\"name\":\"tarmac_x\"}"), -1);
  check_error(
      "metric name \"tarmac_x\": names starting with tarmac_ are the "
      "server's");
  CHECK_EQ_INT(call_json(r, "counter", "{\"name\":\"process_open_fds\"}"), -1);
  CHECK_EQ_INT(call_json(r, "histogram", "{\"name\":\"h\",\"value\":\"x\"}"),
               -1);
  check_error(
      "payload is neither a tarmac.MetricsHistogram message nor its "
      "JSON form: field \"value\": expected a number");
  /* guest bytes in the problem text do not break the JSON reply */
  CHECK_EQ_INT(call_json(r, "counter", "{\"name\":\xff\xfe}"), -1);
  CHECK(error.len > 0 && memchr(error.data, 0xff, error.len) == NULL);
  CHECK(response.len > 0 && response.data[0] == '{');
  CHECK_EQ_INT(call_json(r, "histogram", "{\"name\":\"h\",\"value\":\"x\"}"),
               -1);
  CHECK_BYTES(response.data, response.len,
              "{\"code\":400,\"status\":\"payload is neither a "
              "tarmac.MetricsHistogram message nor its JSON form: field "
              "\\\"value\\\": expected a number\"}");
}

static void test_cap(tarmac_callbacks_t *r) {
  char json[64];
  int refused = 0, accepted = 0;
  /* orders, q and h exist already */
  for (int i = 0; i < TARMAC_GUEST_METRICS_MAX; i++) {
    snprintf(json, sizeof json, "{\"name\":\"m%d\"}", i);
    if (call_json(r, "counter", json) == 0)
      accepted++;
    else
      refused++;
  }
  CHECK_EQ_INT(accepted, TARMAC_GUEST_METRICS_MAX - 3);
  CHECK_EQ_INT(refused, 3);
  check_error("too many guest metrics (the limit is 1000)");
  CHECK_EQ_INT(call_json(r, "counter", "{\"name\":\"orders\"}"), 0);
}

static void test_durations(tarmac_callbacks_t *r, tarmac_metrics_t *m) {
  CHECK_EQ_INT(call(r, "guest-chosen\"text", "x", "", 0), -1);
  check_rendered(m,
                 "tarmac_callback_duration_seconds_count{callback="
                 "\"unknown\"} 1\n");
  check_rendered(m,
                 "tarmac_callback_duration_seconds_count{callback="
                 "\"metrics/gauge\"} 5\n");
  check_rendered(m,
                 "tarmac_callback_duration_seconds_count{callback="
                 "\"logger/*\"} 0\n");
  tarmac_buffer_t out = TARMAC_BUFFER_INIT;
  tarmac_metrics_render(m, &out);
  tarmac_buffer_append(&out, "", 1);
  CHECK(strstr((const char *)out.data, "guest-chosen") == NULL);
  tarmac_buffer_free(&out);
}

int main(void) {
  tarmac_metrics_t *m = tarmac_metrics_new();
  tarmac_callbacks_t *r = tarmac_callbacks_new();
  CHECK(m && r);
  tarmac_metrics_include_process(m, 0);
  CHECK_EQ_INT(tarmac_callbacks_add_logging(r), 0);
  CHECK_EQ_INT(tarmac_callbacks_set_metrics(r, m), 0);
  CHECK_EQ_INT(tarmac_callbacks_add_metrics(r, m), 0); /* timed once added */
  test_json_calls(r, m);
  test_protobuf_calls(r, m);
  test_refusals(r);
  test_cap(r);
  test_durations(r, m);
  tarmac_buffer_free(&response);
  tarmac_buffer_free(&error);
  tarmac_callbacks_free(r);
  tarmac_metrics_free(m);
  TEST_EXIT();
}
