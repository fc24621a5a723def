/* Bounds HTTP/2 stream churn ("rapid reset"): h2o 2.2.5 predates the
 * fixes, so we count, per connection and one-second window, the streams a
 * client abandoned before their answer. A connection over the limit gets
 * its next requests refused and is closed (server.c). The table is small
 * and keyed by connection id; a colliding newer connection takes the slot
 * over, which can only forget counts, never charge an innocent client. */
#include "http/loop.h"

_Static_assert(HTTP_CHURN_SLOTS == 256,
               "tarmac_http_conn_slot takes the top 8 bits");

void tarmac_http_churn_note(http_loop_t *loop, uint64_t conn_id,
                            uint64_t now_ms) {
  http_churn_slot_t *slot = &loop->churn[tarmac_http_conn_slot(conn_id)];
  if (slot->conn_id != conn_id || now_ms - slot->window_start_ms >= 1000) {
    if (slot->conn_id == conn_id &&
        slot->abandoned > loop->server->config.max_resets_per_second)
      return; /* keep an offender marked until it is closed */
    slot->conn_id = conn_id;
    slot->window_start_ms = now_ms;
    slot->abandoned = 0;
  }
  slot->abandoned++;
}

bool tarmac_http_churn_exceeded(const http_loop_t *loop, uint64_t conn_id) {
  const http_churn_slot_t *slot = &loop->churn[tarmac_http_conn_slot(conn_id)];
  return slot->conn_id == conn_id &&
         slot->abandoned > loop->server->config.max_resets_per_second;
}
