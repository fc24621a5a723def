/* Bounds HTTP/2 stream churn ("rapid reset"): h2o 2.2.5 predates the
 * fixes, so we count, per connection and one-second window, the streams a
 * client abandoned: reset or closed after their request reached us but
 * before the answer (tarmac_http_churn_note, from the request's dispose
 * hook), and streams that never reached us at all (counted at the
 * connection's next request, see tarmac_http_churn_intake). A connection
 * over the limit gets its next requests refused and is closed (intake.c).
 *
 * The table is small and keyed by connection id. h2o's ids only grow, and
 * only a newer connection takes an occupied slot over; an older connection
 * that lost its slot is no longer tracked. A collision can thus only forget
 * counts, never charge an innocent client. */
#include <limits.h>

#include "http/loop.h"

_Static_assert(HTTP_CHURN_SLOTS == 256,
               "tarmac_http_conn_slot takes the top 8 bits");

/* Adds n abandoned streams to the slot's current window; a new window
 * starts each second, except for an offender, which stays marked until it
 * is closed. */
static void add_abandoned(const http_loop_t *loop, http_churn_slot_t *slot,
                          unsigned n, uint64_t now_ms) {
  unsigned limit = loop->server->config.max_resets_per_second;
  if (now_ms - slot->window_start_ms >= 1000 && slot->abandoned <= limit) {
    slot->window_start_ms = now_ms;
    slot->abandoned = 0;
  }
  slot->abandoned = n > UINT_MAX - slot->abandoned ? UINT_MAX
                                                   : slot->abandoned + n;
}

void tarmac_http_churn_note(http_loop_t *loop, uint64_t conn_id,
                            uint64_t now_ms) {
  http_churn_slot_t *slot = &loop->churn[tarmac_http_conn_slot(conn_id)];
  if (slot->conn_id == conn_id) add_abandoned(loop, slot, 1, now_ms);
}

bool tarmac_http_churn_intake(http_loop_t *loop, uint64_t conn_id,
                              uint32_t settled, uint64_t now_ms) {
  http_churn_slot_t *slot = &loop->churn[tarmac_http_conn_slot(conn_id)];
  if (slot->conn_id != conn_id) {
    if (slot->conn_id > conn_id) return false; /* lost its slot: untracked */
    *slot = (http_churn_slot_t){.conn_id = conn_id, .window_start_ms = now_ms};
  }
  slot->requests++;
  /* settled streams that neither reached us nor were counted before */
  int64_t early = (int64_t)settled - slot->requests - slot->early_counted;
  if (early > 0) {
    slot->early_counted += (uint32_t)early;
    add_abandoned(loop, slot, early > UINT_MAX ? UINT_MAX : (unsigned)early,
                  now_ms);
  }
  return tarmac_http_churn_exceeded(loop, conn_id);
}

bool tarmac_http_churn_exceeded(const http_loop_t *loop, uint64_t conn_id) {
  const http_churn_slot_t *slot = &loop->churn[tarmac_http_conn_slot(conn_id)];
  return slot->conn_id == conn_id &&
         slot->abandoned > loop->server->config.max_resets_per_second;
}
