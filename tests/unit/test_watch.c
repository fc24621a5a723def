/* The file watcher (server/watch): a file renamed into place, a file
 * written in several writes (read once, complete), the same content
 * written again (no reload), a Kubernetes ConfigMap's symbolic-link swap,
 * SIGHUP's trigger (every source, changed or not), a change during a
 * reload (coalesced into one more), new paths after set_paths, a file in
 * a directory made after start-up, a failed
 * reload counted in the metrics. Each wait is on a condition variable with
 * a generous bound; "no reload happened" is shown by a later reload of
 * another source in the same directory (one round handles both). */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/stat.h>
#include <unistd.h>

#include "metrics/metrics.h"
#include "server/watch.h"
#include "test.h"
#include "util/buffer.h"
#include "util/clock.h"

#define BOUND_MS 20000u

typedef struct {
  pthread_mutex_t mutex;
  pthread_cond_t changed;
  const char *path; /* read at each reload */
  unsigned calls;
  char content[256]; /* what the last reload read */
  bool fail;
  bool gated, gate_open, inside;
} probe_t;

static void probe_init(probe_t *p, const char *path) {
  *p = (probe_t){.mutex = PTHREAD_MUTEX_INITIALIZER,
                 .changed = PTHREAD_COND_INITIALIZER,
                 .path = path};
}

static int reload(void *data, char *err, size_t err_size) {
  probe_t *p = data;
  pthread_mutex_lock(&p->mutex);
  p->inside = true;
  pthread_cond_broadcast(&p->changed);
  while (p->gated && !p->gate_open) pthread_cond_wait(&p->changed, &p->mutex);
  int fd = open(p->path, O_RDONLY);
  ssize_t n = fd >= 0 ? read(fd, p->content, sizeof p->content - 1) : -1;
  p->content[n > 0 ? n : 0] = '\0';
  if (fd >= 0) close(fd);
  p->calls++;
  p->inside = false;
  bool fail = p->fail;
  pthread_cond_broadcast(&p->changed);
  pthread_mutex_unlock(&p->mutex);
  if (fail)
    return snprintf(err, err_size, "%s: broken on purpose", p->path), -1;
  return 0;
}

/* Waits until the probe has been called `calls` times: true, or false at
 * the bound. */
static bool wait_calls(probe_t *p, unsigned calls) {
  struct timespec until = tarmac_clock_after_ms(CLOCK_REALTIME, BOUND_MS);
  pthread_mutex_lock(&p->mutex);
  int rc = 0;
  while (p->calls < calls && rc == 0)
    rc = pthread_cond_timedwait(&p->changed, &p->mutex, &until);
  bool ok = p->calls >= calls;
  pthread_mutex_unlock(&p->mutex);
  return ok;
}

static unsigned calls_of(probe_t *p) {
  pthread_mutex_lock(&p->mutex);
  unsigned n = p->calls;
  pthread_mutex_unlock(&p->mutex);
  return n;
}

static bool content_is(probe_t *p, const char *text) {
  pthread_mutex_lock(&p->mutex);
  bool same = strcmp(p->content, text) == 0;
  pthread_mutex_unlock(&p->mutex);
  if (!same) fprintf(stderr, "read \"%s\", want \"%s\"\n", p->content, text);
  return same;
}

static void write_file(const char *path, const char *text) {
  FILE *f = fopen(path, "w");
  CHECK(f != NULL);
  if (f == NULL) return;
  fputs(text, f);
  fclose(f);
}

static void replace(const char *path, const char *text) {
  char tmp[600];
  snprintf(tmp, sizeof tmp, "%s.tmp", path);
  write_file(tmp, text);
  CHECK(rename(tmp, path) == 0);
}

typedef struct {
  char dir[256], a[300], b[300], c[300];
  probe_t pa, pb, pc;
  tarmac_metrics_t *metrics;
  tarmac_watch_t *watch;
} fixture_t;

static void setup(fixture_t *f) {
  snprintf(f->dir, sizeof f->dir, "/tmp/tarmac-watch-XXXXXX");
  CHECK(mkdtemp(f->dir) != NULL);
  snprintf(f->a, sizeof f->a, "%s/a.json", f->dir);
  snprintf(f->b, sizeof f->b, "%s/b.json", f->dir);
  snprintf(f->c, sizeof f->c, "%s/c.json", f->dir);
  write_file(f->a, "a0");
  write_file(f->b, "b0");
  probe_init(&f->pa, f->a);
  probe_init(&f->pb, f->b);
  probe_init(&f->pc, f->c);
  f->metrics = tarmac_metrics_new();
  char err[256];
  tarmac_watch_config_t wc = {.inotify = true, .settle_ms = 300,
                              .metrics = f->metrics};
  f->watch = tarmac_watch_new(&wc, err, sizeof err);
  CHECK(f->watch != NULL);
  const char *pa[] = {f->a}, *pb[] = {f->b};
  CHECK(tarmac_watch_add(f->watch, pa, 1, "a", reload, &f->pa) == 0);
  CHECK(tarmac_watch_add(f->watch, pb, 1, "b", reload, &f->pb) == 0);
  CHECK(tarmac_watch_add(f->watch, pb, 1, "a", reload, &f->pa) != 0);
  CHECK(tarmac_watch_start(f->watch, err, sizeof err) == 0);
}

/* a renamed into place; then a written in three writes: read once. */
static void test_rename_and_writes(fixture_t *f) {
  replace(f->a, "a1");
  CHECK(wait_calls(&f->pa, 1));
  CHECK(content_is(&f->pa, "a1"));
  write_file(f->a, "a2-");
  FILE *out = fopen(f->a, "a");
  CHECK(out != NULL);
  if (out != NULL) {
    fputs("part2-", out);
    fflush(out);
    fputs("part3", out);
    fclose(out);
  }
  CHECK(wait_calls(&f->pa, 2));
  CHECK(content_is(&f->pa, "a2-part2-part3"));
  /* the same content again, then b: a is not reloaded */
  replace(f->a, "a2-part2-part3");
  replace(f->b, "b1");
  CHECK(wait_calls(&f->pb, 1));
  CHECK_EQ_INT(calls_of(&f->pa), 2);
  CHECK(content_is(&f->pb, "b1"));
}

/* SIGHUP: every source, unchanged. */
static void test_trigger(fixture_t *f) {
  unsigned a = calls_of(&f->pa), b = calls_of(&f->pb);
  tarmac_watch_trigger(f->watch);
  CHECK(wait_calls(&f->pa, a + 1));
  CHECK(wait_calls(&f->pb, b + 1));
}

/* Changes while a reload runs: one more reload after it. */
static void test_coalesced(fixture_t *f) {
  unsigned a = calls_of(&f->pa);
  pthread_mutex_lock(&f->pa.mutex);
  f->pa.gated = true;
  f->pa.gate_open = false;
  pthread_mutex_unlock(&f->pa.mutex);
  replace(f->a, "held");
  struct timespec until = tarmac_clock_after_ms(CLOCK_REALTIME, BOUND_MS);
  pthread_mutex_lock(&f->pa.mutex);
  while (!f->pa.inside &&
         pthread_cond_timedwait(&f->pa.changed, &f->pa.mutex, &until) == 0) {
  }
  CHECK(f->pa.inside);
  pthread_mutex_unlock(&f->pa.mutex);
  replace(f->a, "during-1");
  replace(f->a, "during-2");
  pthread_mutex_lock(&f->pa.mutex);
  f->pa.gate_open = true;
  f->pa.gated = false;
  pthread_cond_broadcast(&f->pa.changed);
  pthread_mutex_unlock(&f->pa.mutex);
  CHECK(wait_calls(&f->pa, a + 2));
  CHECK(content_is(&f->pa, "during-2"));
  unsigned b = calls_of(&f->pb);
  replace(f->b, "b-after");
  CHECK(wait_calls(&f->pb, b + 1));
  CHECK_EQ_INT(calls_of(&f->pa), a + 2);
}

/* Waits until the metrics page holds needle (a reload's outcome is
 * counted just after its function returns, which wait_calls sees). */
static bool wait_metric(fixture_t *f, const char *needle) {
  uint64_t until = tarmac_clock_ms(CLOCK_MONOTONIC) + BOUND_MS;
  tarmac_buffer_t text = TARMAC_BUFFER_INIT;
  bool found = false;
  while (!found && tarmac_clock_ms(CLOCK_MONOTONIC) < until) {
    tarmac_buffer_clear(&text);
    if (tarmac_metrics_render(f->metrics, &text) != 0 ||
        tarmac_buffer_append(&text, "", 1) != 0)
      break;
    found = strstr((const char *)text.data, needle) != NULL;
    if (!found) nanosleep(&(struct timespec){.tv_nsec = 1000000}, NULL);
  }
  tarmac_buffer_free(&text);
  return found;
}

/* A source's new file (named by a reload) is watched; a failure is
 * counted. */
static void test_set_paths_and_failure(fixture_t *f) {
  const char *pc[] = {f->c};
  CHECK(tarmac_watch_add(f->watch, pc, 1, "c", reload, &f->pc) == 0);
  const char *both[] = {f->b, f->c};
  CHECK(tarmac_watch_set_paths(f->watch, "b", both, 2) == 0);
  CHECK(tarmac_watch_set_paths(f->watch, "none", both, 2) != 0);
  pthread_mutex_lock(&f->pc.mutex);
  f->pc.fail = true;
  pthread_mutex_unlock(&f->pc.mutex);
  unsigned b = calls_of(&f->pb);
  write_file(f->c, "c1"); /* did not exist: b and c both see it */
  CHECK(wait_calls(&f->pc, 1));
  CHECK(wait_calls(&f->pb, b + 1));
  CHECK(wait_metric(f, "tarmac_reloads_total{source=\"c\",result=\"failure\"} "
                       "1"));
  CHECK(wait_metric(f, "tarmac_reloads_total{source=\"b\",result=\"success\"}"));
  tarmac_buffer_t text = TARMAC_BUFFER_INIT;
  CHECK(tarmac_metrics_render(f->metrics, &text) == 0);
  CHECK(tarmac_buffer_append(&text, "", 1) == 0);
  const char *page = (const char *)text.data;
  CHECK(strstr(page, "tarmac_reloads_total{source=\"c\",result=\"failure\"} "
                     "1") != NULL);
  CHECK(strstr(page, "tarmac_reloads_total{source=\"b\",result=\"success\"}")
        != NULL);
  CHECK(strstr(page, "tarmac_reload_last_success_timestamp_seconds{source="
                     "\"b\"}") != NULL);
  CHECK(strstr(page, "tarmac_reload_last_success_timestamp_seconds{source="
                     "\"c\"}") == NULL);
  tarmac_buffer_free(&text);
}

static void make_link(const char *target, const char *dir, const char *name) {
  char path[600];
  snprintf(path, sizeof path, "%s/%s", dir, name);
  CHECK(symlink(target, path) == 0);
}

/* A ConfigMap volume: dir/file -> ..data/file, ..data -> ..<timestamp>;
 * an update writes a new ..<timestamp> folder and renames a new ..data
 * link over the old one. */
/* A started inotify watch of one file, reloaded into *p. */
static tarmac_watch_t *watch_one(const char *file, const char *name, probe_t *p) {
  probe_init(p, file);
  char err[256];
  tarmac_watch_config_t wc = {.inotify = true, .settle_ms = 100};
  tarmac_watch_t *w = tarmac_watch_new(&wc, err, sizeof err);
  CHECK(w != NULL);
  if (w == NULL) exit(1);
  const char *paths[] = {file};
  CHECK(tarmac_watch_add(w, paths, 1, name, reload, p) == 0);
  CHECK(tarmac_watch_start(w, err, sizeof err) == 0);
  return w;
}

static void remove_tree(const char *dir) {
  char cmd[600];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
  CHECK(system(cmd) == 0);
}

static void test_configmap(void) {
  char dir[256], sub[300], file[300], path[400];
  snprintf(dir, sizeof dir, "/tmp/tarmac-configmap-XXXXXX");
  CHECK(mkdtemp(dir) != NULL);
  snprintf(sub, sizeof sub, "%s/..2026_01", dir);
  CHECK(mkdir(sub, 0700) == 0);
  snprintf(path, sizeof path, "%s/tarmac.json", sub);
  write_file(path, "v1");
  make_link("..2026_01", dir, "..data");
  make_link("..data/tarmac.json", dir, "tarmac.json");
  snprintf(file, sizeof file, "%s/tarmac.json", dir);
  probe_t p;
  tarmac_watch_t *w = watch_one(file, "configmap", &p);
  for (int round = 2; round <= 3; round++) {
    snprintf(sub, sizeof sub, "%s/..2026_0%d", dir, round);
    CHECK(mkdir(sub, 0700) == 0);
    snprintf(path, sizeof path, "%s/tarmac.json", sub);
    char text[8];
    snprintf(text, sizeof text, "v%d", round);
    write_file(path, text);
    snprintf(path, sizeof path, "..2026_0%d", round);
    make_link(path, dir, "..data_tmp");
    char from[400], to[400];
    snprintf(from, sizeof from, "%s/..data_tmp", dir);
    snprintf(to, sizeof to, "%s/..data", dir);
    CHECK(rename(from, to) == 0);
    CHECK(wait_calls(&p, (unsigned)round - 1));
    CHECK(content_is(&p, text));
  }
  tarmac_watch_free(w);
  remove_tree(dir);
}

/* A file whose directory does not exist when it is registered (a volume
 * mounted later, a folder made after start-up): made with its folders, it
 * is reloaded; written again, it is reloaded again (its own directory is
 * watched by then). */
static void test_missing_directory(void) {
  char dir[256], sub[300], file[400];
  snprintf(dir, sizeof dir, "/tmp/tarmac-watch-missing-XXXXXX");
  CHECK(mkdtemp(dir) != NULL);
  snprintf(sub, sizeof sub, "%s/later", dir);
  snprintf(file, sizeof file, "%s/later/inner/tarmac.json", dir);
  probe_t p;
  tarmac_watch_t *w = watch_one(file, "missing", &p);
  CHECK(mkdir(sub, 0700) == 0);
  snprintf(sub, sizeof sub, "%s/later/inner", dir);
  CHECK(mkdir(sub, 0700) == 0);
  write_file(file, "m1");
  CHECK(wait_calls(&p, 1));
  CHECK(content_is(&p, "m1"));
  replace(file, "m2");
  CHECK(wait_calls(&p, 2));
  CHECK(content_is(&p, "m2"));
  tarmac_watch_free(w);
  remove_tree(dir);
}

int main(void) {
  fixture_t f;
  setup(&f);
  if (f.watch != NULL) {
    test_rename_and_writes(&f);
    test_trigger(&f);
    test_coalesced(&f);
    test_set_paths_and_failure(&f);
  }
  tarmac_watch_free(f.watch);
  tarmac_metrics_free(f.metrics);
  remove_tree(f.dir);
  test_configmap();
  test_missing_directory();
  TEST_EXIT();
}
