/* server/init_jobs: runs one init function (a service file's init route)
 * with retries and capped exponential backoff, on the caller's thread.
 *
 * retries = attempts after the first one. The wait before retry k
 * (k = 1..retries) is delay_ms * 2^(k-1), capped at TARMAC_INIT_MAX_DELAY_MS.
 * (Upstream Tarmac squared the delay in seconds after each failure, which
 * reaches hours within a few retries; doubling with a one-minute cap keeps a
 * service that waits for a database coming up quickly once it is there,
 * while a start-up stuck in retries is never silent longer than a minute.)
 *
 * The waits between attempts end early when `stop_fd` becomes readable:
 * pass an eventfd or pipe another thread writes to, or a signalfd for
 * SIGTERM/SIGINT (blocked in the caller), so a shutdown request is served at
 * once instead of after the backoff. Nothing is read from stop_fd, so a
 * signal stays pending for whoever waits for it next. An attempt in
 * progress is not interrupted (the function's own deadline bounds it).
 *
 * Each failed attempt is logged at warn level with the function's name,
 * the attempt number, the error text and the next delay.
 *
 * Ownership: nothing is kept after the call; `data` is the caller's. */
#ifndef TARMAC_SERVER_INIT_JOBS_H
#define TARMAC_SERVER_INIT_JOBS_H

#include <stddef.h>
#include <stdint.h>

#define TARMAC_INIT_MAX_DELAY_MS 60000u

/* Return values of tarmac_init_run besides 0 (success). */
#define TARMAC_INIT_FAILED (-1)  /* every attempt failed */
#define TARMAC_INIT_STOPPED (-2) /* stop_fd became readable during a wait */

/* One attempt. Returns 0 on success, non-zero on failure with a
 * NUL-terminated message in err (err_size >= 1). */
typedef int (*tarmac_attempt_fn)(void *data, char *err, size_t err_size);

/* Runs fn until it succeeds or 1 + retries attempts have failed. The
 * server passes the service file's `frequency` (seconds) as
 * delay_ms = frequency * 1000; stop_fd -1 means no early stop.
 * Returns 0, or TARMAC_INIT_FAILED with err = "init function <name> failed
 * after N attempts: <last error>", or TARMAC_INIT_STOPPED with
 * err = "init function <name> stopped after N attempts: shutting down". */
int tarmac_init_run(const char *name, tarmac_attempt_fn fn, void *data,
                    unsigned retries, uint64_t delay_ms, int stop_fd,
                    char *err, size_t err_size);

/* The wait before retry k >= 1 (exposed for tests and docs). */
uint64_t tarmac_init_retry_delay_ms(uint64_t delay_ms, unsigned k);

#endif
