/* server/settings_file: see settings_file.h. One pass over the text, line
 * by line; each line is checked alone, so every bad line is reported. */
#include "server/settings_file.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "util/fdio.h"

/* Names and values quoted in messages are cut to keep a line readable. */
#define QUOTE_MAX 64

typedef struct {
  const char *path;
  unsigned line;
  tarmac_settings_check_fn check;
  void *data;
  tarmac_settings_file_t *out;
  tarmac_problems_t *problems;
} parser_t;

static bool blank(char c) { return c == ' ' || c == '\t'; }

static bool control(unsigned char c) { return c < 0x20 || c == 0x7f; }

static int add_entry(parser_t *p, const char *name, size_t name_len,
                     const char *value, size_t value_len) {
  tarmac_settings_file_t *f = p->out;
  if (f->count == f->cap) {
    size_t cap = f->cap ? f->cap * 2 : 16;
    tarmac_settings_entry_t *grown = realloc(f->entries, cap * sizeof *grown);
    if (grown == NULL) return -1;
    f->entries = grown;
    f->cap = cap;
  }
  tarmac_settings_entry_t *e = &f->entries[f->count];
  e->name = strndup(name, name_len);
  e->value = strndup(value, value_len);
  e->line = p->line;
  if (e->name == NULL || e->value == NULL) {
    free(e->name);
    free(e->value);
    return -1;
  }
  f->count++;
  if (p->check != NULL) p->check(p->data, f, e, p->problems);
  return 0;
}

/* What is wrong with NAME=value (text after the leading blanks, without
 * the line end), or NULL when it is an entry; *eq set to its '='. The
 * checks go from the most specific message to the most general. */
static const char *entry_problem(const char *s, size_t len, size_t *eq) {
  const char *at = memchr(s, '=', len);
  if (at == NULL)
    return "no '=': a line is NAME=value (a bare NAME taking its value "
           "from the environment is not supported)";
  *eq = (size_t)(at - s);
  const char *value = at + 1;
  size_t value_len = len - *eq - 1;
  if (*eq == 0) return "nothing before '=': a line is NAME=value";
  if (blank(s[*eq - 1])) return "a blank before '=': write NAME=value";
  if (memchr(s, ' ', *eq) != NULL || memchr(s, '\t', *eq) != NULL)
    return "a blank in the name (\"export NAME=value\" is not supported): "
           "write NAME=value";
  if (value_len > 0 && blank(value[0]))
    return "a blank after '=': values are taken as written, write "
           "NAME=value";
  if (value_len > 0 && blank(value[value_len - 1]))
    return "a blank at the end of the value (values are taken as written): "
           "remove it";
  for (size_t i = 0; i < len; i++)
    if (control((unsigned char)s[i]))
      return "a control character (a tab, NUL, ...) in the entry";
  if (value_len > 0 && (value[0] == '"' || value[0] == '\''))
    return "a value starting with a quote (quotes are not removed: they "
           "would be part of the value): write the value without them";
  return NULL;
}

static int parse_line(parser_t *p, const char *s, size_t len) {
  if (len > 0 && s[len - 1] == '\r') len--; /* CRLF */
  if (len > TARMAC_SETTINGS_LINE_MAX) {
    tarmac_problems_add(p->problems, "%s:%u: longer than %u bytes", p->path,
                        p->line, TARMAC_SETTINGS_LINE_MAX);
    return 0;
  }
  while (len > 0 && blank(*s)) s++, len--;
  if (len == 0 || *s == '#') return 0;
  size_t eq = 0;
  const char *problem = entry_problem(s, len, &eq);
  if (problem != NULL) {
    int quoted = (int)(eq > 0 && eq < QUOTE_MAX ? eq : 0);
    tarmac_problems_add(p->problems, "%s:%u: %.*s%s%s", p->path, p->line,
                        quoted, s, quoted ? ": " : "", problem);
    return 0;
  }
  if (p->out->count == TARMAC_SETTINGS_ENTRIES_MAX) {
    tarmac_problems_add(p->problems, "%s:%u: more than %u entries", p->path,
                        p->line, TARMAC_SETTINGS_ENTRIES_MAX);
    return 1; /* said once: stop */
  }
  return add_entry(p, s, eq, s + eq + 1, len - eq - 1);
}

int tarmac_settings_file_parse(const char *path, const char *text, size_t len,
                               tarmac_settings_check_fn check, void *data,
                               tarmac_settings_file_t *out,
                               tarmac_problems_t *problems) {
  parser_t p = {.path = path, .check = check, .data = data, .out = out,
                .problems = problems};
  size_t at = 0;
  while (at < len) {
    const char *nl = memchr(text + at, '\n', len - at);
    size_t line_len = nl ? (size_t)(nl - (text + at)) : len - at;
    p.line++;
    int rc = parse_line(&p, text + at, line_len);
    if (rc < 0) {
      tarmac_problems_add(problems, "%s: out of memory", path);
      return -1;
    }
    if (rc > 0) break;
    at += line_len + 1;
  }
  return 0;
}

int tarmac_settings_file_read(const char *path, tarmac_settings_check_fn check,
                              void *data, tarmac_settings_file_t *out,
                              tarmac_problems_t *problems) {
  tarmac_buffer_t text = TARMAC_BUFFER_INIT;
  char err[1024];
  int rc = tarmac_read_file_or_say(path, TARMAC_SETTINGS_FILE_MAX_BYTES, &text,
                                   err, sizeof err);
  if (rc != 0)
    tarmac_problems_add(problems, "%s", err);
  else
    rc = tarmac_settings_file_parse(path, (const char *)text.data, text.len,
                                    check, data, out, problems);
  tarmac_buffer_free(&text);
  return rc;
}

const tarmac_settings_entry_t *tarmac_settings_file_find(
    const tarmac_settings_file_t *file, const char *name) {
  for (size_t i = 0; i < file->count; i++)
    if (strcmp(file->entries[i].name, name) == 0) return &file->entries[i];
  return NULL;
}

void tarmac_settings_file_free(tarmac_settings_file_t *file) {
  for (size_t i = 0; i < file->count; i++) {
    free(file->entries[i].name);
    free(file->entries[i].value);
  }
  free(file->entries);
  *file = (tarmac_settings_file_t)TARMAC_SETTINGS_FILE_INIT;
}
