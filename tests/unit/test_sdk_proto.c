/* The C guest SDK's hand-written protobuf (sdk/c/tarmac_proto.h) read by
 * the host's decoder (callbacks/encoding): every metrics message, a name
 * long enough for a two-byte length, empty fields and the double's bytes. */
#include <string.h>

#include "callbacks/encoding.h"
#include "tarmac_proto.h"
#include "test.h"

static ProtobufCMessage *sdk_message(const ProtobufCMessageDescriptor *d,
                                     const char *name, const char *text,
                                     int has_value, double value) {
  size_t len = 0;
  uint8_t *bytes = tarmac_proto_metric(name, text, has_value, value, &len);
  CHECK(bytes != NULL);
  CHECK(len <= tarmac_proto_bound(name, text));
  tarmac_callback_status_t status;
  ProtobufCMessage *msg = tarmac_encoding_decode(d, bytes, len, &status);
  CHECK(msg != NULL);
  CHECK_EQ_INT(status.encoding, TARMAC_ENCODING_PROTOBUF);
  free(bytes);
  return msg;
}

int main(void) {
  Tarmac__MetricsCounter *c = (Tarmac__MetricsCounter *)sdk_message(
      &tarmac__metrics_counter__descriptor, "orders", NULL, 0, 0);
  if (c) CHECK_BYTES(c->name, strlen(c->name), "orders");
  tarmac_encoding_free(c ? &c->base : NULL);

  Tarmac__MetricsGauge *g = (Tarmac__MetricsGauge *)sdk_message(
      &tarmac__metrics_gauge__descriptor, "queue", "dec", 0, 0);
  if (g) CHECK(strcmp(g->name, "queue") == 0 && strcmp(g->action, "dec") == 0);
  tarmac_encoding_free(g ? &g->base : NULL);

  char long_name[300];
  memset(long_name, 'n', sizeof long_name - 1);
  long_name[sizeof long_name - 1] = '\0';
  const double values[] = {0.25, -3.5, 0, 1e300};
  for (size_t i = 0; i < 4; i++) {
    Tarmac__MetricsHistogram *h = (Tarmac__MetricsHistogram *)sdk_message(
        &tarmac__metrics_histogram__descriptor, i ? "lat" : long_name, NULL, 1,
        values[i]);
    if (h) {
      CHECK(h->value == values[i]);
      CHECK_EQ_INT(strlen(h->name), i ? 3 : 299);
    }
    tarmac_encoding_free(h ? &h->base : NULL);
  }
  /* an empty name is left out, as proto3 does: the host sees "" */
  c = (Tarmac__MetricsCounter *)sdk_message(
      &tarmac__metrics_counter__descriptor, "", NULL, 0, 0);
  if (c) CHECK_EQ_INT(strlen(c->name), 0);
  tarmac_encoding_free(c ? &c->base : NULL);
  TEST_EXIT();
}
