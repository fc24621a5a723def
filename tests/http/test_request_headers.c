/* Unit tests of request headers: the APP_MAX_HEADER_COUNT setting
 * (server/config.c), and the request envelope's header merging
 * (server/envelope.c):
 * repeated names, whatever their case, are joined with ", " in arrival
 * order under the first occurrence, and names appear in order of first
 * appearance. Checked against a plain quadratic reference on requests of
 * every size up to past the on-stack limit of the merge (128 headers), so
 * both the inline and the allocated paths are covered. */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server/config.h"
#include "server/envelope.h"
#include "test.h"

/* name variants and their canonical form in the envelope */
static const char *const variants[][2] = {
    {"x-a", "X-A"},       {"X-A", "X-A"},       {"x-A", "X-A"},
    {"accept", "Accept"}, {"ACCEPT", "Accept"}, {"x-b-c", "X-B-C"},
    {"X-b-C", "X-B-C"},   {"cookie", "Cookie"}, {"z", "Z"},
    {"zz", "Zz"},         {"x-aa", "X-Aa"},     {"x-b", "X-B"},
};
#define VARIANTS (sizeof(variants) / sizeof(variants[0]))

static bool same_canonical(size_t a, size_t b) {
  return strcmp(variants[a][1], variants[b][1]) == 0;
}

/* The "headers" members the envelope must start with, built the slow way. */
static void expected_headers(const size_t *pick, const char (*values)[16],
                             size_t n, tarmac_buffer_t *out) {
  bool first = true;
  for (size_t i = 0; i < n; i++) {
    bool seen = false;
    for (size_t j = 0; j < i && !seen; j++)
      seen = same_canonical(pick[j], pick[i]);
    if (seen) continue;
    tarmac_buffer_appendf(out, "%s\"%s\":\"%s", first ? "" : ",",
                          variants[pick[i]][1], values[i]);
    first = false;
    for (size_t j = i + 1; j < n; j++)
      if (same_canonical(pick[j], pick[i]))
        tarmac_buffer_appendf(out, ", %s", values[j]);
    tarmac_buffer_append(out, "\"", 1);
  }
}

static void check_request(size_t n, unsigned seed) {
  size_t *pick = calloc(n + 1, sizeof(*pick));
  char(*values)[16] = calloc(n + 1, sizeof(*values));
  tarmac_http_header_t *headers = calloc(n + 1, sizeof(*headers));
  CHECK(pick != NULL && values != NULL && headers != NULL);
  if (pick == NULL || values == NULL || headers == NULL) goto done;
  srand(seed);
  for (size_t i = 0; i < n; i++) {
    pick[i] = (size_t)rand() % VARIANTS;
    snprintf(values[i], sizeof(values[i]), "v%zu", i);
    headers[i] = (tarmac_http_header_t){variants[pick[i]][0],
                                        strlen(variants[pick[i]][0]), values[i],
                                        strlen(values[i])};
  }
  tarmac_http_request_t req = {.method = "GET",
                               .method_len = 3,
                               .path = "/",
                               .path_len = 1,
                               .query = "",
                               .remote_addr = "127.0.0.1:1",
                               .headers = headers,
                               .header_count = n,
                               .protocol = "HTTP/2"};
  tarmac_buffer_t want = TARMAC_BUFFER_INIT, got = TARMAC_BUFFER_INIT;
  tarmac_buffer_append_str(&want, "{\"headers\":{");
  expected_headers(pick, (const char(*)[16])values, n, &want);
  CHECK_EQ_INT(tarmac_envelope_request(&req, &got), 0);
  bool match =
      got.len >= want.len && memcmp(got.data, want.data, want.len) == 0;
  CHECK(match);
  if (!match)
    fprintf(stderr, "n=%zu seed=%u\n want %.*s\n got  %.*s\n", n, seed,
            (int)want.len, (const char *)want.data, (int)got.len,
            (const char *)got.data);
  tarmac_buffer_free(&want);
  tarmac_buffer_free(&got);
done:
  free(pick);
  free(values);
  free(headers);
}

static void test_header_count_setting(void) {
  char err[512];
  tarmac_server_config_t c;
  unsetenv("APP_MAX_HEADER_COUNT");
  CHECK_EQ_INT(tarmac_server_config_load(&c, err, sizeof(err)), 0);
  CHECK_EQ_INT(c.max_header_count, 64);
  setenv("APP_MAX_HEADER_COUNT", "20000", 1);
  CHECK_EQ_INT(tarmac_server_config_load(&c, err, sizeof(err)), 0);
  CHECK_EQ_INT(c.max_header_count, 20000);
  const char *bad[] = {"0", "100001", "-1", "many"};
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    setenv("APP_MAX_HEADER_COUNT", bad[i], 1);
    CHECK_EQ_INT(tarmac_server_config_load(&c, err, sizeof(err)), -1);
    CHECK(strstr(err, "APP_MAX_HEADER_COUNT") != NULL);
  }
  unsetenv("APP_MAX_HEADER_COUNT");
}

int main(void) {
  test_header_count_setting();
  for (size_t n = 0; n <= 300; n += n < 20 ? 1 : 37)
    for (unsigned seed = 1; seed <= 3; seed++) check_request(n, seed);
  check_request(129, 7); /* just past the inline arrays */
  check_request(128, 7);
  TEST_EXIT();
}
