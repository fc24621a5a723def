/* The router (src/server/router.c): literal and parameter segments,
 * preference (literal first, without hiding a parameter route that has
 * the method), 404, 405 with Allow, HEAD through GET, the default target,
 * exact matching of trailing and double slashes, duplicates, bad patterns,
 * many routes, and percent-decoding of parameter values. */
#include <stdio.h>
#include <string.h>

#include "server/router.h"
#include "test.h"

static int targets[64];
#define T(i) ((void *)&targets[i])

static tarmac_route_status_t match(const tarmac_router_t *r, const char *method,
                                   const char *path, tarmac_route_match_t *m,
                                   char *allow, size_t allow_size) {
  return tarmac_router_match(r, method, strlen(method), path, strlen(path), m,
                             allow, allow_size);
}

static void add_ok(tarmac_router_t *r, const char *method, const char *pattern,
                   void *target) {
  char err[256] = "";
  int rc = tarmac_router_add(r, method, pattern, target, err, sizeof err);
  if (rc != 0) fprintf(stderr, "add %s %s: %s\n", method, pattern, err);
  CHECK_EQ_INT(rc, 0);
}

static void test_literal_and_params(void) {
  tarmac_router_t *r = tarmac_router_new();
  add_ok(r, "GET", "/", T(0));
  add_ok(r, "GET", "/users", T(1));
  add_ok(r, "GET", "/users/:id", T(2));
  add_ok(r, "GET", "/users/me", T(3));
  add_ok(r, "PUT", "/users/:uid/posts/:post", T(4));
  tarmac_route_match_t m;
  CHECK_EQ_INT(match(r, "GET", "/", &m, NULL, 0), TARMAC_ROUTE_FOUND);
  CHECK(m.target == T(0) && m.param_count == 0);
  CHECK_EQ_INT(match(r, "GET", "/users", &m, NULL, 0), TARMAC_ROUTE_FOUND);
  CHECK(m.target == T(1));
  CHECK_EQ_INT(match(r, "GET", "/users/42", &m, NULL, 0), TARMAC_ROUTE_FOUND);
  CHECK(m.target == T(2) && m.param_count == 1);
  CHECK_BYTES(m.params[0].name, m.params[0].name_len, "id");
  CHECK_BYTES(m.params[0].value, m.params[0].value_len, "42");
  CHECK(strcmp(m.pattern, "/users/:id") == 0 && strcmp(m.method, "GET") == 0);
  /* a literal beats a parameter */
  CHECK_EQ_INT(match(r, "GET", "/users/me", &m, NULL, 0), TARMAC_ROUTE_FOUND);
  CHECK(m.target == T(3) && m.param_count == 0);
  CHECK_EQ_INT(match(r, "PUT", "/users/7/posts/x%2Fy", &m, NULL, 0),
               TARMAC_ROUTE_FOUND);
  CHECK(m.target == T(4) && m.param_count == 2);
  CHECK_BYTES(m.params[0].name, m.params[0].name_len, "uid");
  CHECK_BYTES(m.params[0].value, m.params[0].value_len, "7");
  CHECK_BYTES(m.params[1].name, m.params[1].name_len, "post");
  CHECK_BYTES(m.params[1].value, m.params[1].value_len, "x%2Fy");
  /* exact matching: no trailing slash, no empty segment, no prefix */
  CHECK_EQ_INT(match(r, "GET", "/users/", &m, NULL, 0), TARMAC_ROUTE_NOT_FOUND);
  CHECK_EQ_INT(match(r, "GET", "//users", &m, NULL, 0), TARMAC_ROUTE_NOT_FOUND);
  CHECK_EQ_INT(match(r, "GET", "/users//42", &m, NULL, 0),
               TARMAC_ROUTE_NOT_FOUND);
  CHECK_EQ_INT(match(r, "GET", "/users/42/x", &m, NULL, 0),
               TARMAC_ROUTE_NOT_FOUND);
  CHECK_EQ_INT(match(r, "GET", "/Users", &m, NULL, 0), TARMAC_ROUTE_NOT_FOUND);
  CHECK_EQ_INT(match(r, "GET", "", &m, NULL, 0), TARMAC_ROUTE_NOT_FOUND);
  CHECK_EQ_INT(match(r, "GET", "users", &m, NULL, 0), TARMAC_ROUTE_NOT_FOUND);
  /* "me" leads nowhere for /posts/...: the parameter route takes it */
  CHECK_EQ_INT(match(r, "PUT", "/users/me/posts/1", &m, NULL, 0),
               TARMAC_ROUTE_FOUND);
  CHECK(m.target == T(4) && m.param_count == 2);
  CHECK_BYTES(m.params[0].value, m.params[0].value_len, "me");
  CHECK_BYTES(m.params[1].value, m.params[1].value_len, "1");
  tarmac_router_free(r);
}

static void test_methods(void) {
  tarmac_router_t *r = tarmac_router_new();
  add_ok(r, "GET", "/a", T(1));
  add_ok(r, "POST", "/a", T(2));
  add_ok(r, "DELETE", "/b", T(3));
  add_ok(r, "HEAD", "/c", T(4));
  add_ok(r, "GET", "/c", T(5));
  tarmac_route_match_t m;
  char allow[64];
  CHECK_EQ_INT(match(r, "POST", "/a", &m, allow, sizeof allow),
               TARMAC_ROUTE_FOUND);
  CHECK(m.target == T(2));
  CHECK_EQ_INT(match(r, "PUT", "/a", &m, allow, sizeof allow),
               TARMAC_ROUTE_NOT_ALLOWED);
  CHECK(strcmp(allow, "GET, HEAD, POST") == 0);
  CHECK_EQ_INT(match(r, "GET", "/b", &m, allow, sizeof allow),
               TARMAC_ROUTE_NOT_ALLOWED);
  CHECK(strcmp(allow, "DELETE") == 0);
  /* methods are case-sensitive */
  CHECK_EQ_INT(match(r, "get", "/a", &m, allow, sizeof allow),
               TARMAC_ROUTE_NOT_ALLOWED);
  /* HEAD through GET, unless there is a HEAD route */
  CHECK_EQ_INT(match(r, "HEAD", "/a", &m, NULL, 0), TARMAC_ROUTE_FOUND);
  CHECK(m.target == T(1) && strcmp(m.method, "GET") == 0);
  CHECK_EQ_INT(match(r, "HEAD", "/c", &m, NULL, 0), TARMAC_ROUTE_FOUND);
  CHECK(m.target == T(4));
  CHECK_EQ_INT(match(r, "HEAD", "/b", &m, allow, sizeof allow),
               TARMAC_ROUTE_NOT_ALLOWED);
  CHECK_EQ_INT(match(r, "PATCH", "/c", &m, allow, sizeof allow),
               TARMAC_ROUTE_NOT_ALLOWED);
  CHECK(strcmp(allow, "HEAD, GET") == 0);
  /* a short allow buffer is cut, still terminated */
  char tiny[6];
  CHECK_EQ_INT(match(r, "PUT", "/a", &m, tiny, sizeof tiny),
               TARMAC_ROUTE_NOT_ALLOWED);
  CHECK(strlen(tiny) < sizeof tiny && strncmp(tiny, "GET", 3) == 0);
  tarmac_router_free(r);
}

/* A literal route without the method does not hide a parameter route that
 * has it; 405 lists the methods of every matching pattern. */
static void test_preference(void) {
  tarmac_router_t *r = tarmac_router_new();
  add_ok(r, "GET", "/users/me", T(1));
  add_ok(r, "DELETE", "/users/:id", T(2));
  add_ok(r, "HEAD", "/users/:id", T(3));
  add_ok(r, "GET", "/users/new", T(4));
  add_ok(r, "GET", "/users/:id/edit", T(5));
  add_ok(r, "GET", "/:a/:b/:c", T(6));
  add_ok(r, "GET", "/:a/x/:c", T(7));
  tarmac_route_match_t m;
  char allow[64];
  CHECK_EQ_INT(match(r, "DELETE", "/users/me", &m, NULL, 0),
               TARMAC_ROUTE_FOUND);
  CHECK(m.target == T(2) && m.param_count == 1);
  CHECK_BYTES(m.params[0].value, m.params[0].value_len, "me");
  CHECK_EQ_INT(match(r, "GET", "/users/me", &m, NULL, 0), TARMAC_ROUTE_FOUND);
  CHECK(m.target == T(1) && m.param_count == 0);
  /* HEAD: a HEAD route anywhere beats the preferred GET */
  CHECK_EQ_INT(match(r, "HEAD", "/users/me", &m, NULL, 0), TARMAC_ROUTE_FOUND);
  CHECK(m.target == T(3) && m.param_count == 1);
  CHECK_EQ_INT(match(r, "GET", "/users/new/edit", &m, NULL, 0),
               TARMAC_ROUTE_FOUND);
  CHECK(m.target == T(5));
  CHECK_BYTES(m.params[0].value, m.params[0].value_len, "new");
  /* parameters of an abandoned branch are dropped */
  CHECK_EQ_INT(match(r, "GET", "/q/x/z", &m, NULL, 0), TARMAC_ROUTE_FOUND);
  CHECK(m.target == T(7) && m.param_count == 2);
  CHECK_BYTES(m.params[0].name, m.params[0].name_len, "a");
  CHECK_BYTES(m.params[1].name, m.params[1].name_len, "c");
  CHECK_BYTES(m.params[1].value, m.params[1].value_len, "z");
  CHECK_EQ_INT(match(r, "GET", "/users/x/edit", &m, NULL, 0),
               TARMAC_ROUTE_FOUND);
  CHECK(m.target == T(5));
  CHECK_EQ_INT(match(r, "GET", "/users/y/z", &m, NULL, 0), TARMAC_ROUTE_FOUND);
  CHECK(m.target == T(6) && m.param_count == 3);
  CHECK_BYTES(m.params[0].value, m.params[0].value_len, "users");
  CHECK_EQ_INT(match(r, "POST", "/users/me", &m, allow, sizeof allow),
               TARMAC_ROUTE_NOT_ALLOWED);
  CHECK(strcmp(allow, "GET, DELETE, HEAD") == 0);
  tarmac_router_free(r);
}

static void test_default(void) {
  tarmac_router_t *r = tarmac_router_new();
  add_ok(r, "GET", "/a", T(1));
  tarmac_route_match_t m;
  char allow[64];
  CHECK_EQ_INT(match(r, "GET", "/nope", &m, NULL, 0), TARMAC_ROUTE_NOT_FOUND);
  tarmac_router_set_default(r, T(9));
  CHECK_EQ_INT(match(r, "PATCH", "/nope", &m, NULL, 0), TARMAC_ROUTE_FOUND);
  CHECK(m.target == T(9) && m.pattern == NULL && m.method == NULL &&
        m.param_count == 0);
  CHECK_EQ_INT(match(r, "GET", "/a/", &m, NULL, 0), TARMAC_ROUTE_FOUND);
  CHECK(m.target == T(9));
  /* a known path with another method stays 405 */
  CHECK_EQ_INT(match(r, "POST", "/a", &m, allow, sizeof allow),
               TARMAC_ROUTE_NOT_ALLOWED);
  CHECK(strcmp(allow, "GET, HEAD") == 0);
  tarmac_router_free(r);
}

static void expect_refused(tarmac_router_t *r, const char *method,
                           const char *pattern, const char *needle) {
  char err[256] = "";
  CHECK_EQ_INT(tarmac_router_add(r, method, pattern, T(0), err, sizeof err),
               -1);
  if (strstr(err, needle) == NULL)
    fprintf(stderr, "%s %s: \"%s\" lacks \"%s\"\n", method, pattern, err,
            needle);
  CHECK(strstr(err, needle) != NULL);
}

static void test_refused(void) {
  tarmac_router_t *r = tarmac_router_new();
  add_ok(r, "GET", "/users/:id", T(1));
  expect_refused(r, "GET", "/users/:uid", "already defined (as GET /users/:id)");
  expect_refused(r, "GET", "users", "does not start with '/'");
  expect_refused(r, "GET", "", "does not start with '/'");
  expect_refused(r, "GET", "/a//b", "empty segment");
  expect_refused(r, "GET", "/a/", "empty segment");
  expect_refused(r, "GET", "/a/:", "without a name");
  expect_refused(r, "GET", "/a/:x-y", "bad parameter");
  expect_refused(r, "GET", "/:x/:x", "\":x\" twice");
  expect_refused(r, "GET", "/a b", "byte 0x20");
  expect_refused(r, "GET", "/a?b", "'?'");
  expect_refused(r, "GET", "/a%2", "two hex digits");
  expect_refused(r, "GET", "/a%zz", "two hex digits");
  expect_refused(r, "G ET", "/x", "not an HTTP token");
  expect_refused(r, "", "/x", "not an HTTP token");
  char many[256] = "";
  for (int i = 0; i < 17; i++)
    snprintf(many + strlen(many), sizeof many - strlen(many), "/:p%d", i);
  expect_refused(r, "GET", many, "more than 16 parameters");
  /* still works after refusals */
  add_ok(r, "POST", "/users/:uid", T(2));
  tarmac_route_match_t m;
  CHECK_EQ_INT(match(r, "POST", "/users/5", &m, NULL, 0), TARMAC_ROUTE_FOUND);
  CHECK(m.target == T(2));
  CHECK_BYTES(m.params[0].name, m.params[0].name_len, "uid");
  tarmac_router_free(r);
}

static void test_many_routes(void) {
  tarmac_router_t *r = tarmac_router_new();
  char pattern[64], path[64];
  for (int i = 0; i < 50; i++) {
    snprintf(pattern, sizeof pattern, "/svc%d/items/:id", i);
    add_ok(r, i % 2 ? "POST" : "GET", pattern, T(i));
  }
  for (int i = 0; i < 50; i++) {
    tarmac_route_match_t m;
    snprintf(path, sizeof path, "/svc%d/items/%d", i, i * 7);
    CHECK_EQ_INT(match(r, i % 2 ? "POST" : "GET", path, &m, NULL, 0),
                 TARMAC_ROUTE_FOUND);
    CHECK(m.target == T(i));
    snprintf(pattern, sizeof pattern, "%d", i * 7);
    CHECK_BYTES(m.params[0].value, m.params[0].value_len, pattern);
  }
  tarmac_route_match_t m;
  CHECK_EQ_INT(match(r, "GET", "/svc50/items/1", &m, NULL, 0),
               TARMAC_ROUTE_NOT_FOUND);
  tarmac_router_free(r);
}

static void test_decode(void) {
  char out[32];
  size_t n = tarmac_route_decode("a%2Fb%20c%zz%4", 14, out);
  CHECK_BYTES(out, n, "a/b c%zz%4");
  n = tarmac_route_decode("%41%", 4, out);
  CHECK_BYTES(out, n, "A%");
  n = tarmac_route_decode("x+y%00", 6, out);
  CHECK_EQ_INT(n, 4);
  CHECK(memcmp(out, "x+y\0", 4) == 0);
}

int main(void) {
  test_literal_and_params();
  test_methods();
  test_preference();
  test_default();
  test_refused();
  test_many_routes();
  test_decode();
  TEST_EXIT();
}
