/* callbacks/encoding: the payload encoding of the tarmac host callbacks
 * (guest-contracts.md section 4, docs/callbacks.md). A request is decoded
 * as protobuf first (protobuf-c, with the message's descriptor) and, when
 * that fails, as its JSON form; the reply is written in the request's
 * encoding. One descriptor-driven mapper turns JSON into any protobuf-c
 * message and back, so a new callback needs a message in proto/tarmac.proto
 * and no parser of its own.
 *
 * JSON form: an object whose keys are the proto field names; unknown keys
 * and null values are ignored; a wrong JSON type is an error (400). bytes
 * are base64 (standard, padded); 64-bit integers are JSON numbers; a map
 * is an object; a map value that is a message with one repeated field
 * (Header) may be written as one string {"k":"v"} or an array
 * {"k":["v1","v2"]} (replies use the string when there is one value).
 * Strings must not hold NUL. Replies carry every field, defaults included,
 * except message fields that are not set.
 *
 * Bounds: a payload of at most TARMAC_ENCODING_PAYLOAD_MAX bytes, JSON
 * nesting of TARMAC_ENCODING_DEPTH_MAX, TARMAC_ENCODING_COUNT_MAX elements
 * per repeated field or map. Ownership: a decoded message belongs to the
 * caller (tarmac_encoding_free). */
#ifndef TARMAC_CALLBACKS_ENCODING_H
#define TARMAC_CALLBACKS_ENCODING_H

#include <protobuf-c/protobuf-c.h>
#include <stddef.h>
#include <stdint.h>

#include "proto/tarmac.pb-c.h"
#include "util/buffer.h"

#define TARMAC_ENCODING_PAYLOAD_MAX (64u << 20)
#define TARMAC_ENCODING_DEPTH_MAX 8
#define TARMAC_ENCODING_COUNT_MAX 100000
#define TARMAC_STATUS_TEXT_MAX 512

typedef enum {
  TARMAC_ENCODING_PROTOBUF,
  TARMAC_ENCODING_JSON,
} tarmac_encoding_t;

/* The outcome of a callback, carried into its reply's Status. */
typedef struct {
  tarmac_encoding_t encoding;        /* the request's: the reply's */
  int32_t code;                      /* 200 unless set otherwise */
  char text[TARMAC_STATUS_TEXT_MAX]; /* "OK" or what went wrong */
} tarmac_callback_status_t;

/* Sets code and text (printf-style; cut to fit). */
void tarmac_callback_status_set(tarmac_callback_status_t *status, int32_t code,
                                const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Decodes payload as a `desc` message: protobuf, then JSON. Sets
 * status->encoding (JSON when only JSON parsed it; when neither did, JSON
 * if the payload starts with '{', else protobuf) and status->code (200
 * "OK", or 400 with the problem: both decoders' complaint when neither
 * worked, e.g. `payload is neither a tarmac.MetricsCounter message nor its
 * JSON form: field "name": expected a string`). Returns the message, or
 * NULL (400, or 500 when out of memory). An empty payload is an empty
 * protobuf message. */
ProtobufCMessage *tarmac_encoding_decode(const ProtobufCMessageDescriptor *desc,
                                         const uint8_t *payload, size_t len,
                                         tarmac_callback_status_t *status);

/* Frees a message from tarmac_encoding_decode (or any message built with
 * malloc'd parts). NULL is fine. */
void tarmac_encoding_free(ProtobufCMessage *msg);

/* Appends msg in the encoding. 0, or -1 (out of memory, or a string that
 * is not UTF-8 cannot be written as JSON). */
int tarmac_encoding_encode(const ProtobufCMessage *msg,
                           tarmac_encoding_t encoding, tarmac_buffer_t *out);

/* Fills a Status message from status (the text is borrowed). */
void tarmac_encoding_status(const tarmac_callback_status_t *status,
                            Tarmac__Status *out);

/* Ends a callback: writes reply (whose Status the caller filled with
 * tarmac_encoding_status) into response in status->encoding. Returns 0
 * when status->code is 200; otherwise writes status->text into error and
 * returns -1 (the host call fails with that text; the reply is built
 * anyway). When the reply cannot be encoded: -1 with that problem. */
int tarmac_encoding_reply(const ProtobufCMessage *reply,
                          const tarmac_callback_status_t *status,
                          tarmac_buffer_t *response, tarmac_buffer_t *error);

#endif
