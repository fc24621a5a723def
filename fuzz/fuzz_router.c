/* Fuzz target: the router (src/server/router.c) and its percent-decoder.
 * Input: one byte choosing the method, then the request path (any bytes).
 * Property: against a fixed table of overlapping routes, the match agrees
 * with a model written apart over the list of patterns (not a trie): at
 * each segment keep the patterns whose literal equals the segment if there
 * are any, else those with a parameter there (literal first, no going
 * back); the path is found when a kept pattern has as many segments as the
 * path; then the method (HEAD falling back to GET) picks the route, or the
 * answer is 405 with exactly the kept patterns' methods in Allow; not found
 * goes to the default target. Parameter values are the path's segments.
 * The decoder's output equals a byte-by-byte model. */
#include "fuzz.h"
#include "server/router.h"

typedef struct {
  const char *method, *pattern;
} route_t;

static const route_t table[] = {
    {"GET", "/"},
    {"GET", "/users"},
    {"POST", "/users"},
    {"GET", "/users/:id"},
    {"DELETE", "/users/:id"},
    {"GET", "/users/me"},
    {"PUT", "/users/:id/posts/:post"},
    {"HEAD", "/users/:id/posts/:post"},
    {"GET", "/users/me/posts"},
    {"GET", "/a/b/c/d/e/f"},
    {"PATCH", "/:x/b"},
    {"GET", "/%41/:x"},
};
#define ROUTES (sizeof table / sizeof table[0])

static const char *const methods[] = {"GET", "HEAD", "POST", "PUT",
                                      "DELETE", "PATCH", "get", "OPTIONS"};

/* Segment k of a pattern (k from 0), or NULL past its end. */
static const char *pattern_segment(const char *p, unsigned k, size_t *len) {
  if (strcmp(p, "/") == 0) return NULL;
  for (p++; k > 0; k--) {
    p = strchr(p, '/');
    if (p == NULL) return NULL;
    p++;
  }
  const char *end = strchr(p, '/');
  *len = end ? (size_t)(end - p) : strlen(p);
  return p;
}

static unsigned pattern_segments(const char *p) {
  unsigned n = 0;
  size_t len;
  while (pattern_segment(p, n, &len) != NULL) n++;
  return n;
}

typedef struct {
  bool kept[ROUTES];
  unsigned segments;
} model_t;

/* Narrows the kept patterns to those that take seg at depth k. */
static void model_step(model_t *m, unsigned k, const char *seg, size_t n) {
  bool literal = false;
  for (size_t r = 0; r < ROUTES; r++) {
    size_t len;
    const char *s = m->kept[r] ? pattern_segment(table[r].pattern, k, &len)
                               : NULL;
    if (s && s[0] != ':' && len == n && memcmp(s, seg, n) == 0) literal = true;
  }
  for (size_t r = 0; r < ROUTES; r++) {
    size_t len;
    const char *s = m->kept[r] ? pattern_segment(table[r].pattern, k, &len)
                               : NULL;
    bool lit_ok = s && s[0] != ':' && len == n && memcmp(s, seg, n) == 0;
    bool param_ok = s && s[0] == ':' && n > 0;
    m->kept[r] = literal ? lit_ok : param_ok;
  }
}

static void model_walk(model_t *m, const char *path, size_t len) {
  for (size_t r = 0; r < ROUTES; r++) m->kept[r] = len > 0 && path[0] == '/';
  m->segments = 0;
  if (len <= 1) return;
  for (size_t pos = 1;; m->segments++) {
    const char *slash = memchr(path + pos, '/', len - pos);
    size_t n = slash ? (size_t)(slash - (path + pos)) : len - pos;
    model_step(m, m->segments, path + pos, n);
    if (slash == NULL) break;
    pos += n + 1;
  }
  m->segments++;
}

static int model_route(const model_t *m, const char *method) {
  for (size_t r = 0; r < ROUTES; r++)
    if (m->kept[r] && pattern_segments(table[r].pattern) == m->segments &&
        strcmp(table[r].method, method) == 0)
      return (int)r;
  return -1;
}

static bool model_path_found(const model_t *m) {
  for (size_t r = 0; r < ROUTES; r++)
    if (m->kept[r] && pattern_segments(table[r].pattern) == m->segments)
      return true;
  return false;
}

static void check_allow(const model_t *m, const char *allow) {
  for (size_t r = 0; r < ROUTES; r++) {
    if (!m->kept[r] || pattern_segments(table[r].pattern) != m->segments)
      continue;
    FUZZ_REQUIRE(strstr(allow, table[r].method) != NULL, "Allow \"%s\" lacks %s",
                 allow, table[r].method);
  }
}

static int dflt;
static tarmac_router_t *router;

static void build(void) {
  char err[256];
  router = tarmac_router_new();
  FUZZ_REQUIRE(router != NULL, "no memory");
  for (size_t r = 0; r < ROUTES; r++)
    FUZZ_REQUIRE(tarmac_router_add(router, table[r].method, table[r].pattern,
                                   (void *)&table[r], err, sizeof err) == 0,
                 "%s", err);
}

static void check_params(const tarmac_route_match_t *m, const char *path,
                         size_t len) {
  const char *pattern = m->pattern;
  unsigned p = 0;
  size_t pos = 1;
  for (unsigned k = 0; pos <= len && len > 1; k++) {
    const char *slash = memchr(path + pos, '/', len - pos);
    size_t n = slash ? (size_t)(slash - (path + pos)) : len - pos;
    size_t plen;
    const char *s = pattern_segment(pattern, k, &plen);
    FUZZ_REQUIRE(s != NULL, "path longer than %s", pattern);
    if (s[0] == ':') {
      FUZZ_REQUIRE(p < m->param_count && m->params[p].value == path + pos &&
                   m->params[p].value_len == n &&
                   m->params[p].name_len == plen - 1 &&
                   memcmp(m->params[p].name, s + 1, plen - 1) == 0,
                   "param %u of %s", p, pattern);
      p++;
    }
    if (slash == NULL) break;
    pos += n + 1;
  }
  FUZZ_REQUIRE(p == m->param_count, "%u params, %u expected", m->param_count,
               p);
}

static void check_decode(const char *path, size_t len) {
  char *out = malloc(len + 1);
  FUZZ_REQUIRE(out != NULL, "no memory");
  size_t n = tarmac_route_decode(path, len, out), w = 0;
  for (size_t i = 0; i < len; i++) {
    unsigned hi, lo;
    char pair[3] = {0};
    if (path[i] == '%' && i + 2 < len) memcpy(pair, path + i + 1, 2);
    if (path[i] == '%' && strlen(pair) == 2 && strspn(pair, "0123456789abcdefABCDEF") == 2 &&
        sscanf(pair, "%1x%1x", &hi, &lo) == 2) {
      FUZZ_REQUIRE(out[w] == (char)(hi * 16 + lo), "decoded byte %zu", w);
      i += 2;
    } else {
      FUZZ_REQUIRE(out[w] == path[i], "kept byte %zu", w);
    }
    w++;
  }
  FUZZ_REQUIRE(n == w, "decoded %zu bytes, model %zu", n, w);
  free(out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (router == NULL) build();
  if (size == 0) return 0;
  const char *method = methods[data[0] % 8];
  bool with_default = data[0] & 8;
  const char *path = (const char *)data + 1;
  size_t len = size - 1;
  tarmac_router_set_default(router, with_default ? &dflt : NULL);
  model_t model;
  model_walk(&model, path, len);
  int want = model_route(&model, method);
  if (want < 0 && strcmp(method, "HEAD") == 0) want = model_route(&model, "GET");
  tarmac_route_match_t m;
  char allow[128] = "";
  tarmac_route_status_t st = tarmac_router_match(
      router, method, strlen(method), path, len, &m, allow, sizeof allow);
  if (want >= 0) {
    FUZZ_REQUIRE(st == TARMAC_ROUTE_FOUND && m.target == &table[want],
                 "%s: want route %d, status %d", method, want, st);
    check_params(&m, path, len);
  } else if (model_path_found(&model)) {
    FUZZ_REQUIRE(st == TARMAC_ROUTE_NOT_ALLOWED, "%s: status %d, want 405",
                 method, st);
    check_allow(&model, allow);
  } else if (with_default) {
    FUZZ_REQUIRE(st == TARMAC_ROUTE_FOUND && m.target == &dflt &&
                 m.pattern == NULL, "status %d, want the default", st);
  } else {
    FUZZ_REQUIRE(st == TARMAC_ROUTE_NOT_FOUND, "status %d, want 404", st);
  }
  check_decode(path, len);
  return 0;
}
