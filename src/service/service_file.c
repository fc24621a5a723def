/* Service file reading and validation (see service_file.h and
 * docs/service-file.md). The JSON tree is walked once; every problem is
 * collected as a line ("file: where: what") and the model is only handed
 * out when there were none. Checks across the whole file (function names,
 * duplicate routes) sort, so no input makes them quadratic. */
#include "service/service_file.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "runtime/runtime.h"
#include "service/route_pattern.h"
#include "util/buffer.h"
#include "util/bytesize.h"
#include "util/duration.h"
#include "util/fdio.h"
#include "util/problems.h"

/* The limits of the server's own settings (docs/configuration.md:
 * APP_WASM_TIMEOUT, APP_WASM_MEMORY_LIMIT): a function may narrow them but
 * not leave them. */
#define TIMEOUT_MAX_MS 3600000u
#define MEMORY_MIN ((uint64_t)65536)
#define MEMORY_MAX ((uint64_t)TARMAC_RT_MAX_PAGES * 65536)
#define FREQUENCY_MAX 31536000u /* a year, in seconds */
#define RETRIES_MAX 1000000u
/* Names and paths quoted in messages are cut to keep a line readable. */
#define QUOTE_MAX 200
typedef struct {
  tarmac_problems_t problems; /* "file: where: what" each */
  const char *file;
  const char *dir; /* the file's folder with its '/', "" when none */
  size_t dir_len;
  tarmac_service_file_t *model;
  size_t function_cap, route_cap;
  bool out_of_memory;
} builder_t;

static void problem(builder_t *b, const char *where, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void problem(builder_t *b, const char *where, const char *fmt, ...) {
  char what[768];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(what, sizeof what, fmt, ap);
  va_end(ap);
  tarmac_problems_add(&b->problems, "%s: %s%s%s", b->file, where,
                      *where ? ": " : "", what);
}

/* ---- keys and typed fields ---- */

static bool key_allowed(const char *key, const char *const *allowed) {
  for (size_t i = 0; allowed[i] != NULL; i++)
    if (strcmp(key, allowed[i]) == 0) return true;
  return false;
}

/* Reports each key of obj not in allowed (NULL-terminated); `what` names
 * the object kind in the message ("a service"). */
static void check_keys(builder_t *b, const char *where, json_t *obj,
                       const char *const *allowed, const char *what) {
  const char *key;
  json_t *value;
  json_object_foreach(obj, key, value) {
    if (key_allowed(key, allowed)) continue;
    char list[256] = "";
    for (size_t i = 0; allowed[i] != NULL; i++)
      snprintf(list + strlen(list), sizeof list - strlen(list), "%s%s",
               i ? ", " : "", allowed[i]);
    problem(b, where, "unknown key \"%.*s\" (%s has: %s)", QUOTE_MAX, key,
            what, list);
  }
}

/* A required, non-empty string field: its value, or NULL (reported). */
static const char *required_string(builder_t *b, const char *where,
                                   json_t *obj, const char *key) {
  json_t *v = json_object_get(obj, key);
  if (v == NULL) {
    problem(b, where, "missing \"%s\"", key);
    return NULL;
  }
  if (!json_is_string(v) || json_string_length(v) == 0) {
    problem(b, where, "\"%s\" is not a non-empty string", key);
    return NULL;
  }
  if (strlen(json_string_value(v)) != json_string_length(v)) {
    problem(b, where, "\"%s\" holds a NUL character", key);
    return NULL;
  }
  return json_string_value(v);
}

/* An optional whole number from min to max. true and *out when present
 * and valid. */
static bool read_uint(builder_t *b, const char *where, json_t *obj,
                      const char *key, unsigned min, unsigned max,
                      unsigned *out) {
  json_t *v = json_object_get(obj, key);
  if (v == NULL) return false;
  if (!json_is_integer(v)) {
    problem(b, where, "\"%s\" is not a whole number", key);
    return false;
  }
  json_int_t n = json_integer_value(v);
  if (n < (json_int_t)min || n > (json_int_t)max) {
    problem(b, where, "\"%s\" is %lld: it must be from %u to %u", key,
            (long long)n, min, max);
    return false;
  }
  *out = (unsigned)n;
  return true;
}

/* An optional duration: text as APP_WASM_TIMEOUT ("2s", "500ms") or a
 * number of milliseconds, from min to max ms. */
static bool read_duration(builder_t *b, const char *where, json_t *obj,
                          const char *key, uint64_t min, uint64_t max,
                          uint64_t *out) {
  json_t *v = json_object_get(obj, key);
  uint64_t ms = 0;
  int rc = 0;
  if (v == NULL) return false;
  if (json_is_integer(v) && json_integer_value(v) >= 0) {
    ms = (uint64_t)json_integer_value(v);
  } else if (!json_is_string(v) ||
             (rc = tarmac_duration_parse_ms(json_string_value(v), &ms)) == -1) {
    problem(b, where, "\"%s\" is not a duration (e.g. \"500ms\", \"2s\", "
            "\"1m\" or a number of milliseconds)", key);
    return false;
  }
  if (rc != 0 || ms < min || ms > max) {
    problem(b, where, "\"%s\" is out of range: from %llu ms to %llu ms", key,
            (unsigned long long)min, (unsigned long long)max);
    return false;
  }
  *out = ms;
  return true;
}

/* "memory_limit": a byte size as APP_WASM_MEMORY_LIMIT ("64M") or a
 * number of bytes. */
static void read_memory_limit(builder_t *b, const char *where, json_t *obj,
                              uint64_t *out) {
  json_t *v = json_object_get(obj, "memory_limit");
  uint64_t bytes = 0;
  int rc = 0;
  if (v == NULL) return;
  if (json_is_integer(v) && json_integer_value(v) >= 0)
    bytes = (uint64_t)json_integer_value(v);
  else if (!json_is_string(v) ||
           (rc = tarmac_bytesize_parse(json_string_value(v), &bytes)) == -1) {
    problem(b, where, "\"memory_limit\" is not a byte size (e.g. \"64M\", "
            "\"256MiB\" or a number of bytes)");
    return;
  }
  if (rc != 0 || bytes < MEMORY_MIN || bytes > MEMORY_MAX) {
    problem(b, where, "\"memory_limit\" is out of range: from 64K to %lluK "
            "(65535 pages)", (unsigned long long)(MEMORY_MAX >> 10));
    return;
  }
  *out = bytes;
}

/* ---- functions ---- */

static char *resolve_filepath(const builder_t *b, const char *filepath) {
  if (filepath[0] == '/' || b->dir_len == 0) return strdup(filepath);
  size_t len = strlen(filepath);
  char *full = malloc(b->dir_len + len + 1);
  if (full == NULL) return NULL;
  memcpy(full, b->dir, b->dir_len);
  memcpy(full + b->dir_len, filepath, len + 1);
  return full;
}

static tarmac_service_function_t *new_function(builder_t *b,
                                               const char *service,
                                               const char *name) {
  tarmac_service_file_t *m = b->model;
  if (m->function_count == b->function_cap) {
    size_t cap = b->function_cap ? 2 * b->function_cap : 8;
    void *grown = realloc(m->functions, cap * sizeof(*m->functions));
    if (grown == NULL) return NULL;
    m->functions = grown;
    b->function_cap = cap;
  }
  tarmac_service_function_t *fn = &m->functions[m->function_count];
  *fn = (tarmac_service_function_t){.contract = TARMAC_CONTRACT_V04,
                                    .pool_wait_ms = -1,
                                    .reuse_instances = -1};
  fn->name = strdup(name);
  fn->service = strdup(service);
  m->function_count++; /* counted even half-built: free sees it */
  return fn->name && fn->service ? fn : NULL;
}

static void read_function_limits(builder_t *b, const char *where, json_t *obj,
                                 tarmac_service_function_t *fn) {
  uint64_t ms;
  read_uint(b, where, obj, "pool_size", 1, TARMAC_SERVICE_MAX_POOL_SIZE,
            &fn->pool_size);
  read_uint(b, where, obj, "max_concurrency", 1,
            TARMAC_SERVICE_MAX_CONCURRENCY, &fn->max_concurrency);
  if (read_duration(b, where, obj, "timeout", 1, TIMEOUT_MAX_MS, &ms))
    fn->timeout_ms = (unsigned)ms;
  if (read_duration(b, where, obj, "pool_wait", 0, TIMEOUT_MAX_MS, &ms))
    fn->pool_wait_ms = (int)ms;
  read_memory_limit(b, where, obj, &fn->memory_limit);
  json_t *reuse = json_object_get(obj, "reuse_instances");
  if (reuse != NULL && !json_is_boolean(reuse))
    problem(b, where, "\"reuse_instances\" is not true or false");
  else if (reuse != NULL)
    fn->reuse_instances = json_is_true(reuse);
  json_t *contract = json_object_get(obj, "contract");
  if (contract != NULL &&
      (!json_is_string(contract) ||
       tarmac_contract_parse(json_string_value(contract), &fn->contract) != 0))
    problem(b, where, "\"contract\" is not one of \"seed\", \"v0.1\", "
            "\"v0.2\", \"v0.3\", \"v0.4\"");
}

static const char *const function_keys[] = {
    "filepath", "pool_size", "contract", "timeout", "memory_limit",
    "max_concurrency", "pool_wait", "reuse_instances", NULL};

/* Adds the function to the model; its index, or -1 when out of memory. */
static long add_function(builder_t *b, const char *service, const char *name,
                         json_t *obj) {
  char where[512];
  snprintf(where, sizeof where, "service \"%.*s\", function \"%.*s\"",
           QUOTE_MAX, service, QUOTE_MAX, name);
  tarmac_service_function_t *fn = new_function(b, service, name);
  if (fn == NULL) return -1;
  if (name[0] == '\0') problem(b, where, "the function name is empty");
  if (!json_is_object(obj)) {
    problem(b, where, "not a JSON object");
    return (long)(b->model->function_count - 1);
  }
  check_keys(b, where, obj, function_keys, "a function");
  const char *filepath = required_string(b, where, obj, "filepath");
  if (filepath != NULL && (fn->filepath = resolve_filepath(b, filepath)) == NULL)
    return -1;
  read_function_limits(b, where, obj, fn);
  return (long)(b->model->function_count - 1);
}

/* ---- routes ---- */

static const char *const route_type_names[] = {"http", "scheduled_task",
                                               "init", "function"};
static const char *const http_keys[] = {"type", "function", "path", "methods",
                                        NULL};
static const char *const scheduled_keys[] = {"type", "function", "frequency",
                                             NULL};
static const char *const init_keys[] = {"type", "function", "retries",
                                        "frequency", NULL};
static const char *const function_route_keys[] = {"type", "function", NULL};
static const char *const *const route_keys[] = {http_keys, scheduled_keys,
                                                init_keys,
                                                function_route_keys};
static const char *const route_kind[] = {"an http route",
                                         "a scheduled_task route",
                                         "an init route", "a function route"};

static void route_where(const char *service, size_t position, const char *type,
                        const char *path, char *out, size_t out_size) {
  int n = snprintf(out, out_size, "service \"%.*s\", route %zu", QUOTE_MAX,
                   service, position);
  if (type != NULL && n > 0 && (size_t)n < out_size)
    snprintf(out + n, out_size - (size_t)n, " (%s%s%.*s)", type,
             path ? " " : "", QUOTE_MAX, path ? path : "");
}

static tarmac_service_route_t *new_route(builder_t *b) {
  tarmac_service_file_t *m = b->model;
  if (m->route_count == b->route_cap) {
    size_t cap = b->route_cap ? 2 * b->route_cap : 8;
    void *grown = realloc(m->routes, cap * sizeof(*m->routes));
    if (grown == NULL) return NULL;
    m->routes = grown;
    b->route_cap = cap;
  }
  tarmac_service_route_t *r = &m->routes[m->route_count++];
  *r = (tarmac_service_route_t){.function = SIZE_MAX};
  return r;
}

/* The route's type, or -1 (reported). */
static int read_route_type(builder_t *b, const char *where, json_t *obj) {
  json_t *v = json_object_get(obj, "type");
  if (v == NULL) {
    problem(b, where, "missing \"type\"");
    return -1;
  }
  if (!json_is_string(v)) {
    problem(b, where, "\"type\" is not a string");
    return -1;
  }
  for (int t = 0; t < 4; t++)
    if (strcmp(json_string_value(v), route_type_names[t]) == 0) return t;
  problem(b, where, "unknown route type \"%.*s\" (types: http, "
          "scheduled_task, init, function)", QUOTE_MAX, json_string_value(v));
  return -1;
}

static bool is_builtin_path(const char *path) {
  return strcmp(path, "/health") == 0 || strcmp(path, "/ready") == 0 ||
         strcmp(path, "/metrics") == 0;
}

static void read_path(builder_t *b, const char *where, json_t *obj,
                      tarmac_service_route_t *r) {
  json_t *v = json_object_get(obj, "path");
  char why[256];
  if (v == NULL) {
    problem(b, where, "missing \"path\"");
  } else if (!json_is_string(v)) {
    problem(b, where, "\"path\" is not a string");
  } else if (tarmac_route_pattern_check(json_string_value(v), why,
                                        sizeof why) != 0) {
    problem(b, where, "the path \"%.*s\" %s", QUOTE_MAX, json_string_value(v),
            why);
  } else if (is_builtin_path(json_string_value(v))) {
    problem(b, where, "the path \"%s\" is a built-in endpoint (/health, "
            "/ready and /metrics are answered by the server)",
            json_string_value(v));
  } else if ((r->path = strdup(json_string_value(v))) == NULL) {
    b->out_of_memory = true;
  }
}

/* One entry of "methods", upper-cased into out (16 bytes); false when
 * reported. */
static bool read_method(builder_t *b, const char *where, json_t *v, size_t i,
                        char *out) {
  if (!json_is_string(v)) {
    problem(b, where, "methods[%zu] is not a string", i);
    return false;
  }
  const char *text = json_string_value(v);
  size_t len = strlen(text);
  for (size_t k = 0; k < len && k < 15; k++)
    out[k] = (char)(text[k] >= 'a' && text[k] <= 'z' ? text[k] - 32 : text[k]);
  out[len < 15 ? len : 15] = '\0';
  if (len >= 15 || !tarmac_route_method_known(out)) {
    problem(b, where, "unknown HTTP method \"%.*s\" (methods: GET, HEAD, "
            "POST, PUT, DELETE, PATCH, OPTIONS, CONNECT, TRACE)", QUOTE_MAX,
            text);
    return false;
  }
  return true;
}

static bool has_method(const tarmac_service_route_t *r, const char *method) {
  for (size_t i = 0; i < r->method_count; i++)
    if (strcmp(r->methods[i], method) == 0) return true;
  return false;
}

static void read_methods(builder_t *b, const char *where, json_t *obj,
                         tarmac_service_route_t *r) {
  json_t *list = json_object_get(obj, "methods");
  if (list == NULL || !json_is_array(list)) {
    problem(b, where, list ? "\"methods\" is not a list" : "missing \"methods\"");
    return;
  }
  if (json_array_size(list) == 0) {
    problem(b, where, "\"methods\" is empty");
    return;
  }
  r->methods = calloc(json_array_size(list), sizeof(char *));
  if (r->methods == NULL) {
    b->out_of_memory = true;
    return;
  }
  size_t i;
  json_t *v;
  json_array_foreach(list, i, v) {
    char method[16];
    if (!read_method(b, where, v, i, method)) continue;
    if (has_method(r, method)) {
      problem(b, where, "\"methods\" lists %s twice", method);
      continue;
    }
    if ((r->methods[r->method_count] = strdup(method)) == NULL)
      b->out_of_memory = true;
    else
      r->method_count++;
  }
}

static void read_route_fields(builder_t *b, const char *where, json_t *obj,
                              tarmac_service_route_t *r) {
  switch (r->type) {
    case TARMAC_ROUTE_HTTP:
      read_path(b, where, obj, r);
      read_methods(b, where, obj, r);
      break;
    case TARMAC_ROUTE_SCHEDULED:
      if (json_object_get(obj, "frequency") == NULL)
        problem(b, where, "missing \"frequency\" (seconds between runs)");
      read_uint(b, where, obj, "frequency", 1, FREQUENCY_MAX, &r->frequency_s);
      break;
    case TARMAC_ROUTE_INIT:
      r->frequency_s = 1;
      read_uint(b, where, obj, "retries", 0, RETRIES_MAX, &r->retries);
      read_uint(b, where, obj, "frequency", 1, FREQUENCY_MAX, &r->frequency_s);
      break;
    case TARMAC_ROUTE_FUNCTION:
      break;
  }
}

/* The route's function, looked up in its service's index (name -> function
 * index); false when reported. */
static bool read_route_function(builder_t *b, const char *service,
                                const char *where, json_t *obj, json_t *index,
                                tarmac_service_route_t *r) {
  const char *name = required_string(b, where, obj, "function");
  if (name == NULL) return false;
  json_t *at = json_object_get(index, name);
  if (at == NULL) {
    problem(b, where, "the function \"%.*s\" is not defined in service "
            "\"%.*s\"", QUOTE_MAX, name, QUOTE_MAX, service);
    return false;
  }
  r->function = (size_t)json_integer_value(at);
  r->service = b->model->functions[r->function].service;
  return true;
}

static void add_route(builder_t *b, const char *service, size_t position,
                      json_t *obj, json_t *index) {
  char where[512];
  route_where(service, position, NULL, NULL, where, sizeof where);
  if (!json_is_object(obj)) {
    problem(b, where, "not a JSON object");
    return;
  }
  int type = read_route_type(b, where, obj);
  if (type < 0) {
    read_route_function(b, service, where, obj, index,
                        &(tarmac_service_route_t){0});
    return;
  }
  tarmac_service_route_t *r = new_route(b);
  if (r == NULL) {
    b->out_of_memory = true;
    return;
  }
  r->type = (tarmac_route_type_t)type;
  r->position = position;
  json_t *path = json_object_get(obj, "path");
  route_where(service, position, route_type_names[type],
              type == TARMAC_ROUTE_HTTP && json_is_string(path)
                  ? json_string_value(path) : NULL,
              where, sizeof where);
  check_keys(b, where, obj, route_keys[type], route_kind[type]);
  read_route_function(b, service, where, obj, index, r);
  read_route_fields(b, where, obj, r);
}

/* ---- services ---- */

static const char *const service_keys[] = {"name", "functions", "routes",
                                           NULL};

/* Adds the service's functions; *index gets name -> function index. */
static void add_functions(builder_t *b, const char *where, const char *key,
                          json_t *svc, json_t *index) {
  json_t *functions = json_object_get(svc, "functions");
  if (functions == NULL || !json_is_object(functions)) {
    problem(b, where, functions ? "\"functions\" is not an object"
                                : "missing \"functions\"");
    return;
  }
  if (json_object_size(functions) == 0)
    problem(b, where, "the service has no functions");
  const char *name;
  json_t *fobj;
  json_object_foreach(functions, name, fobj) {
    long at = add_function(b, key, name, fobj);
    if (at < 0 || json_object_set_new(index, name, json_integer(at)) != 0) {
      b->out_of_memory = true;
      return;
    }
  }
}

static void add_service(builder_t *b, const char *key, json_t *svc) {
  char where[256];
  snprintf(where, sizeof where, "service \"%.*s\"", QUOTE_MAX, key);
  if (!json_is_object(svc)) {
    problem(b, where, "not a JSON object");
    return;
  }
  check_keys(b, where, svc, service_keys, "a service");
  required_string(b, where, svc, "name");
  json_t *index = json_object();
  if (index == NULL) {
    b->out_of_memory = true;
    return;
  }
  add_functions(b, where, key, svc, index);
  json_t *routes = json_object_get(svc, "routes");
  if (routes != NULL && !json_is_array(routes))
    problem(b, where, "\"routes\" is not a list");
  size_t i;
  json_t *route;
  json_array_foreach(routes, i, route) add_route(b, key, i + 1, route, index);
  json_decref(index);
}

static const char *const root_keys[] = {"services", NULL};

static void add_root(builder_t *b, json_t *root) {
  if (!json_is_object(root)) {
    problem(b, "", "the top level is not a JSON object");
    return;
  }
  check_keys(b, "top level", root, root_keys, "the top level");
  json_t *services = json_object_get(root, "services");
  if (services == NULL || !json_is_object(services)) {
    problem(b, "", services ? "\"services\" is not an object"
                            : "missing \"services\"");
    return;
  }
  if (json_object_size(services) == 0) problem(b, "", "\"services\" is empty");
  const char *key;
  json_t *svc;
  json_object_foreach(services, key, svc) add_service(b, key, svc);
}

/* ---- checks across the whole file ---- */

static int compare_function_names(const void *x, const void *y, void *ctx) {
  const tarmac_service_function_t *f = ctx;
  const size_t *a = x, *c = y;
  int r = strcmp(f[*a].name, f[*c].name);
  return r ? r : (*a > *c) - (*a < *c);
}

/* host_call("tarmac", "function", name) names a function of any service:
 * a name may appear in only one. */
static void check_function_names(builder_t *b) {
  tarmac_service_file_t *m = b->model;
  if (m->function_count < 2) return;
  size_t *order = malloc(m->function_count * sizeof(*order));
  if (order == NULL) {
    b->out_of_memory = true;
    return;
  }
  for (size_t i = 0; i < m->function_count; i++) order[i] = i;
  qsort_r(order, m->function_count, sizeof(*order), compare_function_names,
          m->functions);
  for (size_t i = 1; i < m->function_count; i++) {
    const tarmac_service_function_t *first = &m->functions[order[i - 1]];
    const tarmac_service_function_t *again = &m->functions[order[i]];
    if (strcmp(first->name, again->name) != 0) continue;
    char where[512];
    snprintf(where, sizeof where, "service \"%.*s\", function \"%.*s\"",
             QUOTE_MAX, again->service, QUOTE_MAX, again->name);
    problem(b, where, "the function name is also used in service \"%.*s\" "
            "(names are global: host_call(\"tarmac\", \"function\", name) "
            "calls any of them)", QUOTE_MAX, first->service);
  }
  free(order);
}

/* One (method, path shape) of an http route. */
typedef struct {
  char *shape; /* owned */
  const char *method;
  const tarmac_service_route_t *route;
} http_key_t;

static int compare_http_keys(const void *x, const void *y) {
  const http_key_t *a = x, *c = y;
  int r = strcmp(a->shape, c->shape);
  if (r == 0) r = strcmp(a->method, c->method);
  return r ? r : (a->route > c->route) - (a->route < c->route);
}

static size_t collect_http_keys(builder_t *b, http_key_t *keys) {
  size_t n = 0;
  for (size_t i = 0; i < b->model->route_count; i++) {
    const tarmac_service_route_t *r = &b->model->routes[i];
    if (r->path == NULL) continue;
    for (size_t k = 0; k < r->method_count; k++) {
      keys[n] = (http_key_t){malloc(strlen(r->path) + 1), r->methods[k], r};
      if (keys[n].shape == NULL) {
        b->out_of_memory = true;
        break;
      }
      tarmac_route_pattern_shape(r->path, keys[n].shape, strlen(r->path) + 1);
      n++;
    }
  }
  return n;
}

static void report_duplicate(builder_t *b, const http_key_t *first,
                             const http_key_t *again) {
  char where[512];
  const tarmac_service_route_t *r = again->route;
  route_where(r->service ? r->service : "?", r->position, "http", r->path,
              where, sizeof where);
  problem(b, where, "%s %.*s is also routed by service \"%.*s\", route %zu "
          "(%.*s)", again->method, QUOTE_MAX, r->path, QUOTE_MAX,
          first->route->service ? first->route->service : "?",
          first->route->position, QUOTE_MAX, first->route->path);
}

/* No two http routes of the file may match the same method and path. */
static void check_duplicate_routes(builder_t *b) {
  size_t total = 0;
  for (size_t i = 0; i < b->model->route_count; i++)
    if (b->model->routes[i].path != NULL)
      total += b->model->routes[i].method_count;
  if (total < 2) return;
  http_key_t *keys = calloc(total, sizeof(*keys));
  if (keys == NULL) {
    b->out_of_memory = true;
    return;
  }
  size_t n = collect_http_keys(b, keys);
  qsort(keys, n, sizeof(*keys), compare_http_keys);
  for (size_t i = 1; i < n; i++)
    if (strcmp(keys[i].shape, keys[i - 1].shape) == 0 &&
        strcmp(keys[i].method, keys[i - 1].method) == 0)
      report_duplicate(b, &keys[i - 1], &keys[i]);
  for (size_t i = 0; i < n; i++) free(keys[i].shape);
  free(keys);
}

/* ---- entry points ---- */

void tarmac_service_file_free(tarmac_service_file_t *file) {
  if (file == NULL) return;
  for (size_t i = 0; i < file->function_count; i++) {
    free(file->functions[i].name);
    free(file->functions[i].service);
    free(file->functions[i].filepath);
  }
  for (size_t i = 0; i < file->route_count; i++) {
    for (size_t k = 0; k < file->routes[i].method_count; k++)
      free(file->routes[i].methods[k]);
    free(file->routes[i].methods);
    free(file->routes[i].path);
  }
  free(file->functions);
  free(file->routes);
  free(file->path);
  free(file);
}

static bool blank(const char *text, size_t len) {
  for (size_t i = 0; i < len; i++)
    if (!strchr(" \t\r\n", text[i]) || text[i] == '\0') return false;
  return true;
}

static void check_text(builder_t *b, const char *text, size_t len) {
  if (blank(text, len)) {
    problem(b, "", "the file is empty");
    return;
  }
  json_error_t jerr;
  json_t *root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
  if (root == NULL) {
    problem(b, "", "not JSON: line %d, column %d: %s", jerr.line, jerr.column,
            jerr.text);
    return;
  }
  add_root(b, root);
  json_decref(root);
  check_function_names(b);
  check_duplicate_routes(b);
}

static tarmac_service_file_t *new_model(const char *file_path,
                                        builder_t *b) {
  tarmac_service_file_t *m = calloc(1, sizeof(*m));
  if (m == NULL || (m->path = strdup(file_path)) == NULL) {
    free(m);
    return NULL;
  }
  const char *slash = strrchr(m->path, '/');
  b->dir = m->path;
  b->dir_len = slash ? (size_t)(slash - m->path) + 1 : 0;
  b->model = m;
  return m;
}

int tarmac_service_file_parse(const char *text, size_t len,
                              const char *file_path,
                              tarmac_service_file_t **out, char *err,
                              size_t err_size) {
  builder_t b = {.problems = TARMAC_PROBLEMS_INIT};
  b.file = file_path ? file_path : "tarmac.json";
  *out = NULL;
  if (new_model(b.file, &b) == NULL) {
    snprintf(err, err_size, "%s: out of memory", b.file);
    return -1;
  }
  check_text(&b, text, len);
  if (b.out_of_memory || b.problems.out_of_memory) {
    snprintf(err, err_size, "%s: out of memory", b.file);
  } else if (b.problems.count > 0) {
    tarmac_problems_write(&b.problems, err, err_size);
  } else {
    *out = b.model;
    b.model = NULL;
  }
  tarmac_problems_free(&b.problems);
  tarmac_service_file_free(b.model);
  return *out ? 0 : -1;
}

int tarmac_service_file_load(const char *path, tarmac_service_file_t **out,
                             char *err, size_t err_size) {
  tarmac_buffer_t text = TARMAC_BUFFER_INIT;
  *out = NULL;
  int rc = tarmac_read_file_or_say(path, TARMAC_SERVICE_MAX_FILE_BYTES, &text,
                                   err, err_size);
  if (rc == 0)
    rc = tarmac_service_file_parse((const char *)text.data, text.len, path,
                                   out, err, err_size);
  tarmac_buffer_free(&text);
  return rc;
}

int tarmac_contract_parse(const char *text, tarmac_contract_t *out) {
  static const struct {
    const char *name;
    tarmac_contract_t contract;
  } names[] = {{"seed", TARMAC_CONTRACT_SEED}, {"v0.1", TARMAC_CONTRACT_V01},
               {"v0.2", TARMAC_CONTRACT_V02},  {"v0.3", TARMAC_CONTRACT_V02},
               {"v0.4", TARMAC_CONTRACT_V04}};
  for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
    if (strcmp(text, names[i].name) == 0) {
      *out = names[i].contract;
      return 0;
    }
  return -1;
}

const char *tarmac_contract_name(tarmac_contract_t contract) {
  switch (contract) {
    case TARMAC_CONTRACT_SEED: return "seed";
    case TARMAC_CONTRACT_V01: return "v0.1";
    case TARMAC_CONTRACT_V02: return "v0.2";
    case TARMAC_CONTRACT_V04: return "v0.4";
  }
  return "?";
}
