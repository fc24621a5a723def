/* Fuzz target: the service file reader (src/service/service_file.c).
 * Input: the file's text. Properties: it never crashes or leaks; a refusal
 * is one or more lines each naming the file; an accepted file's model
 * keeps the documented invariants (function indices in range, a route's
 * service is its function's, names unique in the file, http paths valid
 * patterns with known, distinct, upper-case methods, frequencies >= 1,
 * limits in range) and its http routes all go into a router without a
 * duplicate: the validator and the router agree. */
#include "fuzz.h"
#include "server/router.h"
#include "service/route_pattern.h"
#include "service/service_file.h"

#define FILE_NAME "fuzz/tarmac.json"

static void check_refusal(const char *err) {
  FUZZ_REQUIRE(err[0] != '\0', "refused without a message");
  for (const char *line = err; line != NULL;) {
    FUZZ_REQUIRE(strncmp(line, FILE_NAME ": ", strlen(FILE_NAME) + 2) == 0 ||
                 strncmp(line, "... and ", 8) == 0,
                 "line does not name the file: %.80s", line);
    line = strchr(line, '\n');
    if (line) line++;
  }
}

static void check_function(const tarmac_service_file_t *f, size_t i) {
  const tarmac_service_function_t *fn = &f->functions[i];
  FUZZ_REQUIRE(fn->name && fn->service && fn->filepath && fn->filepath[0],
               "function %zu incomplete", i);
  FUZZ_REQUIRE(fn->pool_size <= TARMAC_SERVICE_MAX_POOL_SIZE &&
               fn->max_concurrency <= TARMAC_SERVICE_MAX_CONCURRENCY &&
               fn->timeout_ms <= 3600000 && fn->pool_wait_ms >= -1 &&
               fn->pool_wait_ms <= 3600000 && fn->reuse_instances >= -1 &&
               fn->reuse_instances <= 1 &&
               (fn->memory_limit == 0 || fn->memory_limit >= 65536),
               "function %s: a limit out of range", fn->name);
  for (size_t k = 0; k < i; k++)
    FUZZ_REQUIRE(strcmp(f->functions[k].name, fn->name) != 0,
                 "name %s twice", fn->name);
}

static void check_route(const tarmac_service_file_t *f, size_t i,
                        tarmac_router_t *router) {
  const tarmac_service_route_t *r = &f->routes[i];
  char err[512];
  FUZZ_REQUIRE(r->function < f->function_count && r->position >= 1 &&
               r->service == f->functions[r->function].service,
               "route %zu: bad function or service", i);
  if (r->type == TARMAC_ROUTE_SCHEDULED || r->type == TARMAC_ROUTE_INIT)
    FUZZ_REQUIRE(r->frequency_s >= 1, "route %zu: frequency 0", i);
  if (r->type != TARMAC_ROUTE_HTTP) {
    FUZZ_REQUIRE(r->path == NULL && r->method_count == 0, "route %zu", i);
    return;
  }
  FUZZ_REQUIRE(r->path && tarmac_route_pattern_check(r->path, err,
                                                     sizeof err) == 0 &&
               r->method_count > 0, "route %zu: path or methods", i);
  for (size_t k = 0; k < r->method_count; k++) {
    FUZZ_REQUIRE(tarmac_route_method_known(r->methods[k]), "method %s",
                 r->methods[k]);
    FUZZ_REQUIRE(tarmac_router_add(router, r->methods[k], r->path,
                                   (void *)r, err, sizeof err) == 0,
                 "accepted file, router refuses: %s", err);
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  tarmac_service_file_t *f = NULL;
  char err[8192];
  int rc = tarmac_service_file_parse((const char *)data, size, FILE_NAME, &f,
                                     err, sizeof err);
  if (rc != 0) {
    FUZZ_REQUIRE(f == NULL, "refused with a model");
    check_refusal(err);
    return 0;
  }
  FUZZ_REQUIRE(f != NULL && f->function_count > 0, "accepted, no functions");
  tarmac_router_t *router = tarmac_router_new();
  FUZZ_REQUIRE(router != NULL, "no memory");
  for (size_t i = 0; i < f->function_count; i++) check_function(f, i);
  for (size_t i = 0; i < f->route_count; i++) check_route(f, i, router);
  tarmac_router_free(router);
  tarmac_service_file_free(f);
  return 0;
}
