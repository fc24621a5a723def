/* Fuzz target: callback payloads as protobuf (src/callbacks/encoding.c).
 * The first byte picks a message type of proto/tarmac.proto, the rest is
 * the payload. Properties: decoding never crashes or leaks; a refusal is a
 * 400 naming the message; what decodes re-encodes (protobuf, and JSON when
 * its strings are UTF-8) and decodes back to the same encoding. */
#include "fuzz_callback.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  fuzz_input_t in = {data, size};
  const ProtobufCMessageDescriptor *desc = fuzz_pick_message(&in);
  tarmac_callback_status_t status;
  ProtobufCMessage *msg = tarmac_encoding_decode(desc, in.at, in.left, &status);
  if (!msg) {
    FUZZ_REQUIRE(status.code == 400 && strstr(status.text, desc->name),
                 "refusal %d \"%s\"", status.code, status.text);
    return 0;
  }
  FUZZ_REQUIRE(status.code == 200, "decoded with status %d", status.code);
  fuzz_check_round_trip(msg, TARMAC_ENCODING_PROTOBUF);
  fuzz_check_round_trip(msg, TARMAC_ENCODING_JSON);
  tarmac_encoding_free(msg);
  return 0;
}
