/* guest_util: what the envelope-contract test guests (seed, v0.1) share:
 * base64 and finding a value in the request's JSON by key. Guests are
 * tests, not parsers of hostile input: inputs are the server's envelopes.
 * Every result is malloc()ed and NUL-terminated; the caller frees it; NULL
 * when absent, invalid or out of memory. */
#ifndef TARMAC_TESTS_SERVICES_GUEST_UTIL_H
#define TARMAC_TESTS_SERVICES_GUEST_UTIL_H

#include <stddef.h>
#include <stdint.h>

char *guest_base64_encode(const uint8_t *data, size_t len);
/* *out_len gets the decoded length. */
uint8_t *guest_base64_decode(const char *text, size_t len, size_t *out_len);
/* The text of the string value of "key" (escapes kept as written). */
char *guest_json_string(const char *json, const char *key);
/* The whole text of the object value of "key" ({...}). */
char *guest_json_object(const char *json, const char *key);
/* The decoded body: the base64 string value of "payload" ("" if none). */
uint8_t *guest_request_body(const char *json, size_t *len);

/* Answers in a contract's response envelope, around the answer's base64. */
typedef int (*guest_envelope_fn)(const char *b64);
/* Serves an envelope request: the answer is the request's path parameters
 * ("params", verbatim) when it has any, else `prefix` + the request body;
 * `respond` wraps it. Returns what the handler returns. */
int guest_serve_envelope(const uint8_t *request, const char *prefix,
                         guest_envelope_fn respond);

#endif
