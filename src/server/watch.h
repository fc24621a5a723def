/* server/watch: reloads what changed on disk. One thread watches, with
 * inotify, the DIRECTORIES of the files each source registered — so that
 * a file renamed into place, an editor's save-by-rename and a Kubernetes
 * ConfigMap or Secret update (the `..data` symbolic link swapped to a new
 * folder) are seen as well as writes in place — and, for a symbolic link,
 * the directory of the file it points to. Any event starts a quiet period
 * (settle_ms after the last event, at most 10 x settle_ms after the
 * first): a file written in several writes is read once. Then each
 * source's files are hashed, and the sources whose content changed are
 * reloaded, one after the other, on this thread. tarmac_watch_trigger
 * (SIGHUP) reloads every source, changed or not.
 *
 * Reloads never overlap: events that arrive during one are handled after
 * it, as one more reload (coalesced). Each is logged ("reload started",
 * "reload succeeded: ...", "reload failed: <problem>" once per line of the
 * problem, all with source=<what>) and counted in
 * tarmac_reloads_total{source,result} and
 * tarmac_reload_last_success_timestamp_seconds{source}.
 *
 * Owns: its thread, inotify and eventfd descriptors, copies of the paths
 * and names. Not owned: each source's data. Thread-safe: add, set_paths
 * and trigger from any thread (set_paths also from inside a reload). */
#ifndef TARMAC_SERVER_WATCH_H
#define TARMAC_SERVER_WATCH_H

#include <stdbool.h>
#include <stddef.h>

#include "metrics/metrics.h"

/* Reloads a source: 0 on success (err may then hold a short summary for
 * the log, e.g. "generation 3 (2 functions)"), -1 with err set (one line
 * per problem, each naming the file and the problem). */
typedef int (*tarmac_reload_fn)(void *data, char *err, size_t err_size);

typedef struct tarmac_watch tarmac_watch_t;

typedef struct {
  bool inotify;       /* false: reload on tarmac_watch_trigger only */
  unsigned settle_ms; /* quiet time after the last event; 0: 200 */
  tarmac_metrics_t *metrics; /* NULL: no metrics */
} tarmac_watch_config_t;

/* NULL with err set (no inotify, no memory, metric family clash). */
tarmac_watch_t *tarmac_watch_new(const tarmac_watch_config_t *config,
                                 char *err, size_t err_size);
/* Stops the thread: it starts no reload after this, and one it is
 * running (a compile can take seconds) is waited for up to timeout_ms.
 * False when it did not end in time: the reload still uses its source's
 * data (do not free it, nor the watch). */
bool tarmac_watch_stop(tarmac_watch_t *watch, unsigned timeout_ms);
/* Stops the thread (after the reload it may be running) and frees all. */
void tarmac_watch_free(tarmac_watch_t *watch);

/* Calls fn on the watcher thread when any of paths changes (after the
 * change settles; changes from when this returns on) and on SIGHUP.
 * what names the source in logs and metrics ("functions", "tls", ...);
 * unique. 0 or -1 (memory, a name already used). */
int tarmac_watch_add(tarmac_watch_t *watch, const char *const *paths,
                     size_t count, const char *what, tarmac_reload_fn fn,
                     void *data);
/* Replaces the files of source `what` (e.g. after a reload that named new
 * modules). Files it watched before keep their last content's hash; new
 * ones are hashed (and their directories watched) before it returns.
 * 0 or -1 (memory, no such source). */
int tarmac_watch_set_paths(tarmac_watch_t *watch, const char *what,
                           const char *const *paths, size_t count);

/* Starts the thread. 0 or -1 with err. */
int tarmac_watch_start(tarmac_watch_t *watch, char *err, size_t err_size);
/* Reloads every source soon, whether its files changed or not (SIGHUP).
 * Any thread; never blocks. */
void tarmac_watch_trigger(tarmac_watch_t *watch);

/* Reloads run so far (each source's call counts one), for tests. */
unsigned long tarmac_watch_reload_count(const tarmac_watch_t *watch);

#endif
