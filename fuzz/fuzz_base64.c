/* Fuzz target: base64 (src/util/base64.c, OpenSSL underneath).
 * Properties: encoding any bytes gives the reference encoding and decodes
 * back to the same bytes; decoding any text is accepted exactly when the
 * reference decoder (fuzz.h) accepts it, with the same bytes. */
#include "fuzz.h"
#include "util/base64.h"

static void check_round_trip(const uint8_t *data, size_t size) {
  tarmac_buffer_t text = TARMAC_BUFFER_INIT, back = TARMAC_BUFFER_INIT;
  char *want = malloc(4 * ((size + 2) / 3) + 1);
  FUZZ_REQUIRE(want != NULL, "out of memory");
  size_t want_len = fuzz_b64_encode(data, size, want);
  FUZZ_REQUIRE(tarmac_base64_encode(data, size, &text) == 0, "encode failed");
  FUZZ_REQUIRE(text.len == want_len &&
                   (want_len == 0 || memcmp(text.data, want, want_len) == 0),
               "encoding of %zu bytes differs from the reference", size);
  FUZZ_REQUIRE(tarmac_base64_decode((const char *)text.data, text.len,
                                    &back) == 0,
               "our own encoding is refused");
  FUZZ_REQUIRE(back.len == size && (size == 0 ||
                                    memcmp(back.data, data, size) == 0),
               "round trip changed %zu bytes", size);
  free(want);
  tarmac_buffer_free(&text);
  tarmac_buffer_free(&back);
}

static void check_decode(const uint8_t *data, size_t size) {
  tarmac_buffer_t out = TARMAC_BUFFER_INIT;
  uint8_t *want = malloc(size / 4 * 3 + 1);
  FUZZ_REQUIRE(want != NULL, "out of memory");
  long want_len = fuzz_b64_decode((const char *)data, size, want);
  int rc = tarmac_base64_decode((const char *)data, size, &out);
  FUZZ_REQUIRE((rc == 0) == (want_len >= 0),
               "decode says %d, the reference %ld", rc, want_len);
  if (rc == 0)
    FUZZ_REQUIRE(out.len == (size_t)want_len &&
                     (want_len == 0 || memcmp(out.data, want, out.len) == 0),
                 "decoded bytes differ from the reference");
  free(want);
  tarmac_buffer_free(&out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  check_round_trip(data, size);
  check_decode(data, size);
  return 0;
}
