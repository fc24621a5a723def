/* Fuzz target: the settings file (src/server/settings_file.c) and its
 * checks against the settings table (src/server/config.c). Input: the
 * file's bytes. Properties:
 *   - every line that is not blank or a comment gives exactly one entry or
 *     one problem (a model of the line rules, written out here), and every
 *     problem starts "PATH:LINE: ";
 *   - entries hold what the format promises: a name without blanks, a
 *     value without control bytes, blanks at its ends or a leading quote;
 *     lines increase;
 *   - writing the entries back as NAME=value lines parses to the same
 *     entries without problems;
 *   - loading the file (tarmac_server_config_load_file) succeeds exactly
 *     when the file parses cleanly and each name is a setting other than
 *     APP_CONFIG_FILE, appears once, and its value is empty or accepted by
 *     tarmac_server_config_set (and APP_RUN_MODE is daemon or job).
 * The file is handed to the loader as /proc/self/fd/N of a memfd. */
#include <sys/mman.h>
#include <unistd.h>

#include "fuzz.h"
#include "server/config.h"
#include "server/settings_file.h"
#include "util/fdio.h"

#define PATH "f.env"

/* The model of the line rules: how many lines need an entry or a
 * problem, and whether the bound on entries may have cut the parse. */
static size_t significant_lines(const uint8_t *data, size_t size) {
  size_t n = 0, at = 0;
  while (at < size) {
    const uint8_t *nl = memchr(data + at, '\n', size - at);
    size_t len = nl ? (size_t)(nl - (data + at)) : size - at, start = at;
    at += len + 1;
    if (len > 0 && data[start + len - 1] == '\r') len--;
    if (len > TARMAC_SETTINGS_LINE_MAX) { n++; continue; }
    size_t i = 0;
    while (i < len && (data[start + i] == ' ' || data[start + i] == '\t')) i++;
    if (i < len && data[start + i] != '#') n++;
  }
  return n;
}

static void check_entry_shape(const tarmac_settings_entry_t *e,
                              unsigned previous_line) {
  FUZZ_REQUIRE(e->line > previous_line, "lines go up");
  FUZZ_REQUIRE(*e->name != '\0' && strcspn(e->name, " \t=") ==
                   strlen(e->name), "name \"%s\"", e->name);
  size_t len = strlen(e->value);
  for (size_t i = 0; i < len; i++)
    FUZZ_REQUIRE((unsigned char)e->value[i] >= 0x20 && e->value[i] != 0x7f,
                 "control byte in value");
  FUZZ_REQUIRE(len == 0 || (e->value[0] != ' ' && e->value[len - 1] != ' ' &&
                            e->value[0] != '"' && e->value[0] != '\''),
               "value \"%s\"", e->value);
}

/* Written back and parsed again: the same entries, no problems. */
static void check_round_trip(const tarmac_settings_file_t *f) {
  tarmac_buffer_t text = TARMAC_BUFFER_INIT;
  for (size_t i = 0; i < f->count; i++)
    FUZZ_REQUIRE(tarmac_buffer_appendf(&text, "%s=%s\n", f->entries[i].name,
                                       f->entries[i].value) == 0, "memory");
  tarmac_settings_file_t again = TARMAC_SETTINGS_FILE_INIT;
  tarmac_problems_t p = TARMAC_PROBLEMS_INIT;
  FUZZ_REQUIRE(tarmac_settings_file_parse(PATH, (const char *)text.data,
                                          text.len, NULL, NULL, &again,
                                          &p) == 0, "memory");
  FUZZ_REQUIRE(p.count == 0 && again.count == f->count, "round trip: %zu "
               "problems, %zu of %zu entries", p.count, again.count, f->count);
  for (size_t i = 0; i < f->count; i++)
    FUZZ_REQUIRE(!strcmp(again.entries[i].name, f->entries[i].name) &&
                 !strcmp(again.entries[i].value, f->entries[i].value),
                 "round trip changed entry %zu", i);
  tarmac_settings_file_free(&again);
  tarmac_problems_free(&p);
  tarmac_buffer_free(&text);
}

static bool is_setting(const char *name) {
  for (size_t i = 0; i < tarmac_server_config_count(); i++)
    if (!strcmp(tarmac_server_config_name(i), name)) return true;
  return false;
}

/* The model of the checks: would loading this file succeed? */
static bool model_accepts(const tarmac_settings_file_t *f) {
  tarmac_server_config_t c;
  char err[512];
  for (size_t i = 0; i < f->count; i++) {
    const tarmac_settings_entry_t *e = &f->entries[i];
    if (!strcmp(e->name, "APP_CONFIG_FILE")) return false;
    if (tarmac_settings_file_find(f, e->name) != e) return false;
    tarmac_server_config_defaults(&c);
    if (!is_setting(e->name)) return false;
    if (*e->value == '\0') continue; /* empty: the default */
    if (tarmac_server_config_set(&c, e->name, e->value, err, sizeof err) != 0)
      return false;
    if (!strcmp(e->name, "APP_RUN_MODE") && strcmp(e->value, "daemon") &&
        strcmp(e->value, "job"))
      return false;
  }
  return true;
}

static void check_load(const uint8_t *data, size_t size, bool want) {
  int fd = memfd_create("settings", MFD_CLOEXEC);
  FUZZ_REQUIRE(fd >= 0, "memfd");
  FUZZ_REQUIRE(tarmac_write_all(fd, data, size) == 0, "write");
  char path[64], err[8192];
  snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
  tarmac_server_config_t *c = malloc(sizeof *c);
  FUZZ_REQUIRE(c != NULL, "memory");
  int rc = tarmac_server_config_load_file(c, path, NULL, err, sizeof err);
  FUZZ_REQUIRE((rc == 0) == want, "load says %d, the model %d (%s)", rc, want,
               err);
  if (rc != 0) FUZZ_REQUIRE(strncmp(err, path, strlen(path)) == 0, "%s", err);
  free(c);
  close(fd);
}

/* The loader reads the environment too (it wins): none of it here. */
int LLVMFuzzerInitialize(int *argc, char ***argv) {
  (void)argc, (void)argv;
  for (size_t i = 0; i < tarmac_server_config_count(); i++)
    unsetenv(tarmac_server_config_name(i));
  return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size > TARMAC_SETTINGS_FILE_MAX_BYTES) return 0;
  tarmac_settings_file_t f = TARMAC_SETTINGS_FILE_INIT;
  tarmac_problems_t p = TARMAC_PROBLEMS_INIT;
  FUZZ_REQUIRE(tarmac_settings_file_parse(PATH, (const char *)data, size, NULL,
                                          NULL, &f, &p) == 0, "memory");
  if (f.count < TARMAC_SETTINGS_ENTRIES_MAX)
    FUZZ_REQUIRE(f.count + p.count == significant_lines(data, size),
                 "%zu entries + %zu problems for %zu lines", f.count, p.count,
                 significant_lines(data, size));
  const char *line = (const char *)p.lines.data;
  const char *end = line ? line + p.lines.len : NULL;
  for (const char *nl; line < end; line = nl + 1) {
    nl = memchr(line, '\n', (size_t)(end - line));
    FUZZ_REQUIRE(nl != NULL && nl - line > 7 && !strncmp(line, PATH ":", 6) &&
                 line[6] >= '1' && line[6] <= '9', "problem \"%.*s\"",
                 (int)(nl ? nl - line : end - line), line);
  }
  for (size_t i = 0; i < f.count; i++)
    check_entry_shape(&f.entries[i], i ? f.entries[i - 1].line : 0);
  check_round_trip(&f);
  check_load(data, size, p.count == 0 && model_accepts(&f));
  tarmac_settings_file_free(&f);
  tarmac_problems_free(&p);
  return 0;
}
