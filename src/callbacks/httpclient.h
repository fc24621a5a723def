/* callbacks/httpclient: the tarmac/httpclient/call host call, which lets a
 * guest make an outbound HTTP(S) request (docs/callbacks.md, "HTTP
 * client"). The payload is HTTPClient{method, headers, url, body,
 * insecure} in protobuf or JSON (callbacks/encoding.h); the reply is
 * HTTPClientResponse{status, code, headers, body}.
 *
 * The transfer runs on libcurl, on the guest's thread, inside
 * tarmac_blocking_begin/end and bounded by the guest's deadline. Only http
 * and https are spoken; proxies from the environment are ignored (the host
 * connected to is the URL's). Redirects are followed here, not by curl, so
 * the allow-list is checked on the URL of every hop before connecting.
 *
 * Owns: the client (settings copy, parsed allow-list, a small pool of curl
 * easy handles whose connection caches make calls reuse connections).
 * tarmac_callbacks_add_httpclient hands the client to the registry, which
 * frees it with itself. */
#ifndef TARMAC_CALLBACKS_HTTPCLIENT_H
#define TARMAC_CALLBACKS_HTTPCLIENT_H

#include <stddef.h>
#include <stdint.h>

#include "callbacks/encoding.h"
#include "callbacks/registry.h"

/* Defaults of the settings (server/config.c maps APP_HTTP_CLIENT_*). */
#define TARMAC_HTTPCLIENT_MAX_RESPONSE_DEFAULT ((uint64_t)10 << 20)
#define TARMAC_HTTPCLIENT_CONNECT_TIMEOUT_DEFAULT_MS 5000u
#define TARMAC_HTTPCLIENT_TIMEOUT_DEFAULT_MS 30000u
#define TARMAC_HTTPCLIENT_MAX_REDIRECTS_DEFAULT 10u
/* Bounds on what a guest sends and what a server answers. */
#define TARMAC_HTTPCLIENT_URL_MAX 8192
#define TARMAC_HTTPCLIENT_METHOD_MAX 64
#define TARMAC_HTTPCLIENT_HEADER_LINES_MAX 1000
#define TARMAC_HTTPCLIENT_HEADER_BYTES_MAX (1u << 20)
#define TARMAC_HTTPCLIENT_RESPONSE_HEADERS_MAX 500
#define TARMAC_HTTPCLIENT_RESPONSE_HEADER_BYTES_MAX (256u << 10)
/* Easy handles kept between calls (each with its connection cache of
 * TARMAC_HTTPCLIENT_CONNECTIONS_PER_HANDLE); more are made on demand and
 * closed after their call when the pool is full. */
#define TARMAC_HTTPCLIENT_POOL_MAX 16
#define TARMAC_HTTPCLIENT_CONNECTIONS_PER_HANDLE 4

typedef struct {
  uint64_t max_response_bytes; /* body cap; past it the call fails (502) */
  unsigned connect_timeout_ms; /* per connection attempt */
  unsigned timeout_ms;         /* the whole call, redirects included; also
                                  bounded by the guest's deadline */
  unsigned max_redirects;      /* 0: a 3xx is the reply, not followed */
  const char *allow;           /* comma-separated hosts, "*.example.com"
                                  wildcards; NULL or "" = any host (copied) */
} tarmac_httpclient_config_t;

typedef struct tarmac_httpclient tarmac_httpclient_t;

/* NULL with err set when the allow-list is malformed (an empty entry, a
 * wildcard not of the form "*.domain") or curl cannot be set up. */
tarmac_httpclient_t *tarmac_httpclient_new(const tarmac_httpclient_config_t *config,
                                           char *err, size_t err_size);
void tarmac_httpclient_free(tarmac_httpclient_t *client);

/* Decodes and validates a payload exactly as a call does, without any
 * network (the fuzz target's entry point): 0 when it would be sent, else
 * -1 with status set (400 bad input, 403 host not allowed). */
int tarmac_httpclient_check(const tarmac_httpclient_t *client,
                            const uint8_t *payload, size_t len,
                            tarmac_callback_status_t *status);

/* Registers tarmac/httpclient/call served by client; the registry owns
 * client from here on (also when this fails). 0 or -1 (out of memory).
 *
 * Reply statuses: 200 (any HTTP status of the server is a 200 reply with
 * that `code`), 400 bad input (method not a token, URL not http(s), CR/LF
 * in a header), 403 host not in the allow-list (named), 502 the server
 * could not be reached or answered badly (refused, DNS, TLS, too many
 * redirects, body over the cap, too many headers), 504 timed out. */
int tarmac_callbacks_add_httpclient(tarmac_callbacks_t *registry,
                                    tarmac_httpclient_t *client);

#endif
