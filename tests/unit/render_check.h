/* render_check: a test helper shared by the metrics tests — the rendered
 * registry must contain a text (printed in full when it does not). */
#ifndef TARMAC_TESTS_UNIT_RENDER_CHECK_H
#define TARMAC_TESTS_UNIT_RENDER_CHECK_H

#include <stdio.h>
#include <string.h>

#include "metrics/metrics.h"
#include "test.h"
#include "util/buffer.h"

static inline void check_rendered(tarmac_metrics_t *m, const char *want) {
  tarmac_buffer_t out = TARMAC_BUFFER_INIT;
  CHECK_EQ_INT(tarmac_metrics_render(m, &out), 0);
  CHECK_EQ_INT(tarmac_buffer_append(&out, "", 1), 0);
  if (!strstr((const char *)out.data, want)) {
    fprintf(stderr, "render lacks \"%s\":\n%s\n", want, (char *)out.data);
    CHECK(0);
  }
  tarmac_buffer_free(&out);
}

#endif
