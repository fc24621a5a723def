/* The watcher thread: inotify on directories, a quiet period, content
 * hashes, reloads one after the other. */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/inotify.h>
#include <time.h>
#include <unistd.h>

#include "log/log.h"
#include "server/watch.h"
#include "util/clock.h"

#define DEFAULT_SETTLE_MS 200u
/* A directory that never goes quiet (a busy log next to the file) still
 * gets its files read this many quiet periods after the first event. */
#define SETTLE_MAX_FACTOR 10u
/* Events that matter for a file replaced, written, linked or removed;
 * not IN_MODIFY: a file is read once its writer closed it. */
#define DIR_EVENTS                                                    \
  (IN_CLOSE_WRITE | IN_MOVED_TO | IN_MOVED_FROM | IN_CREATE | IN_DELETE | \
   IN_ATTRIB | IN_DELETE_SELF | IN_MOVE_SELF)

typedef struct {
  char *what;
  tarmac_reload_fn fn;
  void *data;
  char **paths;
  uint64_t *hashes; /* of each path's content when last read */
  size_t count;
} source_t;

struct tarmac_watch {
  tarmac_watch_config_t config;
  pthread_mutex_t mutex; /* sources */
  source_t *sources;
  size_t source_count;
  int inotify_fd; /* -1: config.inotify false */
  int wake_fd;    /* eventfd: trigger, new paths, stop */
  int *wds;       /* the directories watched now (under mutex) */
  size_t wd_count;
  atomic_bool stop, forced;
  bool ended;            /* the thread is past its last reload (mutex) */
  pthread_cond_t ending; /* signalled when ended becomes true */
  atomic_ulong reloads;
  pthread_t thread;
  bool started;
  tarmac_metric_family_t *results, *last_success; /* NULL: no metrics */
};

static bool rewatch_locked(tarmac_watch_t *w);

/* ---- content hashes ------------------------------------------------------ */

/* FNV-1a of the file's bytes (through a symbolic link); 0 when it cannot
 * be read. Only compared with itself: a change of content, or of whether
 * the file can be read, makes a different value (a collision skips one
 * reload; SIGHUP forces it). */
static uint64_t hash_file(const char *path) {
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return 0;
  uint64_t h = 1469598103934665603ull;
  uint8_t chunk[65536];
  ssize_t n;
  while ((n = read(fd, chunk, sizeof chunk)) > 0 || (n < 0 && errno == EINTR))
    for (ssize_t i = 0; i < n; i++) h = (h ^ chunk[i]) * 1099511628211ull;
  close(fd);
  if (n < 0) return 0;
  return h == 0 ? 1 : h;
}

/* ---- sources ------------------------------------------------------------ */

static void free_paths(char **paths, uint64_t *hashes, size_t count) {
  for (size_t i = 0; i < count; i++) free(paths[i]);
  free(paths);
  free(hashes);
}

/* Copies paths into s, keeping the hashes of paths s had (new ones are
 * hashed now). 0 or -1 (memory: s unchanged). */
static int set_paths(source_t *s, const char *const *paths, size_t count) {
  char **copy = calloc(count ? count : 1, sizeof(*copy));
  uint64_t *hashes = calloc(count ? count : 1, sizeof(*hashes));
  if (copy == NULL || hashes == NULL) {
    free(copy);
    free(hashes);
    return -1;
  }
  for (size_t i = 0; i < count; i++) {
    if ((copy[i] = strdup(paths[i])) == NULL) {
      free_paths(copy, hashes, i);
      return -1;
    }
    size_t j = 0;
    while (j < s->count && strcmp(s->paths[j], paths[i]) != 0) j++;
    hashes[i] = j < s->count ? s->hashes[j] : hash_file(paths[i]);
  }
  free_paths(s->paths, s->hashes, s->count);
  s->paths = copy;
  s->hashes = hashes;
  s->count = count;
  return 0;
}

static source_t *find_source(tarmac_watch_t *w, const char *what) {
  for (size_t i = 0; i < w->source_count; i++)
    if (strcmp(w->sources[i].what, what) == 0) return &w->sources[i];
  return NULL;
}

static void wake(tarmac_watch_t *w) {
  uint64_t one = 1;
  /* a full counter is already a pending wake-up */
  if (write(w->wake_fd, &one, sizeof one) < 0 && errno != EAGAIN)
    tarmac_logf(TARMAC_LOG_WARN, "cannot wake the file watcher: %s",
                strerror(errno));
}

int tarmac_watch_add(tarmac_watch_t *watch, const char *const *paths,
                     size_t count, const char *what, tarmac_reload_fn fn,
                     void *data) {
  pthread_mutex_lock(&watch->mutex);
  int rc = -1;
  source_t *grown = NULL;
  if (find_source(watch, what) == NULL)
    grown = realloc(watch->sources,
                    (watch->source_count + 1) * sizeof(*grown));
  if (grown != NULL) {
    watch->sources = grown;
    source_t *s = &grown[watch->source_count];
    *s = (source_t){.what = strdup(what), .fn = fn, .data = data};
    if (s->what != NULL && set_paths(s, paths, count) == 0) {
      watch->source_count++;
      rewatch_locked(watch); /* a change from now on is seen */
      rc = 0;
    } else {
      free(s->what);
    }
  }
  pthread_mutex_unlock(&watch->mutex);
  return rc;
}

int tarmac_watch_set_paths(tarmac_watch_t *watch, const char *what,
                           const char *const *paths, size_t count) {
  pthread_mutex_lock(&watch->mutex);
  source_t *s = find_source(watch, what);
  int rc = s != NULL ? set_paths(s, paths, count) : -1;
  if (rc == 0) rewatch_locked(watch);
  pthread_mutex_unlock(&watch->mutex);
  return rc;
}

/* ---- directories watched ------------------------------------------------ */

static int append_wd(int **wds, size_t *n, int wd) {
  for (size_t i = 0; i < *n; i++)
    if ((*wds)[i] == wd) return 0;
  int *grown = realloc(*wds, (*n + 1) * sizeof(*grown));
  if (grown == NULL) return -1;
  grown[(*n)++] = wd;
  *wds = grown;
  return 0;
}

/* Watches the directory holding path (inotify_add_watch gives the same
 * descriptor for a directory already watched). A directory that does not
 * exist yet is stood in for by its nearest existing ancestor: creating it
 * is an event there, the round that follows finds nothing changed and
 * re-watches, and from then on the directory itself is watched (a volume
 * mounted or a folder made after start-up is seen). */
static void watch_dir_of(tarmac_watch_t *w, const char *path, int **wds,
                         size_t *n) {
  char copy[PATH_MAX];
  if (snprintf(copy, sizeof copy, "%s", path) >= (int)sizeof copy) return;
  char *dir = dirname(copy);
  int wd;
  while ((wd = inotify_add_watch(w->inotify_fd, dir, DIR_EVENTS)) < 0 &&
         errno == ENOENT && strcmp(dir, "/") != 0 && strcmp(dir, ".") != 0)
    dir = dirname(dir);
  if (wd < 0) {
    /* the reload that reads the file says what is wrong with it */
    tarmac_logf(TARMAC_LOG_DEBUG, "cannot watch directory %s: %s", dir,
                strerror(errno));
    return;
  }
  if (append_wd(wds, n, wd) != 0)
    tarmac_logf(TARMAC_LOG_WARN, "out of memory watching %s", dir);
}

/* Watches the directories of every source's files now (and of the files
 * their symbolic links point to: a ConfigMap's current folder, a module
 * linked from elsewhere), and stops watching the others. True when a
 * directory is watched that was not before: what changed in it before
 * the watch began made no event. */
static bool rewatch_locked(tarmac_watch_t *w) {
  if (w->inotify_fd < 0) return false;
  int *wds = NULL;
  size_t n = 0;
  for (size_t i = 0; i < w->source_count; i++)
    for (size_t j = 0; j < w->sources[i].count; j++) {
      const char *path = w->sources[i].paths[j];
      watch_dir_of(w, path, &wds, &n);
      char real[PATH_MAX];
      if (realpath(path, real) != NULL && strcmp(real, path) != 0)
        watch_dir_of(w, real, &wds, &n);
    }
  for (size_t i = 0; i < w->wd_count; i++) {
    size_t k = 0;
    while (k < n && wds[k] != w->wds[i]) k++;
    if (k == n) inotify_rm_watch(w->inotify_fd, w->wds[i]);
  }
  bool added = false;
  for (size_t k = 0; k < n && !added; k++) {
    size_t i = 0;
    while (i < w->wd_count && w->wds[i] != wds[k]) i++;
    added = i == w->wd_count;
  }
  free(w->wds);
  w->wds = wds;
  w->wd_count = n;
  return added;
}

static bool rewatch(tarmac_watch_t *w) {
  pthread_mutex_lock(&w->mutex);
  bool added = rewatch_locked(w);
  pthread_mutex_unlock(&w->mutex);
  return added;
}

/* Reads every queued event: true when there was one. */
static bool drain_events(tarmac_watch_t *w) {
  _Alignas(struct inotify_event) char buf[16384];
  bool any = false;
  for (;;) {
    ssize_t n = read(w->inotify_fd, buf, sizeof buf);
    if (n > 0) {
      any = true; /* which file it names does not matter: hashes decide */
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    return any;
  }
}

/* ---- reloads ------------------------------------------------------------ */

static void count_result(tarmac_watch_t *w, const char *what, bool ok) {
  if (w->results == NULL) return;
  const char *labels[2] = {what, ok ? "success" : "failure"};
  tarmac_metric_series_t *s = tarmac_metric_series(w->results, labels);
  if (s != NULL) tarmac_metric_add(s, 1);
  if (!ok) return;
  const char *source[1] = {what};
  s = tarmac_metric_series(w->last_success, source);
  if (s != NULL)
    tarmac_metric_set(s, (double)tarmac_clock_ms(CLOCK_REALTIME) / 1000.0);
}

/* "reload failed: <line>" for each line of the problem. */
static void log_failure(const char *what, const char *problem) {
  char line[4200];
  while (*problem != '\0') {
    size_t len = strcspn(problem, "\n");
    int n = snprintf(line, sizeof line, "reload failed: %.*s",
                     (int)(len > 4096 ? 4096 : len), problem);
    tarmac_log_fields(TARMAC_LOG_ERROR, line, (size_t)n, "source", what,
                      (const char *)NULL);
    problem += len;
    if (*problem == '\n') problem++;
  }
}

static void reload_source(tarmac_watch_t *w, const char *what,
                          tarmac_reload_fn fn, void *data) {
  static const char started[] = "reload started";
  tarmac_log_fields(TARMAC_LOG_INFO, started, sizeof started - 1, "source",
                    what, (const char *)NULL);
  char err[16384] = "";
  int rc = fn(data, err, sizeof err);
  atomic_fetch_add(&w->reloads, 1);
  count_result(w, what, rc == 0);
  if (rc != 0) {
    log_failure(what, err[0] != '\0' ? err : "no reason given");
    return;
  }
  char line[600];
  int n = snprintf(line, sizeof line, "reload succeeded: %.500s",
                   err[0] != '\0' ? err : what);
  tarmac_log_fields(TARMAC_LOG_INFO, line, (size_t)n, "source", what,
                    (const char *)NULL);
}

/* Whether source i's files changed since last read (hashes them, and
 * keeps the new hashes whatever the reload then does: the same broken
 * content is not tried again until it changes or SIGHUP). */
static bool take_changes(tarmac_watch_t *w, size_t i, bool forced,
                         source_t *out) {
  pthread_mutex_lock(&w->mutex);
  source_t *s = &w->sources[i];
  bool changed = forced;
  for (size_t j = 0; j < s->count; j++) {
    uint64_t h = hash_file(s->paths[j]);
    if (h != s->hashes[j]) changed = true;
    s->hashes[j] = h;
  }
  *out = *s; /* what, fn and data stay put: sources are never removed */
  pthread_mutex_unlock(&w->mutex);
  return changed;
}

static void reload_round(tarmac_watch_t *w, bool forced) {
  pthread_mutex_lock(&w->mutex);
  size_t n = w->source_count;
  pthread_mutex_unlock(&w->mutex);
  for (size_t i = 0; i < n && !atomic_load(&w->stop); i++) {
    source_t s;
    if (take_changes(w, i, forced, &s)) reload_source(w, s.what, s.fn, s.data);
  }
}

/* ---- the thread ---------------------------------------------------------- */

/* How long poll may sleep: until the quiet period ends, or forever. */
static int poll_timeout(const tarmac_watch_t *w, bool pending, uint64_t first,
                        uint64_t last, uint64_t now) {
  if (!pending) return -1;
  uint64_t settle = w->config.settle_ms;
  uint64_t end = last + settle;
  uint64_t cap = first + settle * SETTLE_MAX_FACTOR;
  if (cap < end) end = cap;
  return end > now ? (int)(end - now) : 0;
}

static void *watch_thread(void *arg) {
  tarmac_watch_t *w = arg;
  struct pollfd fds[2] = {{.fd = w->wake_fd, .events = POLLIN},
                          {.fd = w->inotify_fd, .events = POLLIN}};
  nfds_t nfds = w->inotify_fd >= 0 ? 2 : 1;
  bool pending = false;
  uint64_t first = 0, last = 0;
  while (!atomic_load(&w->stop)) {
    uint64_t now = tarmac_clock_ms(CLOCK_MONOTONIC);
    int ready = poll(fds, nfds, poll_timeout(w, pending, first, last, now));
    if (ready < 0 && errno != EINTR) {
      tarmac_logf(TARMAC_LOG_ERROR, "file watcher stopped: poll: %s",
                  strerror(errno));
      break;
    }
    uint64_t counter;
    if (ready > 0 && (fds[0].revents & POLLIN) &&
        read(w->wake_fd, &counter, sizeof counter) < 0 && errno != EAGAIN)
      tarmac_logf(TARMAC_LOG_WARN, "file watcher: %s", strerror(errno));
    now = tarmac_clock_ms(CLOCK_MONOTONIC);
    if (nfds == 2 && ready > 0 && (fds[1].revents & POLLIN) &&
        drain_events(w)) {
      if (!pending) first = now;
      last = now;
      pending = true;
    }
    if (atomic_load(&w->stop)) break;
    bool forced = atomic_exchange(&w->forced, false);
    if (forced || (pending && poll_timeout(w, true, first, last, now) == 0)) {
      pending = false;
      reload_round(w, forced);
      /* a ConfigMap's new folder, a directory made since: one more round
       * compares hashes, for what changed there before it was watched */
      if (rewatch(w)) {
        first = last = tarmac_clock_ms(CLOCK_MONOTONIC);
        pending = true;
      }
    }
  }
  pthread_mutex_lock(&w->mutex);
  w->ended = true;
  pthread_cond_broadcast(&w->ending);
  pthread_mutex_unlock(&w->mutex);
  return NULL;
}

static int make_metrics(tarmac_watch_t *w, char *err, size_t err_size) {
  if (w->config.metrics == NULL) return 0;
  static const char *const labels[] = {"source", "result"};
  w->results = tarmac_metrics_family(
      w->config.metrics, TARMAC_METRIC_COUNTER, "tarmac_reloads_total",
      "Reloads of configuration that changed on disk or on SIGHUP, per "
      "source and result (success or failure)",
      labels, 2, NULL, 0, err, err_size);
  w->last_success = tarmac_metrics_family(
      w->config.metrics, TARMAC_METRIC_GAUGE,
      "tarmac_reload_last_success_timestamp_seconds",
      "When a source last reloaded successfully (Unix time)", labels, 1,
      NULL, 0, err, err_size);
  return w->results != NULL && w->last_success != NULL ? 0 : -1;
}

tarmac_watch_t *tarmac_watch_new(const tarmac_watch_config_t *config,
                                 char *err, size_t err_size) {
  tarmac_watch_t *w = calloc(1, sizeof(*w));
  if (w == NULL) return snprintf(err, err_size, "out of memory"), NULL;
  w->config = *config;
  if (w->config.settle_ms == 0) w->config.settle_ms = DEFAULT_SETTLE_MS;
  pthread_mutex_init(&w->mutex, NULL);
  pthread_cond_init(&w->ending, NULL);
  w->inotify_fd = -1;
  w->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (w->wake_fd < 0) {
    snprintf(err, err_size, "cannot make an eventfd: %s", strerror(errno));
  } else if (config->inotify &&
             (w->inotify_fd = inotify_init1(IN_CLOEXEC | IN_NONBLOCK)) < 0) {
    snprintf(err, err_size,
             "cannot watch files (inotify): %s; APP_WATCH_CONFIG=false "
             "turns watching off (SIGHUP still reloads)", strerror(errno));
  } else if (make_metrics(w, err, err_size) == 0) {
    return w;
  }
  tarmac_watch_free(w);
  return NULL;
}

int tarmac_watch_start(tarmac_watch_t *watch, char *err, size_t err_size) {
  int rc = pthread_create(&watch->thread, NULL, watch_thread, watch);
  if (rc != 0)
    return snprintf(err, err_size, "cannot start the file watcher: %s",
                    strerror(rc)), -1;
  watch->started = true;
  return 0;
}

void tarmac_watch_trigger(tarmac_watch_t *watch) {
  atomic_store(&watch->forced, true);
  wake(watch);
}

unsigned long tarmac_watch_reload_count(const tarmac_watch_t *watch) {
  return atomic_load(&((tarmac_watch_t *)watch)->reloads);
}

bool tarmac_watch_stop(tarmac_watch_t *watch, unsigned timeout_ms) {
  if (watch == NULL || !watch->started) return true;
  atomic_store(&watch->stop, true);
  wake(watch);
  struct timespec until = tarmac_clock_after_ms(CLOCK_REALTIME, timeout_ms);
  pthread_mutex_lock(&watch->mutex);
  int rc = 0;
  while (!watch->ended && rc == 0)
    rc = pthread_cond_timedwait(&watch->ending, &watch->mutex, &until);
  bool ended = watch->ended;
  pthread_mutex_unlock(&watch->mutex);
  if (!ended) return false;
  pthread_join(watch->thread, NULL);
  watch->started = false;
  return true;
}

void tarmac_watch_free(tarmac_watch_t *watch) {
  if (watch == NULL) return;
  if (watch->started) {
    atomic_store(&watch->stop, true);
    wake(watch);
    pthread_join(watch->thread, NULL);
  }
  for (size_t i = 0; i < watch->source_count; i++) {
    source_t *s = &watch->sources[i];
    free(s->what);
    free_paths(s->paths, s->hashes, s->count);
  }
  free(watch->sources);
  free(watch->wds);
  if (watch->inotify_fd >= 0) close(watch->inotify_fd);
  if (watch->wake_fd >= 0) close(watch->wake_fd);
  pthread_cond_destroy(&watch->ending);
  pthread_mutex_destroy(&watch->mutex);
  free(watch);
}
