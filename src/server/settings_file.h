/* server/settings_file: the lines of the settings file (APP_CONFIG_FILE),
 * in the format of `docker run --env-file`: NAME=value per line, '#'
 * comment lines and blank lines. Syntax only: which names are settings and
 * what values they take is server/config's (one table, one parser per
 * value type, shared with the environment).
 *
 * What is accepted (docs/configuration.md, "Settings file"): LF or CRLF
 * line ends; blanks (spaces, tabs) before the name; a line whose first
 * non-blank is '#' is a comment; the value is everything after the first
 * '=', taken as written ('#' inside it is part of it; NAME= is empty, which
 * means the default, as in the environment). Refused, each naming the
 * file and line: a line without '=', a blank before or after '=' or at the
 * end of the value (docker keeps such blanks, other tools strip them: they
 * are refused rather than guessed), a value starting with a quote (quotes
 * are not removed), "export NAME=", control bytes (NUL, tabs inside the
 * entry, ...), a line longer than TARMAC_SETTINGS_LINE_MAX, a file larger
 * than TARMAC_SETTINGS_FILE_MAX_BYTES or with more than
 * TARMAC_SETTINGS_ENTRIES_MAX entries.
 *
 * Owns: each entry's name and value (tarmac_settings_file_free). */
#ifndef TARMAC_SERVER_SETTINGS_FILE_H
#define TARMAC_SERVER_SETTINGS_FILE_H

#include <stddef.h>

#include "util/problems.h"

/* A settings file holds a few dozen short lines: 1 MiB is far beyond any
 * real one. A line holds a name and a value of at most 4095 bytes (the
 * longest path a setting takes). The table has under a hundred settings,
 * and a name may appear once. */
#define TARMAC_SETTINGS_FILE_MAX_BYTES ((size_t)1 << 20)
#define TARMAC_SETTINGS_LINE_MAX 8192u
#define TARMAC_SETTINGS_ENTRIES_MAX 1000u

typedef struct {
  char *name;    /* as written, before '=' */
  char *value;   /* as written, after the first '=' ("" allowed) */
  unsigned line; /* from 1 */
} tarmac_settings_entry_t;

typedef struct {
  tarmac_settings_entry_t *entries; /* in file order */
  size_t count, cap;
} tarmac_settings_file_t;

#define TARMAC_SETTINGS_FILE_INIT {NULL, 0, 0}

/* Checks an entry just added to file (its name, its value) and adds its
 * problems; called in file order, so that every problem, of syntax or
 * not, is listed in line order. */
typedef void (*tarmac_settings_check_fn)(void *data,
                                         const tarmac_settings_file_t *file,
                                         const tarmac_settings_entry_t *entry,
                                         tarmac_problems_t *problems);

/* Parses len bytes (any bytes) of the file named `path` (for messages).
 * Entries of good lines are appended to out, each then handed to check
 * (NULL: none); each bad line adds one problem "PATH:LINE: what". 0, or -1
 * when out of memory (a problem says so). */
int tarmac_settings_file_parse(const char *path, const char *text, size_t len,
                               tarmac_settings_check_fn check, void *data,
                               tarmac_settings_file_t *out,
                               tarmac_problems_t *problems);

/* Reads the file at `path` (bounded) and parses it as above; a file that
 * cannot be read is one problem. 0, or -1 (a problem says why). */
int tarmac_settings_file_read(const char *path, tarmac_settings_check_fn check,
                              void *data, tarmac_settings_file_t *out,
                              tarmac_problems_t *problems);

/* The entry named `name`, NULL when none (the first, should there be
 * several). */
const tarmac_settings_entry_t *tarmac_settings_file_find(
    const tarmac_settings_file_t *file, const char *name);

/* Frees the entries; the file is empty and reusable afterwards. */
void tarmac_settings_file_free(tarmac_settings_file_t *file);

#endif
