/* The C guest SDK's key-value protobuf (sdk/c/tarmac_proto.h) against the
 * host's protobuf-c: requests the SDK encodes decode on the host (a key
 * and data long enough for two-byte lengths, binary data, no data), and
 * replies the host encodes read back with tarmac_proto_field (every byte
 * of them), while cut or malformed replies are refused. */
#include <string.h>

#include "callbacks/encoding.h"
#include "tarmac_proto.h"
#include "test.h"

static void test_request(const char *key, const void *data, size_t len) {
  size_t n = 0;
  uint8_t *bytes = tarmac_proto_kv(key, data, len, &n);
  CHECK(bytes != NULL);
  tarmac_callback_status_t status;
  Tarmac__KVStoreSet *msg = (Tarmac__KVStoreSet *)tarmac_encoding_decode(
      &tarmac__kvstore_set__descriptor, bytes, n, &status);
  CHECK(msg != NULL && status.encoding == TARMAC_ENCODING_PROTOBUF);
  if (msg) {
    CHECK(strcmp(msg->key, key) == 0);
    CHECK(msg->data.len == (data ? len : 0));
    CHECK(len == 0 || !data || memcmp(msg->data.data, data, len) == 0);
  }
  tarmac_encoding_free(msg ? &msg->base : NULL);
  free(bytes);
}

/* Reads a packed KVStoreKeysResponse: the keys, in order, joined by ','. */
static int read_keys(const uint8_t *p, size_t len, char *out, size_t size) {
  const uint8_t *end = p + len, *data;
  uint64_t flen;
  unsigned field;
  out[0] = '\0';
  while (p && p < end) {
    p = tarmac_proto_field(p, end, &field, &data, &flen);
    if (p && field == 2 && data && strlen(out) + flen + 2 < size) {
      strncat(out, (const char *)data, (size_t)flen);
      strcat(out, ",");
    }
  }
  return p ? 0 : -1;
}

static void test_reply(void) {
  Tarmac__Status st = TARMAC__STATUS__INIT;
  st.code = 200;
  st.status = "OK";
  char *keys[] = {"a", "bb", "ccc"};
  Tarmac__KVStoreKeysResponse r = TARMAC__KVSTORE_KEYS_RESPONSE__INIT;
  r.status = &st;
  r.keys = keys;
  r.n_keys = 3;
  uint8_t buf[128];
  size_t n = tarmac__kvstore_keys_response__pack(&r, buf);
  char got[64];
  CHECK_EQ_INT(read_keys(buf, n, got, sizeof got), 0);
  CHECK(strcmp(got, "a,bb,ccc,") == 0);
  for (size_t cut = 1; cut < n; cut++) /* a cut reply never reads past it */
    read_keys(buf, cut, got, sizeof got);
  CHECK_EQ_INT(read_keys(buf, n - 1, got, sizeof got), -1);
  const uint8_t bad_wire[] = {0x0b, 0x00}; /* wire type 3: refused */
  CHECK_EQ_INT(read_keys(bad_wire, sizeof bad_wire, got, sizeof got), -1);
  const uint8_t long_varint[] = {0x08, 0xff, 0xff, 0xff, 0xff, 0xff,
                                 0xff, 0xff, 0xff, 0xff, 0xff, 0x01};
  CHECK_EQ_INT(read_keys(long_varint, sizeof long_varint, got, sizeof got),
               -1);
}

int main(void) {
  char long_key[300];
  memset(long_key, 'k', sizeof long_key - 1);
  long_key[sizeof long_key - 1] = '\0';
  uint8_t binary[200];
  for (size_t i = 0; i < sizeof binary; i++) binary[i] = (uint8_t)i;
  test_request("k", "v", 1);
  test_request(long_key, binary, sizeof binary);
  test_request("only-key", NULL, 0);
  test_reply();
  TEST_EXIT();
}
