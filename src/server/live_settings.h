/* server/live_settings: the settings that change without a restart, and
 * the settings file they come from (APP_CONFIG_FILE). Live: maintenance
 * mode (APP_ENABLE_MAINTENANCE_MODE, the flag /ready reads) and the log
 * level (APP_DEBUG, APP_TRACE, APP_DISABLE_LOGGING). Every other setting
 * takes effect at the next start; a reload says which of them changed.
 * A name the environment sets keeps the environment's value, at start-up
 * and on every reload.
 *
 * Owns: the maintenance flag (config->maintenance_flag points at it: free
 * the live settings only after everything that reads it), the settings as
 * last applied and the file's entries. Made and freed by one thread
 * (serve.c); reloads and the accessors are for any thread. */
#ifndef TARMAC_SERVER_LIVE_SETTINGS_H
#define TARMAC_SERVER_LIVE_SETTINGS_H

#include <stdatomic.h>
#include <stddef.h>

#include "log/log.h"
#include "server/config.h"

typedef struct tarmac_live_settings tarmac_live_settings_t;

/* Loads the settings into *config (tarmac_server_config_load: the
 * environment over the settings file), configures the logger from them
 * (its current descriptor; APP_TEXT_LOG_FORMAT; the level), and points
 * config->maintenance_flag at the live flag. Warns for each name the
 * environment sets that the file sets differently. NULL with err set (every
 * problem, one per line) when the settings are refused or out of memory. */
tarmac_live_settings_t *tarmac_live_settings_new(
    tarmac_server_config_t *config, char *err, size_t err_size);
void tarmac_live_settings_free(tarmac_live_settings_t *live);

/* Re-reads the settings file; applies the live settings, logs each change,
 * and warns for each other setting whose value changed ("APP_X changed:
 * takes effect at restart"). 0, or -1 with err (the file is refused whole;
 * nothing changes). Any thread. No settings file: nothing to do, 0. */
int tarmac_live_settings_reload(tarmac_live_settings_t *live, char *err,
                                size_t err_size);

/* The settings file to watch (as APP_CONFIG_FILE names it), NULL when
 * there is none. Lives as long as live. */
const char *tarmac_live_settings_path(const tarmac_live_settings_t *live);

/* The maintenance flag /ready reads. Lives as long as live. */
const atomic_bool *tarmac_live_settings_maintenance(
    const tarmac_live_settings_t *live);

/* The log level these settings ask for: OFF with APP_DISABLE_LOGGING,
 * else TRACE with APP_TRACE, else DEBUG with APP_DEBUG, else INFO. */
tarmac_log_level_t tarmac_live_settings_log_level(
    const tarmac_server_config_t *config);

#endif
