/* server/envelope: the seed's JSON request and response envelopes
 * (guest-contracts.md section 2). Requests are written in one pass;
 * responses are read by yajl's event parser when they are plain, well-formed
 * envelopes, and otherwise by jansson, whose reading is the reference (it
 * names what is wrong). Base64 is OpenSSL's.
 *
 * Request:  {"headers": {"REQUEST_TYPE": "http", "HTTP_METHOD": ...,
 *            "HTTP_PATH": ..., "HTTP_QUERY": ..., "REMOTE_ADDR": ...,
 *            "<Canonical-Header>": "<value>", ...},
 *            "params": {"<name>": "<decoded value>", ...},  (route parameters;
 *                                                        absent when none)
 *            "payload": "<base64 body>"}
 * Response: {"status_code": N, "headers": {...}, "payload": "<base64>"}
 *
 * Tarmac v0.1 used the same request envelope and a response whose status
 * is an object: {"headers": {...}, "status": {"code": N, "status": "OK"},
 * "payload": "<base64>"} (tarmac_envelope_response_v01).
 */
#ifndef TARMAC_SERVER_ENVELOPE_H
#define TARMAC_SERVER_ENVELOPE_H

#include <stddef.h>
#include <stdint.h>

#include "http/http.h"
#include "server/router.h"
#include "util/base64.h" /* the envelopes' base64 (moved to util) */
#include "util/buffer.h"

/* Writes the request envelope into out (appended). 0 or -1 (no memory). */
int tarmac_envelope_request(const tarmac_http_request_t *req,
                            tarmac_buffer_t *out);
/* The same with the route's parameters (values percent-decoded into the
 * "params" object; none: no "params" key). */
int tarmac_envelope_request_params(const tarmac_http_request_t *req,
                                   const tarmac_route_param_t *params,
                                   unsigned param_count,
                                   tarmac_buffer_t *out);

/* Parses a guest's response envelope into res (status, headers, body).
 * 0, or -1 with a short reason in err ("response envelope: ..."); res is
 * then unspecified. */
int tarmac_envelope_response(const uint8_t *data, size_t len,
                             tarmac_http_response_t *res, char *err,
                             size_t err_size);

/* Parses a v0.1 response envelope (status object); as
 * tarmac_envelope_response otherwise. Missing status or code 0: 200. */
int tarmac_envelope_response_v01(const uint8_t *data, size_t len,
                                 tarmac_http_response_t *res, char *err,
                                 size_t err_size);

#endif
