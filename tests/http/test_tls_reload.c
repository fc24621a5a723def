/* Certificate reload (tarmac_http_server_reload_tls) on a server run in
 * this process, with certificates made here by the OpenSSL API in a
 * temporary folder: new connections see the new certificate (checked by
 * the peer certificate's subject), a connection opened before keeps
 * working, a mismatched key or a missing file is refused with a clear
 * error and the previous certificate stays; the client CA file reloads
 * too; and handshakes running while the files and the bundle change under
 * them never see a half-swapped certificate and key. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "http/http.h"
#include "test.h"

static char dir[] = "/tmp/tarmac-tls-reload-XXXXXX";

/* ------------------------------------------------------ certificates */

typedef struct {
  X509 *cert;
  EVP_PKEY *key;
} identity_t;

static void add_extension(X509 *cert, X509 *issuer, int nid,
                          const char *value) {
  X509V3_CTX ctx;
  X509V3_set_ctx(&ctx, issuer, cert, NULL, NULL, 0);
  X509_EXTENSION *ext = X509V3_EXT_conf_nid(NULL, &ctx, nid, value);
  CHECK(ext != NULL && X509_add_ext(cert, ext, -1) == 1);
  X509_EXTENSION_free(ext);
}

/* A certificate for CN=cn, valid from an hour ago for a day; self-signed
 * when issuer is NULL. */
static identity_t make_identity(const char *cn, const identity_t *issuer,
                                bool ca) {
  static long serial = 1;
  identity_t id = {X509_new(), EVP_EC_gen("P-256")};
  CHECK(id.cert != NULL && id.key != NULL);
  X509 *x = id.cert;
  X509_set_version(x, 2);
  ASN1_INTEGER_set(X509_get_serialNumber(x), serial++);
  X509_gmtime_adj(X509_getm_notBefore(x), -3600);
  X509_gmtime_adj(X509_getm_notAfter(x), 86400);
  X509_set_pubkey(x, id.key);
  X509_NAME *name = X509_get_subject_name(x);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                             (const unsigned char *)cn, -1, -1, 0);
  X509 *signer = issuer ? issuer->cert : x;
  X509_set_issuer_name(x, X509_get_subject_name(signer));
  if (ca) {
    add_extension(x, signer, NID_basic_constraints, "critical,CA:TRUE");
    add_extension(x, signer, NID_key_usage, "critical,keyCertSign,cRLSign");
  }
  CHECK(X509_sign(x, issuer ? issuer->key : id.key, EVP_sha256()) > 0);
  return id;
}

static void free_identity(identity_t *id) {
  X509_free(id->cert);
  EVP_PKEY_free(id->key);
}

static void path_of(char *out, size_t size, const char *name) {
  snprintf(out, size, "%s/%s", dir, name);
}

/* Writes the PEM file in a temporary name, then renames it into place, as
 * a secret update does. Either part may be NULL. */
static void write_pem(const char *name, X509 *cert, EVP_PKEY *key) {
  char path[512], tmp[600];
  path_of(path, sizeof(path), name);
  snprintf(tmp, sizeof(tmp), "%s.tmp", path);
  FILE *f = fopen(tmp, "w");
  CHECK(f != NULL);
  if (f == NULL) return;
  if (cert != NULL) CHECK(PEM_write_X509(f, cert) == 1);
  if (key != NULL)
    CHECK(PEM_write_PrivateKey(f, key, NULL, NULL, 0, NULL, NULL) == 1);
  CHECK(fclose(f) == 0);
  CHECK(rename(tmp, path) == 0);
}

/* ------------------------------------------------------------ server */

static void answer_ok(void *data, const tarmac_http_request_t *req,
                      tarmac_http_response_t *res) {
  (void)data, (void)req;
  tarmac_http_response_set_text(res, 200, "ok\n");
}

static tarmac_http_server_t *start_server(const char *ca_file) {
  char cert[512], key[512];
  path_of(cert, sizeof(cert), "server.crt");
  path_of(key, sizeof(key), "server.key");
  tarmac_http_config_t config = {
      .listen_addr = "127.0.0.1:0", .tls = true, .cert_file = cert,
      .key_file = key, .ca_file = ca_file, .loops = 1,
      .max_threads_per_loop = 2, .handoff_ms = 10,
      .max_body_bytes = 1 << 20, .max_header_bytes = 1 << 16,
      .max_header_count = 64, .idle_timeout_ms = 10000, .max_streams = 100,
      .max_resets_per_second = 100, .shutdown_timeout_ms = 1000,
      .handler = answer_ok};
  char err[512];
  tarmac_http_server_t *server = tarmac_http_server_new(&config, err,
                                                        sizeof(err));
  if (server == NULL) fprintf(stderr, "server: %s\n", err);
  CHECK(server != NULL);
  if (server != NULL && tarmac_http_server_start(server, err, sizeof(err))) {
    fprintf(stderr, "start: %s\n", err);
    CHECK(false);
  }
  return server;
}

static void stop_server(tarmac_http_server_t *server) {
  if (server == NULL) return;
  CHECK(tarmac_http_server_stop(server));
  tarmac_http_server_free(server);
}

/* ------------------------------------------------------------ client */

typedef struct {
  int fd;
  SSL *ssl;
} client_t;

/* A client context offering `id` as client certificate (NULL: none). */
static SSL_CTX *client_context(const identity_t *id) {
  SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
  CHECK(ctx != NULL);
  if (id != NULL) {
    CHECK(SSL_CTX_use_certificate(ctx, id->cert) == 1);
    CHECK(SSL_CTX_use_PrivateKey(ctx, id->key) == 1);
  }
  return ctx;
}

/* Connects and completes the handshake; false when it fails. */
static bool client_open(SSL_CTX *ctx, int port, client_t *c) {
  struct sockaddr_in addr = {.sin_family = AF_INET,
                             .sin_port = htons((uint16_t)port)};
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  c->ssl = NULL;
  c->fd = socket(AF_INET, SOCK_STREAM, 0);
  if (c->fd < 0 ||
      connect(c->fd, (struct sockaddr *)&addr, sizeof(addr)) != 0)
    return false;
  c->ssl = SSL_new(ctx);
  if (c->ssl == NULL || SSL_set_fd(c->ssl, c->fd) != 1) return false;
  SSL_set_alpn_protos(c->ssl, (const unsigned char *)"\x08http/1.1", 9);
  bool ok = SSL_connect(c->ssl) == 1;
  ERR_clear_error();
  return ok;
}

static void client_close(client_t *c) {
  if (c->ssl != NULL) SSL_free(c->ssl);
  if (c->fd >= 0) close(c->fd);
  c->ssl = NULL;
  c->fd = -1;
}

/* The CN of the server's certificate ("" when none). */
static void peer_name(const client_t *c, char *out, size_t size) {
  out[0] = '\0';
  X509 *cert = SSL_get1_peer_certificate(c->ssl);
  if (cert == NULL) return;
  X509_NAME_get_text_by_NID(X509_get_subject_name(cert), NID_commonName, out,
                            (int)size);
  X509_free(cert);
}

/* One keep-alive GET; true when "200" and the body "ok\n" came back. */
static bool client_get(client_t *c) {
  static const char request[] = "GET / HTTP/1.1\r\nHost: test\r\n\r\n";
  if (c->ssl == NULL) return false;
  if (SSL_write(c->ssl, request, sizeof(request) - 1) <= 0) {
    ERR_clear_error();
    return false;
  }
  char buf[4096];
  size_t len = 0;
  while (len < sizeof(buf) - 1) {
    int n = SSL_read(c->ssl, buf + len, (int)(sizeof(buf) - 1 - len));
    if (n <= 0) break;
    len += (size_t)n;
    buf[len] = '\0';
    const char *end = strstr(buf, "\r\n\r\n");
    if (end != NULL && strcmp(end + 4, "ok\n") == 0)
      return strncmp(buf, "HTTP/1.1 200 ", 13) == 0;
  }
  ERR_clear_error();
  return false;
}

/* A new connection: the server certificate's CN into name, and whether a
 * request on it is answered. */
static bool fresh_get(SSL_CTX *ctx, int port, char *name, size_t size) {
  client_t c;
  bool ok = client_open(ctx, port, &c);
  name[0] = '\0';
  if (ok) peer_name(&c, name, size);
  ok = ok && client_get(&c);
  client_close(&c);
  return ok;
}

/* ------------------------------------------------------------- tests */

static bool contains(const char *text, const char *part) {
  return strstr(text, part) != NULL;
}

/* A reload that must fail: err must hold `why`; the server keeps serving
 * `still` to new connections. */
static void expect_refused_reload(tarmac_http_server_t *server, SSL_CTX *ctx,
                                  const char *why, const char *still) {
  char err[512] = "", name[64];
  CHECK_EQ_INT(tarmac_http_server_reload_tls(server, err, sizeof(err)), -1);
  if (!contains(err, why)) fprintf(stderr, "reload error: %s\n", err);
  CHECK(contains(err, why));
  CHECK(fresh_get(ctx, tarmac_http_server_port(server), name, sizeof(name)));
  CHECK(strcmp(name, still) == 0);
}

static void test_reload_certificate(void) {
  identity_t a = make_identity("server-a", NULL, false);
  identity_t b = make_identity("server-b", NULL, false);
  write_pem("server.crt", a.cert, NULL);
  write_pem("server.key", NULL, a.key);
  tarmac_http_server_t *server = start_server(NULL);
  SSL_CTX *ctx = client_context(NULL);
  if (server == NULL) goto done;
  int port = tarmac_http_server_port(server);
  char name[64], err[512];
  client_t before;
  CHECK(client_open(ctx, port, &before));
  peer_name(&before, name, sizeof(name));
  CHECK(strcmp(name, "server-a") == 0);
  CHECK(client_get(&before));
  /* the certificate replaced before its key: refused, A stays */
  write_pem("server.crt", b.cert, NULL);
  expect_refused_reload(server, ctx, "does not match", "server-a");
  char key_path[512];
  path_of(key_path, sizeof(key_path), "server.key");
  CHECK(unlink(key_path) == 0);
  expect_refused_reload(server, ctx, "cannot read TLS key file", "server-a");
  write_pem("server.key", NULL, b.key);
  CHECK_EQ_INT(tarmac_http_server_reload_tls(server, err, sizeof(err)), 0);
  CHECK(fresh_get(ctx, port, name, sizeof(name)));
  CHECK(strcmp(name, "server-b") == 0);
  /* the connection opened before keeps working, with its certificate */
  CHECK(client_get(&before));
  peer_name(&before, name, sizeof(name));
  CHECK(strcmp(name, "server-a") == 0);
  client_close(&before);
  write_pem("server.crt", NULL, b.key); /* a key where the chain belongs */
  expect_refused_reload(server, ctx, "holds no PEM certificate", "server-b");
done:
  stop_server(server);
  SSL_CTX_free(ctx);
  free_identity(&a);
  free_identity(&b);
}

/* The client CA file reloads with the rest: clients of the old CA are
 * refused afterwards, clients of the new one served. */
static void test_reload_ca(void) {
  identity_t ca1 = make_identity("ca-one", NULL, true);
  identity_t ca2 = make_identity("ca-two", NULL, true);
  identity_t c1 = make_identity("client-one", &ca1, false);
  identity_t c2 = make_identity("client-two", &ca2, false);
  identity_t server_id = make_identity("server-a", NULL, false);
  write_pem("server.crt", server_id.cert, NULL);
  write_pem("server.key", NULL, server_id.key);
  write_pem("ca.pem", ca1.cert, NULL);
  char ca_path[512], name[64], err[512];
  path_of(ca_path, sizeof(ca_path), "ca.pem");
  tarmac_http_server_t *server = start_server(ca_path);
  SSL_CTX *one = client_context(&c1), *two = client_context(&c2);
  SSL_CTX *none = client_context(NULL);
  if (server == NULL) goto done;
  int port = tarmac_http_server_port(server);
  CHECK(fresh_get(one, port, name, sizeof(name)));
  CHECK(!fresh_get(two, port, name, sizeof(name)));
  CHECK(!fresh_get(none, port, name, sizeof(name)));
  write_pem("ca.pem", ca2.cert, NULL);
  CHECK_EQ_INT(tarmac_http_server_reload_tls(server, err, sizeof(err)), 0);
  CHECK(!fresh_get(one, port, name, sizeof(name)));
  CHECK(fresh_get(two, port, name, sizeof(name)));
  CHECK(!fresh_get(none, port, name, sizeof(name)));
  write_pem("ca.pem", NULL, ca2.key);
  expect_refused_reload(server, two, "CA file", "server-a");
  CHECK(!fresh_get(one, port, name, sizeof(name)));
done:
  stop_server(server);
  SSL_CTX_free(one);
  SSL_CTX_free(two);
  SSL_CTX_free(none);
  identity_t *all[] = {&ca1, &ca2, &c1, &c2, &server_id};
  for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++)
    free_identity(all[i]);
}

#define HANDSHAKE_THREADS 2
#define HANDSHAKES 60
#define RELOADS 40

typedef struct {
  SSL_CTX *ctx;
  int port;
  atomic_int failures; /* handshakes or requests that failed */
  atomic_int strangers; /* certificates neither A nor B */
} race_t;

static void *handshake_loop(void *arg) {
  race_t *race = arg;
  char name[64];
  for (int i = 0; i < HANDSHAKES; i++) {
    if (!fresh_get(race->ctx, race->port, name, sizeof(name)))
      atomic_fetch_add(&race->failures, 1);
    else if (strcmp(name, "server-a") != 0 && strcmp(name, "server-b") != 0)
      atomic_fetch_add(&race->strangers, 1);
  }
  return NULL;
}

/* Handshakes while the files are rewritten and reloaded under them: each
 * one completes with A or B whole (a certificate with the other's key
 * fails the client's signature check), whatever the reloads do. */
static void test_reload_race(void) {
  identity_t ids[2] = {make_identity("server-a", NULL, false),
                       make_identity("server-b", NULL, false)};
  write_pem("server.crt", ids[0].cert, NULL);
  write_pem("server.key", NULL, ids[0].key);
  tarmac_http_server_t *server = start_server(NULL);
  race_t race = {.ctx = client_context(NULL)};
  if (server == NULL) goto done;
  race.port = tarmac_http_server_port(server);
  pthread_t threads[HANDSHAKE_THREADS];
  for (int i = 0; i < HANDSHAKE_THREADS; i++)
    CHECK(pthread_create(&threads[i], NULL, handshake_loop, &race) == 0);
  int reloaded = 0;
  char err[512], name[64];
  for (int i = 1; i <= RELOADS; i++) {
    write_pem("server.crt", ids[i % 2].cert, NULL);
    write_pem("server.key", NULL, ids[i % 2].key);
    if (tarmac_http_server_reload_tls(server, err, sizeof(err)) == 0)
      reloaded++;
  }
  for (int i = 0; i < HANDSHAKE_THREADS; i++) pthread_join(threads[i], NULL);
  CHECK_EQ_INT(reloaded, RELOADS); /* files were whole at each reload */
  CHECK_EQ_INT(atomic_load(&race.failures), 0);
  CHECK_EQ_INT(atomic_load(&race.strangers), 0);
  CHECK(fresh_get(race.ctx, race.port, name, sizeof(name)));
  CHECK(strcmp(name, "server-a") == 0); /* RELOADS is even: A */
done:
  stop_server(server);
  SSL_CTX_free(race.ctx);
  free_identity(&ids[0]);
  free_identity(&ids[1]);
}

/* No server TLS: reload says so. */
static void test_reload_without_tls(void) {
  tarmac_http_config_t config = {
      .listen_addr = "127.0.0.1:0", .loops = 1, .max_threads_per_loop = 2,
      .handoff_ms = 10, .max_body_bytes = 1 << 20,
      .max_header_bytes = 1 << 16, .max_header_count = 64,
      .idle_timeout_ms = 1000, .max_streams = 100,
      .max_resets_per_second = 100, .handler = answer_ok};
  char err[512] = "";
  tarmac_http_server_t *server = tarmac_http_server_new(&config, err,
                                                        sizeof(err));
  CHECK(server != NULL);
  if (server == NULL) return;
  CHECK_EQ_INT(tarmac_http_server_reload_tls(server, err, sizeof(err)), -1);
  CHECK(contains(err, "TLS is not enabled"));
  tarmac_http_server_free(server);
}

static void remove_files(void) {
  static const char *const names[] = {"server.crt", "server.key", "ca.pem"};
  char path[512];
  for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
    path_of(path, sizeof(path), names[i]);
    unlink(path);
  }
  rmdir(dir);
}

int main(void) {
  if (mkdtemp(dir) == NULL) {
    perror("mkdtemp");
    return 1;
  }
  test_reload_certificate();
  test_reload_ca();
  test_reload_race();
  test_reload_without_tls();
  remove_files();
  TEST_EXIT();
}
