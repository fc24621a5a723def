/* fuzz_callback: what the two callback-payload targets share: the message
 * types of proto/tarmac.proto (the first input byte picks one) and the
 * round-trip checks of callbacks/encoding.c. */
#ifndef TARMAC_FUZZ_CALLBACK_H
#define TARMAC_FUZZ_CALLBACK_H

#include "callbacks/encoding.h"
#include "fuzz.h"

static const ProtobufCMessageDescriptor *const fuzz_messages[] = {
    &tarmac__status__descriptor,
    &tarmac__kvstore_get__descriptor,
    &tarmac__kvstore_get_response__descriptor,
    &tarmac__kvstore_set__descriptor,
    &tarmac__kvstore_set_response__descriptor,
    &tarmac__kvstore_delete__descriptor,
    &tarmac__kvstore_delete_response__descriptor,
    &tarmac__kvstore_keys__descriptor,
    &tarmac__kvstore_keys_response__descriptor,
    &tarmac__sqlquery__descriptor,
    &tarmac__sqlquery_response__descriptor,
    &tarmac__sqlexec__descriptor,
    &tarmac__sqlexec_response__descriptor,
    &tarmac__header__descriptor,
    &tarmac__httpclient__descriptor,
    &tarmac__httpclient_response__descriptor,
    &tarmac__metrics_counter__descriptor,
    &tarmac__metrics_gauge__descriptor,
    &tarmac__metrics_histogram__descriptor,
};

static inline const ProtobufCMessageDescriptor *fuzz_pick_message(
    fuzz_input_t *in) {
  return fuzz_messages[fuzz_byte(in) %
                       (sizeof fuzz_messages / sizeof fuzz_messages[0])];
}

/* Encodes msg in the encoding and decodes it back: the result must decode
 * in the same encoding, and encode to the same bytes. A JSON encoding may
 * be refused (protobuf strings need not be UTF-8); then nothing else is
 * checked. */
static inline void fuzz_check_round_trip(const ProtobufCMessage *msg,
                                         tarmac_encoding_t encoding) {
  tarmac_buffer_t first = TARMAC_BUFFER_INIT, second = TARMAC_BUFFER_INIT;
  if (tarmac_encoding_encode(msg, encoding, &first) != 0) {
    FUZZ_REQUIRE(encoding == TARMAC_ENCODING_JSON, "protobuf encode failed");
    tarmac_buffer_free(&first);
    return;
  }
  tarmac_callback_status_t status;
  ProtobufCMessage *again =
      tarmac_encoding_decode(msg->descriptor, first.data, first.len, &status);
  FUZZ_REQUIRE(again != NULL, "own encoding refused: %s", status.text);
  /* an empty protobuf message is also the empty payload: JSON "{}" is
   * never empty, so only protobuf may come back as protobuf */
  FUZZ_REQUIRE(status.encoding == encoding, "decoded as the other encoding");
  FUZZ_REQUIRE(tarmac_encoding_encode(again, encoding, &second) == 0,
               "re-encoding failed");
  FUZZ_REQUIRE(
      first.len == second.len &&
          (first.len == 0 || memcmp(first.data, second.data, first.len) == 0),
      "round trip changed the encoding");
  tarmac_encoding_free(again);
  tarmac_buffer_free(&first);
  tarmac_buffer_free(&second);
}

#endif
