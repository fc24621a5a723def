/* log: the process logger. One line per record, written with a single
 * write(2) so lines from many threads never interleave. JSON objects by
 * default ({"time":..,"level":..,"msg":..,<fields>}), or text
 * ("2026-11-26T13:00:00.123Z INFO msg key=value"). Configured once at
 * start-up; the level may change later from any thread (live settings,
 * server/live_settings.h). Logging itself takes no lock.
 *
 * Escaping: in JSON, control bytes and DEL become \u00XX (or \n, \t, ...)
 * and every byte that is not part of valid UTF-8 becomes \ufffd (U+FFFD),
 * so a line is always valid JSON. In text, the message and values escape
 * '\', control bytes, DEL and invalid UTF-8 as \n, \t, \xHH, ...; values
 * with spaces, '"', '=' or nothing at all are double-quoted. A NULL field
 * value is written as null. */
#ifndef TARMAC_LOG_LOG_H
#define TARMAC_LOG_LOG_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>

typedef enum {
  TARMAC_LOG_TRACE = 0,
  TARMAC_LOG_DEBUG,
  TARMAC_LOG_INFO,
  TARMAC_LOG_WARN,
  TARMAC_LOG_ERROR,
  TARMAC_LOG_OFF,
} tarmac_log_level_t;

typedef struct {
  int fd;                       /* where lines go (default 1, stdout) */
  tarmac_log_level_t min_level; /* records below are dropped (default INFO) */
  bool text;                    /* text instead of JSON */
} tarmac_log_config_t;

/* Replaces the configuration. Call before other threads log. */
void tarmac_log_configure(const tarmac_log_config_t *config);
/* The configuration, with the level as it is now. */
tarmac_log_config_t tarmac_log_config(void);
/* Changes only the minimum level. Any thread, any time: a record being
 * written while it changes is written or dropped whole. */
void tarmac_log_set_level(tarmac_log_level_t min_level);

static inline bool tarmac_log_enabled(tarmac_log_level_t level);

/* Parses "trace", "debug", "info", "warn"/"warning", "error"
 * (case-insensitive, length-delimited). Returns -1 when unknown. */
int tarmac_log_level_parse(const char *name, size_t len);
const char *tarmac_log_level_name(tarmac_log_level_t level);

/* Logs `msg` (msg_len bytes, any bytes; escaped as needed) with optional
 * string fields given as key, value pairs ending with NULL. A literal
 * message goes through TARMAC_LOG_LITERAL, never with a hand-counted length:
 *   tarmac_log_fields(TARMAC_LOG_INFO, TARMAC_LOG_LITERAL("started"),
 *                     "addr", a, NULL);  */
void tarmac_log_fields(tarmac_log_level_t level, const char *msg,
                       size_t msg_len, ...);
/* A string literal and its length, as the (msg, msg_len) arguments of
 * tarmac_log_fields. The "" on both sides make anything but a literal a
 * compile error (sizeof of a pointer would be the wrong length). */
#define TARMAC_LOG_LITERAL(s) ("" s ""), (sizeof("" s "") - 1)
/* printf-style message, no fields. */
void tarmac_logf(tarmac_log_level_t level, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* implementation detail of tarmac_log_enabled: a tarmac_log_level_t.
 * Relaxed loads: the check stays one plain load on the hot path; a thread
 * may see a new level a little late, never a torn one. */
extern atomic_int tarmac_log_min_level_;
static inline bool tarmac_log_enabled(tarmac_log_level_t level) {
  return (int)level >=
         atomic_load_explicit(&tarmac_log_min_level_, memory_order_relaxed);
}

#endif
