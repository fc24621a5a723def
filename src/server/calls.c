/* host_call("tarmac", "function", name, payload): nested invocations. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/fiber.h"
#include "runtime/runtime.h"
#include "server/calls.h"

struct tarmac_calls {
  tarmac_function_t **functions;
  size_t count;
  unsigned depth_limit;
};

/* Calls nested on this thread right now. Thread-local, not per instance:
 * a chain of calls is one thread's stack of invocations. */
static _Thread_local unsigned call_depth;

static const char call_op[] = "handler";

/* The depth goes with a guest that waits on a fiber (runtime/fiber.h). */
static void swap_call_depth(void *saved) {
  unsigned mine = call_depth;
  call_depth = *(unsigned *)saved;
  *(unsigned *)saved = mine;
}

__attribute__((constructor)) static void register_call_depth(void) {
  if (tarmac_fiber_local_register(swap_call_depth, sizeof(unsigned)) != 0)
    abort(); /* the table is sized for every module's locals */
}

tarmac_calls_t *tarmac_calls_new(tarmac_function_t *const *functions,
                                 size_t count, unsigned depth_limit) {
  tarmac_calls_t *calls = calloc(1, sizeof(*calls));
  if (calls == NULL) return NULL;
  calls->functions = calloc(count ? count : 1, sizeof(*calls->functions));
  if (calls->functions == NULL) {
    free(calls);
    return NULL;
  }
  for (size_t i = 0; i < count; i++)
    if (functions[i]->callable) calls->functions[calls->count++] = functions[i];
  calls->depth_limit = depth_limit;
  return calls;
}

void tarmac_calls_free(tarmac_calls_t *calls) {
  if (calls == NULL) return;
  free(calls->functions);
  free(calls);
}

static tarmac_function_t *find(const tarmac_calls_t *calls, const char *name,
                               size_t len) {
  for (size_t i = 0; i < calls->count; i++) {
    const char *candidate = calls->functions[i]->name;
    if (strlen(candidate) == len && memcmp(candidate, name, len) == 0)
      return calls->functions[i];
  }
  return NULL;
}

typedef struct {
  const tarmac_function_t *callee;
  tarmac_buffer_t *response, *error;
  int rc;
} nested_t;

/* Copies the callee's answer out while its instance is still held. */
static void take_result(void *ctx, const tarmac_call_result_t *result) {
  nested_t *n = ctx;
  if (result->status == TARMAC_CALL_OK) {
    n->rc = tarmac_buffer_append(n->response, result->data, result->len);
    if (n->rc != 0) tarmac_buffer_append_str(n->error, "out of memory");
    return;
  }
  n->rc = -1;
  if (result->status == TARMAC_CALL_GUEST_ERROR) {
    tarmac_buffer_append(n->error, result->data, result->len);
    return;
  }
  char text[1200];
  tarmac_function_describe_failure(n->callee, result, text, sizeof text);
  tarmac_buffer_append_str(n->error, text);
}

static int refuse(tarmac_buffer_t *error, const char *prefix,
                  const tarmac_host_call_t *call, const char *suffix) {
  tarmac_buffer_append_str(error, prefix);
  tarmac_callbacks_append_quoted(error, call->operation, call->operation_len);
  tarmac_buffer_append_str(error, suffix);
  return -1;
}

static int run_nested(tarmac_function_t *callee, const tarmac_host_call_t *call,
                      tarmac_buffer_t *response, tarmac_buffer_t *error) {
  if (callee->admission != NULL && !tarmac_admission_enter(callee->admission))
    return refuse(error, "function ", call,
                  " busy: all of its invocation slots are in use "
                  "(max_concurrency)");
  nested_t n = {.callee = callee, .response = response, .error = error};
  tarmac_error_t err;
  call_depth++;
  int ran = tarmac_function_run(callee, call_op, sizeof(call_op) - 1,
                                call->payload, call->payload_len, take_result,
                                &n, &err);
  call_depth--;
  if (callee->admission != NULL) tarmac_admission_leave(callee->admission);
  if (ran != 0) {
    char text[1200];
    tarmac_function_describe_unavailable(callee, &err, text, sizeof text);
    tarmac_buffer_append_str(error, text);
    return -1;
  }
  return n.rc;
}

static int call_function(void *route_data, const tarmac_host_call_t *call,
                         tarmac_buffer_t *response, tarmac_buffer_t *error) {
  (void)route_data;
  const tarmac_function_t *caller = tarmac_function_running();
  const tarmac_calls_t *calls = caller != NULL ? caller->calls : NULL;
  tarmac_function_t *callee =
      calls != NULL ? find(calls, call->operation, call->operation_len) : NULL;
  if (callee == NULL)
    return refuse(error, "no function ", call,
                  " to call: it needs a route of type \"function\"");
  if (call_depth >= calls->depth_limit) {
    char text[160];
    snprintf(text, sizeof text,
             " not called: calls nested %u deep reach the limit "
             "(APP_WASM_CALL_DEPTH_LIMIT=%u)",
             call_depth + 1, calls->depth_limit);
    return refuse(error, "function ", call, text);
  }
  return run_nested(callee, call, response, error);
}

int tarmac_calls_register(tarmac_callbacks_t *registry) {
  return tarmac_callbacks_add(registry, "tarmac", "function", NULL,
                              call_function, NULL);
}
