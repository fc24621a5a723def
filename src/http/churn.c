/* Bounds HTTP/2 stream churn ("rapid reset"): h2o 2.2.5 predates the
 * fixes, so we count, per connection and one-second window, the streams a
 * client abandoned before their answer. A connection over the limit gets
 * its next requests refused and is closed (server.c). The table is small
 * and keyed by connection id; a colliding newer connection takes the slot
 * over, which can only forget counts, never charge an innocent client. */
#include "http/loop.h"

static http_churn_slot_t *slot_for(http_loop_t *loop, uint64_t conn_id) {
  return &loop->churn[(conn_id * 0x9E3779B97F4A7C15ull) >> 56];
}

void tarmac_http_churn_note(http_loop_t *loop, uint64_t conn_id,
                            uint64_t now_ms) {
  http_churn_slot_t *slot = slot_for(loop, conn_id);
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

bool tarmac_http_churn_exceeded(http_loop_t *loop, uint64_t conn_id,
                                uint64_t now_ms) {
  (void)now_ms;
  const http_churn_slot_t *slot = slot_for(loop, conn_id);
  return slot->conn_id == conn_id &&
         slot->abandoned > loop->server->config.max_resets_per_second;
}
