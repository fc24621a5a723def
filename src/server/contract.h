/* server/contract: the four generations of Tarmac's HTTP contract, how an
 * HTTP request becomes a guest call and the guest's result an HTTP
 * response (docs/service-file.md, "Contracts"; guest-contracts.md sections
 * 2 and 3):
 *
 *   seed   operation "request:handler", the JSON request envelope with the
 *          route's "params" (server/envelope.h); the response envelope
 *          {"status_code","headers","payload"}
 *   v0.1   operation "http:<METHOD>", the same request envelope; response
 *          {"headers", "status": {"code","status"}, "payload"}
 *   v0.2   (and v0.3) operation "<METHOD>", the raw body in, the raw result
 *          out with 200
 *   v0.4   operation "handler", the raw body in, 200 with the raw result;
 *          a guest error is 500 with the error text
 *
 * <METHOD> is the route's method (GET for a HEAD served by a GET route),
 * or the request's when the default target serves it. The contract type
 * and its names ("seed", "v0.1"...) are in service/service_file.h.
 * Nothing here keeps state: call from any thread. */
#ifndef TARMAC_SERVER_CONTRACT_H
#define TARMAC_SERVER_CONTRACT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "http/http.h"
#include "server/router.h"
#include "service/service_file.h"
#include "util/buffer.h"

/* Room for the longest operation: "http:" and a 32-byte method. */
#define TARMAC_CONTRACT_OPERATION_MAX 48

/* A guest call for one request. payload points either into the request's
 * body (raw contracts: no copy) or into the scratch buffer given to
 * tarmac_contract_request (envelopes): valid while both are. */
typedef struct {
  char operation[TARMAC_CONTRACT_OPERATION_MAX];
  size_t operation_len;
  const uint8_t *payload;
  size_t payload_len;
} tarmac_contract_call_t;

/* Builds the call for req, routed by match (its params and method; may be
 * NULL: no params, the request's method). scratch is appended to for the
 * envelope contracts (the caller owns and frees it; reuse it across
 * requests). 0, or -1 with err set (out of memory, a method too long for
 * an operation name). */
int tarmac_contract_request(tarmac_contract_t contract,
                            const tarmac_http_request_t *req,
                            const tarmac_route_match_t *match,
                            tarmac_buffer_t *scratch,
                            tarmac_contract_call_t *call, char *err,
                            size_t err_size);

/* Turns a guest's successful result into res (reset first). 0, or -1 with
 * err naming what is wrong with a response envelope (seed, v0.1); the
 * caller then answers 500 as for any failed call. The raw contracts never
 * fail but for memory. */
int tarmac_contract_response(tarmac_contract_t contract,
                             const uint8_t *result, size_t len,
                             tarmac_http_response_t *res, char *err,
                             size_t err_size);

/* A guest error (the guest returned failure with error text; not a trap or
 * a deadline, which the caller answers itself): true when the contract
 * defines the answer and res holds it (v0.4: 500, the error text as a
 * text/plain body); false when the caller answers as it does for the other
 * contracts (src/server/function.c: 500 with a short reason). */
bool tarmac_contract_guest_error(tarmac_contract_t contract,
                                 const char *error, size_t error_len,
                                 tarmac_http_response_t *res);

#endif
