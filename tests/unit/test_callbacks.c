/* Unit tests of src/callbacks: route matching (exact, wildcard, exact over
 * wildcard), duplicates, the no-route error with hostile names, and the
 * tarmac/logging and tarmac/logger host calls (their log lines are read
 * back through a pipe). */
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "callbacks/registry.h"
#include "log/log.h"
#include "test.h"

/* Replies with the route's data (a string) followed by the operation. */
static int echo_route(void *route_data, const tarmac_host_call_t *call,
                      tarmac_buffer_t *response, tarmac_buffer_t *error) {
  if (tarmac_buffer_append_str(response, route_data) != 0 ||
      tarmac_buffer_append(response, ":", 1) != 0 ||
      tarmac_buffer_append(response, call->operation, call->operation_len) != 0)
    return -1;
  return 0;
}

static int failing_route(void *route_data, const tarmac_host_call_t *call,
                         tarmac_buffer_t *response, tarmac_buffer_t *error) {
  tarmac_buffer_append_str(error, "it failed");
  return 7; /* any non-zero is a failure */
}

static tarmac_host_call_t make_call(const char *binding, size_t binding_len,
                                    const char *namespace_,
                                    size_t namespace_len, const char *operation,
                                    size_t operation_len) {
  tarmac_host_call_t call = {
      .binding = binding,
      .binding_len = binding_len,
      .namespace_ = namespace_,
      .namespace_len = namespace_len,
      .operation = operation,
      .operation_len = operation_len,
      .payload = (const uint8_t *)"payload",
      .payload_len = 7,
  };
  return call;
}

#define CALL(b, n, o) make_call(b, strlen(b), n, strlen(n), o, strlen(o))

/* Dispatches and returns the result; the reply or error lands in out. */
static int dispatch(const tarmac_callbacks_t *registry,
                    tarmac_host_call_t call, tarmac_buffer_t *out) {
  tarmac_buffer_t response = TARMAC_BUFFER_INIT, error = TARMAC_BUFFER_INIT;
  int rc = tarmac_callbacks_dispatch(registry, &call, &response, &error);
  tarmac_buffer_t *keep = rc == 0 ? &response : &error;
  tarmac_buffer_set(out, keep->data, keep->len);
  CHECK_EQ_INT((rc == 0 ? &error : &response)->len, 0);
  tarmac_buffer_free(&response);
  tarmac_buffer_free(&error);
  return rc;
}

static void test_routes(void) {
  tarmac_callbacks_t *registry = tarmac_callbacks_new();
  CHECK(registry != NULL);
  CHECK_EQ_INT(tarmac_callbacks_add(registry, "tarmac", "kvstore", "get",
                                    echo_route, "get"), 0);
  CHECK_EQ_INT(tarmac_callbacks_add(registry, "tarmac", "kvstore", NULL,
                                    echo_route, "any"), 0);
  CHECK_EQ_INT(tarmac_callbacks_add(registry, "tarmac", "kvstore", "set",
                                    echo_route, "set"), 0);
  CHECK_EQ_INT(tarmac_callbacks_add(registry, "tarmac", "kv", "get",
                                    echo_route, "short"), 0);
  CHECK_EQ_INT(tarmac_callbacks_add(registry, "other", "kvstore", "get",
                                    echo_route, "other"), 0);
  CHECK_EQ_INT(tarmac_callbacks_add(registry, "tarmac", "broken", "x",
                                    failing_route, NULL), 0);
  /* duplicates, exact and wildcard */
  CHECK_EQ_INT(tarmac_callbacks_add(registry, "tarmac", "kvstore", "get",
                                    echo_route, "again"), -1);
  CHECK_EQ_INT(tarmac_callbacks_add(registry, "tarmac", "kvstore", NULL,
                                    echo_route, "again"), -1);
  /* missing names or function */
  CHECK_EQ_INT(tarmac_callbacks_add(registry, NULL, "a", "b", echo_route, ""),
               -1);
  CHECK_EQ_INT(tarmac_callbacks_add(registry, "a", NULL, "b", echo_route, ""),
               -1);
  CHECK_EQ_INT(tarmac_callbacks_add(registry, "a", "b", "c", NULL, ""), -1);
  CHECK_EQ_INT(tarmac_callbacks_add(NULL, "a", "b", "c", echo_route, ""), -1);

  static const struct {
    const char *binding, *namespace_, *operation, *reply;
  } served[] = {
      {"tarmac", "kvstore", "get", "get:get"},
      {"tarmac", "kvstore", "set", "set:set"},
      {"tarmac", "kvstore", "keys", "any:keys"}, /* wildcard */
      {"tarmac", "kvstore", "", "any:"},
      {"tarmac", "kv", "get", "short:get"},
      {"other", "kvstore", "get", "other:get"},
  };
  tarmac_buffer_t out = TARMAC_BUFFER_INIT;
  for (size_t i = 0; i < sizeof served / sizeof served[0]; i++) {
    CHECK_EQ_INT(dispatch(registry,
                          CALL(served[i].binding, served[i].namespace_,
                               served[i].operation),
                          &out),
                 0);
    CHECK_BYTES(out.data, out.len, served[i].reply);
  }
  /* a name with the right prefix is not a match */
  CHECK_EQ_INT(
      dispatch(registry, make_call("tarmac", 6, "kvstore", 7, "gets", 3), &out),
      0);
  CHECK_BYTES(out.data, out.len, "get:get");
  CHECK_EQ_INT(dispatch(registry, CALL("tarmac", "kvstor", "get"), &out), -1);
  CHECK_BYTES(out.data, out.len,
              "no host callback for binding \"tarmac\", namespace \"kvstor\", "
              "operation \"get\"");
  CHECK_EQ_INT(dispatch(registry, CALL("other", "kvstore", "set"), &out), -1);
  CHECK_BYTES(out.data, out.len,
              "no host callback for binding \"other\", namespace \"kvstore\", "
              "operation \"set\"");
  CHECK_EQ_INT(dispatch(registry, CALL("tarmac", "broken", "x"), &out), -1);
  CHECK_BYTES(out.data, out.len, "it failed");
  CHECK_EQ_INT(dispatch(NULL, CALL("tarmac", "kvstore", "get"), &out), -1);
  CHECK_BYTES(out.data, out.len,
              "no host callback for binding \"tarmac\", namespace \"kvstore\", "
              "operation \"get\"");
  tarmac_buffer_free(&out);
  tarmac_callbacks_free(registry);
  tarmac_callbacks_free(NULL);
}

static void test_many_routes(void) {
  tarmac_callbacks_t *registry = tarmac_callbacks_new();
  char op[16];
  for (int i = 0; i < 100; i++) {
    snprintf(op, sizeof op, "op%d", i);
    CHECK_EQ_INT(tarmac_callbacks_add(registry, "b", "n", op, echo_route, "m"),
                 0);
  }
  tarmac_buffer_t out = TARMAC_BUFFER_INIT;
  CHECK_EQ_INT(dispatch(registry, CALL("b", "n", "op99"), &out), 0);
  CHECK_BYTES(out.data, out.len, "m:op99");
  CHECK_EQ_INT(dispatch(registry, CALL("b", "n", "op100"), &out), -1);
  tarmac_buffer_free(&out);
  tarmac_callbacks_free(registry);
}

static void test_hostile_names(void) {
  tarmac_buffer_t out = TARMAC_BUFFER_INIT;
  /* quote, backslash, newline, NUL and non-ASCII bytes are escaped */
  CHECK_EQ_INT(dispatch(NULL, make_call("a\"b\\", 4, "n\n\0m", 4, "\xff\xc3\xa9",
                                        3),
                        &out),
               -1);
  CHECK_BYTES(out.data, out.len,
              "no host callback for binding \"a\\\"b\\\\\", namespace "
              "\"n\\x0a\\x00m\", operation \"\\xff\\xc3\\xa9\"");
  /* empty names from a NULL pointer */
  CHECK_EQ_INT(dispatch(NULL, make_call(NULL, 0, NULL, 0, NULL, 0), &out), -1);
  CHECK_BYTES(out.data, out.len,
              "no host callback for binding \"\", namespace \"\", operation "
              "\"\"");
  /* long names are cut at 128 bytes */
  char name[5000];
  memset(name, 'x', sizeof name);
  CHECK_EQ_INT(dispatch(NULL, make_call("b", 1, "n", 1, name, sizeof name),
                        &out),
               -1);
  static const char head[] =
      "no host callback for binding \"b\", namespace \"n\", operation \"";
  CHECK_EQ_INT(out.len, strlen(head) + 128 + 4);
  CHECK(out.len > 4 && memcmp(out.data + out.len - 4, "\"...", 4) == 0);
  /* exactly 128 bytes: not cut */
  tarmac_buffer_clear(&out);
  CHECK_EQ_INT(tarmac_callbacks_append_quoted(&out, name, 128), 0);
  CHECK_EQ_INT(out.len, 130);
  CHECK_EQ_INT(out.data[129], '"');
  tarmac_buffer_free(&out);
}

/* ---- logging callbacks ---- */

static int log_pipe[2];

/* Everything logged so far (the pipe is non-blocking on the read side). */
static void read_logged(tarmac_buffer_t *into) {
  tarmac_buffer_clear(into);
  char chunk[4096];
  ssize_t n;
  while ((n = read(log_pipe[0], chunk, sizeof chunk)) > 0)
    tarmac_buffer_append(into, chunk, (size_t)n);
}

/* Checks that `logged` is one JSON line with this level, msg and function. */
static void check_logged(const tarmac_buffer_t *logged, const char *level,
                         const char *msg, const char *function) {
  json_t *record = json_loadb((const char *)logged->data, logged->len, 0, NULL);
  CHECK(json_is_object(record));
  CHECK(logged->len > 0 && logged->data[logged->len - 1] == '\n');
  json_t *got_level = json_object_get(record, "level");
  json_t *got_msg = json_object_get(record, "msg");
  json_t *got_function = json_object_get(record, "function");
  CHECK(got_level && strcmp(json_string_value(got_level), level) == 0);
  CHECK(got_msg && strcmp(json_string_value(got_msg), msg) == 0);
  if (function)
    CHECK(got_function && strcmp(json_string_value(got_function), function) == 0);
  else
    CHECK(got_function == NULL);
  json_decref(record);
}

static void test_logging_callbacks(void) {
  CHECK_EQ_INT(pipe(log_pipe), 0);
  CHECK_EQ_INT(fcntl(log_pipe[0], F_SETFL, O_NONBLOCK), 0);
  tarmac_log_config_t config = {log_pipe[1], TARMAC_LOG_DEBUG, false};
  tarmac_log_configure(&config);

  tarmac_callbacks_t *registry = tarmac_callbacks_new();
  CHECK_EQ_INT(tarmac_callbacks_add_logging(registry), 0);
  CHECK_EQ_INT(tarmac_callbacks_add_logging(registry), -1);

  tarmac_buffer_t out = TARMAC_BUFFER_INIT, logged = TARMAC_BUFFER_INIT;
  tarmac_host_call_t call = CALL("tarmac", "logging", "Debug");
  call.payload = (const uint8_t *)"hello \"guest\"\n";
  call.payload_len = 14;
  call.function_name = "greeter";
  CHECK_EQ_INT(dispatch(registry, call, &out), 0);
  CHECK_EQ_INT(out.len, 0);
  read_logged(&logged);
  check_logged(&logged, "debug", "hello \"guest\"\n", "greeter");

  call = CALL("tarmac", "logger", "warning");
  CHECK_EQ_INT(dispatch(registry, call, &out), 0);
  read_logged(&logged);
  check_logged(&logged, "warn", "payload", NULL);

  call = CALL("tarmac", "logger", "ERROR");
  call.payload = NULL;
  call.payload_len = 0;
  CHECK_EQ_INT(dispatch(registry, call, &out), 0);
  read_logged(&logged);
  check_logged(&logged, "error", "", NULL);

  /* below the configured level: accepted, nothing written */
  call = CALL("tarmac", "logger", "trace");
  CHECK_EQ_INT(dispatch(registry, call, &out), 0);
  read_logged(&logged);
  CHECK_EQ_INT(logged.len, 0);

  CHECK_EQ_INT(dispatch(registry, CALL("tarmac", "logger", "Verbose"), &out),
               -1);
  CHECK_BYTES(out.data, out.len, "unknown log level \"Verbose\"");
  CHECK_EQ_INT(dispatch(registry, make_call("tarmac", 6, "logging", 7,
                                            "info\n", 5),
                        &out),
               -1);
  CHECK_BYTES(out.data, out.len, "unknown log level \"info\\x0a\"");
  read_logged(&logged);
  CHECK_EQ_INT(logged.len, 0);
  CHECK_EQ_INT(dispatch(registry, CALL("tarmac", "loggers", "info"), &out), -1);

  tarmac_buffer_free(&out);
  tarmac_buffer_free(&logged);
  tarmac_callbacks_free(registry);
  tarmac_log_configure(NULL);
  close(log_pipe[0]);
  close(log_pipe[1]);
}

int main(void) {
  test_routes();
  test_many_routes();
  test_hostile_names();
  test_logging_callbacks();
  TEST_EXIT();
}
