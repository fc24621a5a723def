/* callbacks/httpclient: the transfer on libcurl. One call takes an easy
 * handle from the client's pool (its connection cache is what makes calls
 * to the same server reuse connections), performs each hop with options
 * set afresh, follows redirects itself (re-checking the allow-list on
 * every hop before connecting), and returns the handle. The pool's lock is
 * never held across a transfer. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "callbacks/httpclient_internal.h"
#include "runtime/deadline.h"
#include "util/blocking.h"
#include "util/clock.h"
#include "util/utf8.h"

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static CURLcode curl_init_result = CURLE_FAILED_INIT;

static void curl_init(void) {
  curl_init_result = curl_global_init(CURL_GLOBAL_DEFAULT);
}

int httpc_pool_init(tarmac_httpclient_t *client, char *err, size_t err_size) {
  if (pthread_once(&curl_once, curl_init) != 0 || curl_init_result != CURLE_OK)
    return snprintf(err, err_size, "libcurl could not be initialised"), -1;
  if (pthread_mutex_init(&client->pool_mutex, NULL) != 0)
    return snprintf(err, err_size, "mutex: out of resources"), -1;
  return 0;
}

void httpc_pool_free(tarmac_httpclient_t *client) {
  for (size_t i = 0; i < client->pooled; i++) curl_easy_cleanup(client->pool[i]);
  client->pooled = 0;
  pthread_mutex_destroy(&client->pool_mutex);
}

/* A pooled handle, or a new one (also when the lock fails). */
static CURL *pool_take(tarmac_httpclient_t *client) {
  CURL *h = NULL;
  if (pthread_mutex_lock(&client->pool_mutex) == 0) {
    if (client->pooled > 0) h = client->pool[--client->pooled];
    pthread_mutex_unlock(&client->pool_mutex);
  }
  return h ? h : curl_easy_init();
}

/* Keeps h for the next call when there is room, else closes it. */
static void pool_return(tarmac_httpclient_t *client, CURL *h) {
  curl_easy_reset(h); /* keeps the connection and DNS caches */
  if (pthread_mutex_lock(&client->pool_mutex) == 0) {
    if (client->pooled < TARMAC_HTTPCLIENT_POOL_MAX) {
      client->pool[client->pooled++] = h;
      h = NULL;
    }
    pthread_mutex_unlock(&client->pool_mutex);
  }
  if (h) curl_easy_cleanup(h);
}

/* ---- collecting the response ---- */

void httpc_response_reset(httpc_response_t *resp) {
  for (size_t i = 0; i < resp->n_pairs; i++) free(resp->pairs[i]);
  free(resp->pairs);
  resp->pairs = NULL;
  resp->n_pairs = 0;
  resp->header_bytes = 0;
  resp->code = 0;
  tarmac_buffer_clear(&resp->body);
}

typedef struct {
  httpc_response_t *resp;
  uint64_t max_body;
} sink_t;

static size_t on_body(char *data, size_t size, size_t n, void *user) {
  sink_t *sink = user;
  size_t len = size * n;
  if (len > sink->max_body - sink->resp->body.len) {
    sink->resp->body_too_big = true;
    return 0; /* aborts the transfer */
  }
  if (tarmac_buffer_append(&sink->resp->body, data, len) != 0) {
    sink->resp->out_of_memory = true;
    return 0;
  }
  return len;
}

/* Go's canonical form: "content-type" -> "Content-Type" (HTTP/2 sends
 * lower case; guests written for upstream Tarmac expect this form). */
static void canonical_name(char *name) {
  bool upper = true;
  for (char *c = name; *c; c++) {
    *c = (char)(upper ? toupper((unsigned char)*c) : tolower((unsigned char)*c));
    upper = *c == '-';
  }
}

/* "Name: value" (without CRLF) -> "Name\0value". */
static char *split_header(const char *line, size_t len) {
  const char *colon = memchr(line, ':', len);
  if (colon == NULL || colon == line) return NULL;
  const char *v = colon + 1, *end = line + len;
  while (v < end && (*v == ' ' || *v == '\t')) v++;
  while (end > v && (end[-1] == ' ' || end[-1] == '\t')) end--;
  size_t name_len = (size_t)(colon - line), value_len = (size_t)(end - v);
  char *pair = malloc(name_len + value_len + 2);
  if (pair == NULL) return NULL;
  memcpy(pair, line, name_len);
  pair[name_len] = '\0';
  memcpy(pair + name_len + 1, v, value_len);
  pair[name_len + 1 + value_len] = '\0';
  /* A reply's strings must be UTF-8 to be written as JSON (Go's client
   * would fail on them in protobuf): other bytes become '?'. */
  tarmac_utf8_scrub((unsigned char *)pair, name_len + 1 + value_len);
  canonical_name(pair);
  return pair;
}

static size_t on_header(char *data, size_t size, size_t n, void *user) {
  httpc_response_t *resp = ((sink_t *)user)->resp;
  size_t len = size * n, line = len;
  while (line > 0 && (data[line - 1] == '\r' || data[line - 1] == '\n')) line--;
  if (line >= 5 && memcmp(data, "HTTP/", 5) == 0) {
    httpc_response_reset(resp); /* a new response (after 1xx) */
    return len;
  }
  if (line == 0 || data[0] == ' ' || data[0] == '\t') return len;
  resp->header_bytes += len;
  if (resp->n_pairs >= TARMAC_HTTPCLIENT_RESPONSE_HEADERS_MAX ||
      resp->header_bytes > TARMAC_HTTPCLIENT_RESPONSE_HEADER_BYTES_MAX) {
    resp->headers_too_big = true;
    return 0;
  }
  char *pair = split_header(data, line);
  if (pair == NULL) return len; /* not a header line: ignored */
  char **grown = realloc(resp->pairs, (resp->n_pairs + 1) * sizeof *grown);
  if (grown == NULL) {
    free(pair);
    resp->out_of_memory = true;
    return 0;
  }
  resp->pairs = grown;
  resp->pairs[resp->n_pairs++] = pair;
  return len;
}

/* ---- one hop ---- */

/* POSTFIELDS makes curl say POST: any other method with a body, and any
 * method but GET and HEAD, is named explicitly. */
static int set_method(CURL *h, const httpc_request_t *req) {
  const Tarmac__HTTPClient *msg = req->msg;
  bool body = req->send_body && msg->body.len > 0;
  bool head = strcmp(req->method, "HEAD") == 0;
  int bad = 0;
  if (head) bad |= curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
  if (body) {
    bad |= curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE,
                            (curl_off_t)msg->body.len);
    bad |= curl_easy_setopt(h, CURLOPT_POSTFIELDS, (char *)msg->body.data);
  }
  if (body || (!head && strcmp(req->method, "GET") != 0))
    bad |= curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, req->method);
  return bad ? -1 : 0;
}

static int set_options(CURL *h, const tarmac_httpclient_t *client,
                       const httpc_request_t *req, struct curl_slist *headers,
                       sink_t *sink, uint64_t left_ms, char *errbuf) {
  uint64_t connect_ms = client->config.connect_timeout_ms;
  if (connect_ms > left_ms) connect_ms = left_ms;
  int bad = 0;
  bad |= curl_easy_setopt(h, CURLOPT_URL, req->url);
  bad |= curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
  bad |= curl_easy_setopt(h, CURLOPT_PROXY, ""); /* no proxy from the env */
  bad |= curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
  bad |= curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
  bad |= curl_easy_setopt(h, CURLOPT_MAXCONNECTS,
                          (long)TARMAC_HTTPCLIENT_CONNECTIONS_PER_HANDLE);
  bad |= curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, (long)connect_ms);
  bad |= curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, (long)left_ms);
  /* A Content-Length over the cap is refused before the body is read;
   * HEAD reads none (curl would refuse its Content-Length too). */
  if (strcmp(req->method, "HEAD") != 0)
    bad |= curl_easy_setopt(h, CURLOPT_MAXFILESIZE_LARGE,
                            (curl_off_t)client->config.max_response_bytes);
  bad |= curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers);
  bad |= curl_easy_setopt(h, CURLOPT_USERAGENT, "tarmac");
  bad |= curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
  bad |= curl_easy_setopt(h, CURLOPT_WRITEDATA, sink);
  bad |= curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
  bad |= curl_easy_setopt(h, CURLOPT_HEADERDATA, sink);
  bad |= curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
  if (req->msg->insecure) { /* this call only: reset undoes it */
    bad |= curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 0L);
    bad |= curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 0L);
  }
  return bad || set_method(h, req) != 0 ? -1 : 0;
}

static void transfer_failed(const httpc_request_t *req,
                            const httpc_response_t *resp, uint64_t max_body,
                            CURLcode rc, const char *errbuf,
                            tarmac_callback_status_t *status) {
  const char *why = errbuf[0] ? errbuf : curl_easy_strerror(rc);
  if (resp->out_of_memory)
    tarmac_callback_status_set(status, 500, "out of memory");
  else if (resp->body_too_big || rc == CURLE_FILESIZE_EXCEEDED)
    tarmac_callback_status_set(
        status, 502,
        "response body from host \"%s\" is larger than "
        "APP_HTTP_CLIENT_MAX_RESPONSE_BODY_SIZE (%llu bytes)",
        req->host, (unsigned long long)max_body);
  else if (resp->headers_too_big)
    tarmac_callback_status_set(
        status, 502, "response from host \"%s\" has more than %d headers or %u "
        "bytes of them", req->host, TARMAC_HTTPCLIENT_RESPONSE_HEADERS_MAX,
        TARMAC_HTTPCLIENT_RESPONSE_HEADER_BYTES_MAX);
  else if (rc == CURLE_OPERATION_TIMEDOUT)
    tarmac_callback_status_set(status, 504, "request to host \"%s\" timed out: %s",
                               req->host, why);
  else
    tarmac_callback_status_set(status, 502, "request to host \"%s\" failed: %s",
                               req->host, why);
}

/* Performs one hop on h until end_ns. 0 with resp filled, or -1. */
static int perform(tarmac_httpclient_t *client, CURL *h,
                   const httpc_request_t *req, uint64_t end_ns,
                   httpc_response_t *resp, tarmac_callback_status_t *status) {
  uint64_t now = tarmac_clock_ns();
  uint64_t left_ms = end_ns > now ? (end_ns - now) / 1000000 : 0;
  if (left_ms == 0) {
    tarmac_callback_status_set(status, 504,
                               "request to host \"%s\" timed out (no time left)",
                               req->host);
    return -1;
  }
  char errbuf[CURL_ERROR_SIZE] = "";
  sink_t sink = {resp, client->config.max_response_bytes};
  struct curl_slist *headers = NULL;
  curl_easy_reset(h);
  httpc_response_reset(resp);
  if (httpc_request_headers(req, &headers) != 0 ||
      set_options(h, client, req, headers, &sink, left_ms, errbuf) != 0) {
    curl_slist_free_all(headers);
    tarmac_callback_status_set(status, 500, "out of memory");
    return -1;
  }
  tarmac_blocking_begin();
  CURLcode rc = curl_easy_perform(h);
  tarmac_blocking_end();
  curl_slist_free_all(headers);
  if (rc != CURLE_OK) {
    transfer_failed(req, resp, sink.max_body, rc, errbuf, status);
    return -1;
  }
  if (curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &resp->code) != CURLE_OK) {
    tarmac_callback_status_set(status, 502, "request to host \"%s\": no "
                               "response status", req->host);
    return -1;
  }
  return 0;
}

/* ---- redirects ---- */

static bool is_redirect(long code) {
  return code == 301 || code == 302 || code == 303 || code == 307 ||
         code == 308;
}

/* Moves req to location, the Location of a `code` response (as Go's
 * client: 301, 302 and 303 turn a method other than GET or HEAD into a GET
 * without body). 0, or -1 with status set (refused host, bad URL). */
static int follow(tarmac_httpclient_t *client, const char *location,
                  long code, httpc_request_t *req,
                  tarmac_callback_status_t *status) {
  if (httpc_request_set_url(client, req, location, "redirect", status) != 0) {
    if (status->code == 400) status->code = 502; /* the server's fault */
    return -1;
  }
  if (code <= 303 && strcmp(req->method, "GET") != 0 &&
      strcmp(req->method, "HEAD") != 0) {
    req->method = "GET";
    req->send_body = false;
  }
  return 0;
}

void httpc_transfer(tarmac_httpclient_t *client, httpc_request_t *req,
                    httpc_response_t *resp, tarmac_callback_status_t *status) {
  uint64_t end_ns = tarmac_rt_deadline_bound(
      tarmac_clock_ns() + (uint64_t)client->config.timeout_ms * 1000000u);
  CURL *h = pool_take(client);
  if (h == NULL) {
    tarmac_callback_status_set(status, 500, "out of memory (curl handle)");
    return;
  }
  for (unsigned hops = 0;; hops++) {
    if (perform(client, h, req, end_ns, resp, status) != 0) break;
    char *location = NULL; /* the handle's, until its next transfer */
    if (curl_easy_getinfo(h, CURLINFO_REDIRECT_URL, &location) != CURLE_OK)
      location = NULL;
    if (!is_redirect(resp->code) || location == NULL ||
        client->config.max_redirects == 0)
      break;
    if (hops == client->config.max_redirects) {
      tarmac_callback_status_set(
          status, 502, "too many redirects (more than %u, "
          "APP_HTTP_CLIENT_MAX_REDIRECTS) from host \"%s\"",
          client->config.max_redirects, req->host);
      break;
    }
    if (follow(client, location, resp->code, req, status) != 0) break;
  }
  pool_return(client, h);
}
