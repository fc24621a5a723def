/* Fuzz target: callback payloads in their JSON form
 * (src/callbacks/encoding.c, callbacks/json_message.c). The first byte
 * picks a message type of proto/tarmac.proto, the rest is the payload,
 * read as JSON only when it starts with '{' (so that most inputs exercise
 * the JSON mapper, not the protobuf reader: use -dict=fuzz/json.dict).
 * Properties: no crash or leak; a refusal is a 400 naming the message; a
 * JSON-decoded message re-encodes in JSON and in protobuf, and both decode
 * back to the same encodings. */
#include "fuzz_callback.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  fuzz_input_t in = {data, size};
  const ProtobufCMessageDescriptor *desc = fuzz_pick_message(&in);
  if (in.left == 0 || in.at[0] != '{') return 0;
  tarmac_callback_status_t status;
  ProtobufCMessage *msg = tarmac_encoding_decode(desc, in.at, in.left, &status);
  FUZZ_REQUIRE(status.encoding == TARMAC_ENCODING_JSON,
               "a payload starting with '{' was not taken as JSON");
  if (!msg) {
    FUZZ_REQUIRE(status.code == 400 && strstr(status.text, desc->name),
                 "refusal %d \"%s\"", status.code, status.text);
    return 0;
  }
  fuzz_check_round_trip(msg, TARMAC_ENCODING_JSON);
  fuzz_check_round_trip(msg, TARMAC_ENCODING_PROTOBUF);
  tarmac_encoding_free(msg);
  return 0;
}
