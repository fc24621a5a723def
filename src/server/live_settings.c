/* server/live_settings: see live_settings.h. A reload loads the whole
 * configuration again exactly as start-up did (one code path, so a file
 * start-up would refuse is refused), then compares it with the last one:
 * live settings are applied, the others reported. */
#include "server/live_settings.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct tarmac_live_settings {
  pthread_mutex_t lock;          /* one reload at a time */
  atomic_bool maintenance;       /* what /ready reads */
  tarmac_server_config_t config; /* as last applied; under lock */
  tarmac_settings_file_t file;   /* its entries as last read; under lock */
  char path[sizeof(((tarmac_server_config_t *)0)->config_file)]; /* set once
                                      by _new: read without the lock */
};

static const char *const live_names[] = {
    "APP_ENABLE_MAINTENANCE_MODE", "APP_DEBUG", "APP_TRACE",
    "APP_DISABLE_LOGGING", NULL};

static bool is_live(const char *name) {
  for (const char *const *n = live_names; *n != NULL; n++)
    if (strcmp(*n, name) == 0) return true;
  return false;
}

/* The environment's value for name; NULL when unset or empty (the
 * environment then leaves the setting to the file). */
static const char *env_value(const char *name) {
  const char *v = getenv(name);
  return v != NULL && *v != '\0' ? v : NULL;
}

/* The file's value for name; "" when it does not set it. */
static const char *file_value(const tarmac_settings_file_t *file,
                              const char *name) {
  const tarmac_settings_entry_t *e = tarmac_settings_file_find(file, name);
  return e != NULL ? e->value : "";
}

/* The file sets name, and not as the environment does (which wins). */
static bool hidden_by_env(const tarmac_settings_file_t *file,
                          const char *name) {
  const char *env = env_value(name), *in_file = file_value(file, name);
  return env != NULL && *in_file != '\0' && strcmp(env, in_file) != 0;
}

/* Values are not logged: some are secrets (APP_REDIS_PASSWORD,
 * APP_SQL_DSN). */
static void warn(const char *text, const char *name, const char *path) {
  tarmac_log_fields(TARMAC_LOG_WARN, text, strlen(text), "setting", name,
                    "file", path, (const char *)NULL);
}

/* Warns once per name the environment hides: when the file starts to
 * disagree with it (old NULL: at start-up). */
static void warn_hidden(const tarmac_settings_file_t *old,
                        const tarmac_settings_file_t *now, const char *path) {
  for (size_t i = 0; i < now->count; i++) {
    const char *name = now->entries[i].name;
    if (hidden_by_env(now, name) && (old == NULL || !hidden_by_env(old, name)))
      warn("the settings file sets a variable the environment sets "
           "differently: the environment's value is kept", name, path);
  }
}

/* Warns for each setting that is neither live nor the environment's whose
 * value in the file changed (set, changed or removed). */
static void warn_restart(const tarmac_settings_file_t *old,
                         const tarmac_settings_file_t *now, const char *path) {
  const tarmac_settings_file_t *sides[2] = {now, old};
  for (int side = 0; side < 2; side++)
    for (size_t i = 0; i < sides[side]->count; i++) {
      const char *name = sides[side]->entries[i].name;
      if (side == 1 && tarmac_settings_file_find(now, name) != NULL)
        continue; /* seen on the first side */
      if (is_live(name) || env_value(name) != NULL ||
          strcmp(file_value(old, name), file_value(now, name)) == 0)
        continue;
      char text[160];
      snprintf(text, sizeof text, "%s changed: takes effect at restart",
               name);
      warn(text, name, path);
    }
}

tarmac_log_level_t tarmac_live_settings_log_level(
    const tarmac_server_config_t *c) {
  if (c->disable_logging) return TARMAC_LOG_OFF;
  if (c->trace) return TARMAC_LOG_TRACE;
  if (c->debug) return TARMAC_LOG_DEBUG;
  return TARMAC_LOG_INFO;
}

/* Logs the change while the more verbose of the two levels is on, so a
 * switch to or from "off" is still seen. */
static void apply_log_level(tarmac_log_level_t from, tarmac_log_level_t to,
                            const char *path) {
  if (from == to) return;
  if (to < from) tarmac_log_set_level(to);
  tarmac_log_fields(TARMAC_LOG_INFO, TARMAC_LOG_LITERAL("log level changed"),
                    "from", tarmac_log_level_name(from), "to",
                    tarmac_log_level_name(to), "file", path,
                    (const char *)NULL);
  if (to > from) tarmac_log_set_level(to);
}

static void apply_live(tarmac_live_settings_t *live,
                       const tarmac_server_config_t *next) {
  const char *path = live->path;
  if (next->maintenance_mode != live->config.maintenance_mode) {
    atomic_store(&live->maintenance, next->maintenance_mode);
    const char *text = next->maintenance_mode
                           ? "maintenance mode on: /ready answers 503"
                           : "maintenance mode off";
    tarmac_log_fields(TARMAC_LOG_INFO, text, strlen(text), "setting",
                      "APP_ENABLE_MAINTENANCE_MODE", "file", path,
                      (const char *)NULL);
  }
  apply_log_level(tarmac_live_settings_log_level(&live->config),
                  tarmac_live_settings_log_level(next), path);
}

tarmac_live_settings_t *tarmac_live_settings_new(
    tarmac_server_config_t *config, char *err, size_t err_size) {
  tarmac_live_settings_t *live = calloc(1, sizeof *live);
  if (live == NULL) {
    snprintf(err, err_size, "out of memory");
    return NULL;
  }
  live->file = (tarmac_settings_file_t)TARMAC_SETTINGS_FILE_INIT;
  int rc = tarmac_server_config_load_file(config, getenv("APP_CONFIG_FILE"),
                                          &live->file, err, err_size);
  if (rc == 0 && pthread_mutex_init(&live->lock, NULL) != 0) {
    snprintf(err, err_size, "cannot make the live settings' lock");
    rc = -1;
  }
  if (rc != 0) {
    tarmac_settings_file_free(&live->file);
    free(live);
    return NULL;
  }
  atomic_init(&live->maintenance, config->maintenance_mode);
  config->maintenance_flag = &live->maintenance;
  live->config = *config;
  strcpy(live->path, config->config_file);
  tarmac_log_config_t log = tarmac_log_config();
  log.text = config->text_log_format;
  log.min_level = tarmac_live_settings_log_level(config);
  tarmac_log_configure(&log);
  warn_hidden(NULL, &live->file, config->config_file);
  return live;
}

void tarmac_live_settings_free(tarmac_live_settings_t *live) {
  if (live == NULL) return;
  pthread_mutex_destroy(&live->lock);
  tarmac_settings_file_free(&live->file);
  free(live);
}

/* Under the lock: next and its file become the current ones. */
static void switch_to(tarmac_live_settings_t *live,
                      tarmac_server_config_t *next,
                      tarmac_settings_file_t *file) {
  const char *path = live->path;
  warn_hidden(&live->file, file, path);
  warn_restart(&live->file, file, path);
  apply_live(live, next);
  next->maintenance_flag = &live->maintenance;
  live->config = *next;
  tarmac_settings_file_t old = live->file;
  live->file = *file;
  *file = old; /* freed by the caller */
}

int tarmac_live_settings_reload(tarmac_live_settings_t *live, char *err,
                                size_t err_size) {
  if (live->path[0] == '\0') return 0;
  tarmac_server_config_t *next = malloc(sizeof *next); /* ~40 KiB */
  tarmac_settings_file_t file = TARMAC_SETTINGS_FILE_INIT;
  if (next == NULL) {
    snprintf(err, err_size, "out of memory");
    return -1;
  }
  pthread_mutex_lock(&live->lock);
  int rc = tarmac_server_config_load_file(next, live->path, &file, err,
                                          err_size);
  if (rc == 0) switch_to(live, next, &file);
  pthread_mutex_unlock(&live->lock);
  tarmac_settings_file_free(&file);
  free(next);
  return rc;
}

const char *tarmac_live_settings_path(const tarmac_live_settings_t *live) {
  return live->path[0] != '\0' ? live->path : NULL;
}

const atomic_bool *tarmac_live_settings_maintenance(
    const tarmac_live_settings_t *live) {
  return &live->maintenance;
}
