/* callbacks/httpclient: tarmac/httpclient/call — decoding and validating
 * the guest's request, the allow-list, and the reply. The transfer itself
 * is httpclient_transfer.c. */
#include "callbacks/httpclient.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "callbacks/httpclient_internal.h"

/* ---- the allow-list ---- */

static void free_allow(char **allow, size_t n) {
  for (size_t i = 0; i < n; i++) free(allow[i]);
  free(allow);
}

/* One entry: a host name, or "*.domain". Lowercased into *out. */
static int parse_allow_entry(const char *s, size_t len, char **out, char *err,
                             size_t err_size) {
  const char *star = memchr(s, '*', len);
  if (len == 0) {
    snprintf(err, err_size, "APP_HTTP_CLIENT_ALLOW has an empty entry");
    return -1;
  }
  if (star != NULL && (star != s || len < 3 || s[1] != '.' ||
                       memchr(s + 1, '*', len - 1) != NULL)) {
    snprintf(err, err_size,
             "APP_HTTP_CLIENT_ALLOW entry \"%.*s\": a wildcard must be the "
             "whole first label (*.example.com)",
             (int)(len > 200 ? 200 : len), s);
    return -1;
  }
  *out = strndup(s, len);
  if (*out == NULL) return snprintf(err, err_size, "out of memory"), -1;
  for (char *c = *out; *c; c++) *c = (char)tolower((unsigned char)*c);
  return 0;
}

static int parse_allow(tarmac_httpclient_t *client, const char *text,
                       char *err, size_t err_size) {
  if (text == NULL || text[0] == '\0') return 0; /* any host */
  size_t entries = 1;
  for (const char *c = text; *c; c++) entries += *c == ',';
  client->allow = calloc(entries, sizeof *client->allow);
  if (client->allow == NULL) return snprintf(err, err_size, "out of memory"), -1;
  const char *s = text;
  while (client->n_allow < entries) {
    const char *end = strchr(s, ',');
    if (end == NULL) end = s + strlen(s);
    while (s < end && (*s == ' ' || *s == '\t')) s++;
    const char *last = end;
    while (last > s && (last[-1] == ' ' || last[-1] == '\t')) last--;
    if (parse_allow_entry(s, (size_t)(last - s),
                          &client->allow[client->n_allow], err, err_size) != 0)
      return -1;
    client->n_allow++;
    s = *end ? end + 1 : end;
  }
  return 0;
}

static bool host_allowed(const tarmac_httpclient_t *client, const char *host) {
  if (client->allow == NULL) return true;
  size_t len = strlen(host);
  for (size_t i = 0; i < client->n_allow; i++) {
    const char *a = client->allow[i];
    if (a[0] == '*') { /* "*.example.com": any name below example.com */
      size_t suffix = strlen(a) - 1;
      if (len > suffix && strcasecmp(host + len - suffix, a + 1) == 0)
        return true;
    } else if (strcasecmp(host, a) == 0) {
      return true;
    }
  }
  return false;
}

tarmac_httpclient_t *tarmac_httpclient_new(const tarmac_httpclient_config_t *config,
                                           char *err, size_t err_size) {
  tarmac_httpclient_t *client = calloc(1, sizeof *client);
  if (client == NULL) return snprintf(err, err_size, "out of memory"), NULL;
  client->config = *config;
  client->config.allow = NULL;
  if (parse_allow(client, config->allow, err, err_size) != 0) {
    free_allow(client->allow, client->n_allow);
    free(client);
    return NULL;
  }
  if (httpc_pool_init(client, err, err_size) != 0) {
    free_allow(client->allow, client->n_allow);
    free(client);
    return NULL;
  }
  return client;
}

void tarmac_httpclient_free(tarmac_httpclient_t *client) {
  if (client == NULL) return;
  httpc_pool_free(client);
  free_allow(client->allow, client->n_allow);
  free(client);
}

/* ---- validation ---- */

/* RFC 9110 tchar: what a method and a header name are made of. */
static bool is_token(const char *s) {
  if (*s == '\0') return false;
  for (; *s; s++)
    if (!isalnum((unsigned char)*s) && strchr("!#$%&'*+-.^_`|~", *s) == NULL)
      return false;
  return true;
}

static const char *quoted(const char *s, tarmac_buffer_t *buf) {
  return tarmac_callbacks_quoted(s, buf, "(text)");
}

/* Moves req to url on host; a redirect to another host drops the guest's
 * credentials from then on. */
static int replace_url(httpc_request_t *req, const char *url, const char *host,
                       tarmac_callback_status_t *status) {
  char *new_url = strdup(url), *new_host = strdup(host);
  if (new_url == NULL || new_host == NULL) {
    free(new_url);
    free(new_host);
    tarmac_callback_status_set(status, 500, "out of memory");
    return -1;
  }
  if (req->host != NULL && strcasecmp(req->host, new_host) != 0)
    req->cross_host = true;
  free(req->url);
  free(req->host);
  req->url = new_url;
  req->host = new_host;
  return 0;
}

int httpc_request_set_url(const tarmac_httpclient_t *client,
                          httpc_request_t *req, const char *url,
                          const char *what, tarmac_callback_status_t *status) {
  tarmac_buffer_t q = TARMAC_BUFFER_INIT;
  char *scheme = NULL, *host = NULL, *full = NULL;
  CURLU *u = curl_url();
  int rc = -1;
  if (u == NULL) {
    tarmac_callback_status_set(status, 500, "out of memory");
  } else if (strlen(url) > TARMAC_HTTPCLIENT_URL_MAX) {
    tarmac_callback_status_set(status, 400, "%s is longer than %d bytes", what,
                               TARMAC_HTTPCLIENT_URL_MAX);
  } else if (curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK ||
             curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
             curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK ||
             curl_url_get(u, CURLUPART_URL, &full, 0) != CURLUE_OK ||
             host[0] == '\0') {
    tarmac_callback_status_set(status, 400, "%s %s is not a valid absolute URL",
                               what, quoted(url, &q));
  } else if (strcasecmp(scheme, "http") != 0 &&
             strcasecmp(scheme, "https") != 0) {
    tarmac_callback_status_set(status, 400, "%s %s is not http or https",
                               what, quoted(url, &q));
  } else if (!host_allowed(client, host)) {
    tarmac_callback_status_set(status, 403,
                               "host %s is not allowed (APP_HTTP_CLIENT_ALLOW)",
                               quoted(host, &q));
  } else {
    rc = replace_url(req, full, host, status); /* curl gets what was checked */
  }
  curl_free(full);
  curl_free(scheme);
  curl_free(host);
  curl_url_cleanup(u);
  tarmac_buffer_free(&q);
  return rc;
}

/* Headers the host sets itself (from the URL and the body), as Go's
 * client ignores them in Request.Header. */
static bool host_managed(const char *name) {
  return strcasecmp(name, "Host") == 0 ||
         strcasecmp(name, "Content-Length") == 0 ||
         strcasecmp(name, "Transfer-Encoding") == 0;
}

/* Not sent to another host than the first (as Go and curl do). */
static bool credential(const char *name) {
  return strcasecmp(name, "Authorization") == 0 ||
         strcasecmp(name, "Proxy-Authorization") == 0 ||
         strcasecmp(name, "Cookie") == 0 || strcasecmp(name, "Cookie2") == 0;
}

static int check_headers(const Tarmac__HTTPClient *msg,
                         tarmac_callback_status_t *status) {
  tarmac_buffer_t q = TARMAC_BUFFER_INIT;
  size_t lines = 0, bytes = 0;
  int rc = 0;
  for (size_t i = 0; i < msg->n_headers && rc == 0; i++) {
    const char *name = msg->headers[i]->key;
    const Tarmac__Header *h = msg->headers[i]->value;
    if (!is_token(name)) {
      tarmac_callback_status_set(status, 400,
                                 "header name %s is not an HTTP token",
                                 quoted(name, &q));
      rc = -1;
    }
    for (size_t v = 0; h != NULL && v < h->n_values && rc == 0; v++) {
      const char *value = h->values[v];
      lines++;
      bytes += strlen(name) + strlen(value) + 4;
      if (strpbrk(value, "\r\n") != NULL) {
        tarmac_callback_status_set(status, 400,
                                   "header %s has a CR or LF in its value",
                                   quoted(name, &q));
        rc = -1;
      }
    }
  }
  if (rc == 0 && (lines > TARMAC_HTTPCLIENT_HEADER_LINES_MAX ||
                  bytes > TARMAC_HTTPCLIENT_HEADER_BYTES_MAX)) {
    tarmac_callback_status_set(status, 400,
                               "too many request headers (at most %d lines "
                               "and %u bytes)",
                               TARMAC_HTTPCLIENT_HEADER_LINES_MAX,
                               TARMAC_HTTPCLIENT_HEADER_BYTES_MAX);
    rc = -1;
  }
  tarmac_buffer_free(&q);
  return rc;
}

static bool guest_has_header(const Tarmac__HTTPClient *msg, const char *name) {
  for (size_t i = 0; i < msg->n_headers; i++)
    if (strcasecmp(msg->headers[i]->key, name) == 0) return true;
  return false;
}

static int append_raw(struct curl_slist **list, const char *line) {
  struct curl_slist *next = curl_slist_append(*list, line);
  if (next == NULL) return -1;
  *list = next;
  return 0;
}

/* Appends "Name: value" (or "Name;" for an empty value: curl reads
 * "Name:" as "do not send Name"). */
static int append_line(struct curl_slist **list, const char *name,
                       const char *value) {
  tarmac_buffer_t line = TARMAC_BUFFER_INIT;
  int rc = value[0] ? tarmac_buffer_appendf(&line, "%s: %s", name, value)
                    : tarmac_buffer_appendf(&line, "%s;", name);
  if (rc == 0) rc = tarmac_buffer_append(&line, "", 1);
  if (rc == 0) rc = append_raw(list, (const char *)line.data);
  tarmac_buffer_free(&line);
  return rc;
}

int httpc_request_headers(const httpc_request_t *req,
                          struct curl_slist **out) {
  const Tarmac__HTTPClient *msg = req->msg;
  struct curl_slist *list = NULL;
  int rc = 0;
  for (size_t i = 0; i < msg->n_headers && rc == 0; i++) {
    const char *name = msg->headers[i]->key;
    const Tarmac__Header *h = msg->headers[i]->value;
    if (h == NULL || host_managed(name) || (req->cross_host && credential(name)))
      continue;
    for (size_t v = 0; v < h->n_values && rc == 0; v++)
      rc = append_line(&list, name, h->values[v]);
  }
  /* curl's own additions that Go's client does not make: a form
   * Content-Type for any body, and Expect: 100-continue (a round trip). */
  if (rc == 0) rc = append_raw(&list, "Expect:");
  if (rc == 0 && !guest_has_header(msg, "Content-Type"))
    rc = append_raw(&list, "Content-Type:");
  if (rc != 0) {
    curl_slist_free_all(list);
    return -1;
  }
  *out = list;
  return 0;
}

/* Decodes and validates; the request borrows *out_msg's strings. */
static int prepare(const tarmac_httpclient_t *client, const uint8_t *payload,
                   size_t len, Tarmac__HTTPClient **out_msg,
                   httpc_request_t *req, tarmac_callback_status_t *status) {
  tarmac_buffer_t q = TARMAC_BUFFER_INIT;
  *req = (httpc_request_t){0};
  Tarmac__HTTPClient *msg = (Tarmac__HTTPClient *)tarmac_encoding_decode(
      &tarmac__httpclient__descriptor, payload, len, status);
  *out_msg = msg;
  if (msg == NULL) return -1;
  req->msg = msg;
  req->method = msg->method[0] ? msg->method : "GET";
  req->send_body = true;
  int rc = -1;
  if (strlen(req->method) > TARMAC_HTTPCLIENT_METHOD_MAX ||
      !is_token(req->method))
    tarmac_callback_status_set(status, 400, "method %s is not an HTTP token",
                               quoted(req->method, &q));
  else if (msg->url[0] == '\0')
    tarmac_callback_status_set(status, 400, "url is empty");
  else if (check_headers(msg, status) == 0 &&
           httpc_request_set_url(client, req, msg->url, "url", status) == 0)
    rc = 0;
  tarmac_buffer_free(&q);
  return rc;
}

static void request_free(httpc_request_t *req) {
  free(req->url);
  free(req->host);
}

int tarmac_httpclient_check(const tarmac_httpclient_t *client,
                            const uint8_t *payload, size_t len,
                            tarmac_callback_status_t *status) {
  Tarmac__HTTPClient *msg;
  httpc_request_t req;
  int rc = prepare(client, payload, len, &msg, &req, status);
  request_free(&req);
  tarmac_encoding_free(msg ? &msg->base : NULL);
  return rc;
}

/* ---- the reply ---- */

typedef struct {
  Tarmac__HTTPClientResponse__HeadersEntry *entries;
  Tarmac__HTTPClientResponse__HeadersEntry **entry_ptrs;
  Tarmac__Header *headers;
  char **values; /* borrowed from the response's pairs */
} reply_headers_t;

static void reply_headers_free(reply_headers_t *rh) {
  free(rh->entries);
  free(rh->entry_ptrs);
  free(rh->headers);
  free(rh->values);
}

/* Groups the response's pairs by name (names are canonical, and at most
 * TARMAC_HTTPCLIENT_RESPONSE_HEADERS_MAX, so the quadratic grouping is
 * bounded), keeping the order of values. 0 or -1 (out of memory). */
static int group_headers(const httpc_response_t *resp,
                         Tarmac__HTTPClientResponse *reply,
                         reply_headers_t *rh) {
  size_t n = resp->n_pairs;
  if (n == 0) return 0;
  rh->entries = calloc(n, sizeof *rh->entries);
  rh->entry_ptrs = calloc(n, sizeof *rh->entry_ptrs);
  rh->headers = calloc(n, sizeof *rh->headers);
  rh->values = calloc(n, sizeof *rh->values);
  if (!rh->entries || !rh->entry_ptrs || !rh->headers || !rh->values) return -1;
  size_t used = 0, groups = 0;
  for (size_t i = 0; i < n; i++) {
    const char *name = resp->pairs[i];
    size_t g = 0;
    while (g < groups && strcmp(rh->entries[g].key, name) != 0) g++;
    if (g < groups) continue; /* gathered with its first occurrence */
    Tarmac__Header h = TARMAC__HEADER__INIT;
    h.values = rh->values + used;
    for (size_t j = i; j < n; j++)
      if (strcmp(resp->pairs[j], name) == 0)
        h.values[h.n_values++] = resp->pairs[j] + strlen(resp->pairs[j]) + 1;
    used += h.n_values;
    rh->headers[groups] = h;
    Tarmac__HTTPClientResponse__HeadersEntry e =
        TARMAC__HTTPCLIENT_RESPONSE__HEADERS_ENTRY__INIT;
    e.key = (char *)name;
    e.value = &rh->headers[groups];
    rh->entries[groups] = e;
    rh->entry_ptrs[groups] = &rh->entries[groups];
    groups++;
  }
  reply->headers = rh->entry_ptrs;
  reply->n_headers = groups;
  return 0;
}

static int reply(const httpc_response_t *resp,
                 tarmac_callback_status_t *status, tarmac_buffer_t *response,
                 tarmac_buffer_t *error) {
  Tarmac__HTTPClientResponse out = TARMAC__HTTPCLIENT_RESPONSE__INIT;
  Tarmac__Status st;
  reply_headers_t rh = {0};
  if (status->code == 200) {
    if (group_headers(resp, &out, &rh) != 0) {
      tarmac_callback_status_set(status, 500, "out of memory");
      out.n_headers = 0;
    } else {
      out.code = (int32_t)resp->code;
      out.body.data = resp->body.data;
      out.body.len = resp->body.len;
    }
  }
  tarmac_encoding_status(status, &st);
  out.status = &st;
  int rc = tarmac_encoding_reply(&out.base, status, response, error);
  reply_headers_free(&rh);
  return rc;
}

static int call(void *data, const tarmac_host_call_t *c,
                tarmac_buffer_t *response, tarmac_buffer_t *error) {
  tarmac_httpclient_t *client = data;
  tarmac_callback_status_t status;
  Tarmac__HTTPClient *msg;
  httpc_request_t req;
  httpc_response_t resp = {0};
  if (prepare(client, c->payload, c->payload_len, &msg, &req, &status) == 0)
    httpc_transfer(client, &req, &resp, &status);
  int rc = reply(&resp, &status, response, error);
  httpc_response_reset(&resp);
  tarmac_buffer_free(&resp.body);
  request_free(&req);
  tarmac_encoding_free(msg ? &msg->base : NULL);
  return rc;
}

static void client_free(void *data) { tarmac_httpclient_free(data); }

int tarmac_callbacks_add_httpclient(tarmac_callbacks_t *registry,
                                    tarmac_httpclient_t *client) {
  if (registry == NULL || client == NULL) {
    tarmac_httpclient_free(client);
    return -1;
  }
  if (tarmac_callbacks_own(registry, client, client_free) != 0) return -1;
  return tarmac_callbacks_add(registry, "tarmac", "httpclient", "call", call,
                              client);
}
