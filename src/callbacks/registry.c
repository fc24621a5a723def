/* callbacks/registry: routes kept in a small array. A lookup scans it once
 * for the exact route and, when there is none, once for the wildcard;
 * names compare by length first, then memcmp. Registries hold a few dozen
 * routes at most, so this beats hashing the three names on every call.
 * With metrics set, each route keeps the handle of its duration series, so
 * a dispatch only reads the clock twice and observes (lock-free). */
#include "callbacks/registry.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "util/clock.h"

enum { QUOTED_NAME_MAX = 128 };

typedef struct {
  const char *binding; /* start of the route's one allocation */
  size_t binding_len;
  const char *namespace_;
  size_t namespace_len;
  const char *operation; /* NULL: any operation */
  size_t operation_len;
  tarmac_callback_fn fn;
  void *data;
  tarmac_metric_series_t *duration; /* NULL without metrics */
} route_t;

typedef struct {
  void *data;
  void (*free_fn)(void *data);
} owned_t;

struct tarmac_callbacks {
  route_t *routes;
  size_t count;
  size_t cap;
  owned_t *owned;
  size_t n_owned;
  tarmac_metric_family_t *durations;  /* NULL without metrics */
  tarmac_metric_series_t *unknown;    /* callback="unknown" */
};

tarmac_callbacks_t *tarmac_callbacks_new(void) {
  return calloc(1, sizeof(tarmac_callbacks_t));
}

void tarmac_callbacks_free(tarmac_callbacks_t *registry) {
  if (!registry) return;
  for (size_t i = 0; i < registry->count; i++)
    free((char *)registry->routes[i].binding);
  free(registry->routes);
  for (size_t i = 0; i < registry->n_owned; i++)
    registry->owned[i].free_fn(registry->owned[i].data);
  free(registry->owned);
  free(registry);
}

static bool name_equals(const char *a, size_t a_len, const char *b,
                        size_t b_len) {
  return a_len == b_len && (a_len == 0 || memcmp(a, b, a_len) == 0);
}

/* The route for exactly these names; wildcard selects the route with no
 * operation (operation is then ignored). */
static const route_t *find_route(const tarmac_callbacks_t *registry,
                                 const char *binding, size_t binding_len,
                                 const char *namespace_, size_t namespace_len,
                                 bool wildcard, const char *operation,
                                 size_t operation_len) {
  for (size_t i = 0; i < registry->count; i++) {
    const route_t *route = &registry->routes[i];
    if (!name_equals(route->binding, route->binding_len, binding,
                     binding_len) ||
        !name_equals(route->namespace_, route->namespace_len, namespace_,
                     namespace_len))
      continue;
    if (wildcard ? route->operation == NULL
                 : route->operation != NULL &&
                       name_equals(route->operation, route->operation_len,
                                   operation, operation_len))
      return route;
  }
  return NULL;
}

static int grow_routes(tarmac_callbacks_t *registry) {
  if (registry->count < registry->cap) return 0;
  size_t cap = registry->cap ? registry->cap * 2 : 16;
  route_t *routes = realloc(registry->routes, cap * sizeof *routes);
  if (!routes) return -1;
  registry->routes = routes;
  registry->cap = cap;
  return 0;
}

/* Copies the three names into one allocation owned by the route. */
static int copy_names(route_t *route, const char *binding,
                      const char *namespace_, const char *operation) {
  size_t binding_len = strlen(binding), namespace_len = strlen(namespace_);
  size_t operation_len = operation ? strlen(operation) : 0;
  char *names = malloc(binding_len + namespace_len + operation_len + 3);
  if (!names) return -1;
  char *ns = names + binding_len + 1, *op = ns + namespace_len + 1;
  memcpy(names, binding, binding_len + 1);
  memcpy(ns, namespace_, namespace_len + 1);
  if (operation) memcpy(op, operation, operation_len + 1);
  route->binding = names;
  route->binding_len = binding_len;
  route->namespace_ = ns;
  route->namespace_len = namespace_len;
  route->operation = operation ? op : NULL;
  route->operation_len = operation_len;
  return 0;
}

/* The route's series, labelled "<namespace>/<operation>", the operation
 * "*" for a wildcard (names the host registered, never a guest's). */
static int route_duration_series(tarmac_callbacks_t *registry,
                                 route_t *route) {
  tarmac_buffer_t label = TARMAC_BUFFER_INIT;
  int rc = tarmac_buffer_appendf(
      &label, "%s/%s%c", route->namespace_,
      route->operation ? route->operation : "*", '\0');
  if (rc == 0) {
    const char *values[] = {(const char *)label.data};
    route->duration = tarmac_metric_series(registry->durations, values);
    rc = route->duration ? 0 : -1;
  }
  tarmac_buffer_free(&label);
  return rc;
}

int tarmac_callbacks_add(tarmac_callbacks_t *registry, const char *binding,
                         const char *namespace_, const char *operation,
                         tarmac_callback_fn fn, void *route_data) {
  if (!registry || !binding || !namespace_ || !fn) return -1;
  if (find_route(registry, binding, strlen(binding), namespace_,
                 strlen(namespace_), operation == NULL, operation,
                 operation ? strlen(operation) : 0))
    return -1;
  if (grow_routes(registry) != 0) return -1;
  route_t *route = &registry->routes[registry->count];
  if (copy_names(route, binding, namespace_, operation) != 0) return -1;
  route->fn = fn;
  route->data = route_data;
  route->duration = NULL;
  registry->count++;
  if (registry->durations && route_duration_series(registry, route) != 0)
    return -1; /* the route stays, untimed */
  return 0;
}

int tarmac_callbacks_own(tarmac_callbacks_t *registry, void *data,
                         void (*free_fn)(void *data)) {
  owned_t *owned = realloc(registry->owned,
                           (registry->n_owned + 1) * sizeof *owned);
  if (!owned) {
    free_fn(data);
    return -1;
  }
  registry->owned = owned;
  owned[registry->n_owned++] = (owned_t){data, free_fn};
  return 0;
}

int tarmac_callbacks_set_metrics(tarmac_callbacks_t *registry,
                                 tarmac_metrics_t *m) {
  static const char *const labels[] = {"callback"};
  static const char *const unknown[] = {"unknown"};
  char err[256];
  registry->durations = tarmac_metrics_family(
      m, TARMAC_METRIC_HISTOGRAM, "tarmac_callback_duration_seconds",
      "Time spent serving guests' host calls, in seconds.", labels, 1, NULL,
      0, err, sizeof err);
  if (!registry->durations) return -1;
  registry->unknown = tarmac_metric_series(registry->durations, unknown);
  if (!registry->unknown) return -1;
  for (size_t i = 0; i < registry->count; i++)
    if (route_duration_series(registry, &registry->routes[i]) != 0) return -1;
  return 0;
}

int tarmac_callbacks_append_quoted(tarmac_buffer_t *out, const char *name,
                                   size_t len) {
  static const char hex[] = "0123456789abcdef";
  size_t shown = len > QUOTED_NAME_MAX ? QUOTED_NAME_MAX : len;
  /* worst case: every byte as \xHH, two quotes, "..." */
  if (tarmac_buffer_reserve(out, shown * 4 + 5) != 0) return -1;
  char *p = (char *)out->data + out->len;
  *p++ = '"';
  for (size_t i = 0; i < shown; i++) {
    unsigned char c = (unsigned char)name[i];
    if (c == '"' || c == '\\') {
      *p++ = '\\';
      *p++ = (char)c;
    } else if (c >= 0x20 && c < 0x7f) {
      *p++ = (char)c;
    } else {
      *p++ = '\\';
      *p++ = 'x';
      *p++ = hex[c >> 4];
      *p++ = hex[c & 15];
    }
  }
  *p++ = '"';
  if (shown < len) {
    memcpy(p, "...", 3);
    p += 3;
  }
  out->len = (size_t)(p - (char *)out->data);
  return 0;
}

const char *tarmac_callbacks_quoted(const char *text, tarmac_buffer_t *buf,
                                    const char *fallback) {
  if (tarmac_callbacks_append_quoted(buf, text, strlen(text)) != 0 ||
      tarmac_buffer_append(buf, "", 1) != 0)
    return fallback;
  return (const char *)buf->data;
}

static int no_route_error(const tarmac_host_call_t *call,
                          tarmac_buffer_t *error) {
  if (tarmac_buffer_append_str(error, "no host callback for binding ") != 0 ||
      tarmac_callbacks_append_quoted(error, call->binding, call->binding_len) !=
          0 ||
      tarmac_buffer_append_str(error, ", namespace ") != 0 ||
      tarmac_callbacks_append_quoted(error, call->namespace_,
                                     call->namespace_len) != 0 ||
      tarmac_buffer_append_str(error, ", operation ") != 0)
    return -1;
  tarmac_callbacks_append_quoted(error, call->operation, call->operation_len);
  return -1;
}

int tarmac_callbacks_dispatch(const tarmac_callbacks_t *registry,
                              const tarmac_host_call_t *call,
                              tarmac_buffer_t *response,
                              tarmac_buffer_t *error) {
  const route_t *route = NULL;
  if (registry) {
    route = find_route(registry, call->binding, call->binding_len,
                       call->namespace_, call->namespace_len, false,
                       call->operation, call->operation_len);
    if (!route)
      route = find_route(registry, call->binding, call->binding_len,
                         call->namespace_, call->namespace_len, true, NULL, 0);
  }
  if (!registry || !registry->durations) {
    if (!route) return no_route_error(call, error);
    return route->fn(route->data, call, response, error) == 0 ? 0 : -1;
  }
  uint64_t started = tarmac_clock_ns();
  int rc = route ? (route->fn(route->data, call, response, error) == 0 ? 0 : -1)
                 : no_route_error(call, error);
  tarmac_metric_observe(route ? route->duration : registry->unknown,
                        (double)(tarmac_clock_ns() - started) / 1e9);
  return rc;
}
