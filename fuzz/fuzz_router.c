/* Fuzz target: the router (src/server/router.c) and its percent-decoder.
 * Input: one byte choosing the method (and whether a default target is
 * set), then the request path (any bytes).
 * Property: against a fixed table of overlapping routes, the match agrees
 * with a model written apart over the list of patterns (not a trie): the
 * patterns matching the path are those with as many segments, equal
 * literals and non-empty parameter segments; among those with the method
 * (for HEAD: with HEAD, else with GET) the one preferred segment by
 * segment, literal before parameter, wins; if none has it but some match,
 * 405 with exactly their methods in Allow (HEAD after GET when no HEAD);
 * else the default target or 404. Parameter values are the path's
 * segments. The decoder's output equals a byte-by-byte model. */
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
    {"GET", "/:a/:b/:c"},
    {"POST", "/:a/x/:c"},
    {"GET", "/users/new"},
    {"GET", "/users/:id/edit"},
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

/* The path's segments (at most 64 are looked at: no pattern has more). */
typedef struct {
  const char *at[64];
  size_t len[64];
  unsigned count;
  bool valid; /* starts with '/' and has at most 64 segments */
} segments_t;

static void split(const char *path, size_t len, segments_t *s) {
  s->count = 0;
  s->valid = len > 0 && path[0] == '/';
  if (!s->valid || len == 1) return;
  for (size_t pos = 1; s->count < 64;) {
    const char *slash = memchr(path + pos, '/', len - pos);
    size_t n = slash ? (size_t)(slash - (path + pos)) : len - pos;
    s->at[s->count] = path + pos;
    s->len[s->count++] = n;
    if (slash == NULL) return;
    pos += n + 1;
  }
  s->valid = false;
}

static bool pattern_matches(const char *pattern, const segments_t *s) {
  if (!s->valid || pattern_segments(pattern) != s->count) return false;
  for (unsigned k = 0; k < s->count; k++) {
    size_t len;
    const char *seg = pattern_segment(pattern, k, &len);
    if (s->len[k] == 0) return false;
    if (seg[0] != ':' && (len != s->len[k] || memcmp(seg, s->at[k], len)))
      return false;
  }
  return true;
}

/* Whether pattern a is preferred to b: at the first segment where one is
 * literal and the other a parameter, the literal. */
static bool preferred(const char *a, const char *b) {
  size_t la, lb;
  for (unsigned k = 0;; k++) {
    const char *x = pattern_segment(a, k, &la), *y = pattern_segment(b, k, &lb);
    if (x == NULL || y == NULL) return false;
    if ((x[0] == ':') != (y[0] == ':')) return y[0] == ':';
  }
}

static int model_route(const segments_t *s, const char *method) {
  int best = -1;
  for (size_t r = 0; r < ROUTES; r++)
    if (strcmp(table[r].method, method) == 0 &&
        pattern_matches(table[r].pattern, s) &&
        (best < 0 || preferred(table[r].pattern, table[best].pattern)))
      best = (int)r;
  return best;
}

static bool model_path_found(const segments_t *s) {
  for (size_t r = 0; r < ROUTES; r++)
    if (pattern_matches(table[r].pattern, s)) return true;
  return false;
}

/* Allow holds exactly the matching patterns' methods, HEAD after GET when
 * none of them has HEAD. */
static void check_allow(const segments_t *s, const char *allow) {
  char want[256] = "";
  bool head = false, get = false;
  size_t tokens = 0;
  for (size_t r = 0; r < ROUTES; r++) {
    if (!pattern_matches(table[r].pattern, s)) continue;
    head |= strcmp(table[r].method, "HEAD") == 0;
    get |= strcmp(table[r].method, "GET") == 0;
    char token[16];
    snprintf(token, sizeof token, "%s,", table[r].method);
    if (strstr(want, token) == NULL) {
      strcat(want, token);
      tokens++;
    }
  }
  if (get && !head) tokens++;
  size_t found = 1;
  for (const char *c = allow; *c; c++) found += *c == ',';
  FUZZ_REQUIRE(found == tokens, "Allow \"%s\", want %zu methods (%s)", allow,
               tokens, want);
  for (char *tok = strtok(want, ","); tok; tok = strtok(NULL, ","))
    FUZZ_REQUIRE(strstr(allow, tok) != NULL, "Allow \"%s\" lacks %s", allow,
                 tok);
  if (get && !head)
    FUZZ_REQUIRE(strstr(allow, "GET, HEAD") != NULL, "Allow \"%s\"", allow);
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
  segments_t segments;
  split(path, len, &segments);
  int want = model_route(&segments, method);
  if (want < 0 && strcmp(method, "HEAD") == 0)
    want = model_route(&segments, "GET");
  tarmac_route_match_t m;
  char allow[128] = "";
  tarmac_route_status_t st = tarmac_router_match(
      router, method, strlen(method), path, len, &m, allow, sizeof allow);
  if (want >= 0) {
    FUZZ_REQUIRE(st == TARMAC_ROUTE_FOUND && m.target == &table[want],
                 "%s: want route %d, status %d", method, want, st);
    check_params(&m, path, len);
  } else if (model_path_found(&segments)) {
    FUZZ_REQUIRE(st == TARMAC_ROUTE_NOT_ALLOWED, "%s: status %d, want 405",
                 method, st);
    check_allow(&segments, allow);
  } else if (with_default) {
    FUZZ_REQUIRE(st == TARMAC_ROUTE_FOUND && m.target == &dflt &&
                 m.pattern == NULL, "status %d, want the default", st);
  } else {
    FUZZ_REQUIRE(st == TARMAC_ROUTE_NOT_FOUND, "status %d, want 404", st);
  }
  check_decode(path, len);
  return 0;
}
