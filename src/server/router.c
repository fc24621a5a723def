/* The route table as a segment trie (see router.h for the rules). Each node
 * is one segment position: literal children in an array sorted by (length,
 * hash, bytes) for binary search, at most one parameter child, and the routes
 * that end there, one per method. Matching is a search in order of
 * preference (below). */
#include "server/router.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define METHOD_MAX 32

typedef struct node node_t;

typedef struct {
  char *segment; /* owned */
  size_t len;
  uint32_t hash; /* segment_hash: most comparisons are of integers */
  node_t *node;
} literal_t;

typedef struct {
  char method[METHOD_MAX + 1];
  size_t method_len;
  void *target;
  char *pattern; /* owned; parameter names point into it */
  uint16_t name_at[TARMAC_ROUTER_MAX_PARAMS];
  uint16_t name_len[TARMAC_ROUTER_MAX_PARAMS];
  unsigned param_count;
} route_t;

struct node {
  literal_t *literals;
  size_t literal_count;
  node_t *param;
  route_t *routes;
  size_t route_count;
};

struct tarmac_router {
  node_t root;
  void *default_target;
};

tarmac_router_t *tarmac_router_new(void) {
  return calloc(1, sizeof(tarmac_router_t));
}

/* Frees what n holds (not n itself). Depth is bounded by the patterns'
 * segment limit. */
static void node_clear(node_t *n) {
  for (size_t i = 0; i < n->literal_count; i++) {
    node_clear(n->literals[i].node);
    free(n->literals[i].node);
    free(n->literals[i].segment);
  }
  free(n->literals);
  if (n->param != NULL) {
    node_clear(n->param);
    free(n->param);
  }
  for (size_t i = 0; i < n->route_count; i++) free(n->routes[i].pattern);
  free(n->routes);
}

void tarmac_router_free(tarmac_router_t *router) {
  if (router == NULL) return;
  node_clear(&router->root);
  free(router);
}

void tarmac_router_set_default(tarmac_router_t *router, void *target) {
  router->default_target = target;
}

/* FNV-1a: the sort key that spares most byte comparisons. Matching
 * computes it while it looks for the segment's end (next_segment). */
#define HASH_START 2166136261u
static inline uint32_t hash_step(uint32_t h, char c) {
  return (h ^ (unsigned char)c) * 16777619u;
}

static uint32_t segment_hash(const char *seg, size_t len) {
  uint32_t h = HASH_START;
  for (size_t i = 0; i < len; i++) h = hash_step(h, seg[i]);
  return h;
}

static int compare_literal(const literal_t *lit, const char *seg, size_t len,
                           uint32_t hash) {
  if (lit->len != len) return lit->len < len ? -1 : 1;
  if (lit->hash != hash) return lit->hash < hash ? -1 : 1;
  return memcmp(lit->segment, seg, len);
}

/* Index of the literal child equal to seg, or where it would be inserted
 * (*found false). */
static size_t find_literal(const node_t *n, const char *seg, size_t len,
                           uint32_t hash, bool *found) {
  size_t lo = 0, hi = n->literal_count;
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    int c = compare_literal(&n->literals[mid], seg, len, hash);
    if (c == 0) {
      *found = true;
      return mid;
    }
    if (c < 0) lo = mid + 1;
    else hi = mid;
  }
  *found = false;
  return lo;
}

static node_t *insert_literal(node_t *n, const char *seg, size_t len) {
  bool found;
  uint32_t hash = segment_hash(seg, len);
  size_t at = find_literal(n, seg, len, hash, &found);
  if (found) return n->literals[at].node;
  literal_t *grown =
      realloc(n->literals, (n->literal_count + 1) * sizeof(*grown));
  if (grown == NULL) return NULL;
  n->literals = grown;
  node_t *child = calloc(1, sizeof(*child));
  char *copy = strndup(seg, len);
  if (child == NULL || copy == NULL) {
    free(child);
    free(copy);
    return NULL;
  }
  memmove(&grown[at + 1], &grown[at],
          (n->literal_count - at) * sizeof(*grown));
  grown[at] = (literal_t){copy, len, hash, child};
  n->literal_count++;
  return child;
}

static node_t *child_for(node_t *n, const char *seg, size_t len) {
  if (!tarmac_route_pattern_is_param(seg, len))
    return insert_literal(n, seg, len);
  if (n->param == NULL) n->param = calloc(1, sizeof(node_t));
  return n->param;
}

static bool is_token(const char *s) {
  size_t len = strlen(s);
  if (len == 0 || len > METHOD_MAX) return false;
  for (size_t i = 0; i < len; i++) {
    unsigned char c = (unsigned char)s[i];
    bool alnum = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                 (c >= '0' && c <= '9');
    if (!alnum && strchr("!#$%&'*+-.^_`|~", c) == NULL) return false;
  }
  return true;
}

static const route_t *find_route(const node_t *n, const char *method,
                                 size_t method_len) {
  for (size_t i = 0; i < n->route_count; i++)
    if (n->routes[i].method_len == method_len &&
        memcmp(n->routes[i].method, method, method_len) == 0)
      return &n->routes[i];
  return NULL;
}

/* The node a valid pattern ends at, created as needed; NULL: no memory. */
static node_t *walk_pattern(node_t *root, const char *pattern, route_t *r) {
  node_t *n = root;
  for (const char *seg = pattern + 1; n != NULL && *seg != '\0';) {
    const char *end = strchr(seg, '/');
    size_t len = end ? (size_t)(end - seg) : strlen(seg);
    if (tarmac_route_pattern_is_param(seg, len)) {
      r->name_at[r->param_count] = (uint16_t)(seg + 1 - pattern);
      r->name_len[r->param_count++] = (uint16_t)(len - 1);
    }
    n = child_for(n, seg, len);
    seg = end ? end + 1 : seg + len;
  }
  return n;
}

static int add_route(node_t *n, route_t *r, char *err, size_t err_size) {
  const route_t *old = find_route(n, r->method, r->method_len);
  if (old != NULL) {
    snprintf(err, err_size, "route %s %s is already defined (as %s %s)",
             r->method, r->pattern, old->method, old->pattern);
    return -1;
  }
  route_t *grown = realloc(n->routes, (n->route_count + 1) * sizeof(*grown));
  if (grown == NULL) {
    snprintf(err, err_size, "out of memory");
    return -1;
  }
  n->routes = grown;
  grown[n->route_count++] = *r;
  return 0;
}

int tarmac_router_add(tarmac_router_t *router, const char *method,
                      const char *pattern, void *target, char *err,
                      size_t err_size) {
  char why[256];
  if (!is_token(method)) {
    snprintf(err, err_size, "route %.64s %.256s: the method is not an HTTP token",
             method, pattern);
    return -1;
  }
  if (tarmac_route_pattern_check(pattern, why, sizeof why) != 0) {
    snprintf(err, err_size, "route %s %.256s: the path %s", method, pattern,
             why);
    return -1;
  }
  route_t r = {.method_len = strlen(method), .target = target};
  memcpy(r.method, method, r.method_len + 1);
  r.pattern = strdup(pattern);
  node_t *n = r.pattern ? walk_pattern(&router->root, r.pattern, &r) : NULL;
  if (n == NULL) {
    free(r.pattern);
    snprintf(err, err_size, "out of memory");
    return -1;
  }
  if (add_route(n, &r, err, err_size) != 0) {
    free(r.pattern);
    return -1;
  }
  return 0;
}

/* Matching is a depth-first search of the trie in order of preference: at
 * each segment the literal child first, then the parameter child. The trie
 * is a tree and each node sits at one depth, so a search visits a node at
 * most once: the work is bounded by the path's length and the nodes the
 * path can reach, whatever the client sends. The common request (its
 * literal route has its method) never backtracks. */

#define PATH_END SIZE_MAX /* the position after the path's last segment */

typedef struct {
  const char *method;
  size_t method_len;
  bool head;
  const char *path;
  size_t path_len;
  tarmac_route_match_t *m;     /* parameters of the current branch */
  const route_t *get_for_head; /* HEAD: the first GET route met */
  tarmac_route_match_t *get_match; /* its parameters */
  bool path_found;             /* some node with routes matched the path */
} search_t;

/* The segment at pos: its length and hash (one pass), and where the next
 * one starts. */
static size_t next_segment(const search_t *s, size_t pos, size_t *next,
                           uint32_t *hash) {
  uint32_t h = HASH_START;
  size_t end = pos;
  for (; end < s->path_len && s->path[end] != '/'; end++)
    h = hash_step(h, s->path[end]);
  *hash = h;
  *next = end < s->path_len ? end + 1 : PATH_END;
  return end - pos;
}

static const route_t *at_end(search_t *s, const node_t *n) {
  if (n->route_count == 0) return NULL;
  s->path_found = true;
  const route_t *r = find_route(n, s->method, s->method_len);
  if (r == NULL && s->head && s->get_for_head == NULL &&
      (s->get_for_head = find_route(n, "GET", 3)) != NULL)
    *s->get_match = *s->m;
  return r;
}

/* The preferred route under n for the path from pos, with its parameters
 * left in s->m; NULL when there is none. */
static const route_t *search(search_t *s, const node_t *n, size_t pos) {
  if (pos == PATH_END) return at_end(s, n);
  uint32_t hash;
  size_t next, len = next_segment(s, pos, &next, &hash);
  if (len == 0) return NULL; /* "//" or a trailing '/' */
  bool found;
  size_t at = find_literal(n, s->path + pos, len, hash, &found);
  const route_t *r = found ? search(s, n->literals[at].node, next) : NULL;
  if (r != NULL || n->param == NULL ||
      s->m->param_count == TARMAC_ROUTER_MAX_PARAMS)
    return r;
  tarmac_route_param_t *p = &s->m->params[s->m->param_count++];
  p->value = s->path + pos;
  p->value_len = len;
  r = search(s, n->param, next);
  if (r == NULL) s->m->param_count--;
  return r;
}

/* Methods of every node matching the path, in order of preference, each
 * once (at most `cap`). */
typedef struct {
  const char *names[32];
  unsigned count;
} methods_t;

static void add_methods(methods_t *out, const node_t *n) {
  for (size_t i = 0; i < n->route_count; i++) {
    bool seen = false;
    for (unsigned k = 0; k < out->count && !seen; k++)
      seen = strcmp(out->names[k], n->routes[i].method) == 0;
    if (!seen && out->count < sizeof out->names / sizeof out->names[0])
      out->names[out->count++] = n->routes[i].method;
  }
}

static void collect_methods(const search_t *s, const node_t *n, size_t pos,
                            methods_t *out) {
  if (pos == PATH_END) {
    add_methods(out, n);
    return;
  }
  uint32_t hash;
  size_t next, len = next_segment(s, pos, &next, &hash);
  if (len == 0) return;
  bool found;
  size_t at = find_literal(n, s->path + pos, len, hash, &found);
  if (found) collect_methods(s, n->literals[at].node, next, out);
  if (n->param != NULL) collect_methods(s, n->param, next, out);
}

static void append_allow(char *allow, size_t allow_size, size_t *used,
                         const char *method) {
  int n = snprintf(allow + *used, allow_size - *used, "%s%s",
                   *used ? ", " : "", method);
  if (n > 0) *used += (size_t)n < allow_size - *used ? (size_t)n
                                                     : allow_size - *used - 1;
}

/* "GET, HEAD, POST": HEAD follows GET unless some route has HEAD. */
static void fill_allow(const search_t *s, const node_t *root, size_t start,
                       char *allow, size_t allow_size) {
  if (allow_size == 0) return;
  allow[0] = '\0';
  methods_t methods = {.count = 0};
  collect_methods(s, root, start, &methods);
  bool head_route = false;
  for (unsigned i = 0; i < methods.count; i++)
    head_route |= strcmp(methods.names[i], "HEAD") == 0;
  size_t used = 0;
  for (unsigned i = 0; i < methods.count; i++) {
    append_allow(allow, allow_size, &used, methods.names[i]);
    if (!head_route && strcmp(methods.names[i], "GET") == 0)
      append_allow(allow, allow_size, &used, "HEAD");
  }
}

static void fill_match(const route_t *r, tarmac_route_match_t *m) {
  m->target = r->target;
  m->pattern = r->pattern;
  m->method = r->method;
  for (unsigned i = 0; i < r->param_count; i++) {
    m->params[i].name = r->pattern + r->name_at[i];
    m->params[i].name_len = r->name_len[i];
  }
}

tarmac_route_status_t tarmac_router_match(const tarmac_router_t *router,
                                          const char *method,
                                          size_t method_len, const char *path,
                                          size_t path_len,
                                          tarmac_route_match_t *m, char *allow,
                                          size_t allow_size) {
  tarmac_route_match_t get_match;
  search_t s = {method, method_len,
                method_len == 4 && memcmp(method, "HEAD", 4) == 0,
                path, path_len, m, NULL, &get_match, false};
  size_t start = path_len == 1 ? PATH_END : 1;
  const route_t *r = NULL;
  m->param_count = 0;
  if (path_len > 0 && path[0] == '/') r = search(&s, &router->root, start);
  if (r == NULL && s.get_for_head != NULL) {
    *m = get_match;
    r = s.get_for_head;
  }
  if (r != NULL) {
    fill_match(r, m);
    return TARMAC_ROUTE_FOUND;
  }
  if (s.path_found) {
    fill_allow(&s, &router->root, start, allow, allow_size);
    return TARMAC_ROUTE_NOT_ALLOWED;
  }
  if (router->default_target == NULL) return TARMAC_ROUTE_NOT_FOUND;
  *m = (tarmac_route_match_t){.target = router->default_target};
  return TARMAC_ROUTE_FOUND;
}

static int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  c = (char)(c | 0x20);
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;
}

size_t tarmac_route_decode(const char *value, size_t len, char *out) {
  size_t w = 0;
  for (size_t i = 0; i < len; i++) {
    int hi, lo;
    if (value[i] == '%' && i + 2 < len &&
        (hi = hex_value(value[i + 1])) >= 0 &&
        (lo = hex_value(value[i + 2])) >= 0) {
      out[w++] = (char)(hi << 4 | lo);
      i += 2;
    } else {
      out[w++] = value[i];
    }
  }
  return w;
}
