/* Unit tests of the settings file (server/settings_file: every accepted
 * and refused form, file:line in each message), of its place under the
 * environment (server/config: the environment wins; every problem is
 * listed), and of live reloads (server/live_settings: maintenance mode and
 * the log level change, other settings are reported, a broken file
 * changes nothing). */
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log/log.h"
#include "server/config.h"
#include "server/live_settings.h"
#include "server/settings_file.h"
#include "test.h"
#include "util/fdio.h"

static char dir[] = "/tmp/tarmac-settings-XXXXXX";
static char path[256];

static void write_text(const char *text) {
  CHECK_EQ_INT(tarmac_write_file(path, text, strlen(text)), 0);
}

/* Parses text as the file "s.env"; the problems in *out_err. */
static size_t parse(const char *text, size_t len, tarmac_settings_file_t *f,
                    char *out_err, size_t err_size) {
  tarmac_problems_t p = TARMAC_PROBLEMS_INIT;
  tarmac_settings_file_free(f);
  CHECK_EQ_INT(tarmac_settings_file_parse("s.env", text, len, NULL, NULL, f,
                                          &p), 0);
  tarmac_problems_write(&p, out_err, err_size);
  size_t count = p.count;
  tarmac_problems_free(&p);
  return count;
}

static void test_accepted(void) {
  tarmac_settings_file_t f = TARMAC_SETTINGS_FILE_INIT;
  char err[2048];
  static const char text[] =
      "# a comment\n"
      "\n"
      "   \t\n"
      "APP_DEBUG=true\r\n"          /* CRLF */
      "  \tAPP_TRACE=false\n"       /* blanks before the name */
      "   # an indented comment\n"
      "APP_SQL_DSN=a=b #c\n"        /* '=', ' ' and '#' inside the value */
      "APP_REDIS_PASSWORD=\n"       /* empty */
      "APP_KVSTORE_PATH=/data/\xc3\xa9t\xc3\xa9\n" /* UTF-8 */
      "APP_LISTEN_ADDR=:8080";      /* no line end at the end */
  CHECK_EQ_INT(parse(text, sizeof text - 1, &f, err, sizeof err), 0);
  CHECK_EQ_INT(f.count, 6);
  if (f.count != 6) return;
  CHECK(!strcmp(f.entries[0].name, "APP_DEBUG"));
  CHECK(!strcmp(f.entries[0].value, "true"));
  CHECK_EQ_INT(f.entries[0].line, 4);
  CHECK(!strcmp(f.entries[1].name, "APP_TRACE"));
  CHECK_EQ_INT(f.entries[1].line, 5);
  CHECK(!strcmp(f.entries[2].value, "a=b #c"));
  CHECK(!strcmp(f.entries[3].value, ""));
  CHECK(!strcmp(f.entries[4].value, "/data/\xc3\xa9t\xc3\xa9"));
  CHECK(!strcmp(f.entries[5].value, ":8080"));
  CHECK_EQ_INT(f.entries[5].line, 10);
  CHECK(tarmac_settings_file_find(&f, "APP_TRACE") == &f.entries[1]);
  CHECK(tarmac_settings_file_find(&f, "APP_NOPE") == NULL);
  CHECK_EQ_INT(parse("", 0, &f, err, sizeof err), 0);
  CHECK_EQ_INT(f.count, 0);
  tarmac_settings_file_free(&f);
}

/* Each refused line: its message starts "s.env:2: " and says why. */
static void test_refused(void) {
  static const struct {
    const char *line, *why;
  } bad[] = {
      {"APP_DEBUG", "no '='"},
      {"=true", "nothing before '='"},
      {"APP_DEBUG =true", "s.env:2: APP_DEBUG : a blank before '='"},
      {"APP_DEBUG\t=true", "a blank before '='"},
      {"APP_DEBUG= true", "APP_DEBUG: a blank after '='"},
      {"APP_DEBUG=true ", "a blank at the end of the value"},
      {"APP_DEBUG=true\t", "a blank at the end of the value"},
      {"APP_DEBUG=\"true\"", "quotes are not removed"},
      {"APP_DEBUG='true'", "quotes are not removed"},
      {"export APP_DEBUG=true", "\"export NAME=value\" is not supported"},
      {"APP_SQL_DSN=a\tb", "a control character"},
      {"APP_SQL_DSN=a\x01" "b", "a control character"},
      {"APP_SQL_DSN=a\x7f", "a control character"},
      {"APP_DEBUG=true\r\r", "a control character"},
  };
  char err[2048], text[128];
  tarmac_settings_file_t f = TARMAC_SETTINGS_FILE_INIT;
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    int n = snprintf(text, sizeof text, "APP_TRACE=true\n%s\nAPP_DEBUG=1\n",
                     bad[i].line);
    CHECK_EQ_INT(parse(text, (size_t)n, &f, err, sizeof err), 1);
    bool ok = strncmp(err, "s.env:2: ", 9) == 0 && strstr(err, bad[i].why);
    CHECK(ok);
    if (!ok) fprintf(stderr, "  \"%s\" -> \"%s\"\n", bad[i].line, err);
    CHECK_EQ_INT(f.count, 2); /* the good lines around it are kept */
  }
  /* a NUL byte */
  CHECK_EQ_INT(parse("APP_DEBUG=t\0rue\n", 16, &f, err, sizeof err), 1);
  CHECK(strstr(err, "s.env:1: APP_DEBUG: a control character"));
  tarmac_settings_file_free(&f);
}

static void test_bounds(void) {
  char err[2048];
  tarmac_settings_file_t f = TARMAC_SETTINGS_FILE_INIT;
  size_t len = TARMAC_SETTINGS_LINE_MAX + 20;
  char *text = malloc(len + 1);
  CHECK(text != NULL);
  if (text == NULL) return;
  memset(text, 'x', len);
  memcpy(text, "\nAPP_SQL_DSN=", 13);
  CHECK_EQ_INT(parse(text, len, &f, err, sizeof err), 1);
  CHECK(strstr(err, "s.env:2: longer than 8192 bytes") != NULL);
  /* a line of exactly the limit (CR not counted) is fine */
  memcpy(text + 1 + TARMAC_SETTINGS_LINE_MAX, "\r\n", 2);
  CHECK_EQ_INT(parse(text, 3 + TARMAC_SETTINGS_LINE_MAX, &f, err, sizeof err),
               0);
  free(text);
  /* entries past the bound: said once */
  tarmac_buffer_t many = TARMAC_BUFFER_INIT;
  for (unsigned i = 0; i < TARMAC_SETTINGS_ENTRIES_MAX + 50; i++)
    CHECK_EQ_INT(tarmac_buffer_appendf(&many, "APP_DEBUG=%u\n", i), 0);
  CHECK_EQ_INT(parse((const char *)many.data, many.len, &f, err, sizeof err),
               1);
  CHECK(strstr(err, "s.env:1001: more than 1000 entries") != NULL);
  tarmac_buffer_free(&many);
  /* a file too large, a file missing */
  tarmac_problems_t p = TARMAC_PROBLEMS_INIT;
  char *big = calloc(1, TARMAC_SETTINGS_FILE_MAX_BYTES + 1);
  CHECK(big != NULL);
  if (big != NULL) {
    memset(big, '\n', TARMAC_SETTINGS_FILE_MAX_BYTES + 1);
    CHECK_EQ_INT(tarmac_write_file(path, big, TARMAC_SETTINGS_FILE_MAX_BYTES + 1),
                 0);
    free(big);
  }
  CHECK_EQ_INT(tarmac_settings_file_read(path, NULL, NULL, &f, &p), -1);
  tarmac_problems_write(&p, err, sizeof err);
  CHECK(strstr(err, "larger than 1048576 bytes") && strstr(err, path));
  tarmac_problems_free(&p);
  CHECK_EQ_INT(tarmac_settings_file_read("/nonexistent/s.env", NULL, NULL,
                                         &f, &p), -1);
  tarmac_problems_write(&p, err, sizeof err);
  CHECK(strstr(err, "/nonexistent/s.env: cannot open") != NULL);
  tarmac_problems_free(&p);
  tarmac_settings_file_free(&f);
}

/* The environment wins over the file; empty in the environment leaves the
 * setting to the file. */
static void test_precedence(void) {
  tarmac_server_config_t c;
  char err[4096];
  write_text("APP_EVENT_LOOPS=3\nAPP_WASM_POOL_SIZE=7\n"
             "APP_WASM_MODULE=/m/seed.wasm\n");
  setenv("APP_CONFIG_FILE", path, 1);
  setenv("APP_WASM_POOL_SIZE", "9", 1);
  setenv("APP_EVENT_LOOPS", "", 1);
  CHECK_EQ_INT(tarmac_server_config_load(&c, err, sizeof err), 0);
  CHECK_EQ_INT(c.event_loops, 3);
  CHECK_EQ_INT(c.pool_size, 9);
  CHECK(!strcmp(c.wasm_module, "/m/seed.wasm"));
  CHECK(c.wasm_module_is_seed);
  CHECK(!strcmp(c.config_file, path));
  /* the same through _load_file, which keeps the entries */
  tarmac_settings_file_t f = TARMAC_SETTINGS_FILE_INIT;
  CHECK_EQ_INT(tarmac_server_config_load_file(&c, path, &f, err, sizeof err),
               0);
  CHECK_EQ_INT(f.count, 3);
  tarmac_settings_file_free(&f);
  /* a value outside a setting's choices names the line too */
  write_text("\nAPP_RUN_MODE=cron\n");
  CHECK_EQ_INT(tarmac_server_config_load(&c, err, sizeof err), -1);
  char want[512];
  snprintf(want, sizeof want, "%s:2: APP_RUN_MODE=cron is not a run mode",
           path);
  CHECK(strncmp(err, want, strlen(want)) == 0);
  write_text("APP_RUN_MODE=job\n");
  CHECK_EQ_INT(tarmac_server_config_load(&c, err, sizeof err), 0);
  CHECK(c.job_mode);
  /* no file: the defaults */
  unsetenv("APP_CONFIG_FILE");
  CHECK_EQ_INT(tarmac_server_config_load(&c, err, sizeof err), 0);
  CHECK_EQ_INT(c.pool_size, 9);
  CHECK(!c.wasm_module_is_seed);
  CHECK(!strcmp(c.config_file, ""));
  unsetenv("APP_WASM_POOL_SIZE");
  unsetenv("APP_EVENT_LOOPS");
}

/* Every problem at once, each with file:line and the name, in line order
 * (syntax or not), then the environment's; a bad value the environment
 * hides is still refused. */
static void test_every_problem(void) {
  tarmac_server_config_t c;
  char err[4096];
  write_text("APP_DEBUG=maybe\n"
             "APP_NOT_A_SETTING=1\n"
             "APP_EVENT_LOOPS=2\n"
             "APP_EVENT_LOOPS=3\n"
             "APP_CONFIG_FILE=/x\n"
             "APP_WASM_POOL_SIZE=0\n"
             "APP_TRACE = true\n");
  setenv("APP_CONFIG_FILE", path, 1);
  setenv("APP_WASM_POOL_SIZE", "5", 1);
  setenv("APP_HANDOFF_MS", "0", 1);
  CHECK_EQ_INT(tarmac_server_config_load(&c, err, sizeof err), -1);
  char want[6][512];
  snprintf(want[0], 512, "%s:1: APP_DEBUG=maybe is not a boolean", path);
  snprintf(want[1], 512, "%s:2: APP_NOT_A_SETTING is not a setting", path);
  snprintf(want[2], 512, "%s:4: APP_EVENT_LOOPS set again (first at line 3)",
           path);
  snprintf(want[3], 512, "%s:5: APP_CONFIG_FILE is only read from the "
           "environment", path);
  snprintf(want[4], 512, "%s:6: APP_WASM_POOL_SIZE=0 is not a whole number",
           path);
  snprintf(want[5], 512, "%s:7: APP_TRACE : a blank before '='", path);
  const char *after = err;
  for (int i = 0; i < 6; i++) {
    const char *at = strstr(after, want[i]);
    CHECK(at != NULL);
    if (at == NULL) fprintf(stderr, "  want %s after \"%s\"\n", want[i], after);
    else after = at;
  }
  CHECK(strstr(after, "\nAPP_HANDOFF_MS=0 is not a whole number") != NULL);
  int lines = 1;
  for (const char *s = err; *s; s++) lines += *s == '\n';
  CHECK_EQ_INT(lines, 7);
  unsetenv("APP_HANDOFF_MS");
  unsetenv("APP_WASM_POOL_SIZE");
  unsetenv("APP_CONFIG_FILE");
}

/* The log file's text from `from` on. */
static char *log_since(int fd, off_t from) {
  static char text[16384];
  ssize_t n = pread(fd, text, sizeof text - 1, from);
  text[n > 0 ? n : 0] = '\0';
  return text;
}

static int count(const char *text, const char *what) {
  int n = 0;
  for (const char *at = text; (at = strstr(at, what)) != NULL; at++) n++;
  return n;
}

/* Maintenance on, debug on, restart-only settings reported; the name the
 * environment keeps is neither applied nor warned about again. */
static void reload_applies(tarmac_live_settings_t *live, int log_fd) {
  const atomic_bool *flag = tarmac_live_settings_maintenance(live);
  char err[4096];
  off_t mark = lseek(log_fd, 0, SEEK_END);
  write_text("APP_ENABLE_MAINTENANCE_MODE=true\nAPP_DEBUG=true\n"
             "APP_EVENT_LOOPS=3\nAPP_TRACE=true\nAPP_WASM_POOL_SIZE=4\n");
  CHECK_EQ_INT(tarmac_live_settings_reload(live, err, sizeof err), 0);
  CHECK(atomic_load(flag));
  CHECK_EQ_INT(tarmac_log_config().min_level, TARMAC_LOG_DEBUG);
  CHECK(tarmac_log_enabled(TARMAC_LOG_DEBUG));
  CHECK(!tarmac_log_enabled(TARMAC_LOG_TRACE));
  const char *log = log_since(log_fd, mark);
  CHECK(strstr(log, "maintenance mode on") != NULL);
  CHECK(strstr(log, "log level changed from=info to=debug") != NULL);
  CHECK(strstr(log, "APP_EVENT_LOOPS changed: takes effect at restart"));
  CHECK(strstr(log, "APP_WASM_POOL_SIZE changed: takes effect at restart"));
  CHECK(strstr(log, "APP_DEBUG changed") == NULL);   /* live */
  CHECK(strstr(log, "APP_TRACE changed") == NULL);   /* the environment's */
  CHECK_EQ_INT(count(log, "environment's value is kept"), 0); /* once */
}

/* A broken or missing file changes nothing and logs nothing. */
static void reload_refused(tarmac_live_settings_t *live, int log_fd) {
  const atomic_bool *flag = tarmac_live_settings_maintenance(live);
  char err[4096], want[512];
  off_t mark = lseek(log_fd, 0, SEEK_END);
  write_text("APP_ENABLE_MAINTENANCE_MODE=false\nAPP_DEBUG=maybe\n");
  CHECK_EQ_INT(tarmac_live_settings_reload(live, err, sizeof err), -1);
  snprintf(want, sizeof want, "%s:2: APP_DEBUG=maybe is not a boolean", path);
  CHECK(strstr(err, want) != NULL);
  CHECK(atomic_load(flag));
  CHECK_EQ_INT(tarmac_log_config().min_level, TARMAC_LOG_DEBUG);
  CHECK_EQ_INT(strlen(log_since(log_fd, mark)), 0);
  unlink(path);
  CHECK_EQ_INT(tarmac_live_settings_reload(live, err, sizeof err), -1);
  CHECK(strstr(err, "cannot open") != NULL);
  CHECK(atomic_load(flag));
}

/* Logging off and maintenance off: the switch off is still logged, and
 * so is the switch back on. */
static void reload_logging_off(tarmac_live_settings_t *live, int log_fd) {
  const atomic_bool *flag = tarmac_live_settings_maintenance(live);
  char err[4096];
  write_text("APP_DISABLE_LOGGING=true\nAPP_EVENT_LOOPS=3\n");
  off_t mark = lseek(log_fd, 0, SEEK_END);
  CHECK_EQ_INT(tarmac_live_settings_reload(live, err, sizeof err), 0);
  CHECK(!atomic_load(flag));
  CHECK_EQ_INT(tarmac_log_config().min_level, TARMAC_LOG_OFF);
  const char *log = log_since(log_fd, mark);
  CHECK(strstr(log, "maintenance mode off") != NULL);
  CHECK(strstr(log, "log level changed from=debug to=off") != NULL);
  CHECK(strstr(log, "APP_WASM_POOL_SIZE changed") != NULL); /* removed */
  CHECK(strstr(log, "APP_EVENT_LOOPS changed") == NULL);
  write_text("APP_EVENT_LOOPS=3\n");
  mark = lseek(log_fd, 0, SEEK_END);
  CHECK_EQ_INT(tarmac_live_settings_reload(live, err, sizeof err), 0);
  CHECK(strstr(log_since(log_fd, mark), "from=off to=info") != NULL);
}

static void test_reload(int log_fd) {
  tarmac_server_config_t c;
  char err[4096];
  write_text("APP_ENABLE_MAINTENANCE_MODE=false\nAPP_EVENT_LOOPS=2\n"
             "APP_TRACE=true\n");
  setenv("APP_CONFIG_FILE", path, 1);
  setenv("APP_TRACE", "false", 1); /* the environment keeps it */
  setenv("APP_TEXT_LOG_FORMAT", "true", 1);
  tarmac_live_settings_t *live = tarmac_live_settings_new(&c, err, sizeof err);
  CHECK(live != NULL);
  if (live == NULL) return;
  CHECK(c.maintenance_flag == tarmac_live_settings_maintenance(live));
  CHECK(!atomic_load(c.maintenance_flag));
  CHECK(!strcmp(tarmac_live_settings_path(live), path));
  CHECK_EQ_INT(tarmac_log_config().min_level, TARMAC_LOG_INFO);
  CHECK_EQ_INT(count(log_since(log_fd, 0), "environment's value is kept"), 1);
  reload_applies(live, log_fd);
  reload_refused(live, log_fd);
  reload_logging_off(live, log_fd);
  tarmac_live_settings_free(live);
  unsetenv("APP_TEXT_LOG_FORMAT");
  unsetenv("APP_TRACE");
  unsetenv("APP_CONFIG_FILE");
}

static void *reload_many(void *arg) {
  char err[1024];
  for (int i = 0; i < 50; i++)
    if (tarmac_live_settings_reload(arg, err, sizeof err) != 0) return arg;
  return NULL;
}

/* Reloads from several threads at once (the watcher and SIGHUP may
 * overlap): each succeeds, and the settings end as the file says. */
static void test_concurrent_reloads(void) {
  tarmac_server_config_t c;
  char err[1024];
  write_text("APP_ENABLE_MAINTENANCE_MODE=true\nAPP_DISABLE_LOGGING=true\n");
  setenv("APP_CONFIG_FILE", path, 1);
  tarmac_live_settings_t *live = tarmac_live_settings_new(&c, err, sizeof err);
  CHECK(live != NULL);
  if (live == NULL) return;
  pthread_t threads[4];
  for (int i = 0; i < 4; i++)
    CHECK_EQ_INT(pthread_create(&threads[i], NULL, reload_many, live), 0);
  for (int i = 0; i < 4; i++) {
    void *failed = live;
    CHECK_EQ_INT(pthread_join(threads[i], &failed), 0);
    CHECK(failed == NULL);
  }
  CHECK(atomic_load(tarmac_live_settings_maintenance(live)));
  CHECK_EQ_INT(tarmac_log_config().min_level, TARMAC_LOG_OFF);
  tarmac_live_settings_free(live);
  unsetenv("APP_CONFIG_FILE");
}

/* Without a settings file a reload has nothing to do. */
static void test_no_file(void) {
  tarmac_server_config_t c;
  char err[512];
  unsetenv("APP_CONFIG_FILE");
  tarmac_live_settings_t *live = tarmac_live_settings_new(&c, err, sizeof err);
  CHECK(live != NULL);
  if (live == NULL) return;
  CHECK(tarmac_live_settings_path(live) == NULL);
  CHECK_EQ_INT(tarmac_live_settings_reload(live, err, sizeof err), 0);
  tarmac_live_settings_free(live);
  setenv("APP_CONFIG_FILE", "/nonexistent/s.env", 1);
  CHECK(tarmac_live_settings_new(&c, err, sizeof err) == NULL);
  CHECK(strstr(err, "/nonexistent/s.env: cannot open") != NULL);
  unsetenv("APP_CONFIG_FILE");
}

int main(void) {
  CHECK(mkdtemp(dir) != NULL);
  snprintf(path, sizeof path, "%s/settings.env", dir);
  char log_path[300];
  snprintf(log_path, sizeof log_path, "%s/log", dir);
  int log_fd = open(log_path, O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
  CHECK(log_fd >= 0);
  tarmac_log_config_t log = {.fd = log_fd, .min_level = TARMAC_LOG_INFO,
                             .text = true};
  tarmac_log_configure(&log);
  test_accepted();
  test_refused();
  test_bounds();
  test_precedence();
  test_every_problem();
  test_reload(log_fd);
  test_no_file();
  test_concurrent_reloads();
  close(log_fd);
  unlink(log_path);
  unlink(path);
  rmdir(dir);
  TEST_EXIT();
}
