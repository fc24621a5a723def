/* Tests of tarmac/httpclient/call (callbacks/httpclient*.c) through the
 * callback registry, against real servers (tests/httpclient/server.py:
 * HTTP, HTTPS with a self-signed certificate, a port that never accepts)
 * started here: both payload encodings (the exact JSON bytes older SDKs
 * send, the protobuf of the current SDK), methods, repeated headers in and
 * out, bodies up to 1 MiB, redirects (followed, bounded, re-checked
 * against the allow-list), the body cap, connect and total timeouts, the
 * guest's deadline, a refused connection, `insecure`, connection reuse,
 * and bad input. */
#include <jansson.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <netinet/in.h>
#include <unistd.h>

#include "callbacks/encoding.h"
#include "callbacks/httpclient.h"
#include "runtime/deadline.h"
#include "test.h"
#include "util/clock.h"

static tarmac_buffer_t response, error;
static int http_port, https_port, stuck_port;
static char url[4096];

/* ---- the servers ---- */

static pid_t server_pid;
static int server_stdin = -1;

static int start_servers(void) {
  const char *src = getenv("TARMAC_SOURCE_DIR");
  char script[4096];
  snprintf(script, sizeof script, "%s/tests/httpclient/server.py",
           src ? src : ".");
  int in[2], out[2];
  if (pipe(in) != 0 || pipe(out) != 0) return -1;
  server_pid = fork();
  if (server_pid < 0) return -1;
  if (server_pid == 0) {
    dup2(in[0], 0);
    dup2(out[1], 1);
    close(in[1]);
    close(out[0]);
    execlp("python3", "python3", script, (char *)NULL);
    _exit(127);
  }
  close(in[0]);
  close(out[1]);
  server_stdin = in[1];
  FILE *f = fdopen(out[0], "r");
  char line[128];
  /* Readiness: the line comes once every socket listens. */
  int ok = f && fgets(line, sizeof line, f) &&
           sscanf(line, "READY %d %d %d", &http_port, &https_port,
                  &stuck_port) == 3;
  if (f) fclose(f);
  return ok ? 0 : -1;
}

static void stop_servers(void) {
  if (server_stdin >= 0) close(server_stdin); /* the server's cue to end */
  if (server_pid > 0) waitpid(server_pid, NULL, 0);
}

/* ---- calls ---- */

static tarmac_callbacks_t *registry_with(tarmac_httpclient_config_t config) {
  char err[256] = "";
  tarmac_callbacks_t *r = tarmac_callbacks_new();
  tarmac_httpclient_t *c = tarmac_httpclient_new(&config, err, sizeof err);
  if (!c) fprintf(stderr, "tarmac_httpclient_new: %s\n", err);
  CHECK(r != NULL && c != NULL);
  CHECK_EQ_INT(tarmac_callbacks_add_httpclient(r, c), 0);
  return r;
}

static tarmac_httpclient_config_t defaults(void) {
  return (tarmac_httpclient_config_t){
      .max_response_bytes = TARMAC_HTTPCLIENT_MAX_RESPONSE_DEFAULT,
      .connect_timeout_ms = 2000,
      .timeout_ms = 10000,
      .max_redirects = TARMAC_HTTPCLIENT_MAX_REDIRECTS_DEFAULT,
      .allow = NULL};
}

static int call(const tarmac_callbacks_t *r, const void *payload, size_t len) {
  tarmac_host_call_t c = {.binding = "tarmac", .binding_len = 6,
                          .namespace_ = "httpclient", .namespace_len = 10,
                          .operation = "call", .operation_len = 4,
                          .payload = payload, .payload_len = len};
  tarmac_buffer_clear(&response);
  tarmac_buffer_clear(&error);
  return tarmac_callbacks_dispatch(r, &c, &response, &error);
}

static int call_json(const tarmac_callbacks_t *r, const char *json) {
  return call(r, json, strlen(json));
}

static const char *at(const char *fmt, int port) {
  snprintf(url, sizeof url, fmt, port);
  return url;
}

/* The JSON reply, parsed (the caller decrefs). */
static json_t *reply_json(void) {
  json_t *j = json_loadb((const char *)response.data, response.len, 0, NULL);
  CHECK(j != NULL);
  return j;
}

static int error_has(const char *text) {
  int ok = memmem(error.data, error.len, text, strlen(text)) != NULL;
  if (!ok)
    fprintf(stderr, "error is \"%.*s\", want it to contain \"%s\"\n",
            (int)error.len, (const char *)error.data, text);
  return ok;
}

static Tarmac__HTTPClientResponse *reply_proto(void) {
  Tarmac__HTTPClientResponse *m =
      tarmac__httpclient_response__unpack(NULL, response.len, response.data);
  CHECK(m != NULL);
  return m;
}

static const Tarmac__Header *proto_header(const Tarmac__HTTPClientResponse *m,
                                          const char *name) {
  for (size_t i = 0; m && i < m->n_headers; i++)
    if (strcmp(m->headers[i]->key, name) == 0) return m->headers[i]->value;
  return NULL;
}

static uint64_t elapsed_ms(uint64_t since_ns) {
  return (tarmac_clock_ns() - since_ns) / 1000000;
}

/* ---- the tests ---- */

/* The exact JSON an older SDK sends; the reply in JSON. */
static void test_json_form(const tarmac_callbacks_t *r) {
  char json[8192];
  snprintf(json, sizeof json,
           "{\"method\":\"POST\",\"headers\":{\"X-A\":\"1\",\"X-Rep\":[\"p\","
           "\"q\"],\"Content-Type\":\"text/plain\"},\"url\":\"%s\",\"body\":"
           "\"aGVsbG8=\",\"insecure\":false}",
           at("http://127.0.0.1:%d/echo", http_port));
  CHECK_EQ_INT(call_json(r, json), 0);
  json_t *j = reply_json();
  json_t *h = json_object_get(j, "headers");
  CHECK_EQ_INT(json_integer_value(json_object_get(j, "code")), 200);
  json_t *st = json_object_get(j, "status");
  CHECK_EQ_INT(json_integer_value(json_object_get(st, "code")), 200);
  CHECK(strcmp(json_string_value(json_object_get(st, "status")), "OK") == 0);
  CHECK(strcmp(json_string_value(json_object_get(j, "body")), "aGVsbG8=") == 0);
  CHECK(strcmp(json_string_value(json_object_get(h, "X-Method")), "POST") == 0);
  CHECK(strcmp(json_string_value(json_object_get(h, "X-Got-X-A")), "1") == 0);
  CHECK(strcmp(json_string_value(json_object_get(h, "X-Got-X-Rep")), "p, q") ==
        0);
  CHECK(strcmp(json_string_value(json_object_get(h, "X-Got-Content-Type")),
               "text/plain") == 0);
  json_t *multi = json_object_get(h, "X-Multi"); /* repeated: an array */
  CHECK(json_is_array(multi) && json_array_size(multi) == 2 &&
        strcmp(json_string_value(json_array_get(multi, 1)), "b") == 0);
  CHECK(json_object_get(h, "X-Got-Expect") == NULL); /* no 100-continue */
  CHECK(strcmp(json_string_value(json_object_get(h, "X-Latin1")), "caf?") == 0);
  json_decref(j);
}

static int proto_call(const tarmac_callbacks_t *r, const char *method,
                      const char *u, const uint8_t *body, size_t body_len,
                      bool insecure) {
  Tarmac__HTTPClient m = TARMAC__HTTPCLIENT__INIT;
  char *values[] = {"v1", "v2"};
  Tarmac__Header h = TARMAC__HEADER__INIT;
  h.values = values;
  h.n_values = 2;
  Tarmac__HTTPClient__HeadersEntry e = TARMAC__HTTPCLIENT__HEADERS_ENTRY__INIT;
  e.key = "X-Two";
  e.value = &h;
  Tarmac__HTTPClient__HeadersEntry *entries[] = {&e};
  m.method = (char *)method;
  m.url = (char *)u;
  m.headers = entries;
  m.n_headers = 1;
  m.body.data = (uint8_t *)body;
  m.body.len = body_len;
  m.insecure = insecure;
  size_t len = tarmac__httpclient__get_packed_size(&m);
  uint8_t *packed = malloc(len ? len : 1);
  tarmac__httpclient__pack(&m, packed);
  int rc = call(r, packed, len);
  free(packed);
  return rc;
}

static void test_protobuf_form_and_methods(const tarmac_callbacks_t *r) {
  static const char *const methods[] = {"GET", "PUT", "DELETE", "PATCH",
                                        "OPTIONS", "PURGE", "HEAD"};
  for (size_t i = 0; i < sizeof methods / sizeof methods[0]; i++) {
    bool head = strcmp(methods[i], "HEAD") == 0;
    CHECK_EQ_INT(proto_call(r, methods[i], at("http://127.0.0.1:%d/echo",
                                               http_port),
                            (const uint8_t *)"abc", head ? 0 : 3, false),
                 0);
    Tarmac__HTTPClientResponse *m = reply_proto();
    CHECK(m && m->status && m->status->code == 200 && m->code == 200);
    const Tarmac__Header *x = proto_header(m, "X-Method");
    CHECK(x && x->n_values == 1 && strcmp(x->values[0], methods[i]) == 0);
    x = proto_header(m, "X-Got-X-Two");
    CHECK(x && x->n_values == 1 && strcmp(x->values[0], "v1, v2") == 0);
    x = proto_header(m, "X-Multi");
    CHECK(x && x->n_values == 2 && strcmp(x->values[0], "a") == 0);
    CHECK_EQ_INT(m ? m->body.len : 99, head ? 0 : 3);
    if (m) tarmac__httpclient_response__free_unpacked(m, NULL);
  }
}

static void test_big_body_and_reuse(const tarmac_callbacks_t *r) {
  size_t n = 1u << 20;
  uint8_t *big = malloc(n);
  for (size_t i = 0; i < n; i++) big[i] = (uint8_t)(i * 7);
  char port[2][16] = {"", ""};
  for (int round = 0; round < 2; round++) {
    CHECK_EQ_INT(proto_call(r, "POST", at("http://127.0.0.1:%d/echo",
                                          http_port), big, n, false),
                 0);
    Tarmac__HTTPClientResponse *m = reply_proto();
    CHECK(m && m->body.len == n && memcmp(m->body.data, big, n) == 0);
    const Tarmac__Header *p = proto_header(m, "X-Peer-Port");
    if (p && p->n_values == 1)
      snprintf(port[round], sizeof port[round], "%s", p->values[0]);
    if (m) tarmac__httpclient_response__free_unpacked(m, NULL);
  }
  /* The second call went over the first one's connection. */
  CHECK(port[0][0] != '\0' && strcmp(port[0], port[1]) == 0);
  free(big);
}

static void test_redirects(const tarmac_callbacks_t *r) {
  CHECK_EQ_INT(proto_call(r, "GET", at("http://127.0.0.1:%d/redirect/9",
                                       http_port), NULL, 0, false),
               0);
  Tarmac__HTTPClientResponse *m = reply_proto();
  CHECK(m && m->code == 200 && proto_header(m, "X-Method") != NULL);
  if (m) tarmac__httpclient_response__free_unpacked(m, NULL);
  CHECK_EQ_INT(proto_call(r, "GET", at("http://127.0.0.1:%d/redirect/10",
                                       http_port), NULL, 0, false),
               -1);
  CHECK(error_has("too many redirects (more than 10"));
  /* A redirect to another scheme is the server's fault: 502. */
  CHECK_EQ_INT(proto_call(r, "GET", at("http://127.0.0.1:%d/goto?ftp%%3A//x/",
                                       http_port), NULL, 0, false),
               -1);
  CHECK(error_has("redirect \"ftp://x/\" is not http or https"));
  m = reply_proto();
  CHECK(m && m->status && m->status->code == 502);
  if (m) tarmac__httpclient_response__free_unpacked(m, NULL);
  /* 303 turns a POST into a GET without its body. */
  CHECK_EQ_INT(proto_call(r, "POST", at("http://127.0.0.1:%d/see-other",
                                        http_port), (const uint8_t *)"x", 1,
                          false),
               0);
  m = reply_proto();
  const Tarmac__Header *x = proto_header(m, "X-Method");
  CHECK(x && strcmp(x->values[0], "GET") == 0 && m->body.len == 0);
  if (m) tarmac__httpclient_response__free_unpacked(m, NULL);
}

static void test_no_redirects(void) {
  tarmac_httpclient_config_t c = defaults();
  c.max_redirects = 0;
  tarmac_callbacks_t *r = registry_with(c);
  CHECK_EQ_INT(proto_call(r, "GET", at("http://127.0.0.1:%d/redirect/1",
                                       http_port), NULL, 0, false),
               0);
  Tarmac__HTTPClientResponse *m = reply_proto();
  const Tarmac__Header *loc = proto_header(m, "Location");
  CHECK(m && m->code == 302 && loc && strcmp(loc->values[0], "/redirect/0") == 0);
  if (m) tarmac__httpclient_response__free_unpacked(m, NULL);
  tarmac_callbacks_free(r);
}

static void test_allow_list(void) {
  tarmac_httpclient_config_t c = defaults();
  c.allow = " localhost , *.example.com";
  tarmac_callbacks_t *r = registry_with(c);
  CHECK_EQ_INT(proto_call(r, "GET", at("http://localhost:%d/echo", http_port),
                          NULL, 0, false),
               0);
  CHECK_EQ_INT(proto_call(r, "GET", at("http://127.0.0.1:%d/echo", http_port),
                          NULL, 0, false),
               -1);
  CHECK(error_has("host \"127.0.0.1\" is not allowed"));
  Tarmac__HTTPClientResponse *m = reply_proto();
  CHECK(m && m->status && m->status->code == 403);
  if (m) tarmac__httpclient_response__free_unpacked(m, NULL);
  /* A redirect off the list is refused before connecting. */
  char target[256];
  snprintf(target, sizeof target,
           "http://localhost:%d/goto?http%%3A//127.0.0.1%%3A%d/echo",
           http_port, http_port);
  CHECK_EQ_INT(proto_call(r, "GET", target, NULL, 0, false), -1);
  CHECK(error_has("host \"127.0.0.1\" is not allowed"));
  CHECK_EQ_INT(proto_call(r, "GET", "http://www.example.org/", NULL, 0, false),
               -1);
  CHECK(error_has("host \"www.example.org\" is not allowed"));
  tarmac_callbacks_free(r);
  char err[256];
  static const char *const bad[] = {"a,,b", "a*.b", "*.", "x.*.y", "*"};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    c.allow = bad[i];
    tarmac_httpclient_t *h = tarmac_httpclient_new(&c, err, sizeof err);
    CHECK(h == NULL);
    tarmac_httpclient_free(h);
  }
}

/* Matching without network (tarmac_httpclient_check). */
static void test_allow_matching(void) {
  tarmac_httpclient_config_t c = defaults();
  c.allow = "*.example.com,10.0.0.7";
  char err[256];
  tarmac_httpclient_t *h = tarmac_httpclient_new(&c, err, sizeof err);
  CHECK(h != NULL);
  static const struct {
    const char *url;
    int code;
  } cases[] = {
      {"http://a.example.com/", 200},     {"https://A.B.Example.COM:8443/x", 200},
      {"http://example.com/", 403},       {"http://badexample.com/", 403},
      {"http://a.example.com.evil/", 403}, {"http://10.0.0.7:81/", 200},
      {"http://10.0.0.70/", 403},         {"http://user@a.example.com/", 200},
  };
  for (size_t i = 0; h && i < sizeof cases / sizeof cases[0]; i++) {
    char json[512];
    snprintf(json, sizeof json, "{\"url\":\"%s\"}", cases[i].url);
    tarmac_callback_status_t st;
    int rc = tarmac_httpclient_check(h, (const uint8_t *)json, strlen(json), &st);
    if (st.code != cases[i].code)
      fprintf(stderr, "%s: %d %s\n", cases[i].url, st.code, st.text);
    CHECK_EQ_INT(st.code, cases[i].code);
    CHECK_EQ_INT(rc, cases[i].code == 200 ? 0 : -1);
  }
  tarmac_httpclient_free(h);
}

/* Credentials do not follow a redirect to another host. */
static void test_credentials_stay(void) {
  tarmac_httpclient_config_t c = defaults();
  c.allow = "localhost,127.0.0.1";
  tarmac_callbacks_t *r = registry_with(c);
  char json[512];
  snprintf(json, sizeof json,
           "{\"url\":\"http://localhost:%d/goto?http%%3A//127.0.0.1%%3A%d/"
           "echo\",\"headers\":{\"Authorization\":\"Bearer s\",\"X-Keep\":"
           "\"k\"}}",
           http_port, http_port);
  CHECK_EQ_INT(call_json(r, json), 0);
  json_t *j = reply_json();
  json_t *h = json_object_get(j, "headers");
  CHECK(json_object_get(h, "X-Got-Authorization") == NULL);
  CHECK(json_is_string(json_object_get(h, "X-Got-X-Keep")));
  json_decref(j);
  /* The same host keeps them. */
  snprintf(json, sizeof json,
           "{\"url\":\"http://localhost:%d/redirect/1\",\"headers\":"
           "{\"Authorization\":\"Bearer s\"}}",
           http_port);
  CHECK_EQ_INT(call_json(r, json), 0);
  j = reply_json();
  h = json_object_get(j, "headers");
  CHECK(json_is_string(json_object_get(h, "X-Got-Authorization")));
  json_decref(j);
  tarmac_callbacks_free(r);
}

static void test_body_cap(void) {
  tarmac_httpclient_config_t c = defaults();
  c.max_response_bytes = 1000;
  tarmac_callbacks_t *r = registry_with(c);
  CHECK_EQ_INT(proto_call(r, "GET", at("http://127.0.0.1:%d/big/1000",
                                       http_port), NULL, 0, false),
               0);
  CHECK_EQ_INT(proto_call(r, "GET", at("http://127.0.0.1:%d/big/1001",
                                       http_port), NULL, 0, false),
               -1);
  CHECK(error_has("is larger than APP_HTTP_CLIENT_MAX_RESPONSE_BODY_SIZE "
                  "(1000 bytes)"));
  /* HEAD reads no body: a large Content-Length is no reason to refuse. */
  CHECK_EQ_INT(proto_call(r, "HEAD", at("http://127.0.0.1:%d/big/1001",
                                        http_port), NULL, 0, false),
               0);
  CHECK_EQ_INT(proto_call(r, "GET", at("http://127.0.0.1:%d/stream/5000",
                                       http_port), NULL, 0, false),
               -1);
  CHECK(error_has("is larger than"));
  Tarmac__HTTPClientResponse *m = reply_proto();
  CHECK(m && m->status && m->status->code == 502 && m->body.len == 0);
  if (m) tarmac__httpclient_response__free_unpacked(m, NULL);
  tarmac_callbacks_free(r);
}

static void test_response_header_bound(const tarmac_callbacks_t *r) {
  CHECK_EQ_INT(proto_call(r, "GET", at("http://127.0.0.1:%d/headers/400",
                                       http_port), NULL, 0, false),
               0);
  Tarmac__HTTPClientResponse *m = reply_proto();
  CHECK(m && proto_header(m, "X-H-399") != NULL);
  if (m) tarmac__httpclient_response__free_unpacked(m, NULL);
  CHECK_EQ_INT(proto_call(r, "GET", at("http://127.0.0.1:%d/headers/600",
                                       http_port), NULL, 0, false),
               -1);
  CHECK(error_has("has more than 500 headers"));
}

/* Threads share the client's pool of handles. */
typedef struct {
  const tarmac_callbacks_t *registry;
  int ok;
} worker_t;

static void *worker(void *arg) {
  worker_t *w = arg;
  char json[256];
  snprintf(json, sizeof json,
           "{\"method\":\"POST\",\"url\":\"http://127.0.0.1:%d/echo\","
           "\"body\":\"aGk=\"}",
           http_port);
  tarmac_host_call_t c = {.binding = "tarmac", .binding_len = 6,
                          .namespace_ = "httpclient", .namespace_len = 10,
                          .operation = "call", .operation_len = 4,
                          .payload = (const uint8_t *)json,
                          .payload_len = strlen(json)};
  for (int i = 0; i < 25; i++) {
    tarmac_buffer_t out = TARMAC_BUFFER_INIT, err = TARMAC_BUFFER_INIT;
    if (tarmac_callbacks_dispatch(w->registry, &c, &out, &err) == 0 &&
        memmem(out.data, out.len, "\"body\":\"aGk=\"", 13) != NULL)
      w->ok++;
    tarmac_buffer_free(&out);
    tarmac_buffer_free(&err);
  }
  return NULL;
}

static void test_threads(const tarmac_callbacks_t *r) {
  enum { THREADS = 8 };
  pthread_t t[THREADS];
  worker_t w[THREADS];
  for (int i = 0; i < THREADS; i++) {
    w[i] = (worker_t){r, 0};
    CHECK_EQ_INT(pthread_create(&t[i], NULL, worker, &w[i]), 0);
  }
  for (int i = 0; i < THREADS; i++) {
    pthread_join(t[i], NULL);
    CHECK_EQ_INT(w[i].ok, 25);
  }
}

static void test_timeouts(void) {
  tarmac_httpclient_config_t c = defaults();
  c.connect_timeout_ms = 300;
  c.timeout_ms = 700;
  tarmac_callbacks_t *r = registry_with(c);
  uint64_t t0 = tarmac_clock_ns();
  CHECK_EQ_INT(proto_call(r, "GET", at("http://127.0.0.1:%d/", stuck_port),
                          NULL, 0, false),
               -1);
  CHECK(error_has("timed out"));
  CHECK(elapsed_ms(t0) < 650); /* the connect timeout, not the total */
  t0 = tarmac_clock_ns();
  CHECK_EQ_INT(proto_call(r, "GET", at("http://127.0.0.1:%d/hang", http_port),
                          NULL, 0, false),
               -1);
  CHECK(error_has("timed out"));
  uint64_t took = elapsed_ms(t0);
  CHECK(took >= 650 && took < 3000);
  Tarmac__HTTPClientResponse *m = reply_proto();
  CHECK(m && m->status && m->status->code == 504);
  if (m) tarmac__httpclient_response__free_unpacked(m, NULL);
  tarmac_callbacks_free(r);
}

/* The guest's deadline ends the wait before the client's own timeout. */
static void test_deadline(const tarmac_callbacks_t *r) {
  uint64_t t0 = tarmac_clock_ns();
  uint64_t saved = tarmac_rt_deadline_arm(400u * 1000000u);
  CHECK_EQ_INT(proto_call(r, "GET", at("http://127.0.0.1:%d/hang", http_port),
                          NULL, 0, false),
               -1);
  tarmac_rt_deadline_restore(saved);
  CHECK(error_has("timed out"));
  CHECK(elapsed_ms(t0) < 3000); /* the client's timeout is 10 s */
}

static void test_refused(const tarmac_callbacks_t *r) {
  int s = socket(AF_INET, SOCK_STREAM, 0); /* a port nobody listens on */
  struct sockaddr_in a = {.sin_family = AF_INET,
                          .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  socklen_t len = sizeof a;
  CHECK(bind(s, (struct sockaddr *)&a, sizeof a) == 0 &&
        getsockname(s, (struct sockaddr *)&a, &len) == 0);
  uint64_t t0 = tarmac_clock_ns();
  CHECK_EQ_INT(proto_call(r, "GET", at("http://127.0.0.1:%d/",
                                       ntohs(a.sin_port)), NULL, 0, false),
               -1);
  close(s);
  CHECK(error_has("failed: "));
  CHECK(elapsed_ms(t0) < 1000);
  Tarmac__HTTPClientResponse *m = reply_proto();
  CHECK(m && m->status && m->status->code == 502);
  if (m) tarmac__httpclient_response__free_unpacked(m, NULL);
}

static void test_insecure(const tarmac_callbacks_t *r) {
  const char *u = at("https://127.0.0.1:%d/echo", https_port);
  CHECK_EQ_INT(proto_call(r, "GET", u, NULL, 0, false), -1);
  CHECK(error_has("failed: "));
  CHECK_EQ_INT(proto_call(r, "GET", u, NULL, 0, true), 0);
  /* A verified call never rides the unverified call's connection. */
  CHECK_EQ_INT(proto_call(r, "GET", u, NULL, 0, false), -1);
}

static void test_bad_input(const tarmac_callbacks_t *r) {
  static const struct {
    const char *json, *want;
  } cases[] = {
      {"{\"method\":\"GE T\",\"url\":\"http://a/\"}", "method \"GE T\" is not"},
      {"{\"url\":\"\"}", "url is empty"},
      {"{\"url\":\"ftp://a/\"}", "is not http or https"},
      {"{\"url\":\"file:///etc/passwd\"}", "is not"},
      {"{\"url\":\"/relative\"}", "is not a valid absolute URL"},
      {"{\"url\":\"http://a/\",\"headers\":{\"X\":\"v\\r\\nInjected: 1\"}}",
       "header \"X\" has a CR or LF in its value"},
      {"{\"url\":\"http://a/\",\"headers\":{\"Bad Name\":\"v\"}}",
       "header name \"Bad Name\" is not an HTTP token"},
      {"{\"url\":\"http://a/\",\"body\":\"!!\"}", "neither"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    CHECK_EQ_INT(call_json(r, cases[i].json), -1);
    CHECK(error_has(cases[i].want));
    json_t *j = reply_json();
    CHECK_EQ_INT(json_integer_value(
                     json_object_get(json_object_get(j, "status"), "code")),
                 400);
    json_decref(j);
  }
}

int main(void) {
  signal(SIGPIPE, SIG_IGN);
  if (start_servers() != 0) {
    fprintf(stderr, "could not start tests/httpclient/server.py\n");
    stop_servers();
    return 1; /* a test that cannot start its server fails */
  }
  tarmac_callbacks_t *r = registry_with(defaults());
  test_json_form(r);
  test_protobuf_form_and_methods(r);
  test_big_body_and_reuse(r);
  test_redirects(r);
  test_no_redirects();
  test_allow_list();
  test_allow_matching();
  test_credentials_stay();
  test_body_cap();
  test_response_header_bound(r);
  test_threads(r);
  test_timeouts();
  test_deadline(r);
  test_refused(r);
  test_insecure(r);
  test_bad_input(r);
  tarmac_callbacks_free(r);
  tarmac_buffer_free(&response);
  tarmac_buffer_free(&error);
  stop_servers();
  TEST_EXIT();
}
