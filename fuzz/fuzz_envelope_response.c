/* Fuzz target: the response-envelope readers (src/server/envelope.c).
 * Properties: whatever the yajl fast reader accepts, the jansson reference
 * accepts with the same status, headers (same order) and body; the public
 * reader accepts exactly what the reference accepts, with its result; a
 * refusal names the problem. */
#include "fuzz.h"
#include "server/envelope.h"
#include "server/envelope_internal.h"

static void require_same(const tarmac_http_response_t *a,
                         const tarmac_http_response_t *b, const char *what) {
  FUZZ_REQUIRE(a->status == b->status, "%s: status %d vs %d", what,
               a->status, b->status);
  FUZZ_REQUIRE(a->header_count == b->header_count, "%s: %zu vs %zu headers",
               what, a->header_count, b->header_count);
  size_t ca = 0, cb = 0, anl, avl, bnl, bvl;
  const char *an, *av, *bn, *bv;
  while (tarmac_http_response_next_header(a, &ca, &an, &anl, &av, &avl)) {
    FUZZ_REQUIRE(tarmac_http_response_next_header(b, &cb, &bn, &bnl, &bv,
                                                  &bvl), "%s", what);
    FUZZ_REQUIRE(anl == bnl && memcmp(an, bn, anl) == 0 && avl == bvl &&
                     memcmp(av, bv, avl) == 0,
                 "%s: header %.*s: %.*s vs %.*s: %.*s", what, (int)anl, an,
                 (int)avl, av, (int)bnl, bn, (int)bvl, bv);
  }
  FUZZ_REQUIRE(a->body.len == b->body.len &&
                   (a->body.len == 0 ||
                    memcmp(a->body.data, b->body.data, a->body.len) == 0),
               "%s: bodies differ", what);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  tarmac_http_response_t fast, ref, public;
  tarmac_http_response_init(&fast);
  tarmac_http_response_init(&ref);
  tarmac_http_response_init(&public);
  char err[256] = "", public_err[256] = "";
  bool fast_ok = tarmac_envelope_response_fast(data, size, &fast);
  int ref_rc =
      tarmac_envelope_response_reference(data, size, &ref, err, sizeof err);
  int public_rc = tarmac_envelope_response(data, size, &public, public_err,
                                           sizeof public_err);
  if (fast_ok) {
    FUZZ_REQUIRE(ref_rc == 0, "the fast reader accepts what the reference "
                 "refuses (%s)", err);
    require_same(&fast, &ref, "fast vs reference");
  }
  FUZZ_REQUIRE((public_rc == 0) == (ref_rc == 0), "public %d, reference %d",
               public_rc, ref_rc);
  if (ref_rc == 0)
    require_same(&public, &ref, "public vs reference");
  else
    FUZZ_REQUIRE(strncmp(public_err, "invalid response envelope: ", 27) == 0 &&
                     strcmp(public_err, err) == 0,
                 "messages \"%s\" / \"%s\"", public_err, err);
  tarmac_http_response_free(&fast);
  tarmac_http_response_free(&ref);
  tarmac_http_response_free(&public);
  return 0;
}
