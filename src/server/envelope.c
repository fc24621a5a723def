/* The seed's request/response envelopes. */
#include <ctype.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <yajl/yajl_parse.h>

#include "server/envelope.h"
#include "server/envelope_internal.h"
#include "util/utf8.h"

/* The request envelope is written directly (one pass, no intermediate JSON
 * objects: it is on every request's path); responses are parsed with
 * jansson. */

/* Appends the bytes of a JSON string's content: escapes what JSON needs
 * escaped; bytes that are not UTF-8 (possible in header values) are taken
 * as Latin-1. 0 or -1. */
static int append_json_chars(tarmac_buffer_t *out, const char *text,
                             size_t len) {
  const unsigned char *s = (const unsigned char *)text;
  /* worst case: every byte becomes \u00XX */
  if (tarmac_buffer_reserve(out, len * 6) != 0) return -1;
  uint8_t *w = out->data + out->len;
  static const char hex[] = "0123456789abcdef";
  for (size_t i = 0; i < len;) {
    unsigned char c = s[i];
    if (c >= 0x20 && c < 0x80 && c != '"' && c != '\\') { /* most bytes */
      *w++ = c;
      i++;
      continue;
    }
    size_t n = tarmac_utf8_sequence(s + i, len - i);
    if (n == 0) { /* Latin-1 byte as a two-byte UTF-8 sequence */
      *w++ = (uint8_t)(0xC0 | (c >> 6));
      *w++ = (uint8_t)(0x80 | (c & 0x3F));
      i++;
    } else if (c == '"' || c == '\\') {
      *w++ = '\\';
      *w++ = c;
      i++;
    } else if (c < 0x20) {
      *w++ = '\\';
      *w++ = 'u';
      *w++ = '0';
      *w++ = '0';
      *w++ = (uint8_t)hex[c >> 4];
      *w++ = (uint8_t)hex[c & 15];
      i++;
    } else {
      memcpy(w, s + i, n);
      w += n;
      i += n;
    }
  }
  out->len = (size_t)(w - out->data);
  return 0;
}

static int append_json_string(tarmac_buffer_t *out, const char *text,
                              size_t len) {
  if (tarmac_buffer_append(out, "\"", 1) != 0 ||
      append_json_chars(out, text, len) != 0)
    return -1;
  return tarmac_buffer_append(out, "\"", 1);
}

/* Where a chunk of name[start..] may end at or before `end` without
 * cutting a UTF-8 sequence in two (each half would read as Latin-1):
 * before the lead byte of a sequence whose continuation bytes reach `end`. */
static size_t chunk_end(const char *name, size_t start, size_t end,
                        size_t len) {
  if (end >= len) return len;
  for (size_t k = end; k + 3 >= end && k > start; k--)
    if (((unsigned char)name[k] & 0xC0) != 0x80) return k;
  return end; /* four continuation bytes: no valid sequence spans end */
}

/* "content-type" -> "Content-Type", as Go's net/http (the seed) did;
 * converted a chunk at a time, then escaped like any string content. */
static int append_canonical_name(tarmac_buffer_t *out, const char *name,
                                 size_t len) {
  char chunk[256];
  bool upper = true;
  for (size_t done = 0; done < len;) {
    size_t n = chunk_end(name, done, done + sizeof(chunk), len) - done;
    for (size_t i = 0; i < n; i++) {
      unsigned char c = (unsigned char)name[done + i];
      chunk[i] = (char)(upper ? toupper(c) : tolower(c));
      upper = c == '-';
    }
    if (append_json_chars(out, chunk, n) != 0) return -1;
    done += n;
  }
  return 0;
}

/* Repeated request headers are joined under one name. Their groups are
 * found by sorting header indices by name (ASCII case-insensitive) with a
 * stable merge sort: O(n log n) for any names a client picks, where
 * comparing every header with every other was quadratic (20,000 headers
 * cost seconds of CPU). Up to GROUP_INLINE headers the work arrays live on
 * the stack, so the common request allocates nothing here. */
#define GROUP_INLINE 128
#define GROUP_END UINT32_MAX

typedef struct {
  uint32_t *next;  /* next[i]: the following header of i's name, or END */
  uint32_t *later; /* later[i]: 1 when header i is not its name's first */
  uint32_t inline_space[3 * GROUP_INLINE];
  uint32_t *heap;
} header_groups_t;

static unsigned char ascii_lower(unsigned char c) {
  return c >= 'A' && c <= 'Z' ? (unsigned char)(c + 32) : c;
}

/* A total order in which names equal but for ASCII case are equal. */
static int compare_names(const tarmac_http_header_t *a,
                         const tarmac_http_header_t *b) {
  if (a->name_len != b->name_len) return a->name_len < b->name_len ? -1 : 1;
  for (size_t i = 0; i < a->name_len; i++) {
    unsigned char x = ascii_lower((unsigned char)a->name[i]);
    unsigned char y = ascii_lower((unsigned char)b->name[i]);
    if (x != y) return x < y ? -1 : 1;
  }
  return 0;
}

/* Merges the sorted runs from[lo, mid) and from[mid, hi) into to[lo, hi);
 * on equal names the left run goes first (stability). */
static void merge_runs(const tarmac_http_header_t *h, const uint32_t *from,
                       uint32_t *to, size_t lo, size_t mid, size_t hi) {
  size_t a = lo, b = mid;
  for (size_t k = lo; k < hi; k++) {
    if (a < mid && (b >= hi || compare_names(&h[from[a]], &h[from[b]]) <= 0))
      to[k] = from[a++];
    else
      to[k] = from[b++];
  }
}

/* Sorts idx[0, n) by name, bottom-up; tmp is scratch of the same size.
 * Returns the array that holds the result (idx or tmp). */
static uint32_t *sort_by_name(const tarmac_http_header_t *h, uint32_t *idx,
                              uint32_t *tmp, size_t n) {
  for (size_t width = 1; width < n; width *= 2) {
    for (size_t lo = 0; lo < n; lo += 2 * width) {
      size_t mid = lo + width < n ? lo + width : n;
      size_t hi = lo + 2 * width < n ? lo + 2 * width : n;
      merge_runs(h, idx, tmp, lo, mid, hi);
    }
    uint32_t *swap = idx;
    idx = tmp;
    tmp = swap;
  }
  return idx;
}

/* Fills g->next and g->later for the request's headers. 0, or -1 when out
 * of memory (only possible past GROUP_INLINE headers). */
static int group_headers(const tarmac_http_request_t *req, header_groups_t *g) {
  size_t n = req->header_count;
  uint32_t *space = g->inline_space;
  g->heap = NULL;
  if (n > GROUP_INLINE) {
    if (n >= GROUP_END / 3) return -1;
    g->heap = malloc(3 * n * sizeof(*space));
    if (g->heap == NULL) return -1;
    space = g->heap;
  }
  uint32_t *idx = space, *tmp = space + n;
  g->next = space + 2 * n;
  for (size_t i = 0; i < n; i++) idx[i] = (uint32_t)i;
  uint32_t *sorted = sort_by_name(req->headers, idx, tmp, n);
  /* the array the sort did not end in is free: it becomes `later` */
  g->later = sorted == idx ? tmp : idx;
  for (size_t k = 0; k < n; k++) {
    bool same_as_next =
        k + 1 < n && compare_names(&req->headers[sorted[k]],
                                   &req->headers[sorted[k + 1]]) == 0;
    bool same_as_prev = k > 0 && g->next[sorted[k - 1]] == sorted[k];
    g->next[sorted[k]] = same_as_next ? sorted[k + 1] : GROUP_END;
    g->later[sorted[k]] = same_as_prev;
  }
  return 0;
}

/* "Name":"value[, value of a repeated header...]" for the first header of
 * a name, i. */
static int append_header_group(tarmac_buffer_t *out,
                               const tarmac_http_request_t *req,
                               const header_groups_t *g, size_t i,
                               bool *first) {
  const tarmac_http_header_t *h = &req->headers[i];
  if ((!*first && tarmac_buffer_append(out, ",", 1) != 0) ||
      tarmac_buffer_append(out, "\"", 1) != 0 ||
      append_canonical_name(out, h->name, h->name_len) != 0 ||
      tarmac_buffer_append(out, "\":\"", 3) != 0 ||
      append_json_chars(out, h->value, h->value_len) != 0)
    return -1;
  *first = false;
  for (uint32_t j = g->next[i]; j != GROUP_END; j = g->next[j]) {
    const tarmac_http_header_t *more = &req->headers[j];
    if (tarmac_buffer_append(out, ", ", 2) != 0 ||
        append_json_chars(out, more->value, more->value_len) != 0)
      return -1;
  }
  return tarmac_buffer_append(out, "\"", 1);
}

/* Every request header, repeated names joined, in order of first
 * appearance. 0 or -1 (no memory). */
static int append_request_headers(tarmac_buffer_t *out,
                                  const tarmac_http_request_t *req,
                                  bool *first) {
  header_groups_t groups;
  if (group_headers(req, &groups) != 0) return -1;
  int rc = 0;
  for (size_t i = 0; i < req->header_count && rc == 0; i++)
    if (!groups.later[i])
      rc = append_header_group(out, req, &groups, i, first);
  free(groups.heap);
  return rc;
}

static int append_field(tarmac_buffer_t *out, const char *key,
                        const char *value, size_t value_len) {
  if (tarmac_buffer_append_str(out, key) != 0) return -1;
  return append_json_string(out, value, value_len);
}

/* A bound on the request envelope's size (strings escaped at worst six
 * bytes a byte), reserved up front so the buffer never grows while it is
 * written. */
static size_t request_envelope_bound(const tarmac_http_request_t *req,
                                     const tarmac_route_param_t *params,
                                     unsigned param_count) {
  size_t chars = req->method_len + req->path_len + req->query_len +
                 strlen(req->remote_addr);
  for (unsigned i = 0; i < param_count; i++)
    chars += params[i].name_len + params[i].value_len + 8;
  for (size_t i = 0; i < req->header_count; i++)
    chars += req->headers[i].name_len + req->headers[i].value_len;
  return 256 + 8 * req->header_count + 6 * chars +
         4 * ((req->body_len + 2) / 3) + 1;
}

/* Appends one parameter value, percent-decoded (decoded bytes that are not
 * UTF-8 are taken as Latin-1, as header values are). 0 or -1. */
static int append_param_value(tarmac_buffer_t *out, const char *value,
                              size_t len) {
  char small[256];
  char *decoded = len <= sizeof small ? small : malloc(len);
  if (decoded == NULL) return -1;
  size_t n = tarmac_route_decode(value, len, decoded);
  int rc = tarmac_buffer_append(out, "\"", 1) != 0 ||
           append_json_chars(out, decoded, n) != 0 ||
           tarmac_buffer_append(out, "\"", 1) != 0 ? -1 : 0;
  if (decoded != small) free(decoded);
  return rc;
}

/* ,"params":{"name":"value",...} when there are parameters. */
static int append_params(tarmac_buffer_t *out,
                         const tarmac_route_param_t *params,
                         unsigned param_count) {
  if (param_count == 0) return 0;
  if (tarmac_buffer_append_str(out, ",\"params\":{") != 0) return -1;
  for (unsigned i = 0; i < param_count; i++) {
    if ((i > 0 && tarmac_buffer_append(out, ",", 1) != 0) ||
        append_json_string(out, params[i].name, params[i].name_len) != 0 ||
        tarmac_buffer_append(out, ":", 1) != 0 ||
        append_param_value(out, params[i].value, params[i].value_len) != 0)
      return -1;
  }
  return tarmac_buffer_append(out, "}", 1);
}

int tarmac_envelope_request_params(const tarmac_http_request_t *req,
                                   const tarmac_route_param_t *params,
                                   unsigned param_count,
                                   tarmac_buffer_t *out) {
  bool first = true;
  if (tarmac_buffer_reserve(out, request_envelope_bound(req, params,
                                                        param_count)) != 0 ||
      tarmac_buffer_append_str(out, "{\"headers\":{") != 0)
    return -1;
  if (append_request_headers(out, req, &first) != 0) return -1;
  if (append_field(out, first ? "\"REQUEST_TYPE\":" : ",\"REQUEST_TYPE\":",
                   "http", 4) != 0 ||
      append_field(out, ",\"HTTP_METHOD\":", req->method, req->method_len) ||
      append_field(out, ",\"HTTP_PATH\":", req->path, req->path_len) ||
      append_field(out, ",\"HTTP_QUERY\":", req->query, req->query_len) ||
      append_field(out, ",\"REMOTE_ADDR\":", req->remote_addr,
                   strlen(req->remote_addr)) ||
      tarmac_buffer_append_str(out, "}") != 0 ||
      append_params(out, params, param_count) != 0 ||
      tarmac_buffer_append_str(out, ",\"payload\":\"") != 0 ||
      tarmac_base64_encode(req->body, req->body_len, out) != 0)
    return -1;
  return tarmac_buffer_append(out, "\"}", 2);
}

int tarmac_envelope_request(const tarmac_http_request_t *req,
                            tarmac_buffer_t *out) {
  return tarmac_envelope_request_params(req, NULL, 0, out);
}

static int fail(char *err, size_t err_size, const char *reason) {
  snprintf(err, err_size, "invalid response envelope: %s", reason);
  return -1;
}

static int parse_status(json_t *root, tarmac_http_response_t *res, char *err,
                        size_t err_size) {
  json_t *status = json_object_get(root, "status_code");
  res->status = 200;
  if (status == NULL || json_is_null(status)) return 0;
  if (!json_is_integer(status))
    return fail(err, err_size, "status_code is not an integer");
  json_int_t code = json_integer_value(status);
  if (code == 0) return 0;
  if (code < 200 || code > 599)
    return fail(err, err_size, "status_code is not from 200 to 599");
  res->status = (int)code;
  return 0;
}

static int parse_headers(json_t *root, tarmac_http_response_t *res,
                         char *err, size_t err_size) {
  json_t *headers = json_object_get(root, "headers");
  if (headers == NULL || json_is_null(headers)) return 0;
  if (!json_is_object(headers))
    return fail(err, err_size, "headers is not an object");
  const char *name;
  json_t *value;
  json_object_foreach(headers, name, value) {
    if (!json_is_string(value))
      return fail(err, err_size, "a header value is not a string");
    if (tarmac_http_response_add_header(res, name, strlen(name),
                                        json_string_value(value),
                                        json_string_length(value)) != 0)
      return fail(err, err_size, "a header name or value is not valid HTTP");
  }
  return 0;
}

static int parse_payload(json_t *root, tarmac_http_response_t *res,
                         char *err, size_t err_size) {
  json_t *payload = json_object_get(root, "payload");
  if (payload == NULL || json_is_null(payload)) return 0;
  if (!json_is_string(payload))
    return fail(err, err_size, "payload is not a string");
  if (tarmac_base64_decode(json_string_value(payload),
                           json_string_length(payload), &res->body) != 0)
    return fail(err, err_size, "payload is not valid base64");
  return 0;
}

/* v0.1's status: {"status": {"code": N, "status": "text"}}; the text is
 * not sent (HTTP/2 has no reason phrase). Missing, null or 0 means 200. */
static int parse_status_object(json_t *root, tarmac_http_response_t *res,
                               char *err, size_t err_size) {
  json_t *status = json_object_get(root, "status");
  res->status = 200;
  if (status == NULL || json_is_null(status)) return 0;
  if (!json_is_object(status))
    return fail(err, err_size, "status is not an object");
  json_t *code = json_object_get(status, "code");
  if (code == NULL || json_is_null(code)) return 0;
  if (!json_is_integer(code))
    return fail(err, err_size, "status.code is not an integer");
  json_int_t n = json_integer_value(code);
  if (n == 0) return 0;
  if (n < 200 || n > 599)
    return fail(err, err_size, "status.code is not from 200 to 599");
  res->status = (int)n;
  return 0;
}

typedef int (*status_reader_t)(json_t *root, tarmac_http_response_t *res,
                               char *err, size_t err_size);

/* A jansson tree read with the given status reader; headers and payload
 * are the same in both generations. */
static int read_tree(const uint8_t *data, size_t len, status_reader_t status,
                     tarmac_http_response_t *res, char *err,
                     size_t err_size) {
  tarmac_http_response_reset(res);
  json_error_t jerr;
  json_t *root = json_loadb((const char *)data, len, 0, &jerr);
  if (root == NULL) return fail(err, err_size, "not JSON");
  int rc = -1;
  if (!json_is_object(root))
    fail(err, err_size, "not a JSON object");
  else if (status(root, res, err, err_size) == 0 &&
           parse_headers(root, res, err, err_size) == 0 &&
           parse_payload(root, res, err, err_size) == 0)
    rc = 0;
  json_decref(root);
  return rc;
}

/* The reference parse: a jansson tree. Defines what a valid envelope is and
 * names what is wrong with an invalid one. */
int tarmac_envelope_response_reference(const uint8_t *data, size_t len,
                                       tarmac_http_response_t *res, char *err,
                                       size_t err_size) {
  return read_tree(data, len, parse_status, res, err, err_size);
}

int tarmac_envelope_response_v01(const uint8_t *data, size_t len,
                                 tarmac_http_response_t *res, char *err,
                                 size_t err_size) {
  return read_tree(data, len, parse_status_object, res, err, err_size);
}

/* The fast parse: the common, well-formed envelope is read by yajl's event
 * parser straight into the response, with no tree and no allocation per
 * value. It only accepts what the tree parse accepts, with the same result;
 * whenever it meets anything else (an error of any kind, a duplicate key,
 * nesting under a known key or deeper than SKIP_DEPTH_MAX under an unknown
 * one, or one of the spots where yajl is more lenient than jansson:
 * \v and \f as white space, lone surrogate escapes, NUL, not quite valid
 * UTF-8, scalar documents) it gives up and the tree parse decides. */

enum root_key { KEY_OTHER, KEY_STATUS, KEY_HEADERS, KEY_PAYLOAD };

/* Header names held for the value that follows; longer ones give up. */
#define STREAM_NAME_MAX 256
/* Beyond this many headers the duplicate check would grow quadratic. */
#define STREAM_HEADERS_MAX 64
/* Values under unknown root keys are skipped (an echoing guest sends the
 * request envelope's "params" object back); nesting deeper than this
 * is left to the tree parse, whose own depth limit then decides. */
#define SKIP_DEPTH_MAX 32

typedef struct {
  tarmac_http_response_t *res;
  const uint8_t *text; /* the document: names pointing into it stay valid */
  size_t text_len;
  int depth;           /* 0 outside the root, 1 in it, 2 in "headers" */
  int skipping;        /* maps and arrays open under an unknown root key */
  enum root_key key;   /* the root key whose value comes next */
  unsigned seen;       /* root keys met so far (bit per root_key) */
  const char *name;    /* header name whose value comes next */
  size_t name_len;
  char name_copy[STREAM_NAME_MAX];
  yajl_handle parser;  /* for the offset where the root object ends */
  size_t root_end;     /* bytes up to the root's '}', 0 until then */
} stream_t;

/* Text jansson takes as it is: valid UTF-8 without NUL. */
static bool strict_text(const unsigned char *s, size_t len) {
  for (size_t i = 0; i < len;) {
    if (s[i] >= 0x80) {
      size_t n = tarmac_utf8_sequence(s + i, len - i);
      if (n == 0) return false;
      i += n;
    } else if (s[i] == 0) {
      return false;
    } else {
      i++;
    }
  }
  return true;
}

/* Spots where yajl accepts what jansson refuses and the decoded strings
 * cannot tell: \v or \f as white space, \uD800-\uDFFF escapes (yajl turns
 * a lone one into '?'). An escaped backslash before "ud" is a false alarm,
 * which only costs the tree parse. */
static bool has_lenient_spots(const uint8_t *s, size_t len) {
  for (size_t i = 0; i < len; i++) {
    uint8_t c = s[i];
    if (c == '\v' || c == '\f') return true;
    if (c == '\\' && i + 2 < len && s[i + 1] == 'u' && (s[i + 2] | 0x20) == 'd')
      return true;
  }
  return false;
}

/* A scalar other than a string: fine only as the value of an unknown root
 * key (or null for a known one). */
static int on_scalar(stream_t *st, bool is_null) {
  if (st->skipping) return 1;
  if (st->depth != 1) return 0;
  return st->key == KEY_OTHER || is_null;
}

static int on_null(void *ctx) { return on_scalar(ctx, true); }

static int on_boolean(void *ctx, int value) { return on_scalar(ctx, false); }

static int on_double(void *ctx, double value) { return on_scalar(ctx, false); }

static int on_integer(void *ctx, long long value) {
  stream_t *st = ctx;
  if (st->skipping || st->depth != 1 || st->key != KEY_STATUS)
    return on_scalar(st, false);
  if (value == 0) return 1;
  if (value < 200 || value > 599) return 0;
  st->res->status = (int)value;
  return 1;
}

/* Whether the response already holds a header of this exact name (jansson
 * keeps the last value at the first one's place: the tree parse does it). */
static bool header_seen(const tarmac_http_response_t *res, const char *name,
                        size_t name_len) {
  size_t cursor = 0, nl, vl;
  const char *n, *v;
  while (tarmac_http_response_next_header(res, &cursor, &n, &nl, &v, &vl))
    if (nl == name_len && memcmp(n, name, nl) == 0) return true;
  return false;
}

static int on_string(void *ctx, const unsigned char *s, size_t len) {
  stream_t *st = ctx;
  if (!strict_text(s, len)) return 0;
  if (st->skipping) return 1;
  if (st->depth == 2)
    return st->res->header_count < STREAM_HEADERS_MAX &&
           !header_seen(st->res, st->name, st->name_len) &&
           tarmac_http_response_add_header(st->res, st->name, st->name_len,
                                           (const char *)s, len) == 0;
  if (st->depth != 1) return 0;
  if (st->key == KEY_PAYLOAD)
    return tarmac_base64_decode((const char *)s, len, &st->res->body) == 0;
  return st->key == KEY_OTHER;
}

/* Keeps a header name until its value: in place when it points into the
 * document, else (it was unescaped into yajl's scratch buffer) a copy. */
static int hold_name(stream_t *st, const unsigned char *s, size_t len) {
  uintptr_t at = (uintptr_t)s, start = (uintptr_t)st->text;
  if (at >= start && at - start <= st->text_len) {
    st->name = (const char *)s;
  } else {
    if (len > sizeof(st->name_copy)) return 0;
    memcpy(st->name_copy, s, len);
    st->name = st->name_copy;
  }
  st->name_len = len;
  return 1;
}

static enum root_key root_key(const unsigned char *s, size_t len) {
  if (len == 11 && memcmp(s, "status_code", 11) == 0) return KEY_STATUS;
  if (len == 7 && memcmp(s, "headers", 7) == 0) return KEY_HEADERS;
  if (len == 7 && memcmp(s, "payload", 7) == 0) return KEY_PAYLOAD;
  return KEY_OTHER;
}

static int on_map_key(void *ctx, const unsigned char *s, size_t len) {
  stream_t *st = ctx;
  if (!strict_text(s, len)) return 0;
  if (st->skipping) return 1;
  if (st->depth == 2) return hold_name(st, s, len);
  st->key = root_key(s, len);
  if (st->key == KEY_OTHER) return 1;
  unsigned bit = 1u << st->key;
  if (st->seen & bit) return 0; /* duplicate: the last one counts */
  st->seen |= bit;
  return 1;
}

/* A map or array opening under an unknown root key, or inside one. */
static int skip_open(stream_t *st) {
  if (st->skipping == 0 && (st->depth != 1 || st->key != KEY_OTHER)) return 0;
  return ++st->skipping <= SKIP_DEPTH_MAX;
}

static int on_start_map(void *ctx) {
  stream_t *st = ctx;
  if (st->skipping == 0 &&
      (st->depth == 0 || (st->depth == 1 && st->key == KEY_HEADERS))) {
    st->depth++;
    return 1;
  }
  return skip_open(st);
}

static int on_end_map(void *ctx) {
  stream_t *st = ctx;
  if (st->skipping) return st->skipping--, 1;
  if (--st->depth == 0) st->root_end = yajl_get_bytes_consumed(st->parser);
  return 1;
}

/* yajl takes an unfinished token after the document (`{} "`) for input
 * still to come and accepts the document: only JSON white space may
 * follow the root object. */
static bool only_space_after(const uint8_t *data, size_t len, size_t from) {
  if (from == 0 || from > len) return false;
  for (size_t i = from; i < len; i++)
    if (data[i] != ' ' && data[i] != '\t' && data[i] != '\n' &&
        data[i] != '\r')
      return false;
  return true;
}

static int on_start_array(void *ctx) { return skip_open(ctx); }

static int on_end_array(void *ctx) {
  stream_t *st = ctx;
  st->skipping--;
  return 1;
}

static const yajl_callbacks stream_callbacks = {
    .yajl_null = on_null,
    .yajl_boolean = on_boolean,
    .yajl_integer = on_integer,
    .yajl_double = on_double,
    .yajl_string = on_string,
    .yajl_start_map = on_start_map,
    .yajl_map_key = on_map_key,
    .yajl_end_map = on_end_map,
    .yajl_start_array = on_start_array,
    .yajl_end_array = on_end_array,
};

/* yajl's allocations per parse (handle, lexer, stacks, and the 2 KiB
 * buffers it takes for a string with escapes or a token it must hold)
 * come from a block on the caller's stack instead of malloc; what does not
 * fit there goes to the heap. Each piece carries its size for realloc. */
typedef struct {
  size_t used;
  _Alignas(max_align_t) unsigned char block[8192];
} stack_arena_t;

#define ARENA_ALIGN sizeof(max_align_t)

static bool in_arena(const stack_arena_t *arena, const void *p) {
  uintptr_t at = (uintptr_t)p, start = (uintptr_t)arena->block;
  return at >= start && at - start < sizeof(arena->block);
}

static void *arena_malloc(void *ctx, size_t size) {
  stack_arena_t *arena = ctx;
  size_t need =
      ARENA_ALIGN + (size + ARENA_ALIGN - 1) / ARENA_ALIGN * ARENA_ALIGN;
  if (size > sizeof(arena->block) || need > sizeof(arena->block) - arena->used)
    return malloc(size);
  unsigned char *piece = arena->block + arena->used;
  memcpy(piece, &size, sizeof(size));
  arena->used += need;
  return piece + ARENA_ALIGN;
}

static void arena_free(void *ctx, void *p) {
  if (p != NULL && !in_arena(ctx, p)) free(p);
}

static void *arena_realloc(void *ctx, void *p, size_t size) {
  if (p == NULL) return arena_malloc(ctx, size);
  if (!in_arena(ctx, p)) return realloc(p, size);
  size_t old;
  memcpy(&old, (unsigned char *)p - ARENA_ALIGN, sizeof(old));
  void *moved = arena_malloc(ctx, size);
  if (moved != NULL) memcpy(moved, p, old < size ? old : size);
  return moved;
}

/* true when the document was a valid envelope and res holds it; false
 * when the tree parse has to decide (res then unspecified). */
bool tarmac_envelope_response_fast(const uint8_t *data, size_t len,
                                   tarmac_http_response_t *res) {
  tarmac_http_response_reset(res);
  res->status = 200;
  if (has_lenient_spots(data, len)) return false;
  stream_t st = {.res = res, .text = data, .text_len = len};
  stack_arena_t arena;
  arena.used = 0;
  yajl_alloc_funcs funcs = {arena_malloc, arena_realloc, arena_free, &arena};
  yajl_handle parser = yajl_alloc(&stream_callbacks, &funcs, &st);
  if (parser == NULL) return false;
  st.parser = parser;
  bool ok = yajl_parse(parser, data, len) == yajl_status_ok &&
            yajl_complete_parse(parser) == yajl_status_ok;
  yajl_free(parser);
  return ok && st.depth == 0 && only_space_after(data, len, st.root_end);
}

int tarmac_envelope_response(const uint8_t *data, size_t len,
                             tarmac_http_response_t *res, char *err,
                             size_t err_size) {
  if (tarmac_envelope_response_fast(data, len, res)) return 0;
  return tarmac_envelope_response_reference(data, len, res, err, err_size);
}
