/* util/reachability: whether a backend (a database, a key-value server)
 * can be reached, known at any moment without a round trip: /ready asks
 * it on every request, so it must cost an atomic load. A background
 * thread probes the backend every interval, and the backend's real calls
 * report their outcomes in between, so a server that goes away is seen
 * by the next call that fails or the next probe, whichever comes first,
 * and one that comes back by the next call or probe that succeeds.
 *
 * The state starts unreachable (not known yet) and the first probe runs
 * at once: a process is not ready before its backend has answered once.
 * It runs on the probing thread, or, when asked, on the caller's before
 * start returns, so the state is known from the first moment (a Redis
 * store, which /ready and `tarmac call` ask straight away) at the cost
 * of one probe's time (a connect timeout when the backend is down).
 *
 * Owns: the probing thread (joined by tarmac_reachability_stop). The
 * probe's data is borrowed and must outlive the stop; the probe runs only
 * on that thread, so whatever it keeps (its own connection) needs no
 * lock. */
#ifndef TARMAC_UTIL_REACHABILITY_H
#define TARMAC_UTIL_REACHABILITY_H

#include <stdbool.h>

/* One check, bounded in time by the probe itself (a connect and a round
 * trip under the backend's timeouts). true: the backend answered. */
typedef bool (*tarmac_reachability_probe_fn)(void *data);

typedef struct tarmac_reachability tarmac_reachability_t;

/* Starts the thread: it probes now (or, with probe_here, the caller has
 * just done so), then every interval_ms (>= 1). NULL when out of memory
 * or the thread cannot start. */
tarmac_reachability_t *tarmac_reachability_start(
    unsigned interval_ms, bool probe_here, tarmac_reachability_probe_fn probe,
    void *data);
/* Stops and joins the thread (at most one probe's time), frees. NULL: no-op. */
void tarmac_reachability_stop(tarmac_reachability_t *r);

/* The latest outcome, of a probe or a report. Any thread; one load. */
bool tarmac_reachability_ok(const tarmac_reachability_t *r);
/* A real call's outcome (any thread): true when it reached the backend,
 * false when the backend could not be reached (not when the statement
 * was refused, or the caller's own deadline ran out). Stores only a
 * change: every call of every thread reports, and a store per call would
 * bounce the flag's cache line between cores. */
void tarmac_reachability_report(tarmac_reachability_t *r, bool reached);

#endif
