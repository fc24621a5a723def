/* server/envelope_internal: the two response readers behind
 * tarmac_envelope_response, exposed so the differential fuzzer
 * (fuzz/fuzz_envelope_response.c) can hold them to their contract: whatever
 * the fast reader accepts, the reference accepts with the same result. Not
 * for other callers. */
#ifndef TARMAC_SERVER_ENVELOPE_INTERNAL_H
#define TARMAC_SERVER_ENVELOPE_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "http/http.h"

/* The yajl event reader: true when the document is a valid envelope and res
 * (reset first) holds it; false when the reference has to decide (res then
 * unspecified). */
bool tarmac_envelope_response_fast(const uint8_t *data, size_t len,
                                   tarmac_http_response_t *res);

/* The jansson reader, which defines the contract: 0, or -1 with err set. */
int tarmac_envelope_response_reference(const uint8_t *data, size_t len,
                                       tarmac_http_response_t *res, char *err,
                                       size_t err_size);

#endif
