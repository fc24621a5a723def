/* callbacks/httpclient internals shared by httpclient.c (validation, the
 * callback, the reply) and httpclient_transfer.c (libcurl: the pool of
 * easy handles, one call with its redirects). Not for other modules. */
#ifndef TARMAC_CALLBACKS_HTTPCLIENT_INTERNAL_H
#define TARMAC_CALLBACKS_HTTPCLIENT_INTERNAL_H

#include <curl/curl.h>
#include <pthread.h>
#include <stdbool.h>

#include "callbacks/httpclient.h"

struct tarmac_httpclient {
  tarmac_httpclient_config_t config; /* config.allow is NULL: see allow */
  char **allow;                      /* lowercased entries; NULL = any */
  size_t n_allow;
  pthread_mutex_t pool_mutex; /* held only to take or return a handle */
  CURL *pool[TARMAC_HTTPCLIENT_POOL_MAX];
  size_t pooled;
};

/* One validated request. Borrows the decoded message's strings. */
typedef struct {
  const Tarmac__HTTPClient *msg;
  const char *method; /* a token; "GET" when the guest sent none */
  char *url;          /* owned: the current hop's URL */
  char *host;         /* owned: its host, as the allow-list saw it */
  bool send_body;     /* false once a redirect turned it into a GET */
  bool cross_host;    /* a redirect left the first host: no credentials */
} httpc_request_t;

/* What the server answered (the last hop). Header names are canonical
 * ("Content-Type"); each pair is one malloc'd "name\0value". */
typedef struct {
  long code;
  tarmac_buffer_t body;
  char **pairs;
  size_t n_pairs;
  size_t header_bytes;
  bool body_too_big, headers_too_big, out_of_memory;
} httpc_response_t;

/* Checks url (http or https, a host, on the allow-list) and moves it into
 * req->url / req->host. 0, or -1 with status set (400 or 403). */
int httpc_request_set_url(const tarmac_httpclient_t *client,
                          httpc_request_t *req, const char *url,
                          const char *what, tarmac_callback_status_t *status);

/* The request's header lines for curl (NULL-safe to free with
 * curl_slist_free_all). 0, or -1 when out of memory. */
int httpc_request_headers(const httpc_request_t *req,
                          struct curl_slist **out);

/* Runs the call (following redirects). The response is filled when
 * status->code stays 200. */
void httpc_transfer(tarmac_httpclient_t *client, httpc_request_t *req,
                    httpc_response_t *resp, tarmac_callback_status_t *status);
void httpc_response_reset(httpc_response_t *resp);

/* The pool (httpclient_transfer.c). */
int httpc_pool_init(tarmac_httpclient_t *client, char *err, size_t err_size);
void httpc_pool_free(tarmac_httpclient_t *client);

#endif
