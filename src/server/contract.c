/* The HTTP contract generations (see contract.h). */
#include "server/contract.h"

#include <stdio.h>
#include <string.h>

#include "server/envelope.h"

/* The operation name: prefix then the method (the route's, else the
 * request's). */
static int set_operation(tarmac_contract_call_t *call, const char *prefix,
                         const tarmac_http_request_t *req,
                         const tarmac_route_match_t *match, char *err,
                         size_t err_size) {
  const char *method = req->method;
  size_t method_len = req->method_len;
  if (match != NULL && match->method != NULL) {
    method = match->method;
    method_len = strlen(method);
  }
  size_t prefix_len = strlen(prefix);
  if (prefix_len + method_len >= sizeof call->operation) {
    snprintf(err, err_size, "the method is too long for an operation name");
    return -1;
  }
  memcpy(call->operation, prefix, prefix_len);
  memcpy(call->operation + prefix_len, method, method_len);
  call->operation_len = prefix_len + method_len;
  call->operation[call->operation_len] = '\0';
  return 0;
}

static void set_fixed_operation(tarmac_contract_call_t *call,
                                const char *operation) {
  call->operation_len = strlen(operation);
  memcpy(call->operation, operation, call->operation_len + 1);
}

static int envelope_payload(const tarmac_http_request_t *req,
                            const tarmac_route_match_t *match,
                            tarmac_buffer_t *scratch,
                            tarmac_contract_call_t *call, char *err,
                            size_t err_size) {
  size_t start = scratch->len;
  if (tarmac_envelope_request_params(req, match ? match->params : NULL,
                                     match ? match->param_count : 0,
                                     scratch) != 0) {
    snprintf(err, err_size, "out of memory for the request envelope");
    return -1;
  }
  call->payload = scratch->data + start;
  call->payload_len = scratch->len - start;
  return 0;
}

int tarmac_contract_request(tarmac_contract_t contract,
                            const tarmac_http_request_t *req,
                            const tarmac_route_match_t *match,
                            tarmac_buffer_t *scratch,
                            tarmac_contract_call_t *call, char *err,
                            size_t err_size) {
  call->payload = req->body;
  call->payload_len = req->body_len;
  switch (contract) {
    case TARMAC_CONTRACT_SEED:
      set_fixed_operation(call, "request:handler");
      return envelope_payload(req, match, scratch, call, err, err_size);
    case TARMAC_CONTRACT_V01:
      if (set_operation(call, "http:", req, match, err, err_size) != 0)
        return -1;
      return envelope_payload(req, match, scratch, call, err, err_size);
    case TARMAC_CONTRACT_V02:
      return set_operation(call, "", req, match, err, err_size);
    case TARMAC_CONTRACT_V04:
      set_fixed_operation(call, "handler");
      return 0;
  }
  snprintf(err, err_size, "unknown contract %d", (int)contract);
  return -1;
}

static int raw_response(const uint8_t *result, size_t len,
                        tarmac_http_response_t *res, char *err,
                        size_t err_size) {
  tarmac_http_response_reset(res);
  res->status = 200;
  if (tarmac_buffer_append(&res->body, result, len) != 0) {
    snprintf(err, err_size, "out of memory for the response body");
    return -1;
  }
  return 0;
}

int tarmac_contract_response(tarmac_contract_t contract,
                             const uint8_t *result, size_t len,
                             tarmac_http_response_t *res, char *err,
                             size_t err_size) {
  switch (contract) {
    case TARMAC_CONTRACT_SEED:
      return tarmac_envelope_response(result, len, res, err, err_size);
    case TARMAC_CONTRACT_V01:
      return tarmac_envelope_response_v01(result, len, res, err, err_size);
    case TARMAC_CONTRACT_V02:
    case TARMAC_CONTRACT_V04:
      return raw_response(result, len, res, err, err_size);
  }
  snprintf(err, err_size, "unknown contract %d", (int)contract);
  return -1;
}

bool tarmac_contract_guest_error(tarmac_contract_t contract,
                                 const char *error, size_t error_len,
                                 tarmac_http_response_t *res) {
  if (contract != TARMAC_CONTRACT_V04) return false;
  tarmac_http_response_reset(res);
  res->status = 500;
  if (tarmac_http_response_add_header(res, "Content-Type", 12,
                                      "text/plain; charset=utf-8", 25) != 0 ||
      tarmac_buffer_append(&res->body, error, error_len) != 0) {
    tarmac_http_response_set_text(res, 500, "out of memory");
  }
  return true;
}
